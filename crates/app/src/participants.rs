//! Participants: joining a class, staying in it, being removed from it.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use futures::FutureExt as _;
use sqlx::PgPool;

use estrade_core::domain::{DisplayName, Graces, JoinCode, ParticipantKind, SessionStatus};
use estrade_core::floor::Command;
use estrade_core::outbound::Event;
use estrade_db::audit::{self, Actor, Entry};
use estrade_db::floor::Audit;
use estrade_db::participants::{NewParticipant, Participant};
use estrade_db::sessions::Session;
use estrade_livekit::Role;
use rand::distr::{Alphanumeric, SampleString as _};
use serde_json::json;
use uuid::Uuid;

use crate::batch::Lanes;
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
    let told = json!({
        "session_id": session.id, "participant_id": pid, "kind": kicked.kind,
        "kicked_at": kicked.kicked_at,
    });
    estrade_db::outbound::enqueue(&mut *tx, Event::ParticipantKicked, &told).await?;
    Ok((kicked, decision))
}

/// Someone asking to join with a code, already validated.
#[derive(Debug)]
pub struct Joiner {
    /// The session's code.
    pub code: JoinCode,
    /// The name others see.
    pub name: DisplayName,
    /// A learner or a classroom.
    pub kind: ParticipantKind,
    /// For a classroom: how many people are in front of the screen.
    pub headcount: Option<i32>,
}

/// The caller's last word on a join that has found a seat, given the
/// session's seat limit (the API's per-code rate): an `Err` refuses it and
/// nothing of it is written.
pub type Admit = Box<dyn FnOnce(i32) -> Result<(), Error> + Send>;

/// A join waiting for its batch.
pub(crate) struct Request {
    joiner: Joiner,
    identity: String,
    admit: Admit,
}

/// What a join comes to.
pub type Admitted = Result<(Session, Participant), Error>;

/// Lanes of batches: a join goes to the lane of its code, so batches that
/// run at the same time never name the same session (they would wait for
/// each other's commit on its row lock), and each lane runs one batch at a
/// time.
const JOIN_LANES: usize = 4;
/// Joins in one batch at most.
const JOIN_BATCH_MAX: usize = 128;

/// Admits joins in batches, one lane per share of the join codes: see
/// [`join`]. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Admissions {
    lanes: Lanes<Request, Admitted>,
}

impl Admissions {
    pub(crate) fn new(db: PgPool, graces: Graces) -> Self {
        let lanes = Lanes::new(JOIN_LANES, JOIN_BATCH_MAX, move |batch| {
            let db = db.clone();
            async move {
                let n = batch.len();
                admit_batch(&db, graces, batch)
                    .await
                    .unwrap_or_else(|e| crate::batch_failed(n, e))
            }
            .boxed()
        });
        Self { lanes }
    }

    async fn run(&self, request: Request) -> Result<Admitted, crate::batch::Unanswered> {
        // A code names at most one session that is not ended.
        let code = request.joiner.code.as_str().as_bytes().to_vec();
        self.lanes.run(&code, request).await
    }
}

/// Admits `joiner` to the live, unlocked session its code names, if a seat
/// is free, and if `admit` (the API's per-code rate, given the session's
/// seats) lets it through: the participant row and its audit entry are
/// durable before the answer. Refusals: [`Error::NoSuchCode`],
/// [`Error::NotStarted`], [`Error::SessionEnded`], [`Error::Locked`],
/// [`Error::Full`], or `admit`'s.
///
/// Group commit: the joins that arrive together (in the same lane: a share
/// of the codes) are admitted in one transaction (one lock per session
/// touched, one statement for every participant row and audit entry, one
/// WAL flush) and each is answered after that commit. Within a batch the
/// joins are decided one after the other in arrival order, exactly as if
/// each had its own transaction: the sessions' row locks serialise batches
/// with each other and with the teacher's changes (lock, end), so every
/// seat count is exact.
pub async fn join(
    deps: &Deps,
    joiner: Joiner,
    admit: Admit,
) -> Result<(Session, Participant), Error> {
    deps.admissions.run(Request::new(joiner, admit)).await?
}

/// Admits `joins` as one batch, in their order, as [`join`] admits the
/// joins that arrive together: one result per join.
pub async fn join_together(deps: &Deps, joins: Vec<(Joiner, Admit)>) -> Vec<Admitted> {
    let n = joins.len();
    let batch = joins
        .into_iter()
        .map(|(joiner, admit)| Request::new(joiner, admit))
        .collect();
    admit_batch(&deps.db, deps.graces, batch)
        .await
        .unwrap_or_else(|e| crate::batch_failed(n, e))
}

