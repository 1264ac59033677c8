//! Webhooks to the LMS: the endpoints, and the outbox of deliveries with
//! the log of their attempts (migration 0016). A delivery is written by
//! [`enqueue`] in the transaction of the change it tells of; the worker
//! takes the due ones ([`claim_due`]), sends them, and writes each
//! attempt's outcome ([`record`]).

use chrono::{DateTime, Utc};
use estrade_core::domain::DeliveryStatus;
use serde_json::Value;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

/// An endpoint's signing key; never printed.
#[derive(Clone)]
pub struct Key(pub Vec<u8>);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(redacted)")
    }
}

/// A registered endpoint, with its deliveries counted by status.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Its id.
    pub id: Uuid,
    /// Where deliveries go.
    pub url: String,
    /// The events it is told of.
    pub events: Vec<String>,
    /// The admin's note.
    pub description: String,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// Deliveries waiting for an attempt.
    pub pending: i64,
    /// Deliveries the endpoint took.
    pub delivered: i64,
    /// Deliveries given up on.
    pub failed: i64,
}

/// Writes a delivery of `event` for every endpoint that asked for it, in
/// the caller's transaction. The body is `{"type", "timestamp", "data"}`,
/// the timestamp being the transaction's. Returns how many.
pub async fn enqueue(
    conn: &mut PgConnection,
    event: estrade_core::outbound::Event,
    data: &Value,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!(
        "insert into webhook_deliveries (endpoint_id, event, payload)
         select id, $1,
                jsonb_build_object('type', $1::text,
                                   'timestamp', to_char(now() at time zone 'UTC',
                                                        'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),
                                   'data', $2::jsonb)
           from webhook_endpoints where $1 = any(events)",
        event.as_str(),
        data,
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Registers an endpoint.
pub async fn insert_endpoint(
    conn: &mut PgConnection,
    url: &str,
    events: &[&str],
    key: &Key,
    description: &str,
) -> Result<Endpoint, sqlx::Error> {
    sqlx::query_as!(
        Endpoint,
        r#"insert into webhook_endpoints (url, events, secret, description)
           values ($1, $2, $3, $4)
           returning id, url, events, description, created_at,
                     0::bigint as "pending!", 0::bigint as "delivered!", 0::bigint as "failed!""#,
        url,
        events as &[&str],
        &key.0,
        description,
    )
    .fetch_one(conn)
    .await
}

/// Every endpoint, oldest first, with its deliveries counted.
pub async fn endpoints(db: impl PgExecutor<'_>) -> Result<Vec<Endpoint>, sqlx::Error> {
    endpoints_of(db, None).await
}

/// Endpoint `id`, with its deliveries counted.
pub async fn endpoint(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<Endpoint>, sqlx::Error> {
    Ok(endpoints_of(db, Some(id)).await?.pop())
}

/// Endpoint `id`, or every one when `None`, oldest first.
async fn endpoints_of(
    db: impl PgExecutor<'_>,
    id: Option<Uuid>,
) -> Result<Vec<Endpoint>, sqlx::Error> {
    sqlx::query_as!(
        Endpoint,
        r#"select e.id, e.url, e.events, e.description, e.created_at,
                  count(d.id) filter (where d.status = 'pending') as "pending!",
                  count(d.id) filter (where d.status = 'delivered') as "delivered!",
                  count(d.id) filter (where d.status = 'failed') as "failed!"
             from webhook_endpoints e
             left join webhook_deliveries d on d.endpoint_id = e.id
            where $1::uuid is null or e.id = $1
            group by e.id
            order by e.created_at, e.id"#,
        id,
    )
    .fetch_all(db)
    .await
}

/// Deletes endpoint `id` and its deliveries. Returns whether it existed.
pub async fn delete_endpoint(conn: &mut PgConnection, id: Uuid) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!("delete from webhook_endpoints where id = $1", id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// A delivery taken for an attempt.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// The delivery (its `webhook-id` is derived from it).
    pub id: Uuid,
    /// Where it goes.
    pub url: String,
    /// The endpoint's key.
    pub key: Key,
    /// The body.
    pub payload: Value,
    /// This attempt's number (from 1).
    pub attempt: i32,
    /// When its retry window began.
    pub retry_from: DateTime<Utc>,
}

/// Takes up to `limit` due deliveries, oldest due first, for one attempt
/// each: counts the attempt and moves the next one `lease_ms` away, so
/// another worker takes it only if this attempt never finishes.
pub async fn claim_due(
    db: impl PgExecutor<'_>,
    limit: i64,
    lease_ms: i64,
) -> Result<Vec<Claimed>, sqlx::Error> {
    sqlx::query!(
        r#"with due as (
             select id from webhook_deliveries
              where status = 'pending' and next_attempt_at <= now()
              order by next_attempt_at
              limit $1
                for update skip locked)
           update webhook_deliveries d
              set attempts = d.attempts + 1,
                  next_attempt_at = now() + make_interval(secs => $2::bigint / 1000.0)
             from due, webhook_endpoints e
            where d.id = due.id and e.id = d.endpoint_id
        returning d.id, e.url, e.secret, d.payload, d.attempts, d.retry_from"#,
        limit,
        lease_ms,
    )
    .fetch_all(db)
    .await
    .map(|rows| {
        rows.into_iter()
            .map(|r| Claimed {
                id: r.id,
                url: r.url,
                key: Key(r.secret),
                payload: r.payload,
                attempt: r.attempts,
                retry_from: r.retry_from,
            })
            .collect()
    })
}

/// What an attempt ended in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempted {
    /// The receiver's status, when it answered.
    pub status_code: Option<u16>,
    /// Why it was not a success (`None` for a 2xx): one of the schema's
    /// closed set.
    pub error: Option<&'static str>,
    /// How long it took.
    pub duration_ms: i32,
}

/// What follows an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    /// The endpoint took it.
    Delivered,
    /// Try again after this long.
    RetryIn(std::time::Duration),
    /// The retry window is over.
    Failed,
}

/// Writes attempt `attempt` of delivery `id` and what follows it. A
/// success always stands (an attempt that outlived its lease may finish
/// after a later one began); a failure reschedules only the latest
/// attempt of a pending delivery. Returns whether the delivery changed.
pub async fn record(
    db: &sqlx::PgPool,
    id: Uuid,
    attempt: i32,
    outcome: Attempted,
    then: Then,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    sqlx::query!(
        "insert into webhook_attempts (delivery_id, attempt, status_code, error, duration_ms)
         values ($1, $2, $3, $4, $5)
         on conflict (delivery_id, attempt) do nothing",
        id,
        attempt,
        outcome.status_code.map(i32::from),
        outcome.error,
        outcome.duration_ms,
    )
    .execute(&mut *tx)
    .await?;
    let changed = match then {
        Then::Delivered => sqlx::query!(
            "update webhook_deliveries set status = 'delivered', finished_at = now()
              where id = $1 and status = 'pending'",
            id,
        )
        .execute(&mut *tx)
        .await?
        .rows_affected(),
        Then::RetryIn(delay) => sqlx::query!(
            "update webhook_deliveries
                set next_attempt_at = now() + make_interval(secs => $3::bigint / 1000.0)
              where id = $1 and attempts = $2 and status = 'pending'",
            id,
            attempt,
            delay.as_millis() as i64,
        )
        .execute(&mut *tx)
        .await?
        .rows_affected(),
        Then::Failed => sqlx::query!(
            "update webhook_deliveries set status = 'failed', finished_at = now()
              where id = $1 and attempts = $2 and status = 'pending'",
            id,
            attempt,
        )
        .execute(&mut *tx)
        .await?
        .rows_affected(),
    };
    tx.commit().await?;
    Ok(changed == 1)
}

/// A delivery as the log shows it.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Its id.
    pub id: Uuid,
    /// The event.
    pub event: estrade_core::outbound::Event,
    /// Pending, delivered or failed.
    pub status: DeliveryStatus,
    /// Attempts started.
    pub attempts: i32,
    /// When written.
    pub created_at: DateTime<Utc>,
    /// When the next attempt is due (pending only).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When delivered or given up on.
    pub finished_at: Option<DateTime<Utc>>,
    /// The body sent.
    pub payload: Value,
}

