use loco_rs::schema::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Webhooks (SPEC §6) and their delivery log: one row per webhook and
/// envelope, which is also the retry state (attempts, next attempt).
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        create_table(
            m,
            "webhooks",
            &[
                ("id", ColType::PkAuto),
                ("pid", ColType::UuidUniq),
                ("url", ColType::StringLen(2000)),
                // Space-separated envelope types; empty means every type.
                ("event_types", ColType::StringLen(400)),
                ("min_severity_rank", ColType::SmallInteger),
                // The signing secret: HMAC needs it in clear. Never shown
                // after creation.
                ("secret", ColType::StringLen(100)),
                ("enabled", ColType::Boolean),
                ("consecutive_failures", ColType::Integer),
                ("disabled_reason", ColType::TextNull),
                ("disabled_at", ColType::TimestampWithTimeZoneNull),
            ],
            &[("users", "")],
        )
        .await?;
        create_table(
            m,
            "webhook_deliveries",
            &[
                ("id", ColType::PkAuto),
                ("pid", ColType::UuidUniq),
                // The outbox row delivered.
                ("envelope_row", ColType::BigInteger),
                ("event_type", ColType::StringLen(40)),
                // PENDING, SUCCEEDED or FAILED (attempts exhausted).
                ("status", ColType::StringLen(12)),
                ("attempts", ColType::Integer),
                ("last_status_code", ColType::IntegerNull),
                ("last_error", ColType::TextNull),
                ("next_attempt_at", ColType::TimestampWithTimeZone),
                ("delivered_at", ColType::TimestampWithTimeZoneNull),
            ],
            &[("webhooks", "")],
        )
        .await?;
        // One delivery per webhook and envelope, however often the outbox
        // dispatcher hands an envelope over (at least once).
        m.create_index(
            Index::create()
                .name("idx-webhook_deliveries-once")
                .table(Alias::new("webhook_deliveries"))
                .col(Alias::new("webhook_id"))
                .col(Alias::new("envelope_row"))
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx-webhook_deliveries-due")
                .table(Alias::new("webhook_deliveries"))
                .col(Alias::new("status"))
                .col(Alias::new("next_attempt_at"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        drop_table(m, "webhook_deliveries").await?;
        drop_table(m, "webhooks").await
    }
}
