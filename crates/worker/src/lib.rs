//! Background work: the webhook consumer, its sweeper, and the scheduled
//! jobs. This crate is the only one that calls apalis (its 1.0 API is
//! young), so an upgrade touches one place. One file per job under `jobs/`.
//!
//! apalis-redis 1.0 has weak spots this module works around rather than
//! trusts: a consumer dies on a Redis error or stall, so `consume_webhooks`
//! restarts it with backoff (0.25 s, 0.5 s, then every second) under a fresh worker name (a name reused inside
//! the heartbeat window is refused); a job can be lost with a killed
//! worker or a Redis restart, so the sweeper pushes again every inbox row
//! still pending after a grace period, and applies rows itself while Redis
//! cannot take them.

pub mod enforce;
pub mod events;
pub mod jobs;
pub mod queue;
pub mod reconcile;

use std::str::FromStr as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use apalis::layers::WorkerBuilderExt as _;
use apalis::prelude::{BackendExt as _, Monitor, WorkerBuilder};
use apalis_core::backend::Vacuum as _;
use apalis_cron::CronScheduler;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

pub use queue::WebhookQueue;

/// What the worker needs beyond the database and the queue.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// How long in-flight jobs may drain after the shutdown signal.
    pub drain: Duration,
    /// How long learner data is kept after a session ends.
    pub retention: Duration,
    /// How long a pending event may wait in the queue before the sweeper
    /// pushes it again.
    pub requeue_after: Duration,
    /// Webhook jobs applied at once by this process.
    pub concurrency: usize,
    /// When reconciliation runs (cron, with seconds); never when `None`.
    pub reconcile_cron: Option<String>,
    /// Whether reconciliation deletes rooms no live session owns.
    pub delete_orphan_rooms: bool,
}

/// Runs every job until `shutdown` is cancelled, then drains for at most
/// `config.drain`.
pub async fn run(
    config: WorkerConfig,
    db: PgPool,
    queue: WebhookQueue,
    livekit: estrade_livekit::Gateway,
    notifier: events::Notifier,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    // Seconds first: at minute 7 of every hour.
    let hourly = cron::Schedule::from_str("0 7 * * * *")?;
    let reconcile_schedule = config
        .reconcile_cron
        .as_deref()
        .map(cron::Schedule::from_str)
        .transpose()?;
    let retention = jobs::retention::Retention(config.retention);
    let cron_db = db.clone();
    let reconciler = reconcile::Reconciler {
        db: db.clone(),
        livekit: livekit.clone(),
        notifier: notifier.clone(),
        delete_orphan_rooms: config.delete_orphan_rooms,
    };
    let mut monitor = Monitor::new();
    if let Some(schedule) = reconcile_schedule {
        monitor = monitor.register(move |_restarts| {
            WorkerBuilder::new("estrade-reconcile")
                .backend(CronScheduler::new(schedule.clone()))
                .data(reconciler.clone())
                .build(jobs::reconcile::scheduled)
        });
    } else {
        tracing::info!("no scheduled reconciliation (ESTRADE_RECONCILE_EVERY_S=0)");
    }
    let monitor = monitor
        .register(move |_restarts| {
            WorkerBuilder::new("estrade-retention")
                .backend(CronScheduler::new(hourly.clone()))
                .data(cron_db.clone())
                .data(retention)
                .build(jobs::retention::erase_expired_learner_data)
        })
        .should_restart(|worker, error| {
            tracing::error!(worker = worker.name(), %error, "worker stopped; restarting");
            true
        })
        .shutdown_timeout(config.drain);
    let scheduled = {
        let shutdown = shutdown.clone();
        monitor.run_with_signal(async move {
            shutdown.cancelled().await;
            Ok(())
        })
    };
    tracing::info!("worker running");
    let consumer = consume_webhooks(&config, &db, &livekit, &notifier, &queue, &shutdown);
    let sweeper = sweep(&config, &db, &livekit, &notifier, &queue, &shutdown);
    let timers = floor_timers(&db, &livekit, &notifier, &shutdown);
    let (scheduled, (), (), ()) = tokio::join!(scheduled, consumer, sweeper, timers);
    scheduled?;
    tracing::info!("worker stopped");
    Ok(())
}

/// A worker name no other process, nor an earlier run of this one, uses.
fn unique_name(role: &str) -> String {
    static RUN: AtomicU64 = AtomicU64::new(0);
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into());
    format!(
        "estrade-{role}-{host}-{}-{}",
        std::process::id(),
        RUN.fetch_add(1, Ordering::Relaxed)
    )
}

/// Consumes the webhook queue; restarts the apalis worker whenever it
/// stops on an error, with backoff, until `shutdown`.
async fn consume_webhooks(
    config: &WorkerConfig,
    db: &PgPool,
    livekit: &estrade_livekit::Gateway,
    notifier: &events::Notifier,
    queue: &WebhookQueue,
    shutdown: &CancellationToken,
) {
    let mut backoff = Duration::from_millis(250);
    while !shutdown.is_cancelled() {
        let started = Instant::now();
        let worker = WorkerBuilder::new(unique_name("webhooks"))
            // Idle consumers look for work every 10 ms; a busy one fetches
            // the next batch as soon as it is done.
            .backend(
                queue
                    .storage()
                    .poll_with_interval(Duration::from_millis(10)),
            )
            .data(db.clone())
            .data(livekit.clone())
            .data(notifier.clone())
            .concurrency(config.concurrency)
            .build(jobs::webhook::handle);
        let stop = shutdown.clone();
        let run = worker.run_until(async move {
            stop.cancelled().await;
            Ok::<(), std::io::Error>(())
        });
        let result = nudged(run, Duration::from_millis(10)).await;
        if shutdown.is_cancelled() {
            break;
        }
        metrics::counter!("worker_consumer_restarts_total").increment(1);
        match result {
            Ok(()) => tracing::warn!("webhook consumer stopped; restarting"),
            Err(error) => tracing::warn!(%error, "webhook consumer failed; restarting"),
        }
        if started.elapsed() > Duration::from_secs(30) {
            backoff = Duration::from_millis(250);
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = shutdown.cancelled() => break,
        }
        backoff = (backoff * 2).min(Duration::from_secs(1));
    }
}

