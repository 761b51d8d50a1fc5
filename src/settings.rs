//! Vigil's own settings: the `settings:` block of `config/<env>.yaml`, typed
//! once at start-up and kept in the shared store.
use loco_rs::prelude::*;
use serde::Deserialize;

use crate::models::severity::Severity;

/// The web console (`controllers::console`).
#[derive(Debug, Clone, Deserialize)]
pub struct ConsoleSettings {
    /// Session cookies only over HTTPS (`Secure`). On by default; the
    /// development and test configurations turn it off for plain HTTP on
    /// localhost.
    #[serde(default = "default_true")]
    pub secure_cookie: bool,
}

impl Default for ConsoleSettings {
    fn default() -> Self {
        Self {
            secure_cookie: true,
        }
    }
}

const fn default_true() -> bool {
    true
}

/// Failed-login throttling (SPEC §2; `models::login_throttles`).
#[derive(Debug, Clone, Deserialize)]
pub struct LoginThrottle {
    /// Failures allowed for one account from one client address within
    /// the window; past it, that address gets 429 for that account.
    #[serde(default = "default_account_failures")]
    pub max_failures_per_account: i64,
    /// Failures allowed from one client address within the window, any
    /// accounts; past it, 429.
    #[serde(default = "default_client_failures")]
    pub max_failures_per_client: i64,
    /// Failures for one account across all addresses after which every
    /// attempt at it waits a delay that doubles (from 250 ms) with each
    /// further failure.
    #[serde(default = "default_account_delay_after")]
    pub account_delay_after: i64,
    /// The longest such delay, milliseconds.
    #[serde(default = "default_max_delay_ms")]
    pub max_delay_ms: u64,
    /// Length of the window, and of a 429 once a limit is exceeded.
    #[serde(default = "default_window")]
    pub window_seconds: i64,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self {
            max_failures_per_account: default_account_failures(),
            max_failures_per_client: default_client_failures(),
            account_delay_after: default_account_delay_after(),
            max_delay_ms: default_max_delay_ms(),
            window_seconds: default_window(),
        }
    }
}

const fn default_account_delay_after() -> i64 {
    10
}
const fn default_max_delay_ms() -> u64 {
    5_000
}

const fn default_account_failures() -> i64 {
    5
}
const fn default_client_failures() -> i64 {
    20
}
const fn default_window() -> i64 {
    900
}
const fn default_retention() -> i64 {
    90
}
const fn default_refresh_ttl() -> i64 {
    14 * 24 * 3600
}

const fn default_feed_ping() -> u64 {
    30
}
const fn default_feed_buffer() -> usize {
    4_096
}

const fn default_threshold() -> Severity {
    Severity::High
}

/// Webhook delivery policy (SPEC §6).
#[derive(Debug, Clone, Deserialize)]
pub struct WebhookSettings {
    /// How long one POST may take, connection included.
    #[serde(default = "default_webhook_timeout")]
    pub timeout_ms: u64,
    /// Delay before the second attempt; each further one doubles it.
    #[serde(default = "default_backoff_base")]
    pub backoff_base_ms: u64,
    /// The longest delay between attempts.
    #[serde(default = "default_backoff_max")]
    pub backoff_max_ms: u64,
    /// Attempts per delivery before it is marked FAILED.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: i32,
    /// Failed attempts in a row after which the webhook is disabled.
    #[serde(default = "default_disable_after")]
    pub disable_after: i32,
    /// How often due deliveries are looked for.
    #[serde(default = "default_sweep")]
    pub sweep_ms: u64,
    /// Internal networks (CIDRs) webhooks may be delivered to; every other
    /// loopback, private, link-local, CGNAT, multicast or reserved address
    /// is refused (`src/net.rs`).
    #[serde(default)]
    pub allowed_targets: Vec<ipnet::IpNet>,
}

