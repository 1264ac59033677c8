//! Background work: the apalis monitor and every job it runs. This crate is
//! the only one that calls apalis (its 1.0 API is young), so an upgrade
//! touches one place. One file per job under `jobs/`.

pub mod jobs;

use std::str::FromStr as _;
use std::time::Duration;

use apalis::prelude::{Monitor, WorkerBuilder};
use apalis_cron::CronScheduler;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

/// What the worker needs beyond the database.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// How long in-flight jobs may drain after the shutdown signal.
    pub drain: Duration,
    /// How long learner data is kept after a session ends.
    pub retention: Duration,
}

/// Runs every job until `shutdown` is cancelled, then drains for at most
/// `config.drain`.
pub async fn run(
    config: WorkerConfig,
    db: PgPool,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    // Seconds first: at minute 7 of every hour.
    let hourly = cron::Schedule::from_str("0 7 * * * *")?;
    let retention = jobs::retention::Retention(config.retention);
    let monitor = Monitor::new()
        .register(move |_restarts| {
            WorkerBuilder::new("estrade-retention")
                .backend(CronScheduler::new(hourly.clone()))
                .data(db.clone())
                .data(retention)
                .build(jobs::retention::erase_expired_learner_data)
        })
        .should_restart(|worker, error| {
            tracing::error!(worker = worker.name(), %error, "worker stopped; restarting");
            true
        })
        .shutdown_timeout(config.drain);
    tracing::info!("worker running");
    monitor
        .run_with_signal(async move {
            shutdown.cancelled().await;
            Ok(())
        })
        .await?;
    tracing::info!("worker stopped");
    Ok(())
}
