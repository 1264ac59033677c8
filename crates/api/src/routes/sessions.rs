//! Sessions: create, read, start, end, lock, rotate the code, the
//! teacher's publish token and an admin's observer token.

use std::time::SystemTime;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use estrade_core::domain::{self, AccountRole, FloorMode, SessionStatus, limits};
use estrade_db::sessions::{NewSession, Session};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::auth::{Admin, Caller, Staff};
use crate::error::{Error, ErrorBody};
use crate::extract::Json;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/sessions", post(create_session).get(list_sessions))
        .route("/v1/sessions/{id}", get(get_session).patch(update_session))
        .route("/v1/sessions/{id}/start", post(start_session))
        .route("/v1/sessions/{id}/end", post(end_session))
        .route("/v1/sessions/{id}/publish-token", post(publish_token))
        .route("/v1/sessions/{id}/observer-token", post(observer_token))
}

/// Floor settings.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FloorSettings {
    /// `moderated`, `open` or `closed`.
    pub mode: FloorMode,
    /// Simultaneous speakers, 1–16.
    #[schema(minimum = 1, maximum = 16)]
    #[serde(deserialize_with = "crate::extract::whole")]
    pub max_speakers: i32,
    /// Seconds a grant lasts (5–3600), or none for no limit.
    #[serde(default, deserialize_with = "crate::extract::whole_or_none")]
    #[schema(minimum = 5, maximum = 3600)]
    pub speaking_time_limit_s: Option<i32>,
}

/// A session.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    /// Session id.
    pub id: Uuid,
    /// Title.
    pub title: String,
    /// LiveKit room name.
    pub room_name: String,
    /// Six digits, read aloud in class. Absent for a participant: whoever
    /// is in the class needs no code, and a removed learner must not learn
    /// a rotated one from someone still in it.
    #[schema(example = "482913")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub join_code: Option<String>,
    /// The link learners open (absent for a participant, as the code):
    /// `/join/{code}#k={key}`. The key proves the join came by the link,
    /// not by guessing, so it is not slowed by the limits on failed codes
    /// (docs/SECURITY.md); it changes with the code.
    #[schema(example = "https://estrade.example.org/join/482913#k=q3J1xW0nB8a2c4dE6fG8hA")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub join_url: Option<String>,
    /// `scheduled`, `live` or `ended`.
    pub status: SessionStatus,
    /// Owning teacher.
    pub teacher_id: Uuid,
    /// Floor settings.
    pub floor: FloorSettings,
    /// Most learners and classrooms at once.
    pub max_learners: i32,
    /// Whether new joins are refused.
    pub locked: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// When it went live.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub ended_at: Option<DateTime<Utc>>,
}

/// Sessions.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    /// Newest first (at most 500).
    pub sessions: Vec<SessionView>,
}

fn view(state: &AppState, s: Session) -> SessionView {
    let mut join_url = state.settings.public_url.clone();
    join_url.set_path(&format!("/join/{}", s.join_code));
    join_url.set_fragment(Some(&format!(
        "k={}",
        state.settings.join_links.key(&s.join_code)
    )));
    SessionView {
        status: s.status,
        floor: FloorSettings {
            mode: s.floor_mode,
            max_speakers: s.max_speakers,
            speaking_time_limit_s: s.speaking_time_limit_s,
        },
        id: s.id,
        title: s.title,
        room_name: s.room_name,
        join_url: Some(join_url.to_string()),
        join_code: Some(s.join_code),
        teacher_id: s.teacher_id,
        max_learners: s.max_learners,
        locked: s.locked,
        created_at: s.created_at,
        started_at: s.started_at,
        ended_at: s.ended_at,
    }
}

/// A new session.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSession {
    /// 1–200 characters, no control or invisible characters.
    #[schema(example = "Sauces mères, séance 3", min_length = 1, max_length = 200)]
    pub title: String,
    /// Defaults: moderated, one speaker, no time limit.
    #[serde(default)]
    pub floor: Option<FloorSettings>,
    /// 1–1000; default 60.
    #[serde(default, deserialize_with = "crate::extract::whole_or_none")]
    #[schema(minimum = 1, maximum = 1000)]
    pub max_learners: Option<i32>,
}

impl CreateSession {
    /// The title, floor settings and learner limit, checked.
    fn validated(self) -> Result<(String, FloorSettings, i32), Error> {
        let title = domain::parse_title(&self.title)
            .map_err(|e| Error::invalid("invalid_title", format!("title: {e}.")))?;
        let floor = self.floor.unwrap_or(FloorSettings {
            mode: FloorMode::Moderated,
            max_speakers: 1,
            speaking_time_limit_s: None,
        });
        check_floor(&floor)?;
        let max_learners = self.max_learners.unwrap_or(limits::DEFAULT_MAX_LEARNERS);
        if !(1..=limits::MAX_LEARNERS).contains(&max_learners) {
            return Err(Error::invalid(
                "invalid_max_learners",
                format!(
                    "max_learners must be between 1 and {}.",
                    limits::MAX_LEARNERS
                ),
            ));
        }
        Ok((title, floor, max_learners))
    }
}

