//! Participants of sessions.

use std::time::Duration;

use chrono::{DateTime, Utc};
use estrade_core::domain::{Graces, ParticipantKind, Presence};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

/// What an erased display name becomes.
pub const ERASED_NAME: &str = "(erased)";

/// A participant as stored.
#[derive(Debug, Clone)]
pub struct Participant {
    /// Primary key.
    pub id: Uuid,
    /// Its session.
    pub session_id: Uuid,
    /// Teacher, learner, classroom or observer.
    pub kind: ParticipantKind,
    /// LiveKit identity (server-assigned).
    pub identity: String,
    /// Display name (personal data: never logged).
    pub display_name: String,
    /// People behind a classroom participant.
    pub headcount: Option<i32>,
    /// Invited, present or left.
    pub presence: Presence,
    /// When LiveKit last saw it join.
    pub joined_at: Option<DateTime<Utc>>,
    /// When it left.
    pub left_at: Option<DateTime<Utc>>,
    /// When it was kicked.
    pub kicked_at: Option<DateTime<Utc>>,
    /// When it joined through the API.
    pub created_at: DateTime<Utc>,
}

/// A participant to admit.
#[derive(Debug, Clone, Copy)]
pub struct NewParticipant<'a> {
    /// Its session.
    pub session_id: Uuid,
    /// A learner or a classroom.
    pub kind: ParticipantKind,
    /// LiveKit identity.
    pub identity: &'a str,
    /// Display name.
    pub display_name: &'a str,
    /// For a classroom.
    pub headcount: Option<i32>,
}

/// The teacher's participant row for a session, created on first use.
/// Returns `None` when it already existed.
pub async fn insert_teacher(
    conn: &mut PgConnection,
    session_id: Uuid,
    identity: &str,
    name: &str,
) -> Result<Option<Participant>, sqlx::Error> {
    sqlx::query_as!(
        Participant,
        "insert into participants (session_id, kind, identity, display_name)
         values ($1, 'teacher', $2, $3)
         on conflict (identity) do nothing
         returning id, session_id, kind as \"kind: _\", identity, display_name, headcount,
                   presence as \"presence: _\", joined_at, left_at, kicked_at, created_at",
        session_id,
        identity,
        name,
    )
    .fetch_optional(conn)
    .await
}

/// An admin's observer row for a session (created the first time, its
/// name kept current after): its id.
pub async fn seat_observer(
    conn: &mut PgConnection,
    session_id: Uuid,
    identity: &str,
    name: &str,
) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar!(
        "insert into participants (session_id, kind, identity, display_name)
         values ($1, 'observer', $2, $3)
         on conflict (identity) do update set display_name = excluded.display_name
         returning id",
        session_id,
        identity,
        name,
    )
    .fetch_one(conn)
    .await
}

