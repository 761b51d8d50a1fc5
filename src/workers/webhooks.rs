//! Webhook delivery. The delivery rows (`models::webhook_deliveries`) hold the durable
//! state; a sweep per process takes the due ones and hands each to
//! [`WebhookDelivery`], a Loco background worker that makes one signed POST
//! and records its outcome (which schedules the retry, with backoff, or
//! gives up). Loco's queues do not retry a failed job, so the worker records
//! a failed POST and returns `Ok`; the next sweep after the backoff enqueues
//! the delivery again. A crash mid-attempt leaves the delivery leased, and it
//! is retried when the lease runs out: at least once.
use std::{sync::Arc, time::Duration};

use chrono::Utc;
use loco_rs::prelude::*;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::{models::webhook_deliveries::Attempt, net::OutboundPolicy, settings::Settings};

/// Deliveries taken per sweep.
const SWEEP_BATCH: u64 = 100;

#[derive(Debug, Serialize, Deserialize)]
pub struct DeliveryArgs {
    pub delivery_id: i64,
}

/// One attempt at one delivery.
pub struct WebhookDelivery {
    ctx: AppContext,
    client: Option<Arc<WebhookClient>>,
}

#[async_trait]
impl BackgroundWorker<DeliveryArgs> for WebhookDelivery {
    fn build(ctx: &AppContext) -> Self {
        Self {
            ctx: ctx.clone(),
            client: WebhookClient::get(ctx).ok(),
        }
    }

    async fn perform(&self, args: DeliveryArgs) -> Result<()> {
        let settings = Settings::get(&self.ctx);
        let policy = &settings.webhooks;
        let Some(attempt) = Attempt::load(&self.ctx.db, args.delivery_id).await? else {
            // Delivered meanwhile, or its webhook was disabled or deleted.
            return Ok(());
        };
        let headers = attempt.headers(Utc::now().timestamp());
        let outcome = match &self.client {
            Some(client) => {
                client
                    .post(&attempt.webhook.url, &headers, attempt.body.clone())
                    .await
            }
            None => Err("connection failed".to_string()),
        };
        if let Err(error) = &outcome {
            tracing::info!(webhook = %attempt.webhook.pid, delivery = %attempt.delivery.pid, %error, "webhook attempt failed");
        }
        attempt
            .record(&self.ctx.db, outcome, policy, Utc::now())
            .await?;
        Ok(())
    }
}

/// Wakes the sweep when the dispatcher has created deliveries.
pub struct Sweeper {
    wake: Arc<Notify>,
}

impl Sweeper {
    /// The sweep started by the outbox initializer.
    ///
    /// # Errors
    /// When the app was built without one.
    pub fn get(ctx: &AppContext) -> Result<Arc<Self>> {
        ctx.shared_store
            .get::<Arc<Self>>()
            .ok_or_else(|| Error::string("webhook sweep not started"))
    }

    pub fn poke(&self) {
        self.wake.notify_one();
    }

    #[must_use]
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Starts the sweep: every `sweep_ms`, or when poked, the due deliveries
    /// are leased and enqueued as [`WebhookDelivery`] jobs.
    #[must_use]
    pub fn start(ctx: AppContext, settings: &Settings) -> (Arc<Self>, tokio::task::JoinHandle<()>) {
        let this = Arc::new(Self {
            wake: Arc::new(Notify::new()),
        });
        let wake = this.wake.clone();
        let every = Duration::from_millis(settings.webhooks.sweep_ms.max(1));
        // The lease outlasts an attempt, so a delivery is never sent twice
        // at once; after a crash it is retried when the lease ends.
        let lease = chrono::Duration::milliseconds(
            i64::try_from(settings.webhooks.timeout_ms.saturating_mul(3) + 5_000)
                .unwrap_or(i64::MAX),
        );
        let task = tokio::spawn(async move {
            loop {
                match sweep_once(&ctx, lease).await {
                    Ok(n) if n as u64 == SWEEP_BATCH => continue,
                    Ok(_) => {}
                    Err(err) => tracing::warn!(error = %err, "webhook sweep failed; retrying"),
                }
                tokio::select! {
                    () = wake.notified() => {}
                    () = tokio::time::sleep(every) => {}
                }
            }
        });
        (this, task)
    }
}

/// Enqueues the due deliveries; returns how many.
///
/// # Errors
/// Database or queue errors.
pub async fn sweep_once(ctx: &AppContext, lease: chrono::Duration) -> Result<usize> {
    let ids = crate::models::webhook_deliveries::claim_due(&ctx.db, SWEEP_BATCH, lease).await?;
    let n = ids.len();
    if n > 0 {
        WebhookDelivery::perform_all_later(
            ctx,
            ids.into_iter()
                .map(|delivery_id| DeliveryArgs { delivery_id })
                .collect(),
        )
        .await?;
    }
    Ok(n)
}

