//! Applying stored LiveKit events (the worker's queue consumer and its
//! inbox path both call this). An event's effect and marking its inbox row
//! processed commit in one transaction, so a crash before the commit
//! re-applies cleanly and a crash after it finds the row processed.
//!
//! Order: a presence event locks the session, then the participant, then
//! touches the floor, the same order as floor commands and the end of a
//! session, so they serialise instead of deadlocking. The decisions
//! themselves are pure functions in `estrade_core::webhook`.
//!
//! Retries live in Postgres, not in apalis: a failed attempt is recorded
//! on the row (attempts, last error, next attempt time) and the sweeper
//! applies it from the inbox when due; after `MAX_ATTEMPTS`, or at once for an event
//! that can never apply, it becomes a dead letter.

use chrono::{DateTime, Utc};
use estrade_core::domain::{Graces, InboxStatus, ParticipantKind, SessionStatus};
use estrade_core::floor::Command as FloorCommand;
use estrade_core::webhook::{
    self, Connection, Envelope, LiveKitEvent, MAX_ATTEMPTS, PresenceDecision, Seen, Track,
};
use estrade_db::audit::{self, Actor, Entry};
use estrade_db::tracks::TrackEvent;
use estrade_db::webhooks::Via;
use estrade_db::{floor, participants, sessions, tracks, webhooks};
use estrade_livekit::Gateway;

use crate::batch::{Batcher, Lanes};
use crate::queue::ApplyWebhook;
use crate::{Account, Deps, Error};
use futures::FutureExt as _;
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// What applying an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Applied (or understood and ignored) and marked processed.
    Applied,
    /// Already processed, a dead letter, unknown, or held by another worker.
    Skipped,
    /// Failed; recorded on the row (retry or dead letter).
    Failed,
}

/// Stores a verified event in the inbox (a redelivered id is a no-op) and,
/// when it is new, queues it for the worker. Returns whether it was new.
///
/// Group commit: the events that arrive together are stored by one
/// statement (one commit, one WAL flush) and queued by one Redis call;
/// each is answered after the commit.
pub async fn accept(deps: &Deps, envelope: Envelope) -> Result<bool, Error> {
    deps.inbox.run(envelope).await?
}

/// Whether each stored event was new, or why its batch failed.
pub(crate) type Stored = Result<bool, Error>;

/// Events stored in batches of at most this many.
const INBOX_BATCH_MAX: usize = 256;

/// Stores events in batches and queues the new ones: see [`accept`].
pub(crate) fn inbox(db: PgPool, queue: crate::WebhookQueue) -> Batcher<Envelope, Stored> {
    Batcher::new(INBOX_BATCH_MAX, 2, move |batch: Vec<Envelope>| {
        let (db, queue) = (db.clone(), queue.clone());
        async move {
            let n = batch.len();
            match webhooks::insert_all(&db, &batch).await {
                Ok(new) => {
                    let queued = batch
                        .into_iter()
                        .zip(&new)
                        .filter(|(_, new)| **new)
                        .map(|(e, _)| ApplyWebhook {
                            event_id: e.event_id,
                            room: e.room_name,
                        })
                        .collect();
                    queue.push_soon(queued);
                    new.into_iter().map(Ok).collect()
                }
                Err(error) => crate::batch_failed(n, error),
            }
        }
        .boxed()
    })
}

/// Applies queued events in batches, one lane per share of the rooms: the
/// events of a lane that wait together are applied in one transaction, in
/// the order they came ([`apply_in_order`]: one commit for all, and if one
/// of them fails each is applied on its own). Batches in different lanes
/// never name the same room, so never wait on each other's session locks.
/// Cheap to clone.
#[derive(Debug, Clone)]
pub struct Appliers {
    lanes: Lanes<String, ()>,
}

/// Lanes of queued events applied at once.
const APPLY_LANES: usize = 4;
/// Queued events applied in one transaction at most.
const APPLY_BATCH_MAX: usize = 64;

impl Appliers {
    /// Appliers of queued events for `deps`.
    pub fn new(deps: Deps) -> Self {
        let lanes = Lanes::new(APPLY_LANES, APPLY_BATCH_MAX, move |batch: Vec<String>| {
            let deps = deps.clone();
            async move {
                let n = batch.len();
                // Postgres unreachable: the events stay pending in the
                // inbox, where the sweeper finds them.
                if let Err(error) = apply_in_order(&deps, &batch, Via::Queue).await {
                    tracing::warn!(%error, events = n, "webhooks not applied; left pending");
                }
                vec![(); n]
            }
            .boxed()
        });
        Self { lanes }
    }

