use loco_rs::schema::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The operations layer: silences (maintenance windows and "quiet until
/// resolved"), the source allowlist, escalation policies and the
/// hash-chained audit log; and the columns they mark on alerts, events and
/// envelopes.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let add = |table: &str, col: ColumnDef| {
            Table::alter()
                .table(Alias::new(table))
                .add_column(col)
                .to_owned()
        };
        // While a silence matches, the alert is still kept up to date but
        // notifies nobody; `silenced_by` names the silence (its id).
        m.alter_table(add(
            "alerts",
            ColumnDef::new(Alias::new("suppressed"))
                .boolean()
                .not_null()
                .default(false)
                .to_owned(),
        ))
        .await?;
        m.alter_table(add(
            "alerts",
            ColumnDef::new(Alias::new("silenced_by"))
                .string_len(36)
                .null()
                .to_owned(),
        ))
        .await?;
        // When an escalation policy last notified about this alert: the
        // row update that sets it is how one instance, not several, acts.
        m.alter_table(add(
            "alerts",
            ColumnDef::new(Alias::new("escalation_notified_at"))
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
        ))
        .await?;
        m.alter_table(add(
            "events",
            ColumnDef::new(Alias::new("allowlisted"))
                .boolean()
                .not_null()
                .default(false)
                .to_owned(),
        ))
        .await?;
        // An envelope of a suppressed alert: shown to feed clients that ask
        // for them, never turned into webhook deliveries.
        m.alter_table(add(
            "outbox_envelopes",
            ColumnDef::new(Alias::new("suppressed"))
                .boolean()
                .not_null()
                .default(false)
                .to_owned(),
        ))
        .await?;
        create_table(
            m,
            "silences",
            &[
                ("id", ColType::PkAuto),
                ("pid", ColType::UuidUniq),
                // JSON text: {"source"?, "event_type"?, "source_ip"?, ...}.
                ("matchers", ColType::Text),
                ("starts_at", ColType::TimestampWithTimeZone),
                ("ends_at", ColType::TimestampWithTimeZoneNull),
                // JSON text: the weekly window, when it is one.
                ("recurring", ColType::TextNull),
                ("comment", ColType::Text),
                ("created_by", ColType::StringLen(200)),
                // "Silence until resolved": the one alert it quiets.
                ("alert_id", ColType::BigIntegerNull),
                // Set when it ended early: deleted, or its alert resolved.
                ("ended_at", ColType::TimestampWithTimeZoneNull),
                // The `silence.expired` envelope was written.
                ("expiry_noted", ColType::BooleanWithDefault(false)),
            ],
            &[],
        )
        .await?;
        create_table(
            m,
            "allowlist_entries",
            &[
                ("id", ColType::PkAuto),
                ("pid", ColType::UuidUniq),
                ("cidr", ColType::StringLen(50)),
                ("reason", ColType::Text),
                ("expires_at", ColType::TimestampWithTimeZoneNull),
                ("created_by", ColType::StringLen(200)),
            ],
            &[],
        )
        .await?;
        create_table(
            m,
            "escalation_policies",
            &[
                ("id", ColType::PkAuto),
                ("pid", ColType::UuidUniq),
                ("name", ColType::StringLen(100)),
                ("min_severity_rank", ColType::SmallInteger),
                ("after_minutes", ColType::Integer),
                ("renotify_minutes", ColType::IntegerNull),
                ("enabled", ColType::Boolean),
                ("created_by", ColType::StringLen(200)),
            ],
            &[],
        )
        .await?;
        // Named as the issue names them (Loco's create_table would make
        // the names plural).
        let stamp = |name: &str| {
            ColumnDef::new(Alias::new(name))
                .timestamp_with_time_zone()
                .not_null()
                .default(Expr::current_timestamp())
                .to_owned()
        };
        m.create_table(
            Table::create()
                .table(Alias::new("audit_log"))
                .col(stamp("created_at"))
                .col(stamp("updated_at"))
                .col(
                    ColumnDef::new(Alias::new("id"))
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(Alias::new("pid"))
                        .uuid()
                        .not_null()
                        .unique_key(),
                )
                .col(
                    ColumnDef::new(Alias::new("actor"))
                        .string_len(200)
                        .not_null(),
                )
                .col(ColumnDef::new(Alias::new("address")).string_len(64).null())
                .col(
                    ColumnDef::new(Alias::new("action"))
                        .string_len(60)
                        .not_null(),
                )
                .col(ColumnDef::new(Alias::new("target")).string_len(200).null())
                // JSON text, exactly as hashed.
                .col(ColumnDef::new(Alias::new("before")).text().null())
                .col(ColumnDef::new(Alias::new("after")).text().null())
                .col(
                    ColumnDef::new(Alias::new("prev_hash"))
                        .string_len(64)
                        .not_null(),
                )
                .col(ColumnDef::new(Alias::new("hash")).string_len(64).not_null())
                .to_owned(),
        )
        .await?;
        // One row: the chain's last entry. Appenders lock it, so on
        // PostgreSQL two transactions cannot both extend the same entry,
        // and a removed tail shows against it.
        m.create_table(
            Table::create()
                .table(Alias::new("audit_head"))
                .col(stamp("created_at"))
                .col(stamp("updated_at"))
                .col(
                    ColumnDef::new(Alias::new("id"))
                        .big_integer()
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(Alias::new("last_id"))
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Alias::new("last_hash"))
                        .string_len(64)
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx-audit_log-action")
                .table(Alias::new("audit_log"))
                .col(Alias::new("action"))
                .col(Alias::new("id"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx-alerts-suppressed")
                .table(Alias::new("alerts"))
                .col(Alias::new("suppressed"))
                .col(Alias::new("created_at"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in ["audit_head", "audit_log"] {
            m.drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        for table in ["escalation_policies", "allowlist_entries", "silences"] {
            drop_table(m, table).await?;
        }
        m.drop_index(
            Index::drop()
                .name("idx-alerts-suppressed")
                .table(Alias::new("alerts"))
                .to_owned(),
        )
        .await?;
        for (table, col) in [
            ("outbox_envelopes", "suppressed"),
            ("events", "allowlisted"),
            ("alerts", "escalation_notified_at"),
            ("alerts", "silenced_by"),
            ("alerts", "suppressed"),
        ] {
            m.alter_table(
                Table::alter()
                    .table(Alias::new(table))
                    .drop_column(Alias::new(col))
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
