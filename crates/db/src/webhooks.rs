//! The webhook inbox: every verified LiveKit event, stored before LiveKit
//! is answered, keyed by LiveKit's event id.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgExecutor;

/// A verified event to store.
#[derive(Debug, Clone)]
pub struct InboxEvent<'a> {
    /// LiveKit's event id (`EV_…`).
    pub event_id: &'a str,
    /// `participant_joined`, … (any string: unknown types are kept).
    pub event_type: &'a str,
    /// The room it concerns, if any.
    pub room_name: Option<&'a str>,
    /// LiveKit's `createdAt`.
    pub created_at: Option<DateTime<Utc>>,
    /// The whole event as LiveKit sent it.
    pub payload: &'a Value,
}

/// Stores an event unless its id is already there. Returns whether it was
/// new: a redelivery is a no-op.
pub async fn insert(db: impl PgExecutor<'_>, event: &InboxEvent<'_>) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query!(
        "insert into webhook_inbox (event_id, event_type, room_name, event_created_at, payload)
         values ($1, $2, $3, $4, $5)
         on conflict (event_id) do nothing",
        event.event_id,
        event.event_type,
        event.room_name,
        event.created_at,
        event.payload,
    )
    .execute(db)
    .await?;
    Ok(inserted.rows_affected() == 1)
}