impl Request {
    /// A join with its LiveKit identity, made here (`l-…`, `c-…`).
    fn new(joiner: Joiner, admit: Admit) -> Self {
        let role = match joiner.kind {
            ParticipantKind::Classroom => Role::Classroom,
            _ => Role::Learner,
        };
        let identity = format!(
            "{}{}",
            role.identity_prefix(),
            Alphanumeric.sample_string(&mut rand::rng(), 16)
        );
        Self {
            joiner,
            identity,
            admit,
        }
    }
}

/// One batch of joins, in one transaction; one result per request, in
/// order. A database error fails the whole batch (nothing of it commits).
async fn admit_batch(
    db: &PgPool,
    graces: Graces,
    batch: Vec<Request>,
) -> Result<Vec<Admitted>, sqlx::Error> {
    let (people, admits): (Vec<(Joiner, String)>, Vec<Admit>) = batch
        .into_iter()
        .map(|r| ((r.joiner, r.identity), r.admit))
        .unzip();
    let codes: Vec<&str> = people.iter().map(|(j, _)| j.code.as_str()).collect();
    let mut tx = db.begin().await?;
    let sessions = estrade_db::sessions::lock_by_codes(&mut tx, &codes).await?;
    let by_code: HashMap<&str, &Session> =
        sessions.iter().map(|s| (s.join_code.as_str(), s)).collect();
    let open: Vec<Uuid> = sessions
        .iter()
        .filter(|s| accepts(s).is_ok())
        .map(|s| s.id)
        .collect();
    let mut seated: HashMap<Uuid, i64> = if open.is_empty() {
        HashMap::new()
    } else {
        estrade_db::participants::seated(&mut tx, &open, graces)
            .await?
            .into_iter()
            .collect()
    };
    let unknown: Vec<&str> = codes
        .iter()
        .copied()
        .filter(|c| !by_code.contains_key(c))
        .collect();
    let ended = if unknown.is_empty() {
        Vec::new()
    } else {
        estrade_db::sessions::codes_of_ended(&mut *tx, &unknown).await?
    };
    // Each join is decided in arrival order against the seats those
    // before it took, exactly as if it had its own transaction.
    let mut decisions: Vec<Result<&Session, Error>> = Vec::with_capacity(people.len());
    let mut new = Vec::new();
    for ((joiner, identity), admit) in people.iter().zip(admits) {
        let code = joiner.code.as_str();
        let decision = match by_code.get(code) {
            None => Err(Error::NoSuchCode {
                ended: ended.iter().any(|e| e == code),
            }),
            Some(session) => accepts(session).and_then(|()| {
                let taken = seated.entry(session.id).or_default();
                if *taken >= i64::from(session.max_learners) {
                    return Err(Error::Full);
                }
                admit(session.max_learners)?;
                *taken += 1;
                Ok(*session)
            }),
        };
        if let Ok(session) = decision {
            new.push(NewParticipant {
                session_id: session.id,
                kind: joiner.kind,
                identity,
                display_name: joiner.name.as_str(),
                headcount: joiner.headcount,
            });
        }
        decisions.push(decision);
    }
    let rows = if new.is_empty() {
        tx.rollback().await?;
        Vec::new()
    } else {
        let rows = estrade_db::participants::admit_all(&mut tx, &new).await?;
        tx.commit().await?;
        rows
    };
    let mut by_identity: HashMap<String, Participant> =
        rows.into_iter().map(|p| (p.identity.clone(), p)).collect();
    Ok(decisions
        .into_iter()
        .zip(&people)
        .map(|(decision, (_, identity))| {
            let session = decision?;
            let participant = by_identity
                .remove(identity)
                .ok_or(sqlx::Error::RowNotFound)?;
            Ok((session.clone(), participant))
        })
        .collect())
}

/// Whether a session takes joins now.
fn accepts(session: &Session) -> Result<(), Error> {
    match session.status {
        SessionStatus::Scheduled => Err(Error::NotStarted),
        SessionStatus::Ended => Err(Error::SessionEnded),
        SessionStatus::Live if session.locked => Err(Error::Locked),
        SessionStatus::Live => Ok(()),
    }
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
