//! A new event: the one shape every way in produces (an API body, a batch
//! item, a detected log line), its bounds, the 5-minute future rule, and
//! its fingerprint. [`EventInput`] documents the body [`NewEvent::parse`]
//! accepts; a test holds the two to the same field names.
use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::{severity::Severity, FieldErrors};
use crate::digest::sha256_hex_parts;

pub const MAX_DESCRIPTION: usize = 10_000;
/// Largest `metadata` object, serialised.
pub const MAX_METADATA_BYTES: usize = 64 * 1024;
pub const MAX_FUTURE_SKEW_MINUTES: i64 = 5;
/// The fields an event body may hold.
pub const FIELDS: [&str; 9] = [
    "source",
    "event_type",
    "severity",
    "description",
    "source_ip",
    "destination_ip",
    "occurred_at",
    "metadata",
    "dedup_key",
];

/// A valid event, parsed from a request body: it can only hold legal values.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub source: String,
    pub event_type: String,
    pub severity: Severity,
    pub description: Option<String>,
    pub source_ip: Option<IpAddr>,
    pub destination_ip: Option<IpAddr>,
    pub occurred_at: DateTime<Utc>,
    pub metadata: Option<Map<String, Value>>,
    pub dedup_key: Option<String>,
}

fn push(errors: &mut FieldErrors, field: &str, msg: impl Into<String>) {
    errors
        .entry(field.to_string())
        .or_default()
        .push(msg.into());
}

fn text(
    obj: &Map<String, Value>,
    field: &str,
    required: bool,
    max: usize,
    errors: &mut FieldErrors,
) -> Option<String> {
    match obj.get(field) {
        None | Some(Value::Null) => {
            if required {
                push(errors, field, "This field is required.");
            }
            None
        }
        Some(Value::String(s)) => check_text(field, s, required, max, errors).then(|| s.clone()),
        Some(other) => {
            push(
                errors,
                field,
                format!("Must be a string, not {}.", kind(other)),
            );
            None
        }
    }
}

/// Whether text `s` for `field` obeys the rules (no NUL, not blank when
/// `required`, at most `max` characters); else notes why in `errors`.
fn check_text(field: &str, s: &str, required: bool, max: usize, errors: &mut FieldErrors) -> bool {
    let len = s.chars().count();
    if s.contains('\0') {
        push(errors, field, crate::input::NUL_MESSAGE);
        false
    } else if required && s.trim().is_empty() {
        push(errors, field, "Must not be blank.");
        false
    } else if len > max {
        push(
            errors,
            field,
            format!("Must be at most {max} characters (got {len})."),
        );
        false
    } else {
        true
    }
}

/// Where a metadata object breaks the rules (NUL, size), if it does.
fn check_metadata(m: &Map<String, Value>, errors: &mut FieldErrors) -> bool {
    let json = serde_json::to_vec(m).unwrap_or_default();
    let size = json.len();
    let nul = crate::input::may_hold_nul(&json)
        .then(|| {
            m.iter().find_map(|(k, v)| {
                let path = format!("metadata.{k}");
                if k.contains('\0') {
                    Some(path)
                } else {
                    crate::input::nul_in(v, &path)
                }
            })
        })
        .flatten();
    if let Some(path) = nul {
        push(errors, &path, crate::input::NUL_MESSAGE);
        false
    } else if size > MAX_METADATA_BYTES {
        push(
            errors,
            "metadata",
            format!("Must be at most 64 KiB (got {size} bytes)."),
        );
        false
    } else {
        true
    }
}

/// The latest time an event may carry at `now`: SPEC §3 allows 5 minutes
/// of clock skew.
fn future_limit(now: DateTime<Utc>) -> DateTime<Utc> {
    now + Duration::minutes(MAX_FUTURE_SKEW_MINUTES)
}

/// The future rule for what clients send: a time more than 5 minutes
/// ahead of `now` is refused.
///
/// # Errors
/// The message for the `occurred_at` field.
pub fn refuse_future(at: DateTime<Utc>, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    if at > future_limit(now) {
        Err("Must not be more than 5 minutes in the future.".to_string())
    } else {
        Ok(at)
    }
}