    /// Applies the queued event `event_id` (of `room`, if it names one)
    /// with the others of its lane waiting now; returns once their batch
    /// has committed, or failed and left them pending.
    pub async fn apply(&self, event_id: String, room: Option<&str>) {
        let key = room.unwrap_or_default().as_bytes();
        if self.lanes.run(key, event_id).await.is_err() {
            tracing::warn!("a batch of webhooks did not finish; left pending");
        }
    }
}

/// Makes a dead letter (or a pending event) pending again with a fresh
/// attempt count, audited, and queues it; [`Error::AlreadyProcessed`] for
/// an event already applied (it is not applied twice). Returns its status
/// before.
pub async fn replay(deps: &Deps, by: &Account, event_id: &str) -> Result<InboxStatus, Error> {
    let mut tx = deps.db.begin().await?;
    let previous = webhooks::replay(&mut *tx, event_id)
        .await?
        .ok_or(Error::NotFound)?;
    if previous == InboxStatus::Processed {
        return Err(Error::AlreadyProcessed);
    }
    let entry = Entry::new(by.actor(), "webhook.replayed")
        .details(json!({ "event_id": event_id, "previous_status": previous }));
    audit::record(&mut tx, entry).await?;
    tx.commit().await?;
    // If the push fails the sweeper queues it: it is pending in the inbox.
    if let Err(error) = deps.queue.push_again(event_id).await {
        tracing::warn!(%error, "replayed webhook not queued; the sweeper will");
    }
    Ok(previous)
}

/// Applies `event_id` if it is pending (`via` says which path brought it);
/// once committed, tells the API replicas the session has news and LiveKit
/// what the floor became.
pub async fn apply(deps: &Deps, event_id: &str, via: Via) -> Result<Outcome, sqlx::Error> {
    let (db, graces) = (&deps.db, deps.graces);
    let mut tx = db.begin().await?;
    let Some(row) = webhooks::lock(&mut tx, event_id).await? else {
        return Ok(Outcome::Skipped);
    };
    if row.status != InboxStatus::Pending {
        return Ok(Outcome::Skipped);
    }
    let mut applied = Applied::default();
    let failure = match LiveKitEvent::from_json(&row.payload) {
        Err(malformed) => Some((malformed.to_string(), true)),
        Ok(event) => match effect(&mut tx, graces, event, row.received_at).await {
            Ok(done) => {
                applied = done;
                None
            }
            Err(e) => Some((e.to_string(), false)),
        },
    };
    if let Some((error, permanent)) = failure {
        tx.rollback().await?;
        let dead = permanent || row.attempts + 1 >= MAX_ATTEMPTS;
        let retry_in = webhook::retry_delay(row.attempts + 1);
        let recorded =
            webhooks::record_failure(db, event_id, row.attempts, &error, dead, retry_in).await?;
        // Another attempt recorded (or applied) it meanwhile: that one counts.
        if recorded.is_none() {
            return Ok(Outcome::Failed);
        }
        if dead {
            metrics::counter!("webhooks_dead_letters_total").increment(1);
            tracing::error!(event.id = %event_id, %error, "webhook is a dead letter");
        } else {
            metrics::counter!("webhooks_apply_failures_total").increment(1);
            tracing::warn!(event.id = %event_id, %error, attempt = row.attempts + 1, "webhook failed; will retry");
        }
        return Ok(Outcome::Failed);
    }
    let latency = webhooks::mark_processed(&mut tx, event_id, via).await?;
    tx.commit().await?;
    after_commit(deps, vec![applied]).await;
    metrics::histogram!("webhook_apply_latency_seconds").record(latency);
    metrics::counter!("webhooks_applied_total").increment(1);
    Ok(Outcome::Applied)
}

