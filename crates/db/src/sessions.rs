//! Teaching sessions.

use chrono::{DateTime, Utc};
use estrade_core::domain::{FloorMode, JoinCode, SessionStatus};
use estrade_core::outbound::Event;
use serde_json::json;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::audit::{Actor, Entry};

/// The constraint that keeps join codes unique among sessions not ended.
pub const JOIN_CODE_CONSTRAINT: &str = "sessions_join_code_not_ended";

/// A session as stored.
#[derive(Debug, Clone)]
pub struct Session {
    /// Primary key.
    pub id: Uuid,
    /// Owning teacher's account.
    pub teacher_id: Uuid,
    /// Shown to learners.
    pub title: String,
    /// LiveKit room name.
    pub room_name: String,
    /// Six digits.
    pub join_code: String,
    /// `scheduled`, `live` or `ended`.
    pub status: SessionStatus,
    /// Refuses new joins when set.
    pub locked: bool,
    /// Most learners and classrooms present at once.
    pub max_learners: i32,
    /// `moderated`, `open` or `closed`.
    pub floor_mode: FloorMode,
    /// Most simultaneous speakers.
    pub max_speakers: i32,
    /// Seconds a grant lasts, if limited.
    pub speaking_time_limit_s: Option<i32>,
    /// Bumped by every floor command.
    pub floor_version: i64,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// When it went live.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub ended_at: Option<DateTime<Utc>>,
    /// Why it ended.
    pub end_reason: Option<String>,
    /// The LiveKit room instance (`RM_…`) the session last started.
    pub room_sid: Option<String>,
    /// The last sequence number of its event log.
    pub event_seq: i64,
}

impl Session {
    /// The body of a `session` event: what changed about the session as a
    /// whole (participants see it too, so no join code).
    pub fn event(&self) -> serde_json::Value {
        json!({
            "id": self.id,
            "status": self.status,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "end_reason": self.end_reason,
        })
    }
}

/// What a teacher chooses when creating a session.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    /// Title, already validated.
    pub title: &'a str,
    /// Learner limit, already validated.
    pub max_learners: i32,
    /// Floor mode.
    pub floor_mode: FloorMode,
    /// Speaker limit.
    pub max_speakers: i32,
    /// Speaking-time limit in seconds.
    pub speaking_time_limit_s: Option<i32>,
}

impl<'a> NewSession<'a> {
    /// A moderated session with one speaker and the default learner limit.
    pub fn with_defaults(title: &'a str) -> Self {
        Self {
            title,
            max_learners: estrade_core::domain::limits::DEFAULT_MAX_LEARNERS,
            floor_mode: FloorMode::Moderated,
            max_speakers: 1,
            speaking_time_limit_s: None,
        }
    }
}

/// How many codes to draw before giving up (a clash is one in a million
/// per live session; fifty in a row means something else is wrong).
const CODE_ATTEMPTS: u32 = 50;

fn is_code_clash(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.constraint() == Some(JOIN_CODE_CONSTRAINT))
}

/// Creates a scheduled session with a fresh join code. Each attempt runs in
/// a savepoint, so a code already taken does not abort the caller's
/// transaction; another code is drawn.
pub async fn insert(
    conn: &mut PgConnection,
    teacher_id: Uuid,
    new: &NewSession<'_>,
) -> Result<Session, sqlx::Error> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let id = Uuid::new_v4();
        let code = JoinCode::generate();
        let mut sp = sqlx::Connection::begin(&mut *conn).await?;
        let result = sqlx::query_as!(
            Session,
            "insert into sessions (id, teacher_id, title, room_name, join_code, max_learners,
                                   floor_mode, max_speakers, speaking_time_limit_s)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             returning id, teacher_id, title, room_name, join_code, status as \"status: _\", locked,
                max_learners, floor_mode as \"floor_mode: _\", max_speakers, speaking_time_limit_s,
                floor_version, created_at, started_at, ended_at, end_reason, room_sid, event_seq",
            id,
            teacher_id,
            new.title,
            format!("estrade-{id}"),
            code.as_str(),
            new.max_learners,
            new.floor_mode.as_str(),
            new.max_speakers,
            new.speaking_time_limit_s,
        )
        .fetch_one(&mut *sp)
        .await;
        match result {
            Ok(session) => {
                sp.commit().await?;
                return Ok(session);
            }
            Err(e) if is_code_clash(&e) && attempt < CODE_ATTEMPTS => sp.rollback().await?,
            Err(e) => return Err(e),
        }
    }
}

