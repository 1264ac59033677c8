//! Sessions: created, changed, started, ended, the teacher's token to
//! publish, and an admin's hidden token to observe. Each use case checks who may act, writes its rows and its one
//! audit entry in one transaction, then tells the live streams and
//! LiveKit.

use std::time::Duration;

use estrade_core::domain::{self, AccountRole, SessionStatus};
use estrade_db::audit::{self, Entry};
use estrade_db::sessions::{NewSession, Session};
use estrade_livekit::{MintedToken, Role, RoomSettings};
use serde_json::json;
use uuid::Uuid;

use crate::{Account, Deps, Error};

/// Seats LiveKit keeps beyond `max_learners`: the teacher, observers, and a
/// learner's second connection while the first is timing out.
const ROOM_SEAT_MARGIN: u32 = 10;
/// How long LiveKit keeps an empty room (seconds).
const EMPTY_TIMEOUT_S: u32 = 600;

/// The LiveKit room of a session admitting `max_learners`.
pub fn room_settings(max_learners: i32) -> RoomSettings {
    RoomSettings {
        max_participants: max_learners.max(0) as u32 + ROOM_SEAT_MARGIN,
        empty_timeout_s: EMPTY_TIMEOUT_S,
    }
}

/// Creates a scheduled session of `teacher` (teachers only; `new` is
/// already validated).
pub async fn create(
    deps: &Deps,
    teacher: &Account,
    new: &NewSession<'_>,
) -> Result<Session, Error> {
    if teacher.role != AccountRole::Teacher {
        return Err(Error::Forbidden);
    }
    let mut tx = deps.db.begin().await?;
    let session = estrade_db::sessions::insert(&mut tx, teacher.id, new).await?;
    let entry = Entry::new(teacher.actor(), "session.created").session(session.id);
    audit::record(&mut tx, entry).await?;
    tx.commit().await?;
    Ok(session)
}

/// What may change in a session.
#[derive(Debug, Default)]
pub struct Changes {
    /// Refuse (true) or accept (false) new joins.
    pub locked: Option<bool>,
    /// Draw a new join code.
    pub rotate_join_code: bool,
    /// A new title, already validated.
    pub title: Option<String>,
}

/// Applies `changes` to session `id` (owner, admin; not once ended). One
/// audit entry names what changed; none when nothing did.
pub async fn update(
    deps: &Deps,
    by: &Account,
    id: Uuid,
    changes: Changes,
) -> Result<Session, Error> {
    let mut tx = deps.db.begin().await?;
    let mut session = lock_managed(&mut tx, by, id).await?;
    if session.status == SessionStatus::Ended {
        return Err(Error::SessionEnded);
    }
    let mut changed = serde_json::Map::new();
    if let Some(locked) = changes.locked
        && locked != session.locked
    {
        session = estrade_db::sessions::set_locked(&mut tx, id, locked).await?;
        changed.insert("locked".into(), json!(locked));
    }
    if changes.rotate_join_code {
        session = estrade_db::sessions::rotate_code(&mut tx, id).await?;
        changed.insert("join_code_rotated".into(), json!(true));
    }
    if let Some(title) = changes.title {
        session = estrade_db::sessions::set_title(&mut tx, id, &title).await?;
        changed.insert("title_changed".into(), json!(true));
    }
    if !changed.is_empty() {
        let entry = Entry::new(by.actor(), "session.updated")
            .session(id)
            .details(changed.into());
        audit::record(&mut tx, entry).await?;
    }
    tx.commit().await?;
    deps.notifier.notify(id);
    Ok(session)
}

