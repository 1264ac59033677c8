//! The API's one error type. Every 4xx/5xx body has the shape of API.md:
//! `{"error": {"code": "snake_case", "message": "One sentence."}}` with an
//! optional `details`. Client errors carry a safe message; internal errors
//! are logged once and answered with an opaque 500.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 400: the request could not be read (bad JSON syntax, bad header…).
    #[error("{0}")]
    Malformed(String),
    /// 401: no credential, or one we do not accept.
    #[error("a valid credential is required")]
    Unauthorized,
    /// 401 with a specific code (`invalid_webhook`).
    #[error("{message}")]
    Refused {
        /// Machine-readable code.
        code: &'static str,
        /// One sentence for a person.
        message: String,
    },
    /// 401: a participant token of a participant who was removed.
    #[error("this participant was removed from the session")]
    Revoked,
    /// 403: the credential is valid but may not do this.
    #[error("this credential may not do that")]
    Forbidden,
    /// 403 with a specific code: the deployment's policy forbids it
    /// (`refused_destination`).
    #[error("{message}")]
    Denied {
        /// Machine-readable code.
        code: &'static str,
        /// One sentence for a person.
        message: String,
    },
    /// 403: only the session's own teacher may do this (run the floor).
    #[error("only the session's teacher may do that")]
    OwnerOnly,
    /// 403: a change asked with the console's cookie from a page that is
    /// not Estrade's own (no `Origin`, or another one).
    #[error("cross-origin request refused")]
    CrossOrigin,
    /// 404: no such thing (also used where a 403 would reveal existence).
    #[error("not found")]
    NotFound,
    /// 404 with a specific code (`unknown_code`).
    #[error("{message}")]
    Missing {
        /// Machine-readable code.
        code: &'static str,
        /// One sentence for a person.
        message: String,
    },
    /// 410: it existed and is over (`session_ended`).
    #[error("{message}")]
    Gone {
        /// Machine-readable code.
        code: &'static str,
        /// One sentence for a person.
        message: String,
    },
    /// 429: try again after this long.
    #[error("too many requests")]
    RateLimited(std::time::Duration),
    /// 429 with a specific code (`too_many_streams`): this caller holds
    /// too much at once; `Retry-After` says when to try again.
    #[error("{message}")]
    TooMany {
        /// Machine-readable code.
        code: &'static str,
        /// One sentence for a person.
        message: String,
        /// When to try again.
        retry_after: std::time::Duration,
    },
    /// 408: the request was not received and answered in time.
    #[error("request timed out")]
    TimedOut(std::time::Duration),
    /// 405: the path exists but not with this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 409: conflicts with the current state.
    #[error("{message}")]
    Conflict {
        /// Machine-readable code.
        code: &'static str,
        /// One sentence for a person.
        message: String,
    },
    /// 413: the body is larger than the configured limit.
    #[error("request body too large")]
    PayloadTooLarge,
    /// 415: the body is not `application/json`.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// 422: well-formed but invalid values.
    #[error("{message}")]
    Invalid {
        /// Machine-readable code.
        code: &'static str,
        /// One sentence for a person.
        message: String,
    },
    /// 503 from `/readyz`: which dependency failed.
    #[error("not ready")]
    NotReady(Value),
    /// 503 with a specific code (`streams_full`): this process is at a
    /// configured capacity; `Retry-After` says when to try again.
    #[error("{message}")]
    Saturated {
        /// Machine-readable code.
        code: &'static str,
        /// One sentence for a person.
        message: String,
        /// When to try again.
        retry_after: std::time::Duration,
    },
    /// 503: a dependency (PostgreSQL, Redis, LiveKit) is down.
    #[error("{0} is unavailable")]
    Unavailable(&'static str),
    /// 500: a bug or an unexpected failure; never shown to the client.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable, snake_case.
    #[schema(example = "not_found")]
    pub code: String,
    /// One sentence for a person.
    #[schema(example = "Nothing exists at this address.")]
    pub message: String,
    /// Extra structured information, when useful.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

impl Error {
    /// The HTTP status for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Malformed(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized | Self::Revoked | Self::Refused { .. } => StatusCode::UNAUTHORIZED,
            Self::Missing { .. } => StatusCode::NOT_FOUND,
            Self::Gone { .. } => StatusCode::GONE,
            Self::RateLimited(_) | Self::TooMany { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::TimedOut(_) => StatusCode::REQUEST_TIMEOUT,
            Self::Forbidden | Self::CrossOrigin | Self::OwnerOnly | Self::Denied { .. } => {
                StatusCode::FORBIDDEN
            }
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::NotReady(_) | Self::Unavailable(_) | Self::Saturated { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn body(&self) -> ErrorDetail {
        let (code, message, details) = match self {
            Self::Malformed(m) => ("malformed_request", m.clone(), None),
            Self::Unauthorized => (
                "unauthorized",
                "A valid credential is required.".to_owned(),
                None,
            ),
            Self::Forbidden => (
                "forbidden",
                "This credential is not allowed to do that.".to_owned(),
                None,
            ),
            Self::OwnerOnly => (
                "owner_only",
                "Only the session's own teacher gives and takes the floor; an admin can remove participants or end the session.".to_owned(),
                None,
            ),
            Self::CrossOrigin => (
                "cross_origin",
                "This request did not come from Estrade's own pages, so the sign-in cookie does not count for it.".to_owned(),
                None,
            ),
            Self::NotFound => (
                "not_found",
                "Nothing exists at this address.".to_owned(),
                None,
            ),
            Self::MethodNotAllowed => (
                "method_not_allowed",
                "This address does not accept that method.".to_owned(),
                None,
            ),
            Self::Revoked => (
                "token_revoked",
                "This participant was removed from the session.".to_owned(),
                None,
            ),
            Self::Conflict { code, message }
            | Self::Invalid { code, message }
            | Self::Missing { code, message }
            | Self::Refused { code, message }
            | Self::Denied { code, message }
            | Self::Gone { code, message }
            | Self::TooMany { code, message, .. }
            | Self::Saturated { code, message, .. } => (*code, message.clone(), None),
            Self::TimedOut(limit) => (
                "request_timeout",
                format!(
                    "The request was not received and answered within {} s.",
                    limit.as_secs()
                ),
                None,
            ),
            Self::RateLimited(_) => (
                "rate_limited",
                "Too many attempts; wait before trying again.".to_owned(),
                None,
            ),
            Self::PayloadTooLarge => (
                "payload_too_large",
                "The request body is too large.".to_owned(),
                None,
            ),
            Self::UnsupportedMediaType => (
                "unsupported_media_type",
                "The request body must be JSON (Content-Type: application/json).".to_owned(),
                None,
            ),
            Self::NotReady(details) => (
                "not_ready",
                "A dependency is not answering; see details.".to_owned(),
                Some(details.clone()),
            ),
            Self::Unavailable(what) => (
                "unavailable",
                format!("{what} is not answering; try again shortly."),
                None,
            ),
            Self::Internal(_) => (
                "internal",
                "Something went wrong on our side.".to_owned(),
                None,
            ),
        };
        ErrorDetail {
            code: code.to_owned(),
            message,
            details,
        }
    }

    /// The generic error for a status produced outside our handlers (a
    /// middleware, a framework rejection without JSON body).
    pub fn for_status(status: StatusCode) -> Response {
        let error = match status {
            StatusCode::BAD_REQUEST => Self::Malformed("The request could not be read.".to_owned()),
            StatusCode::UNAUTHORIZED => Self::Unauthorized,
            StatusCode::FORBIDDEN => Self::Forbidden,
            StatusCode::NOT_FOUND => Self::NotFound,
            StatusCode::TOO_MANY_REQUESTS => Self::RateLimited(std::time::Duration::from_secs(1)),
            StatusCode::METHOD_NOT_ALLOWED => Self::MethodNotAllowed,
            StatusCode::PAYLOAD_TOO_LARGE => Self::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::UnsupportedMediaType,
            StatusCode::SERVICE_UNAVAILABLE => Self::Unavailable("A dependency"),
            s if s.is_client_error() => Self::Invalid {
                code: "invalid_request",
                message: "The request was refused.".to_owned(),
            },
            _ => return opaque(status),
        };
        let mut response = error.into_response();
        *response.status_mut() = status;
        response
    }
}

fn opaque(status: StatusCode) -> Response {
    let body = ErrorBody {
        error: ErrorDetail {
            code: "internal".to_owned(),
            message: "Something went wrong on our side.".to_owned(),
            details: None,
        },
    };
    (status, Json(body)).into_response()
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        if let Self::Internal(e) = &self {
            // Logged once, here; the client sees only "internal". The chain
            // of Display messages, never Debug: a database error's Debug
            // carries the failing row, which may hold a learner's name.
            tracing::error!(error = format!("{e:#}"), "internal error");
        }
        let mut response = (self.status(), Json(ErrorBody { error: self.body() })).into_response();
        let wait = match self {
            Self::RateLimited(wait)
            | Self::TooMany {
                retry_after: wait, ..
            }
            | Self::Saturated {
                retry_after: wait, ..
            } => Some(wait),
            _ => None,
        };
        if let Some(wait) = wait {
            // Whole seconds, rounded up: 0 would invite an immediate retry.
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(secs.max(1)),
            );
        }
        response
    }
}

impl From<JsonRejection> for Error {
    fn from(rejection: JsonRejection) -> Self {
        match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => Self::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::UnsupportedMediaType,
            StatusCode::UNPROCESSABLE_ENTITY => Self::Invalid {
                code: "invalid_body",
                message: rejection.body_text(),
            },
            _ => Self::Malformed(rejection.body_text()),
        }
    }
}

