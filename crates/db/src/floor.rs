//! The floor's persistent state (`floor_turns`). The state machine that
//! decides transitions lives in `estrade-core`; these are its writes.

use std::time::Duration;

use chrono::{DateTime, SubsecRound as _, Utc};
use estrade_core::domain::{Graces, TurnState};
use estrade_core::floor::{
    self as machine, Command, Effect, Floor, Hand, Outcome, Refusal, Speaker, TurnChange,
};
use estrade_core::floor_view::FloorView;
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::audit::{self, Actor, Entry};
use crate::sessions::Session;

/// Closes every open hand and turn of a session, with `reason`.
pub async fn close_all(
    conn: &mut PgConnection,
    session_id: Uuid,
    reason: &str,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!(
        "update floor_turns set state = 'done', ended_at = now(), end_reason = $2
          where session_id = $1 and state <> 'done'",
        session_id,
        reason,
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Closes a participant's open hand or turn, with `reason`.
pub async fn close_for(
    conn: &mut PgConnection,
    participant_id: Uuid,
    reason: &str,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!(
        "update floor_turns set state = 'done', ended_at = now(), end_reason = $2
          where participant_id = $1 and state <> 'done'",
        participant_id,
        reason,
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Whether a participant holds the floor now.
pub async fn is_speaking(
    conn: &mut PgConnection,
    participant_id: Uuid,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select exists (select 1 from floor_turns
                           where participant_id = $1 and state = 'speaking') as "speaking!""#,
        participant_id
    )
    .fetch_one(conn)
    .await
}

/// An open turn as stored, with the participant's name for views.
#[derive(Debug, Clone)]
pub struct OpenTurn {
    /// The participant.
    pub participant_id: Uuid,
    /// Queued or speaking.
    pub state: TurnState,
    /// When the hand went up (none for a direct grant).
    pub raised_at: Option<chrono::DateTime<chrono::Utc>>,
    /// When the floor was given.
    pub granted_at: Option<chrono::DateTime<chrono::Utc>>,
    /// When it expires.
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The typed question this place in line is for.
    pub question_id: Option<Uuid>,
}

/// The open hands and turns of a session: speakers by grant time, then the
/// queue by raise time.
pub async fn open_turns(
    conn: &mut PgConnection,
    session_id: Uuid,
) -> Result<Vec<OpenTurn>, sqlx::Error> {
    sqlx::query_as!(
        OpenTurn,
        r#"select participant_id, state as "state: _", raised_at, granted_at, expires_at, question_id
           from floor_turns
          where session_id = $1 and state <> 'done'
          order by state desc, coalesce(granted_at, raised_at), id"#,
        session_id
    )
    .fetch_all(conn)
    .await
}

/// Records a raised hand, or a question's place in line.
pub async fn queue(
    conn: &mut PgConnection,
    session_id: Uuid,
    participant_id: Uuid,
    raised_at: chrono::DateTime<chrono::Utc>,
    question_id: Option<Uuid>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into floor_turns (session_id, participant_id, state, raised_at, question_id)
         values ($1, $2, 'queued', $3, $4)",
        session_id,
        participant_id,
        raised_at,
        question_id,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Attaches a question to the participant's raised hand, which keeps its
/// place.
pub async fn attach_question(
    conn: &mut PgConnection,
    participant_id: Uuid,
    question_id: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update floor_turns set question_id = $2 where participant_id = $1 and state = 'queued'",
        participant_id,
        question_id,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a grant: the participant's queued turn becomes speaking, or a
/// new turn starts speaking when it had no hand up.
pub async fn speak(
    conn: &mut PgConnection,
    session_id: Uuid,
    participant_id: Uuid,
    since: chrono::DateTime<chrono::Utc>,
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
    granted_by: Option<Uuid>,
) -> Result<(), sqlx::Error> {
    let promoted = sqlx::query!(
        "update floor_turns
            set state = 'speaking', granted_at = $2, expires_at = $3, granted_by = $4
          where participant_id = $1 and state = 'queued'",
        participant_id,
        since,
        expires_at,
        granted_by,
    )
    .execute(&mut *conn)
    .await?;
    if promoted.rows_affected() == 0 {
        sqlx::query!(
            "insert into floor_turns (session_id, participant_id, state, granted_at, expires_at, granted_by)
             values ($1, $2, 'speaking', $3, $4, $5)",
            session_id,
            participant_id,
            since,
            expires_at,
            granted_by,
        )
        .execute(conn)
        .await?;
    }
    Ok(())
}

/// Saves a session's floor settings and bumps its floor version.
pub async fn save_settings(
    conn: &mut PgConnection,
    session_id: Uuid,
    mode: &str,
    max_speakers: i32,
    speaking_time_limit_s: Option<i32>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update sessions
            set floor_mode = $2, max_speakers = $3, speaking_time_limit_s = $4
          where id = $1",
        session_id,
        mode,
        max_speakers,
        speaking_time_limit_s,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Bumps the floor version (every change); returns the new one.
pub async fn bump_version(conn: &mut PgConnection, session_id: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        "update sessions set floor_version = floor_version + 1 where id = $1 returning floor_version",
        session_id
    )
    .fetch_one(conn)
    .await
}

/// Loads a session's floor from its settings and open turns (the caller
/// holds the session's row lock, so it stays true until the commit).
pub async fn load(conn: &mut PgConnection, session: &Session) -> Result<Floor, sqlx::Error> {
    let turns = open_turns(conn, session.id).await?;
    build(session, turns)
}

/// A session's floor from its settings and its open turns (speakers by
/// grant time, then the queue by raise time, as [`open_turns`] gives them).
pub fn build(session: &Session, turns: Vec<OpenTurn>) -> Result<Floor, sqlx::Error> {
    let mut floor = Floor::new(
        session.floor_mode,
        usize::try_from(session.max_speakers).unwrap_or(1),
        session
            .speaking_time_limit_s
            .and_then(|s| u64::try_from(s).ok())
            .map(Duration::from_secs),
    );
    for turn in turns {
        match (turn.state, turn.granted_at, turn.raised_at) {
            (TurnState::Speaking, Some(since), _) => floor.speakers.push(Speaker {
                participant: turn.participant_id,
                since,
                expires_at: turn.expires_at,
            }),
            (TurnState::Queued, _, Some(raised_at)) => floor.queue.push(Hand {
                participant: turn.participant_id,
                raised_at,
                question: turn.question_id,
            }),
            // The table's checks make this unreachable.
            _ => {
                return Err(sqlx::Error::Protocol(
                    "floor turn in an impossible state".into(),
                ));
            }
        }
    }
    Ok(floor)
}

/// The audit action of a command.
pub fn action(command: &Command) -> &'static str {
    match command {
        Command::Raise(_) => "floor.hand_raised",
        Command::Ask { .. } => "floor.question_asked",
        Command::Answer { .. } => "floor.question_answered",
        Command::Dismiss(_) => "floor.question_dismissed",
        Command::Lower(_) => "floor.hand_lowered",
        Command::GrantNext | Command::Grant(_) => "floor.granted",
        Command::Revoke(_) | Command::RevokeAll => "floor.revoked",
        Command::Configure { .. } => "floor.configured",
        Command::Left(_) | Command::Kicked(_) => "floor.released",
        Command::SessionEnded => "floor.closed",
        Command::Expire(_) => "floor.expired",
    }
}

fn target(command: &Command) -> Option<Uuid> {
    match command {
        Command::Raise(p)
        | Command::Lower(p)
        | Command::Grant(p)
        | Command::Revoke(p)
        | Command::Left(p)
        | Command::Kicked(p)
        | Command::Expire(p)
        | Command::Ask { participant: p, .. } => Some(*p),
        _ => None,
    }
}

fn change_json(change: &TurnChange) -> serde_json::Value {
    match change {
        TurnChange::Queued {
            participant,
            question: None,
            ..
        } => json!({ "participant_id": participant, "to": "queued" }),
        TurnChange::Queued {
            participant,
            question: Some(question),
            ..
        }
        | TurnChange::Asked {
            participant,
            question,
        } => json!({ "participant_id": participant, "to": "queued", "question_id": question }),
        TurnChange::Speaking {
            participant,
            expires_at,
            ..
        } => json!({ "participant_id": participant, "to": "speaking", "expires_at": expires_at }),
        TurnChange::Done {
            participant,
            reason,
        } => json!({ "participant_id": participant, "to": "done", "reason": reason.as_str() }),
    }
}

/// Writes what a command decided, in the caller's transaction (which holds
/// the session's lock): turn changes, settings, a new floor version and the
/// audit entry. Returns the floor version after it.
pub async fn record(
    conn: &mut PgConnection,
    session: &Session,
    command: &Command,
    outcome: &Outcome,
    actor: Actor,
    audit: Audit,
) -> Result<i64, sqlx::Error> {
    if !outcome.changed() {
        return Ok(session.floor_version);
    }
    let granted_by = match actor {
        Actor::Account(id) => Some(id),
        _ => None,
    };
    for change in &outcome.changes {
        match *change {
            TurnChange::Queued {
                participant,
                raised_at,
                question,
            } => queue(conn, session.id, participant, raised_at, question).await?,
            TurnChange::Asked {
                participant,
                question,
            } => attach_question(conn, participant, question).await?,
            TurnChange::Speaking {
                participant,
                since,
                expires_at,
            } => speak(conn, session.id, participant, since, expires_at, granted_by).await?,
            TurnChange::Done {
                participant,
                reason,
            } => {
                close_for(conn, participant, reason.as_str()).await?;
            }
        }
    }
    if outcome.settings_changed {
        let limit = outcome
            .floor
            .time_limit
            .and_then(|d| i32::try_from(d.as_secs()).ok());
        let max = i32::try_from(outcome.floor.max_speakers).unwrap_or(1);
        save_settings(conn, session.id, outcome.floor.mode.as_str(), max, limit).await?;
    }
    let version = bump_version(conn, session.id).await?;
    let changes: Vec<_> = outcome.changes.iter().map(change_json).collect();
    if audit == Audit::Own {
        let entry = Entry::new(actor, action(command))
            .session(session.id)
            .target(target(command))
            .details(json!({ "changes": changes, "floor_version": version }));
        audit::record(conn, entry).await?;
    }
    Ok(version)
}

/// Who records a floor change in the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audit {
    /// The floor change is the use case: it records its own entry
    /// (`floor.granted`, …).
    Own,
    /// The floor change is part of a larger use case (a kick, a repair),
    /// whose one entry carries [`Decision::audit_details`].
    Caller,
}

/// The session's floor version and which of `ids` speak now, read together
/// (one statement, one snapshot).
pub async fn speaking_among(
    db: impl sqlx::PgExecutor<'_>,
    session_id: Uuid,
    ids: &[Uuid],
) -> Result<(i64, Vec<Uuid>), sqlx::Error> {
    let row = sqlx::query!(
        r#"select s.floor_version,
                  coalesce(array(select participant_id from floor_turns
                                  where session_id = s.id and state = 'speaking'
                                    and participant_id = any($2)), '{}') as "speaking!"
             from sessions s where s.id = $1"#,
        session_id,
        ids,
    )
    .fetch_one(db)
    .await?;
    Ok((row.floor_version, row.speaking))
}

/// The session's floor version.
pub async fn version(db: impl sqlx::PgExecutor<'_>, session_id: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        "select floor_version from sessions where id = $1",
        session_id
    )
    .fetch_one(db)
    .await
}

/// Raised hands and speaking turns of participants that no longer hold a
/// seat (`holds_seat`): never seen in LiveKit within the arrival grace, or
/// gone longer than the departure grace; as `(session, participant)`.
pub async fn absent_turns(
    db: impl sqlx::PgExecutor<'_>,
    graces: Graces,
) -> Result<Vec<(Uuid, Uuid)>, sqlx::Error> {
    let rows = sqlx::query!(
        "select t.session_id, t.participant_id from floor_turns t
           join participants p on p.id = t.participant_id
          where t.state in ('queued', 'speaking') and p.kind in ('learner', 'classroom')
            and not holds_seat(p.presence, p.kicked_at, p.created_at, p.left_at,
                               make_interval(secs => $1), make_interval(secs => $2))
          order by t.session_id
          limit 500",
        graces.arrival.as_secs_f64(),
        graces.departure.as_secs_f64(),
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.session_id, r.participant_id))
        .collect())
}

