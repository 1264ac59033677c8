//! Webhooks to the LMS, for admins (docs/OUTBOUND.md): endpoints
//! registered, listed and removed; each endpoint's delivery log, and a
//! delivery sent again. Each handler hands one call to
//! `estrade_app::outbound`.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use estrade_core::domain::DeliveryStatus;
use estrade_core::outbound::Event;
use secrecy::ExposeSecret as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::auth::Admin;
use crate::error::{Error, ErrorBody};
use crate::extract::Json;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/webhook-endpoints", get(list).post(register))
        .route("/v1/admin/webhook-endpoints/{id}", get(show).delete(remove))
        .route("/v1/admin/webhook-endpoints/{id}/deliveries", get(log))
        .route(
            "/v1/admin/webhook-endpoints/{id}/deliveries/{delivery_id}/retry",
            post(retry),
        )
}

/// An endpoint to register.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEndpoint {
    /// Where deliveries are posted: an `http` or `https` URL with a host
    /// name (ASCII; punycode for others) or an IPv4 address, an optional
    /// port, path and query; no user name, password or fragment; at most
    /// 2,048 characters (the pattern). An address in it, or any address its host name
    /// resolves to when a delivery is sent, must not be loopback,
    /// link-local, private or otherwise reserved, unless the deployment
    /// allows its range (`ESTRADE_OUTBOUND_ALLOWED_RANGES`).
    #[schema(min_length = 1, max_length = 2048)]
    pub url: String,
    /// What it is told of: 1–4 distinct events.
    #[schema(min_items = 1, max_items = 4, value_type = Vec<Event>)]
    pub events: Vec<String>,
    /// A note for IT (which LMS, who to call): at most 200 characters on
    /// one line.
    #[serde(default)]
    #[schema(max_length = 200, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub description: String,
}

/// A registered endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEndpoint {
    /// Its id.
    pub id: Uuid,
    /// Where deliveries are posted.
    pub url: String,
    /// What it is told of.
    pub events: Vec<Event>,
    /// The note for IT.
    pub description: String,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// Deliveries waiting for an attempt (or in one).
    pub pending: i64,
    /// Deliveries it took.
    pub delivered: i64,
    /// Deliveries given up on after the retry window.
    pub failed: i64,
}

/// A new endpoint, with the secret its deliveries are signed with.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegisteredEndpoint {
    /// The endpoint.
    #[serde(flatten)]
    pub endpoint: WebhookEndpoint,
    /// The signing secret, `whsec_` and 32 bytes in base64 (Standard
    /// Webhooks): shown this once, never again.
    pub secret: String,
}

/// Every endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointList {
    /// Oldest first.
    pub endpoints: Vec<WebhookEndpoint>,
}

impl From<estrade_db::outbound::Endpoint> for WebhookEndpoint {
    fn from(e: estrade_db::outbound::Endpoint) -> Self {
        Self {
            id: e.id,
            url: e.url,
            events: e.events.iter().filter_map(|n| Event::parse(n)).collect(),
            description: e.description,
            created_at: e.created_at,
            pending: e.pending,
            delivered: e.delivered,
            failed: e.failed,
        }
    }
}

/// Register an endpoint (admins). Its secret is in the answer only.
/// Audited (`webhook_endpoint.registered`).
#[utoipa::path(post, path = "/v1/admin/webhook-endpoints", tag = "admin", security(("bearer" = [])),
    request_body = NewEndpoint,
    responses((status = 201, body = RegisteredEndpoint),
        (status = 401, body = ErrorBody), (status = 403, description = "not an admin", body = ErrorBody),
        (status = 422, description = "`invalid_url`, `refused_destination` (an address the guard refuses), `invalid_events`, `invalid_description`", body = ErrorBody)))]
pub async fn register(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Json(req): Json<NewEndpoint>,
) -> Result<(StatusCode, Json<RegisteredEndpoint>), Error> {
    let registered = estrade_app::outbound::register(
        &state.deps,
        &caller,
        &req.url,
        &req.events,
        &req.description,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(RegisteredEndpoint {
            endpoint: registered.endpoint.into(),
            secret: registered.secret.expose_secret().to_owned(),
        }),
    ))
}

/// Every endpoint, with its deliveries counted (admins).
#[utoipa::path(get, path = "/v1/admin/webhook-endpoints", tag = "admin", security(("bearer" = [])),
    operation_id = "list_webhook_endpoints",
    responses((status = 200, body = EndpointList),
        (status = 401, body = ErrorBody), (status = 403, description = "not an admin", body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Admin(caller): Admin,
) -> Result<Json<EndpointList>, Error> {
    let endpoints = estrade_app::outbound::list(&state.deps, &caller).await?;
    Ok(Json(EndpointList {
        endpoints: endpoints.into_iter().map(Into::into).collect(),
    }))
}

/// One endpoint, with its deliveries counted (admins).
#[utoipa::path(get, path = "/v1/admin/webhook-endpoints/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Endpoint id")),
    responses((status = 200, body = WebhookEndpoint), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, description = "not an admin", body = ErrorBody)))]
