//! List parameters of SPEC §5 — filters, search, ordering — parsed once into
//! typed values. Anything unknown or malformed is a 400 naming the
//! parameter, never ignored.
use chrono::{DateTime, FixedOffset, Utc};
use sea_orm::{
    sea_query::Expr, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
    Select, Value as DbValue,
};

use super::FieldErrors;
use super::{alert_status::AlertStatus, severity::Severity};

/// What a list can be filtered and ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Alerts,
    Events,
}

/// Sort keys; `severity` is by rank, not alphabet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum SortKey {
    CreatedAt,
    Severity,
    LastSeen,
    Occurrences,
    OccurredAt,
}

impl SortKey {
    /// The name `ordering=` takes.
    #[must_use]
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// Whether a cursor's key is of this ordering's kind (a number for
    /// severity and occurrences, a time for the others): a cursor made for
    /// another ordering is refused rather than compared across types.
    #[must_use]
    pub fn fits(self, key: &CursorKey) -> bool {
        matches!(
            (self, key),
            (Self::Severity | Self::Occurrences, CursorKey::Int(_))
                | (
                    Self::CreatedAt | Self::LastSeen | Self::OccurredAt,
                    CursorKey::Time(_)
                )
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ordering {
    pub key: SortKey,
    pub descending: bool,
}

impl Ordering {
    /// As `ordering=` spells it: `-created_at`, `severity`.
    #[must_use]
    pub fn name(self) -> String {
        format!(
            "{}{}",
            if self.descending { "-" } else { "" },
            self.key.name()
        )
    }
}

impl Default for Ordering {
    fn default() -> Self {
        Self {
            key: SortKey::CreatedAt,
            descending: true,
        }
    }
}

/// A list's filters other than `status`. Each `Vec` is an OR of values;
/// empty means "any". `Default` is "no filter": only a list whose filters
/// equal it may report a tallied `count`, so a filter added here can never
/// be counted as if it were absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    pub severity: Vec<Severity>,
    pub source: Vec<String>,
    pub event_type: Vec<String>,
    pub source_ip: Vec<String>,
    pub assignee: Vec<String>,
    /// Alerts carrying any of these tags.
    pub tag: Vec<String>,
    /// Alerts a silence quiets (true) or not (false).
    pub suppressed: Option<bool>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub search: Option<String>,
}

/// Parsed list parameters: `status` (which the alert tallies count by),
/// the other filters, and the order.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub status: Vec<AlertStatus>,
    pub filters: Filters,
    pub ordering: Ordering,
}

impl ListQuery {
    /// No filter but (perhaps) `status`, and no search.
    #[must_use]
    pub fn is_unfiltered_but_status(&self) -> bool {
        self.filters == Filters::default()
    }

    /// No filter and no search.
    #[must_use]
    pub fn is_unfiltered(&self) -> bool {
        self.status.is_empty() && self.is_unfiltered_but_status()
    }
}

/// The values of a repeated or comma-separated parameter (an OR), trimmed,
/// empty ones dropped.
#[must_use]
pub fn values(raw: &[String]) -> Vec<String> {
    raw.iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(ToString::to_string)
        .collect()
}

/// Each of `raw`'s [`values`] parsed; a bad one is an error of `name`.
pub fn parse_all<T, F: Fn(&str) -> Result<T, String>>(
    name: &str,
    raw: &[String],
    parse: F,
    errors: &mut FieldErrors,
) -> Vec<T> {
    let mut out = Vec::new();
    for v in values(raw) {
        match parse(&v) {
            Ok(x) => out.push(x),
            Err(e) => errors.entry(name.to_string()).or_default().push(e),
        }
    }
    out
}

/// The last of `raw` as an RFC 3339 time; a bad one is an error of `name`.
pub fn time(name: &str, raw: &[String], errors: &mut FieldErrors) -> Option<DateTime<Utc>> {
    let v = raw.last()?;
    match DateTime::parse_from_rfc3339(v.trim()) {
        Ok(t) => Some(t.with_timezone(&Utc)),
        Err(_) => {
            errors.entry(name.to_string()).or_default().push(format!(
                "`{v}` is not an RFC 3339 timestamp (e.g. 2026-11-20T10:00:00Z)."
            ));
            None
        }
    }
}

impl Resource {
    /// The keys this list sorts by.
    #[must_use]
    pub const fn sort_keys(self) -> &'static [SortKey] {
        match self {
            Self::Alerts => &[
                SortKey::CreatedAt,
                SortKey::Severity,
                SortKey::LastSeen,
                SortKey::Occurrences,
            ],
            Self::Events => &[SortKey::CreatedAt, SortKey::Severity, SortKey::OccurredAt],
        }
    }