pub(crate) fn check_floor(floor: &FloorSettings) -> Result<(), Error> {
    if !(1..=limits::MAX_SPEAKERS).contains(&floor.max_speakers) {
        return Err(Error::invalid(
            "invalid_floor",
            format!(
                "max_speakers must be between 1 and {}.",
                limits::MAX_SPEAKERS
            ),
        ));
    }
    if let Some(limit) = floor.speaking_time_limit_s
        && !limits::SPEAKING_TIME_LIMIT_S.contains(&limit)
    {
        return Err(Error::invalid(
            "invalid_floor",
            "speaking_time_limit_s must be between 5 and 3600 seconds.",
        ));
    }
    Ok(())
}

/// Create a scheduled session (teachers only).
#[utoipa::path(post, path = "/v1/sessions", tag = "sessions", request_body = CreateSession, security(("bearer" = [])),
    responses(
        (status = 201, body = SessionView),
        (status = 400, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, description = "not a teacher", body = ErrorBody),
    ))]
pub async fn create_session(
    State(state): State<AppState>,
    Staff(caller): Staff,
    Json(req): Json<CreateSession>,
) -> Result<(StatusCode, Json<SessionView>), Error> {
    let (title, floor, max_learners) = req.validated()?;
    let new = NewSession {
        title: &title,
        max_learners,
        floor_mode: floor.mode,
        max_speakers: floor.max_speakers,
        speaking_time_limit_s: floor.speaking_time_limit_s,
    };
    let session = estrade_app::sessions::create(&state.deps, &caller, &new).await?;
    Ok((StatusCode::CREATED, Json(view(&state, session))))
}

