//! Joining a session with a code and a name, and renewing the tokens.

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use chrono::{DateTime, Utc};
use std::net::IpAddr;

use estrade_app::Error as UseCaseError;
use estrade_app::participants::Joiner;
use estrade_core::domain::{DisplayName, JoinCode, ParticipantKind, limits};
use estrade_db::participants::Participant;
use estrade_db::sessions::Session;
use estrade_livekit::Role;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::sessions::to_utc;
use crate::AppState;
use crate::auth::{ClientIp, ParticipantCaller};
use crate::error::{Error, ErrorBody};
use crate::extract::Json;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/join", post(join))
        .route("/v1/participant/refresh", post(refresh))
}

/// Joining a session. Its schema is written out below: a learner sends no
/// headcount, a classroom may.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinRequest {
    /// The six digits (spaces and dashes are ignored).
    pub code: String,
    /// The name others see: 1–64 characters.
    pub name: String,
    /// `learner` (default) or `classroom`.
    #[serde(default)]
    pub kind: Option<ParticipantKind>,
    /// For a classroom: how many people are in front of the screen (1–500).
    #[serde(default, deserialize_with = "crate::extract::whole_or_none")]
    pub headcount: Option<i32>,
    /// The key of the join link the learner opened (`k` in `join_url`'s
    /// fragment). With it, the join is not counted or refused as a guess;
    /// a well-formed but wrong one is ignored.
    #[serde(default)]
    pub link: Option<String>,
}

impl utoipa::ToSchema for JoinRequest {}

impl utoipa::PartialSchema for JoinRequest {
    /// One of two shapes, as the server checks them: a learner (`kind`
    /// absent or `learner`, no `headcount`) or a classroom (`kind:
    /// classroom`, an optional `headcount` of 1–500).
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{
            AdditionalProperties, ObjectBuilder, OneOfBuilder, SchemaType, Type,
        };
        let string = || ObjectBuilder::new().schema_type(SchemaType::Type(Type::String));
        let shape = |kind: &str, kind_required: bool| {
            let mut object = ObjectBuilder::new()
                .schema_type(SchemaType::Type(Type::Object))
                .property(
                    "code",
                    string()
                        .description(Some("The six digits (spaces and dashes are ignored)."))
                        .pattern(Some("^[ -]*([0-9][ -]*){6}$"))
                        .examples(["482913"]),
                )
                .required("code")
                .property(
                    "name",
                    string()
                        .description(Some(
                            "The name others see: 1–64 characters, no control or invisible characters.",
                        ))
                        .min_length(Some(1))
                        .max_length(Some(64))
                        .pattern(Some(estrade_core::domain::NAME_PATTERN))
                        .examples(["Ana"]),
                )
                .required("name")
                .property(
                    "kind",
                    string()
                        .description(Some("`learner` (the default) or `classroom`."))
                        .enum_values(Some([kind])),
                )
                .property(
                    "link",
                    string()
                        .description(Some(
                            "The key of the join link the learner opened (`k` in `join_url`'s \
                             fragment). With it, the join is not counted or refused as a guess; \
                             a well-formed but wrong one is ignored.",
                        ))
                        .min_length(Some(1))
                        .max_length(Some(64))
                        .pattern(Some("^[A-Za-z0-9_-]{1,64}$")),
                )
                .additional_properties(Some(AdditionalProperties::FreeForm(false)));
            if kind_required {
                object = object.required("kind");
            }
            object
        };
        let classroom = shape("classroom", true).property(
            "headcount",
            ObjectBuilder::new()
                .schema_type(SchemaType::Type(Type::Integer))
                .format(Some(utoipa::openapi::schema::SchemaFormat::KnownFormat(
                    utoipa::openapi::schema::KnownFormat::Int32,
                )))
                .description(Some("How many people are in front of the screen (1–500)."))
                .minimum(Some(1))
                .maximum(Some(500)),
        );
        OneOfBuilder::new()
            .item(shape("learner", false).title(Some("A learner")))
            .item(classroom.title(Some("A classroom")))
            .into()
    }
}