/// Why a delivery did not reach its receiver, as the resolver says it
/// (found again in `reqwest`'s error chain).
#[derive(Debug)]
struct Refused(&'static str);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Refused {}

/// The resolver of webhook deliveries: a name is resolved, and every
/// address it resolves to checked by the outbound policy, at each new
/// connection; the connection then goes to a checked address, so a name
/// that resolves elsewhere the second time (DNS rebinding) gains nothing.
struct Vetted(OutboundPolicy);

impl reqwest::dns::Resolve for Vetted {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|_| Refused("connection failed"))?;
            let addrs = policy.vet(found.collect()).map_err(Refused)?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The HTTP client of webhook deliveries, one per process (in the shared
/// store): connections to a receiver are kept and reused; each request has
/// `settings.webhooks.timeout_ms` in all; redirects are not followed and no
/// proxy is used (either would take the request past the outbound policy).
pub struct WebhookClient {
    http: reqwest::Client,
    policy: OutboundPolicy,
    timeout: Duration,
}

impl WebhookClient {
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(timeout: Duration, policy: OutboundPolicy) -> Result<Self> {
        let http = crate::net::http_client()
            .dns_resolver(Arc::new(Vetted(policy.clone())))
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .user_agent(concat!("Vigil-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::string(&format!("webhook HTTP client: {e}")))?;
        Ok(Self {
            http,
            policy,
            timeout,
        })
    }

    /// This process's client (made by the outbox initializer), or a new one
    /// from the settings.
    ///
    /// # Errors
    /// When a new one cannot be built.
    pub fn get(ctx: &AppContext) -> Result<Arc<Self>> {
        if let Some(client) = ctx.shared_store.get::<Arc<Self>>() {
            return Ok(client);
        }
        let settings = Settings::get(ctx);
        Ok(Arc::new(Self::new(
            Duration::from_millis(settings.webhooks.timeout_ms),
            settings.webhooks.outbound(),
        )?))
    }

    /// POSTs `body` to `url` with `headers`; the HTTP status, or why there
    /// is none. The reason says only what a receiver's owner needs (the
    /// target is not allowed, the connection failed, TLS failed, no answer
    /// in time): not which ports answer inside a network.
    ///
    /// # Errors
    /// A description of the failure.
    pub async fn post(
        &self,
        url: &str,
        headers: &[(&'static str, String)],
        body: String,
    ) -> std::result::Result<u16, String> {
        let target = self
            .policy
            .check_url(url)
            .map_err(|_| "target not allowed".to_string())?;
        let mut request = self.http.post(target);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let mut response = request
            .body(body)
            .send()
            .await
            .map_err(|e| self.reason(&e))?;
        let status = response.status().as_u16();
        // Read a bounded answer, so the connection can serve the next
        // delivery; a longer one is dropped with its connection.
        let mut read = 0;
        while let Ok(Some(chunk)) = response.chunk().await {
            read += chunk.len();
            if read > MAX_ANSWER_BYTES {
                break;
            }
        }
        Ok(status)
    }

    fn reason(&self, err: &reqwest::Error) -> String {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
        let mut tls = false;
        while let Some(e) = source {
            if let Some(refused) = e.downcast_ref::<Refused>() {
                return refused.0.to_string();
            }
            tls |= e.is::<rustls::Error>();
            source = e.source();
        }
        if err.is_timeout() {
            format!("no answer within {} ms", self.timeout.as_millis())
        } else if tls {
            "TLS handshake failed".to_string()
        } else {
            "connection failed".to_string()
        }
    }
}

/// The most of a receiver's answer read (and dropped).
const MAX_ANSWER_BYTES: usize = 64 * 1024;

#[cfg(test)]
mod tests {
    use reqwest::dns::Resolve;

    use super::*;

    /// A name resolving inside the network is refused when the connection
    /// is made, not only when the URL is registered.
    #[tokio::test]
    async fn the_resolver_refuses_internal_addresses() {
        let strict = Vetted(OutboundPolicy::default());
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        let err = strict.resolve(name).await.err().expect("refused");
        assert_eq!(
            err.to_string(),
            "target not allowed: it resolves inside the network"
        );
        let loopback = Vetted(OutboundPolicy {
            allowed: vec!["127.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()],
        });
        let addrs: Vec<_> = loopback
            .resolve("localhost".parse().unwrap())
            .await
            .expect("allowed")
            .collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
    }
}