impl WebhookSettings {
    /// Where deliveries may go.
    #[must_use]
    pub fn outbound(&self) -> crate::net::OutboundPolicy {
        crate::net::OutboundPolicy {
            allowed: self.allowed_targets.clone(),
        }
    }
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            timeout_ms: default_webhook_timeout(),
            backoff_base_ms: default_backoff_base(),
            backoff_max_ms: default_backoff_max(),
            max_attempts: default_max_attempts(),
            disable_after: default_disable_after(),
            sweep_ms: default_sweep(),
            allowed_targets: Vec::new(),
        }
    }
}

const fn default_webhook_timeout() -> u64 {
    10_000
}
const fn default_backoff_base() -> u64 {
    10_000
}
const fn default_backoff_max() -> u64 {
    3_600_000
}
const fn default_max_attempts() -> i32 {
    12
}
const fn default_disable_after() -> i32 {
    20
}
const fn default_sweep() -> u64 {
    1_000
}

fn default_redis_channel() -> String {
    "vigil:envelopes".to_string()
}

const fn default_max_tracked_clients() -> usize {
    10_000
}
const fn default_event_batch() -> usize {
    1_000
}
const fn default_follow_poll_ms() -> u64 {
    500
}

/// Detection from access logs (SPEC §7).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Detection {
    /// An operator rules file read on top of the built-in rules (same
    /// format): overrides by name, additions, `disable:`. Empty for none.
    #[serde(default)]
    pub rules_file: String,
    /// Client addresses one log stream's windows track at most (about
    /// 1 KiB each); beyond, the least recently seen are forgotten.
    #[serde(default = "default_max_tracked_clients")]
    pub max_tracked_clients: usize,
    /// Detections stored per write (one transaction).
    #[serde(default = "default_event_batch")]
    pub event_batch: usize,
    /// How often `ingest_log follow:true` looks at the file, milliseconds.
    #[serde(default = "default_follow_poll_ms")]
    pub follow_poll_ms: u64,
}

impl Default for Detection {
    fn default() -> Self {
        Self {
            rules_file: String::new(),
            max_tracked_clients: default_max_tracked_clients(),
            event_batch: default_event_batch(),
            follow_poll_ms: default_follow_poll_ms(),
        }
    }
}

impl Detection {
    /// The compiled rules: built-in, with the operator file on top.
    ///
    /// # Errors
    /// An unreadable operator file or an invalid rule, named.
    pub fn rules(&self) -> Result<crate::detection::rules::Rules> {
        let path = (!self.rules_file.trim().is_empty())
            .then(|| std::path::Path::new(self.rules_file.trim()));
        crate::detection::rules::Rules::load(path)
            .map_err(|e| Error::string(&format!("settings.detection.rules_file: {e}")))
    }
}

/// How long a write may wait for storage, and an optional size cap.
#[derive(Debug, Clone, Deserialize)]
pub struct StorageSettings {
    /// How long a statement waits for a lock (SQLite's busy timeout,
    /// PostgreSQL's `lock_timeout`) before the request answers 503
    /// `storage_unavailable`.
    #[serde(default = "default_lock_timeout")]
    pub lock_timeout_ms: u64,
    /// SQLite only: the database file's size cap in pages (4 KiB each;
    /// `PRAGMA max_page_count` on every connection); 0 for none. Writes
    /// past it answer 503 as a full disk would, and resume once space is
    /// freed (purged events).
    #[serde(default)]
    pub sqlite_max_pages: u64,
}

impl Default for StorageSettings {
    fn default() -> Self {
        Self {
            lock_timeout_ms: default_lock_timeout(),
            sqlite_max_pages: 0,
        }
    }
}