    /// The order `ordering=` names (the last one given), or the default.
    pub fn ordering(self, raw: &[String], errors: &mut FieldErrors) -> Ordering {
        let Some(raw) = raw.last() else {
            return Ordering::default();
        };
        let raw = raw.trim();
        let (descending, name) = raw
            .strip_prefix('-')
            .map_or((false, raw), |rest| (true, rest));
        if let Some(&key) = self.sort_keys().iter().find(|k| k.name() == name) {
            return Ordering { key, descending };
        }
        let names: Vec<&str> = self.sort_keys().iter().map(|k| k.name()).collect();
        errors.entry("ordering".into()).or_default().push(format!(
            "Unknown ordering `{raw}`. Use one of: {} (prefix - for descending).",
            names.join(", ")
        ));
        Ordering::default()
    }
}

/// The last value of a `true`/`false` parameter `name`.
pub fn flag(name: &str, raw: &[String], errors: &mut FieldErrors) -> Option<bool> {
    let raw = raw.last()?;
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => {
            errors
                .entry(name.into())
                .or_default()
                .push(format!("`{raw}` is not a boolean: use true or false."));
            None
        }
    }
}

/// The last `search=`, trimmed; blank means none.
#[must_use]
pub fn search(raw: &[String]) -> Option<String> {
    raw.last()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// A keyset position: the sort key and id of the last row a client saw.
/// Deep pages cost what the first page costs: no OFFSET is ever scanned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub key: CursorKey,
    pub id: i64,
    /// The order of the list it was made for (`-created_at`), when known:
    /// a cursor only continues a list in that order.
    pub ordering: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CursorKey {
    Int(i64),
    Time(DateTime<FixedOffset>),
}

impl CursorKey {
    #[must_use]
    pub fn db_value(&self) -> DbValue {
        match self {
            Self::Int(i) => DbValue::from(*i),
            Self::Time(t) => DbValue::from(*t),
        }
    }
}

impl Cursor {
    /// An opaque token for the `cursor` parameter.
    #[must_use]
    pub fn encode(&self) -> String {
        let key = match &self.key {
            CursorKey::Int(i) => serde_json::json!({"i": i}),
            CursorKey::Time(t) => serde_json::json!({"t": t.to_rfc3339()}),
        };
        let mut token = serde_json::json!({"k": key, "id": self.id});
        if let Some(ordering) = &self.ordering {
            token["o"] = ordering.clone().into();
        }
        hex::encode(token.to_string())
    }

    /// Reads a token made by [`Cursor::encode`].
    ///
    /// # Errors
    /// A message naming the problem when the token was not made here.
    pub fn decode(token: &str) -> Result<Self, String> {
        let bad = || "Invalid cursor: use the `next` link of a previous page.".to_string();
        let bytes = hex::decode(token).map_err(|_| bad())?;
        let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        let id = v["id"].as_i64().ok_or_else(bad)?;
        let key = if let Some(i) = v["k"]["i"].as_i64() {
            CursorKey::Int(i)
        } else {
            let t = v["k"]["t"].as_str().ok_or_else(bad)?;
            CursorKey::Time(DateTime::parse_from_rfc3339(t).map_err(|_| bad())?)
        };
        let ordering = v["o"].as_str().map(ToString::to_string);
        Ok(Self { key, id, ordering })
    }

    /// This cursor, marked as continuing a list in `ordering`.
    #[must_use]
    pub fn for_ordering(mut self, ordering: Ordering) -> Self {
        self.ordering = Some(ordering.name());
        self
    }
}

/// One page of `sel` (pages from 1), and the total it matches.
///
/// # Errors
/// Database errors.
pub async fn page_of<E>(
    db: &DatabaseConnection,
    sel: Select<E>,
    page: u64,
    page_size: u64,
) -> Result<(Vec<E::Model>, u64), sea_orm::DbErr>
where
    E: EntityTrait,
    E::Model: Sync,
{
    let paginator = sel.paginate(db, page_size);
    let count = paginator.num_items().await?;
    let items = paginator.fetch_page(page.saturating_sub(1)).await?;
    Ok((items, count))
}

/// One page of `sel` and the sum of the named tallies, in one query: the
/// sum rides along as a column of each row (a scalar subquery), so the
/// page costs one round trip and one pool checkout, as a cursor page does.
/// Past the last row there is no row to carry it, and the sum is read
/// alone.
///
/// # Errors
/// Database errors.
async fn page_with_tally<E>(
    db: &DatabaseConnection,
    sel: Select<E>,
    page: u64,
    page_size: u64,
    names: &[String],
) -> Result<(Vec<E::Model>, u64), sea_orm::DbErr>
where
    E: EntityTrait,
{
    use super::tallies;
    use sea_orm::{ConnectionTrait, FromQueryResult, QueryTrait};
    let sum = tallies::sum_query(names);
    let stmt = sel
        .expr_as(Expr::SubQuery(None, Box::new(sum.into())), TALLY_COLUMN)
        .offset(page.saturating_sub(1).saturating_mul(page_size))
        .limit(page_size)
        .build(db.get_database_backend());
    let found = db.query_all_raw(stmt).await?;
    let count = match found.first() {
        Some(row) => row.try_get::<i64>("", TALLY_COLUMN)?,
        None => {
            return Ok((
                Vec::new(),
                tallies::Model::sum(db, names)
                    .await
                    .map_err(|e| sea_orm::DbErr::Custom(e.to_string()))?,
            ))
        }
    };
    let rows = found
        .iter()
        .map(|row| E::Model::from_query_result(row, ""))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((rows, u64::try_from(count).unwrap_or(0)))
}

/// The column [`page_with_tally`] adds for the sum.
const TALLY_COLUMN: &str = "list_tally_total";

/// Keyset pagination over `sel` (already ordered by `sort_col`, then `id_col`):
/// up to `limit` rows after `after`, and whether more follow. The row-value
/// comparison uses the (sort key, id) index, so deep pages cost what the
/// first costs.
///
/// # Errors
/// Database errors.
pub async fn keyset_page<E, C>(
    db: &DatabaseConnection,
    sel: Select<E>,
    (sort_col, id_col): (C, C),
    descending: bool,
    after: Option<&Cursor>,
    limit: u64,
) -> Result<(Vec<E::Model>, bool), sea_orm::DbErr>
where
    E: EntityTrait<Column = C>,
    C: sea_orm::ColumnTrait,
{
    use sea_orm::ExprTrait;
    let mut sel = sel;
    if let Some(c) = after {
        let left = Expr::tuple([
            Expr::col((E::default(), sort_col)),
            Expr::col((E::default(), id_col)),
        ]);
        let right = Expr::tuple([Expr::val(c.key.db_value()), Expr::val(c.id)]);
        sel = sel.filter(if descending {
            left.lt(right)
        } else {
            left.gt(right)
        });
    }
    let mut rows = sel.limit(limit + 1).all(db).await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok((rows, more))
}

impl Window {
    /// 400 naming `cursor` when its key does not fit `key`'s ordering (a
    /// `next` link of a list in another order).
    ///
    /// # Errors
    /// The field errors naming `cursor`.
    pub fn check_cursor(&self, ordering: Ordering) -> Result<(), FieldErrors> {
        match self {
            Self::After {
                cursor: Some(cursor),
                ..
            } if !ordering.key.fits(&cursor.key)
                || cursor
                    .ordering
                    .as_ref()
                    .is_some_and(|o| *o != ordering.name()) =>
            {
                let mut fields = FieldErrors::new();
                fields.insert(
                    "cursor".to_string(),
                    vec![
                        "This cursor belongs to a list in another order: follow the `next` link \
                         of a page with the same `ordering`."
                            .to_string(),
                    ],
                );
                Err(fields)
            }
            _ => Ok(()),
        }
    }
}

/// Which slice of a list a request asks for.
#[derive(Debug, Clone)]
pub enum Window {
    /// `page` (from 1) of `size` items, with the total count.
    Page { page: u64, size: u64 },
    /// `size` items after `cursor` (none: the first page), no count.
    After { cursor: Option<Cursor>, size: u64 },
}

/// One slice of a list: its rows, the total (page mode) and, in cursor mode,
/// where the next slice starts.
#[derive(Debug)]
pub struct Listed<M> {
    pub rows: Vec<M>,
    pub count: Option<u64>,
    pub next: Option<Cursor>,
}

/// A table the API lists with filters, orderings and cursors (alerts,
/// events): each says how it filters, sorts and counts; [`list`] does the
/// rest the same way for both.
pub trait Listable: EntityTrait
where
    Self::Model: Sync,
{
    /// The id column, the tiebreak of every order.
    const ID: Self::Column;

    /// The rows matching `q`'s filters, unordered.
    fn filtered(q: &ListQuery, backend: sea_orm::DbBackend) -> Select<Self>;

    /// The column `key` orders by.
    fn sort_column(key: SortKey) -> Self::Column;

    /// `row`'s value of `key` and its id: where a cursor after it points.
    fn position(row: &Self::Model, key: SortKey) -> (CursorKey, i64);

    /// The tallies whose sum counts the rows matching `q`, when there are
    /// such (an unfiltered list); `None` counts the rows.
    fn tallies(q: &ListQuery) -> Option<Vec<String>>;

    /// The rows matching `q`, in `q`'s order (then by id).
    fn query(q: &ListQuery, backend: sea_orm::DbBackend) -> Select<Self> {
        use sea_orm::{Order, QueryOrder};
        let order = if q.ordering.descending {
            Order::Desc
        } else {
            Order::Asc
        };
        Self::filtered(q, backend)
            .order_by(Self::sort_column(q.ordering.key), order.clone())
            .order_by(Self::ID, order)
    }
}

/// The `window` (a page, or a keyset slice after a cursor) of `E`'s rows
/// matching `q`, in `q`'s order.
///
/// # Errors
/// Database errors.
pub async fn list<E: Listable>(
    db: &DatabaseConnection,
    q: &ListQuery,
    window: &Window,
) -> Result<Listed<E::Model>, sea_orm::DbErr>
where
    E::Model: Sync,
{
    let key = q.ordering.key;
    list_window(
        db,
        E::query(q, db.get_database_backend()),
        (E::sort_column(key), E::ID),
        q.ordering.descending,
        window,
        E::tallies(q).as_deref(),
        |row| {
            let (key, id) = E::position(row, key);
            Cursor {
                key,
                id,
                ordering: None,
            }
        },
    )
    .await
}

/// Reads `window` of `sel`, which is ordered by `cols` (sort key, then id)
/// as `descending` says; `cursor_of` tells where a row sits in that order.
/// When `sel` is the whole of what the `tally` names count, a page's count
/// is their sum rather than a `COUNT(*)` of every matching row.
///
/// # Errors
/// Database errors.
pub async fn list_window<E, C>(
    db: &DatabaseConnection,
    sel: Select<E>,
    cols: (C, C),
    descending: bool,
    window: &Window,
    tally: Option<&[String]>,
    cursor_of: impl Fn(&E::Model) -> Cursor,
) -> Result<Listed<E::Model>, sea_orm::DbErr>
where
    E: EntityTrait<Column = C>,
    E::Model: Sync,
    C: sea_orm::ColumnTrait,
{
    match window {
        Window::Page { page, size } => {
            let (rows, count) = match tally {
                // The running count (models::tallies) instead of COUNT(*).
                Some(names) => page_with_tally(db, sel, *page, *size, names).await?,
                None => page_of(db, sel, *page, *size).await?,
            };
            Ok(Listed {
                rows,
                count: Some(count),
                next: None,
            })
        }
        Window::After { cursor, size } => {
            let (rows, more) =
                keyset_page(db, sel, cols, descending, cursor.as_ref(), *size).await?;
            let next = rows.last().filter(|_| more).map(cursor_of);
            Ok(Listed {
                rows,
                count: None,
                next,
            })
        }
    }
}

/// `search=`: `text` appears in any of `cols` of `E`, ignoring case.
#[must_use]
pub fn search_any<E, C>(cols: &[C], text: &str) -> sea_orm::Condition
where
    E: EntityTrait + Default,
    C: sea_orm::ColumnTrait,
{
    use sea_orm::sea_query::{Expr, Func, LikeExpr};
    use sea_orm::ExprTrait;
    let pattern = like_pattern(text);
    cols.iter().fold(sea_orm::Condition::any(), |any, col| {
        any.add(
            Expr::expr(Func::lower(Expr::col((E::default(), *col))))
                .like(LikeExpr::new(pattern.clone()).escape('\\')),
        )
    })
}

/// `%text%` for a case-insensitive LIKE, with `%`, `_` and `\` escaped.
#[must_use]
pub fn like_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_forgeries() {
        let c = Cursor {
            key: CursorKey::Int(3),
            id: 42,
            ordering: Some("-severity".into()),
        };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        let t = Cursor {
            key: CursorKey::Time(
                DateTime::parse_from_rfc3339("2026-11-20T10:00:00.123+00:00").unwrap(),
            ),
            id: 7,
            ordering: None,
        };
        assert_eq!(Cursor::decode(&t.encode()).unwrap(), t);
        assert!(Cursor::decode("zz").is_err());
        assert!(Cursor::decode(&hex::encode("{}")).is_err());
    }
}
