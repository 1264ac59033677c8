//! The session event log (`session_events`): what live clients are shown.
//! Every change a client must see appends here in the transaction that
//! makes it, under the session's row lock, so a session's events commit in
//! `seq` order and exist exactly when their change did.

use std::time::Duration;

use serde::Serialize;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

/// An event as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// The session.
    pub session_id: Uuid,
    /// Position in the session's log, from 1; the SSE event id.
    pub seq: i64,
    /// The SSE event name: `floor`, `session`, `presence` or `turn_ending`.
    pub event: String,
    /// The event's JSON body.
    pub data: serde_json::Value,
}

/// Appends an event to the log of a session the caller's transaction has
/// locked (or is about to: the update takes the row lock). Returns its
/// sequence number.
pub async fn append(
    conn: &mut PgConnection,
    session_id: Uuid,
    event: &str,
    data: &impl Serialize,
) -> Result<i64, sqlx::Error> {
    let data = serde_json::to_value(data).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query_scalar!(
        r#"with s as (update sessions set event_seq = event_seq + 1 where id = $1
                      returning id, event_seq)
           insert into session_events (session_id, seq, event, data)
           select id, event_seq, $2, $3 from s
           returning seq"#,
        session_id,
        event,
        data,
    )
    .fetch_one(conn)
    .await
}

/// Events of a session after `seq`, oldest first, at most `limit`.
pub async fn after(
    db: impl PgExecutor<'_>,
    session_id: Uuid,
    seq: i64,
    limit: i64,
) -> Result<Vec<StoredEvent>, sqlx::Error> {
    sqlx::query_as!(
        StoredEvent,
        "select session_id, seq, event, data from session_events
          where session_id = $1 and seq > $2
          order by seq
          limit $3",
        session_id,
        seq,
        limit,
    )
    .fetch_all(db)
    .await
}

/// The last sequence number of each of `sessions` (0 when none yet).
pub async fn last_seqs(
    db: impl PgExecutor<'_>,
    sessions: &[Uuid],
) -> Result<Vec<(Uuid, i64)>, sqlx::Error> {
    let rows = sqlx::query!(
        "select id, event_seq from sessions where id = any($1)",
        sessions
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.event_seq)).collect())
}

/// Deletes the logs of sessions that ended more than `retention` ago
/// (their floor events carry learners' names). Returns how many went.
pub async fn purge_ended(db: impl PgExecutor<'_>, retention: Duration) -> Result<u64, sqlx::Error> {
    let seconds = retention.as_secs_f64();
    let done = sqlx::query!(
        "delete from session_events e
          using sessions s
          where e.session_id = s.id and s.status = 'ended'
            and s.ended_at < now() - make_interval(secs => $1)",
        seconds,
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Deletes session `id`'s live-update log now (an erasure request: its
/// events carry names). Returns how many.
pub async fn purge_session(db: impl PgExecutor<'_>, session_id: Uuid) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!(
        "delete from session_events where session_id = $1",
        session_id
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}
