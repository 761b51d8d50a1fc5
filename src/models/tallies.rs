//! Running row counts (`events`, and `alerts:<STATUS>` per status), changed
//! in the same transaction as the rows they count. A list page without
//! filters (or filtered by status alone) reads its `count` here instead of
//! counting a million rows.
use chrono::Utc;
use loco_rs::prelude::*;
use sea_orm::sea_query::{Expr, OnConflict, Query, SelectStatement};

pub use super::_entities::tallies::{self, ActiveModel, Column, Entity, Model};
use super::alert_status::AlertStatus;

impl ActiveModelBehavior for ActiveModel {}

pub const EVENTS: &str = "events";

/// The tally of alerts in `status`.
#[must_use]
pub fn alerts(status: AlertStatus) -> String {
    format!("alerts:{}", status.as_str())
}

impl Model {
    /// Adds each delta to its tally (creating the tally at need).
    ///
    /// # Errors
    /// Database errors.
    pub async fn add<C: ConnectionTrait>(db: &C, deltas: &[(&str, i64)]) -> ModelResult<()> {
        use sea_orm::ExprTrait;
        let now = Utc::now();
        // One row per name (an upsert may not touch a row twice), in name
        // order (concurrent writers lock the rows in the same order).
        let mut merged = std::collections::BTreeMap::new();
        for (name, delta) in deltas {
            *merged.entry(*name).or_insert(0) += delta;
        }
        let rows: Vec<ActiveModel> = merged
            .into_iter()
            .filter(|(_, d)| *d != 0)
            .map(|(name, delta)| ActiveModel {
                name: ActiveValue::set(name.to_string()),
                n: ActiveValue::set(delta),
                created_at: ActiveValue::set(now.into()),
                updated_at: ActiveValue::set(now.into()),
                ..Default::default()
            })
            .collect();
        if rows.is_empty() {
            return Ok(());
        }
        Entity::insert_many(rows)
            .on_conflict(
                OnConflict::column(Column::Name)
                    .value(
                        Column::N,
                        Expr::col((Entity, Column::N)).add(Expr::cust("excluded.n")),
                    )
                    .value(Column::UpdatedAt, Expr::cust("excluded.updated_at"))
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
        Ok(())
    }

    /// The sum of the named tallies (0 for one never counted).
    ///
    /// # Errors
    /// Database errors.
    pub async fn sum<C: ConnectionTrait>(db: &C, names: &[String]) -> ModelResult<u64> {
        let stmt = db.get_database_backend().build(&sum_query(names));
        let total: i64 = db
            .query_one_raw(stmt)
            .await?
            .map(|row| row.try_get("", SUM_COLUMN))
            .transpose()?
            .unwrap_or(0);
        Ok(u64::try_from(total).unwrap_or(0))
    }
}

/// The column [`sum_query`] names its result.
pub const SUM_COLUMN: &str = "tally_sum";

/// `SELECT CAST(COALESCE(SUM(n), 0) AS bigint) AS tally_sum FROM tallies
/// WHERE name IN (…)`: the sum of the named tallies, run alone by
/// [`Model::sum`] or carried as a subquery column by a list page
/// (`listing::page_with_tally`). PostgreSQL sums bigints as numeric, hence
/// the cast.
#[must_use]
pub fn sum_query(names: &[String]) -> SelectStatement {
    use sea_orm::{sea_query::Func, ExprTrait};
    Query::select()
        .expr_as(
            Func::cast_as(
                Func::coalesce([
                    Func::sum(Expr::col((Entity, Column::N))).into(),
                    Expr::val(0),
                ]),
                "bigint",
            ),
            SUM_COLUMN,
        )
        .from(Entity)
        .and_where(Expr::col((Entity, Column::Name)).is_in(names.iter().cloned()))
        .to_owned()
}