/// What a participant needs: LiveKit access and its own token for the API.
#[derive(Debug, Serialize, ToSchema)]
pub struct Joined {
    /// The session.
    pub session_id: Uuid,
    /// The session's title, for the learner's screen.
    pub session_title: String,
    /// The participant created.
    pub participant_id: Uuid,
    /// Its LiveKit identity (`l-…` or `c-…`).
    pub identity: String,
    /// LiveKit's URL.
    pub livekit_url: String,
    /// LiveKit access token: watch and chat, never publish.
    pub livekit_token: String,
    /// Bearer token for this API, bound to this participant and session.
    pub participant_token: String,
    /// When the participant token expires (renew before with
    /// `POST /v1/participant/refresh`).
    pub expires_at: DateTime<Utc>,
}

/// Join a live session with its code and a name (no account needed).
#[utoipa::path(post, path = "/v1/join", tag = "participants", request_body = JoinRequest,
    responses(
        (status = 200, body = Joined),
        (status = 404, description = "`unknown_code`", body = ErrorBody),
        (status = 409, description = "`session_not_started`, `session_locked`, `session_full`", body = ErrorBody),
        (status = 410, description = "`session_ended`", body = ErrorBody),
        (status = 422, description = "`invalid_code`, `invalid_name`, `invalid_kind`, `invalid_headcount`, `invalid_link`", body = ErrorBody),
        (status = 429, description = "too many failed codes from this address or its network (IPv6 /64, /56, /48), or across the service; too many refused joins on this code, or more joins on it within a minute than it has seats. A join with the link's key (`link`) is not counted as a guess", body = ErrorBody),
        (status = 503, description = "PostgreSQL or Redis is unavailable; nothing written", body = ErrorBody),
        (status = 400, body = ErrorBody),
    ))]
pub async fn join(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(req): Json<JoinRequest>,
) -> Result<Json<Joined>, Error> {
    let limits = &state.settings.limits;
    let guess = Guess::enter(&state, ip, &req).await?;
    let (name, kind) = req.validated()?;
    let code = guess.code.clone();
    limits.check_code(code.as_str())?;
    limits.check_mint(2)?;
    let joiner = Joiner {
        code: code.clone(),
        name: name.clone(),
        kind,
        headcount: req.headcount,
    };
    let settings = state.settings.clone();
    let admit = Box::new(move |seats| settings.limits.admit(code.as_str(), seats));
    match estrade_app::participants::join(&state.deps, joiner, admit).await {
        Ok((session, p)) => Ok(Json(tokens_for(&state, &session, &p, name.as_str())?)),
        Err(error) => Err(refused(&state, ip, &guess, error).await),
    }
}

/// A join's code, and whether it is a guess. A join by the link cannot be
/// a guess; any other is limited as one, and refused before anything is
/// looked up: a 429 says nothing about codes. The slot is held until the
/// answer, so parallel guesses cannot all be looked up before the first
/// failure counts.
struct Guess<'a> {
    code: JoinCode,
    by_link: bool,
    _in_flight: Option<crate::limits::InFlight<'a>>,
}

impl<'a> Guess<'a> {
    async fn enter(state: &'a AppState, ip: IpAddr, req: &JoinRequest) -> Result<Self, Error> {
        let limits = &state.settings.limits;
        let code = req.checked_link()?;
        let by_link = code
            .as_ref()
            .zip(req.link.as_deref())
            .is_some_and(|(code, key)| state.settings.join_links.verify(code.as_str(), key));
        let in_flight = if by_link {
            None
        } else {
            Some(limits.enter(ip)?)
        };
        let Some(code) = code else {
            limits.record_failure(ip, &mut state.redis.clone()).await?;
            return Err(Error::invalid("invalid_code", "A join code is six digits."));
        };
        Ok(Self {
            code,
            by_link,
            _in_flight: in_flight,
        })
    }
}

