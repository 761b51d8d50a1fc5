use loco_rs::schema::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Machine credentials (SPEC §1): an admin creates a key with scopes; the key
/// itself is shown once and only its SHA-256 is kept.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        create_table(
            m,
            "api_keys",
            &[
                ("id", ColType::PkAuto),
                ("pid", ColType::UuidUniq),
                ("name", ColType::StringLen(100)),
                // The key's first characters, shown in lists to tell keys apart.
                ("prefix", ColType::StringLen(16)),
                // SHA-256 (hex) of the whole key: the lookup on every request.
                ("key_hash", ColType::StringLenUniq(64)),
                // Space-separated: events:write alerts:read alerts:write.
                ("scopes", ColType::StringLen(100)),
                ("rate_limit_per_minute", ColType::Integer),
                ("expires_at", ColType::TimestampWithTimeZoneNull),
                ("revoked_at", ColType::TimestampWithTimeZoneNull),
                ("last_used_at", ColType::TimestampWithTimeZoneNull),
            ],
            // The admin who created it: the key acts in their name.
            &[("users", "")],
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        drop_table(m, "api_keys").await
    }
}
