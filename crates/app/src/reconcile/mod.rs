//! Reconciliation: LiveKit and PostgreSQL converge, both ways.
//!
//! Webhooks get lost and LiveKit calls fail; a run compares the two and
//! repairs the difference. It reads PostgreSQL first (every live session,
//! its participants and its floor, in three statements), then lists LiveKit
//! (one `ListRooms`, one `ListParticipants` per room we own, 16 at a time:
//! O(rooms) calls), decides per session what to repair (`plan`, pure), and
//! repairs, each repair re-checked so it never undoes a decision made after
//! the read:
//!
//! - a session whose room vanished ends, under its lock, only if it is
//!   still live in the same room instance (`room_sid`);
//! - presence goes through the webhook's ordering rules
//!   (`estrade_core::webhook::decide_presence`), and a participant is only
//!   marked gone if its presence has not changed since the read;
//! - permissions, microphones and attributes go through the floor's
//!   enforcement, which reads the decision current at that moment and
//!   re-applies while the floor version moves.
//!
//! One run at a time across every process (a transaction-scoped advisory
//! lock); each run leaves a report in `reconcile_reports`, metrics, and an
//! audit entry per repair. If LiveKit cannot be listed, the run changes
//! nothing and reports the failure.

pub mod plan;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};
use estrade_core::domain::{Presence, SessionStatus};
use estrade_core::floor::Command;
use estrade_core::webhook::{self, Connection, PresenceDecision};
use estrade_db::audit::{self, Actor, Entry};
use estrade_db::floor::Audit;
use estrade_db::reconcile::Member;
use estrade_db::sessions::Session;
use estrade_livekit::proto::ParticipantInfo;
use futures::StreamExt as _;
use serde_json::json;
use uuid::Uuid;

use crate::Deps;
use plan::{Known, Repair};

/// Rooms listed at once.
const LISTING_CONCURRENCY: usize = 16;

/// Most sessions repaired at once (and at most half the pool, so the API
/// keeps connections while an admin's run repairs a lot).
const REPAIR_CONCURRENCY: usize = 8;

/// Our rooms' names start with this (`estrade-<session id>`).
const ROOM_PREFIX: &str = "estrade-";

/// Everything a run needs. Cheap to clone.
#[derive(Clone)]
pub struct Reconciler {
    /// PostgreSQL, LiveKit, and the notices to the API replicas.
    pub deps: Deps,
    /// Delete rooms no live session owns (else only report them).
    pub delete_orphan_rooms: bool,
}

pub use estrade_db::reconcile::Report;

/// Why a run did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Another run (in any process) is in progress.
    #[error("a reconciliation run is already in progress")]
    Busy,
    /// PostgreSQL failed (before anything was repaired, or while saving).
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// A run in progress: its counts.
#[derive(Default)]
struct Run {
    repairs: BTreeMap<String, u64>,
    errors: Vec<String>,
    calls: AtomicI32,
}

impl Run {
    fn count(&mut self, kind: &str) {
        *self.repairs.entry(kind.to_owned()).or_default() += 1;
        metrics::counter!("reconcile_repairs_total", "kind" => kind.to_owned()).increment(1);
    }

    fn merge(&mut self, part: Run) {
        for (kind, n) in part.repairs {
            *self.repairs.entry(kind).or_default() += n;
        }
        for error in part.errors {
            self.failed(error);
        }
        self.calls
            .fetch_add(part.calls.into_inner(), Ordering::Relaxed);
    }

    fn call(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }

    fn failed(&mut self, what: impl std::fmt::Display) {
        if self.errors.len() < 10 {
            self.errors.push(what.to_string());
        }
    }
}

impl Reconciler {
    fn repair_concurrency(&self) -> usize {
        (self.deps.db.options().get_max_connections() as usize / 2).clamp(1, REPAIR_CONCURRENCY)
    }

    /// A run an admin asked for: run, then audit the request with the run's
    /// outcome.
    pub async fn run_for(&self, admin: &crate::Account) -> Result<Report, RunError> {
        let report = self.run_once("admin").await?;
        let entry = Entry::new(admin.actor(), "reconcile.requested")
            .target(report.id)
            .details(json!({ "outcome": report.outcome }));
        let mut conn = self.deps.db.acquire().await?;
        audit::record(&mut conn, entry).await?;
        Ok(report)
    }

