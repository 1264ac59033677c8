//! `POST /webhooks/livekit`: LiveKit's events, verified and stored.
//!
//! LiveKit retries a webhook only after a connection error, a 429 or a 5xx,
//! and never after another 4xx. So: a forged or tampered request gets 401
//! and nothing is stored; a verified event is stored in the inbox before
//! the 200; a verified event we could not store gets 503 (or 500), never a
//! 4xx, so LiveKit tries again. A redelivered event id is a no-op that still
//! answers 200. See docs/WEBHOOKS.md.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest as _, Request, State};
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use estrade_db::webhooks::InboxEvent;
use estrade_livekit::WebhookError;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::Admin;
use crate::error::{Error, ErrorBody};
use crate::extract::Json;

/// LiveKit's events are a few kilobytes; a room's worth of participant
/// data stays far below this.
const BODY_LIMIT: usize = 1024 * 1024;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/webhooks/livekit",
            post(receive).layer(DefaultBodyLimit::max(BODY_LIMIT)),
        )
        .route("/v1/admin/webhooks", get(list))
        .route("/v1/admin/webhooks/{event_id}/replay", post(replay))
}

/// What was done with the event.
#[derive(Debug, Serialize, ToSchema)]
pub struct Received {
    /// `stored`, or `duplicate` for an event id already stored.
    pub status: &'static str,
}

fn refused(reason: &WebhookError) -> Error {
    metrics::counter!("webhooks_rejected_total", "reason" => reason_label(reason)).increment(1);
    Error::Refused {
        code: "invalid_webhook",
        message: format!("Webhook refused: {reason}."),
    }
}

fn reason_label(reason: &WebhookError) -> &'static str {
    match reason {
        WebhookError::MissingAuthorization => "missing_authorization",
        WebhookError::MalformedToken => "malformed_token",
        WebhookError::BadSignature => "bad_signature",
        WebhookError::Expired => "expired",
        WebhookError::NotYetValid => "not_yet_valid",
        WebhookError::MissingClaim(_) => "missing_claim",
        WebhookError::WrongIssuer => "wrong_issuer",
        WebhookError::BodyMismatch => "body_mismatch",
        WebhookError::InvalidPayload(_) => "invalid_payload",
    }
}

/// Receive a LiveKit webhook: raw JWT in `Authorization` (no `Bearer`),
/// body `application/webhook+json`.
#[utoipa::path(post, path = "/webhooks/livekit", tag = "livekit",
    request_body(content = Object, content_type = "application/webhook+json"),
    responses(
        (status = 200, description = "verified and stored (or already stored)", body = Received),
        (status = 401, description = "`invalid_webhook`: unsigned, forged, expired or tampered; nothing stored", body = ErrorBody),
        (status = 400, description = "`invalid_payload`: signed, but not a webhook event; nothing stored", body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 503, description = "could not be stored; LiveKit retries", body = ErrorBody),
    ))]
pub async fn receive(
    State(state): State<AppState>,
    request: Request,
) -> Result<Json<Received>, Error> {
    // The token first: a request that cannot be LiveKit's is refused
    // before its body (up to 1 MiB) is read.
    let authorization = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let signed = state
        .webhooks
        .check_token(authorization)
        .map_err(|e| refused(&e))?;
    let body = Bytes::from_request(request, &state)
        .await
        .map_err(|rejection| match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => Error::PayloadTooLarge,
            _ => Error::Malformed(rejection.body_text()),
        })?;
    signed.check(&body).map_err(|e| refused(&e))?;
    let invalid = |why: &str| {
        metrics::counter!("webhooks_rejected_total", "reason" => "invalid_payload").increment(1);
        Error::Malformed(format!("Signed, but not a LiveKit webhook event: {why}."))
    };
    let mut payload: Value = serde_json::from_slice(&body).map_err(|_| invalid("not JSON"))?;
    // What the worker does not need and must not keep: the display name
    // (personal data, with its own retention) and client-set metadata.
    if let Some(p) = payload
        .get_mut("participant")
        .and_then(Value::as_object_mut)
    {
        for field in ["name", "metadata", "attributes"] {
            p.remove(field);
        }
    }
    let event_id = payload["id"]
        .as_str()
        .filter(|id| !id.is_empty() && id.len() <= 128)
        .ok_or_else(|| invalid("no event id"))?
        .to_owned();
    let event_type = payload["event"]
        .as_str()
        .filter(|e| !e.is_empty())
        .ok_or_else(|| invalid("no event name"))?
        .to_owned();
    // protojson writes int64 as a string; accept a number too.
    let created_at = match &payload["createdAt"] {
        Value::String(s) => s.parse::<i64>().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
    .and_then(|secs| DateTime::<Utc>::from_timestamp(secs, 0));
    let event = InboxEvent {
        event_id: &event_id,
        event_type: &event_type,
        room_name: payload["room"]["name"].as_str(),
        created_at,
        payload: &payload,
    };
    let stored = estrade_db::webhooks::insert(&state.db, &event).await?;
    if stored {
        enqueue(&state, &event_id);
    }
    metrics::counter!("webhooks_received_total", "outcome" => if stored { "stored" } else { "duplicate" }).increment(1);
    Ok(Json(Received {
        status: if stored { "stored" } else { "duplicate" },
    }))
}