/// List sessions: a teacher's own, or all for an admin.
#[utoipa::path(get, path = "/v1/sessions", tag = "sessions", security(("bearer" = [])),
    responses((status = 200, body = SessionList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_sessions(
    State(state): State<AppState>,
    Staff(caller): Staff,
) -> Result<Json<SessionList>, Error> {
    let owner = (caller.role == AccountRole::Teacher).then_some(caller.id);
    let sessions = estrade_db::sessions::list(&state.deps.db, owner, 500).await?;
    let sessions = sessions.into_iter().map(|s| view(&state, s)).collect();
    Ok(Json(SessionList { sessions }))
}

/// Read one session: its teacher, an admin, or one of its participants
/// (who see it without `join_code` and `join_url`).
#[utoipa::path(get, path = "/v1/sessions/{id}", tag = "sessions", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Session id")),
    responses((status = 200, body = SessionView), (status = 404, body = ErrorBody), (status = 410, description = "`session_ended`: a participant token of a session that has ended", body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn get_session(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<SessionView>, Error> {
    let session = estrade_db::sessions::get(&state.deps.db, id)
        .await?
        .ok_or(Error::NotFound)?;
    caller.can_see(session.id, session.teacher_id)?;
    let mut view = view(&state, session);
    if let Caller::Participant(_) = caller {
        view.join_code = None;
        view.join_url = None;
    }
    Ok(Json(view))
}

/// Changes to a session.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSession {
    /// Refuse (true) or accept (false) new joins.
    #[serde(default)]
    pub locked: Option<bool>,
    /// Draw a new join code; the old one stops working at once.
    #[serde(default)]
    pub rotate_join_code: Option<bool>,
    /// A new title: 1–200 characters, no control or invisible characters.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 200)]
    pub title: Option<String>,
}

/// Lock or unlock joins, rotate the join code, or retitle (owner, admin).
#[utoipa::path(patch, path = "/v1/sessions/{id}", tag = "sessions", request_body = UpdateSession, security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Session id")),
    responses((status = 200, body = SessionView), (status = 404, body = ErrorBody),
        (status = 409, description = "`session_ended`", body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn update_session(
    State(state): State<AppState>,
    Staff(caller): Staff,
    Path(id): Path<Uuid>,
    Json(req): Json<UpdateSession>,
) -> Result<Json<SessionView>, Error> {
    let title = req
        .title
        .as_deref()
        .map(domain::parse_title)
        .transpose()
        .map_err(|e| Error::invalid("invalid_title", format!("title: {e}.")))?;
    let changes = estrade_app::sessions::Changes {
        locked: req.locked,
        rotate_join_code: req.rotate_join_code == Some(true),
        title,
    };
    let session = estrade_app::sessions::update(&state.deps, &caller, id, changes).await?;
    Ok(Json(view(&state, session)))
}

/// Start a session: create its LiveKit room, then mark it live
/// (idempotent).
#[utoipa::path(post, path = "/v1/sessions/{id}/start", tag = "sessions", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Session id")),
    responses((status = 200, body = SessionView), (status = 404, body = ErrorBody),
        (status = 409, description = "`session_ended`; `too_many_live_sessions`: the teacher's account already runs `ESTRADE_MAX_LIVE_SESSIONS_PER_TEACHER` live sessions", body = ErrorBody),
        (status = 503, description = "LiveKit is unavailable; or `too_many_sessions`: the deployment runs `ESTRADE_MAX_LIVE_SESSIONS` live sessions, or `too_many_seats`: the live sessions' `max_learners` and this one's would pass `ESTRADE_MAX_PARTICIPANTS` (`Retry-After`); nothing changed", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn start_session(
    State(state): State<AppState>,
    Staff(caller): Staff,
    Path(id): Path<Uuid>,
) -> Result<Json<SessionView>, Error> {
    let session = estrade_app::sessions::start(&state.deps, &caller, id).await?;
    Ok(Json(view(&state, session)))
}

/// End a session: everyone leaves, the floor closes, the room is deleted
/// (idempotent; safe when LiveKit already lost the room).
#[utoipa::path(post, path = "/v1/sessions/{id}/end", tag = "sessions", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Session id")),
    responses((status = 200, body = SessionView), (status = 404, body = ErrorBody),
        (status = 503, description = "ended, but LiveKit could not be told: call again", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn end_session(
    State(state): State<AppState>,
    Staff(caller): Staff,
    Path(id): Path<Uuid>,
) -> Result<Json<SessionView>, Error> {
    let ended = estrade_app::sessions::end(&state.deps, &caller, id).await?;
    Ok(Json(view(&state, ended)))
}

/// What the teacher's desktop app needs to publish.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublishToken {
    /// LiveKit's URL.
    pub livekit_url: String,
    /// LiveKit access token: camera, microphone, screen share, data.
    pub token: String,
    /// The teacher's LiveKit identity in this session.
    pub identity: String,
    /// When the token stops being accepted for a new connection.
    pub expires_at: DateTime<Utc>,
}

/// A LiveKit token to publish camera, microphone and screen (owner teacher
/// of a live session).
#[utoipa::path(post, path = "/v1/sessions/{id}/publish-token", tag = "sessions", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Session id")),
    responses((status = 200, body = PublishToken), (status = 404, body = ErrorBody),
        (status = 409, description = "`session_not_live`", body = ErrorBody), (status = 429, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn publish_token(
    State(state): State<AppState>,
    Staff(caller): Staff,
    Path(id): Path<Uuid>,
) -> Result<Json<PublishToken>, Error> {
    let admit = || state.settings.limits.check_mint(1);
    let minted = estrade_app::sessions::teacher_token(&state.deps, &caller, id, admit).await?;
    Ok(Json(PublishToken {
        livekit_url: state.settings.livekit_url.clone(),
        token: minted.token.jwt,
        identity: minted.identity,
        expires_at: to_utc(minted.token.expires_at),
    }))
}

/// An admin's token to watch a class unseen.
#[derive(Debug, Serialize, ToSchema)]
pub struct ObserverToken {
    /// LiveKit's URL.
    pub livekit_url: String,
    /// LiveKit access token: subscribe only, hidden from the room's
    /// participants, accepted for a new connection for 5 minutes.
    pub token: String,
    /// The observer's LiveKit identity in this session (`o-…`).
    pub identity: String,
    /// When the token stops being accepted for a new connection.
    pub expires_at: DateTime<Utc>,
}

/// A LiveKit token to watch a live session without being seen (admin):
/// it subscribes and never publishes, LiveKit hides it from the learners;
/// short-lived, audited each time.
#[utoipa::path(post, path = "/v1/sessions/{id}/observer-token", tag = "sessions", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Session id")),
    responses((status = 200, body = ObserverToken), (status = 404, body = ErrorBody),
        (status = 409, description = "`session_not_live`", body = ErrorBody), (status = 429, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, description = "not an admin", body = ErrorBody)))]
pub async fn observer_token(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<Uuid>,
) -> Result<Json<ObserverToken>, Error> {
    let admit = || state.settings.limits.check_mint(1);
    let minted = estrade_app::sessions::observer_token(&state.deps, &caller, id, admit).await?;
    Ok(Json(ObserverToken {
        livekit_url: state.settings.livekit_url.clone(),
        token: minted.token.jwt,
        identity: minted.identity,
        expires_at: to_utc(minted.token.expires_at),
    }))
}

/// A `SystemTime` as a UTC timestamp.
pub(crate) fn to_utc(t: SystemTime) -> DateTime<Utc> {
    DateTime::<Utc>::from(t)
}
