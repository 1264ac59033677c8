//! The webhook inbox: every verified LiveKit event, stored before LiveKit
//! is answered, keyed by LiveKit's event id.

use chrono::{DateTime, Utc};
use estrade_core::domain::InboxStatus;
use estrade_core::webhook::{Envelope, ListedEvent};
use serde_json::Value;
use sqlx::{PgConnection, PgExecutor};

/// Stores an event unless its id is already there. Returns whether it was
/// new: a redelivery is a no-op.
pub async fn insert(db: impl PgExecutor<'_>, event: &Envelope) -> Result<bool, sqlx::Error> {
    let stored = insert_all(db, std::slice::from_ref(event)).await?;
    Ok(stored == [true])
}

/// Stores events whose ids are not there yet, in one statement (one
/// commit). Returns, for each event in order, whether it was new: an id
/// already stored, or repeated within `events` after its first
/// occurrence, is not.
pub async fn insert_all(
    db: impl PgExecutor<'_>,
    events: &[Envelope],
) -> Result<Vec<bool>, sqlx::Error> {
    let ids: Vec<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    let rooms: Vec<Option<&str>> = events.iter().map(|e| e.room_name.as_deref()).collect();
    let created: Vec<Option<chrono::DateTime<chrono::Utc>>> =
        events.iter().map(|e| e.created_at).collect();
    let payloads: Vec<&serde_json::Value> = events.iter().map(|e| &e.payload).collect();
    let stored = sqlx::query_scalar!(
        "insert into webhook_inbox (event_id, event_type, room_name, event_created_at, payload)
         select * from unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::jsonb[])
         on conflict (event_id) do nothing
         returning event_id",
        &ids as &[&str],
        &types as &[&str],
        &rooms as &[Option<&str>],
        &created as &[Option<chrono::DateTime<chrono::Utc>>],
        &payloads as &[&serde_json::Value],
    )
    .fetch_all(db)
    .await?;
    let mut new: std::collections::HashSet<String> = stored.into_iter().collect();
    Ok(events.iter().map(|e| new.remove(&e.event_id)).collect())
}

/// A stored event, as the worker reads it under lock.
#[derive(Debug, Clone)]
pub struct Stored {
    /// Pending, processed or failed.
    pub status: InboxStatus,
    /// Failed attempts so far.
    pub attempts: i32,
    /// The event as LiveKit sent it.
    pub payload: Value,
    /// When Estrade received it.
    pub received_at: DateTime<Utc>,
}

/// Locks an event for applying it. `None` when it does not exist, another
/// worker holds it (that worker applies it), or its next attempt is not due
/// yet (a duplicate job must not skip the backoff; the sweeper brings the
/// event back when it is due).
pub async fn lock(conn: &mut PgConnection, event_id: &str) -> Result<Option<Stored>, sqlx::Error> {
    sqlx::query_as!(
        Stored,
        r#"select status as "status: _", attempts, payload, received_at from webhook_inbox
          where event_id = $1 and next_attempt_at <= now()
            for update skip locked"#,
        event_id,
    )
    .fetch_optional(conn)
    .await
}

/// A pending event locked for applying it with others of its room.
#[derive(Debug, Clone)]
pub struct Locked {
    /// LiveKit's event id.
    pub event_id: String,
    /// The room it concerns, if any.
    pub room_name: Option<String>,
    /// Failed attempts so far.
    pub attempts: i32,
    /// The event as LiveKit sent it.
    pub payload: Value,
    /// When Estrade received it.
    pub received_at: DateTime<Utc>,
}

/// Locks those of `event_ids` that are pending and due, skipping any that
/// another worker holds (as [`lock`] does for one event).
pub async fn lock_pending(
    conn: &mut PgConnection,
    event_ids: &[String],
) -> Result<Vec<Locked>, sqlx::Error> {
    sqlx::query_as!(
        Locked,
        "select event_id, room_name, attempts, payload, received_at from webhook_inbox
          where event_id = any($1) and status = 'pending' and next_attempt_at <= now()
            for update skip locked",
        event_ids,
    )
    .fetch_all(conn)
    .await
}

/// Which path carried an event to the worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// A job from the Redis queue (the fast path).
    Queue,
    /// Straight from this inbox, when the queue could not deliver it.
    Inbox,
}

impl Via {
    fn as_str(self) -> &'static str {
        match self {
            Via::Queue => "queue",
            Via::Inbox => "inbox",
        }
    }
}

/// Marks a locked event processed, recording the path that carried it.
/// Returns the seconds since it was received (the end-to-end apply
/// latency).
pub async fn mark_processed(
    conn: &mut PgConnection,
    event_id: &str,
    via: Via,
) -> Result<f64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"update webhook_inbox
              set status = 'processed', processed_at = clock_timestamp(), applied_via = $2
            where event_id = $1
        returning extract(epoch from processed_at - received_at)::float8 as "seconds!""#,
        event_id,
        via.as_str(),
    )
    .fetch_one(conn)
    .await
}

/// Marks locked events processed at one instant, recording the path that
/// carried them. Returns the seconds since each was received.
pub async fn mark_all_processed(
    conn: &mut PgConnection,
    event_ids: &[String],
    via: Via,
) -> Result<Vec<f64>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"with t as (select clock_timestamp() as at)
           update webhook_inbox
              set status = 'processed', processed_at = t.at, applied_via = $2
             from t
            where event_id = any($1)
        returning extract(epoch from processed_at - received_at)::float8 as "seconds!""#,
        event_ids,
        via.as_str(),
    )
    .fetch_all(conn)
    .await
}