/// A refused join as the API answers it, counted where it must be: a code
/// that names no session as a failed guess (unless it came with the link's
/// key), a refusal by the session against its code.
async fn refused(state: &AppState, ip: IpAddr, guess: &Guess<'_>, error: UseCaseError) -> Error {
    let limits = &state.settings.limits;
    match error {
        UseCaseError::NoSuchCode { ended } => {
            if !guess.by_link
                && let Err(limited) = limits.record_failure(ip, &mut state.redis.clone()).await
            {
                return limited;
            }
            UseCaseError::NoSuchCode { ended }.into()
        }
        refusal @ (UseCaseError::NotStarted
        | UseCaseError::SessionEnded
        | UseCaseError::Locked
        | UseCaseError::Full) => {
            limits.record_code_failure(guess.code.as_str());
            gone_when_ended(refusal)
        }
        other => other.into(),
    }
}

/// The use case's refusal as a participant's credentials meet it: a
/// session that has ended is gone (410), a participant no longer known
/// unauthorized.
fn gone_when_ended(error: UseCaseError) -> Error {
    match error {
        UseCaseError::SessionEnded => Error::session_ended(),
        UseCaseError::NotFound => Error::Unauthorized,
        other => other.into(),
    }
}

impl JoinRequest {
    /// The code, if it reads as one, once the link's key (if any) is well
    /// formed.
    fn checked_link(&self) -> Result<Option<JoinCode>, Error> {
        if let Some(link) = &self.link
            && !is_link_key(link)
        {
            return Err(Error::invalid(
                "invalid_link",
                "link is the k= of the join link: 1 to 64 letters, digits, - or _.",
            ));
        }
        Ok(JoinCode::parse(&self.code).ok())
    }

    /// The name and kind, checked, and the headcount only for a classroom.
    fn validated(&self) -> Result<(DisplayName, ParticipantKind), Error> {
        let name = DisplayName::parse(&self.name)
            .map_err(|e| Error::invalid("invalid_name", format!("name: {e}.")))?;
        let kind = self.kind.unwrap_or(ParticipantKind::Learner);
        if !matches!(kind, ParticipantKind::Learner | ParticipantKind::Classroom) {
            return Err(Error::invalid(
                "invalid_kind",
                "kind must be learner or classroom.",
            ));
        }
        if let Some(n) = self.headcount
            && (kind != ParticipantKind::Classroom || !limits::HEADCOUNT.contains(&n))
        {
            return Err(Error::invalid(
                "invalid_headcount",
                "headcount is for a classroom, between 1 and 500.",
            ));
        }
        Ok((name, kind))
    }
}

fn is_link_key(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn tokens_for(
    state: &AppState,
    session: &Session,
    p: &Participant,
    name: &str,
) -> Result<Joined, Error> {
    let role = if p.kind == ParticipantKind::Classroom {
        Role::Classroom
    } else {
        Role::Learner
    };
    let livekit = state
        .deps
        .livekit
        .mint(role, &session.room_name, &p.identity, name)?;
    let ours = state.settings.participant_tokens.sign(p.id, session.id)?;
    Ok(Joined {
        session_id: session.id,
        session_title: session.title.clone(),
        participant_id: p.id,
        identity: p.identity.clone(),
        livekit_url: state.settings.livekit_url.clone(),
        livekit_token: livekit.jwt,
        participant_token: ours.token,
        expires_at: to_utc(ours.expires_at),
    })
}

/// New participant and LiveKit tokens, for a participant still in a live
/// session (refused once kicked or once the session ended).
#[utoipa::path(post, path = "/v1/participant/refresh", tag = "participants", security(("bearer" = [])),
    responses(
        (status = 200, body = Joined),
        (status = 401, description = "no valid participant token, or `token_revoked` after a kick", body = ErrorBody),
        (status = 403, description = "not a participant token", body = ErrorBody),
        (status = 410, description = "`session_ended`", body = ErrorBody),
        (status = 429, body = ErrorBody),
    ))]
pub async fn refresh(
    State(state): State<AppState>,
    caller: ParticipantCaller,
) -> Result<Json<Joined>, Error> {
    let (session, p) =
        estrade_app::participants::still_in(&state.deps, caller.session_id, caller.participant_id)
            .await
            .map_err(gone_when_ended)?;
    state.settings.limits.check_mint(2)?;
    Ok(Json(tokens_for(&state, &session, &p, &p.display_name)?))
}
