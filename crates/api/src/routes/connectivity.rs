//! `GET /v1/connectivity`: what a browser should try to reach the media
//! server from a network that lets only 443/tcp out, with short-lived TURN
//! credentials (coturn's shared-secret scheme, `estrade_core::turn`), so the
//! web client and IT staff can run a relay-only preflight.

use std::time::SystemTime;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret as _;
use serde::Serialize;
use utoipa::ToSchema;

use estrade_core::config::TurnConfig;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{Error, ErrorBody};
use crate::extract::Json;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/v1/connectivity", get(connectivity))
}

/// One entry of `RTCConfiguration.iceServers`.
#[derive(Debug, Serialize, ToSchema)]
pub struct IceServer {
    /// `turns:turn.example.org:443?transport=tcp`, …
    pub urls: Vec<String>,
    /// `expiry:identity`.
    pub username: String,
    /// The TURN password.
    pub credential: String,
}

/// How to reach the media server.
#[derive(Debug, Serialize, ToSchema)]
pub struct Connectivity {
    /// LiveKit's URL (signalling over WebSocket on 443).
    pub livekit_url: String,
    /// Whether the deployment has a TURN relay. Without one, a network
    /// that lets only 443/tcp out cannot carry the class's media, and there
    /// is nothing to preflight.
    pub relay_configured: bool,
    /// TURN relays with credentials; empty when the deployment has none.
    pub ice_servers: Vec<IceServer>,
    /// `relay` when there is a relay: a preflight with only these servers
    /// proves the relay path; `all` otherwise.
    #[schema(example = "relay")]
    pub ice_transport_policy: &'static str,
    /// When the credentials stop working.
    pub expires_at: Option<DateTime<Utc>>,
}

/// ICE servers and short-lived TURN credentials for a relay-only preflight
/// (a participant or a staff credential).
#[utoipa::path(get, path = "/v1/connectivity", tag = "participants",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Connectivity),
        (status = 410, description = "`session_ended`: a participant token of a session that has ended", body = ErrorBody), (status = 401, body = ErrorBody),
    ))]
pub async fn connectivity(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Connectivity>, Error> {
    let livekit_url = state.settings.livekit_url.clone();
    let Some(turn) = &state.settings.turn else {
        return Ok(Json(Connectivity::direct(livekit_url)));
    };
    let identity = match &caller {
        Caller::Participant(p) => {
            estrade_db::participants::get(&state.deps.db, p.participant_id)
                .await?
                .ok_or(Error::NotFound)?
                .identity
        }
        Caller::Account(a) => format!("staff-{}", a.id),
    };
    Ok(Json(Connectivity::relayed(livekit_url, turn, &identity)))
}

impl Connectivity {
    /// No relay configured: clients connect as they can.
    fn direct(livekit_url: String) -> Self {
        Self {
            livekit_url,
            relay_configured: false,
            ice_servers: Vec::new(),
            ice_transport_policy: "all",
            expires_at: None,
        }
    }

    /// Through `turn` only, with a short-lived credential for `identity`.
    fn relayed(livekit_url: String, turn: &TurnConfig, identity: &str) -> Self {
        let credential = estrade_core::turn::credential(
            turn.secret.expose_secret().as_bytes(),
            identity,
            SystemTime::now(),
            turn.ttl,
        );
        Self {
            livekit_url,
            relay_configured: true,
            ice_servers: vec![IceServer {
                urls: turn.urls.clone(),
                username: credential.username,
                credential: credential.password,
            }],
            ice_transport_policy: "relay",
            expires_at: Some(credential.expires_at.into()),
        }
    }
}