/// The future rule for log lines: a time more than 5 minutes ahead of
/// `now` (a server whose clock runs ahead) becomes `now`; the line's own
/// time is kept by the caller.
#[must_use]
pub fn clamp_future(at: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
    if at > future_limit(now) {
        now
    } else {
        at
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn ip(obj: &Map<String, Value>, field: &str, errors: &mut FieldErrors) -> Option<IpAddr> {
    let raw = text(obj, field, false, 64, errors)?;
    raw.parse::<IpAddr>().map_or_else(
        |_| {
            push(
                errors,
                field,
                format!("`{raw}` is not a valid IPv4 or IPv6 address."),
            );
            None
        },
        Some,
    )
}

impl NewEvent {
    /// An event Vigil builds itself (the log detector, tests): typed
    /// fields, the optional ones added with the `with_*` setters, then
    /// [`Self::checked`]. The caller applies the future rule it needs
    /// ([`refuse_future`] or [`clamp_future`]) to `occurred_at`.
    #[must_use]
    pub fn new(
        source: impl Into<String>,
        event_type: impl Into<String>,
        severity: Severity,
        occurred_at: DateTime<Utc>,
    ) -> Self {
        Self {
            source: source.into(),
            event_type: event_type.into(),
            severity,
            description: None,
            source_ip: None,
            destination_ip: None,
            occurred_at,
            metadata: None,
            dedup_key: None,
        }
    }

    #[must_use]
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    #[must_use]
    pub fn with_source_ip(mut self, ip: IpAddr) -> Self {
        self.source_ip = Some(ip);
        self
    }

    #[must_use]
    pub fn with_destination_ip(mut self, ip: IpAddr) -> Self {
        self.destination_ip = Some(ip);
        self
    }

    #[must_use]
    pub fn with_metadata(mut self, metadata: Map<String, Value>) -> Self {
        self.metadata = Some(metadata);
        self
    }

    #[must_use]
    pub fn with_dedup_key(mut self, key: impl Into<String>) -> Self {
        self.dedup_key = Some(key.into()).filter(|k: &String| !k.is_empty());
        self
    }

    /// This event, if it obeys the bounds [`Self::parse`] applies to a
    /// body (text lengths, no NUL, metadata size, a time from 1970 on).
    ///
    /// # Errors
    /// Field → messages for every field out of bounds.
    pub fn checked(self) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        check_text("source", &self.source, true, 255, &mut errors);
        check_text("event_type", &self.event_type, true, 100, &mut errors);
        if let Some(d) = &self.description {
            check_text("description", d, false, MAX_DESCRIPTION, &mut errors);
        }
        if let Some(k) = &self.dedup_key {
            check_text("dedup_key", k, false, 255, &mut errors);
        }
        if let Some(m) = &self.metadata {
            check_metadata(m, &mut errors);
        }
        if self.occurred_at.timestamp() < 0 {
            push(
                &mut errors,
                "occurred_at",
                "Must be 1970-01-01T00:00:00Z or later.",
            );
        }
        if errors.is_empty() {
            Ok(self)
        } else {
            Err(errors)
        }
    }

    /// Parses one event body, reporting every invalid field at once.
    ///
    /// # Errors
    /// Field → messages for each invalid or unknown field.
    pub fn parse(value: &Value, now: DateTime<Utc>) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let Some(obj) = value.as_object() else {
            push(
                &mut errors,
                "body",
                format!("An event must be a JSON object, not {}.", kind(value)),
            );
            return Err(errors);
        };
        for key in obj.keys() {
            if !FIELDS.contains(&key.as_str()) {
                push(&mut errors, key, "Unknown field.");
            }
        }
        let source = text(obj, "source", true, 255, &mut errors);
        let event_type = text(obj, "event_type", true, 100, &mut errors);
        let severity = text(obj, "severity", true, 32, &mut errors).and_then(|s| {
            s.parse::<Severity>()
                .map_err(|e| push(&mut errors, "severity", e))
                .ok()
        });
        let description = text(obj, "description", false, MAX_DESCRIPTION, &mut errors);
        let source_ip = ip(obj, "source_ip", &mut errors);
        let destination_ip = ip(obj, "destination_ip", &mut errors);
        let occurred_at = match text(obj, "occurred_at", false, 64, &mut errors) {
            None => Some(now),
            Some(raw) => match DateTime::parse_from_rfc3339(&raw) {
                Ok(t) if t.timestamp() < 0 => {
                    push(
                        &mut errors,
                        "occurred_at",
                        "Must be 1970-01-01T00:00:00Z or later.",
                    );
                    None
                }
                Ok(t) => refuse_future(t.with_timezone(&Utc), now)
                    .map_err(|e| push(&mut errors, "occurred_at", e))
                    .ok(),
                Err(_) => {
                    push(
                        &mut errors,
                        "occurred_at",
                        format!(
                            "`{raw}` is not an RFC 3339 timestamp (e.g. 2026-11-20T10:00:00Z)."
                        ),
                    );
                    None
                }
            },
        };
        let metadata = match obj.get("metadata") {
            None | Some(Value::Null) => None,
            Some(Value::Object(m)) => check_metadata(m, &mut errors).then(|| m.clone()),
            Some(other) => {
                push(
                    &mut errors,
                    "metadata",
                    format!("Must be a JSON object, not {}.", kind(other)),
                );
                None
            }
        };
        let dedup_key = text(obj, "dedup_key", false, 255, &mut errors).filter(|k| !k.is_empty());

        match (source, event_type, severity, occurred_at) {
            (Some(source), Some(event_type), Some(severity), Some(occurred_at))
                if errors.is_empty() =>
            {
                Ok(Self {
                    source,
                    event_type,
                    severity,
                    description,
                    source_ip,
                    destination_ip,
                    occurred_at,
                    metadata,
                    dedup_key,
                })
            }
            _ => Err(errors),
        }
    }

    /// The alert fingerprint: the client's `dedup_key`, else
    /// `source + event_type + source_ip` (hashed to a fixed width).
    #[must_use]
    pub fn fingerprint(&self) -> String {
        if let Some(key) = &self.dedup_key {
            return sha256_hex_parts(&[b"key\x1f", key.as_bytes()]);
        }
        let ip = self.source_ip.map(|ip| ip.to_string()).unwrap_or_default();
        sha256_hex_parts(&[
            b"auto\x1f",
            self.source.as_bytes(),
            b"\x1f",
            self.event_type.as_bytes(),
            b"\x1f",
            ip.as_bytes(),
        ])
    }
}

