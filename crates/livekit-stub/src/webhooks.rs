//! Sending webhooks exactly as LiveKit does: protojson body,
//! `Content-Type: application/webhook+json`, the raw JWT (5 minutes, with the
//! body's base64 SHA-256) in `Authorization`, retries on connection errors,
//! 429 and 5xx after 1, 2, 4 and 8 s (5 tries), never after another 4xx,
//! events older than 30 s dropped, and delivery in order per room.
//!
//! Faults (drop, duplicate, reorder, delay) are applied here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use livekit_api::access_token::AccessToken;
use livekit_protocol::WebhookEvent;
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use tokio::sync::mpsc;

use crate::Faults;

/// How many times LiveKit tries one webhook.
const MAX_ATTEMPTS: u32 = 5;

/// How a delivery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Still being tried.
    Pending,
    /// A 2xx answer.
    Delivered,
    /// A 4xx other than 429: LiveKit never retries it.
    Rejected,
    /// Every attempt failed with a retryable error.
    GaveUp,
    /// Older than the maximum age when its turn came.
    Stale,
    /// Dropped by an injected fault.
    Dropped,
}

/// The record of one event's delivery, for tests to read.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    /// LiveKit's event id (`EV_…`).
    pub event_id: String,
    /// The event name (`participant_joined`, …).
    pub event: String,
    /// The room it concerns.
    pub room: String,
    /// The HTTP status of each attempt; 0 for a connection error.
    pub attempts: Vec<u16>,
    /// How it ended.
    pub outcome: Outcome,
}

/// One event on its way, with the faults chosen for it when it was queued.
struct Envelope {
    event: WebhookEvent,
    index: usize,
    duplicate: bool,
    reorder: bool,
    delay: Duration,
}

/// Timing of deliveries; shortened in tests.
#[derive(Debug, Clone, Copy)]
pub struct DeliveryTiming {
    /// Wait before the 2nd try; doubled before each later one.
    pub retry_base: Duration,
    /// Events older than this are dropped instead of sent.
    pub max_age: Duration,
    /// How long a reordered event waits for the next one to overtake it.
    pub reorder_window: Duration,
}

impl Default for DeliveryTiming {
    fn default() -> Self {
        Self {
            retry_base: Duration::from_secs(1),
            max_age: Duration::from_secs(30),
            reorder_window: Duration::from_secs(2),
        }
    }
}

/// Queues events per room and delivers them in the background.
#[derive(Clone)]
pub(crate) struct Sender {
    inner: Arc<Inner>,
}

struct Inner {
    url: Option<String>,
    api_key: String,
    api_secret: String,
    timing: DeliveryTiming,
    client: reqwest::Client,
    queues: Mutex<HashMap<String, mpsc::UnboundedSender<Envelope>>>,
    log: Arc<Mutex<Vec<Delivery>>>,
    faults: Arc<Mutex<Faults>>,
}

fn http_client() -> reqwest::Client {
    // reqwest is built with rustls but no default crypto provider (the
    // livekit-api crate chooses that); give this client ring explicitly
    // rather than installing a process-wide default.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        // LiveKit sets no timeout of its own; a bounded one keeps a hung
        // receiver from stalling the stand-in forever.
        .timeout(Duration::from_secs(30))
        .build()
        .expect("webhook client")
}

impl Sender {
    pub(crate) fn new(
        url: Option<String>,
        api_key: String,
        api_secret: String,
        timing: DeliveryTiming,
        faults: Arc<Mutex<Faults>>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                url,
                api_key,
                api_secret,
                timing,
                client: http_client(),
                queues: Mutex::default(),
                log: Arc::default(),
                faults,
            }),
        }
    }

    /// Every delivery so far, in the order events were queued.
    pub(crate) fn deliveries(&self) -> Vec<Delivery> {
        self.inner.log.lock().expect("log").clone()
    }

    /// Queues events for delivery, each room's in order.
    pub(crate) fn send(&self, events: Vec<WebhookEvent>) {
        let Some(_) = &self.inner.url else { return };
        for mut event in events {
            event.id = format!("EV_{}", random_id());
            let room = event
                .room
                .as_ref()
                .map(|r| r.name.clone())
                .unwrap_or_default();
            let index = {
                let mut log = self.inner.log.lock().expect("log");
                log.push(Delivery {
                    event_id: event.id.clone(),
                    event: event.event.clone(),
                    room: room.clone(),
                    attempts: Vec::new(),
                    outcome: Outcome::Pending,
                });
                log.len() - 1
            };
            // Faults apply to the next N events queued, so a test that sets
            // them before acting knows which events they hit.
            let (drop, duplicate, reorder, delay) = {
                let mut f = self.inner.faults.lock().expect("faults");
                let drop = take(&mut f.drop_webhooks);
                let duplicate = !drop && take(&mut f.duplicate_webhooks);
                let reorder = !drop && take(&mut f.reorder_webhooks);
                (
                    drop,
                    duplicate,
                    reorder,
                    Duration::from_millis(f.webhook_delay_ms),
                )
            };
            if drop {
                set_outcome(&self.inner, index, Outcome::Dropped);
                continue;
            }
            let mut queues = self.inner.queues.lock().expect("queues");
            let queue = queues.entry(room).or_insert_with(|| {
                let (tx, rx) = mpsc::unbounded_channel();
                tokio::spawn(deliver_room(self.inner.clone(), rx));
                tx
            });
            let _ = queue.send(Envelope {
                event,
                index,
                duplicate,
                reorder,
                delay,
            });
        }
    }
}

