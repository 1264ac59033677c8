//! The floor's persistent state (`floor_turns`). The state machine that
//! decides transitions lives in `estrade-core`; these are its writes.

use sqlx::PgConnection;
use uuid::Uuid;

/// Closes every open hand and turn of a session, with `reason`.
pub async fn close_all(
    conn: &mut PgConnection,
    session_id: Uuid,
    reason: &str,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!(
        "update floor_turns set state = 'done', ended_at = now(), end_reason = $2
          where session_id = $1 and state <> 'done'",
        session_id,
        reason,
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Closes a participant's open hand or turn, with `reason`.
pub async fn close_for(
    conn: &mut PgConnection,
    participant_id: Uuid,
    reason: &str,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!(
        "update floor_turns set state = 'done', ended_at = now(), end_reason = $2
          where participant_id = $1 and state <> 'done'",
        participant_id,
        reason,
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Whether a participant holds the floor now.
pub async fn is_speaking(
    conn: &mut PgConnection,
    participant_id: Uuid,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select exists (select 1 from floor_turns
                           where participant_id = $1 and state = 'speaking') as "speaking!""#,
        participant_id
    )
    .fetch_one(conn)
    .await
}