/// Polls `fut` whenever it wakes itself and at least every `period`.
/// apalis 1.0's polling loses a wake-up now and then: measured, an idle
/// consumer sat up to a second (until something else polled it) with jobs
/// waiting in Redis. Polling a future again is harmless; this bounds that
/// stall to `period`.
async fn nudged<F: std::future::Future>(fut: F, period: Duration) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            biased;
            out = &mut fut => return out,
            _ = tick.tick() => {}
        }
    }
}

/// Every second: warns of speaking turns about to end, ends those whose
/// time limit ran out, and retries the LiveKit changes that failed.
async fn floor_timers(
    db: &PgPool,
    livekit: &estrade_livekit::Gateway,
    notifier: &events::Notifier,
    shutdown: &CancellationToken,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.cancelled() => return,
        }
        if let Err(error) = jobs::floor_timer::warn_due(db, notifier).await {
            tracing::warn!(%error, "warning of speaking turns about to end failed");
        }
        if let Err(error) = jobs::floor_timer::expire_due(db, livekit, notifier).await {
            tracing::warn!(%error, "ending expired speaking turns failed");
        }
        if let Err(error) = enforce::repair_due(db, livekit).await {
            tracing::warn!(%error, "retrying LiveKit floor changes failed");
        }
    }
}

/// Every second: pushes again the pending events that are due and have
/// waited longer than `requeue_after` (applying them here while Redis
/// refuses them), and publishes the backlog as metrics. Every minute:
/// clears finished jobs out of Redis.
async fn sweep(
    config: &WorkerConfig,
    db: &PgPool,
    livekit: &estrade_livekit::Gateway,
    notifier: &events::Notifier,
    queue: &WebhookQueue,
    shutdown: &CancellationToken,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_vacuum = Instant::now();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.cancelled() => return,
        }
        if let Err(error) = sweep_once(config, db, livekit, notifier, queue).await {
            tracing::warn!(%error, "webhook sweep failed");
        }
        if last_vacuum.elapsed() > Duration::from_secs(60) {
            last_vacuum = Instant::now();
            if let Err(error) = vacuum(queue).await {
                tracing::warn!(%error, "clearing finished jobs from Redis failed");
            }
        }
    }
}

/// One sweep. Returns how many events it queued again or applied.
///
/// When the Redis queue is empty, the due events were lost by Redis (a
/// restart, a killed consumer): they are queued again. When it is not (the
/// consumer is behind or gone) or Redis does not take a push within 250 ms,
/// pushing more would only add duplicates: the sweeper applies them itself,
/// eight at a time. Either way Postgres decides what is still to do.
pub async fn sweep_once(
    config: &WorkerConfig,
    db: &PgPool,
    livekit: &estrade_livekit::Gateway,
    notifier: &events::Notifier,
    queue: &WebhookQueue,
) -> Result<usize, sqlx::Error> {
    use futures::StreamExt as _;
    const PUSH_TIMEOUT: Duration = Duration::from_millis(250);
    let due = estrade_db::webhooks::claim_due(db, config.requeue_after, 500).await?;
    let depth = tokio::time::timeout(PUSH_TIMEOUT, queue.depth())
        .await
        .ok()
        .and_then(Result::ok);
    if let Some(depth) = depth {
        metrics::gauge!("webhooks_queue_depth").set(depth as f64);
    }
    let mut push = depth == Some(0);
    let mut direct = Vec::new();
    for event_id in &due {
        if push {
            match tokio::time::timeout(PUSH_TIMEOUT, queue.push_again(event_id)).await {
                Ok(Ok(())) => continue,
                _ => push = false,
            }
        }
        direct.push(event_id.as_str());
    }
    futures::stream::iter(direct.iter().copied())
        .for_each_concurrent(8, |event_id| async move {
            if let Err(error) = jobs::webhook::apply(db, livekit, notifier, event_id).await {
                tracing::warn!(event.id = %event_id, %error, "sweeper could not apply a webhook");
            }
        })
        .await;
    if !due.is_empty() {
        metrics::counter!("webhooks_swept_total").increment(due.len() as u64);
        tracing::info!(
            events = due.len(),
            applied_here = direct.len(),
            "pending webhooks taken up by the sweeper"
        );
    }
    let backlog = estrade_db::webhooks::backlog(db).await?;
    metrics::gauge!("webhooks_pending").set(backlog.pending as f64);
    metrics::gauge!("webhooks_dead_letters").set(backlog.failed as f64);
    metrics::gauge!("webhooks_oldest_pending_seconds").set(backlog.oldest_pending_s);
    Ok(due.len())
}

/// apalis-redis keeps every finished job's data and id until a vacuum, and
/// its vacuum leaves the set of done ids; both would grow without bound.
async fn vacuum(queue: &WebhookQueue) -> Result<(), apalis_redis::Error> {
    let mut storage = queue.storage();
    let removed = storage.vacuum().await?;
    let done = storage.get_config().done_jobs_set();
    redis::cmd("DEL")
        .arg(done)
        .query_async::<()>(storage.get_connection())
        .await?;
    tracing::debug!(removed, "finished jobs cleared from Redis");
    Ok(())
}
