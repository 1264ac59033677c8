//! The voice floor: participants raise and lower hands, the teacher grants,
//! revokes and configures, everyone reads it. Each handler checks who may
//! act and hands one command to `estrade_app::floor`.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use estrade_app::floor;
use estrade_core::floor::Command;
use estrade_core::floor_view::FloorView;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::sessions::{FloorSettings, check_floor};
use crate::AppState;
use crate::auth::{Caller, ParticipantCaller, Staff};
use crate::error::{Error, ErrorBody};
use crate::extract::Json;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/sessions/{id}/floor", get(get_floor).put(configure))
        .route(
            "/v1/sessions/{id}/hand",
            post(raise_hand).delete(lower_hand),
        )
        .route("/v1/sessions/{id}/floor/grant", post(grant))
        .route("/v1/sessions/{id}/floor/revoke", post(revoke))
}

/// The floor now.
#[utoipa::path(get, path = "/v1/sessions/{id}/floor", tag = "floor",
    params(("id" = Uuid, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = FloorView),
        (status = 410, description = "`session_ended`: a participant token of a session that has ended", body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    ))]
pub async fn get_floor(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<FloorView>, Error> {
    let mut tx = state.deps.db.begin().await?;
    let session = estrade_db::sessions::get(&mut *tx, id)
        .await?
        .ok_or(Error::NotFound)?;
    caller.can_see(session.id, session.teacher_id)?;
    let current = estrade_db::floor::load(&mut tx, &session).await?;
    let mut view =
        estrade_db::floor::view(&mut tx, session.id, &current, session.floor_version).await?;
    tx.rollback().await?;
    if let Caller::Participant(p) = caller {
        view.position = Some(current.position(p.participant_id));
    }
    Ok(Json(view))
}

/// The participant acting on its own hand; the answer says where it is in
/// line.
async fn own_command(
    state: &AppState,
    caller: ParticipantCaller,
    id: Uuid,
    command: Command,
) -> Result<Json<FloorView>, Error> {
    if caller.session_id != id {
        return Err(Error::NotFound);
    }
    let me = caller.participant_id;
    let decided = floor::by_participant(&state.deps, me, id, command).await?;
    let mut view = decided.decision.view;
    view.position = Some(
        view.queue
            .iter()
            .find(|h| h.participant_id == me)
            .map(|h| h.position),
    );
    Ok(Json(view))
}

/// Raise the hand. In an open floor with a free slot the floor is given at
/// once; otherwise the answer's `position` is the place in line.
#[utoipa::path(post, path = "/v1/sessions/{id}/hand", tag = "floor",
    params(("id" = Uuid, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = FloorView),
        (status = 410, description = "`session_ended`: a participant token of a session that has ended", body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "`hand_already_raised`, `already_speaking`, `floor_closed`, `session_not_live`, `participant_left`", body = ErrorBody),
    ))]
pub async fn raise_hand(
    State(state): State<AppState>,
    caller: ParticipantCaller,
    Path(id): Path<Uuid>,
) -> Result<Json<FloorView>, Error> {
    own_command(&state, caller, id, Command::Raise(caller.participant_id)).await
}

/// Lower the hand, or give the floor back when speaking. Idempotent:
/// without a hand it changes nothing and answers 200.
#[utoipa::path(delete, path = "/v1/sessions/{id}/hand", tag = "floor",
    params(("id" = Uuid, Path)), security(("bearer" = [])),
    responses(
        (status = 200, body = FloorView),
        (status = 410, description = "`session_ended`: a participant token of a session that has ended", body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "`session_not_live`", body = ErrorBody),
    ))]
pub async fn lower_hand(
    State(state): State<AppState>,
    caller: ParticipantCaller,
    Path(id): Path<Uuid>,
) -> Result<Json<FloorView>, Error> {
    own_command(&state, caller, id, Command::Lower(caller.participant_id)).await
}

/// Whom to grant: a participant, or (no body fields) the next in line.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantRequest {
    /// The participant; absent for the next in line.
    pub participant_id: Option<Uuid>,
}

/// Whom to revoke: one participant, or everyone speaking. Its schema is
/// written out below: one of the two, never both nor neither.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    /// The participant (its floor, or its raised hand).
    pub participant_id: Option<Uuid>,
    /// `true` for every speaker.
    pub all: Option<bool>,
}

impl utoipa::ToSchema for RevokeRequest {}

