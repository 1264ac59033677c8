//! Running floor commands: decide in PostgreSQL, then enforce in LiveKit.
//! This is the one place the ceremony is written; every caller (the API's
//! floor routes and kicks, the worker's timers and webhooks, the
//! reconciler) goes through it.
//!
//! One transaction per command: lock the session row (every replica
//! serialises on it), let the caller check who may act, ask the pure state
//! machine (`estrade_core::floor`, through `estrade_db::floor::run`), write
//! the turn changes, settings, version and audit entry, commit. Only then
//! are the live streams told ([`announce`]) and LiveKit (grant = microphone
//! permission, revoke = no publishing and the microphone muted, the floor
//! mirrored into participant attributes). A failed LiveKit call does not
//! undo the decision: the worker retries it (`floor_repairs`), and the
//! reconciliation job repairs whatever is still wrong.

pub mod timers;

use chrono::Utc;
use estrade_core::domain::{Presence, SessionStatus};
use estrade_core::floor::{Command, Refusal};
use estrade_db::audit::Actor;
use estrade_db::floor::{Audit, Decision};
use estrade_db::participants::Participant;
use estrade_db::sessions::Session;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{Account, Deps, Error};

/// [`Error::NotLive`] unless `session` is live. Callers check it
/// right after who may act, before anything about the command itself.
pub fn require_live(session: &Session) -> Result<(), Error> {
    if session.status == SessionStatus::Live {
        Ok(())
    } else {
        Err(Error::NotLive)
    }
}

/// A decided command, committed, with what LiveKit was told.
#[derive(Debug)]
pub struct Decided {
    /// The session (for its room).
    pub session: Session,
    /// What was decided.
    pub decision: Decision,
}

/// Runs `command` by `actor` on the floor of session `session_id`: locks
/// the session, runs `check` on it in the transaction (`Ok(false)` leaves
/// everything as it was and returns `None`), decides, commits, tells the
/// live streams and LiveKit.
pub async fn command(
    deps: &Deps,
    session_id: Uuid,
    command: Command,
    actor: Actor,
    check: impl AsyncFnOnce(&mut PgConnection, &Session) -> Result<bool, Error>,
) -> Result<Option<Decided>, Error> {
    let mut tx = deps.db.begin().await?;
    let session = estrade_db::sessions::lock(&mut tx, session_id)
        .await?
        .ok_or(Error::NotFound)?;
    if !check(&mut tx, &session).await? {
        return Ok(None);
    }
    let decision = decide(&mut tx, &session, &command, actor, Audit::Own).await??;
    tx.commit().await?;
    announce(deps, &session, &decision).await;
    Ok(Some(Decided { session, decision }))
}

/// Decides `command` in `conn`, which holds the session's lock, for a use
/// case that changes more than the floor in its transaction (a kick, a
/// webhook, a reconciliation); it calls [`announce`] after its commit.
/// With [`Audit::Caller`], the use case's own audit entry carries the
/// floor change ([`Decision::audit_details`]): one entry per use case.
pub async fn decide(
    conn: &mut PgConnection,
    session: &Session,
    command: &Command,
    actor: Actor,
    audit: Audit,
) -> Result<Result<Decision, Refusal>, sqlx::Error> {
    estrade_db::floor::run(conn, session, command, actor, audit, Utc::now()).await
}

/// What follows the commit of a floor decision: when it changed the
/// floor, the live streams of every replica are told, then LiveKit (see
/// [`crate::enforce`]).
pub async fn announce(deps: &Deps, session: &Session, decision: &Decision) {
    if decision.outcome.changed() {
        deps.notifier.notify(session.id);
    }
    crate::enforce::enforce(
        &deps.db,
        &deps.livekit,
        session.id,
        &session.room_name,
        decision,
    )
    .await;
}

/// A command of the session's own teacher (`by`), on the floor of session
/// `session_id`, naming participant `target` if any. The floor is the
/// class's own teacher's to run: an admin sees it, removes participants
/// and ends the session, and gets [`Error::OwnerOnly`] here. Checked in
/// this order: who may act, the session live, then the target (one of the
/// session's; a grant only to a learner or classroom still there).
pub async fn by_teacher(
    deps: &Deps,
    by: &Account,
    session_id: Uuid,
    target: Option<Uuid>,
    command: Command,
) -> Result<Decided, Error> {
    let granting = matches!(command, Command::Grant(_));
    let check = async |conn: &mut PgConnection, session: &Session| {
        by.can_manage(session.teacher_id)?;
        if session.teacher_id != by.id {
            return Err(Error::OwnerOnly);
        }
        require_live(session)?;
        if let Some(pid) = target {
            let p = estrade_db::participants::get(&mut *conn, pid)
                .await?
                .filter(|p| p.session_id == session_id)
                .ok_or(Error::NotFound)?;
            if granting {
                takes_the_floor(&p)?;
            }
        }
        Ok(true)
    };
    self::command(deps, session_id, command, by.actor(), check)
        .await?
        .ok_or(Error::NotFound)
}

/// A participant's command on its own hand (`participant` of session
/// `session_id`): the session live, and to raise it, a learner or
/// classroom still there.
pub async fn by_participant(
    deps: &Deps,
    participant: Uuid,
    session_id: Uuid,
    command: Command,
) -> Result<Decided, Error> {
    let raising = matches!(command, Command::Raise(_));
    let check = async |conn: &mut PgConnection, session: &Session| {
        require_live(session)?;
        let p = estrade_db::participants::get(&mut *conn, participant)
            .await?
            .ok_or(Error::NotFound)?;
        if raising {
            takes_the_floor(&p)?;
        }
        Ok::<_, Error>(true)
    };
    let actor = Actor::Participant(participant);
    self::command(deps, session_id, command, actor, check)
        .await?
        .ok_or(Error::NotFound)
}

/// Only learners and classrooms still in the session take the floor.
pub(crate) fn takes_the_floor(p: &Participant) -> Result<(), Error> {
    if !p.kind.takes_the_floor() {
        return Err(Error::NotALearner);
    }
    if p.kicked_at.is_some() {
        return Err(Error::NotFound);
    }
    if p.presence == Presence::Left {
        return Err(Error::ParticipantLeft);
    }
    Ok(())
}
