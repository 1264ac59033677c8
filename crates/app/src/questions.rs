//! Typed questions, for learners who cannot or would rather not speak. A
//! learner asks: the question is stored and takes a place in the floor's
//! line (or the place of the learner's raised hand), in one transaction
//! under the session's lock, through the same floor ceremony as hands
//! ([`crate::floor`]). The teacher answers it aloud, answers it by giving
//! its author the floor, or dismisses it. Each change appends a `question`
//! event (for the teacher and the author only) beside the `floor` one.

use chrono::{SubsecRound as _, Utc};
use estrade_core::floor::Command;
use estrade_core::question::{self, Question};
use estrade_db::audit::Actor;
use estrade_db::floor::Audit;
use estrade_db::sessions::Session;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::floor::{self, require_live, takes_the_floor};
use crate::{Account, Deps, Error, Reader};

/// `participant` of session `session_id` asks `typed`. Refused, nothing is
/// stored: invalid text, the session not live, not a learner or classroom
/// still there, the floor closed, already speaking, a question of its
/// still waiting.
pub async fn ask(
    deps: &Deps,
    participant: Uuid,
    session_id: Uuid,
    typed: &str,
) -> Result<Question, Error> {
    let text = question::text(typed)?;
    let mut tx = deps.db.begin().await?;
    let session = estrade_db::sessions::lock(&mut tx, session_id)
        .await?
        .ok_or(Error::NotFound)?;
    require_live(&session)?;
    let author = estrade_db::participants::get(&mut *tx, participant)
        .await?
        .filter(|p| p.session_id == session_id)
        .ok_or(Error::NotFound)?;
    takes_the_floor(&author)?;
    let asked_at = Utc::now().trunc_subsecs(6);
    let id =
        estrade_db::questions::insert(&mut tx, session_id, participant, text, asked_at).await?;
    let command = Command::Ask {
        participant,
        question: id,
    };
    let actor = Actor::Participant(participant);
    let decision = floor::decide(&mut tx, &session, &command, actor, Audit::Own).await??;
    let asked = estrade_db::questions::get(&mut *tx, id)
        .await?
        .ok_or(Error::NotFound)?;
    tx.commit().await?;
    floor::announce(deps, &session, &decision).await;
    Ok(asked)
}

/// The teacher (`by`, the session's own) answers question `id`: aloud, or
/// with `floor` by giving its author the floor.
pub async fn answer(
    deps: &Deps,
    by: &Account,
    session_id: Uuid,
    id: Uuid,
    floor: bool,
) -> Result<Question, Error> {
    by_teacher(
        deps,
        by,
        session_id,
        id,
        Command::Answer {
            question: id,
            floor,
        },
    )
    .await
}

/// The teacher (`by`, the session's own) dismisses question `id`.
pub async fn dismiss(
    deps: &Deps,
    by: &Account,
    session_id: Uuid,
    id: Uuid,
) -> Result<Question, Error> {
    by_teacher(deps, by, session_id, id, Command::Dismiss(id)).await
}

async fn by_teacher(
    deps: &Deps,
    by: &Account,
    session_id: Uuid,
    id: Uuid,
    command: Command,
) -> Result<Question, Error> {
    let check = async |conn: &mut PgConnection, session: &Session| {
        by.can_manage(session.teacher_id)?;
        if session.teacher_id != by.id {
            return Err(Error::OwnerOnly);
        }
        estrade_db::questions::get(&mut *conn, id)
            .await?
            .filter(|q| q.session_id == session_id)
            .ok_or(Error::NotFound)?;
        require_live(session)?;
        Ok(true)
    };
    floor::command(deps, session_id, command, by.actor(), check).await?;
    estrade_db::questions::get(&deps.db, id)
        .await?
        .ok_or(Error::NotFound)
}

/// The questions of session `session_id` that `reader` may see, oldest
/// first.
pub async fn list(
    deps: &Deps,
    reader: Reader<'_>,
    session_id: Uuid,
) -> Result<Vec<Question>, Error> {
    let session = estrade_db::sessions::get(&deps.db, session_id)
        .await?
        .ok_or(Error::NotFound)?;
    let author = match reader {
        Reader::Staff(by) => {
            by.can_manage(session.teacher_id)?;
            None
        }
        Reader::Participant(p) => Some(p),
    };
    Ok(estrade_db::questions::of_session(&deps.db, session_id, author).await?)
}
