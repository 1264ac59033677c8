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
use axum::extract::{DefaultBodyLimit, State};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::routing::post;
use chrono::{DateTime, Utc};
use estrade_db::webhooks::InboxEvent;
use estrade_livekit::WebhookError;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::AppState;
use crate::error::{Error, ErrorBody};
use crate::extract::Json;

/// LiveKit's events are a few kilobytes; a room's worth of participant
/// data stays far below this.
const BODY_LIMIT: usize = 1024 * 1024;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route(
        "/webhooks/livekit",
        post(receive).layer(DefaultBodyLimit::max(BODY_LIMIT)),
    )
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
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Received>, Error> {
    let authorization = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    state
        .webhooks
        .authenticate(authorization, &body)
        .map_err(|e| refused(&e))?;
    let invalid = |why: &str| {
        metrics::counter!("webhooks_rejected_total", "reason" => "invalid_payload").increment(1);
        Error::Malformed(format!("Signed, but not a LiveKit webhook event: {why}."))
    };
    let payload: Value = serde_json::from_slice(&body).map_err(|_| invalid("not JSON"))?;
    let event_id = payload["id"]
        .as_str()
        .filter(|id| !id.is_empty() && id.len() <= 128)
        .ok_or_else(|| invalid("no event id"))?;
    let event_type = payload["event"]
        .as_str()
        .filter(|e| !e.is_empty())
        .ok_or_else(|| invalid("no event name"))?;
    // protojson writes int64 as a string; accept a number too.
    let created_at = match &payload["createdAt"] {
        Value::String(s) => s.parse::<i64>().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
    .and_then(|secs| DateTime::<Utc>::from_timestamp(secs, 0));
    let event = InboxEvent {
        event_id,
        event_type,
        room_name: payload["room"]["name"].as_str(),
        created_at,
        payload: &payload,
    };
    let stored = estrade_db::webhooks::insert(&state.db, &event).await?;
    metrics::counter!("webhooks_received_total", "outcome" => if stored { "stored" } else { "duplicate" }).increment(1);
    Ok(Json(Received {
        status: if stored { "stored" } else { "duplicate" },
    }))
}
