//! The fairness report of a class (owner, admin), from what PostgreSQL
//! stores: the session's times, its participants and its floor history,
//! read in one snapshot with the class's polls and its start-up delays. The computation itself is pure
//! (`estrade_core::report`).

use estrade_core::report::{self, Person, PollParticipation, Report, Startup};
use uuid::Uuid;

use crate::{Account, Deps, Error};

/// The report of session `id` as of now (during the class) or of its end.
/// [`Error::NotFound`] for a session `by` may not manage.
pub async fn of_session(deps: &Deps, by: &Account, id: Uuid) -> Result<Report, Error> {
    // One snapshot: the times, the people and the turns agree.
    let mut tx = estrade_db::snapshot(&deps.db).await?;
    let session = estrade_db::sessions::get(&mut *tx, id)
        .await?
        .ok_or(Error::NotFound)?;
    by.can_manage(session.teacher_id)?;
    let people: Vec<Person> = estrade_db::participants::list(&mut *tx, id)
        .await?
        .into_iter()
        .map(|p| Person {
            id: p.id,
            kind: p.kind,
            display_name: p.display_name,
            headcount: p.headcount,
        })
        .collect();
    let turns = estrade_db::floor::history(&mut *tx, id).await?;
    let (polls, answered) = estrade_db::polls::participation(&mut tx, id).await?;
    let first_track = estrade_db::sessions::first_track_ms(&mut *tx, id).await?;
    let connects = estrade_db::participants::connect_delays_ms(&mut *tx, id).await?;
    tx.rollback().await?;
    let until = session.ended_at.unwrap_or_else(chrono::Utc::now);
    let polls = PollParticipation { polls, answered };
    let mut report = report::compute(session.started_at, until, &people, &turns, &polls);
    report.startup = Startup::of(first_track, connects);
    Ok(report)
}
