//! `vigil-cli task create_admin username:NAME email:EMAIL password:PASSWORD`
//!
//! Creates the first admin (registration only ever creates analysts). Running
//! it again for an existing admin changes nothing and says so.
use loco_rs::{prelude::*, task::Vars};
use migration::MigratorTrait;

use crate::{
    controllers::extract::validate,
    models::users::{self, NewUser, RegisterParams, Role},
};

pub struct CreateAdmin;

fn var(vars: &Vars, name: &str) -> Result<String> {
    vars.cli_arg(name)
        .map(ToString::to_string)
        .map_err(|_| Error::string(&format!("missing `{name}:` argument (usage: create_admin username:NAME email:EMAIL password:PASSWORD)")))
}

#[async_trait]
impl Task for CreateAdmin {
    fn task(&self) -> TaskInfo {
        TaskInfo {
            name: "create_admin".to_string(),
            detail:
                "Create an ADMIN account: create_admin username:NAME email:EMAIL password:PASSWORD"
                    .to_string(),
        }
    }

    async fn run(&self, ctx: &AppContext, vars: &Vars) -> Result<()> {
        // Tasks do not migrate on boot: the first admin is often created on a
        // brand-new database, before the server ever started.
        migration::Migrator::up(&ctx.db, None).await?;
        let params = RegisterParams {
            username: Some(var(vars, "username")?),
            email: Some(var(vars, "email")?),
            password: Some(var(vars, "password")?),
        };
        validate(&params).map_err(|e| {
            Error::string(&format!(
                "{}: {:?}",
                e.message,
                e.fields.unwrap_or_default()
            ))
        })?;
        let username = params.username.as_deref().unwrap_or_default();
        if let Ok(existing) = users::Model::find_by_login(&ctx.db, username).await {
            if existing.role() == Role::Admin {
                println!("admin `{username}` already exists: nothing to do");
                return Ok(());
            }
            return Err(Error::string(&format!(
                "user `{username}` already exists as {}: promote it with PATCH /api/users/{} instead",
                existing.role(),
                existing.pid
            )));
        }
        let mut new = NewUser::analyst(&params);
        new.role = Role::Admin;
        let admin = users::Model::create_with_password(&ctx.db, &new)
            .await
            .map_err(|e| Error::string(&format!("could not create admin `{username}`: {e}")))?;
        println!("admin `{}` created (id {})", admin.username, admin.pid);
        Ok(())
    }
}
