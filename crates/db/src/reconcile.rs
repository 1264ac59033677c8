//! What reconciliation reads from PostgreSQL in a few statements (every
//! live session, its participants and its open floor turns at once), and
//! its reports.

use chrono::{DateTime, Utc};
use estrade_core::domain::{ParticipantKind, Presence, SessionStatus, TurnState};
use serde_json::Value;
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::floor::OpenTurn;
use crate::sessions::Session;

/// A participant of a live session, as reconciliation compares it.
#[derive(Debug, Clone)]
pub struct Member {
    /// The participant.
    pub id: Uuid,
    /// Its session.
    pub session_id: Uuid,
    /// LiveKit identity.
    pub identity: String,
    /// Teacher, learner, classroom or observer.
    pub kind: ParticipantKind,
    /// Invited, present or left.
    pub presence: Presence,
    /// Whether it was kicked.
    pub kicked: bool,
    /// When its presence last changed to present.
    pub joined_at: Option<DateTime<Utc>>,
    /// When it last left.
    pub left_at: Option<DateTime<Utc>>,
}

/// Every live session.
pub async fn live_sessions(db: impl PgExecutor<'_>) -> Result<Vec<Session>, sqlx::Error> {
    sqlx::query_as!(
        Session,
        "select id, teacher_id, title, room_name, join_code, status as \"status: _\", locked,
                max_learners, floor_mode as \"floor_mode: _\", max_speakers, speaking_time_limit_s,
                floor_version, created_at, started_at, ended_at, end_reason, room_sid, event_seq
           from sessions where status = 'live' order by id"
    )
    .fetch_all(db)
    .await
}

/// Every participant of every live session.
pub async fn live_members(db: impl PgExecutor<'_>) -> Result<Vec<Member>, sqlx::Error> {
    sqlx::query_as!(
        Member,
        r#"select p.id, p.session_id, p.identity, p.kind as "kind: _", p.presence as "presence: _",
                  p.kicked_at is not null as "kicked!", p.joined_at, p.left_at
             from participants p join sessions s on s.id = p.session_id
            where s.status = 'live'"#
    )
    .fetch_all(db)
    .await
}

/// Every open hand and turn of every live session, as `(session, turn)`,
/// in the order `floor::open_turns` gives for one session.
pub async fn live_turns(db: impl PgExecutor<'_>) -> Result<Vec<(Uuid, OpenTurn)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select t.session_id, t.participant_id, t.state as "state: TurnState", t.raised_at,
                  t.granted_at, t.expires_at, t.question_id
             from floor_turns t join sessions s on s.id = t.session_id
            where s.status = 'live' and t.state <> 'done'
            order by t.session_id, t.state desc, coalesce(t.granted_at, t.raised_at), t.id"#
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                r.session_id,
                OpenTurn {
                    participant_id: r.participant_id,
                    state: r.state,
                    raised_at: r.raised_at,
                    granted_at: r.granted_at,
                    expires_at: r.expires_at,
                    question_id: r.question_id,
                },
            )
        })
        .collect())
}

/// The status of the sessions owning these room names, as
/// `(room_name, status)` (rooms no session owns are absent).
pub async fn room_owners(
    db: impl PgExecutor<'_>,
    rooms: &[String],
) -> Result<Vec<(String, SessionStatus)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select room_name, status as "status: SessionStatus"
             from sessions where room_name = any($1)"#,
        rooms
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.room_name, r.status)).collect())
}

/// A finished run, as stored (and printed by `estrade reconcile --once`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// Its id.
    pub id: Uuid,
    /// `schedule`, `admin` or `cli`.
    pub trigger: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it finished.
    pub finished_at: DateTime<Utc>,
    /// `ok` or `failed`.
    pub outcome: String,
    /// Counts per repair kind (an object of numbers).
    pub repairs: Value,
    /// What went wrong, if anything.
    pub error: Option<String>,
    /// LiveKit rooms looked at.
    pub rooms_checked: i32,
    /// LiveKit participants looked at.
    pub participants_checked: i32,
    /// LiveKit calls made.
    pub livekit_calls: i32,
}

/// Stores a run's report.
pub async fn save(db: impl PgExecutor<'_>, report: &Report) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into reconcile_reports
            (id, trigger, started_at, finished_at, outcome, repairs, error,
             rooms_checked, participants_checked, livekit_calls)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        report.id,
        report.trigger,
        report.started_at,
        report.finished_at,
        report.outcome,
        report.repairs,
        report.error,
        report.rooms_checked,
        report.participants_checked,
        report.livekit_calls,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The latest report.
pub async fn last(db: impl PgExecutor<'_>) -> Result<Option<Report>, sqlx::Error> {
    sqlx::query_as!(
        Report,
        "select id, trigger, started_at, finished_at, outcome, repairs, error,
                rooms_checked, participants_checked, livekit_calls
           from reconcile_reports order by started_at desc limit 1"
    )
    .fetch_optional(db)
    .await
}
