//! A session's personal data on request (RGPD, docs/PRIVACY.md), for
//! admins: erased now, before the retention period is over, or exported
//! for an access request. Erasing overwrites the learners' and
//! classrooms' names and the questions' texts with the retention pass's
//! placeholder and deletes the live-update log (its events carry both);
//! the rows stay, so the floor's history and the report still add up with
//! nobody named. Both are audited.

use estrade_core::domain::{AccountRole, SessionStatus};
use estrade_core::question::Question;
use estrade_core::report::Turn;
use estrade_db::audit::{self, Entry};
use estrade_db::participants::Participant;
use estrade_db::polls::AnswerRow;
use estrade_db::sessions::Session;
use serde_json::json;
use uuid::Uuid;

use crate::{Account, Deps, Error};

/// What an erasure overwrote and deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Erased {
    /// Learners' and classrooms' names overwritten.
    pub names: u64,
    /// Questions' texts overwritten.
    pub questions: u64,
    /// Live-update events deleted.
    pub session_events: u64,
}

/// Erases ended session `id`'s personal data now (admins;
/// [`Error::SessionNotEnded`] while it is scheduled or live). Asking again
/// erases nothing more, and is audited again.
pub async fn erase(deps: &Deps, admin: &Account, id: Uuid) -> Result<Erased, Error> {
    if admin.role != AccountRole::Admin {
        return Err(Error::Forbidden);
    }
    let mut tx = deps.db.begin().await?;
    let session = estrade_db::sessions::lock(&mut tx, id)
        .await?
        .ok_or(Error::NotFound)?;
    if session.status != SessionStatus::Ended {
        return Err(Error::SessionNotEnded);
    }
    let erased = Erased {
        names: estrade_db::participants::erase_names_of(&mut *tx, id).await?,
        questions: estrade_db::questions::erase_of(&mut *tx, id).await?,
        session_events: estrade_db::events::purge_session(&mut *tx, id).await?,
    };
    let entry = Entry::new(admin.actor(), "session.erased")
        .session(id)
        .details(json!({
            "participants_erased": erased.names,
            "questions_erased": erased.questions,
            "session_events_purged": erased.session_events,
        }));
    audit::record(&mut tx, entry).await?;
    tx.commit().await?;
    Ok(erased)
}

/// Everything stored about a session's participants.
#[derive(Debug, Clone)]
pub struct Export {
    /// The session.
    pub session: Session,
    /// Its participants, in the order they joined.
    pub participants: Vec<Participant>,
    /// Its typed questions, oldest first.
    pub questions: Vec<Question>,
    /// Its floor history: every raised hand, question and turn.
    pub turns: Vec<Turn>,
    /// Every poll answer, with the choice's text.
    pub poll_answers: Vec<AnswerRow>,
}

/// Session `id`'s participants' data, read in one snapshot (admins), with
/// one audit entry.
pub async fn export(deps: &Deps, admin: &Account, id: Uuid) -> Result<Export, Error> {
    if admin.role != AccountRole::Admin {
        return Err(Error::Forbidden);
    }
    let mut tx = estrade_db::snapshot(&deps.db).await?;
    let session = estrade_db::sessions::get(&mut *tx, id)
        .await?
        .ok_or(Error::NotFound)?;
    let export = Export {
        participants: estrade_db::participants::list(&mut *tx, id).await?,
        questions: estrade_db::questions::of_session(&mut *tx, id, None).await?,
        turns: estrade_db::floor::history(&mut *tx, id).await?,
        poll_answers: estrade_db::polls::answers_of(&mut *tx, id).await?,
        session,
    };
    tx.rollback().await?;
    let entry = Entry::new(admin.actor(), "session.exported")
        .session(id)
        .details(json!({ "participants": export.participants.len() }));
    let mut conn = deps.db.acquire().await?;
    audit::record(&mut conn, entry).await?;
    Ok(export)
}
