use loco_rs::schema::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Where `ingest_log` stopped reading each log file: the file's identity
/// (device, inode, a digest of its first line) and the byte position after
/// the last line it handled, so a restart resumes there.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        create_table(
            m,
            "log_cursors",
            &[
                ("id", ColType::PkAuto),
                ("path", ColType::TextUniq),
                ("device", ColType::BigInteger),
                ("inode", ColType::BigInteger),
                ("head", ColType::String),
                ("position", ColType::BigInteger),
                ("lines", ColType::BigInteger),
            ],
            &[],
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        drop_table(m, "log_cursors").await
    }
}
