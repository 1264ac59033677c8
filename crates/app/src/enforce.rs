//! Making LiveKit enforce the floor PostgreSQL decided. Shared by the API
//! (after each command it commits) and the worker (timers, departures).

use std::collections::HashMap;
use std::time::Duration;

use estrade_core::floor::Floor;
use estrade_db::floor::Decision;
use estrade_livekit::Gateway;
use sqlx::PgPool;
use uuid::Uuid;

/// Makes LiveKit match what PostgreSQL says now for the participants a
/// command touched. Not the command's effects replayed blindly: two
/// replicas deciding one after the other may reach LiveKit in the other
/// order, so each reads the current decision (with the floor version),
/// applies it, and reads the version again; if it moved meanwhile, it
/// applies again. The last writer therefore leaves LiveKit at the latest
/// decision. A failure, or a floor that kept moving through every pass, is
/// recorded in `floor_repairs` and retried by the worker ([`repair_due`]);
/// what still fails after [`MAX_REPAIR_ATTEMPTS`] is left to the
/// reconciliation job. Never undoes a decision.
pub async fn enforce(
    db: &PgPool,
    livekit: &Gateway,
    session_id: Uuid,
    room: &str,
    decision: &Decision,
) {
    let mirrored = &decision.mirrored;
    if decision.targets.is_empty() && mirrored.is_empty() {
        return;
    }
    let targets: Vec<(Uuid, String)> = decision
        .targets
        .iter()
        .map(|(e, identity)| (e.participant(), identity.clone()))
        .collect();
    // The first pass applies the decision just committed (no read before
    // the first LiveKit call); the version check after it catches any
    // later decision.
    let decided = Some((decision.outcome.floor.clone(), decision.version));
    match sync_permissions(db, livekit, session_id, room, &targets, mirrored, decided).await {
        Ok(()) => {}
        Err(SyncError::StillMoving) => {
            metrics::counter!("floor_enforce_still_moving_total").increment(1);
            schedule_repair(db, session_id, &targets, mirrored, &SyncError::StillMoving).await;
        }
        Err(error) => {
            metrics::counter!("floor_livekit_failures_total").increment(1);
            tracing::warn!(%error, "LiveKit did not take a floor change; the worker will retry it");
            schedule_repair(db, session_id, &targets, mirrored, &error).await;
        }
    }
}

/// Leaves the participants to the worker's retry ([`repair_due`]).
async fn schedule_repair(
    db: &PgPool,
    session_id: Uuid,
    targets: &[(Uuid, String)],
    mirrored: &[(Uuid, String)],
    why: &SyncError,
) {
    let ids = |list: &[(Uuid, String)]| list.iter().map(|(id, _)| *id).collect::<Vec<_>>();
    let scheduled = estrade_db::floor::schedule_repair(
        db,
        session_id,
        &ids(targets),
        &ids(mirrored),
        &why.to_string(),
    )
    .await;
    if let Err(error) = scheduled {
        tracing::error!(%error, "could not record the LiveKit retry; reconciliation will repair it");
    }
}

/// Brings LiveKit in line with the floor decided now for these
/// participants (permissions, microphones) and `mirrored` (attributes):
/// reads the current decision and re-applies while the floor version moves,
/// so it never undoes a later decision; a floor still moving after every
/// pass is left to the worker's retry. For reconciliation.
pub async fn bring_in_line(
    db: &PgPool,
    livekit: &Gateway,
    session_id: Uuid,
    room: &str,
    participants: &[(Uuid, String)],
    mirrored: &[(Uuid, String)],
) -> Result<(), String> {
    match sync_permissions(db, livekit, session_id, room, participants, mirrored, None).await {
        Err(SyncError::StillMoving) => {
            metrics::counter!("floor_enforce_still_moving_total").increment(1);
            schedule_repair(
                db,
                session_id,
                participants,
                mirrored,
                &SyncError::StillMoving,
            )
            .await;
            Ok(())
        }
        result => result.map_err(|e| e.to_string()),
    }
}

/// Attempts before a repair is left to reconciliation (about 25 minutes
/// with the backoff of [`retry_delay`]).
pub const MAX_REPAIR_ATTEMPTS: i32 = 30;

