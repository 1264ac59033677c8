//! Background work: the webhook consumer, its sweeper, the floor's timers,
//! the webhooks to the LMS and the scheduled jobs: when things run. What they do is the use cases'
//! (`estrade_app`). This crate runs apalis (its 1.0 API is young); the
//! queue's type itself is `estrade_app::queue`, where the API pushes. One
//! file per job under `jobs/`.
//!
//! apalis-redis 1.0 has weak spots this module works around rather than
//! trusts: a consumer dies on a Redis error or stall, so `consume_webhooks`
//! restarts it with backoff (0.25 s, 0.5 s, then every second) under a
//! fresh worker name (a name reused inside the heartbeat window is
//! refused); a job can be lost with a killed worker or a Redis restart; and
//! its 1.0.0 release sent every job through a scheduled set that a backlog
//! of ~8,000 jobs made unreadable for good (patched in `vendor/apalis-redis`).
//! So Redis is only the fast path: whenever the queue does not deliver (the
//! consumer failing or stalled, Redis unreachable or empty of what the
//! inbox still holds), the sweeper applies the overdue events straight from
//! PostgreSQL, oldest first and in order per room, until the queue carries
//! them again.

pub mod jobs;

use std::str::FromStr as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use apalis::layers::WorkerBuilderExt as _;
use apalis::prelude::{BackendExt as _, Monitor, WorkerBuilder};
use apalis_core::backend::Vacuum as _;
use apalis_cron::CronScheduler;
use estrade_app::{Deps, WebhookQueue, reconcile};
use tokio_util::sync::CancellationToken;

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
    deps: Deps,
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
    let cron_db = deps.db.clone();
    let reconciler = reconcile::Reconciler {
        deps: deps.clone(),
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
    // Zero until something happens, so that alerts see the series at once.
    metrics::counter!("webhooks_consumer_failures_total").absolute(0);
    metrics::counter!("webhooks_applied_from_inbox_total").absolute(0);
    metrics::gauge!("webhooks_inbox_path_active").set(0.0);
    let health = std::sync::Arc::new(ConsumerHealth::default());
    let consumer = consume_webhooks(&config, &deps, &health, &shutdown);
    let sweeper = sweep(&config, &deps, &health, &shutdown);
    let timers = floor_timers(&deps, &shutdown);
    let outbound = deliver_outbound(&deps, &shutdown);
    let (scheduled, (), (), (), ()) = tokio::join!(scheduled, consumer, sweeper, timers, outbound);
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
    deps: &Deps,
    health: &std::sync::Arc<ConsumerHealth>,
    shutdown: &CancellationToken,
) {
    let mut backoff = Duration::from_millis(250);
    let appliers = estrade_app::webhooks::Appliers::new(deps.clone());
    while !shutdown.is_cancelled() {
        let started = Instant::now();
        let worker = WorkerBuilder::new(unique_name("webhooks"))
            // Idle consumers look for work every 10 ms; a busy one fetches
            // the next batch as soon as it is done.
            .backend(
                deps.queue
                    .storage()
                    .poll_with_interval(Duration::from_millis(10)),
            )
            .data(appliers.clone())
            .data(health.clone())
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
        metrics::counter!("webhooks_consumer_failures_total").increment(1);
        health.failed();
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
/// time limit ran out, takes the floor from participants that hold no seat
/// any more (never arrived, or gone past the grace), and retries the
/// LiveKit changes that failed.
async fn floor_timers(deps: &Deps, shutdown: &CancellationToken) {
    use estrade_app::floor::timers;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.cancelled() => return,
        }
        if let Err(error) = timers::warn_due(deps).await {
            tracing::warn!(%error, "warning of speaking turns about to end failed");
        }
        if let Err(error) = timers::expire_due(deps).await {
            tracing::warn!(%error, "ending expired speaking turns failed");
        }
        if let Err(error) = timers::release_absent(deps).await {
            tracing::warn!(%error, "taking the floor from absent participants failed");
        }
        if let Err(error) = estrade_app::enforce::repair_due(&deps.db, &deps.livekit).await {
            tracing::warn!(%error, "retrying LiveKit floor changes failed");
        }
    }
}

/// Every second, and at once again after a full pass: sends the due
/// webhooks to the LMS (`estrade_app::outbound::send`) and publishes the
/// outbox's backlog. An attempt in flight at shutdown is dropped; its lease
/// brings it back to the next worker, with the same `webhook-id`.
async fn deliver_outbound(deps: &Deps, shutdown: &CancellationToken) {
    use estrade_app::outbound::send;
    let sender = send::Sender::new(&deps.outbound);
    metrics::counter!("outbound_webhook_attempts_total", "result" => "delivered").absolute(0);
    metrics::counter!("outbound_webhook_attempts_total", "result" => "retry").absolute(0);
    metrics::counter!("outbound_webhook_attempts_total", "result" => "failed").absolute(0);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.cancelled() => return,
        }
        loop {
            let pass = tokio::select! {
                pass = send::deliver_due(deps, &sender) => pass,
                () = shutdown.cancelled() => return,
            };
            match pass {
                Ok(n) if n == send::BATCH as usize => continue,
                Ok(_) => break,
                Err(error) => {
                    tracing::warn!(%error, "sending webhooks to the LMS failed");
                    break;
                }
            }
        }
        match estrade_db::outbound::backlog(&deps.db).await {
            Ok(backlog) => {
                metrics::gauge!("outbound_webhooks_pending").set(backlog.pending as f64);
                metrics::gauge!("outbound_webhooks_oldest_pending_seconds")
                    .set(backlog.oldest_pending_s);
            }
            Err(error) => tracing::warn!(%error, "reading the outbox's backlog failed"),
        }
    }
}