/// Applies events of one room in the order given, in one transaction: one
/// commit (one WAL flush) for all, and each event sees the effects of those
/// before it. Events another worker holds or already applied are skipped.
/// If any event fails or can never apply, nothing of the batch is kept and
/// each event is applied on its own instead ([`apply`]: its failure is
/// recorded on its row, the others go through). Returns how many this call
/// applied.
pub async fn apply_in_order(
    deps: &Deps,
    event_ids: &[String],
    via: Via,
) -> Result<usize, sqlx::Error> {
    let graces = deps.graces;
    let mut tx = deps.db.begin().await?;
    let mut rows = webhooks::lock_pending(&mut tx, event_ids).await?;
    let position: std::collections::HashMap<&str, usize> = event_ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    rows.sort_by_key(|row| position.get(row.event_id.as_str()).copied());
    // A batch may span rooms (a lane carries several): their sessions are
    // locked first, in id order, as a join batch locks its sessions, so a
    // webhook batch and a join batch never wait on each other (taken in
    // the events' order, they deadlocked under 50 classes joining at once).
    let mut rooms: Vec<&str> = rows.iter().filter_map(|r| r.room_name.as_deref()).collect();
    rooms.sort_unstable();
    rooms.dedup();
    if rooms.len() > 1 {
        estrade_db::sessions::lock_rooms(&mut tx, &rooms).await?;
    }
    let mut done = Vec::with_capacity(rows.len());
    let mut after = Vec::with_capacity(rows.len());
    for row in rows {
        let effect = match LiveKitEvent::from_json(&row.payload) {
            Ok(event) => effect(&mut tx, graces, event, row.received_at).await.ok(),
            Err(_) => None,
        };
        let Some(applied) = effect else {
            tx.rollback().await?;
            return one_by_one(deps, event_ids, via).await;
        };
        done.push(row.event_id);
        after.push(applied);
    }
    let latencies = webhooks::mark_all_processed(&mut tx, &done, via).await?;
    tx.commit().await?;
    after_commit(deps, after).await;
    for latency in latencies {
        metrics::histogram!("webhook_apply_latency_seconds").record(latency);
    }
    metrics::counter!("webhooks_applied_total").increment(done.len() as u64);
    Ok(done.len())
}

/// What follows the commit of applied events, in their order: each session
/// with news is told once; LiveKit learns the floor decisions and loses
/// kicked participants that connected again.
async fn after_commit(deps: &Deps, applied: Vec<Applied>) {
    let mut told = std::collections::HashSet::new();
    for applied in applied {
        if let Some(session) = applied.session
            && told.insert(session)
        {
            deps.notifier.notify(session);
        }
        if let Some(e) = applied.enforcement {
            crate::floor::announce(deps, &e.session, &e.decision).await;
        }
        if let Some(e) = applied.eject {
            eject(&deps.livekit, e).await;
        }
        match applied.delay {
            Some(Delay::FirstTrack(ms)) => {
                metrics::histogram!("session_first_track_seconds")
                    .record(ms.max(0) as f64 / 1000.0);
            }
            Some(Delay::Connect(ms)) => {
                metrics::histogram!("participant_connect_seconds")
                    .record(ms.max(0) as f64 / 1000.0);
            }
            None => {}
        }
    }
}

/// Removes from its room a participant LiveKit must not have. If LiveKit
/// cannot be reached, reconciliation removes a kicked one (it is present in
/// LiveKit, kicked in PostgreSQL).
async fn eject(livekit: &Gateway, e: Eject) {
    let (counter, what) = match e.why {
        Ejected::Kicked => (
            "webhooks_kicked_reconnections_total",
            "a kicked participant that reconnected",
        ),
        Ejected::NoSeat => (
            "participants_arrived_without_seat_total",
            "a participant that came when no seat was left",
        ),
    };
    metrics::counter!(counter).increment(1);
    if let Err(error) = livekit
        .remove_participant(&e.room, &e.identity, std::time::SystemTime::now())
        .await
    {
        tracing::warn!(%error, "could not remove {what}");
    }
}

async fn one_by_one(deps: &Deps, event_ids: &[String], via: Via) -> Result<usize, sqlx::Error> {
    let mut applied = 0;
    for event_id in event_ids {
        if apply(deps, event_id, via).await? == Outcome::Applied {
            applied += 1;
        }
    }
    Ok(applied)
}

