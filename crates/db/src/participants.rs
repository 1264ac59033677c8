//! Participants of sessions.

use std::time::Duration;

/// What an erased display name becomes.
pub const ERASED_NAME: &str = "(erased)";

/// Replaces the display names of learners and classrooms whose session ended
/// more than `retention` ago. Returns how many names were erased.
pub async fn erase_names_after(
    db: impl sqlx::PgExecutor<'_>,
    retention: Duration,
) -> Result<u64, sqlx::Error> {
    let seconds = retention.as_secs_f64();
    let result = sqlx::query!(
        "update participants p set display_name = $1
           from sessions s
          where s.id = p.session_id
            and s.status = 'ended'
            and s.ended_at < now() - make_interval(secs => $2)
            and p.kind in ('learner', 'classroom')
            and p.display_name <> $1",
        ERASED_NAME,
        seconds,
    )
    .execute(db)
    .await?;
    Ok(result.rows_affected())
}