/// The body of `POST /api/events` (documentation of the accepted shape;
/// unknown fields are refused).
#[allow(dead_code)] // documentation only: bodies are read by `NewEvent::parse`
#[derive(Debug, ToSchema)]
pub struct EventInput {
    /// 1–255 characters.
    #[schema(example = "fw-edge-01", min_length = 1, max_length = 255)]
    pub source: String,
    /// 1–100 characters.
    #[schema(example = "port_scan", min_length = 1, max_length = 100)]
    pub event_type: String,
    /// LOW, MEDIUM, HIGH or CRITICAL (any case).
    #[schema(example = "HIGH", max_length = 32)]
    pub severity: String,
    /// At most 10,000 characters; stored and returned exactly as sent.
    #[schema(max_length = 10000)]
    pub description: Option<String>,
    /// IPv4 or IPv6.
    #[schema(example = "203.0.113.7", max_length = 45)]
    pub source_ip: Option<String>,
    #[schema(example = "10.0.0.5", max_length = 45)]
    pub destination_ip: Option<String>,
    /// RFC 3339; default now; at most 5 minutes in the future.
    pub occurred_at: Option<DateTime<Utc>>,
    /// A JSON object of at most 64 KiB.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// Client fingerprint (≤ 255): events with the same key join one alert.
    #[schema(max_length = 255)]
    pub dedup_key: Option<String>,
}

/// The body of `POST /api/events/batch`.
#[allow(dead_code)] // documentation only
#[derive(Debug, ToSchema)]
pub struct BatchInput {
    /// At most 1,000 events.
    pub events: Vec<EventInput>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use utoipa::{
        openapi::{RefOr, Schema},
        PartialSchema,
    };

    #[test]
    fn the_future_rule_refuses_for_bodies_and_clamps_for_log_lines() {
        let now = Utc::now();
        let soon = now + Duration::minutes(MAX_FUTURE_SKEW_MINUTES);
        let late = soon + Duration::seconds(1);
        assert_eq!(refuse_future(soon, now), Ok(soon));
        assert!(refuse_future(late, now).is_err());
        assert_eq!(clamp_future(soon, now), soon);
        assert_eq!(clamp_future(late, now), now);
        // A body dated too far ahead is refused, naming the field.
        let body = json!({"source": "s", "event_type": "t", "severity": "LOW",
                          "occurred_at": late.to_rfc3339()});
        let errors = NewEvent::parse(&body, now).unwrap_err();
        assert!(errors.contains_key("occurred_at"), "{errors:?}");
    }

