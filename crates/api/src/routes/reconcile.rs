//! Reconciliation for IT staff: run it now, read the last report. The run
//! itself is `estrade_app::reconcile`; the worker also runs it on its
//! schedule.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use estrade_app::reconcile::{Report, RunError};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::auth::Admin;
use crate::error::{Error, ErrorBody};
use crate::extract::Json;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/reconcile", post(run_now))
        .route("/v1/admin/reconcile/last", get(last))
}

/// A reconciliation run's report.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReconcileReport {
    /// The run.
    pub id: Uuid,
    /// `schedule`, `admin` or `cli`.
    pub trigger: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it finished.
    pub finished_at: DateTime<Utc>,
    /// `ok`, or `failed` (LiveKit could not be listed, or a repair failed).
    pub outcome: String,
    /// Counts per repair kind: `room_vanished`, `orphan_room_deleted`,
    /// `orphan_room_reported`, `room_unstarted_reported`, `marked_present`,
    /// `marked_left`, `kicked_removed`, `unknown_participant`,
    /// `permission_drift`, `microphone_revoked`, `attributes_drift`.
    pub repairs: BTreeMap<String, u64>,
    /// What went wrong.
    pub error: Option<String>,
    /// LiveKit rooms looked at.
    pub rooms_checked: i32,
    /// LiveKit participants looked at.
    pub participants_checked: i32,
    /// LiveKit calls the run made.
    pub livekit_calls: i32,
}

impl From<Report> for ReconcileReport {
    fn from(r: Report) -> Self {
        Self {
            id: r.id,
            trigger: r.trigger,
            started_at: r.started_at,
            finished_at: r.finished_at,
            outcome: r.outcome,
            repairs: serde_json::from_value(r.repairs).unwrap_or_default(),
            error: r.error,
            rooms_checked: r.rooms_checked,
            participants_checked: r.participants_checked,
            livekit_calls: r.livekit_calls,
        }
    }
}

/// Run reconciliation now and answer with its report (`outcome` says
/// whether it succeeded). 409 while another run is in progress.
#[utoipa::path(post, path = "/v1/admin/reconcile", tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, body = ReconcileReport),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, description = "`reconcile_running`", body = ErrorBody),
    ))]
pub async fn run_now(
    State(state): State<AppState>,
    Admin(admin): Admin,
) -> Result<Json<ReconcileReport>, Error> {
    let report = match state.reconciler.run_for(&admin).await {
        Ok(report) => report,
        Err(RunError::Busy) => {
            return Err(Error::conflict(
                "reconcile_running",
                "A reconciliation run is in progress; its report will be at GET /v1/admin/reconcile/last.",
            ));
        }
        Err(RunError::Database(e)) => return Err(e.into()),
    };
    Ok(Json(report.into()))
}

/// The latest run's report (404 before the first run).
#[utoipa::path(get, path = "/v1/admin/reconcile/last", tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, body = ReconcileReport),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ))]
pub async fn last(
    State(state): State<AppState>,
    Admin(_admin): Admin,
) -> Result<Json<ReconcileReport>, Error> {
    let report = estrade_db::reconcile::last(&state.deps.db)
        .await?
        .ok_or(Error::NotFound)?;
    Ok(Json(report.into()))
}
