//! Ends speaking turns whose time limit has run out. Every second, any
//! number of workers: each expiry runs the floor's `Expire` command under
//! the session's lock, so a turn ends once, and a turn renewed or ended
//! meanwhile is left alone (a stale expiry changes nothing). The deadline
//! lives in PostgreSQL (`floor_turns.expires_at`), so restarts lose nothing.
//! Then LiveKit is told, as for any floor decision.

use chrono::Utc;
use estrade_core::floor::Command;
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
    let command = Command::Expire(participant);
    let Ok(decision) =
        estrade_db::floor::run(&mut tx, &session, &command, Actor::System, Utc::now()).await?
    else {
        return Ok(false);
    };
    if !decision.outcome.changed() {
        return Ok(false);
    }
    tx.commit().await?;
    metrics::counter!("floor_expired_total").increment(1);
    crate::enforce::enforce(
        db,
        livekit,
        session.id,
        &session.room_name,
        &decision.targets,
        &decision.mirrored,
    )
    .await;
    Ok(true)
}
