//! Quick polls (`polls`) and their answers (`poll_answers`), read back as
//! counts (`estrade_core::poll`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use estrade_core::domain::ParticipantKind;
use estrade_core::poll::{self, Answer, NewPoll, Poll};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

/// A poll as stored.
#[derive(Debug, Clone)]
pub struct PollRow {
    /// The poll.
    pub id: Uuid,
    /// Its session.
    pub session_id: Uuid,
    /// The question.
    pub question: String,
    /// The choices.
    pub choices: Vec<String>,
    /// When it opened.
    pub opened_at: DateTime<Utc>,
    /// When it closed.
    pub closed_at: Option<DateTime<Utc>>,
    /// Whether everyone may see the counts.
    pub results_shown: bool,
}

/// Opens a poll in the caller's transaction (which holds the session's
/// lock, and has checked that no poll is open); returns its id.
pub async fn insert(
    conn: &mut PgConnection,
    session_id: Uuid,
    opened_by: Uuid,
    new: &NewPoll,
) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar!(
        "insert into polls (session_id, question, choices, opened_by)
         values ($1, $2, $3, $4) returning id",
        session_id,
        new.question,
        &new.choices,
        opened_by,
    )
    .fetch_one(conn)
    .await
}

/// One poll.
pub async fn get(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<PollRow>, sqlx::Error> {
    sqlx::query_as!(
        PollRow,
        "select id, session_id, question, choices, opened_at, closed_at, results_shown
           from polls where id = $1",
        id
    )
    .fetch_optional(db)
    .await
}

/// The session's open poll, if any.
pub async fn open_of(
    db: impl PgExecutor<'_>,
    session_id: Uuid,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "select id from polls where session_id = $1 and closed_at is null",
        session_id
    )
    .fetch_optional(db)
    .await
}

/// Records `participant`'s choice, replacing an earlier one.
pub async fn answer(
    conn: &mut PgConnection,
    poll_id: Uuid,
    participant_id: Uuid,
    choice: i16,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into poll_answers (poll_id, participant_id, choice) values ($1, $2, $3)
         on conflict (poll_id, participant_id)
         do update set choice = excluded.choice, answered_at = now()",
        poll_id,
        participant_id,
        choice,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Closes a poll (if open) and shows its results if `show` (once shown,
/// they stay shown).
pub async fn close(conn: &mut PgConnection, poll_id: Uuid, show: bool) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update polls set closed_at = coalesce(closed_at, now()), results_shown = results_shown or $2
          where id = $1",
        poll_id,
        show,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Closes the session's open poll, if any (the session ends); returns how
/// many closed.
pub async fn close_open(conn: &mut PgConnection, session_id: Uuid) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!(
        "update polls set closed_at = now() where session_id = $1 and closed_at is null",
        session_id
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// The session's polls as staff see them (counts included), oldest first;
/// only `only` when given.
pub async fn views(
    db: &mut PgConnection,
    session_id: Uuid,
    only: Option<Uuid>,
) -> Result<Vec<Poll>, sqlx::Error> {
    let rows = sqlx::query_as!(
        PollRow,
        "select id, session_id, question, choices, opened_at, closed_at, results_shown
           from polls where session_id = $1 and ($2::uuid is null or id = $2)
          order by opened_at, id",
        session_id,
        only,
    )
    .fetch_all(&mut *db)
    .await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let answers = sqlx::query!(
        r#"select a.poll_id, a.choice, p.kind as "kind: ParticipantKind", p.headcount
             from poll_answers a join participants p on p.id = a.participant_id
            where a.poll_id = any($1)"#,
        &ids,
    )
    .fetch_all(&mut *db)
    .await?;
    let mut by_poll: HashMap<Uuid, Vec<Answer>> = HashMap::new();
    for a in answers {
        by_poll.entry(a.poll_id).or_default().push(Answer {
            choice: usize::try_from(a.choice).unwrap_or(usize::MAX),
            kind: a.kind,
            headcount: a.headcount,
        });
    }
    Ok(rows
        .into_iter()
        .map(|r| {
            let answers = by_poll.remove(&r.id).unwrap_or_default();
            Poll {
                results: Some(poll::tally(&r.choices, &answers)),
                answers: Some(u32::try_from(answers.len()).unwrap_or(u32::MAX)),
                id: r.id,
                session_id: r.session_id,
                question: r.question,
                choices: r.choices,
                opened_at: r.opened_at,
                closed_at: r.closed_at,
                results_shown: r.results_shown,
                my_choice: None,
            }
        })
        .collect())
}

/// `participant`'s choice in each poll of the session it answered.
pub async fn choices_of(
    db: impl PgExecutor<'_>,
    participant_id: Uuid,
) -> Result<HashMap<Uuid, usize>, sqlx::Error> {
    let rows = sqlx::query!(
        "select poll_id, choice from poll_answers where participant_id = $1",
        participant_id
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| Some((r.poll_id, usize::try_from(r.choice).ok()?)))
        .collect())
}

/// How many polls the session had, and how many of them each participant
/// answered, for the report.
pub async fn participation(
    db: &mut PgConnection,
    session_id: Uuid,
) -> Result<(u32, Vec<(Uuid, u32)>), sqlx::Error> {
    let polls = sqlx::query_scalar!(
        r#"select count(*) as "n!" from polls where session_id = $1"#,
        session_id
    )
    .fetch_one(&mut *db)
    .await?;
    let answered = sqlx::query!(
        r#"select a.participant_id, count(*) as "n!"
             from poll_answers a join polls p on p.id = a.poll_id
            where p.session_id = $1
            group by a.participant_id"#,
        session_id
    )
    .fetch_all(&mut *db)
    .await?;
    let n = |c: i64| u32::try_from(c).unwrap_or(u32::MAX);
    Ok((
        n(polls),
        answered
            .into_iter()
            .map(|r| (r.participant_id, n(r.n)))
            .collect(),
    ))
}

/// One participant's answer to a poll, for an access request.
#[derive(Debug, Clone)]
pub struct AnswerRow {
    /// The poll.
    pub poll_id: Uuid,
    /// Its question.
    pub question: String,
    /// Who answered.
    pub participant_id: Uuid,
    /// The choice's text.
    pub choice: String,
    /// When (the last change).
    pub answered_at: DateTime<Utc>,
}

/// Every answer given in session `id`'s polls, oldest poll first.
pub async fn answers_of(
    db: impl PgExecutor<'_>,
    session_id: Uuid,
) -> Result<Vec<AnswerRow>, sqlx::Error> {
    sqlx::query_as!(
        AnswerRow,
        r#"select a.poll_id, p.question, a.participant_id,
                  p.choices[a.choice + 1] as "choice!", a.answered_at
             from poll_answers a join polls p on p.id = a.poll_id
            where p.session_id = $1
            order by p.opened_at, a.answered_at, a.participant_id"#,
        session_id
    )
    .fetch_all(db)
    .await
}
