use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The serving instance that publishes an envelope from memory right after
/// the commit that wrote it (`NULL`: written where no dispatcher runs, such
/// as a CLI task, or by a path that leaves it to the polling dispatcher).
/// Other instances leave a claimed envelope alone until it is old enough
/// that its publisher must have died before marking it delivered.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Alias::new("outbox_envelopes"))
                .add_column(ColumnDef::new(Alias::new("claimed_by")).uuid().null())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Alias::new("outbox_envelopes"))
                .drop_column(Alias::new("claimed_by"))
                .to_owned(),
        )
        .await
    }
}
