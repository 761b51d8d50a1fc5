use loco_rs::schema::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        create_table(
            m,
            "users",
            &[
                ("id", ColType::PkAuto),
                ("pid", ColType::UuidUniq),
                ("username", ColType::StringLenUniq(150)),
                ("email", ColType::StringUniq),
                ("password", ColType::String),
                // ADMIN | ANALYST, checked by the `Role` enum on every read.
                ("role", ColType::StringLen(16)),
                ("is_active", ColType::BooleanWithDefault(true)),
                ("last_login_at", ColType::TimestampWithTimeZoneNull),
            ],
            &[],
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        drop_table(m, "users").await?;
        Ok(())
    }
}