/// Records a failed attempt (`attempts_before` is what [`lock`] read).
/// The event becomes a dead letter (`failed`) when `dead` is set,
/// otherwise it is due again after `retry_in`. Returns the new status.
pub async fn record_failure(
    db: impl PgExecutor<'_>,
    event_id: &str,
    attempts_before: i32,
    error: &str,
    dead: bool,
    retry_in: std::time::Duration,
) -> Result<Option<String>, sqlx::Error> {
    let retry_ms = i64::try_from(retry_in.as_millis()).unwrap_or(i64::MAX);
    sqlx::query_scalar!(
        "update webhook_inbox
            set attempts = attempts + 1,
                last_error = left($3, 2000),
                status = case when $4 then 'failed' else 'pending' end,
                next_attempt_at = now() + make_interval(secs => $5::bigint / 1000.0),
                enqueued_at = null
          where event_id = $1 and attempts = $2 and status = 'pending'
      returning status",
        event_id,
        attempts_before,
        error,
        dead,
        retry_ms,
    )
    .fetch_optional(db)
    .await
}

/// A pending event the queue has not delivered in time.
#[derive(Debug, Clone)]
pub struct Due {
    /// LiveKit's event id.
    pub event_id: String,
    /// Its room (events of one room are applied in this order).
    pub room_name: Option<String>,
}

/// Up to `limit` pending events that are due and were stored (or queued
/// again by a replay) more than `grace` ago, oldest first: LiveKit's
/// `createdAt` (events without one last), then arrival. Nothing is locked here: applying an event
/// locks its row (`lock`, skip locked), so a queue job and the inbox path
/// never apply the same event twice.
pub async fn due(
    db: impl PgExecutor<'_>,
    grace: std::time::Duration,
    limit: i64,
) -> Result<Vec<Due>, sqlx::Error> {
    let grace_ms = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
    sqlx::query_as!(
        Due,
        "select event_id, room_name from webhook_inbox
          where status = 'pending' and next_attempt_at <= now()
            and coalesce(enqueued_at, received_at)
                <= now() - make_interval(secs => $1::bigint / 1000.0)
          order by event_created_at, received_at, event_id
          limit $2",
        grace_ms,
        limit,
    )
    .fetch_all(db)
    .await
}

/// The inbox's backlog, for metrics.
#[derive(Debug, Clone, Copy)]
pub struct Backlog {
    /// Events stored and not yet applied.
    pub pending: i64,
    /// Dead letters.
    pub failed: i64,
    /// Age in seconds of the oldest pending event (0 when none).
    pub oldest_pending_s: f64,
}

/// Counts the backlog.
pub async fn backlog(db: impl PgExecutor<'_>) -> Result<Backlog, sqlx::Error> {
    sqlx::query_as!(
        Backlog,
        r#"select
             (select count(*) from webhook_inbox where status = 'pending') as "pending!",
             (select count(*) from webhook_inbox where status = 'failed') as "failed!",
             coalesce((select extract(epoch from now() - min(received_at))::float8
                         from webhook_inbox where status = 'pending'), 0) as "oldest_pending_s!""#,
    )
    .fetch_one(db)
    .await
}

/// Events with `status`, newest first, received before `before` if given.
pub async fn list(
    db: impl PgExecutor<'_>,
    status: InboxStatus,
    before: Option<DateTime<Utc>>,
    limit: i64,
) -> Result<Vec<ListedEvent>, sqlx::Error> {
    sqlx::query_as!(
        ListedEvent,
        "select event_id, event_type, room_name, status as \"status: _\", attempts, last_error, received_at,
                case when status = 'pending' then next_attempt_at end as next_attempt_at,
                processed_at
           from webhook_inbox
          where status = $1 and ($2::timestamptz is null or received_at < $2)
          order by received_at desc
          limit $3",
        status.as_str(),
        before,
        limit,
    )
    .fetch_all(db)
    .await
}

/// Makes a dead letter pending again with a fresh attempt count. Returns
/// the event's status before, `None` if there is no such event; a
/// processed event is left alone.
pub async fn replay(
    db: impl PgExecutor<'_>,
    event_id: &str,
) -> Result<Option<InboxStatus>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"with before as (select status from webhook_inbox where event_id = $1 for update),
                replayed as (
                  update webhook_inbox
                     set status = 'pending', attempts = 0, next_attempt_at = now(), enqueued_at = now()
                   where event_id = $1 and status <> 'processed')
           select status as "status!: InboxStatus" from before"#,
        event_id,
    )
    .fetch_optional(db)
    .await
}

/// Deletes applied events received more than `age` ago (the retention
/// period); dead letters stay until replayed or handled.
pub async fn purge_processed(
    db: impl PgExecutor<'_>,
    age: std::time::Duration,
) -> Result<u64, sqlx::Error> {
    let secs = i64::try_from(age.as_secs()).unwrap_or(i64::MAX);
    let done = sqlx::query!(
        "delete from webhook_inbox
          where status = 'processed' and received_at < now() - make_interval(secs => $1::bigint)",
        secs
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}