/// 1, 2, 4 … 60 s.
fn retry_delay(attempts: i32) -> Duration {
    Duration::from_secs(1u64 << attempts.clamp(0, 6)).min(Duration::from_secs(60))
}

/// Retries the LiveKit changes that failed and are due, four sessions at a
/// time. Returns how many were brought in line.
pub async fn repair_due(db: &PgPool, livekit: &Gateway) -> Result<usize, sqlx::Error> {
    use futures::StreamExt as _;
    let due = estrade_db::floor::lease_repairs(db, 64, Duration::from_secs(30)).await?;
    let done = futures::stream::iter(due)
        .map(|repair| async move { repair_one(db, livekit, repair).await })
        .buffer_unordered(4)
        .collect::<Vec<_>>()
        .await;
    let mut repaired = 0;
    for result in done {
        if result? {
            repaired += 1;
        }
    }
    Ok(repaired)
}

async fn repair_one(
    db: &PgPool,
    livekit: &Gateway,
    repair: estrade_db::floor::Repair,
) -> Result<bool, sqlx::Error> {
    let Some(session) = estrade_db::sessions::get(db, repair.session_id).await? else {
        return Ok(false);
    };
    let mut conn = db.acquire().await?;
    let targets =
        estrade_db::participants::identities(&mut conn, session.id, &repair.participants).await?;
    let mirrored =
        estrade_db::participants::identities(&mut conn, session.id, &repair.mirrored).await?;
    drop(conn);
    let synced = sync_permissions(
        db,
        livekit,
        session.id,
        &session.room_name,
        &targets,
        &mirrored,
        None,
    )
    .await;
    match synced {
        // Decisions keep coming: not a failure, and no attempt used up.
        Err(SyncError::StillMoving) => {
            estrade_db::floor::retry_repair(db, session.id, None, Duration::from_secs(1)).await?;
            Ok(false)
        }
        Ok(()) => {
            estrade_db::floor::remove_repair(db, session.id, repair.generation).await?;
            metrics::counter!("floor_repairs_total").increment(1);
            tracing::info!(session.id = %session.id, attempts = repair.attempts, "LiveKit now matches the floor");
            Ok(true)
        }
        Err(error) if repair.attempts >= MAX_REPAIR_ATTEMPTS => {
            estrade_db::floor::remove_repair(db, session.id, repair.generation).await?;
            metrics::counter!("floor_repairs_abandoned_total").increment(1);
            tracing::error!(session.id = %session.id, %error, "LiveKit still refuses a floor change; left to reconciliation");
            Ok(false)
        }
        Err(error) => {
            let retry_in = retry_delay(repair.attempts);
            let error = error.to_string();
            estrade_db::floor::retry_repair(db, session.id, Some(&error), retry_in).await?;
            Ok(false)
        }
    }
}

/// Why LiveKit could not be brought in line.
#[derive(Debug, thiserror::Error)]
enum SyncError {
    #[error(transparent)]
    LiveKit(#[from] estrade_livekit::Error),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// Later decisions kept coming during every pass: what this enforcer
    /// sent last may be older than what another sent meanwhile.
    #[error("the floor kept changing while LiveKit was being set")]
    StillMoving,
}

/// Passes (apply, then check the version) before [`SyncError::StillMoving`].
const PASSES: usize = 5;

async fn sync_permissions(
    db: &PgPool,
    livekit: &Gateway,
    session_id: Uuid,
    room: &str,
    targets: &[(Uuid, String)],
    mirrored: &[(Uuid, String)],
    mut decided: Option<(Floor, i64)>,
) -> Result<(), SyncError> {
    // What this enforcer has set so far: a later pass only sends what the
    // decision changed since, so concurrent commands do not multiply calls.
    let mut granted: HashMap<Uuid, bool> = HashMap::new();
    let mut shown: HashMap<Uuid, [(&'static str, String); 3]> = HashMap::new();
    for _ in 0..PASSES {
        let (current, seen) = match decided.take() {
            Some(decided) => decided,
            None => {
                let Some(session) = estrade_db::sessions::get(db, session_id).await? else {
                    return Ok(());
                };
                let mut conn = db.acquire().await?;
                let current = estrade_db::floor::load(&mut conn, &session).await?;
                (current, session.floor_version)
            }
        };
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
    Err(SyncError::StillMoving)
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