/// One participant.
pub async fn get(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<Participant>, sqlx::Error> {
    sqlx::query_as!(
        Participant,
        "select id, session_id, kind as \"kind: _\", identity, display_name, headcount,
                presence as \"presence: _\", joined_at, left_at, kicked_at, created_at
           from participants where id = $1",
        id
    )
    .fetch_optional(db)
    .await
}

/// A session's participants, in join order.
pub async fn list(
    db: impl PgExecutor<'_>,
    session_id: Uuid,
) -> Result<Vec<Participant>, sqlx::Error> {
    sqlx::query_as!(
        Participant,
        "select id, session_id, kind as \"kind: _\", identity, display_name, headcount,
                presence as \"presence: _\", joined_at, left_at, kicked_at, created_at
           from participants where session_id = $1 order by created_at, id",
        session_id
    )
    .fetch_all(db)
    .await
}

impl Participant {
    /// The body of a `presence` event about it.
    pub fn presence_event(&self) -> serde_json::Value {
        let presence = if self.kicked_at.is_some() {
            "kicked"
        } else {
            self.presence.as_str()
        };
        serde_json::json!({
            "participant_id": self.id,
            "kind": self.kind,
            "name": self.display_name,
            "presence": presence,
        })
    }
}

/// Marks a participant kicked and gone, with its `presence` event, in the
/// caller's transaction (which holds the session's lock).
pub async fn kick(conn: &mut PgConnection, id: Uuid) -> Result<Participant, sqlx::Error> {
    let kicked = sqlx::query_as!(
        Participant,
        "update participants
            set kicked_at = coalesce(kicked_at, now()), presence = 'left', left_at = coalesce(left_at, now())
          where id = $1
         returning id, session_id, kind as \"kind: _\", identity, display_name, headcount,
                   presence as \"presence: _\", joined_at, left_at, kicked_at, created_at",
        id
    )
    .fetch_one(&mut *conn)
    .await?;
    crate::events::append(
        conn,
        kicked.session_id,
        "presence",
        &kicked.presence_event(),
    )
    .await?;
    Ok(kicked)
}

/// Marks everyone in a session as gone (the session ended).
pub async fn mark_all_left(conn: &mut PgConnection, session_id: Uuid) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!(
        "update participants set presence = 'left', left_at = coalesce(left_at, now())
          where session_id = $1 and presence <> 'left'",
        session_id
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Replaces the display names of learners and classrooms whose session ended
/// more than `retention` ago. Returns how many names were erased.
pub async fn erase_names_after(
    db: impl PgExecutor<'_>,
    retention: Duration,
) -> Result<u64, sqlx::Error> {
    let seconds = retention.as_secs_f64();
    let result = sqlx::query!(
        "update participants p set display_name = $1
           from sessions s
          where s.id = p.session_id
            and s.status = 'ended'
            and s.ended_at < now() - make_interval(secs => $2)
            and p.kind in ('learner', 'classroom')
            and p.display_name <> $1",
        ERASED_NAME,
        seconds,
    )
    .execute(db)
    .await?;
    Ok(result.rows_affected())
}

/// Overwrites the names of session `id`'s learners and classrooms now (an
/// erasure request). Returns how many.
pub async fn erase_names_of(db: impl PgExecutor<'_>, session_id: Uuid) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!(
        "update participants set display_name = $1
          where session_id = $2 and kind in ('learner', 'classroom') and display_name <> $1",
        ERASED_NAME,
        session_id,
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// How many seats each of `sessions` has taken now (`holds_seat`);
/// sessions with none are absent. The caller holds the sessions' locks,
/// so the counts stay exact until it commits.
pub async fn seated(
    conn: &mut PgConnection,
    sessions: &[Uuid],
    graces: Graces,
) -> Result<Vec<(Uuid, i64)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select session_id as "session_id!", count(*) as "n!" from participants
            where session_id = any($1) and kind in ('learner', 'classroom')
              and holds_seat(presence, kicked_at, created_at, left_at,
                             make_interval(secs => $2), make_interval(secs => $3))
            group by session_id"#,
        sessions,
        graces.arrival.as_secs_f64(),
        graces.departure.as_secs_f64(),
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.session_id, r.n)).collect())
}

/// Inserts `new` participants with one `participant.joined` audit entry
/// each, in one statement (the caller checked their seats under the
/// sessions' locks). Returns the rows in no particular order: match them by
/// identity.
pub async fn admit_all(
    conn: &mut PgConnection,
    new: &[NewParticipant<'_>],
) -> Result<Vec<Participant>, sqlx::Error> {
    let sessions: Vec<Uuid> = new.iter().map(|p| p.session_id).collect();
    let kinds: Vec<&str> = new.iter().map(|p| p.kind.as_str()).collect();
    let identities: Vec<&str> = new.iter().map(|p| p.identity).collect();
    let names: Vec<&str> = new.iter().map(|p| p.display_name).collect();
    let headcounts: Vec<Option<i32>> = new.iter().map(|p| p.headcount).collect();
    sqlx::query_as!(
        Participant,
        r#"with admitted as (
             insert into participants (session_id, kind, identity, display_name, headcount)
             select * from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::int4[])
             returning id, session_id, kind, identity, display_name, headcount, presence,
                       joined_at, left_at, kicked_at, created_at
         ), audited as (
             insert into audit_log (actor_kind, actor_id, action, session_id, target_id, details)
             select 'participant', id, 'participant.joined', session_id, id, jsonb_build_object('kind', kind)
               from admitted
         )
         select id as "id!", session_id as "session_id!", kind as "kind: _", identity as "identity!",
                display_name as "display_name!", headcount, presence as "presence: _",
                joined_at, left_at, kicked_at, created_at as "created_at!"
           from admitted"#,
        &sessions,
        &kinds as &[&str],
        &identities as &[&str],
        &names as &[&str],
        &headcounts as &[Option<i32>],
    )
    .fetch_all(conn)
    .await
}