/// Turns whose speaking-time limit has run out, as `(session, participant)`.
pub async fn expired(db: impl sqlx::PgExecutor<'_>) -> Result<Vec<(Uuid, Uuid)>, sqlx::Error> {
    let rows = sqlx::query!(
        "select session_id, participant_id from floor_turns
          where state = 'speaking' and expires_at <= now()
          order by expires_at
          limit 500"
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.session_id, r.participant_id))
        .collect())
}

/// Speaking turns ending within `within` and not warned yet, as
/// `(session, participant, expires_at)`.
pub async fn ending_soon(
    db: impl sqlx::PgExecutor<'_>,
    within: Duration,
) -> Result<Vec<(Uuid, Uuid, DateTime<Utc>)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select session_id, participant_id, expires_at as "expires_at!" from floor_turns
            where state = 'speaking' and warned_at is null and expires_at is not null
              and expires_at <= now() + make_interval(secs => $1)
            order by expires_at
            limit 500"#,
        within.as_secs_f64(),
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.session_id, r.participant_id, r.expires_at))
        .collect())
}

/// Stamps the warning of a participant's turn ending at `expires_at`, in
/// the caller's transaction (which holds the session's lock), and appends
/// the `turn_ending` event. False when the turn is no longer that one or
/// was warned already.
pub async fn warn(
    conn: &mut PgConnection,
    session_id: Uuid,
    participant_id: Uuid,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let stamped = sqlx::query!(
        "update floor_turns set warned_at = $3
          where participant_id = $1 and state = 'speaking' and expires_at = $2
            and warned_at is null",
        participant_id,
        expires_at,
        now,
    )
    .execute(&mut *conn)
    .await?;
    if stamped.rows_affected() == 0 {
        return Ok(false);
    }
    let seconds_left = (expires_at - now).num_milliseconds().max(0) as f64 / 1000.0;
    let data = json!({
        "participant_id": participant_id,
        "expires_at": expires_at,
        "seconds_left": seconds_left.round(),
    });
    crate::events::append(conn, session_id, "turn_ending", &data).await?;
    Ok(true)
}

