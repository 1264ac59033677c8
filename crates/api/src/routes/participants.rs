//! A session's participants: listing and removal (kick).

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use estrade_core::domain::{ParticipantKind, Presence};
use estrade_db::participants::Participant;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::auth::Staff;
use crate::error::{Error, ErrorBody};
use crate::extract::Json;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/sessions/{id}/participants", get(list_participants))
        .route("/v1/sessions/{id}/participants/{pid}/kick", post(kick))
}

/// A participant as the teacher sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ParticipantView {
    /// Participant id.
    pub id: Uuid,
    /// Teacher, learner, classroom or observer.
    pub kind: ParticipantKind,
    /// LiveKit identity.
    pub identity: String,
    /// Display name.
    pub name: String,
    /// For a classroom.
    pub headcount: Option<i32>,
    /// Invited (has tokens, not seen in the room yet), present or left.
    pub presence: Presence,
    /// Whether it was removed by the teacher or an admin.
    pub kicked: bool,
    /// When it joined through the API.
    pub created_at: DateTime<Utc>,
    /// When LiveKit last saw it arrive.
    pub joined_at: Option<DateTime<Utc>>,
    /// When it left.
    pub left_at: Option<DateTime<Utc>>,
    /// Whether it holds a microphone published without the floor, which
    /// reconciliation has not taken away yet.
    pub unauthorized_microphone: bool,
}

/// Participants.
#[derive(Debug, Serialize, ToSchema)]
pub struct ParticipantList {
    /// In join order.
    pub participants: Vec<ParticipantView>,
}

fn view(p: Participant, unauthorized_microphone: bool) -> ParticipantView {
    ParticipantView {
        unauthorized_microphone,
        kicked: p.kicked_at.is_some(),
        id: p.id,
        kind: p.kind,
        identity: p.identity,
        name: p.display_name,
        headcount: p.headcount,
        presence: p.presence,
        created_at: p.created_at,
        joined_at: p.joined_at,
        left_at: p.left_at,
    }
}

/// List a session's participants with their presence (owner, admin).
#[utoipa::path(get, path = "/v1/sessions/{id}/participants", tag = "participants", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Session id")),
    responses((status = 200, body = ParticipantList), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_participants(
    State(state): State<AppState>,
    Staff(caller): Staff,
    Path(id): Path<Uuid>,
) -> Result<Json<ParticipantList>, Error> {
    let session = estrade_db::sessions::get(&state.deps.db, id)
        .await?
        .ok_or(Error::NotFound)?;
    caller.can_manage(session.teacher_id)?;
    let participants = estrade_db::participants::list(&state.deps.db, id).await?;
    let flagged = estrade_db::tracks::unauthorized_microphones(&state.deps.db, id).await?;
    let participants = participants
        .into_iter()
        .map(|p| {
            let unauthorized = flagged.contains(&p.id);
            view(p, unauthorized)
        })
        .collect();
    Ok(Json(ParticipantList { participants }))
}

/// Remove a participant: out of LiveKit, its tokens refused from now on,
/// its hand and floor released (owner, admin; idempotent).
#[utoipa::path(post, path = "/v1/sessions/{id}/participants/{pid}/kick", tag = "participants", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Session id"), ("pid" = Uuid, Path, description = "Participant id")),
    responses((status = 200, body = ParticipantView), (status = 404, body = ErrorBody),
        (status = 409, description = "`cannot_kick_teacher`", body = ErrorBody),
        (status = 503, description = "kicked, but LiveKit could not be told: call again", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn kick(
    State(state): State<AppState>,
    Staff(caller): Staff,
    Path((id, pid)): Path<(Uuid, Uuid)>,
) -> Result<Json<ParticipantView>, Error> {
    let kicked = estrade_app::participants::kick(&state.deps, &caller, id, pid).await?;
    // Kicked: out of LiveKit, so no microphone of its counts any more.
    Ok(Json(view(kicked, false)))
}