impl Error {
    /// A 409 with a code and a sentence.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }

    /// The 410 of everything a participant asks once its session ended.
    pub fn session_ended() -> Self {
        Self::Gone {
            code: "session_ended",
            message: "This session has ended.".to_owned(),
        }
    }

    /// A 422 with a code and a sentence.
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            code,
            message: message.into(),
        }
    }
}

impl From<estrade_livekit::Error> for Error {
    fn from(e: estrade_livekit::Error) -> Self {
        if e.is_transient() {
            tracing::warn!(error = %e, "LiveKit call failed");
            Self::Unavailable("LiveKit")
        } else {
            Self::Internal(anyhow::Error::new(e).context("LiveKit refused a call"))
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        if is_unavailable(&e) {
            Self::Unavailable("PostgreSQL")
        } else {
            Self::Internal(e.into())
        }
    }
}

/// PostgreSQL is down for now, not broken: unreachable, its pool closed or
/// exhausted, shutting down (57P01 admin_shutdown, 57P02 crash_shutdown),
/// starting up (57P03 cannot_connect_now), out of connections (53300).
fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => true,
        sqlx::Error::Database(d) => matches!(
            d.code().as_deref(),
            Some("57P01" | "57P02" | "57P03" | "53300")
        ),
        _ => false,
    }
}