/// Queues a stored event for the worker without making LiveKit wait: the
/// event is already durable, and if Redis is slow, down or the push fails,
/// the worker's sweeper queues it from the inbox a few seconds later.
fn enqueue(state: &AppState, event_id: &str) {
    let Ok(slot) = state.enqueue_slots.clone().try_acquire_owned() else {
        metrics::counter!("webhooks_enqueue_skipped_total").increment(1);
        return;
    };
    let queue = state.queue.clone();
    let event_id = event_id.to_owned();
    tokio::spawn(async move {
        let _slot = slot;
        if let Err(error) = queue.push_new(&event_id).await {
            metrics::counter!("webhooks_enqueue_failed_total").increment(1);
            tracing::warn!(event.id = %event_id, %error, "webhook stored but not queued; the sweeper will");
        }
    });
}

/// Filters for `GET /v1/admin/webhooks` (all optional).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `failed` (dead letters, the default), `pending` or `processed`.
    #[param(pattern = "^(failed|pending|processed)$")]
    pub status: Option<String>,
    /// At most this many, 1–500 (default 100).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    /// Only events received before this time (RFC 3339): the next page
    /// starts at the last `received_at` of this one.
    #[param(value_type = Option<DateTime<Utc>>)]
    pub before: Option<String>,
}

/// A stored webhook event, without its payload (which may hold names).
#[derive(Debug, Serialize, ToSchema)]
pub struct StoredEvent {
    /// LiveKit's event id.
    pub event_id: String,
    /// `participant_joined`, …
    pub event_type: String,
    /// The room it concerns.
    pub room_name: Option<String>,
    /// `pending`, `processed` or `failed`.
    pub status: String,
    /// Failed attempts so far.
    pub attempts: i32,
    /// The last failure.
    pub last_error: Option<String>,
    /// When it was stored.
    pub received_at: DateTime<Utc>,
    /// When the next attempt is due (pending events).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When it was applied.
    pub processed_at: Option<DateTime<Utc>>,
}

/// A page of stored events.
#[derive(Debug, Serialize, ToSchema)]
pub struct StoredEvents {
    /// Newest first.
    pub events: Vec<StoredEvent>,
}

/// Stored webhook events by status: dead letters by default.
#[utoipa::path(get, path = "/v1/admin/webhooks", tag = "admin", params(ListQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, body = StoredEvents),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, description = "`invalid_query`", body = ErrorBody),
    ))]
pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    Query(query): Query<ListQuery>,
) -> Result<Json<StoredEvents>, Error> {
    let status = query.status.as_deref().unwrap_or("failed");
    if !["failed", "pending", "processed"].contains(&status) {
        return Err(Error::invalid(
            "invalid_query",
            "status must be failed, pending or processed.",
        ));
    }
    let limit = crate::extract::page_limit(query.limit.as_deref(), 100)?;
    let before = match query.before.as_deref() {
        None => None,
        Some(b) => Some(
            DateTime::parse_from_rfc3339(b)
                .map_err(|_| Error::invalid("invalid_query", "before must be an RFC 3339 time."))?
                .with_timezone(&Utc),
        ),
    };
    let rows = estrade_db::webhooks::list(&state.db, status, before, limit).await?;
    let events = rows
        .into_iter()
        .map(|r| StoredEvent {
            next_attempt_at: (r.status == "pending").then_some(r.next_attempt_at),
            event_id: r.event_id,
            event_type: r.event_type,
            room_name: r.room_name,
            status: r.status,
            attempts: r.attempts,
            last_error: r.last_error,
            received_at: r.received_at,
            processed_at: r.processed_at,
        })
        .collect();
    Ok(Json(StoredEvents { events }))
}

/// The outcome of a replay.
#[derive(Debug, Serialize, ToSchema)]
pub struct Replayed {
    /// The event.
    pub event_id: String,
    /// Its status before the replay (`failed` or `pending`).
    pub previous_status: String,
    /// Now `pending`, queued for the worker.
    pub status: &'static str,
}

/// Makes a dead letter pending again, with a fresh attempt count, and
/// queues it. An event already applied is not applied twice (409).
#[utoipa::path(post, path = "/v1/admin/webhooks/{event_id}/replay", tag = "admin",
    params(("event_id" = String, Path, description = "LiveKit's event id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Replayed),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "`already_processed`", body = ErrorBody),
    ))]
pub async fn replay(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(event_id): Path<String>,
) -> Result<Json<Replayed>, Error> {
    let mut tx = state.db.begin().await?;
    let previous = estrade_db::webhooks::replay(&mut *tx, &event_id)
        .await?
        .ok_or(Error::NotFound)?;
    if previous == "processed" {
        return Err(Error::conflict(
            "already_processed",
            "This event was applied already; it is not applied twice.",
        ));
    }
    let entry = estrade_db::audit::Entry {
        actor: admin.actor(),
        action: "webhook.replayed",
        session_id: None,
        target_id: None,
        details: serde_json::json!({ "event_id": event_id, "previous_status": previous }),
    };
    estrade_db::audit::record(&mut tx, entry).await?;
    tx.commit().await?;
    // If the push fails the sweeper queues it: it is pending in the inbox.
    if let Err(error) = state.queue.push_again(&event_id).await {
        tracing::warn!(%error, "replayed webhook not queued; the sweeper will");
    }
    Ok(Json(Replayed {
        event_id,
        previous_status: previous,
        status: "pending",
    }))
}
