//! The webhook queue on Redis (apalis-redis): the API pushes, the worker
//! consumes. It is the fast path only. Postgres's inbox is what guarantees
//! that every event is applied: whatever Redis loses (a restart without
//! persistence, a job lost with a killed worker, a push that failed), the
//! sweeper pushes again from the inbox.

use std::time::Duration;

use apalis::prelude::{Task, TaskBuilder, TaskSink as _};
use apalis_redis::{Config, ConnectionManager, RedisStorage};
use serde::{Deserialize, Serialize};

/// A job: apply this inbox event (the inbox holds the event itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyWebhook {
    /// LiveKit's event id.
    pub event_id: String,
    /// The room it concerns, if it names one (jobs pushed before this
    /// field existed have none): events of one room are applied together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
}

/// Pushes jobs. Cheap to clone.
#[derive(Debug, Clone)]
pub struct WebhookQueue {
    storage: RedisStorage<ApplyWebhook>,
    /// Bounds the background pushes in flight ([`WebhookQueue::push_soon`], one per batch).
    slots: std::sync::Arc<tokio::sync::Semaphore>,
}

/// Background pushes (each a batch of events) in flight at most; past that
/// the events wait for the sweeper.
const PUSHES_IN_FLIGHT: usize = 1024;

/// The apalis configuration both sides use: the queue is
/// `<namespace>:webhooks`.
fn config(namespace: &str) -> Config {
    Config::default()
        .queue(format!("{namespace}:webhooks"))
        .batch_size(32)
        // A dead consumer's jobs go back to the queue after 2 × 5 s.
        .heartbeat_interval(Duration::from_secs(5))
        .missed_heartbeats(2)
        // Nobody reads job results; the inbox row is the result.
        .persist_results(false)
        // The API's push uses the event id as idempotency key. The inbox
        // already pushes an event only when its row is new, so the key is a
        // second guard and need only outlive LiveKit's retries (30 s); a
        // longer life would keep a key per event in Redis (at 1,000
        // events/s, an hour is 3.6 million keys).
        .idempotency_ttl(Some(Duration::from_secs(60)))
}

impl WebhookQueue {
    /// The queue of `namespace` over `redis` (a lazily connecting manager
    /// is fine).
    pub fn new(redis: ConnectionManager, namespace: &str) -> Self {
        Self {
            storage: RedisStorage::new(redis).with_config(config(namespace)),
            slots: std::sync::Arc::new(tokio::sync::Semaphore::new(PUSHES_IN_FLIGHT)),
        }
    }

    /// The apalis storage, for the worker that consumes the queue.
    pub fn storage(&self) -> RedisStorage<ApplyWebhook> {
        self.storage.clone()
    }

    /// Pushes a newly stored event, with its event id as the idempotency
    /// key (a second push of the same id within the key's life is dropped).
    pub async fn push_new(&self, event_id: &str) -> Result<(), PushError> {
        let task = TaskBuilder::new(ApplyWebhook {
            event_id: event_id.to_owned(),
            room: None,
        })
        .idempotency_key(event_id)
        .build();
        self.push(task).await
    }

    /// Pushes newly stored events in the background, all in one Redis
    /// call, without making their senders wait: the events are already
    /// durable, and if Redis is slow, down or the push fails, the worker's
    /// sweeper queues them from the inbox a few seconds later. Each job
    /// has its event id as idempotency key, as [`WebhookQueue::push_new`].
    pub fn push_soon(&self, jobs: Vec<ApplyWebhook>) {
        if jobs.is_empty() {
            return;
        }
        let Ok(slot) = self.slots.clone().try_acquire_owned() else {
            metrics::counter!("webhooks_enqueue_skipped_total").increment(jobs.len() as u64);
            return;
        };
        let mut storage = self.storage.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let n = jobs.len() as u64;
            let tasks = jobs.into_iter().map(|job| {
                let key = job.event_id.clone();
                TaskBuilder::new(job).idempotency_key(key).build()
            });
            if let Err(error) = storage.push_all(futures::stream::iter(tasks)).await {
                metrics::counter!("webhooks_enqueue_failed_total").increment(n);
                tracing::warn!(%error, events = n, "webhooks stored but not queued; the sweeper will");
            }
        });
    }

    /// Pushes an event again (sweeper, replay): a fresh job id and no
    /// idempotency key, since apalis would drop a job whose id or key it
    /// still remembers.
    pub async fn push_again(&self, event_id: &str) -> Result<(), PushError> {
        let task = TaskBuilder::new(ApplyWebhook {
            event_id: event_id.to_owned(),
            room: None,
        })
        .build();
        self.push(task).await
    }

    /// Jobs waiting in Redis to be taken by a consumer: those on the
    /// active list and those in the scheduled set (which apalis promotes
    /// to the list as they fall due).
    pub async fn depth(&self) -> Result<u64, PushError> {
        let mut storage = self.storage.clone();
        let (list, scheduled) = {
            let config = storage.get_config();
            (config.active_jobs_list(), config.scheduled_jobs_set())
        };
        let (active, waiting): (u64, u64) = redis::pipe()
            .cmd("LLEN")
            .arg(list)
            .cmd("ZCARD")
            .arg(scheduled)
            .query_async(storage.get_connection())
            .await
            .map_err(|e| PushError(e.to_string()))?;
        Ok(active + waiting)
    }

    async fn push(&self, task: Task<ApplyWebhook>) -> Result<(), PushError> {
        let mut storage = self.storage.clone();
        storage
            .push_task(task)
            .await
            .map_err(|e| PushError(e.to_string()))
    }
}

/// A job could not be pushed (Redis unreachable or refusing). The event is
/// safe in the inbox; the sweeper pushes it later.
#[derive(Debug, thiserror::Error)]
#[error("could not queue the event: {0}")]
pub struct PushError(String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_queued_before_jobs_named_their_room_is_still_read_and_applied_without_one() {
        let job: ApplyWebhook = serde_json::from_str(r#"{"event_id": "EV_1"}"#).unwrap();
        assert_eq!(
            job,
            ApplyWebhook {
                event_id: "EV_1".into(),
                room: None
            }
        );
        let with_room = ApplyWebhook {
            event_id: "EV_2".into(),
            room: Some("estrade-x".into()),
        };
        let json = serde_json::to_string(&with_room).unwrap();
        assert_eq!(
            serde_json::from_str::<ApplyWebhook>(&json).unwrap(),
            with_room
        );
    }
}
