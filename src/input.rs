//! Rules every piece of client text obeys, whatever route it comes by.
//!
//! PostgreSQL cannot store the NUL character in text (SQLite can): a
//! `"\u0000"` anywhere in a body or a query would be a database error on one
//! database and stored on the other. It is refused at the edge instead, with
//! a 400 naming the field, the same on both.
use serde_json::Value;

/// What a field holding NUL is told.
pub const NUL_MESSAGE: &str = "Must not contain the NUL character (\\u0000).";

/// The path (`metadata.tags[2]`, `body` for the top level) of the first
/// string or object key in `value` that holds NUL, if any.
#[must_use]
pub fn nul_path(value: &Value) -> Option<String> {
    nul_in(value, "").map(|p| if p.is_empty() { "body".to_string() } else { p })
}

/// [`nul_path`] for a value found at `path` (empty: the top level).
#[must_use]
pub fn nul_in(value: &Value, path: &str) -> Option<String> {
    match value {
        Value::String(s) if s.contains('\0') => Some(path.to_string()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| nul_in(item, &format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(key, item)| {
            let child = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            if key.contains('\0') {
                Some(child)
            } else {
                nul_in(item, &child)
            }
        }),
        _ => None,
    }
}

/// Whether JSON text may hold a NUL (the escape `\u0000`; a raw NUL is
/// not valid JSON): the cheap test before walking the parsed value.
#[must_use]
pub fn may_hold_nul(json: &[u8]) -> bool {
    memchr::memmem::find(json, b"\\u0000").is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_nul_in_values_and_keys_at_any_depth() {
        assert_eq!(
            nul_path(&json!({"source": "a\u{0}b"})).as_deref(),
            Some("source")
        );
        assert_eq!(
            nul_path(&json!({"metadata": {"tags": ["x", "y\u{0}"]}})).as_deref(),
            Some("metadata.tags[1]")
        );
        assert_eq!(
            nul_path(&json!({"metadata": {"k\u{0}": 1}})).as_deref(),
            Some("metadata.k\u{0}")
        );
        assert_eq!(nul_path(&json!({"a": "plain", "b": [1, 2]})), None);
        assert!(may_hold_nul(br#"{"a":"\u0000"}"#));
        assert!(!may_hold_nul(br#"{"a":"u0000"}"#));
    }
}