/// Whether a participant holds a seat now (`holds_seat`).
pub async fn holds_seat(
    db: impl sqlx::PgExecutor<'_>,
    participant: Uuid,
    graces: Graces,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select holds_seat(presence, kicked_at, created_at, left_at,
                             make_interval(secs => $2), make_interval(secs => $3)) as "held!"
             from participants where id = $1"#,
        participant,
        graces.arrival.as_secs_f64(),
        graces.departure.as_secs_f64(),
    )
    .fetch_one(db)
    .await
}

/// Whether LiveKit may have this learner or classroom in its session: it
/// holds a seat already, or one is free. A participant that comes after
/// its arrival grace, or back after its departure grace, when the seats
/// went to others meanwhile, has none. The caller holds the session's lock.
pub async fn has_or_finds_seat(
    conn: &mut PgConnection,
    id: Uuid,
    max_learners: i32,
    graces: Graces,
) -> Result<bool, sqlx::Error> {
    let (arrival, departure) = (graces.arrival.as_secs_f64(), graces.departure.as_secs_f64());
    sqlx::query_scalar!(
        r#"select holds_seat(p.presence, p.kicked_at, p.created_at, p.left_at,
                             make_interval(secs => $3), make_interval(secs => $4))
                  or (select count(*) from participants o
                       where o.session_id = p.session_id and o.id <> p.id
                         and o.kind in ('learner', 'classroom')
                         and holds_seat(o.presence, o.kicked_at, o.created_at, o.left_at,
                                        make_interval(secs => $3), make_interval(secs => $4))) < $2
                  as "seat!"
             from participants p where p.id = $1"#,
        id,
        i64::from(max_learners),
        arrival,
        departure,
    )
    .fetch_one(conn)
    .await
}

/// What the webhook worker needs of a participant's connection.
#[derive(Debug, Clone)]
pub struct ConnectionState {
    /// Primary key.
    pub id: Uuid,
    /// Its session.
    pub session_id: Uuid,
    /// Teacher, learner, classroom or observer.
    pub kind: ParticipantKind,
    /// Invited, present or left.
    pub presence: Presence,
    /// The LiveKit connection last recorded.
    pub livekit_sid: Option<String>,
    /// Its `joinedAtMs`.
    pub joined_at_ms: Option<i64>,
    /// When Estrade recorded the connection.
    pub joined_at: Option<DateTime<Utc>>,
    /// Whether it was kicked.
    pub kicked: bool,
}

/// A participant by LiveKit identity, without locking.
pub async fn by_identity(
    db: impl PgExecutor<'_>,
    identity: &str,
) -> Result<Option<ConnectionState>, sqlx::Error> {
    sqlx::query_as!(
        ConnectionState,
        r#"select id, session_id, kind as "kind: _", presence as "presence: _", livekit_sid,
                  joined_at_ms, joined_at,
                  kicked_at is not null as "kicked!"
             from participants where identity = $1"#,
        identity
    )
    .fetch_optional(db)
    .await
}

