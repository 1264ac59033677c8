//! Typed questions (`questions`), and where each stands, read from its
//! place in line (`floor_turns.question_id`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use estrade_core::domain::TurnState;
use estrade_core::question::{Question, QuestionStatus};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::participants::ERASED_NAME;

/// A question joined with its author and its place in line.
struct Row {
    id: Uuid,
    session_id: Uuid,
    participant_id: Uuid,
    name: String,
    text: String,
    asked_at: DateTime<Utc>,
    state: Option<TurnState>,
    granted_at: Option<DateTime<Utc>>,
    ended_at: Option<DateTime<Utc>>,
    end_reason: Option<String>,
}

impl From<Row> for Question {
    fn from(r: Row) -> Self {
        let status = match r.state {
            Some(state) => {
                QuestionStatus::of(state, r.granted_at.is_some(), r.end_reason.as_deref())
            }
            // Its turn row is gone only with its participant.
            None => QuestionStatus::Closed,
        };
        let ended_at = match status {
            QuestionStatus::Waiting => None,
            _ => r.granted_at.or(r.ended_at),
        };
        Self {
            id: r.id,
            session_id: r.session_id,
            participant_id: r.participant_id,
            name: r.name,
            text: r.text,
            asked_at: r.asked_at,
            status,
            answered_with_floor: r.granted_at.is_some(),
            ended_at,
        }
    }
}

/// Stores a question (the caller's transaction holds the session's lock and
/// then gives it its place in line); returns its id.
pub async fn insert(
    conn: &mut PgConnection,
    session_id: Uuid,
    participant_id: Uuid,
    text: &str,
    asked_at: DateTime<Utc>,
) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar!(
        "insert into questions (session_id, participant_id, text, asked_at)
         values ($1, $2, $3, $4) returning id",
        session_id,
        participant_id,
        text,
        asked_at,
    )
    .fetch_one(conn)
    .await
}

/// The questions among `ids`, oldest first.
pub async fn many(db: impl PgExecutor<'_>, ids: &[Uuid]) -> Result<Vec<Question>, sqlx::Error> {
    let rows = sqlx::query_as!(
        Row,
        r#"select q.id, q.session_id, q.participant_id, p.display_name as name, q.text, q.asked_at,
                  t.state as "state: _", t.granted_at, t.ended_at, t.end_reason
             from questions q
             join participants p on p.id = q.participant_id
             left join floor_turns t on t.question_id = q.id
            where q.id = any($1)
            order by q.asked_at, q.id"#,
        ids,
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(Question::from).collect())
}

/// One question.
pub async fn get(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<Question>, sqlx::Error> {
    Ok(many(db, &[id]).await?.pop())
}

/// A session's questions, oldest first: all of them, or `author`'s.
pub async fn of_session(
    db: impl PgExecutor<'_>,
    session_id: Uuid,
    author: Option<Uuid>,
) -> Result<Vec<Question>, sqlx::Error> {
    let rows = sqlx::query_as!(
        Row,
        r#"select q.id, q.session_id, q.participant_id, p.display_name as name, q.text, q.asked_at,
                  t.state as "state: _", t.granted_at, t.ended_at, t.end_reason
             from questions q
             join participants p on p.id = q.participant_id
             left join floor_turns t on t.question_id = q.id
            where q.session_id = $1 and ($2::uuid is null or q.participant_id = $2)
            order by q.asked_at, q.id"#,
        session_id,
        author,
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(Question::from).collect())
}

/// Overwrites the text of questions whose session ended more than
/// `retention` ago (the same placeholder as names). Returns how many.
pub async fn erase_after(db: impl PgExecutor<'_>, retention: Duration) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!(
        "update questions q set text = $1
           from sessions s
          where s.id = q.session_id
            and s.status = 'ended'
            and s.ended_at < now() - make_interval(secs => $2)
            and q.text <> $1",
        ERASED_NAME,
        retention.as_secs_f64(),
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Overwrites the texts of session `id`'s questions now (an erasure
/// request). Returns how many.
pub async fn erase_of(db: impl PgExecutor<'_>, session_id: Uuid) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!(
        "update questions set text = $1 where session_id = $2 and text <> $1",
        ERASED_NAME,
        session_id,
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}