    /// Runs once, unless another run holds the lock.
    pub async fn run_once(&self, trigger: &str) -> Result<Report, RunError> {
        let mut lock = self.deps.db.begin().await?;
        let mine: bool =
            sqlx::query_scalar("select pg_try_advisory_xact_lock(hashtext('estrade.reconcile'))")
                .fetch_one(&mut *lock)
                .await?;
        if !mine {
            return Err(RunError::Busy);
        }
        let started_at = Utc::now();
        let clock = Instant::now();
        let mut run = Run::default();
        let (rooms, participants) = match self.compare_and_repair(&mut run).await {
            Ok(checked) => checked,
            Err(error) => {
                run.failed(&error);
                (0, 0)
            }
        };
        let finished_at = Utc::now();
        let outcome = if run.errors.is_empty() {
            "ok"
        } else {
            "failed"
        };
        let report = Report {
            id: Uuid::new_v4(),
            trigger: trigger.to_owned(),
            started_at,
            finished_at,
            outcome: outcome.to_owned(),
            error: (!run.errors.is_empty()).then(|| run.errors.join("; ")),
            repairs: json!(run.repairs),
            rooms_checked: rooms,
            participants_checked: participants,
            livekit_calls: run.calls.load(Ordering::Relaxed),
        };
        estrade_db::reconcile::save(&mut *lock, &report).await?;
        lock.commit().await?;
        metrics::histogram!("reconcile_run_seconds").record(clock.elapsed().as_secs_f64());
        metrics::counter!("reconcile_runs_total", "outcome" => outcome).increment(1);
        if outcome == "ok" {
            tracing::info!(repairs = %report.repairs, rooms = rooms, "reconciliation done");
        } else {
            tracing::warn!(
                error = report.error.as_deref().unwrap_or(""),
                "reconciliation failed"
            );
        }
        Ok(report)
    }

    /// Returns how many rooms and participants were looked at.
    async fn compare_and_repair(&self, run: &mut Run) -> Result<(i32, i32), String> {
        // PostgreSQL first: whatever it decides after this read, the
        // repairs below re-check before acting.
        let read_at = Utc::now();
        let db_error = |e: sqlx::Error| format!("reading PostgreSQL: {e}");
        let sessions = estrade_db::reconcile::live_sessions(&self.deps.db)
            .await
            .map_err(db_error)?;
        let members = estrade_db::reconcile::live_members(&self.deps.db)
            .await
            .map_err(db_error)?;
        let turns = estrade_db::reconcile::live_turns(&self.deps.db)
            .await
            .map_err(db_error)?;
        run.call();
        let rooms = self
            .deps
            .livekit
            .list_rooms(Vec::new())
            .await
            .map_err(|e| format!("listing LiveKit rooms: {e}"))?;
        let room_names: std::collections::HashSet<&str> =
            rooms.iter().map(|r| r.name.as_str()).collect();

        // Live sessions without a room.
        let mut with_room = Vec::new();
        for session in sessions {
            if room_names.contains(session.room_name.as_str()) {
                with_room.push(session);
            } else {
                match self.end_vanished(&session).await {
                    Ok(true) => run.count("room_vanished"),
                    Ok(false) => {}
                    Err(e) => run.failed(format!("ending a session whose room vanished: {e}")),
                }
            }
        }

        // Our rooms without a live session.
        let live_rooms: std::collections::HashSet<&str> =
            with_room.iter().map(|s| s.room_name.as_str()).collect();
        let strays: Vec<String> = rooms
            .iter()
            .filter(|r| r.name.starts_with(ROOM_PREFIX) && !live_rooms.contains(r.name.as_str()))
            .map(|r| r.name.clone())
            .collect();
        if !strays.is_empty() {
            self.strays(run, &strays).await?;
        }

        // Participants, per live room.
        let mut by_session: HashMap<Uuid, Vec<Member>> = HashMap::new();
        for m in members {
            by_session.entry(m.session_id).or_default().push(m);
        }
        let mut turns_by_session: HashMap<Uuid, Vec<estrade_db::floor::OpenTurn>> = HashMap::new();
        for (session_id, turn) in turns {
            turns_by_session.entry(session_id).or_default().push(turn);
        }
        let listings: Vec<(
            Session,
            Result<Vec<ParticipantInfo>, estrade_livekit::Error>,
        )> = futures::stream::iter(with_room)
            .map(|session| {
                run.call();
                async move {
                    let listed = self
                        .deps
                        .livekit
                        .list_participants(&session.room_name)
                        .await;
                    (session, listed)
                }
            })
            .buffer_unordered(LISTING_CONCURRENCY)
            .collect()
            .await;
        let rooms_checked = rooms.len() as i32;
        let mut participants_checked = 0;
        let mut to_repair = Vec::new();
        for (session, listed) in listings {
            let live = match listed {
                Ok(live) => live,
                // Gone meanwhile: the next run sees it as vanished.
                Err(estrade_livekit::Error::NotFound) => continue,
                Err(e) => {
                    run.failed(format!("listing a room's participants: {e}"));
                    continue;
                }
            };
            participants_checked += live.len() as i32;
            let members = by_session.remove(&session.id).unwrap_or_default();
            let turns = turns_by_session.remove(&session.id).unwrap_or_default();
            let floor = match estrade_db::floor::build(&session, turns) {
                Ok(floor) => floor,
                Err(e) => {
                    run.failed(e);
                    continue;
                }
            };
            let known: Vec<Known> = members
                .iter()
                .map(|m| Known {
                    id: m.id,
                    identity: m.identity.clone(),
                    kind: m.kind,
                    present: m.presence == Presence::Present,
                    kicked: m.kicked,
                    settled: m.joined_at.is_none_or(|t| t < read_at),
                })
                .collect();
            let repairs = plan::plan(&known, &floor, &live);
            if !repairs.is_empty() {
                to_repair.push((session, members, repairs));
            }
        }
        // Sessions are independent: repaired a few at a time, each with its
        // own counts, merged afterwards.
        let done: Vec<Run> = futures::stream::iter(to_repair)
            .map(|(session, members, repairs)| async move {
                let members: HashMap<Uuid, &Member> = members.iter().map(|m| (m.id, m)).collect();
                let mut part = Run::default();
                self.repair(&mut part, &session, &members, repairs).await;
                part
            })
            .buffer_unordered(self.repair_concurrency())
            .collect()
            .await;
        for part in done {
            run.merge(part);
        }
        Ok((rooms_checked, participants_checked))
    }

