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

use crate::Shared;

/// A Twirp error: `{"code": …, "msg": …}` with the matching HTTP status.
#[derive(Debug)]
pub(crate) struct TwirpError {
    code: &'static str,
    msg: String,
}

impl TwirpError {
    pub(crate) fn new(code: &'static str, msg: impl Into<String>) -> Self {
        Self {
            code,
            msg: msg.into(),
        }
    }

    fn status(&self) -> StatusCode {
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

fn authorize(shared: &Shared, headers: &HeaderMap, needs: Needs<'_>) -> Result<Claims, TwirpError> {
    let raw = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| TwirpError::new("unauthenticated", "missing bearer token"))?;
    let claims = shared
        .verifier
        .verify(raw)
        .map_err(|e| TwirpError::new("unauthenticated", format!("invalid token: {e}")))?;
    let v = &claims.video;
    let allowed = match needs {
        Needs::Create => v.room_create,
        Needs::List => v.room_list,
        Needs::Admin(room) => v.room_admin && v.room == room,
    };
    if allowed {
        Ok(claims)
    } else {
        Err(TwirpError::new("permission_denied", "permissions denied"))
    }
}

/// `POST /twirp/livekit.RoomService/{method}`.
pub(crate) async fn room_service(
    State(shared): State<Shared>,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match dispatch(&shared, &method, &headers, &body) {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

fn dispatch(
    shared: &Shared,
    method: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, TwirpError> {
    let format = Format::of(headers)?;
    match method {
        "CreateRoom" => {
            let req: proto::CreateRoomRequest = format.decode(body)?;
            authorize(shared, headers, Needs::Create)?;
            Ok(format.encode(&create_room(shared, req)?))
        }
        "ListRooms" => {
            let req: proto::ListRoomsRequest = format.decode(body)?;
            authorize(shared, headers, Needs::List)?;
            let world = shared.world.lock().expect("stub state");
            let rooms = world
                .rooms
                .values()
                .filter(|r| req.names.is_empty() || req.names.contains(&r.name))
                .cloned()
                .collect();
            Ok(format.encode(&proto::ListRoomsResponse { rooms }))
        }
        "DeleteRoom" => {
            let req: proto::DeleteRoomRequest = format.decode(body)?;
            authorize(shared, headers, Needs::Create)?;
            let mut world = shared.world.lock().expect("stub state");
            if world.rooms.remove(&req.room).is_none() {
                return Err(TwirpError::new(
                    "not_found",
                    "requested room does not exist",
                ));
            }
            Ok(format.encode(&proto::DeleteRoomResponse {}))
        }
        "ListParticipants" => {
            let req: proto::ListParticipantsRequest = format.decode(body)?;
            authorize(shared, headers, Needs::Admin(&req.room))?;
            let world = shared.world.lock().expect("stub state");
            if !world.rooms.contains_key(&req.room) {
                return Err(TwirpError::new(
                    "not_found",
                    "requested room does not exist",
                ));
            }
            Ok(format.encode(&proto::ListParticipantsResponse {
                participants: Vec::new(),
            }))
        }
        "GetParticipant" | "RemoveParticipant" | "MutePublishedTrack" | "UpdateParticipant"
        | "UpdateRoomMetadata" | "SendData" => Err(TwirpError::new(
            "unimplemented",
            format!("{method} is not implemented yet"),
        )),
        _ => Err(TwirpError::new(
            "bad_route",
            format!("no handler for RoomService/{method}"),
        )),
    }
}

fn create_room(shared: &Shared, req: proto::CreateRoomRequest) -> Result<proto::Room, TwirpError> {
    if req.name.is_empty() {
        return Err(TwirpError::new("invalid_argument", "room name is required"));
    }
    let mut world = shared.world.lock().expect("stub state");
    // LiveKit's CreateRoom is idempotent: an existing room is returned as is.
    if let Some(room) = world.rooms.get(&req.name) {
        return Ok(room.clone());
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let room = proto::Room {
        sid: world.sid("RM"),
        name: req.name.clone(),
        empty_timeout: req.empty_timeout,
        departure_timeout: req.departure_timeout,
        max_participants: req.max_participants,
        creation_time: now.as_secs() as i64,
        creation_time_ms: now.as_millis() as i64,
        metadata: req.metadata,
        ..Default::default()
    };
    world.rooms.insert(req.name, room.clone());
    Ok(room)
}