/// What the sweeper needs to know of the consumer: when it last failed,
/// and how many jobs it has handled (its progress). Shared by the consumer
/// loop, its job handler and the sweeper.
#[derive(Debug, Default)]
pub struct ConsumerHealth {
    last_failure: std::sync::Mutex<Option<Instant>>,
    handled: AtomicU64,
    inbox_path: std::sync::atomic::AtomicBool,
    aside: std::sync::atomic::AtomicBool,
}

impl ConsumerHealth {
    fn failed(&self) {
        *self.last_failure.lock().expect("not poisoned") = Some(Instant::now());
    }

    fn failed_within(&self, period: Duration) -> bool {
        self.last_failure
            .lock()
            .expect("not poisoned")
            .is_some_and(|at| at.elapsed() < period)
    }

    /// Counts one job taken from the queue.
    pub fn handled_one(&self) {
        self.handled.fetch_add(1, Ordering::Relaxed);
    }

    fn handled(&self) -> u64 {
        self.handled.load(Ordering::Relaxed)
    }

    /// Whether the sweeper is applying events from the inbox.
    fn inbox_path_active(&self) -> bool {
        self.inbox_path.load(Ordering::Relaxed)
    }

    /// Whether the consumer stands aside: while the sweeper drains a
    /// backlog from the inbox, the consumer only clears the queue. The
    /// events of its jobs are in the inbox, where the sweeper applies them
    /// in order per room; a consumer applying them too would only contend
    /// for the same sessions.
    pub fn stands_aside(&self) -> bool {
        self.aside.load(Ordering::Relaxed)
    }

    fn set_inbox_path(&self, active: bool, backlog: bool) {
        self.inbox_path.store(active, Ordering::Relaxed);
        self.aside.store(active && backlog, Ordering::Relaxed);
        metrics::gauge!("webhooks_inbox_path_active").set(if active { 1.0 } else { 0.0 });
    }
}

/// Why the queue cannot be trusted to deliver what the inbox holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QueueTrouble {
    /// Redis did not answer three times in a row.
    Unreachable,
    /// The consumer failed in the last ten seconds.
    ConsumerFailing,
    /// Jobs wait in Redis but the consumer took none for `requeue_after`.
    ConsumerStalled,
    /// More than `BEHIND_DEPTH` jobs wait in Redis: a backlog (the worker
    /// was away). The inbox path applies the oldest in batches, in order,
    /// while the consumer takes the rest (and skips what is done).
    Behind,
    /// Redis holds no job: whatever the inbox still has overdue, Redis lost
    /// (a restart without persistence) or never got (a failed push).
    Empty,
}

impl QueueTrouble {
    fn as_str(self) -> &'static str {
        match self {
            QueueTrouble::Unreachable => "queue_unreachable",
            QueueTrouble::ConsumerFailing => "consumer_failing",
            QueueTrouble::ConsumerStalled => "consumer_stalled",
            QueueTrouble::Behind => "queue_behind",
            QueueTrouble::Empty => "queue_empty",
        }
    }
}

/// Every second: judges whether the queue delivers; when it does not,
/// applies the overdue pending events straight from PostgreSQL (the inbox
/// path) until none is left, and publishes the backlog as metrics. Every
/// minute: clears finished jobs out of Redis.
async fn sweep(
    config: &WorkerConfig,
    deps: &Deps,
    health: &ConsumerHealth,
    shutdown: &CancellationToken,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_vacuum = Instant::now();
    let mut progress = (health.handled(), Instant::now());
    let mut misses = 0;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.cancelled() => return,
        }
        if health.handled() != progress.0 {
            progress = (health.handled(), Instant::now());
        }
        let trouble = queue_trouble(config, &deps.queue, health, progress.1, &mut misses).await;
        // With no trouble, the inbox path still takes what has waited three
        // grace periods: a job the queue lost while it otherwise works.
        let (reason, grace) = match trouble {
            Some(trouble) => (trouble.as_str(), config.requeue_after),
            None => ("jobs_lost", config.requeue_after * 3),
        };
        match drain_inbox(deps, grace, reason, health, shutdown).await {
            Ok(0) if health.inbox_path_active() => {
                health.set_inbox_path(false, false);
                tracing::info!("no webhook overdue any more: the queue carries them again");
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "applying webhooks from the inbox failed"),
        }
        if let Err(error) = publish_backlog(&deps.db).await {
            tracing::warn!(%error, "reading the webhook backlog failed");
        }
        if last_vacuum.elapsed() > Duration::from_secs(60) {
            last_vacuum = Instant::now();
            if let Err(error) = vacuum(&deps.queue).await {
                tracing::warn!(%error, "clearing finished jobs from Redis failed");
            }
        }
    }
}