    /// Ends a session whose room LiveKit no longer has, if it is still live
    /// in the room instance that was read.
    async fn end_vanished(&self, read: &Session) -> Result<bool, sqlx::Error> {
        let mut tx = self.deps.db.begin().await?;
        let Some(session) = estrade_db::sessions::lock(&mut tx, read.id).await? else {
            return Ok(false);
        };
        if session.status != SessionStatus::Live || session.room_sid != read.room_sid {
            return Ok(false);
        }
        estrade_db::sessions::end(&mut tx, session.id, "room_vanished", Actor::System).await?;
        tx.commit().await?;
        self.deps.notifier.notify(session.id);
        tracing::warn!(session.id = %session.id, "session ended: its LiveKit room vanished");
        Ok(true)
    }

    /// Rooms named like ours that no live session owns: a room left behind
    /// by an ended session (or one we do not know) is deleted or reported;
    /// a scheduled session's room (its start is under way) is left alone.
    async fn strays(&self, run: &mut Run, rooms: &[String]) -> Result<(), String> {
        let owners: HashMap<String, SessionStatus> =
            estrade_db::reconcile::room_owners(&self.deps.db, rooms)
                .await
                .map_err(|e| format!("reading room owners: {e}"))?
                .into_iter()
                .collect();
        for room in rooms {
            match owners.get(room) {
                Some(SessionStatus::Live) => {} // went live since the read
                Some(SessionStatus::Scheduled) => run.count("room_unstarted_reported"),
                _ if !self.delete_orphan_rooms => run.count("orphan_room_reported"),
                _ => {
                    run.call();
                    match self.deps.livekit.delete_room(room).await {
                        Ok(()) | Err(estrade_livekit::Error::NotFound) => {
                            run.count("orphan_room_deleted");
                            let entry = Entry::new(Actor::System, "reconcile.room_deleted")
                                .details(json!({ "room": room }));
                            if let Err(e) = self.audit(entry).await {
                                run.failed(e);
                            }
                        }
                        Err(e) => run.failed(format!("deleting an orphan room: {e}")),
                    }
                }
            }
        }
        Ok(())
    }

