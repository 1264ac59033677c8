//! The scripting API (`/stub/…`): lets a test act as LiveKit clients
//! (connect with a token we minted, publish, leave), read the whole state,
//! and switch faults. It is the stand-in's own; LiveKit has no such thing.
//! Errors use the Twirp error body.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use livekit_protocol::TrackSource;
use serde::Deserialize;

use crate::{Faults, Shared, TwirpError};

pub(crate) fn router() -> Router<Shared> {
    Router::new()
        .route("/stub/participants", post(connect))
        .route(
            "/stub/rooms/{room}/participants/{identity}",
            delete(disconnect),
        )
        .route(
            "/stub/rooms/{room}/participants/{identity}/tracks",
            post(publish),
        )
        .route(
            "/stub/rooms/{room}/participants/{identity}/tracks/{sid}",
            delete(unpublish),
        )
        .route("/stub/state", get(state))
        .route("/stub/faults", put(set_faults).get(get_faults))
        .route("/stub/webhooks", get(deliveries))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Connect {
    token: String,
}

async fn connect(State(shared): State<Shared>, Json(req): Json<Connect>) -> Response {
    match shared.connect(&req.token) {
        Ok(info) => (StatusCode::CREATED, Json(info)).into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
struct Leave {
    #[serde(default)]
    aborted: bool,
}

async fn disconnect(
    State(shared): State<Shared>,
    Path((room, identity)): Path<(String, String)>,
    Query(leave): Query<Leave>,
) -> Response {
    match shared.disconnect(&room, &identity, leave.aborted) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Publish {
    /// `microphone`, `camera`, `screen_share`, `screen_share_audio`.
    source: String,
    #[serde(default)]
    name: Option<String>,
}

async fn publish(
    State(shared): State<Shared>,
    Path((room, identity)): Path<(String, String)>,
    Json(req): Json<Publish>,
) -> Response {
    let Some(source) = TrackSource::from_str_name(&req.source.to_ascii_uppercase()) else {
        return TwirpError::new(
            "invalid_argument",
            format!("unknown source {:?}", req.source),
        )
        .into_response();
    };
    let name = req.name.unwrap_or_else(|| req.source.clone());
    match shared.publish(&room, &identity, source, &name) {
        Ok(track) => (StatusCode::CREATED, Json(track)).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn unpublish(
    State(shared): State<Shared>,
    Path((room, identity, sid)): Path<(String, String, String)>,
) -> Response {
    match shared.unpublish(&room, &identity, &sid) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

async fn state(State(shared): State<Shared>) -> Response {
    Json(serde_json::json!({ "rooms": shared.snapshot() })).into_response()
}

async fn set_faults(State(shared): State<Shared>, Json(faults): Json<Faults>) -> Response {
    *shared.faults.lock().expect("faults") = faults.clone();
    Json(faults).into_response()
}

async fn get_faults(State(shared): State<Shared>) -> Response {
    Json(shared.faults.lock().expect("faults").clone()).into_response()
}

async fn deliveries(State(shared): State<Shared>) -> Response {
    Json(shared.webhooks.deliveries()).into_response()
}
