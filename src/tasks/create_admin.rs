//! `vigil-cli task create_admin username:NAME email:EMAIL [password:PASSWORD]`
//!
//! Creates the first admin (registration only ever creates analysts). Running
//! it again for an existing admin changes nothing and says so. Without
//! `password:` (which shell history and `ps` can see), the password comes
//! from the `VIGIL_ADMIN_PASSWORD` environment variable, else from the
//! first line of standard input.
use loco_rs::{prelude::*, task::Vars};
use migration::MigratorTrait;

use crate::{
    errors::validate,
    models::users::{self, NewUser, RegisterParams, Role},
};

pub struct CreateAdmin;

/// The variable `create_admin` reads the password from.
pub const PASSWORD_ENV: &str = "VIGIL_ADMIN_PASSWORD";

/// The password: the argument, else the environment variable's value, else
/// the first line of `stdin` (its line ending removed).
///
/// # Errors
/// When none of them gives one.
pub fn password_from(
    arg: Option<&str>,
    env: Option<String>,
    stdin: &mut impl std::io::BufRead,
) -> Result<String> {
    if let Some(arg) = arg {
        return Ok(arg.to_string());
    }
    if let Some(env) = env.filter(|v| !v.is_empty()) {
        return Ok(env);
    }
    let mut line = String::new();
    stdin.read_line(&mut line).map_err(|e| {
        Error::string(&format!(
            "could not read the password from standard input: {e}"
        ))
    })?;
    let line = line.trim_end_matches(['\n', '\r']).to_string();
    if line.is_empty() {
        return Err(Error::string(&format!(
            "no password: give password:PASSWORD, set {PASSWORD_ENV}, or write it on standard input"
        )));
    }
    Ok(line)
}

fn var(vars: &Vars, name: &str) -> Result<String> {
    vars.cli_arg(name)
        .map(ToString::to_string)
        .map_err(|_| Error::string(&format!("missing `{name}:` argument (usage: create_admin username:NAME email:EMAIL [password:PASSWORD])")))
}

#[async_trait]
impl Task for CreateAdmin {
    fn task(&self) -> TaskInfo {
        TaskInfo {
            name: "create_admin".to_string(),
            detail:
                "Create an ADMIN account: create_admin username:NAME email:EMAIL [password:PASSWORD] (else VIGIL_ADMIN_PASSWORD, else standard input)"
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
            password: Some(password_from(
                vars.cli_arg("password").ok(),
                std::env::var(PASSWORD_ENV).ok(),
                &mut std::io::stdin().lock(),
            )?),
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
        let admin = users::Model::create_with_password(
            &ctx.db,
            &crate::models::audit::By::new("vigil-cli create_admin", None),
            &new,
        )
        .await
        .map_err(|e| Error::string(&format!("could not create admin `{username}`: {e}")))?;
        println!("admin `{}` created (id {})", admin.username, admin.pid);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_comes_from_the_argument_then_the_environment_then_stdin() {
        let mut none = std::io::Cursor::new("");
        assert_eq!(
            password_from(Some("arg-password"), Some("env".into()), &mut none).unwrap(),
            "arg-password"
        );
        assert_eq!(
            password_from(None, Some("env-password".into()), &mut none).unwrap(),
            "env-password"
        );
        let mut stdin = std::io::Cursor::new("stdin password\r\nsecond line\n");
        assert_eq!(
            password_from(None, None, &mut stdin).unwrap(),
            "stdin password"
        );
        assert!(password_from(None, Some(String::new()), &mut none).is_err());
    }
}
