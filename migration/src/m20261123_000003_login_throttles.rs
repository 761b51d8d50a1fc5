use loco_rs::schema::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // Failed logins per account and per client address, shared by every
        // instance through the database.
        create_table(
            m,
            "login_throttles",
            &[
                ("id", ColType::PkAuto),
                ("key", ColType::StringUniq),
                ("failures", ColType::BigInteger),
                ("window_started_at", ColType::TimestampWithTimeZone),
            ],
            &[],
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        drop_table(m, "login_throttles").await?;
        Ok(())
    }
}