/// What remains to do once an event's effect is committed.
#[derive(Default)]
struct Applied {
    /// The session whose event log it may have grown.
    session: Option<Uuid>,
    /// A floor decision LiveKit must be told of.
    enforcement: Option<Enforcement>,
    /// A participant to remove from its room.
    eject: Option<Eject>,
    /// A start-up delay to record.
    delay: Option<Delay>,
}

/// A start-up delay, in milliseconds, recorded once its change is
/// committed (so an event applied again after a failed batch counts once).
enum Delay {
    /// The session's start to the teacher's first published track.
    FirstTrack(i64),
    /// A learner's or classroom's join to its first connection.
    Connect(i64),
}

/// A participant LiveKit has and must not.
struct Eject {
    room: String,
    identity: String,
    why: Ejected,
}

enum Ejected {
    /// Kicked, and connected again: LiveKit v1.13.5 ignores the
    /// `revoke_token_ts` of the kick, so an unexpired token still lets it in.
    Kicked,
    /// Holds no seat and none is free.
    NoSeat,
}

impl Applied {
    fn session(session: Uuid) -> Self {
        Self {
            session: Some(session),
            enforcement: None,
            eject: None,
            delay: None,
        }
    }
}

/// What LiveKit must still be told once a floor decision made while
/// applying an event is committed.
struct Enforcement {
    session: sessions::Session,
    decision: floor::Decision,
}

/// What `event`, received at `received_at`, changes.
async fn effect(
    conn: &mut PgConnection,
    graces: Graces,
    event: LiveKitEvent,
    received_at: DateTime<Utc>,
) -> Result<Applied, sqlx::Error> {
    match event {
        LiveKitEvent::RoomFinished { room, sid } => room_finished(conn, &room, sid).await,
        LiveKitEvent::Joined(c) => presence(conn, graces, true, &c, received_at).await,
        LiveKitEvent::Left(c) => presence(conn, graces, false, &c, received_at).await,
        LiveKitEvent::TrackPublished(t) => track(conn, true, &t, received_at).await,
        LiveKitEvent::TrackUnpublished(t) => track(conn, false, &t, received_at).await,
        // Our own start created the room; nothing to change.
        LiveKitEvent::RoomStarted { .. } | LiveKitEvent::Ignored => Ok(Applied::default()),
    }
}

async fn room_finished(
    conn: &mut PgConnection,
    room: &str,
    sid: Option<String>,
) -> Result<Applied, sqlx::Error> {
    // A room name belongs to one session, but a start may re-create a room
    // LiveKit closed: a late room_finished of an earlier instance (another
    // sid) leaves the session running in the new one.
    if let Some(session) = sessions::lock_by_room(conn, room).await?
        && session.status != SessionStatus::Ended
        && !matches!((&session.room_sid, &sid), (Some(ours), Some(theirs)) if ours != theirs)
    {
        sessions::end(conn, session.id, "room_finished", Actor::LiveKit).await?;
        return Ok(Applied::session(session.id));
    }
    Ok(Applied::default())
}

/// What the presence ordering rules need of a stored connection (shared
/// with reconciliation, which repairs presence through the same rules).
pub(crate) fn seen(current: &participants::ConnectionState) -> Seen<'_> {
    Seen {
        presence: current.presence,
        connection: current
            .livekit_sid
            .as_deref()
            .map(|sid| (current.joined_at_ms.unwrap_or(0), sid)),
        kicked: current.kicked,
    }
}