/// Starts session `id` (owner, admin; idempotent): if the deployment's
/// limits admit one more live session ([`Error::TooManyLiveSessions`],
/// [`Error::AtCapacity`] otherwise, with nothing created), its LiveKit room
/// first, so a session is never live without one, then the session marked
/// live. CreateRoom is idempotent, so a retry after a failure is safe; a
/// room left behind by one is deleted by reconciliation.
pub async fn start(deps: &Deps, by: &Account, id: Uuid) -> Result<Session, Error> {
    let session = estrade_db::sessions::get(&deps.db, id)
        .await?
        .ok_or(Error::NotFound)?;
    by.can_manage(session.teacher_id)?;
    if session.status == SessionStatus::Ended {
        return Err(Error::SessionEnded);
    }
    let mut tx = deps.db.begin().await?;
    // Starts are decided one at a time (every replica's), so the live
    // counts stay exact until this one commits. The room is created inside
    // the transaction: a refusal or a failure leaves no room behind, and a
    // commit that fails after it leaves one that reconciliation deletes.
    estrade_db::sessions::lock_starts(&mut tx).await?;
    let locked = lock_managed(&mut tx, by, id).await?;
    match locked.status {
        SessionStatus::Ended => return Err(Error::SessionEnded),
        SessionStatus::Scheduled => {
            admits_one_more(
                &mut tx,
                deps.capacity,
                locked.teacher_id,
                locked.max_learners,
            )
            .await?;
        }
        SessionStatus::Live => {}
    }
    let room = deps
        .livekit
        .create_room(&session.room_name, room_settings(session.max_learners))
        .await?;
    let session = match locked.status {
        // Already live: the room may have been re-created; remember which.
        SessionStatus::Live if locked.room_sid.as_deref() == Some(room.sid.as_str()) => locked,
        SessionStatus::Live => estrade_db::sessions::mark_live(&mut tx, id, &room.sid).await?,
        SessionStatus::Ended => return Err(Error::SessionEnded),
        SessionStatus::Scheduled => {
            estrade_db::sessions::start(&mut tx, id, &room.sid, by.actor()).await?
        }
    };
    tx.commit().await?;
    deps.notifier.notify(id);
    Ok(session)
}

/// Whether one more live session, reserving `seats` (its `max_learners`),
/// fits: the teacher's own limit, then the deployment's live sessions and
/// seats (each refusal counted in `admissions_refused_total`).
async fn admits_one_more(
    tx: &mut sqlx::PgConnection,
    capacity: domain::Capacity,
    teacher_id: Uuid,
    seats: i32,
) -> Result<(), Error> {
    let live = estrade_db::sessions::live_counts(tx, teacher_id).await?;
    let refused = |limit: &'static str| {
        metrics::counter!("admissions_refused_total", "limit" => limit).increment(1);
    };
    if live.teacher >= capacity.live_sessions_per_teacher {
        refused("live_sessions_per_teacher");
        return Err(Error::TooManyLiveSessions {
            limit: capacity.live_sessions_per_teacher,
        });
    }
    if live.all >= capacity.live_sessions {
        refused("live_sessions");
        return Err(Error::AtCapacity(crate::CapacityLimit::LiveSessions(
            capacity.live_sessions,
        )));
    }
    if live.seats + i64::from(seats) > capacity.participants {
        refused("seats");
        return Err(Error::AtCapacity(crate::CapacityLimit::Seats(
            capacity.participants,
        )));
    }
    Ok(())
}

