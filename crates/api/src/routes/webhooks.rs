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
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use estrade_core::domain::InboxStatus;
use estrade_core::webhook::{Envelope, ListedEvent};
use estrade_livekit::WebhookError;
use serde::{Deserialize, Serialize};
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
    Signed(body): Signed,
) -> Result<Json<Received>, Error> {
    let envelope = Envelope::parse(&body).map_err(|why| {
        metrics::counter!("webhooks_rejected_total", "reason" => "invalid_payload").increment(1);
        Error::Malformed(format!("Signed, but not a LiveKit webhook event: {why}."))
    })?;
    let stored = estrade_app::webhooks::accept(&state.deps, envelope).await?;
    let status = if stored { "stored" } else { "duplicate" };
    metrics::counter!("webhooks_received_total", "outcome" => status).increment(1);
    Ok(Json(Received { status }))
}

/// A body LiveKit signed: the token is checked first, so a request that
/// cannot be LiveKit's is refused before its body (up to 1 MiB) is read,
/// then the body's hash.
pub struct Signed(Bytes);

impl FromRequest<AppState> for Signed {
    type Rejection = Error;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Error> {
        let authorization = request
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let signed = state
            .webhooks
            .check_token(authorization)
            .map_err(|e| refused(&e))?;
        let body =
            Bytes::from_request(request, state)
                .await
                .map_err(|rejection| match rejection.status() {
                    StatusCode::PAYLOAD_TOO_LARGE => Error::PayloadTooLarge,
                    _ => Error::Malformed(rejection.body_text()),
                })?;
        signed.check(&body).map_err(|e| refused(&e))?;
        Ok(Self(body))
    }
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

impl ListQuery {
    /// The status (dead letters by default), the time to list before, and
    /// how many.
    fn parsed(&self) -> Result<(InboxStatus, Option<DateTime<Utc>>, i64), Error> {
        let status = match self.status.as_deref() {
            None => InboxStatus::Failed,
            Some(status) => status.parse().map_err(|_| {
                Error::invalid(
                    "invalid_query",
                    "status must be failed, pending or processed.",
                )
            })?,
        };
        let limit = crate::extract::page_limit(self.limit.as_deref(), 100)?;
        let before = match self.before.as_deref() {
            None => None,
            Some(b) => Some(
                DateTime::parse_from_rfc3339(b)
                    .map_err(|_| {
                        Error::invalid("invalid_query", "before must be an RFC 3339 time.")
                    })?
                    .with_timezone(&Utc),
            ),
        };
        Ok((status, before, limit))
    }
}

/// A page of stored events.
#[derive(Debug, Serialize, ToSchema)]
pub struct StoredEvents {
    /// Newest first.
    pub events: Vec<ListedEvent>,
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
    let (status, before, limit) = query.parsed()?;
    let events = estrade_db::webhooks::list(&state.deps.db, status, before, limit).await?;
    Ok(Json(StoredEvents { events }))
}

/// The outcome of a replay.
#[derive(Debug, Serialize, ToSchema)]
pub struct Replayed {
    /// The event.
    pub event_id: String,
    /// Its status before the replay (`failed` or `pending`).
    pub previous_status: InboxStatus,
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
    let previous = estrade_app::webhooks::replay(&state.deps, &admin, &event_id).await?;
    Ok(Json(Replayed {
        event_id,
        previous_status: previous,
        status: "pending",
    }))
}