async fn presence(
    conn: &mut PgConnection,
    graces: Graces,
    joined: bool,
    event: &Connection,
    received_at: DateTime<Utc>,
) -> Result<Applied, sqlx::Error> {
    // Identities we did not issue (or already purged) concern us not.
    let Some(found) = participants::by_identity(&mut *conn, &event.identity).await? else {
        return Ok(Applied::default());
    };
    let Some(session) = sessions::lock(conn, found.session_id).await? else {
        return Ok(Applied::default());
    };
    let current = participants::lock_connection(conn, found.id).await?;
    let seen = seen(&current);
    let decision = match webhook::decide_presence(&seen, joined, event) {
        // Once a session has ended nobody becomes present in it.
        PresenceDecision::Join if session.status == SessionStatus::Ended => {
            PresenceDecision::Ignore("session_ended")
        }
        d => d,
    };
    match decision {
        PresenceDecision::Ignore(why) => {
            tracing::debug!(participant.id = %current.id, why, "presence event ignored");
            if joined && current.kicked {
                return Ok(Applied {
                    eject: Some(Eject {
                        room: session.room_name,
                        identity: event.identity.clone(),
                        why: Ejected::Kicked,
                    }),
                    ..Applied::session(session.id)
                });
            }
        }
        PresenceDecision::Join
            if current.kind.takes_the_floor()
                && !participants::has_or_finds_seat(
                    conn,
                    current.id,
                    session.max_learners,
                    graces,
                )
                .await? =>
        {
            // Came after its arrival grace, or back after its departure
            // grace, and the seats went to others meanwhile: the seat
            // limit holds, LiveKit lets it go.
            return Ok(Applied {
                eject: Some(Eject {
                    room: session.room_name,
                    identity: event.identity.clone(),
                    why: Ejected::NoSeat,
                }),
                ..Applied::session(session.id)
            });
        }
        PresenceDecision::Join => {
            participants::record_connection(conn, current.id, true, &event.sid, event.joined_at_ms)
                .await?;
            if current.kind.takes_the_floor()
                && let Some(ms) =
                    participants::mark_first_connection(conn, current.id, received_at).await?
            {
                return Ok(Applied {
                    delay: Some(Delay::Connect(ms)),
                    ..Applied::session(session.id)
                });
            }
        }
        PresenceDecision::Leave => {
            participants::record_connection(
                conn,
                current.id,
                false,
                &event.sid,
                event.joined_at_ms,
            )
            .await?;
            // A speaker who has left speaks no more: the turn ends now,
            // through the floor's state machine like any other floor
            // change (a new version, history, audit); in an open floor the
            // freed slot goes to the next in line, and LiveKit is told
            // after the commit. A raised hand waits for the departure
            // grace instead (`floor::timers::release_absent`): a learner
            // whose network dropped, or who reloaded, comes back to its
            // place in line.
            if !estrade_db::floor::is_speaking(conn, current.id).await? {
                return Ok(Applied::session(session.id));
            }
            let command = FloorCommand::Left(current.id);
            if let Ok(decision) =
                crate::floor::decide(conn, &session, &command, Actor::LiveKit, floor::Audit::Own)
                    .await?
                && decision.outcome.changed()
            {
                return Ok(Applied {
                    session: Some(session.id),
                    enforcement: Some(Enforcement { session, decision }),
                    ..Applied::default()
                });
            }
        }
    }
    Ok(Applied::session(session.id))
}

async fn track(
    conn: &mut PgConnection,
    published: bool,
    event: &Track,
    received_at: DateTime<Utc>,
) -> Result<Applied, sqlx::Error> {
    let Some(found) = participants::by_identity(&mut *conn, &event.connection.identity).await?
    else {
        return Ok(Applied::default());
    };
    // The session's lock first, as every floor writer takes it: whether
    // the participant holds the floor is then not changing under us.
    if sessions::lock(conn, found.session_id).await?.is_none() {
        return Ok(Applied::default());
    }
    let row = TrackEvent {
        track_sid: &event.sid,
        participant_id: found.id,
        source: event.source,
    };
    if !published {
        return tracks::unpublished(conn, row)
            .await
            .map(|()| Applied::default());
    }
    // A learner's or classroom's microphone needs the floor. Flag it for
    // reconciliation, which revokes it at the SFU.
    let needs_floor = found.kind.takes_the_floor() && event.source == "microphone";
    let unauthorized = needs_floor && !floor::is_speaking(conn, found.id).await?;
    let recorded = tracks::published(conn, row, unauthorized).await?;
    if recorded && unauthorized {
        metrics::counter!("webhooks_unauthorized_microphones_total").increment(1);
        let entry = Entry::new(Actor::LiveKit, "track.unauthorized")
            .session(found.session_id)
            .target(found.id)
            .details(json!({ "track_sid": event.sid, "source": event.source }));
        audit::record(conn, entry).await?;
    }
    // The teacher's first track of the session: the class is up.
    if found.kind == ParticipantKind::Teacher
        && let Some(ms) = sessions::mark_first_track(conn, found.session_id, received_at).await?
    {
        return Ok(Applied {
            delay: Some(Delay::FirstTrack(ms)),
            ..Applied::default()
        });
    }
    Ok(Applied::default())
}