/// Gives a session that is not ended a new join code (drawn as in
/// [`insert`]); the old one stops working at once.
pub async fn rotate_code(conn: &mut PgConnection, id: Uuid) -> Result<Session, sqlx::Error> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let code = JoinCode::generate();
        let mut sp = sqlx::Connection::begin(&mut *conn).await?;
        let result = sqlx::query_as!(
            Session,
            "update sessions set join_code = $2 where id = $1 and status <> 'ended'
             returning id, teacher_id, title, room_name, join_code, status as \"status: _\", locked,
                max_learners, floor_mode as \"floor_mode: _\", max_speakers, speaking_time_limit_s,
                floor_version, created_at, started_at, ended_at, end_reason, room_sid, event_seq",
            id,
            code.as_str(),
        )
        .fetch_one(&mut *sp)
        .await;
        match result {
            Ok(session) => {
                sp.commit().await?;
                return Ok(session);
            }
            Err(e) if is_code_clash(&e) && attempt < CODE_ATTEMPTS => sp.rollback().await?,
            Err(e) => return Err(e),
        }
    }
}

/// One session.
pub async fn get(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<Session>, sqlx::Error> {
    sqlx::query_as!(
        Session,
        "select id, teacher_id, title, room_name, join_code, status as \"status: _\", locked,
                max_learners, floor_mode as \"floor_mode: _\", max_speakers, speaking_time_limit_s,
                floor_version, created_at, started_at, ended_at, end_reason, room_sid, event_seq
           from sessions where id = $1",
        id
    )
    .fetch_optional(db)
    .await
}

/// One session, locked until the transaction ends: every change to a
/// session (and its floor) goes through this lock, so replicas agree.
pub async fn lock(conn: &mut PgConnection, id: Uuid) -> Result<Option<Session>, sqlx::Error> {
    sqlx::query_as!(
        Session,
        "select id, teacher_id, title, room_name, join_code, status as \"status: _\", locked,
                max_learners, floor_mode as \"floor_mode: _\", max_speakers, speaking_time_limit_s,
                floor_version, created_at, started_at, ended_at, end_reason, room_sid, event_seq
           from sessions where id = $1 for update",
        id
    )
    .fetch_optional(conn)
    .await
}

/// Sessions, newest first: all of them, or one teacher's.
pub async fn list(
    db: impl PgExecutor<'_>,
    teacher_id: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Session>, sqlx::Error> {
    sqlx::query_as!(
        Session,
        "select id, teacher_id, title, room_name, join_code, status as \"status: _\", locked,
                max_learners, floor_mode as \"floor_mode: _\", max_speakers, speaking_time_limit_s,
                floor_version, created_at, started_at, ended_at, end_reason, room_sid, event_seq
           from sessions where ($1::uuid is null or teacher_id = $1)
         order by created_at desc, id limit $2",
        teacher_id,
        limit,
    )
    .fetch_all(db)
    .await
}

/// Locks the sessions (not ended) that use any of `codes`, in id order
/// (so that batches touching the same sessions queue instead of
/// deadlocking).
pub async fn lock_by_codes(
    conn: &mut PgConnection,
    codes: &[&str],
) -> Result<Vec<Session>, sqlx::Error> {
    sqlx::query_as!(
        Session,
        "select id, teacher_id, title, room_name, join_code, status as \"status: _\", locked,
                max_learners, floor_mode as \"floor_mode: _\", max_speakers, speaking_time_limit_s,
                floor_version, created_at, started_at, ended_at, end_reason, room_sid, event_seq
           from sessions where join_code = any($1) and status <> 'ended' order by id for update",
        codes as &[&str]
    )
    .fetch_all(conn)
    .await
}

/// Locks the sessions owning `rooms`, in id order (the order every
/// transaction that locks several sessions takes them in, so two never
/// wait on each other). Returns how many.
pub async fn lock_rooms(conn: &mut PgConnection, rooms: &[&str]) -> Result<usize, sqlx::Error> {
    let locked = sqlx::query_scalar!(
        "select id from sessions where room_name = any($1) order by id for update",
        rooms as &[&str]
    )
    .fetch_all(conn)
    .await?;
    Ok(locked.len())
}

/// Which of `codes` an ended session used (to say "ended", not
/// "unknown").
pub async fn codes_of_ended(
    db: impl PgExecutor<'_>,
    codes: &[&str],
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "select distinct join_code from sessions where join_code = any($1) and status = 'ended'",
        codes as &[&str]
    )
    .fetch_all(db)
    .await
}

/// Marks a scheduled session live (a live one is returned unchanged).
pub async fn mark_live(
    conn: &mut PgConnection,
    id: Uuid,
    room_sid: &str,
) -> Result<Session, sqlx::Error> {
    sqlx::query_as!(
        Session,
        "update sessions
            set status = 'live', started_at = coalesce(started_at, now()),
                room_sid = nullif($2, '')
          where id = $1 and status <> 'ended'
          returning id, teacher_id, title, room_name, join_code, status as \"status: _\", locked,
                max_learners, floor_mode as \"floor_mode: _\", max_speakers, speaking_time_limit_s,
                floor_version, created_at, started_at, ended_at, end_reason, room_sid, event_seq",
        id,
        room_sid,
    )
    .fetch_one(conn)
    .await
}

/// Ends a session that is not ended yet, with a reason.
pub async fn mark_ended(
    conn: &mut PgConnection,
    id: Uuid,
    reason: &str,
) -> Result<Session, sqlx::Error> {
    sqlx::query_as!(
        Session,
        "update sessions set status = 'ended', ended_at = now(), end_reason = $2, locked = false
          where id = $1 and status <> 'ended'
          returning id, teacher_id, title, room_name, join_code, status as \"status: _\", locked,
                max_learners, floor_mode as \"floor_mode: _\", max_speakers, speaking_time_limit_s,
                floor_version, created_at, started_at, ended_at, end_reason, room_sid, event_seq",
        id,
        reason,
    )
    .fetch_one(conn)
    .await
}

/// Locks or unlocks a session against new joins.
pub async fn set_locked(
    conn: &mut PgConnection,
    id: Uuid,
    locked: bool,
) -> Result<Session, sqlx::Error> {
    sqlx::query_as!(
        Session,
        "update sessions set locked = $2 where id = $1
         returning id, teacher_id, title, room_name, join_code, status as \"status: _\", locked,
                max_learners, floor_mode as \"floor_mode: _\", max_speakers, speaking_time_limit_s,
                floor_version, created_at, started_at, ended_at, end_reason, room_sid, event_seq",
        id,
        locked
    )
    .fetch_one(conn)
    .await
}

/// Changes the title.
pub async fn set_title(
    conn: &mut PgConnection,
    id: Uuid,
    title: &str,
) -> Result<Session, sqlx::Error> {
    sqlx::query_as!(
        Session,
        "update sessions set title = $2 where id = $1
         returning id, teacher_id, title, room_name, join_code, status as \"status: _\", locked,
                max_learners, floor_mode as \"floor_mode: _\", max_speakers, speaking_time_limit_s,
                floor_version, created_at, started_at, ended_at, end_reason, room_sid, event_seq",
        id,
        title
    )
    .fetch_one(conn)
    .await
}

/// Locks the session that owns a LiveKit room.
pub async fn lock_by_room(
    conn: &mut PgConnection,
    room_name: &str,
) -> Result<Option<Session>, sqlx::Error> {
    sqlx::query_as!(
        Session,
        "select id, teacher_id, title, room_name, join_code, status as \"status: _\", locked,
                max_learners, floor_mode as \"floor_mode: _\", max_speakers, speaking_time_limit_s,
                floor_version, created_at, started_at, ended_at, end_reason, room_sid, event_seq
           from sessions where room_name = $1 for update",
        room_name
    )
    .fetch_optional(conn)
    .await
}

/// Ends a session locked by the caller and not yet ended: status, floor
/// closed, everyone gone, and the audit entry, in the caller's
/// transaction.
pub async fn end(
    conn: &mut PgConnection,
    id: Uuid,
    reason: &str,
    actor: Actor,
) -> Result<Session, sqlx::Error> {
    // Ending is a floor transition like the others: whoever was speaking
    // or waiting is let go, the floor's version moves on, and a `floor`
    // event (the empty floor) goes out before the `session` one.
    let closed = crate::floor::close_all(conn, id, "session_ended").await?;
    if closed > 0 {
        crate::floor::bump_version(conn, id).await?;
    }
    let ended = mark_ended(conn, id, reason).await?;
    if closed > 0 {
        let floor = crate::floor::load(conn, &ended).await?;
        let view = crate::floor::view(conn, id, &floor, ended.floor_version).await?;
        crate::events::append(conn, id, "floor", &view).await?;
    }
    let left = crate::participants::mark_all_left(conn, id).await?;
    let polls = crate::polls::close_open(conn, id).await?;
    let entry = Entry::new(actor, "session.ended").session(id).details(json!({
        "reason": reason, "floor_closed": closed, "participants_left": left, "polls_closed": polls,
    }));
    crate::audit::record(conn, entry).await?;
    crate::events::append(conn, id, "session", &ended.event()).await?;
    let told = json!({ "session_id": id, "ended_at": ended.ended_at, "reason": reason });
    crate::outbound::enqueue(conn, Event::SessionEnded, &told).await?;
    let report = json!({ "session_id": id, "report": format!("/v1/sessions/{id}/report") });
    crate::outbound::enqueue(conn, Event::ReportReady, &report).await?;
    Ok(ended)
}

/// Marks a scheduled session live, with its audit entry and event, in the
/// caller's transaction (which holds its lock).
pub async fn start(
    conn: &mut PgConnection,
    id: Uuid,
    room_sid: &str,
    actor: Actor,
) -> Result<Session, sqlx::Error> {
    let live = mark_live(conn, id, room_sid).await?;
    let entry = Entry::new(actor, "session.started").session(id);
    crate::audit::record(conn, entry).await?;
    crate::events::append(conn, id, "session", &live.event()).await?;
    let told = json!({
        "session_id": id, "title": live.title, "teacher_id": live.teacher_id,
        "started_at": live.started_at, "max_learners": live.max_learners,
    });
    crate::outbound::enqueue(conn, Event::SessionStarted, &told).await?;
    Ok(live)
}

/// Serialises session starts for the rest of the caller's transaction, so
/// the live-session counts it reads stay exact until it commits.
pub async fn lock_starts(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query!("select pg_advisory_xact_lock(hashtext('estrade.session_starts'))")
        .execute(conn)
        .await?;
    Ok(())
}

/// What live sessions hold now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveCounts {
    /// Live sessions of the teacher asked about.
    pub teacher: i64,
    /// Live sessions in all.
    pub all: i64,
    /// Seats the live sessions reserve (their `max_learners`, summed).
    pub seats: i64,
}

