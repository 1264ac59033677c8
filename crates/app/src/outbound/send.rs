//! Sending the outbox: the worker takes the due deliveries, signs each
//! as Standard Webhooks says (`webhook-id`, `webhook-timestamp`,
//! `webhook-signature`: HMAC-SHA256 of `id.timestamp.body` with the
//! endpoint's secret), posts it, and writes the attempt and what follows:
//! delivered on a 2xx; otherwise retried after a doubling delay until the
//! retry window is over, then failed.
//!
//! The guard against server-side request forgery: the client resolves
//! host names itself ([`Guarded`]) and connects only to the addresses
//! that passed `estrade_core::outbound::refused` (so a name cannot be
//! re-resolved elsewhere between the check and the connection); an
//! address in the URL is checked before connecting; redirects are not
//! followed, no proxy from the environment is used, every attempt has a
//! time limit, and the answer's body is never read.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use estrade_core::config::Outbound;
use estrade_core::outbound::{literal_ip, message_id, refused, retry_delay};
use estrade_db::outbound::{Attempted, Claimed, Then};
use futures::StreamExt as _;
use ipnet::IpNet;

use crate::Deps;

/// Deliveries taken per pass.
pub const BATCH: i64 = 64;
/// Attempts in flight at once in one worker.
const AT_ONCE: usize = 16;
/// How long a taken delivery stays taken beyond the attempt's time limit.
const LEASE_MARGIN: Duration = Duration::from_secs(5);

/// The worker's outbound client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Sender {
    client: reqwest::Client,
    config: Arc<Outbound>,
}

