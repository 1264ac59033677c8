//! Participants: joining a class, staying in it, being removed from it.

use std::time::{Duration, SystemTime};

use estrade_core::domain::{DisplayName, JoinCode, ParticipantKind, SessionStatus};
use estrade_core::floor::Command;
use estrade_db::audit::{self, Actor, Entry};
use estrade_db::floor::Audit;
use estrade_db::participants::{NewParticipant, Participant};
use estrade_db::sessions::Session;
use estrade_livekit::Role;
use rand::distr::{Alphanumeric, SampleString as _};
use serde_json::json;
use uuid::Uuid;

use crate::{Account, Deps, Error};

/// Kicks participant `pid` of session `session_id` (idempotent), if `by`
/// manages the session: its tokens are refused from now on,
/// its hand and floor released through the floor's state machine (history,
/// a new version, and in an open floor the freed slot goes to the next in
/// line), one audit entry. Every call, a repeat included, removes it from
/// LiveKit and revokes the LiveKit tokens issued up to now (the next whole
/// second included); if LiveKit cannot be reached the kick stands and
/// [`Error::LiveKit`] says to call again.
pub async fn kick(
    deps: &Deps,
    by: &Account,
    session_id: Uuid,
    pid: Uuid,
) -> Result<Participant, Error> {
    let mut tx = deps.db.begin().await?;
    let session = crate::sessions::lock_managed(&mut tx, by, session_id).await?;
    let participant = estrade_db::participants::get(&mut *tx, pid)
        .await?
        .filter(|p| p.session_id == session_id)
        .ok_or(Error::NotFound)?;
    if participant.kind == ParticipantKind::Teacher {
        return Err(Error::CannotKickTeacher);
    }
    let mut decided = None;
    let kicked = if participant.kicked_at.is_some() {
        tx.rollback().await?;
        participant
    } else {
        let (kicked, decision) = kick_in(&mut tx, &session, pid, by.actor()).await?;
        tx.commit().await?;
        deps.notifier.notify(session.id);
        decided = decision.ok();
        kicked
    };
    let revoke_before = SystemTime::now() + Duration::from_secs(1);
    match deps
        .livekit
        .remove_participant(&session.room_name, &kicked.identity, revoke_before)
        .await
    {
        Ok(()) | Err(estrade_livekit::Error::NotFound) => {}
        Err(e) => return Err(e.into()),
    }
    if let Some(decision) = &decided {
        crate::floor::announce(deps, &session, decision).await;
    }
    Ok(kicked)
}

/// The kick's writes, in the session's transaction.
async fn kick_in(
    tx: &mut sqlx::PgConnection,
    session: &Session,
    pid: Uuid,
    actor: Actor,
) -> Result<
    (
        Participant,
        Result<estrade_db::floor::Decision, estrade_core::floor::Refusal>,
    ),
    sqlx::Error,
> {
    let kicked = estrade_db::participants::kick(&mut *tx, pid).await?;
    let command = Command::Kicked(pid);
    let decision = crate::floor::decide(&mut *tx, session, &command, actor, Audit::Caller).await?;
    let mut details = json!({ "floor_released": false });
    if let Ok(decision) = &decision
        && !decision.outcome.changes.is_empty()
    {
        details = json!({ "floor_released": true, "floor": decision.audit_details() });
    }
    let entry = Entry::new(actor, "participant.kicked")
        .session(session.id)
        .target(pid)
        .details(details);
    audit::record(&mut *tx, entry).await?;
    Ok((kicked, decision))
}

/// Someone asking to join with a code, already validated.
#[derive(Debug)]
pub struct Joiner<'a> {
    /// The session's code.
    pub code: &'a JoinCode,
    /// The name others see.
    pub name: &'a DisplayName,
    /// A learner or a classroom.
    pub kind: ParticipantKind,
    /// For a classroom: how many people are in front of the screen.
    pub headcount: Option<i32>,
}

/// Admits `joiner` to the live, unlocked session its code names, if a seat
/// is free, and if `admit` (the API's per-code rate, given the session's
/// seats) lets it through: the participant row and its audit entry are
/// durable before the answer. The session's row lock serialises joins with
/// each other and with the teacher's changes (lock, end), so the seat count
/// is exact. Refusals: [`Error::NoSuchCode`], [`Error::NotStarted`],
/// [`Error::SessionEnded`], [`Error::Locked`], [`Error::Full`].
pub async fn join<E: From<Error>>(
    deps: &Deps,
    joiner: Joiner<'_>,
    admit: impl FnOnce(i32) -> Result<(), E>,
) -> Result<(Session, Participant), E> {
    let role = match joiner.kind {
        ParticipantKind::Classroom => Role::Classroom,
        _ => Role::Learner,
    };
    let identity = format!(
        "{}{}",
        role.identity_prefix(),
        Alphanumeric.sample_string(&mut rand::rng(), 16)
    );
    let code = joiner.code.as_str();
    let mut tx = deps.db.begin().await.map_err(Error::from)?;
    let Some(session) = estrade_db::sessions::lock_by_code(&mut tx, code)
        .await
        .map_err(Error::from)?
    else {
        drop(tx);
        let ended = estrade_db::sessions::code_belonged_to_ended(&deps.db, code)
            .await
            .map_err(Error::from)?;
        return Err(Error::NoSuchCode { ended }.into());
    };
    match session.status {
        SessionStatus::Scheduled => return Err(Error::NotStarted.into()),
        SessionStatus::Ended => return Err(Error::SessionEnded.into()),
        SessionStatus::Live if session.locked => return Err(Error::Locked.into()),
        SessionStatus::Live => {}
    }
    let new = NewParticipant {
        session_id: session.id,
        kind: joiner.kind,
        identity: &identity,
        display_name: joiner.name.as_str(),
        headcount: joiner.headcount,
    };
    let participant =
        estrade_db::participants::admit(&mut tx, session.max_learners, deps.graces, new)
            .await
            .map_err(Error::from)?
            .ok_or(Error::Full)?;
    // Dropping `tx` on a refusal rolls the admission back.
    admit(session.max_learners)?;
    tx.commit().await.map_err(Error::from)?;
    Ok((session, participant))
}

/// A participant still in a live session, and the session, to renew its
/// tokens: [`Error::NotFound`] for one that no longer exists,
/// [`Error::SessionEnded`] once the session ended, [`Error::Kicked`] once
/// kicked (a kick may have committed since its token was checked).
pub async fn still_in(
    deps: &Deps,
    session_id: Uuid,
    participant_id: Uuid,
) -> Result<(Session, Participant), Error> {
    let session = estrade_db::sessions::get(&deps.db, session_id)
        .await?
        .ok_or(Error::NotFound)?;
    if session.status == SessionStatus::Ended {
        return Err(Error::SessionEnded);
    }
    let participant = estrade_db::participants::get(&deps.db, participant_id)
        .await?
        .ok_or(Error::NotFound)?;
    if participant.kicked_at.is_some() {
        return Err(Error::Kicked);
    }
    Ok((session, participant))
}
