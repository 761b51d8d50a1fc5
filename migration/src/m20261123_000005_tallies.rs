use loco_rs::schema::*;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Running row counts, kept in the same transactions as the rows they count,
/// so that a list page's `count` need not scan a million rows: `events`, and
/// `alerts:<STATUS>` per status.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        create_table(
            m,
            "tallies",
            &[
                ("id", ColType::PkAuto),
                ("name", ColType::StringUniq),
                ("n", ColType::BigInteger),
            ],
            &[],
        )
        .await?;
        // Start from the rows already there.
        let db = m.get_connection();
        db.execute_unprepared(
            "INSERT INTO tallies (name, n, created_at, updated_at) \
             SELECT 'events', COUNT(*), CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM events",
        )
        .await?;
        db.execute_unprepared(
            "INSERT INTO tallies (name, n, created_at, updated_at) \
             SELECT 'alerts:' || status, COUNT(*), CURRENT_TIMESTAMP, CURRENT_TIMESTAMP \
             FROM alerts GROUP BY status",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        drop_table(m, "tallies").await
    }
}