impl Sender {
    /// A client following `config` (TLS verified against the system's
    /// trust store, where IT adds its own authority).
    pub fn new(config: &Outbound) -> Self {
        let allowed = Arc::new(config.allowed.clone());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = || {
            rustls::ClientConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()
                .expect("ring supports the default TLS versions")
        };
        let tls = {
            use rustls_platform_verifier::BuilderVerifierExt as _;
            match builder().with_platform_verifier() {
                Ok(verifying) => verifying.with_no_client_auth(),
                // A host without CA certificates still sends to http
                // endpoints; https ones fail their attempts with `tls`.
                Err(error) => {
                    tracing::error!(%error, "no trust store: webhooks to https endpoints will fail");
                    builder()
                        .with_root_certificates(rustls::RootCertStore::empty())
                        .with_no_client_auth()
                }
            }
        };
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .dns_resolver(Arc::new(Guarded { allowed }))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(config.timeout.min(Duration::from_secs(5)))
            .timeout(config.timeout)
            .user_agent(concat!("Estrade-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the outbound client");
        Self {
            client,
            config: Arc::new(config.clone()),
        }
    }
}

/// Resolves a host name, keeping only the addresses deliveries may reach.
#[derive(Debug)]
struct Guarded {
    allowed: Arc<Vec<IpNet>>,
}

/// Every address of the name is one the guard refuses.
#[derive(Debug, thiserror::Error)]
#[error("the name resolves only to refused addresses")]
struct RefusedDestination;

/// The name did not resolve.
#[derive(Debug, thiserror::Error)]
#[error("the name did not resolve")]
struct Unresolved;

impl reqwest::dns::Resolve for Guarded {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allowed = self.allowed.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|_| Box::new(Unresolved) as Box<dyn std::error::Error + Send + Sync>)?
                .collect();
            if found.is_empty() {
                return Err(Box::new(Unresolved) as _);
            }
            let permitted: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| !refused(a.ip(), &allowed))
                .collect();
            if permitted.is_empty() {
                return Err(Box::new(RefusedDestination) as _);
            }
            Ok(Box::new(permitted.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// One pass: takes up to 64 due deliveries and attempts each (16 at
/// once). Returns how many it attempted.
pub async fn deliver_due(deps: &Deps, sender: &Sender) -> Result<usize, sqlx::Error> {
    let lease = sender.config.timeout + LEASE_MARGIN;
    let due = estrade_db::outbound::claim_due(&deps.db, BATCH, lease.as_millis() as i64).await?;
    let n = due.len();
    futures::stream::iter(due)
        .map(|claimed| async move {
            let outcome = attempt(sender, &claimed).await;
            let then = next_step(&sender.config, &claimed, outcome);
            let result = match (outcome.error, then) {
                (None, _) => "delivered",
                (Some(_), Then::Failed) => "failed",
                (Some(_), _) => "retry",
            };
            metrics::counter!("outbound_webhook_attempts_total", "result" => result).increment(1);
            metrics::histogram!("outbound_webhook_attempt_seconds")
                .record(f64::from(outcome.duration_ms) / 1000.0);
            if let Err(error) =
                estrade_db::outbound::record(&deps.db, claimed.id, claimed.attempt, outcome, then)
                    .await
            {
                // The lease brings it back: attempted again, same webhook-id.
                tracing::warn!(%error, "recording a webhook attempt failed");
            }
        })
        .buffer_unordered(AT_ONCE)
        .collect::<()>()
        .await;
    Ok(n)
}

/// What follows `outcome`: delivered, another attempt, or the end of the
/// retry window.
fn next_step(config: &Outbound, claimed: &Claimed, outcome: Attempted) -> Then {
    if outcome.error.is_none() {
        return Then::Delivered;
    }
    let attempts = u32::try_from(claimed.attempt).unwrap_or(u32::MAX);
    let delay = retry_delay(attempts, config.retry_base, config.retry_cap);
    let window_ends = claimed.retry_from
        + chrono::Duration::from_std(config.retry_for).unwrap_or(chrono::Duration::MAX);
    let next = chrono::Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
    if next > window_ends {
        Then::Failed
    } else {
        Then::RetryIn(delay)
    }
}

/// Posts one delivery and says how it went.
async fn attempt(sender: &Sender, claimed: &Claimed) -> Attempted {
    let started = Instant::now();
    let took = |started: Instant| i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
    let failed = |error: &'static str, status_code: Option<u16>| Attempted {
        status_code,
        error: Some(error),
        duration_ms: took(started),
    };
    let Ok(url) = reqwest::Url::parse(&claimed.url) else {
        return failed("other", None);
    };
    if let Some(ip) = literal_ip(&url)
        && refused(ip, &sender.config.allowed)
    {
        return failed("refused_destination", None);
    }
    let body = claimed.payload.to_string();
    let id = message_id(claimed.id);
    let timestamp = chrono::Utc::now().timestamp();
    let signature = standardwebhooks::Webhook::from_bytes(claimed.key.0.clone())
        .and_then(|hook| hook.sign(&id, timestamp, body.as_bytes()));
    let Ok(signature) = signature else {
        return failed("other", None);
    };
    let sent = sender
        .client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(standardwebhooks::HEADER_WEBHOOK_ID, id)
        .header(
            standardwebhooks::HEADER_WEBHOOK_TIMESTAMP,
            timestamp.to_string(),
        )
        .header(standardwebhooks::HEADER_WEBHOOK_SIGNATURE, signature)
        .body(body)
        .send()
        .await;
    match sent {
        // The body is never read: only the status matters.
        Ok(answer) if answer.status().is_success() => Attempted {
            status_code: Some(answer.status().as_u16()),
            error: None,
            duration_ms: took(started),
        },
        Ok(answer) => failed("http_status", Some(answer.status().as_u16())),
        Err(error) => failed(classify(&error), None),
    }
}

/// The schema's name for why a request failed.
fn classify(error: &reqwest::Error) -> &'static str {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if e.is::<RefusedDestination>() {
            return "refused_destination";
        }
        if e.is::<Unresolved>() {
            return "unresolved";
        }
        if e.is::<rustls::Error>() {
            return "tls";
        }
        source = e.source();
    }
    if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "connect"
    } else {
        "other"
    }
}
