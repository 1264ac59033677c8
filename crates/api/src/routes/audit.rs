//! `GET /v1/admin/audit`: the audit log for IT staff, newest first,
//! filtered by session, actor and action, a page at a time.

use axum::Router;
use axum::extract::{Query, State};
use axum::routing::get;
use chrono::{DateTime, Utc};
use estrade_db::audit::Filter;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::auth::Admin;
use crate::error::{Error, ErrorBody};
use crate::extract::Json;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/v1/admin/audit", get(list))
}

/// Filters for `GET /v1/admin/audit` (all optional).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only entries about this session.
    #[param(value_type = Option<Uuid>)]
    pub session_id: Option<String>,
    /// Only entries by this account or participant.
    #[param(value_type = Option<Uuid>)]
    pub actor_id: Option<String>,
    /// Only this action (`participant.kicked`), or a family when it ends
    /// with a dot (`floor.`): lower-case words joined by dots, at most 64
    /// characters.
    #[param(max_length = 64, pattern = r"^[a-z_]+(\.[a-z_]+)*\.?$")]
    pub action: Option<String>,
    /// At most this many, 1–500 (default 100).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    /// The previous page's `next_before`: entries older than that.
    #[param(value_type = Option<i64>, minimum = 1)]
    pub before: Option<String>,
}

/// Who did it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditActor {
    /// `account`, `participant`, `system` or `livekit`.
    pub kind: String,
    /// The account or participant (absent for `system` and `livekit`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
}

/// One audit entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    /// Increases with every entry.
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: AuditActor,
    /// What, dotted: `session.started`, `participant.kicked`, …
    pub action: String,
    /// The session concerned, if any.
    pub session_id: Option<Uuid>,
    /// The object acted on (participant, account, key…), if any.
    pub target_id: Option<Uuid>,
    /// Structured facts; never secrets or learners' names.
    pub details: Value,
}

/// A page of audit entries.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// Newest first.
    pub entries: Vec<AuditEntry>,
    /// Pass as `before` for the next page; null on the last one.
    pub next_before: Option<String>,
}

fn uuid_param(value: Option<&str>, name: &str) -> Result<Option<Uuid>, Error> {
    value
        .map(|v| {
            v.parse()
                .map_err(|_| Error::invalid("invalid_query", format!("{name} must be a UUID.")))
        })
        .transpose()
}

fn filter_of(query: &AuditQuery) -> Result<(Filter, i64), Error> {
    let action = match query.action.as_deref() {
        None => None,
        Some(a) => {
            let words = a.strip_suffix('.').unwrap_or(a);
            let ok = a.len() <= 64
                && !words.is_empty()
                && words.split('.').all(|w| {
                    !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                });
            if !ok {
                return Err(Error::invalid(
                    "invalid_query",
                    "action must be lower-case words joined by dots, such as participant.kicked or floor.",
                ));
            }
            Some(a.to_owned())
        }
    };
    let limit = crate::extract::page_limit(query.limit.as_deref(), 100)?;
    let before_id = query
        .before
        .as_deref()
        .map(|b| {
            b.parse::<i64>().ok().filter(|b| *b > 0).ok_or_else(|| {
                Error::invalid("invalid_query", "before must be a page's next_before.")
            })
        })
        .transpose()?;
    let filter = Filter {
        session_id: uuid_param(query.session_id.as_deref(), "session_id")?,
        actor_id: uuid_param(query.actor_id.as_deref(), "actor_id")?,
        action,
        before_id,
    };
    Ok((filter, limit))
}

/// The audit log, newest first (admins).
#[utoipa::path(get, path = "/v1/admin/audit", tag = "admin", params(AuditQuery), operation_id = "list_audit",
    security(("bearer" = [])),
    responses(
        (status = 200, body = AuditPage),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, description = "`invalid_query`", body = ErrorBody),
    ))]
pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    Query(query): Query<AuditQuery>,
) -> Result<Json<AuditPage>, Error> {
    let (filter, limit) = filter_of(&query)?;
    let rows = estrade_db::audit::list(&state.deps.db, &filter, limit).await?;
    let full = usize::try_from(limit).is_ok_and(|l| rows.len() == l);
    let next_before = rows.last().filter(|_| full).map(|r| r.id.to_string());
    let entries = rows.into_iter().map(AuditEntry::from).collect();
    Ok(Json(AuditPage {
        entries,
        next_before,
    }))
}

impl From<estrade_db::audit::Stored> for AuditEntry {
    fn from(r: estrade_db::audit::Stored) -> Self {
        Self {
            id: r.id,
            at: r.at,
            actor: AuditActor {
                kind: r.actor_kind,
                id: r.actor_id,
            },
            action: r.action,
            session_id: r.session_id,
            target_id: r.target_id,
            details: r.details,
        }
    }
}
