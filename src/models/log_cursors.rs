//! Where `ingest_log` stopped reading each log file. The position is saved
//! in the transaction that stores the events of the lines before it (see
//! `IngestWriter::store`), so after a crash or a restart no line is read
//! twice and none is skipped.
use chrono::Utc;
use loco_rs::prelude::*;
use sea_orm::sea_query::OnConflict;

pub use super::_entities::log_cursors::{self, ActiveModel, Column, Entity, Model};

impl ActiveModelBehavior for ActiveModel {}

/// A log file's identity and how far it has been read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// The path as followed (rotation puts another file there).
    pub path: String,
    pub device: u64,
    pub inode: u64,
    /// SHA-256 (hex) of the file's first line; empty before it has one.
    /// Tells a file truncated and written again from the one read before.
    pub head: String,
    /// Bytes handled: the start of the next line to read.
    pub offset: u64,
    /// Lines handled in this file.
    pub lines: u64,
}

// Device and inode numbers are u64 on Linux; the columns are BIGINT, so
// they are stored as the same 64 bits (a cast, not a conversion).
#[allow(clippy::cast_possible_wrap)]
const fn to_db(n: u64) -> i64 {
    n as i64
}

#[allow(clippy::cast_sign_loss)]
const fn from_db(n: i64) -> u64 {
    n as u64
}

impl Model {
    /// The saved position for `path`, if it was ever read.
    ///
    /// # Errors
    /// Database errors.
    pub async fn find_by_path<C: ConnectionTrait>(
        db: &C,
        path: &str,
    ) -> ModelResult<Option<Position>> {
        Ok(Entity::find()
            .filter(Column::Path.eq(path))
            .one(db)
            .await?
            .map(|row| Position {
                path: row.path,
                device: from_db(row.device),
                inode: from_db(row.inode),
                head: row.head,
                offset: from_db(row.position),
                lines: from_db(row.lines),
            }))
    }

    /// Records `p` as the position of its path (one row per path).
    ///
    /// # Errors
    /// Database errors.
    pub async fn save<C: ConnectionTrait>(db: &C, p: &Position) -> ModelResult<()> {
        let now = Utc::now();
        let row = ActiveModel {
            path: ActiveValue::set(p.path.clone()),
            device: ActiveValue::set(to_db(p.device)),
            inode: ActiveValue::set(to_db(p.inode)),
            head: ActiveValue::set(p.head.clone()),
            position: ActiveValue::set(to_db(p.offset)),
            lines: ActiveValue::set(to_db(p.lines)),
            created_at: ActiveValue::set(now.into()),
            updated_at: ActiveValue::set(now.into()),
            ..Default::default()
        };
        Entity::insert(row)
            .on_conflict(
                OnConflict::column(Column::Path)
                    .update_columns([
                        Column::Device,
                        Column::Inode,
                        Column::Head,
                        Column::Position,
                        Column::Lines,
                        Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
        Ok(())
    }
}
