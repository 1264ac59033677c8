//! A session's personal data on request (admins, docs/PRIVACY.md): erase
//! it now, or export it for an access request.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use estrade_core::domain::{ParticipantKind, Presence, SessionStatus};
use estrade_core::question::Question;
use estrade_core::report::Turn;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::auth::Admin;
use crate::error::{Error, ErrorBody};
use crate::extract::Json;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/sessions/{id}/erase", post(erase))
        .route("/v1/admin/sessions/{id}/export", get(export))
}

/// What an erasure overwrote and deleted.
#[derive(Debug, Serialize, ToSchema)]
pub struct Erased {
    /// Learners' and classrooms' names replaced by `(erased)`.
    pub participants_erased: u64,
    /// Questions' texts replaced by `(erased)`.
    pub questions_erased: u64,
    /// Live-update events deleted.
    pub session_events_purged: u64,
}

/// Erases an ended session's personal data now (admin): learners' and
/// classrooms' names and questions' texts are replaced by `(erased)`, its
/// live-update log is deleted; ids, times and counts stay, so the floor's
/// history and the report still add up. Audited (`session.erased`).
#[utoipa::path(post, path = "/v1/admin/sessions/{id}/erase", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Session id")),
    responses((status = 200, body = Erased), (status = 404, body = ErrorBody),
        (status = 409, description = "`session_not_ended`: end the session first", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, description = "not an admin", body = ErrorBody)))]
pub async fn erase(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<Uuid>,
) -> Result<Json<Erased>, Error> {
    let erased = estrade_app::privacy::erase(&state.deps, &caller, id).await?;
    Ok(Json(Erased {
        participants_erased: erased.names,
        questions_erased: erased.questions,
        session_events_purged: erased.session_events,
    }))
}

/// The session, as an export gives it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportedSession {
    /// Session id.
    pub id: Uuid,
    /// Title.
    pub title: String,
    /// Scheduled, live or ended.
    pub status: SessionStatus,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Started.
    pub started_at: Option<DateTime<Utc>>,
    /// Ended.
    pub ended_at: Option<DateTime<Utc>>,
}

/// A participant, as stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportedParticipant {
    /// Participant id.
    pub id: Uuid,
    /// Teacher, learner, classroom or observer.
    pub kind: ParticipantKind,
    /// Its LiveKit identity.
    pub identity: String,
    /// Its name (`(erased)` once erased).
    pub display_name: String,
    /// People behind a classroom.
    pub headcount: Option<i32>,
    /// Invited, present or left.
    pub presence: Presence,
    /// When it joined through the API.
    pub created_at: DateTime<Utc>,
    /// When LiveKit last saw it join.
    pub joined_at: Option<DateTime<Utc>>,
    /// When it left.
    pub left_at: Option<DateTime<Utc>>,
    /// When it was removed.
    pub kicked_at: Option<DateTime<Utc>>,
}

/// One poll answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportedAnswer {
    /// The poll.
    pub poll_id: Uuid,
    /// Its question.
    pub question: String,
    /// Who answered.
    pub participant_id: Uuid,
    /// The answer chosen.
    pub choice: String,
    /// When (the last change).
    pub answered_at: DateTime<Utc>,
}

/// Everything stored about a session's participants.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionExport {
    /// The session.
    pub session: ExportedSession,
    /// Its participants, in the order they joined.
    pub participants: Vec<ExportedParticipant>,
    /// Its typed questions, oldest first.
    pub questions: Vec<Question>,
    /// Its floor history.
    pub turns: Vec<Turn>,
    /// Every poll answer.
    pub poll_answers: Vec<ExportedAnswer>,
}

/// Everything stored about a session's participants, for an access
/// request (admin): names, kinds, times, questions, the floor's history
/// and poll answers with the choice made. Audited (`session.exported`).
#[utoipa::path(get, path = "/v1/admin/sessions/{id}/export", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Session id")),
    responses((status = 200, body = SessionExport), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, description = "not an admin", body = ErrorBody)))]
pub async fn export(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<Uuid>,
) -> Result<Json<SessionExport>, Error> {
    let e = estrade_app::privacy::export(&state.deps, &caller, id).await?;
    Ok(Json(SessionExport {
        session: ExportedSession {
            id: e.session.id,
            title: e.session.title,
            status: e.session.status,
            created_at: e.session.created_at,
            started_at: e.session.started_at,
            ended_at: e.session.ended_at,
        },
        participants: e
            .participants
            .into_iter()
            .map(|p| ExportedParticipant {
                id: p.id,
                kind: p.kind,
                identity: p.identity,
                display_name: p.display_name,
                headcount: p.headcount,
                presence: p.presence,
                created_at: p.created_at,
                joined_at: p.joined_at,
                left_at: p.left_at,
                kicked_at: p.kicked_at,
            })
            .collect(),
        questions: e.questions,
        turns: e.turns,
        poll_answers: e
            .poll_answers
            .into_iter()
            .map(|a| ExportedAnswer {
                poll_id: a.poll_id,
                question: a.question,
                participant_id: a.participant_id,
                choice: a.choice,
                answered_at: a.answered_at,
            })
            .collect(),
    }))
}
