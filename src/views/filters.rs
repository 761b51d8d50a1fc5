//! A list's query parameters, declared once: the struct `/swagger`
//! documents (`IntoParams`) is the struct a request is read into
//! (`controllers::extract::ListParams`), so the documented and the accepted
//! parameters cannot differ, and a filter added to it can only be counted
//! by a tally if it equals its default (`listing::Filters`).
use std::collections::BTreeMap;

use serde::Deserialize;
use utoipa::IntoParams;

use crate::models::{listing::ListQuery, FieldErrors};

/// The paging parameters every list takes, declared once: each list's
/// parameter struct flattens it, its `#[utoipa::path]` documents it beside
/// the filters, and `controllers::extract::PageParams` reads the values.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct Paging {
    /// Page number, from 1.
    #[param(value_type = Option<u64>)]
    pub page: Vec<String>,
    /// Items per page (default 10, max 500).
    #[param(value_type = Option<u64>)]
    pub page_size: Vec<String>,
    /// Keyset pagination: empty for the first page, then the token from `next`.
    /// Deep pages cost what the first costs; `count` is null in this mode.
    #[param(value_type = Option<String>)]
    pub cursor: Vec<String>,
}

/// A list's declared parameters.
pub trait ListFilters: IntoParams + Sized {
    /// The parameters given that the struct does not declare.
    fn unknown(&self) -> &BTreeMap<String, Vec<String>>;

    /// The typed query; each bad value is recorded in `errors`.
    fn read(&self, errors: &mut FieldErrors) -> ListQuery;

    /// The typed query, or every unknown parameter and bad value at once.
    ///
    /// # Errors
    /// Parameter name → messages.
    fn query(&self) -> Result<ListQuery, FieldErrors> {
        let mut errors = FieldErrors::new();
        if !self.unknown().is_empty() {
            let known = filter_names::<Self>().join(", ");
            for name in self.unknown().keys() {
                errors
                    .entry(name.clone())
                    .or_default()
                    .push(format!("Unknown parameter. Known: {known}."));
            }
        }
        let q = self.read(&mut errors);
        if errors.is_empty() {
            Ok(q)
        } else {
            Err(errors)
        }
    }
}

/// The filter and ordering parameters `T` declares.
#[must_use]
pub fn filter_names<T: IntoParams>() -> Vec<String> {
    T::into_params(|| None)
        .into_iter()
        .map(|p| p.name)
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{
        models::{alert_status::AlertStatus, listing::SortKey, severity::Severity},
        views::{alerts::AlertFilters, events::EventFilters},
    };

    fn read<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
        serde_json::from_value(v).expect("any names and strings")
    }

    /// Every name the struct documents is read into it (none lands among
    /// the unknown), and only those.
    fn documented_names_are_read<T: ListFilters + serde::de::DeserializeOwned>() {
        let names: Vec<String> = T::into_params(|| None)
            .into_iter()
            .chain(Paging::into_params(|| None))
            .map(|p| p.name)
            .collect();
        assert!(names.len() > 5);
        let mut all = serde_json::Map::new();
        for name in &names {
            all.insert(name.clone(), json!(["x"]));
        }
        all.insert("nope".into(), json!(["1"]));
        let parsed: T = read(serde_json::Value::Object(all));
        assert_eq!(parsed.unknown().keys().collect::<Vec<_>>(), ["nope"]);
    }

    #[test]
    fn the_documented_parameters_are_the_accepted_ones() {
        documented_names_are_read::<AlertFilters>();
        documented_names_are_read::<EventFilters>();
    }

    #[test]
    fn a_filter_given_is_never_unfiltered() {
        // Every filter, given one valid value, makes the query filtered, so
        // none can take the tallied count.
        let valid = |name: &str| match name {
            "status" => "OPEN",
            "severity" | "event__severity" => "HIGH",
            "since" | "until" => "2026-01-01T00:00:00Z",
            "suppressed" => "true",
            _ => "x",
        };
        for name in filter_names::<AlertFilters>() {
            if name == "ordering" || name == "status" {
                continue;
            }
            let f: AlertFilters = read(json!({ name.clone(): [valid(&name)] }));
            let q = f.query().expect("valid");
            assert!(
                !q.is_unfiltered_but_status(),
                "{name} left the list unfiltered"
            );
        }
        for name in filter_names::<EventFilters>() {
            if name == "ordering" {
                continue;
            }
            let f: EventFilters = read(json!({ name.clone(): [valid(&name)] }));
            assert!(!f.query().expect("valid").is_unfiltered(), "{name}");
        }
    }

    #[test]
    fn comma_separated_and_repeated_values_are_or() {
        let f: AlertFilters = read(json!({"severity": ["high,critical"],
                                          "status": ["OPEN", "acknowledged"]}));
        let q = f.query().unwrap();
        assert_eq!(q.filters.severity, [Severity::High, Severity::Critical]);
        assert_eq!(q.status, [AlertStatus::Open, AlertStatus::Acknowledged]);
    }

    #[test]
    fn ordering_parses_direction() {
        let f: AlertFilters = read(json!({"ordering": ["-severity"]}));
        let o = f.query().unwrap().ordering;
        assert_eq!((o.key, o.descending), (SortKey::Severity, true));
        let f: AlertFilters = read(json!({"ordering": ["occurrences"]}));
        assert!(!f.query().unwrap().ordering.descending);
    }

    #[test]
    fn unknown_values_and_parameters_name_themselves() {
        let f: AlertFilters = read(json!({"severity": ["urgent"], "ordering": ["title"],
                                          "colour": ["red"], "since": ["x"]}));
        let err = f.query().unwrap_err();
        assert_eq!(
            err.keys().collect::<Vec<_>>(),
            ["colour", "ordering", "severity", "since"]
        );
        let f: EventFilters = read(json!({"status": ["OPEN"]}));
        assert!(f.query().unwrap_err().contains_key("status"));
    }

    #[test]
    fn unknown_parameters_are_all_named() {
        let f: AlertFilters = read(json!({"colour": ["red"], "size": ["9"], "status": ["NOPE"]}));
        let errors = f.query().unwrap_err();
        assert_eq!(
            errors.keys().collect::<Vec<_>>(),
            ["colour", "size", "status"]
        );
        assert!(errors["colour"][0].starts_with("Unknown parameter. Known: status, severity,"));
    }
}
