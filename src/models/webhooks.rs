//! Webhooks (SPEC §6): an admin registers a URL with the envelope types and
//! minimum severity it wants; every matching envelope becomes a delivery
//! (`super::webhook_deliveries`), POSTed signed with the webhook's secret
//! ([`signature`]).
use crate::net::OutboundPolicy;
use chrono::Utc;
use hmac::{Hmac, Mac};
use loco_rs::{hash, prelude::*};
use sea_orm::QueryOrder;
use serde::Deserialize;
use sha2::Sha256;
use utoipa::ToSchema;
use uuid::Uuid;

pub use super::_entities::webhooks::{self, ActiveModel, Column, Entity, Model};
use super::{
    _entities::webhook_deliveries as deliveries, outbox_envelopes::EnvelopeType,
    severity::Severity, users,
};
use super::{FieldErrors, Invalid};

impl ActiveModelBehavior for ActiveModel {}

/// `POST /api/webhooks` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// Where to POST: an absolute `http` or `https` URL.
    #[schema(example = "https://hooks.example.com/vigil", max_length = 2000)]
    pub url: String,
    /// Envelope types to send (default: all of them).
    #[schema(example = json!(["alert.created", "alert.resolved"]))]
    pub event_types: Option<Vec<String>>,
    /// Only alerts at or above this severity (default LOW: all).
    #[schema(example = "HIGH", max_length = 32)]
    pub min_severity: Option<String>,
    /// Default true.
    pub enabled: Option<bool>,
}

/// `PATCH /api/webhooks/{id}` body: any of the fields. Enabling a webhook
/// clears its failure count and its disabled reason.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookChange {
    #[schema(max_length = 2000)]
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    #[schema(max_length = 32)]
    pub min_severity: Option<String>,
    pub enabled: Option<bool>,
}

fn check_url(url: &str, policy: &OutboundPolicy, fields: &mut FieldErrors) {
    if let Err(message) = policy.check_url(url) {
        fields.insert("url".into(), vec![message]);
    }
}

fn check_types(types: &[String], fields: &mut FieldErrors) -> String {
    let mut chosen: Vec<&str> = Vec::new();
    let mut bad = Vec::new();
    for t in types {
        match EnvelopeType::names().find(|known| known.eq_ignore_ascii_case(t.trim())) {
            Some(known) if !chosen.contains(&known) => chosen.push(known),
            Some(_) => {}
            None => bad.push(format!(
                "unknown type `{t}`: expected one of {}",
                EnvelopeType::names().collect::<Vec<_>>().join(", ")
            )),
        }
    }
    if !bad.is_empty() {
        fields.insert("event_types".into(), bad);
    }
    chosen.sort_unstable();
    chosen.join(" ")
}

fn check_severity(raw: &str, fields: &mut FieldErrors) -> i16 {
    raw.parse::<Severity>().map_or_else(
        |_| {
            fields.insert(
                "min_severity".into(),
                vec![format!(
                    "Unknown severity `{raw}`: expected LOW, MEDIUM, HIGH or CRITICAL."
                )],
            );
            0
        },
        Severity::rank,
    )
}

