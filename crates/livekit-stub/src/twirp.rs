//! LiveKit's `RoomService` over Twirp: content negotiation (protobuf or
//! JSON), Twirp error bodies, and LiveKit's per-method grant checks.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use livekit_api::access_token::Claims;
use livekit_protocol as proto;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;

use crate::Shared;

/// A Twirp error: `{"code": …, "msg": …}` with the matching HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwirpError {
    code: &'static str,
    msg: String,
}

impl TwirpError {
    /// An error with a Twirp code and a message.
    pub fn new(code: &'static str, msg: impl Into<String>) -> Self {
        Self {
            code,
            msg: msg.into(),
        }
    }

    /// The Twirp error code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The HTTP status Twirp pairs with the code.
    pub fn status(&self) -> StatusCode {
        // The table in the Twirp specification (v7), "Error codes".
        match self.code {
            "canceled" => StatusCode::REQUEST_TIMEOUT,
            "invalid_argument" | "malformed" | "out_of_range" => StatusCode::BAD_REQUEST,
            "deadline_exceeded" => StatusCode::REQUEST_TIMEOUT,
            "not_found" | "bad_route" => StatusCode::NOT_FOUND,
            "already_exists" | "aborted" => StatusCode::CONFLICT,
            "permission_denied" => StatusCode::FORBIDDEN,
            "unauthenticated" => StatusCode::UNAUTHORIZED,
            "resource_exhausted" => StatusCode::TOO_MANY_REQUESTS,
            "failed_precondition" => StatusCode::PRECONDITION_FAILED,
            "unimplemented" => StatusCode::NOT_IMPLEMENTED,
            "unavailable" => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for TwirpError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "code": self.code, "msg": self.msg });
        (
            self.status(),
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response()
    }
}

/// The body encoding a request chose; the response uses the same.
#[derive(Debug, Clone, Copy)]
enum Format {
    Protobuf,
    Json,
}

impl Format {
    fn of(headers: &HeaderMap) -> Result<Self, TwirpError> {
        let ct = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mime = ct.split(';').next().unwrap_or("").trim();
        match mime {
            "application/protobuf" => Ok(Self::Protobuf),
            "application/json" => Ok(Self::Json),
            other => Err(TwirpError::new(
                "bad_route",
                format!("unexpected Content-Type: {other:?}"),
            )),
        }
    }

    fn decode<T: prost::Message + Default + DeserializeOwned>(
        self,
        body: &[u8],
    ) -> Result<T, TwirpError> {
        match self {
            Self::Protobuf => {
                T::decode(body).map_err(|e| TwirpError::new("malformed", format!("protobuf: {e}")))
            }
            Self::Json => serde_json::from_slice(body)
                .map_err(|e| TwirpError::new("malformed", format!("json: {e}"))),
        }
    }

    fn encode<T: prost::Message + Serialize>(self, msg: &T) -> Response {
        match self {
            Self::Protobuf => (
                [(header::CONTENT_TYPE, "application/protobuf")],
                msg.encode_to_vec(),
            )
                .into_response(),
            Self::Json => match serde_json::to_vec(msg) {
                Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
                Err(e) => TwirpError::new("internal", e.to_string()).into_response(),
            },
        }
    }
}

/// What a method needs from the caller's token.
enum Needs<'a> {
    Create,
    List,
    Admin(&'a str),
}

/// A request refused before it reaches the service: LiveKit answers a bad
/// token with a plain-text 401 (not a Twirp body), and a missing token or
/// grant with Twirp `permission_denied`.
enum Refusal {
    InvalidToken,
    Twirp(TwirpError),
}

impl From<TwirpError> for Refusal {
    fn from(e: TwirpError) -> Self {
        Self::Twirp(e)
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Self::InvalidToken => (
                StatusCode::UNAUTHORIZED,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                "invalid token",
            )
                .into_response(),
            Self::Twirp(e) => e.into_response(),
        }
    }
}

fn authorize(shared: &Shared, headers: &HeaderMap, needs: Needs<'_>) -> Result<Claims, Refusal> {
    let denied = || Refusal::Twirp(TwirpError::new("permission_denied", "permissions denied"));
    let raw = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(denied)?;
    let claims = shared
        .verifier
        .verify(raw)
        .map_err(|_| Refusal::InvalidToken)?;
    let v = &claims.video;
    let allowed = match needs {
        Needs::Create => v.room_create,
        Needs::List => v.room_list,
        Needs::Admin(room) => v.room_admin && v.room == room,
    };
    if allowed { Ok(claims) } else { Err(denied()) }
}