/// LiveKit changes to retry for a session (`floor_repairs`).
#[derive(Debug, Clone)]
pub struct Repair {
    /// The session.
    pub session_id: Uuid,
    /// Participants whose permission must match the decision.
    pub participants: Vec<Uuid>,
    /// Participants whose mirrored attributes must match it.
    pub mirrored: Vec<Uuid>,
    /// Changes with every new failure recorded.
    pub generation: i64,
    /// Attempts so far, this one included.
    pub attempts: i32,
}

/// Records that LiveKit did not take a floor change for these
/// participants: the worker retries until it matches the decision.
pub async fn schedule_repair(
    db: impl sqlx::PgExecutor<'_>,
    session_id: Uuid,
    participants: &[Uuid],
    mirrored: &[Uuid],
    error: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into floor_repairs (session_id, participants, mirrored, last_error)
         values ($1, $2, $3, $4)
         on conflict (session_id) do update set
             participants = array(select distinct unnest(floor_repairs.participants || excluded.participants)),
             mirrored = array(select distinct unnest(floor_repairs.mirrored || excluded.mirrored)),
             generation = floor_repairs.generation + 1,
             next_attempt_at = least(floor_repairs.next_attempt_at, now() + interval '1 second'),
             last_error = excluded.last_error",
        session_id,
        participants,
        mirrored,
        error,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Takes up to `limit` due repairs, leasing each for `lease` (a worker
/// that dies mid-repair leaves it to another after that).
pub async fn lease_repairs(
    db: impl sqlx::PgExecutor<'_>,
    limit: i64,
    lease: Duration,
) -> Result<Vec<Repair>, sqlx::Error> {
    sqlx::query_as!(
        Repair,
        "update floor_repairs
            set next_attempt_at = now() + make_interval(secs => $2), attempts = attempts + 1
          where session_id in (select session_id from floor_repairs
                                where next_attempt_at <= now()
                                order by next_attempt_at
                                limit $1
                                for update skip locked)
         returning session_id, participants, mirrored, generation, attempts",
        limit,
        lease.as_secs_f64(),
    )
    .fetch_all(db)
    .await
}

/// Removes a repair, done or given up (reconciliation takes over), unless
/// a new failure was recorded meanwhile.
pub async fn remove_repair(
    db: impl sqlx::PgExecutor<'_>,
    session_id: Uuid,
    generation: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "delete from floor_repairs where session_id = $1 and generation = $2",
        session_id,
        generation
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Retries a repair after `retry_in`. With `error`, it failed again; without,
/// it met a floor still moving (not a failure), and the attempt it leased
/// is given back.
pub async fn retry_repair(
    db: impl sqlx::PgExecutor<'_>,
    session_id: Uuid,
    error: Option<&str>,
    retry_in: Duration,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update floor_repairs
            set next_attempt_at = now() + make_interval(secs => $3),
                last_error = coalesce($2, last_error),
                attempts = case when $2::text is null then greatest(attempts - 1, 0)
                                else attempts end
          where session_id = $1",
        session_id,
        error,
        retry_in.as_secs_f64(),
    )
    .execute(db)
    .await?;
    Ok(())
}

/// A floor command decided and recorded: what LiveKit must be told once
/// the caller commits.
#[derive(Debug, Clone)]
pub struct Decision {
    /// What the state machine decided.
    pub outcome: Outcome,
    /// The floor version after it.
    pub version: i64,
    /// Permission changes, with LiveKit identities.
    pub targets: Vec<(Effect, String)>,
    /// Participants whose mirrored attributes changed, with identities
    /// (not the one who left or was kicked: it is gone from the room).
    pub mirrored: Vec<(Uuid, String)>,
    /// The floor after it, as clients see it.
    pub view: FloorView,
}

impl Decision {
    /// What the audit says of this floor change (its turn changes and the
    /// version), for a use case that folds it into its own entry.
    pub fn audit_details(&self) -> serde_json::Value {
        let changes: Vec<_> = self.outcome.changes.iter().map(change_json).collect();
        json!({ "changes": changes, "floor_version": self.version })
    }
}

/// Runs `command` on the floor of `session`, which the caller has locked in
/// `conn`: load, decide (`estrade_core::floor`), record, and append the new
/// view to the session's event log when it changed. The one path every
/// floor writer (API, kicks, departures, timers) takes. `Ok(Err(_))` is a
/// refusal; nothing was written.
pub async fn run(
    conn: &mut PgConnection,
    session: &Session,
    command: &Command,
    actor: Actor,
    audit: Audit,
    now: DateTime<Utc>,
) -> Result<Result<Decision, Refusal>, sqlx::Error> {
    // PostgreSQL keeps microseconds: decide with what will be stored, so
    // the answer and every later read agree.
    let now = now.trunc_subsecs(6);
    let before = load(conn, session).await?;
    let outcome = match machine::apply(&before, command, now) {
        Ok(outcome) => outcome,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let version = record(conn, session, command, &outcome, actor, audit).await?;
    let targets = targets(conn, session.id, &outcome.effects).await?;
    let mut changed = machine::attribute_changes(&before, &outcome.floor);
    if let Command::Left(gone) | Command::Kicked(gone) = command {
        changed.retain(|p| p != gone);
    }
    let mirrored = crate::participants::identities(conn, session.id, &changed).await?;
    let view = view(conn, session.id, &outcome.floor, version).await?;
    if outcome.changed() {
        crate::events::append(conn, session.id, "floor", &view).await?;
    }
    for question in crate::questions::many(&mut *conn, &questions_moved(&before, &outcome)).await? {
        crate::events::append(conn, session.id, "question", &question).await?;
    }
    Ok(Ok(Decision {
        outcome,
        version,
        targets,
        mirrored,
        view,
    }))
}

/// The questions whose place in line a decision took, granted or ended.
fn questions_moved(before: &Floor, outcome: &Outcome) -> Vec<Uuid> {
    let of = |p: Uuid| {
        before
            .queue
            .iter()
            .find(|h| h.participant == p)
            .and_then(|h| h.question)
    };
    outcome
        .changes
        .iter()
        .filter_map(|change| match *change {
            TurnChange::Queued { question, .. } => question,
            TurnChange::Asked { question, .. } => Some(question),
            TurnChange::Speaking { participant, .. } | TurnChange::Done { participant, .. } => {
                of(participant)
            }
        })
        .collect()
}

/// The view of `floor` at `version`, with the participants' names.
pub async fn view(
    conn: &mut PgConnection,
    session_id: Uuid,
    floor: &Floor,
    version: i64,
) -> Result<FloorView, sqlx::Error> {
    let ids: Vec<Uuid> = floor.participants().collect();
    let names = crate::participants::names(conn, session_id, &ids)
        .await?
        .into_iter()
        .collect();
    Ok(FloorView::render(floor, version, &names))
}

/// The LiveKit identities of the participants `effects` concern.
async fn targets(
    conn: &mut PgConnection,
    session_id: Uuid,
    effects: &[Effect],
) -> Result<Vec<(Effect, String)>, sqlx::Error> {
    let ids: Vec<Uuid> = effects.iter().map(|e| e.participant()).collect();
    let identities = crate::participants::identities(conn, session_id, &ids).await?;
    Ok(effects
        .iter()
        .filter_map(|e| {
            identities
                .iter()
                .find(|(id, _)| *id == e.participant())
                .map(|(_, identity)| (*e, identity.clone()))
        })
        .collect())
}

/// Every turn of a session, open or done, oldest first: the floor's
/// history, which the fairness report is computed from.
pub async fn history(
    db: impl sqlx::PgExecutor<'_>,
    session_id: Uuid,
) -> Result<Vec<estrade_core::report::Turn>, sqlx::Error> {
    sqlx::query_as!(
        estrade_core::report::Turn,
        r#"select participant_id, raised_at, granted_at, ended_at, end_reason,
                  question_id is not null as "question!"
           from floor_turns
          where session_id = $1
          order by coalesce(raised_at, granted_at), id"#,
        session_id
    )
    .fetch_all(db)
    .await
}
