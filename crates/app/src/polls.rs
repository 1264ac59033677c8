//! Quick polls: the session's own teacher opens one (one open at a time),
//! learners and classrooms answer it and may change their answer until it
//! closes, the teacher closes it and may show the results to everyone.
//! Each change is one transaction under the session's lock with one audit
//! entry and a `poll` event; counts go to staff, and to participants only
//! once shown (`estrade_core::poll`). Who chose what never leaves the API,
//! and the audit entries do not say it either.

use estrade_core::poll::{NewPoll, Poll};
use estrade_db::audit::{self, Actor, Entry};
use estrade_db::sessions::Session;
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::floor::require_live;
use crate::{Account, Deps, Error, Reader};

/// What a `poll` event says happened.
#[derive(Debug, Clone, Copy)]
enum Change {
    Opened,
    Answered,
    Closed,
}

impl Change {
    fn as_str(self) -> &'static str {
        match self {
            Self::Opened => "opened",
            Self::Answered => "answered",
            Self::Closed => "closed",
        }
    }
}

/// The teacher (`by`, the session's own) opens a poll of `question` with
/// `choices` (2–6) in live session `session_id`.
pub async fn open(
    deps: &Deps,
    by: &Account,
    session_id: Uuid,
    question: &str,
    choices: &[String],
) -> Result<Poll, Error> {
    let new = NewPoll::parse(question, choices)?;
    let mut tx = deps.db.begin().await?;
    let session = locked(&mut tx, session_id).await?;
    owner(by, &session)?;
    require_live(&session)?;
    if estrade_db::polls::open_of(&mut *tx, session_id)
        .await?
        .is_some()
    {
        return Err(Error::PollOpen);
    }
    let id = estrade_db::polls::insert(&mut tx, session_id, by.id, &new).await?;
    let entry = Entry::new(by.actor(), "poll.opened")
        .session(session_id)
        .details(json!({ "poll_id": id, "choices": new.choices.len() }));
    audit::record(&mut tx, entry).await?;
    let poll = changed(&mut tx, session_id, id, Change::Opened).await?;
    tx.commit().await?;
    deps.notifier.notify(session_id);
    Ok(poll)
}

/// `participant` (a learner or classroom of live session `session_id`)
/// chooses `choice` (from 0) in open poll `poll_id`; an earlier answer is
/// replaced. Returns the poll as the participant sees it.
pub async fn answer(
    deps: &Deps,
    participant: Uuid,
    session_id: Uuid,
    poll_id: Uuid,
    choice: usize,
) -> Result<Poll, Error> {
    let mut tx = deps.db.begin().await?;
    let session = locked(&mut tx, session_id).await?;
    require_live(&session)?;
    let author = estrade_db::participants::get(&mut *tx, participant)
        .await?
        .filter(|p| p.session_id == session_id && p.kicked_at.is_none())
        .ok_or(Error::NotFound)?;
    if !author.kind.takes_the_floor() {
        return Err(Error::NotALearner);
    }
    let poll = estrade_db::polls::get(&mut *tx, poll_id)
        .await?
        .filter(|p| p.session_id == session_id)
        .ok_or(Error::NotFound)?;
    if poll.closed_at.is_some() {
        return Err(Error::PollClosed);
    }
    let stored = i16::try_from(choice)
        .ok()
        .filter(|_| choice < poll.choices.len())
        .ok_or(Error::InvalidChoice)?;
    estrade_db::polls::answer(&mut tx, poll_id, participant, stored).await?;
    // Which choice stays out of the audit: answers are anonymous.
    let entry = Entry::new(Actor::Participant(participant), "poll.answered")
        .session(session_id)
        .target(participant)
        .details(json!({ "poll_id": poll_id }));
    audit::record(&mut tx, entry).await?;
    let view = changed(&mut tx, session_id, poll_id, Change::Answered).await?;
    tx.commit().await?;
    deps.notifier.notify(session_id);
    Ok(view.for_participant(Some(choice)))
}

/// The teacher (`by`, the session's own) closes poll `poll_id`, showing
/// its results to everyone with `show`. Closing a closed poll changes
/// nothing, except that `show` then shows its results.
pub async fn close(
    deps: &Deps,
    by: &Account,
    session_id: Uuid,
    poll_id: Uuid,
    show: bool,
) -> Result<Poll, Error> {
    let mut tx = deps.db.begin().await?;
    let session = locked(&mut tx, session_id).await?;
    owner(by, &session)?;
    let poll = estrade_db::polls::get(&mut *tx, poll_id)
        .await?
        .filter(|p| p.session_id == session_id)
        .ok_or(Error::NotFound)?;
    if poll.closed_at.is_some() && (poll.results_shown || !show) {
        let mut same = estrade_db::polls::views(&mut tx, session_id, Some(poll_id)).await?;
        tx.rollback().await?;
        return same.pop().ok_or(Error::NotFound);
    }
    estrade_db::polls::close(&mut tx, poll_id, show).await?;
    let entry = Entry::new(by.actor(), "poll.closed")
        .session(session_id)
        .details(json!({ "poll_id": poll_id, "results_shown": show || poll.results_shown }));
    audit::record(&mut tx, entry).await?;
    let closed = changed(&mut tx, session_id, poll_id, Change::Closed).await?;
    tx.commit().await?;
    deps.notifier.notify(session_id);
    Ok(closed)
}

/// The session's polls, oldest first, as `reader` may see them: with
/// counts for staff; for a participant, counts once shown and its own
/// choice.
pub async fn list(deps: &Deps, reader: Reader<'_>, session_id: Uuid) -> Result<Vec<Poll>, Error> {
    let mut conn = deps.db.acquire().await?;
    let session = estrade_db::sessions::get(&mut *conn, session_id)
        .await?
        .ok_or(Error::NotFound)?;
    let polls = estrade_db::polls::views(&mut conn, session_id, None).await?;
    match reader {
        Reader::Staff(by) => {
            by.can_manage(session.teacher_id)?;
            Ok(polls)
        }
        Reader::Participant(p) => {
            let mine = estrade_db::polls::choices_of(&mut *conn, p).await?;
            Ok(polls
                .into_iter()
                .map(|poll| {
                    let choice = mine.get(&poll.id).copied();
                    poll.for_participant(choice)
                })
                .collect())
        }
    }
}

async fn locked(conn: &mut PgConnection, session_id: Uuid) -> Result<Session, Error> {
    estrade_db::sessions::lock(conn, session_id)
        .await?
        .ok_or(Error::NotFound)
}

/// Polls are the class's own teacher's to run, like the floor.
fn owner(by: &Account, session: &Session) -> Result<(), Error> {
    by.can_manage(session.teacher_id)?;
    if session.teacher_id != by.id {
        return Err(Error::OwnerOnly);
    }
    Ok(())
}

/// The poll as staff see it now, appended to the session's event log as a
/// `poll` event saying what changed.
async fn changed(
    conn: &mut PgConnection,
    session_id: Uuid,
    poll_id: Uuid,
    change: Change,
) -> Result<Poll, Error> {
    let poll = estrade_db::polls::views(conn, session_id, Some(poll_id))
        .await?
        .pop()
        .ok_or(Error::NotFound)?;
    let mut data = serde_json::to_value(&poll).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    data["change"] = change.as_str().into();
    estrade_db::events::append(conn, session_id, "poll", &data).await?;
    Ok(poll)
}
