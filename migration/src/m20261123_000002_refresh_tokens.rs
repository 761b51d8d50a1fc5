use loco_rs::schema::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        create_table(
            m,
            "refresh_tokens",
            &[
                ("id", ColType::PkAuto),
                // SHA-256 (hex) of the opaque token: the token itself is never stored.
                ("token_hash", ColType::StringLenUniq(64)),
                // Every token rotated from one login shares a family; reuse of a
                // spent token revokes the whole family.
                ("family", ColType::Uuid),
                ("expires_at", ColType::TimestampWithTimeZone),
                ("used_at", ColType::TimestampWithTimeZoneNull),
                ("revoked_at", ColType::TimestampWithTimeZoneNull),
            ],
            &[("users", "")],
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx-refresh_tokens-family")
                .table(Alias::new("refresh_tokens"))
                .col(Alias::new("family"))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        drop_table(m, "refresh_tokens").await?;
        Ok(())
    }
}
