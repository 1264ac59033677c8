//! Running floor commands: decide in PostgreSQL, then enforce in LiveKit.
//!
//! One transaction per command: lock the session row (every replica
//! serialises on it), load the open turns, ask the pure state machine
//! (`estrade_core::floor`), write the turn changes, settings, version and
//! audit entry, commit. Only then is LiveKit told (grant = microphone
//! permission, revoke = no publishing and the microphone muted), and the
//! floor mirrored into participant attributes. A failed LiveKit call does
//! not undo the decision: the worker retries it (`floor_repairs`), and the
//! reconciliation job repairs whatever is still wrong. Committed changes
//! are announced to every replica's live streams.

use chrono::Utc;
use estrade_core::domain::SessionStatus;
use estrade_core::floor::{Command, Refusal};
use estrade_db::audit::Actor;
use estrade_db::floor::Decision;
use estrade_db::sessions::Session;

use crate::AppState;
use crate::error::Error;

pub use estrade_core::floor_view::{FloorView, HandView, SpeakerView};

fn refused(refusal: Refusal) -> Error {
    let code = match refusal {
        Refusal::Closed => "floor_closed",
        Refusal::AlreadyQueued => "hand_already_raised",
        Refusal::AlreadySpeaking => "already_speaking",
        Refusal::QueueEmpty => "queue_empty",
        Refusal::Full => "floor_full",
        Refusal::InvalidMaxSpeakers => {
            return Error::invalid("invalid_floor", refusal.to_string());
        }
    };
    Error::conflict(code, refusal.to_string())
}

/// 409 `session_not_live` unless `session` is live: every floor command
/// needs it, and it is checked before anything else about the command.
pub fn require_live(session: &Session) -> Result<(), Error> {
    let status: SessionStatus = crate::routes::sessions::status_of(session)?;
    if status != SessionStatus::Live {
        return Err(Error::conflict(
            "session_not_live",
            "The floor is only open while the session is live.",
        ));
    }
    Ok(())
}

/// A decided command, committed, with what LiveKit must be told.
#[derive(Debug)]
pub struct Decided {
    /// The session (for its room).
    pub session: Session,
    /// What was decided.
    pub decision: Decision,
}

/// Runs `command` on the floor of `session`, which the caller locked in
/// `tx`; commits `tx` and tells the replicas' live streams.
pub async fn decide(
    state: &AppState,
    mut tx: sqlx::Transaction<'static, sqlx::Postgres>,
    session: Session,
    command: Command,
    actor: Actor,
) -> Result<Decided, Error> {
    require_live(&session)?;
    let decision = estrade_db::floor::run(&mut tx, &session, &command, actor, Utc::now())
        .await?
        .map_err(refused)?;
    tx.commit().await?;
    if decision.outcome.changed() {
        state.notifier.notify(session.id);
    }
    Ok(Decided { session, decision })
}

/// Tells LiveKit what was decided (see `estrade_worker::enforce`).
pub async fn enforce(state: &AppState, session: &Session, decision: &Decision) {
    estrade_worker::enforce::enforce(
        &state.db,
        &state.livekit,
        session.id,
        &session.room_name,
        decision,
    )
    .await;
}
