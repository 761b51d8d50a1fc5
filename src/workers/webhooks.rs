//! Webhook delivery. The delivery rows (`models::webhooks`) hold the durable
//! state; a sweep per process takes the due ones and hands each to
//! [`WebhookDelivery`], a Loco background worker that makes one signed POST
//! and records its outcome (which schedules the retry, with backoff, or
//! gives up). Loco's queues do not retry a failed job, so the worker records
//! a failed POST and returns `Ok`; the next sweep after the backoff enqueues
//! the delivery again. A crash mid-attempt leaves the delivery leased, and it
//! is retried when the lease runs out: at least once.
use std::{sync::Arc, time::Duration};

use axum::http::Request;
use chrono::Utc;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use loco_rs::prelude::*;
use serde::{Deserialize, Serialize};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::TcpStream,
    sync::Notify,
};
use tokio_rustls::{
    rustls::{pki_types::ServerName, ClientConfig, RootCertStore},
    TlsConnector,
};

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
}

#[async_trait]
impl BackgroundWorker<DeliveryArgs> for WebhookDelivery {
    fn build(ctx: &AppContext) -> Self {
        Self { ctx: ctx.clone() }
    }

    async fn perform(&self, args: DeliveryArgs) -> Result<()> {
        let settings = Settings::get(&self.ctx);
        let policy = &settings.webhooks;
        let Some(attempt) = Attempt::load(&self.ctx.db, args.delivery_id).await? else {
            // Delivered meanwhile, or its webhook was disabled or deleted.
            return Ok(());
        };
        let headers = attempt.headers(Utc::now().timestamp());
        let outcome = post(
            &attempt.webhook.url,
            &headers,
            attempt.body.clone(),
            Duration::from_millis(policy.timeout_ms),
            &policy.outbound(),
        )
        .await;
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

fn tls() -> TlsConnector {
    static CONFIG: std::sync::OnceLock<Arc<ClientConfig>> = std::sync::OnceLock::new();
    let config = CONFIG.get_or_init(|| {
        let roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        Arc::new(
            ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap_or_else(|_| unreachable!("ring supports the default versions"))
                .with_root_certificates(roots)
                .with_no_client_auth(),
        )
    });
    TlsConnector::from(config.clone())
}

async fn send<S>(stream: S, req: Request<Full<Bytes>>) -> std::result::Result<u16, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake failed: {e}"))?;
    let driver = tokio::spawn(conn);
    let response = sender
        .send_request(req)
        .await
        .map_err(|e| format!("request failed: {e}"));
    let status = match response {
        Ok(response) => {
            let status = response.status().as_u16();
            // Read (and drop) the answer so the receiver sees a clean close.
            let _ = response.into_body().collect().await;
            Ok(status)
        }
        Err(e) => Err(e),
    };
    driver.abort();
    status
}

/// POSTs `body` to `url` with `headers`; the HTTP status, or why there is
/// none. The reason says only what a receiver's owner needs (the target is
/// not allowed, the connection failed, TLS failed, no answer in time): not
/// which ports answer inside a network.
///
/// # Errors
/// A description of the failure.
pub async fn post(
    url: &str,
    headers: &[(&'static str, String)],
    body: String,
    timeout: Duration,
    policy: &OutboundPolicy,
) -> std::result::Result<u16, String> {
    let target = policy
        .check_url(url)
        .map_err(|_| "target not allowed".to_string())?;
    let https = target.url.scheme() == "https";
    let authority = match target.url.port() {
        Some(port) => format!("{}:{port}", target.host),
        None => target.host.to_string(),
    };
    let path = match target.url.query() {
        Some(q) => format!("{}?{q}", target.url.path()),
        None => target.url.path().to_string(),
    };
    let mut req = Request::post(path.as_str()).header("host", authority.as_str());
    for (name, value) in headers {
        req = req.header(*name, value);
    }
    let req = req
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| format!("bad request: {e}"))?;
    let attempt = async {
        // Resolved and checked once; the connection goes to a checked
        // address, so a name that resolves elsewhere now gains nothing.
        let addrs = policy.resolve(&target).await?;
        let tcp = TcpStream::connect(addrs.as_slice())
            .await
            .map_err(|_| "connection failed")?;
        if https {
            let name = match &target.host {
                url::Host::Domain(d) => ServerName::try_from(d.clone()),
                url::Host::Ipv4(ip) => Ok(ServerName::from(std::net::IpAddr::V4(*ip))),
                url::Host::Ipv6(ip) => Ok(ServerName::from(std::net::IpAddr::V6(*ip))),
            }
            .map_err(|_| "bad TLS name")?;
            let tls = tls()
                .connect(name, tcp)
                .await
                .map_err(|_| "TLS handshake failed")?;
            send(tls, req).await.map_err(|_| "connection failed")
        } else {
            send(tcp, req).await.map_err(|_| "connection failed")
        }
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .map_err(|_| format!("no answer within {} ms", timeout.as_millis()))?
        .map_err(str::to_string)
}
