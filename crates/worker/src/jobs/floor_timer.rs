//! Ends speaking turns whose time limit has run out. Every second, any
//! number of workers: each expiry runs the floor's `Expire` command under
//! the session's lock, so a turn ends once, and a turn renewed or ended
//! meanwhile is left alone (a stale expiry changes nothing). The deadline
//! lives in PostgreSQL (`floor_turns.expires_at`), so restarts lose nothing.
//! Then LiveKit is told, as for any floor decision.

use chrono::Utc;
use estrade_core::floor::{self, Command};
use estrade_db::audit::Actor;
use estrade_livekit::Gateway;
use sqlx::PgPool;
use uuid::Uuid;

/// Ends every turn that is due. Returns how many ended.
pub async fn expire_due(db: &PgPool, livekit: &Gateway) -> Result<usize, sqlx::Error> {
    let mut ended = 0;
    for (session_id, participant) in estrade_db::floor::expired(db).await? {
        if expire(db, livekit, session_id, participant).await? {
            ended += 1;
        }
    }
    Ok(ended)
}

async fn expire(
    db: &PgPool,
    livekit: &Gateway,
    session_id: Uuid,
    participant: Uuid,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    let Some(session) = estrade_db::sessions::lock(&mut tx, session_id).await? else {
        return Ok(false);
    };
    let before = estrade_db::floor::load(&mut tx, &session).await?;
    let command = Command::Expire(participant);
    let Ok(outcome) = floor::apply(&before, &command, Utc::now()) else {
        return Ok(false);
    };
    if !outcome.changed() {
        return Ok(false);
    }
    estrade_db::floor::record(&mut tx, &session, &command, &outcome, Actor::System).await?;
    let targets = crate::enforce::targets(&mut tx, session.id, &outcome.effects).await?;
    let changed = floor::attribute_changes(&before, &outcome.floor);
    let mirrored = estrade_db::participants::identities(&mut tx, session.id, &changed).await?;
    tx.commit().await?;
    metrics::counter!("floor_expired_total").increment(1);
    crate::enforce::enforce(
        db,
        livekit,
        session.id,
        &session.room_name,
        &targets,
        &mirrored,
    )
    .await;
    Ok(true)
}