impl utoipa::PartialSchema for RevokeRequest {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{
            AdditionalProperties, KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat,
            SchemaType, Type,
        };
        let all = |value: bool| {
            ObjectBuilder::new()
                .schema_type(SchemaType::Type(Type::Boolean))
                .enum_values(Some([value]))
        };
        let one = ObjectBuilder::new()
            .title(Some("One participant"))
            .schema_type(SchemaType::Type(Type::Object))
            .property(
                "participant_id",
                ObjectBuilder::new()
                    .schema_type(SchemaType::Type(Type::String))
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
                    .description(Some("The participant (its floor, or its raised hand).")),
            )
            .required("participant_id")
            .property("all", all(false))
            .additional_properties(Some(AdditionalProperties::FreeForm(false)));
        let everyone = ObjectBuilder::new()
            .title(Some("Every speaker"))
            .schema_type(SchemaType::Type(Type::Object))
            .property(
                "all",
                all(true).description(Some("`true` for every speaker.")),
            )
            .required("all")
            .additional_properties(Some(AdditionalProperties::FreeForm(false)));
        OneOfBuilder::new().item(one).item(everyone).into()
    }
}

/// The teacher's command (`estrade_app::floor::by_teacher` checks it).
async fn teacher_command(
    state: &AppState,
    caller: &crate::auth::AccountCaller,
    id: Uuid,
    target: Option<Uuid>,
    command: Command,
) -> Result<Json<FloorView>, Error> {
    let decided = floor::by_teacher(&state.deps, caller, id, target, command).await?;
    Ok(Json(decided.decision.view))
}

/// Give the floor: to `participant_id` (from the queue or directly), or to
/// the first in line.
#[utoipa::path(post, path = "/v1/sessions/{id}/floor/grant", tag = "floor",
    params(("id" = Uuid, Path)), request_body = GrantRequest, security(("bearer" = [])),
    responses(
        (status = 200, body = FloorView),
        (status = 401, body = ErrorBody), (status = 403, description = "`owner_only`: an admin (the floor is the class's own teacher's), or not a staff credential", body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "`floor_full`, `queue_empty`, `already_speaking`, `floor_closed`, `session_not_live`, `participant_left`, `not_a_learner`", body = ErrorBody),
    ))]
pub async fn grant(
    State(state): State<AppState>,
    Staff(caller): Staff,
    Path(id): Path<Uuid>,
    Json(req): Json<GrantRequest>,
) -> Result<Json<FloorView>, Error> {
    let command = match req.participant_id {
        Some(p) => Command::Grant(p),
        None => Command::GrantNext,
    };
    teacher_command(&state, &caller, id, req.participant_id, command).await
}

/// Take the floor back: from `participant_id` (or dismiss its hand), or
/// from everyone speaking with `{"all": true}`.
#[utoipa::path(post, path = "/v1/sessions/{id}/floor/revoke", tag = "floor",
    params(("id" = Uuid, Path)), request_body = RevokeRequest, security(("bearer" = [])),
    responses(
        (status = 200, body = FloorView),
        (status = 401, body = ErrorBody), (status = 403, description = "`owner_only`: an admin (the floor is the class's own teacher's), or not a staff credential", body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "`session_not_live`", body = ErrorBody),
        (status = 422, description = "`invalid_revoke`: give `participant_id` or `all: true`", body = ErrorBody),
    ))]
pub async fn revoke(
    State(state): State<AppState>,
    Staff(caller): Staff,
    Path(id): Path<Uuid>,
    Json(req): Json<RevokeRequest>,
) -> Result<Json<FloorView>, Error> {
    let command = match (req.participant_id, req.all) {
        (Some(p), None | Some(false)) => Command::Revoke(p),
        (None, Some(true)) => Command::RevokeAll,
        _ => {
            return Err(Error::invalid(
                "invalid_revoke",
                "Give either participant_id or \"all\": true.",
            ));
        }
    };
    teacher_command(&state, &caller, id, req.participant_id, command).await
}

/// Change the floor's mode and limits. Closing revokes every learner;
/// lowering `max_speakers` revokes the most recent grants; a new time limit
/// applies to grants from now on.
#[utoipa::path(put, path = "/v1/sessions/{id}/floor", tag = "floor",
    params(("id" = Uuid, Path)), request_body = FloorSettings, security(("bearer" = [])),
    responses(
        (status = 200, body = FloorView),
        (status = 401, body = ErrorBody), (status = 403, description = "`owner_only`: an admin (the floor is the class's own teacher's), or not a staff credential", body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "`session_not_live`", body = ErrorBody),
        (status = 422, description = "`invalid_floor`, `invalid_body` (unknown mode)", body = ErrorBody),
    ))]
pub async fn configure(
    State(state): State<AppState>,
    Staff(caller): Staff,
    Path(id): Path<Uuid>,
    Json(req): Json<FloorSettings>,
) -> Result<Json<FloorView>, Error> {
    check_floor(&req)?;
    let command = Command::Configure {
        mode: req.mode,
        max_speakers: usize::try_from(req.max_speakers).unwrap_or(0),
        time_limit: req
            .speaking_time_limit_s
            .and_then(|s| u64::try_from(s).ok())
            .map(std::time::Duration::from_secs),
    };
    teacher_command(&state, &caller, id, None, command).await
}