    async fn audit(&self, entry: Entry<'_>) -> Result<(), sqlx::Error> {
        self.audit_all(vec![entry]).await
    }

    /// Records audit entries in one transaction (one commit for a
    /// session's LiveKit repairs).
    async fn audit_all(&self, entries: Vec<Entry<'_>>) -> Result<(), sqlx::Error> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut tx = self.deps.db.begin().await?;
        for entry in entries {
            audit::record(&mut tx, entry).await?;
        }
        tx.commit().await
    }

    /// Applies one session's repairs.
    async fn repair(
        &self,
        run: &mut Run,
        session: &Session,
        members: &HashMap<Uuid, &Member>,
        repairs: Vec<Repair>,
    ) {
        let mut floor_targets = Vec::new();
        let mut mirrored = Vec::new();
        let mut audits = Vec::new();
        for repair in repairs {
            let kind = repair.kind();
            let result: Result<bool, String> = match &repair {
                Repair::MarkPresent {
                    participant,
                    sid,
                    joined_at_ms,
                } => {
                    let identity = members
                        .get(participant)
                        .map(|m| m.identity.clone())
                        .unwrap_or_default();
                    let connection = Connection {
                        room: session.room_name.clone(),
                        identity,
                        sid: sid.clone(),
                        joined_at_ms: *joined_at_ms,
                    };
                    self.mark_present(session, *participant, &connection)
                        .await
                        .map_err(|e| e.to_string())
                }
                Repair::MarkLeft { participant } => {
                    let read = members.get(participant).and_then(|m| m.joined_at);
                    self.mark_left(run, session, *participant, read)
                        .await
                        .map_err(|e| e.to_string())
                }
                Repair::RemoveKicked { identity } => {
                    run.call();
                    let until = SystemTime::now() + Duration::from_secs(1);
                    match self
                        .deps
                        .livekit
                        .remove_participant(&session.room_name, identity, until)
                        .await
                    {
                        Ok(()) | Err(estrade_livekit::Error::NotFound) => Ok(true),
                        Err(e) => Err(e.to_string()),
                    }
                }
                Repair::Unknown { .. } => Ok(true),
                Repair::Permission {
                    participant,
                    identity,
                }
                | Repair::Microphone {
                    participant,
                    identity,
                } => match members.get(participant).map(|m| m.kind) {
                    Some(kind) if kind.takes_the_floor() => {
                        floor_targets.push((*participant, identity.clone()));
                        Ok(true)
                    }
                    Some(kind) => {
                        run.call();
                        let permission = plan::expected_permission(kind, false);
                        self.deps
                            .livekit
                            .set_permission(&session.room_name, identity, permission)
                            .await
                            .map(|_| true)
                            .map_err(|e| e.to_string())
                    }
                    None => Ok(false),
                },
                Repair::Attributes {
                    participant,
                    identity,
                } => {
                    mirrored.push((*participant, identity.clone()));
                    Ok(true)
                }
            };
            match result {
                Ok(true) => {
                    run.count(kind);
                    let target = match &repair {
                        Repair::MarkPresent { participant, .. }
                        | Repair::MarkLeft { participant }
                        | Repair::Permission { participant, .. }
                        | Repair::Microphone { participant, .. }
                        | Repair::Attributes { participant, .. } => Some(*participant),
                        Repair::RemoveKicked { .. } | Repair::Unknown { .. } => None,
                    };
                    let details = match &repair {
                        Repair::RemoveKicked { identity } | Repair::Unknown { identity } => {
                            json!({ "identity": identity })
                        }
                        _ => json!({}),
                    };
                    // Presence repairs wrote theirs in their transaction.
                    if !matches!(repair, Repair::MarkPresent { .. } | Repair::MarkLeft { .. }) {
                        audits.push(
                            Entry::new(Actor::System, audit_action(kind))
                                .session(session.id)
                                .target(target)
                                .details(details),
                        );
                    }
                }
                Ok(false) => {}
                Err(e) => run.failed(format!("{kind}: {e}")),
            }
        }
        if !floor_targets.is_empty() || !mirrored.is_empty() {
            // One call per participant to bring in line, and one more per
            // microphone muted.
            for _ in 0..(floor_targets.len() + mirrored.len()) {
                run.call();
            }
            if let Err(e) = crate::enforce::bring_in_line(
                &self.deps.db,
                &self.deps.livekit,
                session.id,
                &session.room_name,
                &floor_targets,
                &mirrored,
            )
            .await
            {
                run.failed(format!("bringing LiveKit in line with the floor: {e}"));
            }
        }
        if let Err(e) = self.audit_all(audits).await {
            run.failed(e);
        }
    }