/// HMAC-SHA256 of `timestamp.body`, hex: the `X-Vigil-Signature` value
/// after `sha256=`.
#[must_use]
pub fn signature(secret: &str, timestamp: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

impl Model {
    /// Registers a webhook and returns it with its signing secret, shown
    /// only this once.
    ///
    /// # Errors
    /// 400 naming every invalid field; database errors.
    pub async fn create(
        db: &DatabaseConnection,
        owner: &users::Model,
        by: &super::audit::By,
        params: &NewWebhook,
        policy: &OutboundPolicy,
    ) -> Result<(Self, String)> {
        let mut fields = FieldErrors::new();
        check_url(params.url.trim(), policy, &mut fields);
        let types = check_types(
            params.event_types.as_deref().unwrap_or_default(),
            &mut fields,
        );
        let rank = params
            .min_severity
            .as_deref()
            .map_or(Severity::Low.rank(), |s| check_severity(s, &mut fields));
        if !fields.is_empty() {
            return Err(Invalid(fields).into());
        }
        let secret = format!("whsec_{}", hash::random_string(40));
        let row = ActiveModel {
            pid: ActiveValue::set(Uuid::new_v4()),
            url: ActiveValue::set(params.url.trim().to_string()),
            event_types: ActiveValue::set(types),
            min_severity_rank: ActiveValue::set(rank),
            secret: ActiveValue::set(secret.clone()),
            enabled: ActiveValue::set(params.enabled.unwrap_or(true)),
            consecutive_failures: ActiveValue::set(0),
            user_id: ActiveValue::set(owner.id),
            ..Default::default()
        };
        let (_writer, txn) = crate::db::write::begin_write(db).await?;
        let row = row.insert(&txn).await?;
        super::audit::commit_with(
            txn,
            by,
            super::audit::Entry::new("webhook.created", row.pid.to_string())
                .after(row.audit_view()),
        )
        .await?;
        Ok((row, secret))
    }

    /// Applies a change. Enabling clears the failure count and the reason
    /// the webhook was disabled; its pending deliveries then go out.
    ///
    /// # Errors
    /// 400 naming every invalid field; database errors.
    pub async fn change(
        self,
        db: &DatabaseConnection,
        by: &super::audit::By,
        change: &WebhookChange,
        policy: &OutboundPolicy,
    ) -> Result<Self> {
        let mut fields = FieldErrors::new();
        let before = self.audit_view();
        let mut row: ActiveModel = self.into();
        if let Some(url) = &change.url {
            check_url(url.trim(), policy, &mut fields);
            row.url = ActiveValue::set(url.trim().to_string());
        }
        if let Some(types) = &change.event_types {
            row.event_types = ActiveValue::set(check_types(types, &mut fields));
        }
        if let Some(sev) = &change.min_severity {
            row.min_severity_rank = ActiveValue::set(check_severity(sev, &mut fields));
        }
        if !fields.is_empty() {
            return Err(Invalid(fields).into());
        }
        match change.enabled {
            Some(true) => {
                row.enabled = ActiveValue::set(true);
                row.consecutive_failures = ActiveValue::set(0);
                row.disabled_reason = ActiveValue::set(None);
                row.disabled_at = ActiveValue::set(None);
            }
            Some(false) => {
                row.enabled = ActiveValue::set(false);
                row.disabled_reason = ActiveValue::set(Some("Disabled by an admin".into()));
                row.disabled_at = ActiveValue::set(Some(Utc::now().into()));
            }
            None => {}
        }
        let (_writer, txn) = crate::db::write::begin_write(db).await?;
        let row = row.update(&txn).await?;
        super::audit::commit_with(
            txn,
            by,
            super::audit::Entry::new("webhook.updated", row.pid.to_string())
                .before(before)
                .after(row.audit_view()),
        )
        .await?;
        Ok(row)
    }

    /// What the audit log shows of a webhook (never its secret).
    #[must_use]
    pub fn audit_view(&self) -> serde_json::Value {
        serde_json::json!({
            "url": self.url,
            "event_types": self.types(),
            "min_severity": Severity::from_rank(self.min_severity_rank).as_str(),
            "enabled": self.enabled,
        })
    }

    /// The envelope types this webhook receives (all when empty).
    #[must_use]
    pub fn types(&self) -> Vec<String> {
        if self.event_types.is_empty() {
            EnvelopeType::names().map(ToString::to_string).collect()
        } else {
            self.event_types
                .split(' ')
                .map(ToString::to_string)
                .collect()
        }
    }

    /// Whether an envelope of `event_type` for an alert of `rank` goes here.
    #[must_use]
    pub fn wants(&self, event_type: &str, rank: i16) -> bool {
        rank >= self.min_severity_rank
            && (self.event_types.is_empty() || self.event_types.split(' ').any(|t| t == event_type))
    }

    /// # Errors
    /// 404 for an unknown id.
    pub async fn find_by_pid(db: &DatabaseConnection, pid: &str) -> Result<Self> {
        super::find_by_pid::<Entity, _>(db, "webhook", Column::Pid, pid).await
    }

    /// Every webhook, newest first.
    ///
    /// # Errors
    /// Database errors.
    pub async fn list_page(
        db: &DatabaseConnection,
        page: u64,
        page_size: u64,
    ) -> ModelResult<(Vec<Self>, u64)> {
        let sel = Entity::find()
            .order_by_desc(Column::CreatedAt)
            .order_by_desc(Column::Id);
        Ok(super::listing::page_of(db, sel, page, page_size).await?)
    }

    /// This webhook's deliveries, newest first.
    ///
    /// # Errors
    /// Database errors.
    pub async fn deliveries(
        &self,
        db: &DatabaseConnection,
        page: u64,
        page_size: u64,
    ) -> ModelResult<(Vec<deliveries::Model>, u64)> {
        let sel = deliveries::Entity::find()
            .filter(deliveries::Column::WebhookId.eq(self.id))
            .order_by_desc(deliveries::Column::Id);
        Ok(super::listing::page_of(db, sel, page, page_size).await?)
    }

    /// Deletes the webhook and its delivery log.
    ///
    /// # Errors
    /// Database errors.
    pub async fn remove(self, db: &DatabaseConnection, by: &super::audit::By) -> ModelResult<()> {
        let (_writer, txn) = crate::db::write::begin_write(db).await?;
        deliveries::Entity::delete_many()
            .filter(deliveries::Column::WebhookId.eq(self.id))
            .exec(&txn)
            .await?;
        Entity::delete_by_id(self.id).exec(&txn).await?;
        super::audit::commit_with(
            txn,
            by,
            super::audit::Entry::new("webhook.deleted", self.pid.to_string())
                .before(self.audit_view()),
        )
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_of_timestamp_dot_body() {
        // printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
        assert_eq!(
            signature("whsec_test", "1700000000", r#"{"a":1}"#),
            "38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
    }

    #[test]
    fn types_and_severity_filter() {
        let hook = Model {
            created_at: Utc::now().into(),
            updated_at: Utc::now().into(),
            id: 1,
            pid: Uuid::new_v4(),
            url: "http://x".into(),
            event_types: "alert.created alert.resolved".into(),
            min_severity_rank: Severity::High.rank(),
            secret: "s".into(),
            enabled: true,
            consecutive_failures: 0,
            disabled_reason: None,
            disabled_at: None,
            user_id: 1,
        };
        assert!(hook.wants("alert.created", Severity::Critical.rank()));
        assert!(!hook.wants("alert.updated", Severity::Critical.rank()));
        assert!(!hook.wants("alert.created", Severity::Medium.rank()));
        let all = Model {
            event_types: String::new(),
            min_severity_rank: 0,
            ..hook
        };
        assert!(all.wants("alert.updated", 1));
        assert_eq!(
            all.types(),
            [
                "alert.created",
                "alert.updated",
                "alert.status_changed",
                "alert.escalated",
                "alert.mitigated",
                "alert.resolved",
                "silence.created",
                "silence.updated",
                "silence.expired",
                "silence.deleted"
            ]
        );
    }
}
