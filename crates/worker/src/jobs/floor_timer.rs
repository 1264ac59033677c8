//! Speaking-time limits. Every second, on any number of workers: turns
//! ending within 10 s get one `turn_ending` event (so clients can warn),
//! and turns whose limit ran out end through the floor's `Expire` command.
//! Both run under the session's lock, so each happens once, and a turn
//! renewed or ended meanwhile is left alone (a stale expiry changes
//! nothing). Deadlines and warnings live in PostgreSQL
//! (`floor_turns.expires_at`, `warned_at`), so restarts lose nothing.
//! Then LiveKit is told, as for any floor decision. The same tick takes
//! the floor (a raised hand, a speaking turn) from participants that no
//! longer hold a seat: never seen in LiveKit within the arrival grace, or
//! gone from it longer than the departure grace.

use std::time::Duration;

use chrono::{DateTime, Utc};
use estrade_core::domain::Graces;
use estrade_core::floor::Command;
use estrade_db::audit::Actor;
use estrade_livekit::Gateway;
use sqlx::PgPool;
use uuid::Uuid;

use crate::events::Notifier;

/// How long before its end a limited turn is announced as ending.
pub const WARNING: Duration = Duration::from_secs(10);

/// Announces every turn ending within [`WARNING`]. Returns how many.
pub async fn warn_due(db: &PgPool, notifier: &Notifier) -> Result<usize, sqlx::Error> {
    let mut warned = 0;
    for (session_id, participant, expires_at) in estrade_db::floor::ending_soon(db, WARNING).await?
    {
        if warn(db, session_id, participant, expires_at).await? {
            notifier.notify(session_id);
            warned += 1;
        }
    }
    Ok(warned)
}

async fn warn(
    db: &PgPool,
    session_id: Uuid,
    participant: Uuid,
    expires_at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    if estrade_db::sessions::lock(&mut tx, session_id)
        .await?
        .is_none()
    {
        return Ok(false);
    }
    let warned =
        estrade_db::floor::warn(&mut tx, session_id, participant, expires_at, Utc::now()).await?;
    tx.commit().await?;
    Ok(warned)
}

/// Ends every turn that is due. Returns how many ended.
pub async fn expire_due(
    db: &PgPool,
    livekit: &Gateway,
    notifier: &Notifier,
) -> Result<usize, sqlx::Error> {
    let mut ended = 0;
    for (session_id, participant) in estrade_db::floor::expired(db).await? {
        if expire(db, livekit, notifier, session_id, participant).await? {
            ended += 1;
        }
    }
    Ok(ended)
}

async fn expire(
    db: &PgPool,
    livekit: &Gateway,
    notifier: &Notifier,
    session_id: Uuid,
    participant: Uuid,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    let Some(session) = estrade_db::sessions::lock(&mut tx, session_id).await? else {
        return Ok(false);
    };
    let decided = decide(tx, &session, Command::Expire(participant), notifier).await?;
    if decided.is_some() {
        metrics::counter!("floor_expired_total").increment(1);
    }
    enforce(db, livekit, &session, decided).await
}

/// Runs Estrade's own `command` in `tx` (which holds the session's lock)
/// and commits it when it changed the floor, telling the live streams;
/// the decision, for LiveKit to be told after the commit.
async fn decide(
    mut tx: sqlx::Transaction<'_, sqlx::Postgres>,
    session: &estrade_db::sessions::Session,
    command: Command,
    notifier: &Notifier,
) -> Result<Option<estrade_db::floor::Decision>, sqlx::Error> {
    let Ok(decision) =
        estrade_db::floor::run(&mut tx, session, &command, Actor::System, Utc::now()).await?
    else {
        return Ok(None);
    };
    if !decision.outcome.changed() {
        return Ok(None);
    }
    tx.commit().await?;
    notifier.notify(session.id);
    Ok(Some(decision))
}

/// Tells LiveKit what `decided` changed; whether anything did.
async fn enforce(
    db: &PgPool,
    livekit: &Gateway,
    session: &estrade_db::sessions::Session,
    decided: Option<estrade_db::floor::Decision>,
) -> Result<bool, sqlx::Error> {
    let Some(decision) = decided else {
        return Ok(false);
    };
    crate::enforce::enforce(db, livekit, session.id, &session.room_name, &decision).await;
    Ok(true)
}

/// Takes the floor from participants that hold no seat any more
/// (`holds_seat`, migration 0011): a hand raised by a participant that
/// never connected to LiveKit within the arrival grace, or by one gone
/// longer than the departure grace, is lowered; such a participant's
/// speaking turn ends. A learner whose network drops for a moment, or who
/// reloads, keeps its place in line (a speaker's turn ends at the
/// departure itself, `jobs::webhook`). Returns how many.
pub async fn release_absent(
    db: &PgPool,
    livekit: &Gateway,
    notifier: &Notifier,
    graces: Graces,
) -> Result<usize, sqlx::Error> {
    let mut released = 0;
    for (session_id, participant) in estrade_db::floor::absent_turns(db, graces).await? {
        if release(db, livekit, notifier, session_id, participant, graces).await? {
            released += 1;
        }
    }
    Ok(released)
}

async fn release(
    db: &PgPool,
    livekit: &Gateway,
    notifier: &Notifier,
    session_id: Uuid,
    participant: Uuid,
    graces: Graces,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    let Some(session) = estrade_db::sessions::lock(&mut tx, session_id).await? else {
        return Ok(false);
    };
    // Arrived or back since the query? Then the floor stays as it is.
    estrade_db::participants::lock_connection(&mut tx, participant).await?;
    if estrade_db::participants::holds_seat(&mut *tx, participant, graces).await? {
        return Ok(false);
    }
    let decided = decide(tx, &session, Command::Left(participant), notifier).await?;
    if decided.is_some() {
        metrics::counter!("floor_absent_released_total").increment(1);
    }
    enforce(db, livekit, &session, decided).await
}