/// One finished attempt.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// Its delivery.
    pub delivery_id: Uuid,
    /// Its number.
    pub attempt: i32,
    /// When it began.
    pub at: DateTime<Utc>,
    /// The receiver's status, when it answered.
    pub status_code: Option<i32>,
    /// Why it failed.
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: i32,
}

/// Endpoint `endpoint_id`'s latest deliveries (newest first, at most
/// `limit`, of `status` when given), with their attempts.
pub async fn deliveries(
    conn: &mut PgConnection,
    endpoint_id: Uuid,
    status: Option<DeliveryStatus>,
    limit: i64,
) -> Result<(Vec<Delivery>, Vec<Attempt>), sqlx::Error> {
    let deliveries = sqlx::query_as!(
        Delivery,
        r#"select id, event as "event: _", status as "status: _", attempts, created_at,
                  case when status = 'pending' then next_attempt_at end as next_attempt_at,
                  finished_at, payload
             from webhook_deliveries
            where endpoint_id = $1 and ($2::text is null or status = $2::text)
            order by created_at desc, id
            limit $3"#,
        endpoint_id,
        status.map(DeliveryStatus::as_str),
        limit,
    )
    .fetch_all(&mut *conn)
    .await?;
    let ids: Vec<Uuid> = deliveries.iter().map(|d| d.id).collect();
    let attempts = attempts_of(conn, &ids).await?;
    Ok((deliveries, attempts))
}

