use chrono::{SubsecRound, Utc};
use loco_rs::prelude::*;
use serde_json::Value;

pub use super::_entities::alert_histories::{self, ActiveModel, Column, Entity, Model};
use super::alert_status::AlertStatus;

impl ActiveModelBehavior for ActiveModel {}

/// One line of an alert's history.
#[derive(Debug, Clone, Default)]
pub struct Entry<'a> {
    pub action: &'a str,
    pub actor: &'a str,
    pub from: Option<AlertStatus>,
    pub to: Option<AlertStatus>,
    pub note: Option<&'a str>,
    pub changes: Option<Value>,
}

impl Model {
    /// Appends an entry to the history of `alert_id`.
    ///
    /// # Errors
    /// Database errors.
    pub async fn record<C: ConnectionTrait>(
        db: &C,
        alert_id: i64,
        entry: Entry<'_>,
    ) -> ModelResult<Self> {
        let now = Utc::now();
        Ok(ActiveModel {
            alert_id: ActiveValue::set(alert_id),
            action: ActiveValue::set(entry.action.to_string()),
            actor: ActiveValue::set(entry.actor.to_string()),
            from_status: ActiveValue::set(entry.from.map(|s| s.as_str().to_string())),
            to_status: ActiveValue::set(entry.to.map(|s| s.as_str().to_string())),
            note: ActiveValue::set(entry.note.map(ToString::to_string)),
            changes: ActiveValue::set(entry.changes),
            created_at: ActiveValue::set(now.into()),
            updated_at: ActiveValue::set(now.into()),
            ..Default::default()
        }
        .insert(db)
        .await?)
    }

    /// Records `created` for each newly opened alert, in one statement.
    ///
    /// # Errors
    /// Database errors.
    pub async fn record_created<C: ConnectionTrait>(db: &C, alert_ids: &[i64]) -> ModelResult<()> {
        if alert_ids.is_empty() {
            return Ok(());
        }
        #[derive(serde::Serialize)]
        struct Row<'a> {
            alert_id: i64,
            action: &'a str,
            actor: &'a str,
            to_status: &'a str,
            created_at: &'a str,
            updated_at: &'a str,
        }
        use crate::db::bulk::{self, Col};
        let now = bulk::time(&Utc::now().trunc_subsecs(6).into());
        let rows: Vec<Row<'_>> = alert_ids
            .iter()
            .map(|&alert_id| Row {
                alert_id,
                action: "created",
                actor: "system",
                to_status: AlertStatus::Open.as_str(),
                created_at: &now,
                updated_at: &now,
            })
            .collect();
        let sql = bulk::insert_sql(
            db.get_database_backend(),
            "alert_histories",
            &[
                ("alert_id", Col::BigInt),
                ("action", Col::Text),
                ("actor", Col::Text),
                ("to_status", Col::Text),
                ("created_at", Col::Time),
                ("updated_at", Col::Time),
            ],
            "",
        );
        bulk::insert(db, &sql, &rows).await?;
        Ok(())
    }

    /// The history of an alert, oldest first.
    ///
    /// # Errors
    /// Database errors.
    pub async fn for_alert(db: &DatabaseConnection, alert_id: i64) -> ModelResult<Vec<Self>> {
        Ok(Entity::find()
            .filter(Column::AlertId.eq(alert_id))
            .order_by_asc(Column::Id)
            .all(db)
            .await?)
    }
}
