//! Making LiveKit enforce the floor PostgreSQL decided. Shared by the API
//! (after each command it commits) and the worker (timers, departures).

use std::collections::HashMap;
use std::time::Duration;

use estrade_core::floor::Effect;
use estrade_livekit::Gateway;
use sqlx::PgPool;
use uuid::Uuid;

/// Makes LiveKit match what PostgreSQL says now for the participants a
/// command touched. Not the command's effects replayed blindly: two
/// replicas deciding one after the other may reach LiveKit in the other
/// order, so each reads the current decision (with the floor version),
/// applies it, and reads the version again; if it moved meanwhile, it
/// applies again. The last writer therefore leaves LiveKit at the latest
/// decision. A failure is retried in the background, the same way; what
/// still fails is left to the reconciliation job. Never undoes a decision.
pub async fn enforce(
    db: &PgPool,
    livekit: &Gateway,
    session_id: Uuid,
    room: &str,
    targets: &[(Effect, String)],
    mirrored: &[(Uuid, String)],
) {
    if targets.is_empty() && mirrored.is_empty() {
        return;
    }
    let mirrored = mirrored.to_vec();
    let targets: Vec<(Uuid, String)> = targets
        .iter()
        .map(|(e, identity)| (e.participant(), identity.clone()))
        .collect();
    if let Err(error) = sync_permissions(db, livekit, session_id, room, &targets, &mirrored).await {
        metrics::counter!("floor_livekit_failures_total").increment(1);
        tracing::warn!(%error, "LiveKit did not take a floor change; retrying in the background");
        let (db, livekit, room) = (db.clone(), livekit.clone(), room.to_owned());
        tokio::spawn(async move {
            let mut wait = Duration::from_millis(500);
            for _ in 0..6 {
                tokio::time::sleep(wait).await;
                match sync_permissions(&db, &livekit, session_id, &room, &targets, &mirrored).await
                {
                    Ok(()) => return,
                    Err(SyncError::LiveKit(e)) if !e.is_transient() => return,
                    Err(_) => wait = (wait * 2).min(Duration::from_secs(8)),
                }
            }
            tracing::warn!("floor change still not in LiveKit; reconciliation will repair it");
        });
    }
}

/// Why LiveKit could not be brought in line.
#[derive(Debug, thiserror::Error)]
enum SyncError {
    #[error(transparent)]
    LiveKit(#[from] estrade_livekit::Error),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

async fn sync_permissions(
    db: &PgPool,
    livekit: &Gateway,
    session_id: Uuid,
    room: &str,
    targets: &[(Uuid, String)],
    mirrored: &[(Uuid, String)],
) -> Result<(), SyncError> {
    // What this enforcer has set so far: a later pass only sends what the
    // decision changed since, so concurrent commands do not multiply calls.
    let mut granted: HashMap<Uuid, bool> = HashMap::new();
    let mut shown: HashMap<Uuid, [(&'static str, String); 3]> = HashMap::new();
    for _ in 0..5 {
        let Some(session) = estrade_db::sessions::get(db, session_id).await? else {
            return Ok(());
        };
        let seen = session.floor_version;
        let mut conn = db.acquire().await?;
        let current = estrade_db::floor::load(&mut conn, &session).await?;
        drop(conn);
        for (id, identity) in targets {
            let speaking = current.is_speaking(*id);
            if granted.get(id) == Some(&speaking) {
                continue;
            }
            let result = if speaking {
                livekit.grant_floor(room, identity).await.map(|_| ())
            } else {
                livekit.revoke_floor(room, identity).await.map(|_| ())
            };
            tolerate_absence(result)?;
            granted.insert(*id, speaking);
        }
        // One call per participant whose view changed (everyone behind a
        // lowered hand moves up), eight at a time.
        let stale: Vec<&(Uuid, String)> = mirrored
            .iter()
            .filter(|(id, _)| {
                shown.get(id) != Some(&estrade_core::floor::attributes(&current, *id))
            })
            .collect();
        for chunk in stale.chunks(8) {
            let calls = chunk
                .iter()
                .map(|(id, identity)| mirror(livekit, room, &current, *id, identity));
            for result in futures::future::join_all(calls).await {
                tolerate_absence(result)?;
            }
            for (id, _) in chunk {
                shown.insert(*id, estrade_core::floor::attributes(&current, *id));
            }
        }
        if estrade_db::floor::version(db, session_id).await? == seen {
            return Ok(());
        }
    }
    Ok(())
}

async fn mirror(
    livekit: &Gateway,
    room: &str,
    floor: &estrade_core::floor::Floor,
    participant: Uuid,
    identity: &str,
) -> Result<(), estrade_livekit::Error> {
    let attributes = estrade_core::floor::attributes(floor, participant)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    livekit
        .set_attributes(room, identity, attributes)
        .await
        .map(|_| ())
}

/// Someone not (or no longer) in the room: nothing to enforce.
fn tolerate_absence(result: Result<(), estrade_livekit::Error>) -> Result<(), SyncError> {
    match result {
        Ok(()) | Err(estrade_livekit::Error::NotFound) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
