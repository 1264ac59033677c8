//! Sessions: create, read, start, end, lock, rotate the code, and the
//! teacher's publish token.

use std::time::SystemTime;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use estrade_core::domain::{self, AccountRole, FloorMode, SessionStatus, limits};
use estrade_db::audit::{self, Entry};
use estrade_db::sessions::{NewSession, Session};
use estrade_livekit::{Role, RoomSettings};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::auth::{AccountCaller, Caller, Staff};
use crate::error::{Error, ErrorBody};
use crate::extract::Json;

/// Seats LiveKit keeps beyond `max_learners`: the teacher, observers, and a
/// learner's second connection while the first is timing out.
const ROOM_SEAT_MARGIN: u32 = 10;
/// How long LiveKit keeps an empty room (seconds).
const EMPTY_TIMEOUT_S: u32 = 600;

/// The LiveKit room of a session admitting `max_learners`.
pub fn room_settings(max_learners: i32) -> RoomSettings {
    RoomSettings {
        max_participants: max_learners.max(0) as u32 + ROOM_SEAT_MARGIN,
        empty_timeout_s: EMPTY_TIMEOUT_S,
    }
}

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/sessions", post(create_session).get(list_sessions))
        .route("/v1/sessions/{id}", get(get_session).patch(update_session))
        .route("/v1/sessions/{id}/start", post(start_session))
        .route("/v1/sessions/{id}/end", post(end_session))
        .route("/v1/sessions/{id}/publish-token", post(publish_token))
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

pub(crate) fn status_of(session: &Session) -> Result<SessionStatus, Error> {
    session
        .status
        .parse()
        .map_err(|e| Error::Internal(anyhow::Error::new(e)))
}

fn view(state: &AppState, s: Session) -> Result<SessionView, Error> {
    let mut join_url = state.settings.public_url.clone();
    join_url.set_path(&format!("/join/{}", s.join_code));
    join_url.set_fragment(Some(&format!(
        "k={}",
        state.settings.join_links.key(&s.join_code)
    )));
    Ok(SessionView {
        status: status_of(&s)?,
        floor: FloorSettings {
            mode: s
                .floor_mode
                .parse()
                .map_err(|e| Error::Internal(anyhow::Error::new(e)))?,
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
    })
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
    if caller.role != AccountRole::Teacher {
        return Err(Error::Forbidden);
    }
    let title = domain::parse_title(&req.title)
        .map_err(|e| Error::invalid("invalid_title", format!("title: {e}.")))?;
    let floor = req.floor.unwrap_or(FloorSettings {
        mode: FloorMode::Moderated,
        max_speakers: 1,
        speaking_time_limit_s: None,
    });
    check_floor(&floor)?;
    let max_learners = req.max_learners.unwrap_or(limits::DEFAULT_MAX_LEARNERS);
    if !(1..=limits::MAX_LEARNERS).contains(&max_learners) {
        return Err(Error::invalid(
            "invalid_max_learners",
            format!(
                "max_learners must be between 1 and {}.",
                limits::MAX_LEARNERS
            ),
        ));
    }
    let new = NewSession {
        title: &title,
        max_learners,
        floor_mode: floor.mode.as_str(),
        max_speakers: floor.max_speakers,
        speaking_time_limit_s: floor.speaking_time_limit_s,
    };
    let mut tx = state.db.begin().await?;
    let session = estrade_db::sessions::insert(&mut tx, caller.id, &new).await?;
    let entry = Entry {
        actor: caller.actor(),
        action: "session.created",
        session_id: Some(session.id),
        target_id: None,
        details: json!({}),
    };
    audit::record(&mut tx, entry).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(view(&state, session)?)))
}