/// Live sessions: of one teacher, in all, and the seats they reserve.
pub async fn live_counts(
    conn: &mut PgConnection,
    teacher_id: Uuid,
) -> Result<LiveCounts, sqlx::Error> {
    sqlx::query_as!(
        LiveCounts,
        r#"select count(*) filter (where teacher_id = $1) as "teacher!", count(*) as "all!",
                  coalesce(sum(max_learners), 0)::int8 as "seats!"
             from sessions where status = 'live'"#,
        teacher_id
    )
    .fetch_one(conn)
    .await
}

/// Records the teacher's first published track of session `id`, reported
/// at `at`, unless one was recorded before: the milliseconds since the
/// start when this one is the first.
pub async fn mark_first_track(
    conn: &mut PgConnection,
    id: Uuid,
    at: DateTime<Utc>,
) -> Result<Option<i64>, sqlx::Error> {
    let row = sqlx::query_scalar!(
        r#"update sessions set first_track_at = $2
            where id = $1 and first_track_at is null and started_at is not null
        returning (extract(epoch from ($2 - started_at)) * 1000)::int8 as "ms!""#,
        id,
        at,
    )
    .fetch_optional(conn)
    .await?;
    Ok(row)
}

/// Milliseconds from session `id`'s start to the teacher's first track;
/// none before it.
pub async fn first_track_ms(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select (extract(epoch from (first_track_at - started_at)) * 1000)::int8 as "ms"
             from sessions where id = $1"#,
        id
    )
    .fetch_one(db)
    .await
}
