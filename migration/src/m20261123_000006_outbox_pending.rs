use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The dispatcher reads envelopes not yet delivered, in id order:
/// `WHERE delivered_at IS NULL ORDER BY id`.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create()
                .name("idx-outbox_envelopes-pending")
                .table(Alias::new("outbox_envelopes"))
                .col(Alias::new("delivered_at"))
                .col(Alias::new("id"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("idx-outbox_envelopes-pending")
                .table(Alias::new("outbox_envelopes"))
                .to_owned(),
        )
        .await
    }
}