/// The use cases' refusals as the API answers them.
impl From<estrade_app::Error> for Error {
    fn from(error: estrade_app::Error) -> Self {
        use estrade_app::{CapacityLimit, Error as E};
        match error {
            E::NotFound => Self::NotFound,
            E::NoSuchCode { ended: true } => Self::session_ended(),
            E::NoSuchCode { ended: false } => Self::Missing {
                code: "unknown_code",
                message: "No session uses this code; check the digits.".to_owned(),
            },
            E::NotStarted => {
                Self::conflict("session_not_started", "This session has not started yet.")
            }
            E::Locked => Self::conflict(
                "session_locked",
                "The teacher has closed this session to new arrivals.",
            ),
            E::Full => Self::conflict("session_full", "This session is full."),
            E::Kicked => Self::Revoked,
            E::NotLive => Self::conflict(
                "session_not_live",
                "The floor is only open while the session is live.",
            ),
            E::SessionEnded => Self::conflict("session_ended", "This session has ended."),
            E::SessionNotEnded => Self::conflict(
                "session_not_ended",
                "This session has not ended; end it before erasing its data.",
            ),
            E::OwnerOnly => Self::OwnerOnly,
            E::Forbidden => Self::Forbidden,
            E::CannotKickTeacher => Self::conflict(
                "cannot_kick_teacher",
                "The session's teacher cannot be removed; end the session instead.",
            ),
            E::CannotDisableSelf => Self::conflict(
                "cannot_disable_self",
                "An admin cannot disable its own account.",
            ),
            E::LastAdmin => Self::conflict("last_admin", "This is the last enabled admin account."),
            E::AccountDisabled => Self::conflict("account_disabled", "This account is disabled."),
            E::AlreadyProcessed => Self::conflict(
                "already_processed",
                "This event was applied already; it is not applied twice.",
            ),
            E::NotALearner => Self::conflict(
                "not_a_learner",
                "Only learners and classrooms take the floor; the teacher always may speak.",
            ),
            E::ParticipantLeft => {
                Self::conflict("participant_left", "This participant has left the session.")
            }
            E::Refused(refusal) => refused(refusal),
            E::InvalidQuestion(error) => Self::invalid("invalid_question", error.to_string()),
            E::InvalidPoll(error) => Self::invalid("invalid_poll", error.to_string()),
            E::InvalidEndpoint(error @ estrade_core::outbound::EndpointError::Destination) => {
                Self::Denied {
                    code: error.code(),
                    message: error.to_string(),
                }
            }
            E::InvalidEndpoint(error) => Self::invalid(error.code(), error.to_string()),
            E::PollOpen => Self::conflict(
                "poll_open",
                "A poll is open in this session; close it before opening another.",
            ),
            E::PollClosed => Self::conflict("poll_closed", "This poll is closed."),
            E::InvalidChoice => Self::invalid("invalid_choice", "This poll has no such choice."),
            E::LiveKit(error) => error.into(),
            E::Database(error) => error.into(),
            E::BatchFailed(error) if is_unavailable(&error) => Self::Unavailable("PostgreSQL"),
            E::BatchFailed(error) => Self::Internal(anyhow::Error::new(error)),
            E::TooManyJoins { retry_after } => Self::RateLimited(retry_after),
            E::TooManyLiveSessions { limit } => Self::conflict(
                "too_many_live_sessions",
                format!(
                    "This account already runs {limit} live session{}; end one before starting another.",
                    if limit == 1 { "" } else { "s" }
                ),
            ),
            E::AtCapacity(limit) => {
                let (code, message) = match limit {
                    CapacityLimit::LiveSessions(n) => (
                        "too_many_sessions",
                        format!(
                            "Estrade is running its limit of {n} live sessions; try again when one ends."
                        ),
                    ),
                    CapacityLimit::Seats(n) => (
                        "too_many_seats",
                        format!(
                            "Live sessions already reserve Estrade's limit of {n} seats; start a smaller class, or try again when one ends."
                        ),
                    ),
                };
                Self::Saturated {
                    code,
                    message,
                    retry_after: std::time::Duration::from_secs(60),
                }
            }
        }
    }
}

/// The floor's refusals: 409 with the refusal's code, 422 for settings.
fn refused(refusal: estrade_core::floor::Refusal) -> Error {
    use estrade_core::floor::Refusal;
    let code = match refusal {
        Refusal::Closed => "floor_closed",
        Refusal::AlreadyQueued => "hand_already_raised",
        Refusal::AlreadySpeaking => "already_speaking",
        Refusal::QueueEmpty => "queue_empty",
        Refusal::Full => "floor_full",
        Refusal::QuestionWaiting => "question_waiting",
        Refusal::QuestionNotWaiting => "question_not_waiting",
        Refusal::InvalidMaxSpeakers => {
            return Error::invalid("invalid_floor", refusal.to_string());
        }
    };
    Error::conflict(code, refusal.to_string())
}
