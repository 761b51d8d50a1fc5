use loco_rs::schema::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Scratch rows for `/_health`'s write probe: while writes have been
/// failing, a health check writes (and commits) one row of 64 KiB, then
/// deletes the previous one, to learn whether storage takes writes again.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        create_table(
            m,
            "storage_probes",
            &[("id", ColType::PkAuto), ("padding", ColType::BinaryNull)],
            &[],
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        drop_table(m, "storage_probes").await
    }
}
