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
use estrade_core::floor::Command;
use estrade_db::audit::Actor;
use estrade_db::sessions::Session;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{Deps, Error};

/// How long before its end a limited turn is announced as ending.
pub const WARNING: Duration = Duration::from_secs(10);

/// Announces every turn ending within [`WARNING`]. Returns how many.
pub async fn warn_due(deps: &Deps) -> Result<usize, sqlx::Error> {
    let mut warned = 0;
    let soon = estrade_db::floor::ending_soon(&deps.db, WARNING).await?;
    for (session_id, participant, expires_at) in soon {
        if warn(&deps.db, session_id, participant, expires_at).await? {
            deps.notifier.notify(session_id);
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
pub async fn expire_due(deps: &Deps) -> Result<usize, sqlx::Error> {
    let mut ended = 0;
    for (session_id, participant) in estrade_db::floor::expired(&deps.db).await? {
        if system_command(
            deps,
            session_id,
            Command::Expire(participant),
            async |_, _| Ok(true),
        )
        .await?
        {
            metrics::counter!("floor_expired_total").increment(1);
            ended += 1;
        }
    }
    Ok(ended)
}

/// Runs Estrade's own `command` through the floor's ceremony; whether it
/// changed the floor. A session gone, no longer live, or a command the
/// floor refuses (a turn renewed or ended meanwhile) changes nothing.
async fn system_command(
    deps: &Deps,
    session_id: Uuid,
    command: Command,
    check: impl AsyncFnOnce(&mut PgConnection, &Session) -> Result<bool, Error>,
) -> Result<bool, sqlx::Error> {
    match super::command(deps, session_id, command, Actor::System, check).await {
        Ok(decided) => Ok(decided.is_some_and(|d| d.decision.outcome.changed())),
        Err(Error::Database(error)) => Err(error),
        Err(_) => Ok(false),
    }
}

/// Takes the floor from participants that hold no seat any more
/// (`holds_seat`, migration 0011): a hand raised by a participant that
/// never connected to LiveKit within the arrival grace, or by one gone
/// longer than the departure grace, is lowered; such a participant's
/// speaking turn ends. A learner whose network drops for a moment, or who
/// reloads, keeps its place in line (a speaker's turn ends at the
/// departure itself, `crate::webhooks`). Returns how many.
pub async fn release_absent(deps: &Deps) -> Result<usize, sqlx::Error> {
    let mut released = 0;
    let graces = deps.graces;
    for (session_id, participant) in estrade_db::floor::absent_turns(&deps.db, graces).await? {
        // Arrived or back since the query? Then the floor stays as it is.
        let absent = async |conn: &mut PgConnection, _: &Session| {
            estrade_db::participants::lock_connection(&mut *conn, participant).await?;
            Ok(!estrade_db::participants::holds_seat(&mut *conn, participant, graces).await?)
        };
        if system_command(deps, session_id, Command::Left(participant), absent).await? {
            metrics::counter!("floor_absent_released_total").increment(1);
            released += 1;
        }
    }
    Ok(released)
}
