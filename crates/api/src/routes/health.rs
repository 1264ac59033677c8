//! Liveness and readiness. `/readyz` is public, and each probe costs a
//! PostgreSQL query, a Redis `PING` and a LiveKit call: one probe serves
//! every request for [`READY_FOR`], and requests arriving while it runs
//! wait for it rather than start their own, so a flood of `/readyz`
//! costs the dependencies nothing more.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::error::{Error, ErrorBody};
use crate::extract::Json;

/// How long one dependency may take to answer a readiness probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long one probe's outcome answers `/readyz`.
pub const READY_FOR: Duration = Duration::from_secs(1);

/// The last probe's outcome and when it was made; the lock is held while a
/// probe runs, so concurrent requests share it.
#[derive(Debug, Default, Clone)]
pub struct ReadinessCache(Arc<tokio::sync::Mutex<Option<(Instant, Checks)>>>);

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// The process is alive.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// Each dependency's state.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` when every dependency answered.
    #[schema(example = "ready")]
    pub status: &'static str,
    /// `ok` or `failed` for each dependency.
    pub checks: Checks,
}

/// Result of each readiness probe.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct Checks {
    /// PostgreSQL answered `select 1`.
    pub postgres: Check,
    /// Redis answered `PING`.
    pub redis: Check,
    /// LiveKit answered an authenticated `ListRooms`.
    pub livekit: Check,
}

/// One probe's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// Answered in time.
    Ok,
    /// Refused, errored or timed out.
    Failed,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "alive", body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

async fn probe<E: std::fmt::Display>(
    name: &'static str,
    fut: impl Future<Output = Result<(), E>>,
) -> Check {
    match tokio::time::timeout(PROBE_TIMEOUT, fut).await {
        Ok(Ok(())) => Check::Ok,
        Ok(Err(e)) => {
            tracing::warn!(dependency = name, error = %e, "readiness probe failed");
            Check::Failed
        }
        Err(_) => {
            tracing::warn!(dependency = name, "readiness probe timed out");
            Check::Failed
        }
    }
}

/// Readiness: 200 only when PostgreSQL, Redis and LiveKit all answer; the
/// 503 body's `details` says which failed. One probe answers for a second.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses(
        (status = 200, description = "every dependency answered", body = Readiness),
        (status = 503, description = "a dependency failed; `details.checks` says which", body = ErrorBody),
    ))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Readiness>, Error> {
    let checks = recent_checks(&state).await;
    let Checks {
        postgres,
        redis,
        livekit,
    } = checks;
    if [postgres, redis, livekit].iter().all(|c| *c == Check::Ok) {
        Ok(Json(Readiness {
            status: "ready",
            checks,
        }))
    } else {
        Err(Error::NotReady(serde_json::json!({ "checks": checks })))
    }
}

/// The last probe if it is recent enough, else a new one (shared by the
/// requests that arrive meanwhile).
async fn recent_checks(state: &AppState) -> Checks {
    let mut last = state.readiness.0.lock().await;
    match *last {
        Some((at, checks)) if at.elapsed() < READY_FOR => checks,
        _ => {
            let checks = probe_all(state).await;
            *last = Some((Instant::now(), checks));
            checks
        }
    }
}

async fn probe_all(state: &AppState) -> Checks {
    let mut redis = state.redis.clone();
    let (postgres, redis, livekit) = tokio::join!(
        probe("postgres", estrade_db::ping(&state.deps.db)),
        probe("redis", async move {
            redis::cmd("PING")
                .query_async::<String>(&mut redis)
                .await
                .map(|_| ())
        }),
        probe("livekit", state.deps.livekit.ping()),
    );
    Checks {
        postgres,
        redis,
        livekit,
    }
}
