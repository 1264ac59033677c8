//! Running floor commands: decide in PostgreSQL, then enforce in LiveKit.
//!
//! One transaction per command: lock the session row (every replica
//! serialises on it), load the open turns, ask the pure state machine
//! (`estrade_core::floor`), write the turn changes, settings, version and
//! audit entry, commit. Only then is LiveKit told (grant = microphone
//! permission, revoke = no publishing and the microphone muted), and the
//! floor mirrored into participant attributes. A failed LiveKit call does
//! not undo the decision: it is retried in the background, and the
//! reconciliation job repairs whatever is still wrong.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use estrade_core::domain::{FloorMode, SessionStatus};
use estrade_core::floor::{Command, Effect, Floor, Refusal};
use estrade_db::audit::Actor;
use estrade_db::sessions::Session;
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::error::Error;

/// Someone speaking, as clients see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SpeakerView {
    /// The participant.
    pub participant_id: Uuid,
    /// Display name.
    pub name: String,
    /// Since when.
    pub since: DateTime<Utc>,
    /// When the floor expires by itself, under a time limit.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A raised hand, as clients see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HandView {
    /// The participant.
    pub participant_id: Uuid,
    /// Display name.
    pub name: String,
    /// Server time the hand went up.
    pub raised_at: DateTime<Utc>,
    /// 1 = next in line.
    pub position: usize,
}

/// The floor of a session.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FloorView {
    /// `moderated`, `open` or `closed`.
    pub mode: FloorMode,
    /// Most simultaneous speakers.
    pub max_speakers: usize,
    /// Seconds a grant lasts, if limited.
    pub speaking_time_limit_s: Option<i32>,
    /// Who speaks, oldest grant first.
    pub speakers: Vec<SpeakerView>,
    /// Who waits, in order.
    pub queue: Vec<HandView>,
    /// Increases with every change: a client keeps the highest it saw.
    pub version: i64,
    /// For a participant caller: its place in the queue (null when not
    /// waiting).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<Option<usize>>,
}

/// Loads a session's floor (the caller holds the session's lock for a
/// consistent read).
pub async fn load(conn: &mut PgConnection, session: &Session) -> Result<Floor, Error> {
    Ok(estrade_db::floor::load(conn, session).await?)
}

/// The view of `floor`, with names.
pub async fn view(
    conn: &mut PgConnection,
    session: &Session,
    floor: &Floor,
    version: i64,
) -> Result<FloorView, Error> {
    let ids: Vec<Uuid> = floor.participants().collect();
    let names: HashMap<Uuid, String> = estrade_db::participants::names(conn, session.id, &ids)
        .await?
        .into_iter()
        .collect();
    let name = |id: &Uuid| names.get(id).cloned().unwrap_or_default();
    Ok(FloorView {
        mode: floor.mode,
        max_speakers: floor.max_speakers,
        speaking_time_limit_s: floor
            .time_limit
            .and_then(|d| i32::try_from(d.as_secs()).ok()),
        speakers: floor
            .speakers
            .iter()
            .map(|s| SpeakerView {
                participant_id: s.participant,
                name: name(&s.participant),
                since: s.since,
                expires_at: s.expires_at,
            })
            .collect(),
        queue: floor
            .queue
            .iter()
            .enumerate()
            .map(|(i, h)| HandView {
                participant_id: h.participant,
                name: name(&h.participant),
                raised_at: h.raised_at,
                position: i + 1,
            })
            .collect(),
        version,
        position: None,
    })
}

fn refused(refusal: Refusal) -> Error {
    let code = match refusal {
        Refusal::Closed => "floor_closed",
        Refusal::AlreadyQueued => "hand_already_raised",
        Refusal::AlreadySpeaking => "already_speaking",
        Refusal::QueueEmpty => "queue_empty",
        Refusal::Full => "floor_full",
        Refusal::InvalidMaxSpeakers => {
            return Error::invalid("invalid_floor", refusal.to_string());
        }
    };
    Error::conflict(code, refusal.to_string())
}

/// A decided command, committed, with what LiveKit must be told.
#[derive(Debug)]
pub struct Decided {
    /// The floor after it.
    pub view: FloorView,
    /// The session (for its room).
    pub session: Session,
    /// LiveKit changes, with identities.
    pub effects: Vec<(Effect, String)>,
    /// Participants whose mirrored attributes changed, with identities.
    pub mirrored: Vec<(Uuid, String)>,
    /// Whether anything changed.
    pub changed: bool,
}

/// Runs `command` on the floor of `session`, which the caller locked in
/// `tx`; commits `tx`.
pub async fn decide(
    mut tx: sqlx::Transaction<'static, sqlx::Postgres>,
    session: Session,
    command: Command,
    actor: Actor,
) -> Result<Decided, Error> {
    let status: SessionStatus = crate::routes::sessions::status_of(&session)?;
    if status != SessionStatus::Live {
        return Err(Error::conflict(
            "session_not_live",
            "The floor is only open while the session is live.",
        ));
    }
    let decision = estrade_db::floor::run(&mut tx, &session, &command, actor, Utc::now())
        .await?
        .map_err(refused)?;
    let view = view(&mut tx, &session, &decision.outcome.floor, decision.version).await?;
    tx.commit().await?;
    Ok(Decided {
        view,
        session,
        changed: decision.outcome.changed(),
        effects: decision.targets,
        mirrored: decision.mirrored,
    })
}

/// Tells LiveKit what was decided (see `estrade_worker::enforce`).
pub async fn enforce(
    state: &AppState,
    session_id: Uuid,
    room: &str,
    targets: &[(Effect, String)],
    mirrored: &[(Uuid, String)],
) {
    estrade_worker::enforce::enforce(
        &state.db,
        &state.livekit,
        session_id,
        room,
        targets,
        mirrored,
    )
    .await;
}
