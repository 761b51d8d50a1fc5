use loco_rs::schema::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn index(table: &str, name: &str, cols: &[&str]) -> IndexCreateStatement {
    let mut idx = Index::create();
    idx.name(format!("idx-{table}-{name}"))
        .table(Alias::new(table));
    for col in cols {
        idx.col(Alias::new(*col));
    }
    idx.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        create_table(
            m,
            "alerts",
            &[
                ("id", ColType::PkAuto),
                ("pid", ColType::UuidUniq),
                ("title", ColType::StringLen(400)),
                ("severity", ColType::StringLen(10)),
                // LOW=1 … CRITICAL=4: ordering and "highest seen" by rank.
                ("severity_rank", ColType::SmallInteger),
                ("status", ColType::StringLen(16)),
                ("source", ColType::StringLen(255)),
                ("event_type", ColType::StringLen(100)),
                ("source_ip", ColType::StringLenNull(45)),
                ("fingerprint", ColType::StringLen(64)),
                // The fingerprint while the alert is open, NULL once RESOLVED or
                // IGNORED: its unique index lets the database guarantee one open
                // alert per fingerprint and makes dedup a single upsert.
                ("open_fingerprint", ColType::StringLenNull(64)),
                ("occurrences", ColType::BigInteger),
                ("first_seen", ColType::TimestampWithTimeZone),
                ("last_seen", ColType::TimestampWithTimeZone),
                // Public id of the event that opened the alert.
                ("event_pid", ColType::Uuid),
                ("assignee", ColType::StringLenNull(150)),
                ("tags", ColType::Json),
                ("acknowledged_at", ColType::TimestampWithTimeZoneNull),
                ("resolved_at", ColType::TimestampWithTimeZoneNull),
            ],
            &[],
        )
        .await?;
        m.create_index(
            index("alerts", "open_fingerprint", &["open_fingerprint"])
                .unique()
                .to_owned(),
        )
        .await?;
        for (name, cols) in [
            ("created", &["created_at", "id"][..]),
            ("status", &["status", "created_at"][..]),
            ("severity", &["severity_rank", "id"][..]),
            ("last_seen", &["last_seen", "id"][..]),
            ("occurrences", &["occurrences", "id"][..]),
            ("source", &["source"][..]),
            ("event_type", &["event_type"][..]),
            ("source_ip", &["source_ip"][..]),
            ("assignee", &["assignee"][..]),
        ] {
            m.create_index(index("alerts", name, cols)).await?;
        }

        create_table(
            m,
            "events",
            &[
                ("id", ColType::PkAuto),
                ("pid", ColType::UuidUniq),
                ("source", ColType::StringLen(255)),
                ("event_type", ColType::StringLen(100)),
                ("severity", ColType::StringLen(10)),
                ("severity_rank", ColType::SmallInteger),
                ("description", ColType::TextNull),
                ("source_ip", ColType::StringLenNull(45)),
                ("destination_ip", ColType::StringLenNull(45)),
                ("occurred_at", ColType::TimestampWithTimeZone),
                ("metadata", ColType::JsonNull),
                ("dedup_key", ColType::StringLenNull(255)),
                ("fingerprint", ColType::StringLen(64)),
            ],
            &[("alerts?", "")],
        )
        .await?;
        for (name, cols) in [
            ("created", &["created_at", "id"][..]),
            ("severity", &["severity_rank", "id"][..]),
            ("occurred", &["occurred_at", "id"][..]),
            ("source", &["source"][..]),
            ("event_type", &["event_type"][..]),
            ("source_ip", &["source_ip"][..]),
            ("alert", &["alert_id"][..]),
        ] {
            m.create_index(index("events", name, cols)).await?;
        }

        create_table(
            m,
            "alert_histories",
            &[
                ("id", ColType::PkAuto),
                // `created`, `status_changed`, `note`, `updated`
                ("action", ColType::StringLen(32)),
                ("actor", ColType::StringLen(200)),
                ("from_status", ColType::StringLenNull(16)),
                ("to_status", ColType::StringLenNull(16)),
                ("note", ColType::TextNull),
                ("changes", ColType::JsonNull),
            ],
            &[("alerts", "")],
        )
        .await?;
        m.create_index(index("alert_histories", "alert", &["alert_id", "id"]))
            .await?;

        // Lifecycle envelopes, written in the transaction of the change they
        // describe; `id` is the delivery order.
        create_table(
            m,
            "outbox_envelopes",
            &[
                ("id", ColType::PkAuto),
                ("envelope_id", ColType::UuidUniq),
                ("event_type", ColType::StringLen(40)),
                ("alert_pid", ColType::Uuid),
                ("severity_rank", ColType::SmallInteger),
                ("envelope", ColType::Json),
                ("delivered_at", ColType::TimestampWithTimeZoneNull),
            ],
            &[],
        )
        .await?;

        create_table(
            m,
            "idempotency_keys",
            &[
                ("id", ColType::PkAuto),
                ("principal", ColType::StringLen(200)),
                ("key", ColType::StringLen(255)),
                ("request_hash", ColType::StringLen(64)),
                ("status_code", ColType::SmallInteger),
                ("response", ColType::Text),
            ],
            &[],
        )
        .await?;
        m.create_index(
            index("idempotency_keys", "principal_key", &["principal", "key"])
                .unique()
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "idempotency_keys",
            "outbox_envelopes",
            "alert_histories",
            "events",
            "alerts",
        ] {
            drop_table(m, table).await?;
        }
        Ok(())
    }
}