fn random_id() -> String {
    use rand::distr::{Alphanumeric, SampleString as _};
    Alphanumeric.sample_string(&mut rand::rng(), 12)
}

fn set_outcome(inner: &Inner, index: usize, outcome: Outcome) {
    inner.log.lock().expect("log")[index].outcome = outcome;
}

/// Delivers one room's events, one at a time, in order.
async fn deliver_room(inner: Arc<Inner>, mut rx: mpsc::UnboundedReceiver<Envelope>) {
    while let Some(envelope) = rx.recv().await {
        if envelope.reorder {
            // Let the next event of this room go first, if one comes soon.
            if let Ok(Some(next)) =
                tokio::time::timeout(inner.timing.reorder_window, rx.recv()).await
            {
                deliver_envelope(&inner, &next).await;
                deliver_envelope(&inner, &envelope).await;
                continue;
            }
        }
        deliver_envelope(&inner, &envelope).await;
    }
}

async fn deliver_envelope(inner: &Inner, envelope: &Envelope) {
    deliver(inner, envelope, envelope.delay).await;
    if envelope.duplicate {
        deliver(inner, envelope, Duration::ZERO).await;
    }
}

fn take(counter: &mut u32) -> bool {
    if *counter > 0 {
        *counter -= 1;
        true
    } else {
        false
    }
}

/// The body and headers of one webhook, as LiveKit builds them.
pub(crate) fn sign(event: &WebhookEvent, api_key: &str, api_secret: &str) -> (Vec<u8>, String) {
    let body = serde_json::to_vec(event).expect("a WebhookEvent serializes");
    let sha = STANDARD.encode(Sha256::digest(&body));
    let token = AccessToken::with_api_key(api_key, api_secret)
        .with_ttl(Duration::from_secs(5 * 60))
        .with_sha256(&sha)
        .to_jwt()
        .expect("stand-in credentials are set");
    (body, token)
}

async fn deliver(inner: &Inner, envelope: &Envelope, delay: Duration) {
    let Some(url) = &inner.url else { return };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let created = UNIX_EPOCH + Duration::from_secs(envelope.event.created_at.max(0) as u64);
    let mut wait = inner.timing.retry_base;
    for attempt in 1..=MAX_ATTEMPTS {
        if SystemTime::now()
            .duration_since(created)
            .unwrap_or_default()
            > inner.timing.max_age
        {
            set_outcome(inner, envelope.index, Outcome::Stale);
            return;
        }
        // Signed per attempt, as LiveKit does, so the token is fresh.
        let (body, token) = sign(&envelope.event, &inner.api_key, &inner.api_secret);
        let result = inner
            .client
            .post(url)
            .header("Content-Type", "application/webhook+json")
            .header("Authorization", token)
            .body(body)
            .send()
            .await;
        let status = result.as_ref().map_or(0, |r| r.status().as_u16());
        inner.log.lock().expect("log")[envelope.index]
            .attempts
            .push(status);
        match status {
            200..=299 => {
                set_outcome(inner, envelope.index, Outcome::Delivered);
                return;
            }
            0 | 429 | 500..=599 => {}
            _ => {
                set_outcome(inner, envelope.index, Outcome::Rejected);
                return;
            }
        }
        if attempt < MAX_ATTEMPTS {
            tokio::time::sleep(wait).await;
            wait *= 2;
        }
    }
    set_outcome(inner, envelope.index, Outcome::GaveUp);
}
