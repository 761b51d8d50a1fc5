//! Multi-row writes as one statement per table: the rows travel as one JSON
//! array bound to one parameter, and the database unpacks it (`jsonb_each`
//! on SQLite, `json_to_recordset` on PostgreSQL).
//!
//! Why: ingestion writes thousands of rows per round from one serial
//! writer. Built as a multi-row `VALUES` list, every column of every row is
//! a bound parameter, and the statement text (tens of thousands of
//! placeholders) changes with the row count, so SQLite parses and plans it
//! again each time. Here the text is the same for any number of rows, so
//! each connection prepares it once, and the per-row work is serde writing
//! JSON, which the request's own data already is.
//!
//! Rows are `Serialize` structs whose fields are named after the columns.
//! Their values must be written the way the drivers write the typed
//! columns, so that rows written here and rows written through `SeaORM`
//! read, sort and compare alike: see [`Col`] and [`time`].
use chrono::{DateTime, FixedOffset, SecondsFormat};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, QueryResult, Statement};

/// A column's type, which says how its JSON field becomes the value the
/// driver would have stored.
#[derive(Clone, Copy, Debug)]
pub enum Col {
    /// A hyphenated UUID string; SQLite stores UUIDs as 16-byte blobs.
    Uuid,
    Text,
    SmallInt,
    BigInt,
    /// A string from [`time`].
    Time,
    /// A JSON object or array (SQLite stores its text).
    Json,
    /// A string holding JSON text, stored as that JSON (for a document
    /// already serialised, such as an outbox envelope).
    JsonText,
    /// A JSON boolean (SQLite stores 1 or 0).
    Bool,
}

impl Col {
    const fn pg_type(self) -> &'static str {
        match self {
            Self::Uuid => "uuid",
            Self::Text | Self::JsonText => "text",
            Self::SmallInt => "smallint",
            Self::BigInt => "bigint",
            Self::Time => "timestamptz",
            Self::Json => "json",
            Self::Bool => "boolean",
        }
    }
}

/// A timestamp as both drivers store it: RFC 3339 with `+00:00`, not `Z`,
/// and the shortest of 0, 3, 6 or 9 fraction digits that keeps it exact
/// (the text `sqlx` writes to SQLite, which sorts as time does). Truncate
/// it to microseconds first: PostgreSQL rounds finer text, where sqlx
/// truncated.
#[must_use]
pub fn time(t: &DateTime<FixedOffset>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

/// `INSERT INTO table (cols) SELECT … FROM <the JSON rows> WHERE true tail`,
/// where `tail` may hold an `ON CONFLICT` clause and a `RETURNING` list.
/// (`WHERE true` keeps SQLite from reading `ON CONFLICT` as a join's `ON`.)
#[must_use]
pub fn insert_sql(backend: DbBackend, table: &str, cols: &[(&str, Col)], tail: &str) -> String {
    let names = list(cols, |name, _| format!("\"{name}\""));
    let (values, from) = if backend == DbBackend::Postgres {
        let values = list(cols, |name, col| match col {
            Col::JsonText => format!("r.\"{name}\"::json"),
            _ => format!("r.\"{name}\""),
        });
        let types = list(cols, |name, col| format!("\"{name}\" {}", col.pg_type()));
        (values, format!("json_to_recordset($1::json) AS r({types})"))
    } else {
        // `->>` gives SQL NULL for JSON null, and an object's or array's
        // JSON text for `Col::Json`.
        let values = list(cols, |name, col| match col {
            Col::Uuid => format!("unhex(value ->> '$.{name}', '-')"),
            _ => format!("value ->> '$.{name}'"),
        });
        (values, "jsonb_each(?)".to_string())
    };
    format!("INSERT INTO \"{table}\" ({names}) SELECT {values} FROM {from} WHERE true {tail}")
}

/// `each` of the columns, comma-separated.
fn list(cols: &[(&str, Col)], each: impl Fn(&str, Col) -> String) -> String {
    cols.iter()
        .map(|&(name, col)| each(name, col))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs `sql` (from [`insert_sql`]) with `rows` as its JSON array.
///
/// # Errors
/// Database errors.
pub async fn insert<C, R>(db: &C, sql: &str, rows: &[R]) -> Result<Vec<QueryResult>, DbErr>
where
    C: ConnectionTrait,
    R: serde::Serialize,
{
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let json = serde_json::to_string(rows).map_err(|e| DbErr::Custom(e.to_string()))?;
    db.query_all_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        sql,
        [json.into()],
    ))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLS: &[(&str, Col)] = &[
        ("pid", Col::Uuid),
        ("n", Col::SmallInt),
        ("doc", Col::JsonText),
    ];

    #[test]
    fn sqlite_unpacks_jsonb_each() {
        assert_eq!(
            insert_sql(DbBackend::Sqlite, "t", COLS, "RETURNING id"),
            "INSERT INTO \"t\" (\"pid\", \"n\", \"doc\") SELECT unhex(value ->> '$.pid', '-'), \
             value ->> '$.n', value ->> '$.doc' FROM jsonb_each(?) WHERE true RETURNING id"
        );
    }

    #[test]
    fn postgres_unpacks_a_typed_recordset() {
        assert_eq!(
            insert_sql(DbBackend::Postgres, "t", COLS, ""),
            "INSERT INTO \"t\" (\"pid\", \"n\", \"doc\") SELECT r.\"pid\", r.\"n\", r.\"doc\"::json \
             FROM json_to_recordset($1::json) AS r(\"pid\" uuid, \"n\" smallint, \"doc\" text) WHERE true "
        );
    }

    #[test]
    fn timestamps_are_written_as_the_sqlite_driver_writes_them() {
        let t = DateTime::parse_from_rfc3339("2026-11-23T10:00:00.123456Z").unwrap();
        assert_eq!(time(&t), "2026-11-23T10:00:00.123456+00:00");
        let whole = DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z").unwrap();
        assert_eq!(time(&whole), "2026-11-23T10:00:00+00:00");
    }
}