/// Whether (and why) the queue cannot be trusted with the overdue events.
/// `misses` counts the depth reads in a row that Redis did not answer
/// within a second: three make it unreachable (one slow answer under load
/// does not).
async fn queue_trouble(
    config: &WorkerConfig,
    queue: &WebhookQueue,
    health: &ConsumerHealth,
    last_progress: Instant,
    misses: &mut u32,
) -> Option<QueueTrouble> {
    let depth = tokio::time::timeout(Duration::from_secs(1), queue.depth())
        .await
        .ok()
        .and_then(Result::ok);
    match depth {
        Some(depth) => {
            *misses = 0;
            metrics::gauge!("webhooks_queue_depth").set(depth as f64);
        }
        None => *misses += 1,
    }
    match depth {
        None if *misses >= 3 => Some(QueueTrouble::Unreachable),
        _ if health.failed_within(Duration::from_secs(10)) => Some(QueueTrouble::ConsumerFailing),
        None => None,
        Some(0) => Some(QueueTrouble::Empty),
        Some(_) if last_progress.elapsed() >= config.requeue_after => {
            Some(QueueTrouble::ConsumerStalled)
        }
        Some(depth) if depth > BEHIND_DEPTH => Some(QueueTrouble::Behind),
        Some(_) => None,
    }
}

/// Jobs waiting in Redis past which the queue is behind (a backlog).
const BEHIND_DEPTH: u64 = 1000;
/// Events read from the inbox per pass.
const INBOX_BATCH: i64 = 1000;
/// Rooms applied at once on the inbox path (each room's events in order).
const INBOX_ROOMS_AT_ONCE: usize = 16;
/// A room's events applied in one transaction on the inbox path.
const INBOX_CHUNK: usize = 100;

/// The inbox path: applies every pending event that is due and has waited
/// longer than `grace`, oldest first, a room's events in order (up
/// to 100 in one transaction) and up to 16 rooms at once, in passes of
/// 1,000, until none is left or `shutdown`. Events are locked as they are
/// applied (skip locked), so a queue job for the same event finds it taken
/// or processed.
/// Returns how many it applied.
async fn drain_inbox(
    deps: &Deps,
    grace: Duration,
    reason: &'static str,
    health: &ConsumerHealth,
    shutdown: &CancellationToken,
) -> Result<usize, sqlx::Error> {
    use futures::StreamExt as _;
    let mut applied = 0;
    loop {
        let due = estrade_db::webhooks::due(&deps.db, grace, INBOX_BATCH).await?;
        let full = due.len() as i64 == INBOX_BATCH;
        let backlog = reason == QueueTrouble::Behind.as_str();
        if !due.is_empty() && (!health.inbox_path_active() || health.stands_aside() != backlog) {
            health.set_inbox_path(true, backlog);
            tracing::warn!(
                reason,
                "the queue does not deliver: applying pending webhooks straight from PostgreSQL"
            );
        }
        let mut rooms: Vec<Vec<String>> = Vec::new();
        let mut room_of: std::collections::HashMap<Option<String>, usize> = Default::default();
        for event in due {
            let at = *room_of.entry(event.room_name).or_insert_with(|| {
                rooms.push(Vec::new());
                rooms.len() - 1
            });
            rooms[at].push(event.event_id);
        }
        let pass: usize = futures::stream::iter(rooms)
            .map(|events| async move {
                let mut applied = 0;
                for chunk in events.chunks(INBOX_CHUNK) {
                    let via = estrade_db::webhooks::Via::Inbox;
                    match estrade_app::webhooks::apply_in_order(deps, chunk, via).await {
                        Ok(n) => applied += n,
                        Err(error) => {
                            tracing::warn!(%error, "could not apply webhooks from the inbox");
                        }
                    }
                }
                applied
            })
            .buffer_unordered(INBOX_ROOMS_AT_ONCE)
            .fold(0, |sum, n| async move { sum + n })
            .await;
        metrics::counter!("webhooks_applied_from_inbox_total").increment(pass as u64);
        applied += pass;
        if !full || shutdown.is_cancelled() {
            return Ok(applied);
        }
    }
}

/// The inbox's backlog as gauges an operator can alert on.
async fn publish_backlog(db: &sqlx::PgPool) -> Result<(), sqlx::Error> {
    let backlog = estrade_db::webhooks::backlog(db).await?;
    metrics::gauge!("webhooks_pending").set(backlog.pending as f64);
    metrics::gauge!("webhooks_dead_letters").set(backlog.failed as f64);
    metrics::gauge!("webhooks_oldest_pending_seconds").set(backlog.oldest_pending_s);
    Ok(())
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