    #[test]
    fn the_typed_constructor_keeps_the_bounds_of_a_body() {
        let now = Utc::now();
        let event = NewEvent::new("ids", "port_scan", Severity::High, now)
            .with_source_ip("192.0.2.1".parse().unwrap())
            .with_description("d")
            .checked()
            .expect("within bounds");
        let parsed = NewEvent::parse(
            &json!({"source": "ids", "event_type": "port_scan", "severity": "HIGH",
                    "source_ip": "192.0.2.1", "description": "d"}),
            now,
        )
        .unwrap();
        assert_eq!(event.fingerprint(), parsed.fingerprint());
        let errors = NewEvent::new(" ", "t".repeat(101), Severity::Low, now)
            .with_description("x".repeat(MAX_DESCRIPTION + 1))
            .with_dedup_key("k\0")
            .checked()
            .unwrap_err();
        let named: Vec<&str> = errors.keys().map(String::as_str).collect();
        assert_eq!(named, ["dedup_key", "description", "event_type", "source"]);
        let mut big = Map::new();
        big.insert("blob".into(), json!("x".repeat(MAX_METADATA_BYTES)));
        let errors = NewEvent::new("s", "t", Severity::Low, now)
            .with_metadata(big)
            .checked()
            .unwrap_err();
        assert!(errors.contains_key("metadata"), "{errors:?}");
    }

    #[test]
    fn reports_every_invalid_field() {
        let now = Utc::now();
        let errors = NewEvent::parse(
            &json!({
                "severity": "urgent",
                "source_ip": "999.1.1.1",
                "occurred_at": "yesterday",
                "metadata": [1],
                "colour": "red"
            }),
            now,
        )
        .unwrap_err();
        for f in [
            "source",
            "event_type",
            "severity",
            "source_ip",
            "occurred_at",
            "metadata",
            "colour",
        ] {
            assert!(errors.contains_key(f), "{f} in {errors:?}");
        }
    }

    #[test]
    fn parses_a_full_event() {
        let now = Utc::now();
        let e = NewEvent::parse(
            &json!({
                "source": "fw-edge-01", "event_type": "port_scan", "severity": "high",
                "description": "<script>x</script>", "source_ip": "2001:db8::1",
                "occurred_at": "2026-11-20T10:00:00+01:00", "metadata": {"rule": "ET SCAN"}
            }),
            now,
        )
        .unwrap();
        assert_eq!(e.severity, Severity::High);
        assert_eq!(e.occurred_at.to_rfc3339(), "2026-11-20T09:00:00+00:00");
        assert_eq!(e.description.as_deref(), Some("<script>x</script>"));
    }

    #[test]
    fn future_timestamps_are_refused_beyond_five_minutes() {
        let now = Utc::now();
        let later = (now + Duration::minutes(6)).to_rfc3339();
        let soon = (now + Duration::minutes(4)).to_rfc3339();
        let base = |t: &str| json!({"source": "s", "event_type": "t", "severity": "LOW", "occurred_at": t});
        assert!(NewEvent::parse(&base(&later), now)
            .unwrap_err()
            .contains_key("occurred_at"));
        assert!(NewEvent::parse(&base(&soon), now).is_ok());
    }

    #[test]
    fn fingerprint_prefers_dedup_key() {
        let now = Utc::now();
        let a = NewEvent::parse(
            &json!({"source": "a", "event_type": "t", "severity": "HIGH", "dedup_key": "k"}),
            now,
        )
        .unwrap();
        let b = NewEvent::parse(
            &json!({"source": "b", "event_type": "u", "severity": "HIGH", "dedup_key": "k"}),
            now,
        )
        .unwrap();
        let c = NewEvent::parse(
            &json!({"source": "a", "event_type": "t", "severity": "HIGH"}),
            now,
        )
        .unwrap();
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), c.fingerprint());
        assert_eq!(a.fingerprint().len(), 64);
    }

    /// `/swagger`'s event body lists exactly the fields an event accepts.
    #[test]
    fn the_documented_event_fields_are_the_accepted_ones() {
        let RefOr::T(Schema::Object(schema)) = super::EventInput::schema() else {
            panic!("EventInput is not an object schema");
        };
        let mut documented: Vec<&str> = schema.properties.keys().map(String::as_str).collect();
        documented.sort_unstable();
        let mut accepted = FIELDS.to_vec();
        accepted.sort_unstable();
        assert_eq!(documented, accepted);
    }
}
