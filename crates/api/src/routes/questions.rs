//! Typed questions: a learner asks, the teacher answers (aloud or with the
//! floor) or dismisses; both list them. Each handler hands one call to
//! `estrade_app::questions`.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use estrade_app::Reader;
use estrade_app::questions;
use estrade_core::question::Question;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::auth::{Caller, ParticipantCaller, Staff};
use crate::error::{Error, ErrorBody};
use crate::extract::Json;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/sessions/{id}/questions", get(list).post(ask))
        .route("/v1/sessions/{id}/questions/{qid}/answer", post(answer))
        .route("/v1/sessions/{id}/questions/{qid}/dismiss", post(dismiss))
}

/// A typed question.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AskRequest {
    /// Plain text, one paragraph: 1–500 characters once trimmed, no
    /// control characters (line breaks included), no invisible or
    /// direction-changing ones. Shown as text, never as HTML.
    #[schema(min_length = 1, max_length = 500)]
    pub text: String,
}

/// How the teacher answers.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerRequest {
    /// `true` gives the author the floor to ask it aloud; absent or
    /// `false` marks it answered aloud by the teacher.
    #[serde(default)]
    pub floor: bool,
}

/// A session's questions.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuestionList {
    /// Oldest first.
    pub questions: Vec<Question>,
}

/// Ask a typed question (a learner or classroom): it takes a place in the
/// same line as raised hands, or the place of the caller's raised hand.
/// On an open floor a question waits for the teacher. The teacher and the
/// author are told on the live stream (`question` events).
#[utoipa::path(post, path = "/v1/sessions/{id}/questions", tag = "floor",
    params(("id" = Uuid, Path)), request_body = AskRequest, security(("bearer" = [])),
    responses(
        (status = 201, body = Question),
        (status = 410, description = "`session_ended`: a participant token of a session that has ended", body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "`question_waiting`, `already_speaking`, `floor_closed`, `session_not_live`, `participant_left`, `not_a_learner`", body = ErrorBody),
        (status = 422, description = "`invalid_question`: empty, longer than 500 characters, or with control characters", body = ErrorBody),
        (status = 429, description = "`too_many_questions`: 5 a minute per participant; `Retry-After`", body = ErrorBody),
    ))]
pub async fn ask(
    State(state): State<AppState>,
    caller: ParticipantCaller,
    Path(id): Path<Uuid>,
    Json(req): Json<AskRequest>,
) -> Result<(StatusCode, Json<Question>), Error> {
    if caller.session_id != id {
        return Err(Error::NotFound);
    }
    // Refused text does not count against the limit.
    let text = estrade_core::question::text(&req.text).map_err(estrade_app::Error::from)?;
    state
        .settings
        .question_limits
        .check(caller.participant_id)?;
    let asked = questions::ask(&state.deps, caller.participant_id, id, text).await?;
    Ok((StatusCode::CREATED, Json(asked)))
}

/// The session's questions: every one for its teacher and admins, its own
/// for a participant.
#[utoipa::path(get, path = "/v1/sessions/{id}/questions", tag = "floor",
    params(("id" = Uuid, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = QuestionList),
        (status = 410, description = "`session_ended`: a participant token of a session that has ended", body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    ))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<QuestionList>, Error> {
    let reader = match &caller {
        Caller::Account(a) => Reader::Staff(a),
        Caller::Participant(p) if p.session_id == id => Reader::Participant(p.participant_id),
        Caller::Participant(_) => return Err(Error::NotFound),
    };
    let questions = questions::list(&state.deps, reader, id).await?;
    Ok(Json(QuestionList { questions }))
}

/// Answer a waiting question (the session's own teacher): aloud, or with
/// `{"floor": true}` by giving its author the floor.
#[utoipa::path(post, path = "/v1/sessions/{id}/questions/{qid}/answer", tag = "floor",
    params(("id" = Uuid, Path), ("qid" = Uuid, Path)), request_body = AnswerRequest, security(("bearer" = [])),
    responses(
        (status = 200, body = Question),
        (status = 401, body = ErrorBody), (status = 403, description = "`owner_only`: an admin (the floor is the class's own teacher's), or not a staff credential", body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "`question_not_waiting`, `floor_full`, `session_not_live`", body = ErrorBody),
    ))]
pub async fn answer(
    State(state): State<AppState>,
    Staff(caller): Staff,
    Path((id, qid)): Path<(Uuid, Uuid)>,
    Json(req): Json<AnswerRequest>,
) -> Result<Json<Question>, Error> {
    let answered = questions::answer(&state.deps, &caller, id, qid, req.floor).await?;
    Ok(Json(answered))
}

/// Dismiss a waiting question (the session's own teacher).
#[utoipa::path(post, path = "/v1/sessions/{id}/questions/{qid}/dismiss", tag = "floor",
    params(("id" = Uuid, Path), ("qid" = Uuid, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = Question),
        (status = 401, body = ErrorBody), (status = 403, description = "`owner_only`: an admin (the floor is the class's own teacher's), or not a staff credential", body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "`question_not_waiting`, `session_not_live`", body = ErrorBody),
    ))]
pub async fn dismiss(
    State(state): State<AppState>,
    Staff(caller): Staff,
    Path((id, qid)): Path<(Uuid, Uuid)>,
) -> Result<Json<Question>, Error> {
    let dismissed = questions::dismiss(&state.deps, &caller, id, qid).await?;
    Ok(Json(dismissed))
}
