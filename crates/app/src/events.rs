//! Tells every API replica that a session's event log grew, over Redis
//! pub/sub, once the change is committed. A notice carries only the
//! session's id: the events themselves are read from PostgreSQL
//! (`estrade_db::events`), so a notice lost (Redis down, a crash between
//! commit and notice) only delays an event until the replicas' next poll.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionManager;
use uuid::Uuid;

/// Longest a notice may take before it is given up (the poll delivers).
const PUBLISH_TIMEOUT: Duration = Duration::from_millis(250);

/// Publishes notices. Cheap to clone.
#[derive(Clone)]
pub struct Notifier {
    redis: ConnectionManager,
    channel: Arc<str>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

/// The pub/sub channel of `namespace`.
pub fn channel(namespace: &str) -> String {
    format!("{namespace}:session-events")
}

impl Notifier {
    /// Notices on `namespace`'s channel over `redis`.
    pub fn new(redis: ConnectionManager, namespace: &str) -> Self {
        Self {
            redis,
            channel: channel(namespace).into(),
        }
    }

    /// Says that `session` has new events. Returns at once: the publish
    /// runs in the background, so a slow Redis never delays an answer.
    pub fn notify(&self, session: Uuid) {
        let mut redis = self.redis.clone();
        let channel = Arc::clone(&self.channel);
        tokio::spawn(async move {
            let mut command = redis::cmd("PUBLISH");
            command.arg(&*channel).arg(session.to_string());
            let publish = command.query_async::<i64>(&mut redis);
            match tokio::time::timeout(PUBLISH_TIMEOUT, publish).await {
                Ok(Ok(_)) => {}
                Ok(Err(error)) => {
                    metrics::counter!("events_notice_failures_total").increment(1);
                    tracing::debug!(%error, "event notice not published; replicas poll");
                }
                Err(_) => {
                    metrics::counter!("events_notice_failures_total").increment(1);
                    tracing::debug!("event notice timed out; replicas poll");
                }
            }
        });
    }
}