/// The same, locked for update (take the session's lock first).
pub async fn lock_connection(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<ConnectionState, sqlx::Error> {
    sqlx::query_as!(
        ConnectionState,
        r#"select id, session_id, kind as "kind: _", presence as "presence: _", livekit_sid,
                  joined_at_ms, joined_at,
                  kicked_at is not null as "kicked!"
             from participants where id = $1 for update"#,
        id
    )
    .fetch_one(conn)
    .await
}

/// Records a LiveKit connection as present (`present`) or gone, with a
/// `presence` event when that changes what others see (the caller's
/// transaction holds the session's lock).
pub async fn record_connection(
    conn: &mut PgConnection,
    id: Uuid,
    present: bool,
    sid: &str,
    joined_at_ms: i64,
) -> Result<(), sqlx::Error> {
    let row = sqlx::query!(
        r#"update participants p
              set presence = case when $2 then 'present' else 'left' end,
                  livekit_sid = $3,
                  joined_at_ms = $4,
                  joined_at = case when $2 then now() else p.joined_at end,
                  left_at = case when $2 then null else now() end
             from participants old_p
            where p.id = $1 and old_p.id = p.id
        returning old_p.presence as "before_presence!""#,
        id,
        present,
        sid,
        joined_at_ms,
    )
    .fetch_one(&mut *conn)
    .await?;
    let now_present = if present { "present" } else { "left" };
    if row.before_presence != now_present {
        let participant = get(&mut *conn, id).await?.ok_or(sqlx::Error::RowNotFound)?;
        crate::events::append(
            conn,
            participant.session_id,
            "presence",
            &participant.presence_event(),
        )
        .await?;
    }
    Ok(())
}

/// Records participant `id`'s first LiveKit connection, reported at `at`,
/// unless one was recorded before: the milliseconds since its join when
/// this one is the first.
pub async fn mark_first_connection(
    conn: &mut PgConnection,
    id: Uuid,
    at: DateTime<Utc>,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"update participants set first_connected_at = $2
            where id = $1 and first_connected_at is null
        returning (extract(epoch from ($2 - created_at)) * 1000)::int8 as "ms!""#,
        id,
        at,
    )
    .fetch_optional(conn)
    .await
}

/// For each learner and classroom of a session whose first connection
/// was reported, the milliseconds from its join to it.
pub async fn connect_delays_ms(
    db: impl PgExecutor<'_>,
    session_id: Uuid,
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select (extract(epoch from (first_connected_at - created_at)) * 1000)::int8 as "ms!"
             from participants
            where session_id = $1 and kind in ('learner', 'classroom')
              and first_connected_at is not null"#,
        session_id
    )
    .fetch_all(db)
    .await
}

/// Display names of some participants of a session.
pub async fn names(
    conn: &mut PgConnection,
    session_id: Uuid,
    ids: &[Uuid],
) -> Result<Vec<(Uuid, String)>, sqlx::Error> {
    let rows = sqlx::query!(
        "select id, display_name from participants where session_id = $1 and id = any($2)",
        session_id,
        ids,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.display_name)).collect())
}

/// LiveKit identities of some participants of a session.
pub async fn identities(
    conn: &mut PgConnection,
    session_id: Uuid,
    ids: &[Uuid],
) -> Result<Vec<(Uuid, String)>, sqlx::Error> {
    let rows = sqlx::query!(
        "select id, identity from participants where session_id = $1 and id = any($2)",
        session_id,
        ids,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.identity)).collect())
}

/// What a participant token's holder is now: its session, whether it was
/// removed, whether its session has ended. One query, on every request a
/// participant makes.
#[derive(Debug, Clone, Copy)]
pub struct Standing {
    /// Its session.
    pub session_id: Uuid,
    /// Removed by the teacher or an admin.
    pub kicked: bool,
    /// Its session is over.
    pub session_ended: bool,
}

/// The standing of participant `id`, if it exists.
pub async fn standing(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<Standing>, sqlx::Error> {
    sqlx::query_as!(
        Standing,
        r#"select p.session_id, p.kicked_at is not null as "kicked!",
                  s.status = 'ended' as "session_ended!"
             from participants p join sessions s on s.id = p.session_id
            where p.id = $1"#,
        id
    )
    .fetch_optional(db)
    .await
}