pub async fn show(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<Uuid>,
) -> Result<Json<WebhookEndpoint>, Error> {
    let endpoint = estrade_app::outbound::get(&state.deps, &caller, id).await?;
    Ok(Json(endpoint.into()))
}

/// Remove an endpoint and its delivery log (admins): nothing more is
/// sent to it, pending deliveries included. Audited
/// (`webhook_endpoint.removed`).
#[utoipa::path(delete, path = "/v1/admin/webhook-endpoints/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Endpoint id")),
    responses((status = 204, description = "Removed"), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, description = "not an admin", body = ErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, Error> {
    estrade_app::outbound::remove(&state.deps, &caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Filters for an endpoint's delivery log (all optional).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// Only deliveries in this state.
    #[param(value_type = Option<DeliveryStatus>)]
    pub status: Option<String>,
    /// At most this many, 1–500 (default 100).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
}

/// One attempt at a delivery.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryAttempt {
    /// Its number, from 1 (an attempt a stopped worker never finished
    /// leaves a gap).
    pub attempt: i32,
    /// When it began.
    pub at: DateTime<Utc>,
    /// The receiver's HTTP status, when it answered.
    pub status_code: Option<i32>,
    /// Why it failed: `http_status` (not 2xx, redirects included),
    /// `refused_destination` (the guard), `unresolved`, `connect`,
    /// `timeout`, `tls`, `other`; null on success.
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: i32,
}

/// One delivery: an event for this endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookDelivery {
    /// Its id.
    pub id: Uuid,
    /// The `webhook-id` header of every attempt: receivers that saw it
    /// already ignore it.
    pub webhook_id: String,
    /// The event.
    pub event: Event,
    /// Pending, delivered or failed.
    pub status: DeliveryStatus,
    /// Attempts started.
    pub attempts: i32,
    /// When the change it tells of was committed.
    pub created_at: DateTime<Utc>,
    /// When the next attempt is due (pending only).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When it was delivered or given up on.
    pub finished_at: Option<DateTime<Utc>>,
    /// The body posted: `type`, `timestamp`, `data`.
    pub payload: Value,
    /// Its finished attempts, oldest first.
    pub log: Vec<DeliveryAttempt>,
}

/// An endpoint's latest deliveries.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryLog {
    /// Newest first.
    pub deliveries: Vec<WebhookDelivery>,
}

fn delivery(
    d: estrade_db::outbound::Delivery,
    log: Vec<estrade_db::outbound::Attempt>,
) -> WebhookDelivery {
    WebhookDelivery {
        webhook_id: estrade_core::outbound::message_id(d.id),
        id: d.id,
        event: d.event,
        status: d.status,
        attempts: d.attempts,
        created_at: d.created_at,
        next_attempt_at: d.next_attempt_at,
        finished_at: d.finished_at,
        payload: d.payload,
        log: log
            .into_iter()
            .map(|a| DeliveryAttempt {
                attempt: a.attempt,
                at: a.at,
                status_code: a.status_code,
                error: a.error,
                duration_ms: a.duration_ms,
            })
            .collect(),
    }
}

/// An endpoint's delivery log, newest first, each delivery with its
/// attempts (admins).
#[utoipa::path(get, path = "/v1/admin/webhook-endpoints/{id}/deliveries", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Endpoint id"), LogQuery),
    responses((status = 200, body = DeliveryLog), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, description = "not an admin", body = ErrorBody),
        (status = 422, description = "`invalid_query`", body = ErrorBody)))]
pub async fn log(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<Uuid>,
    Query(query): Query<LogQuery>,
) -> Result<Json<DeliveryLog>, Error> {
    let status = query
        .status
        .as_deref()
        .map(|s| {
            s.parse::<DeliveryStatus>().map_err(|_| {
                Error::invalid(
                    "invalid_query",
                    "status must be pending, delivered or failed.",
                )
            })
        })
        .transpose()?;
    let limit = crate::extract::page_limit(query.limit.as_deref(), 100)?;
    let log = estrade_app::outbound::log(&state.deps, &caller, id, status, limit).await?;
    Ok(Json(DeliveryLog {
        deliveries: log
            .deliveries
            .into_iter()
            .map(|(d, attempts)| delivery(d, attempts))
            .collect(),
    }))
}

/// Send a delivery again, now, with a fresh retry window and the same
/// `webhook-id` (admins): a failed one, or a delivered one the receiver
/// lost. Audited (`webhook_delivery.retried`).
#[utoipa::path(post, path = "/v1/admin/webhook-endpoints/{id}/deliveries/{delivery_id}/retry", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Endpoint id"), ("delivery_id" = Uuid, Path, description = "Delivery id")),
    responses((status = 202, description = "Due now; the worker sends it within a second", body = WebhookDelivery),
        (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, description = "not an admin", body = ErrorBody)))]
pub async fn retry(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path((id, delivery_id)): Path<(Uuid, Uuid)>,
) -> Result<(StatusCode, Json<WebhookDelivery>), Error> {
    let (d, attempts) = estrade_app::outbound::retry(&state.deps, &caller, id, delivery_id).await?;
    Ok((StatusCode::ACCEPTED, Json(delivery(d, attempts))))
}