/// `POST /twirp/livekit.RoomService/{method}`.
pub(crate) async fn room_service(
    State(shared): State<Shared>,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let received = std::time::Instant::now();
    let (latency, fail) = {
        let mut faults = shared.faults.lock().expect("faults");
        let fail = faults.fail_next_twirp > 0;
        if fail {
            faults.fail_next_twirp -= 1;
        }
        (Duration::from_millis(faults.latency_ms), fail)
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if method == "UpdateParticipant" && take_grant_hold(&shared, &headers, &body) {
        use std::sync::atomic::Ordering;
        let hold = &shared.grant_hold;
        hold.held.fetch_add(1, Ordering::SeqCst);
        hold.release.notified().await;
        hold.held.fetch_sub(1, Ordering::SeqCst);
    }
    if fail {
        return TwirpError::new("unavailable", "injected fault").into_response();
    }
    match dispatch(&shared, &method, &headers, &body, received) {
        Ok(response) => response,
        Err(refusal) => refusal.into_response(),
    }
}

/// Whether [`crate::Faults::hold_next_grant`] holds this call (one that
/// lets a participant publish); the fault is then spent.
fn take_grant_hold(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> bool {
    let mut faults = shared.faults.lock().expect("faults");
    if !faults.hold_next_grant {
        return false;
    }
    let grants = Format::of(headers)
        .ok()
        .and_then(|f| f.decode::<proto::UpdateParticipantRequest>(body).ok())
        .is_some_and(|req| req.permission.is_some_and(|p| p.can_publish));
    if grants {
        faults.hold_next_grant = false;
    }
    grants
}

fn dispatch(
    shared: &Shared,
    method: &str,
    headers: &HeaderMap,
    body: &[u8],
    received: std::time::Instant,
) -> Result<Response, Refusal> {
    let format = Format::of(headers)?;
    // Decode first (a malformed body is `malformed` whatever the token),
    // then check the grant the method needs, then act.
    let mut world = shared.world.lock().expect("stub state");
    let (response, events) = match method {
        "CreateRoom" => {
            let req: proto::CreateRoomRequest = format.decode(body)?;
            authorize(shared, headers, Needs::Create)?;
            let (room, events) = world.create_room(req)?;
            (format.encode(&room), events)
        }
        "ListRooms" => {
            let req: proto::ListRoomsRequest = format.decode(body)?;
            authorize(shared, headers, Needs::List)?;
            let rooms = world.list_rooms(&req.names);
            (
                format.encode(&proto::ListRoomsResponse { rooms }),
                Vec::new(),
            )
        }
        "DeleteRoom" => {
            let req: proto::DeleteRoomRequest = format.decode(body)?;
            authorize(shared, headers, Needs::Create)?;
            let events = world.delete_room(&req.room)?;
            (format.encode(&proto::DeleteRoomResponse {}), events)
        }
        "ListParticipants" => {
            let req: proto::ListParticipantsRequest = format.decode(body)?;
            authorize(shared, headers, Needs::Admin(&req.room))?;
            let participants = world.list_participants(&req.room);
            (
                format.encode(&proto::ListParticipantsResponse { participants }),
                Vec::new(),
            )
        }
        "GetParticipant" => {
            let req: proto::RoomParticipantIdentity = format.decode(body)?;
            authorize(shared, headers, Needs::Admin(&req.room))?;
            (
                format.encode(&world.get_participant(&req.room, &req.identity)?),
                Vec::new(),
            )
        }
        "RemoveParticipant" => {
            let req: proto::RoomParticipantIdentity = format.decode(body)?;
            authorize(shared, headers, Needs::Admin(&req.room))?;
            let events = world.remove_participant(&req)?;
            (format.encode(&proto::RemoveParticipantResponse {}), events)
        }
        "MutePublishedTrack" => {
            let req: proto::MuteRoomTrackRequest = format.decode(body)?;
            authorize(shared, headers, Needs::Admin(&req.room))?;
            let track = world.mute_track(&req)?;
            (
                format.encode(&proto::MuteRoomTrackResponse { track: Some(track) }),
                Vec::new(),
            )
        }
        "UpdateParticipant" => {
            let req: proto::UpdateParticipantRequest = format.decode(body)?;
            authorize(shared, headers, Needs::Admin(&req.room))?;
            if let (Some(log), Some(permission)) = (&shared.updates, &req.permission) {
                log.lock().expect("updates").push(crate::PermissionUpdate {
                    identity: req.identity.clone(),
                    can_publish: permission.can_publish,
                    at: received,
                });
            }
            let (info, events) = world.update_participant(req)?;
            (format.encode(&info), events)
        }
        "UpdateRoomMetadata" => {
            let req: proto::UpdateRoomMetadataRequest = format.decode(body)?;
            authorize(shared, headers, Needs::Admin(&req.room))?;
            (format.encode(&world.update_room_metadata(req)?), Vec::new())
        }
        "SendData" => {
            let req: proto::SendDataRequest = format.decode(body)?;
            authorize(shared, headers, Needs::Admin(&req.room))?;
            world.send_data(req)?;
            (format.encode(&proto::SendDataResponse {}), Vec::new())
        }
        _ => {
            return Err(TwirpError::new(
                "bad_route",
                format!("no handler for RoomService/{method}"),
            )
            .into());
        }
    };
    // Queued under the state lock, so webhooks leave in the order the
    // changes were made.
    shared.webhooks.send(events);
    drop(world);
    Ok(response)
}