/// Ends session `id` (owner, admin; idempotent): everyone leaves, the floor
/// closes (a new floor version and its event), the decision is durable
/// before LiveKit hears of it. Every call, a repeat included, makes sure
/// the room is gone; if LiveKit cannot be reached the session stays ended
/// and [`Error::LiveKit`] says to call again.
pub async fn end(deps: &Deps, by: &Account, id: Uuid) -> Result<Session, Error> {
    let mut tx = deps.db.begin().await?;
    let session = lock_managed(&mut tx, by, id).await?;
    let ended = if session.status == SessionStatus::Ended {
        tx.rollback().await?;
        session
    } else {
        let reason = if by.role == AccountRole::Admin && by.id != session.teacher_id {
            "ended_by_admin"
        } else {
            "ended_by_teacher"
        };
        let ended = estrade_db::sessions::end(&mut tx, id, reason, by.actor()).await?;
        tx.commit().await?;
        deps.notifier.notify(id);
        ended
    };
    match deps.livekit.delete_room(&ended.room_name).await {
        Ok(()) | Err(estrade_livekit::Error::NotFound) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(ended)
}

/// A way into the room of a live session: the teacher's (camera,
/// microphone, screen share, data) or an observer's (subscribe only).
#[derive(Debug)]
pub struct RoomToken {
    /// The holder's LiveKit identity in this session.
    pub identity: String,
    /// The LiveKit token.
    pub token: MintedToken,
}

/// A LiveKit token for `teacher` to publish in session `id` (the owner
/// only: an admin watching uses an observer token instead), once `admit`
/// lets it through (the API's rate limit). The teacher's participant row
/// and its audit entry are written the first time.
pub async fn teacher_token<E: From<Error>>(
    deps: &Deps,
    teacher: &Account,
    id: Uuid,
    admit: impl FnOnce() -> Result<(), E>,
) -> Result<RoomToken, E> {
    let session = live_and_owned(deps, teacher, id).await?;
    admit()?;
    Ok(seat_teacher(deps, teacher, &session).await?)
}

/// Session `id`, if it is live and `teacher`'s own.
async fn live_and_owned(deps: &Deps, teacher: &Account, id: Uuid) -> Result<Session, Error> {
    let session = estrade_db::sessions::get(&deps.db, id)
        .await?
        .ok_or(Error::NotFound)?;
    if session.teacher_id != teacher.id {
        return Err(Error::NotFound);
    }
    if session.status != SessionStatus::Live {
        return Err(Error::NotLive);
    }
    Ok(session)
}

/// The teacher's participant row (and its audit entry) the first time, and
/// its token.
async fn seat_teacher(
    deps: &Deps,
    teacher: &Account,
    session: &Session,
) -> Result<RoomToken, Error> {
    let identity = format!("t-{}", session.id.simple());
    // Account names allow 128 characters, display names 64.
    let display: String = teacher
        .name
        .chars()
        .take(domain::DisplayName::MAX_CHARS)
        .collect();
    let mut tx = deps.db.begin().await?;
    let inserted =
        estrade_db::participants::insert_teacher(&mut tx, session.id, &identity, &display).await?;
    if let Some(teacher_row) = inserted {
        let entry = Entry::new(teacher.actor(), "participant.joined")
            .session(session.id)
            .target(teacher_row.id)
            .details(json!({ "kind": "teacher" }));
        audit::record(&mut tx, entry).await?;
    }
    tx.commit().await?;
    let token = deps
        .livekit
        .mint(Role::Teacher, &session.room_name, &identity, &display)?;
    Ok(RoomToken { identity, token })
}

/// How long an observer token is accepted for a new connection (capped by
/// the configured TTL): IT asks again for each visit, and each is audited.
pub const OBSERVER_TOKEN_TTL: Duration = Duration::from_secs(5 * 60);

/// A LiveKit token for `admin` to watch live session `id` unseen: it
/// subscribes, never publishes, and LiveKit hides it from the room (see
/// `estrade_livekit::grants`). Admins only, once `admit` lets it through.
/// The observer's participant row is written the first time, one audit
/// entry every time.
pub async fn observer_token<E: From<Error>>(
    deps: &Deps,
    admin: &Account,
    id: Uuid,
    admit: impl FnOnce() -> Result<(), E>,
) -> Result<RoomToken, E> {
    if admin.role != AccountRole::Admin {
        return Err(Error::Forbidden.into());
    }
    let session = estrade_db::sessions::get(&deps.db, id)
        .await
        .map_err(Error::from)?
        .ok_or(Error::NotFound)?;
    if session.status != SessionStatus::Live {
        return Err(Error::NotLive.into());
    }
    admit()?;
    Ok(seat_observer(deps, admin, &session).await?)
}

async fn seat_observer(
    deps: &Deps,
    admin: &Account,
    session: &Session,
) -> Result<RoomToken, Error> {
    // One seat per admin and session; the schema allows 64 characters
    // after the prefix, so 96 bits of the account id follow the session's.
    let account = admin.id.simple().to_string();
    let identity = format!("o-{}-{}", session.id.simple(), &account[..24]);
    let display: String = admin
        .name
        .chars()
        .take(domain::DisplayName::MAX_CHARS)
        .collect();
    let mut tx = deps.db.begin().await?;
    let observer =
        estrade_db::participants::seat_observer(&mut tx, session.id, &identity, &display).await?;
    let entry = Entry::new(admin.actor(), "observer.token")
        .session(session.id)
        .target(observer);
    audit::record(&mut tx, entry).await?;
    tx.commit().await?;
    let token = deps.livekit.mint_within(
        Role::Observer,
        &session.room_name,
        &identity,
        &display,
        OBSERVER_TOKEN_TTL,
    )?;
    Ok(RoomToken { identity, token })
}

/// Session `id`, locked for this transaction, if `by` may manage it.
pub async fn lock_managed(
    conn: &mut sqlx::PgConnection,
    by: &Account,
    id: Uuid,
) -> Result<Session, Error> {
    let session = estrade_db::sessions::lock(conn, id)
        .await?
        .ok_or(Error::NotFound)?;
    by.can_manage(session.teacher_id)?;
    Ok(session)
}
