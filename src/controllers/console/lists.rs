//! What the console's list pages share: links that keep a list's
//! filters, the filter form's values, and one page of a list read from
//! its URL the way the API reads it.
use axum::http::StatusCode;
use loco_rs::prelude::*;

use super::PageError;
use crate::{
    controllers::extract::list_params,
    models::{
        alert_status::AlertStatus,
        listing::{self, Cursor, Listable, Window},
    },
    views::{console::pages::Choice, filters::ListFilters},
};

/// Rows per console list page (Alerta's and TheHive's consoles show 20
/// and 15; the next rows are a link away).
pub const ROWS: u64 = 25;

/// The statuses of an open alert, as a filter value.
pub fn open_statuses() -> String {
    AlertStatus::ALL
        .iter()
        .filter(|s| s.is_open())
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// `path?name=value&…`, each pair URL-encoded.
pub fn link(path: &str, pairs: &[(&str, &str)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        q.append_pair(k, v);
    }
    let q = q.finish();
    if q.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{q}")
    }
}

/// The query pairs a list page keeps in its links: blank values (an empty
/// form field) and the page's own parameters dropped.
pub fn kept(pairs: Vec<(String, String)>, own: &[&str]) -> Vec<(String, String)> {
    pairs
        .into_iter()
        .filter(|(k, v)| !v.trim().is_empty() && !own.contains(&k.as_str()))
        .collect()
}

pub fn joined(values: &[String]) -> String {
    values.join(",")
}

pub fn choices<'a>(all: impl Iterator<Item = &'a str>, chosen: &str) -> Vec<Choice> {
    all.map(|v| Choice {
        value: v.to_string(),
        label: v.to_string(),
        selected: v == chosen,
    })
    .collect()
}

/// The first page, or the page after `cursor`.
pub fn window(cursor: Option<&String>) -> Result<Window, String> {
    match cursor.map(String::as_str) {
        None | Some("") => Ok(Window::After {
            cursor: None,
            size: ROWS,
        }),
        Some(token) => Cursor::decode(token).map(|c| Window::After {
            cursor: Some(c),
            size: ROWS,
        }),
    }
}

pub fn with_pairs(path: &str, pairs: &[(String, String)], extra: &[(&str, &str)]) -> String {
    let mut all: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    all.extend_from_slice(extra);
    link(path, &all)
}

/// One page of a console list, read from its URL: the declared filters
/// (as the API reads them), up to 25 rows after `cursor`, the link to the
/// next rows, the pairs to keep in other links (no cursor), and the
/// refused parameters in words (the page is then a 400 without rows).
pub struct Slice<F, M> {
    pub filters: F,
    pub rows: Vec<M>,
    pub next: Option<String>,
    pub kept: Vec<(String, String)>,
    pub cursor: bool,
    pub error: Option<String>,
}

impl<F, M> Slice<F, M> {
    pub fn status(&self) -> StatusCode {
        if self.error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        }
    }
}

pub async fn slice<F, E>(
    db: &DatabaseConnection,
    path: &str,
    pairs: Vec<(String, String)>,
) -> std::result::Result<Slice<F, E::Model>, PageError>
where
    F: ListFilters + serde::de::DeserializeOwned,
    E: Listable,
    E::Model: Sync,
{
    let filters: F = list_params(pairs.clone())?;
    let cursor = pairs
        .iter()
        .rev()
        .find(|(k, _)| k == "cursor")
        .map(|(_, v)| v.clone());
    let kept: Vec<(String, String)> = pairs.into_iter().filter(|(k, _)| k != "cursor").collect();
    let (mut rows, mut next, mut error) = (Vec::new(), None, None);
    match (filters.query(), window(cursor.as_ref())) {
        (Ok(q), Ok(w)) => match w.check_cursor(q.ordering) {
            Ok(()) => {
                let listed = listing::list::<E>(db, &q, &w).await?;
                rows = listed.rows;
                next = listed.next.map(|c| {
                    with_pairs(
                        path,
                        &kept,
                        &[("cursor", &c.for_ordering(q.ordering).encode())],
                    )
                });
            }
            Err(fields) => error = Some(crate::errors::in_words(&fields)),
        },
        (Err(fields), _) => error = Some(crate::errors::in_words(&fields)),
        (_, Err(message)) => error = Some(format!("cursor: {message}")),
    }
    Ok(Slice {
        filters,
        rows,
        next,
        kept,
        cursor: cursor.is_some(),
        error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_encode_their_values() {
        assert_eq!(
            link("/console/alerts", &[("source", "a b&c"), ("tag", "<x>")]),
            "/console/alerts?source=a+b%26c&tag=%3Cx%3E"
        );
        assert_eq!(link("/console/alerts", &[]), "/console/alerts");
    }
}
