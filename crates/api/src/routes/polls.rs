//! Quick polls: the teacher opens, closes and shows; learners and
//! classrooms answer; everyone lists them as they may see them. Each
//! handler hands one call to `estrade_app::polls`.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use estrade_app::{Reader, polls};
use estrade_core::poll::Poll;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::auth::{Caller, ParticipantCaller, Staff};
use crate::error::{Error, ErrorBody};
use crate::extract::Json;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/sessions/{id}/polls", get(list).post(open))
        .route("/v1/sessions/{id}/polls/{pid}/answer", post(answer))
        .route("/v1/sessions/{id}/polls/{pid}/close", post(close))
}

/// A poll to open. For a yes/no poll, send the two words as choices in
/// the class's language.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenPoll {
    /// 1–200 characters once trimmed, one line of plain text.
    #[schema(min_length = 1, max_length = 200)]
    pub question: String,
    /// 2–6 choices, each 1–100 characters once trimmed.
    #[schema(min_items = 2, max_items = 6, value_type = Vec<String>)]
    pub choices: Vec<String>,
}

/// A participant's answer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerPoll {
    /// Index of the choice, from 0 (a whole number: `3.0` is 3).
    #[schema(minimum = 0, maximum = 5)]
    #[serde(deserialize_with = "crate::extract::whole")]
    pub choice: i32,
}

/// How the teacher closes a poll.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClosePoll {
    /// `true` shows the counts to everyone (also after it closed).
    #[serde(default)]
    pub show_results: bool,
}

/// A session's polls.
#[derive(Debug, Serialize, ToSchema)]
pub struct PollList {
    /// Oldest first.
    pub polls: Vec<Poll>,
}

/// Open a poll (the session's own teacher, while it is live). One poll is
/// open at a time. Learners see it at once (`poll` event).
#[utoipa::path(post, path = "/v1/sessions/{id}/polls", tag = "floor",
    params(("id" = Uuid, Path)), request_body = OpenPoll, security(("bearer" = [])),
    responses(
        (status = 201, body = Poll),
        (status = 401, body = ErrorBody), (status = 403, description = "`owner_only`: an admin (polls are the class's own teacher's), or not a staff credential", body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "`poll_open`, `session_not_live`", body = ErrorBody),
        (status = 422, description = "`invalid_poll`: the question or a choice empty, too long or not one line of plain text; fewer than 2 or more than 6 choices", body = ErrorBody),
    ))]
pub async fn open(
    State(state): State<AppState>,
    Staff(caller): Staff,
    Path(id): Path<Uuid>,
    Json(req): Json<OpenPoll>,
) -> Result<(StatusCode, Json<Poll>), Error> {
    let poll = polls::open(&state.deps, &caller, id, &req.question, &req.choices).await?;
    Ok((StatusCode::CREATED, Json(poll)))
}

/// The session's polls: with the counts for its teacher and admins; for a
/// participant, the counts once the teacher shows them, and its own
/// choice (`my_choice`). Nobody sees who chose what.
#[utoipa::path(get, path = "/v1/sessions/{id}/polls", tag = "floor",
    params(("id" = Uuid, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = PollList),
        (status = 410, description = "`session_ended`: a participant token of a session that has ended", body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    ))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<PollList>, Error> {
    let reader = match &caller {
        Caller::Account(a) => Reader::Staff(a),
        Caller::Participant(p) if p.session_id == id => Reader::Participant(p.participant_id),
        Caller::Participant(_) => return Err(Error::NotFound),
    };
    let polls = polls::list(&state.deps, reader, id).await?;
    Ok(Json(PollList { polls }))
}

/// Answer an open poll (a learner or classroom); answering again changes
/// the answer until the poll closes.
#[utoipa::path(post, path = "/v1/sessions/{id}/polls/{pid}/answer", tag = "floor",
    params(("id" = Uuid, Path), ("pid" = Uuid, Path)), request_body = AnswerPoll, security(("bearer" = [])),
    responses(
        (status = 200, description = "The poll as the participant sees it", body = Poll),
        (status = 410, description = "`session_ended`: a participant token of a session that has ended", body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "`poll_closed`, `session_not_live`, `not_a_learner`", body = ErrorBody),
        (status = 422, description = "`invalid_choice`: the poll has no such choice", body = ErrorBody),
    ))]
pub async fn answer(
    State(state): State<AppState>,
    caller: ParticipantCaller,
    Path((id, pid)): Path<(Uuid, Uuid)>,
    Json(req): Json<AnswerPoll>,
) -> Result<Json<Poll>, Error> {
    if caller.session_id != id {
        return Err(Error::NotFound);
    }
    // A negative index names no choice, like one past the last.
    let choice = usize::try_from(req.choice).map_err(|_| estrade_app::Error::InvalidChoice)?;
    let poll = polls::answer(&state.deps, caller.participant_id, id, pid, choice).await?;
    Ok(Json(poll))
}

/// Close a poll (the session's own teacher), and with
/// `{"show_results": true}` show its counts to everyone. Closing a closed
/// poll changes nothing but may still show its results.
#[utoipa::path(post, path = "/v1/sessions/{id}/polls/{pid}/close", tag = "floor",
    params(("id" = Uuid, Path), ("pid" = Uuid, Path)), request_body = ClosePoll, security(("bearer" = [])),
    responses(
        (status = 200, body = Poll),
        (status = 401, body = ErrorBody), (status = 403, description = "`owner_only`: an admin (polls are the class's own teacher's), or not a staff credential", body = ErrorBody), (status = 404, body = ErrorBody),
    ))]
pub async fn close(
    State(state): State<AppState>,
    Staff(caller): Staff,
    Path((id, pid)): Path<(Uuid, Uuid)>,
    Json(req): Json<ClosePoll>,
) -> Result<Json<Poll>, Error> {
    let poll = polls::close(&state.deps, &caller, id, pid, req.show_results).await?;
    Ok(Json(poll))
}