/// The finished attempts of deliveries `ids`, in order.
pub async fn attempts_of(
    conn: &mut PgConnection,
    ids: &[Uuid],
) -> Result<Vec<Attempt>, sqlx::Error> {
    sqlx::query_as!(
        Attempt,
        "select delivery_id, attempt, at, status_code, error, duration_ms
           from webhook_attempts where delivery_id = any($1)
          order by delivery_id, attempt",
        ids,
    )
    .fetch_all(conn)
    .await
}

/// Makes delivery `id` of endpoint `endpoint_id` due now with a fresh
/// retry window, whatever its status (a receiver that lost a delivered
/// one gets it again, with the same `webhook-id`). `None` when no such
/// delivery.
pub async fn retry(
    conn: &mut PgConnection,
    endpoint_id: Uuid,
    id: Uuid,
) -> Result<Option<Delivery>, sqlx::Error> {
    sqlx::query_as!(
        Delivery,
        r#"update webhook_deliveries
              set status = 'pending', finished_at = null, next_attempt_at = now(),
                  retry_from = now()
            where id = $1 and endpoint_id = $2
        returning id, event as "event: _", status as "status: _", attempts, created_at,
                  next_attempt_at as "next_attempt_at?", finished_at, payload"#,
        id,
        endpoint_id,
    )
    .fetch_optional(conn)
    .await
}

/// The outbox's backlog.
#[derive(Debug, Clone, Copy)]
pub struct Backlog {
    /// Deliveries pending.
    pub pending: i64,
    /// Seconds the oldest pending one has waited since written.
    pub oldest_pending_s: f64,
}

/// The outbox's backlog, for the worker's gauges.
pub async fn backlog(db: impl PgExecutor<'_>) -> Result<Backlog, sqlx::Error> {
    let row = sqlx::query!(
        r#"select count(*) as "pending!",
                  coalesce(extract(epoch from now() - min(created_at))::float8, 0) as "oldest!"
             from webhook_deliveries where status = 'pending'"#,
    )
    .fetch_one(db)
    .await?;
    Ok(Backlog {
        pending: row.pending,
        oldest_pending_s: row.oldest,
    })
}

/// Deletes deliveries (and their attempts) finished more than `age` ago.
pub async fn purge_finished(
    db: impl PgExecutor<'_>,
    age: std::time::Duration,
) -> Result<u64, sqlx::Error> {
    let secs = i64::try_from(age.as_secs()).unwrap_or(i64::MAX);
    let done = sqlx::query!(
        "delete from webhook_deliveries
          where status <> 'pending' and finished_at < now() - make_interval(secs => $1::bigint)",
        secs
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}