    /// Locks a session still live and one of its participants' connection,
    /// in a new transaction (the order every writer takes).
    async fn lock_live(
        &self,
        session: &Session,
        participant: Uuid,
    ) -> Result<
        Option<(
            sqlx::Transaction<'static, sqlx::Postgres>,
            Session,
            estrade_db::participants::ConnectionState,
        )>,
        sqlx::Error,
    > {
        let mut tx = self.deps.db.begin().await?;
        let Some(locked) = estrade_db::sessions::lock(&mut tx, session.id).await? else {
            return Ok(None);
        };
        if locked.status != SessionStatus::Live {
            return Ok(None);
        }
        let current = estrade_db::participants::lock_connection(&mut tx, participant).await?;
        Ok(Some((tx, locked, current)))
    }

    /// Marks a participant present LiveKit has in the room, through the
    /// webhook's ordering rules (a connection older than the one recorded
    /// changes nothing).
    async fn mark_present(
        &self,
        session: &Session,
        participant: Uuid,
        connection: &Connection,
    ) -> Result<bool, sqlx::Error> {
        let Some((mut tx, _, current)) = self.lock_live(session, participant).await? else {
            return Ok(false);
        };
        let seen = crate::webhooks::seen(&current);
        if webhook::decide_presence(&seen, true, connection) != PresenceDecision::Join {
            return Ok(false);
        }
        estrade_db::participants::record_connection(
            &mut tx,
            participant,
            true,
            &connection.sid,
            connection.joined_at_ms,
        )
        .await?;
        audit::record(
            &mut tx,
            repair_entry("marked_present", session.id, participant),
        )
        .await?;
        tx.commit().await?;
        self.deps.notifier.notify(session.id);
        Ok(true)
    }

    /// Marks gone a participant LiveKit no longer has, if its presence has
    /// not changed since the read; releases its hand or floor.
    async fn mark_left(
        &self,
        run: &mut Run,
        session: &Session,
        participant: Uuid,
        read_joined_at: Option<DateTime<Utc>>,
    ) -> Result<bool, sqlx::Error> {
        let Some((mut tx, locked, current)) = self.lock_live(session, participant).await? else {
            return Ok(false);
        };
        if current.presence != Presence::Present || current.joined_at != read_joined_at {
            return Ok(false);
        }
        estrade_db::participants::record_connection(
            &mut tx,
            participant,
            false,
            current.livekit_sid.as_deref().unwrap_or(""),
            current.joined_at_ms.unwrap_or(0),
        )
        .await?;
        let command = Command::Left(participant);
        let decision =
            crate::floor::decide(&mut tx, &locked, &command, Actor::System, Audit::Caller).await?;
        let mut entry = repair_entry("marked_left", session.id, participant);
        if let Ok(decision) = &decision
            && decision.outcome.changed()
        {
            entry = entry.details(json!({ "floor": decision.audit_details() }));
        }
        audit::record(&mut tx, entry).await?;
        tx.commit().await?;
        match decision {
            Ok(decision) if decision.outcome.changed() => {
                run.call();
                crate::floor::announce(&self.deps, &locked, &decision).await;
            }
            _ => self.deps.notifier.notify(session.id),
        }
        Ok(true)
    }
}

/// The audit entry of a presence repair.
fn repair_entry(kind: &str, session_id: Uuid, participant: Uuid) -> Entry<'static> {
    Entry::new(Actor::System, audit_action(kind))
        .session(session_id)
        .target(participant)
}

fn audit_action(kind: &str) -> &'static str {
    match kind {
        "marked_present" => "reconcile.marked_present",
        "marked_left" => "reconcile.marked_left",
        "kicked_removed" => "reconcile.kicked_removed",
        "unknown_participant" => "reconcile.unknown_participant",
        "permission_drift" => "reconcile.permission_repaired",
        "microphone_revoked" => "reconcile.microphone_revoked",
        _ => "reconcile.attributes_repaired",
    }
}