/// List sessions: a teacher's own, or all for an admin.
#[utoipa::path(get, path = "/v1/sessions", tag = "sessions", security(("bearer" = [])),
    responses((status = 200, body = SessionList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_sessions(
    State(state): State<AppState>,
    Staff(caller): Staff,
) -> Result<Json<SessionList>, Error> {
    let owner = (caller.role == AccountRole::Teacher).then_some(caller.id);
    let sessions = estrade_db::sessions::list(&state.db, owner, 500).await?;
    let sessions = sessions
        .into_iter()
        .map(|s| view(&state, s))
        .collect::<Result<_, _>>()?;
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
    let session = estrade_db::sessions::get(&state.db, id)
        .await?
        .ok_or(Error::NotFound)?;
    caller.can_see(session.id, session.teacher_id)?;
    let mut view = view(&state, session)?;
    if let Caller::Participant(_) = caller {
        view.join_code = None;
        view.join_url = None;
    }
    Ok(Json(view))
}

/// Loads a session the caller may manage, locked for this transaction.
pub(crate) async fn lock_managed(
    tx: &mut sqlx::PgConnection,
    caller: &AccountCaller,
    id: Uuid,
) -> Result<Session, Error> {
    let session = estrade_db::sessions::lock(tx, id)
        .await?
        .ok_or(Error::NotFound)?;
    caller.can_manage(session.teacher_id)?;
    Ok(session)
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
    let mut tx = state.db.begin().await?;
    let mut session = lock_managed(&mut tx, &caller, id).await?;
    if status_of(&session)? == SessionStatus::Ended {
        return Err(Error::conflict("session_ended", "This session has ended."));
    }
    let mut changes = serde_json::Map::new();
    if let Some(locked) = req.locked
        && locked != session.locked
    {
        session = estrade_db::sessions::set_locked(&mut tx, id, locked).await?;
        changes.insert("locked".into(), json!(locked));
    }
    if req.rotate_join_code == Some(true) {
        session = estrade_db::sessions::rotate_code(&mut tx, id).await?;
        changes.insert("join_code_rotated".into(), json!(true));
    }
    if let Some(title) = title {
        session = estrade_db::sessions::set_title(&mut tx, id, &title).await?;
        changes.insert("title_changed".into(), json!(true));
    }
    if !changes.is_empty() {
        let entry = Entry {
            actor: caller.actor(),
            action: "session.updated",
            session_id: Some(id),
            target_id: None,
            details: changes.into(),
        };
        audit::record(&mut tx, entry).await?;
    }
    tx.commit().await?;
    state.notifier.notify(id);
    Ok(Json(view(&state, session)?))
}

/// Start a session: create its LiveKit room, then mark it live
/// (idempotent).
#[utoipa::path(post, path = "/v1/sessions/{id}/start", tag = "sessions", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Session id")),
    responses((status = 200, body = SessionView), (status = 404, body = ErrorBody),
        (status = 409, description = "`session_ended`", body = ErrorBody),
        (status = 503, description = "LiveKit is unavailable; nothing changed", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn start_session(
    State(state): State<AppState>,
    Staff(caller): Staff,
    Path(id): Path<Uuid>,
) -> Result<Json<SessionView>, Error> {
    let session = estrade_db::sessions::get(&state.db, id)
        .await?
        .ok_or(Error::NotFound)?;
    caller.can_manage(session.teacher_id)?;
    if status_of(&session)? == SessionStatus::Ended {
        return Err(Error::conflict("session_ended", "This session has ended."));
    }
    // The room first: a session is never live without one. CreateRoom is
    // idempotent, so a retry after a failure below is safe; a room left
    // behind by one is deleted by reconciliation.
    let settings = RoomSettings {
        max_participants: session.max_learners as u32 + ROOM_SEAT_MARGIN,
        empty_timeout_s: EMPTY_TIMEOUT_S,
    };
    let room = state
        .livekit
        .create_room(&session.room_name, settings)
        .await?;

    let mut tx = state.db.begin().await?;
    let locked = lock_managed(&mut tx, &caller, id).await?;
    let session = match status_of(&locked)? {
        // Already live: the room may have been re-created; remember which.
        SessionStatus::Live if locked.room_sid.as_deref() == Some(room.sid.as_str()) => locked,
        SessionStatus::Live => estrade_db::sessions::mark_live(&mut tx, id, &room.sid).await?,
        SessionStatus::Ended => {
            return Err(Error::conflict("session_ended", "This session has ended."));
        }
        SessionStatus::Scheduled => {
            estrade_db::sessions::start(&mut tx, id, &room.sid, caller.actor()).await?
        }
    };
    tx.commit().await?;
    state.notifier.notify(id);
    Ok(Json(view(&state, session)?))
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
    let mut tx = state.db.begin().await?;
    let session = lock_managed(&mut tx, &caller, id).await?;
    let ended = if status_of(&session)? == SessionStatus::Ended {
        tx.rollback().await?;
        session
    } else {
        let reason = if caller.role == AccountRole::Admin && caller.id != session.teacher_id {
            "ended_by_admin"
        } else {
            "ended_by_teacher"
        };
        let ended = estrade_db::sessions::end(&mut tx, id, reason, caller.actor()).await?;
        // The decision is durable before LiveKit hears of it.
        tx.commit().await?;
        state.notifier.notify(id);
        ended
    };
    // Every call, including a repeat on an ended session, makes sure the
    // room is gone: if LiveKit cannot be reached, the answer is 503 (the
    // session stays ended) and calling again finishes the job.
    match state.livekit.delete_room(&ended.room_name).await {
        Ok(()) | Err(estrade_livekit::Error::NotFound) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(Json(view(&state, ended)?))
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
    let session = estrade_db::sessions::get(&state.db, id)
        .await?
        .ok_or(Error::NotFound)?;
    // The owner only: an admin watching uses an observer token instead.
    if session.teacher_id != caller.id {
        return Err(Error::NotFound);
    }
    if status_of(&session)? != SessionStatus::Live {
        return Err(Error::conflict(
            "session_not_live",
            "Start the session first.",
        ));
    }
    state.settings.limits.check_mint(1)?;
    let identity = format!("t-{}", session.id.simple());
    // Account names allow 128 characters, display names 64.
    let display: String = caller
        .name
        .chars()
        .take(domain::DisplayName::MAX_CHARS)
        .collect();
    let mut tx = state.db.begin().await?;
    if let Some(teacher) =
        estrade_db::participants::insert_teacher(&mut tx, id, &identity, &display).await?
    {
        let entry = Entry {
            actor: caller.actor(),
            action: "participant.joined",
            session_id: Some(id),
            target_id: Some(teacher.id),
            details: json!({ "kind": "teacher" }),
        };
        audit::record(&mut tx, entry).await?;
    }
    tx.commit().await?;
    let token = state
        .livekit
        .mint(Role::Teacher, &session.room_name, &identity, &display)?;
    Ok(Json(PublishToken {
        livekit_url: state.settings.livekit_url.clone(),
        token: token.jwt,
        identity,
        expires_at: to_utc(token.expires_at),
    }))
}

/// A `SystemTime` as a UTC timestamp.
pub(crate) fn to_utc(t: SystemTime) -> DateTime<Utc> {
    DateTime::<Utc>::from(t)
}
