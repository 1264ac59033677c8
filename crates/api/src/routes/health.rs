//! Liveness and readiness.

use std::time::Duration;

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
#[derive(Debug, Serialize, ToSchema)]
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
/// 503 body's `details` says which failed.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses(
        (status = 200, description = "every dependency answered", body = Readiness),
        (status = 503, description = "a dependency failed; `details.checks` says which", body = ErrorBody),
    ))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Readiness>, Error> {
    let mut redis = state.redis.clone();
    let (postgres, redis, livekit) = tokio::join!(
        probe("postgres", estrade_db::ping(&state.db)),
        probe("redis", async move {
            redis::cmd("PING")
                .query_async::<String>(&mut redis)
                .await
                .map(|_| ())
        }),
        probe("livekit", state.livekit.ping()),
    );
    let checks = Checks {
        postgres,
        redis,
        livekit,
    };
    if [postgres, redis, livekit].iter().all(|c| *c == Check::Ok) {
        Ok(Json(Readiness {
            status: "ready",
            checks,
        }))
    } else {
        Err(Error::NotReady(serde_json::json!({ "checks": checks })))
    }
}