const fn default_lock_timeout() -> u64 {
    5_000
}

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    #[serde(default)]
    pub storage: StorageSettings,
    /// Redis for multi-instance fan-out of the live feed (`REDIS_URL`);
    /// empty: this instance's feed shows what this instance dispatches.
    #[serde(default)]
    pub redis_url: String,
    /// The Redis channel the instances of one deployment share.
    #[serde(default = "default_redis_channel")]
    pub redis_channel: String,
    #[serde(default)]
    pub webhooks: WebhookSettings,
    /// Events at or above this severity become alerts.
    #[serde(default = "default_threshold")]
    pub alert_threshold: Severity,
    /// Lifetime of a refresh token, in seconds.
    #[serde(default = "default_refresh_ttl")]
    pub refresh_token_ttl_seconds: i64,
    #[serde(default)]
    pub login_throttle: LoginThrottle,
    #[serde(default)]
    pub console: ConsoleSettings,
    /// Events older than this many days are purged by `purge_events`.
    #[serde(default = "default_retention")]
    pub event_retention_days: i64,
    /// Scheme and host used for absolute pagination links
    /// (`https://vigil.example.com`); empty means "from the request's Host".
    #[serde(default)]
    pub public_url: String,
    /// Without `public_url`: the `Host` values (`name` or `name:port`)
    /// trusted to build absolute links; any other gets relative links.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// Seconds between pings on the live feed (`/ws/alerts`).
    #[serde(default = "default_feed_ping")]
    pub feed_ping_seconds: u64,
    /// Envelopes a live-feed client may fall behind before it is closed
    /// (code 4008).
    #[serde(default = "default_feed_buffer")]
    pub feed_buffer: usize,
    #[serde(default)]
    pub detection: Detection,
    #[serde(default)]
    pub operations: Operations,
}

/// The operations layer: `/metrics`, escalation, silence expiry.
#[derive(Debug, Clone, Deserialize)]
pub struct Operations {
    /// A bearer token `/metrics` demands (`METRICS_TOKEN`); empty: open, as
    /// Prometheus expects on a private network.
    #[serde(default)]
    pub metrics_token: String,
    /// How often the server escalates unacknowledged alerts and notes
    /// expired silences, seconds.
    #[serde(default = "default_tick")]
    pub tick_seconds: u64,
    /// Escalation policies from the configuration, besides those made
    /// through `/api/escalation-policies` (shown there as read-only).
    #[serde(default)]
    pub escalation_policies: Vec<ConfiguredPolicy>,
}

impl Default for Operations {
    fn default() -> Self {
        Self {
            metrics_token: String::new(),
            tick_seconds: default_tick(),
            escalation_policies: Vec::new(),
        }
    }
}

const fn default_tick() -> u64 {
    15
}

/// An escalation policy written in the configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfiguredPolicy {
    pub name: String,
    pub min_severity: Severity,
    pub after_minutes: i32,
    #[serde(default)]
    pub renotify_minutes: Option<i32>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            storage: StorageSettings::default(),
            alert_threshold: default_threshold(),
            event_retention_days: default_retention(),
            refresh_token_ttl_seconds: default_refresh_ttl(),
            login_throttle: LoginThrottle::default(),
            console: ConsoleSettings::default(),
            webhooks: WebhookSettings::default(),
            redis_url: String::new(),
            redis_channel: default_redis_channel(),
            public_url: String::new(),
            allowed_hosts: Vec::new(),
            feed_ping_seconds: default_feed_ping(),
            feed_buffer: default_feed_buffer(),
            detection: Detection::default(),
            operations: Operations::default(),
        }
    }
}

impl Settings {
    /// Reads `settings:` from the loaded configuration.
    ///
    /// # Errors
    /// When the block does not match this schema.
    pub fn from_config(config: &loco_rs::config::Config) -> Result<Self> {
        match &config.settings {
            Some(raw) => serde_json::from_value(raw.clone())
                .map_err(|e| Error::string(&format!("invalid `settings:` in config: {e}"))),
            None => Ok(Self::default()),
        }
    }

    /// The settings stored at start-up (see `App::after_context`).
    #[must_use]
    pub fn get(ctx: &AppContext) -> std::sync::Arc<Self> {
        ctx.shared_store
            .get::<std::sync::Arc<Self>>()
            .unwrap_or_else(|| {
                std::sync::Arc::new(Self::from_config(&ctx.config).unwrap_or_default())
            })
    }
}
