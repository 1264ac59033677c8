//! What participants publish in LiveKit (`participant_tracks`), as its
//! webhooks report it. Rows are tombstoned, never deleted, so events for a
//! track apply in any order.

use sqlx::PgConnection;
use uuid::Uuid;

/// A track LiveKit reported.
#[derive(Debug, Clone, Copy)]
pub struct TrackEvent<'a> {
    /// LiveKit's track id.
    pub track_sid: &'a str,
    /// Who publishes it.
    pub participant_id: Uuid,
    /// `camera`, `microphone`, …
    pub source: &'a str,
}

/// Records a published track. Returns whether this changed anything: a
/// duplicate, or a publish arriving after its unpublish, does not.
pub async fn published(
    conn: &mut PgConnection,
    track: TrackEvent<'_>,
    unauthorized: bool,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "insert into participant_tracks (track_sid, participant_id, source, published_at, unauthorized)
         values ($1, $2, $3, now(), $4)
         on conflict (track_sid) do nothing",
        track.track_sid,
        track.participant_id,
        track.source,
        unauthorized,
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records an unpublished track (known or not yet seen).
pub async fn unpublished(
    conn: &mut PgConnection,
    track: TrackEvent<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into participant_tracks (track_sid, participant_id, source, unpublished_at)
         values ($1, $2, $3, now())
         on conflict (track_sid) do update
            set unpublished_at = coalesce(participant_tracks.unpublished_at, now())",
        track.track_sid,
        track.participant_id,
        track.source,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A participant's tracks still published, as `(track_sid, source, unauthorized)`.
pub async fn live_for(
    conn: &mut PgConnection,
    participant_id: Uuid,
) -> Result<Vec<(String, String, bool)>, sqlx::Error> {
    let rows = sqlx::query!(
        "select track_sid, source, unauthorized from participant_tracks
          where participant_id = $1 and unpublished_at is null
          order by track_sid",
        participant_id
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.track_sid, r.source, r.unauthorized))
        .collect())
}

/// The participants of `session_id` holding a microphone published
/// without the floor and not yet taken away.
pub async fn unauthorized_microphones(
    db: impl sqlx::PgExecutor<'_>,
    session_id: Uuid,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "select distinct t.participant_id from participant_tracks t
           join participants p on p.id = t.participant_id
          where p.session_id = $1 and t.unauthorized and t.unpublished_at is null",
        session_id
    )
    .fetch_all(db)
    .await
}
