//! Voice floor control as a pure state machine: a floor (mode, limits,
//! speakers, queue) and a command give a new floor, the turn changes to
//! record, and the LiveKit permission changes to make, or a typed refusal.
//! No I/O and no clock: times come in with the commands. The database
//! layer loads a floor under the session's row lock, calls [`apply`], and
//! writes what it returns; the API then tells LiveKit.
//!
//! See docs/FLOOR.md for the table of states × commands.

use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::{FloorMode, limits};

/// Someone holding the floor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Speaker {
    /// The participant.
    pub participant: Uuid,
    /// When the floor was given.
    pub since: DateTime<Utc>,
    /// When it expires by itself, under a speaking-time limit.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A place in line: a raised hand, or a typed question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hand {
    /// The participant.
    pub participant: Uuid,
    /// Server time the hand went up (or the question was asked).
    pub raised_at: DateTime<Utc>,
    /// The typed question this place is for, if any (`questions.id`). A
    /// question waits for the teacher even on an open floor.
    pub question: Option<Uuid>,
}

/// A session's floor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Floor {
    /// `moderated`, `open` or `closed`.
    pub mode: FloorMode,
    /// Most simultaneous speakers (1–16).
    pub max_speakers: usize,
    /// How long a grant lasts, if limited.
    pub time_limit: Option<Duration>,
    /// Who speaks, oldest grant first.
    pub speakers: Vec<Speaker>,
    /// Who waits, by raise time.
    pub queue: Vec<Hand>,
}

/// Why a turn ended (stored as `floor_turns.end_reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// The learner lowered the hand.
    Lowered,
    /// The speaker gave the floor back.
    Released,
    /// The teacher revoked it.
    Revoked,
    /// The speaking-time limit ran out.
    Expired,
    /// The participant left LiveKit.
    Left,
    /// The participant was kicked.
    Kicked,
    /// The session ended.
    SessionEnded,
    /// The floor was closed.
    ModeClosed,
    /// `max_speakers` went below the number of speakers.
    LimitLowered,
    /// The teacher answered the typed question aloud.
    Answered,
    /// The teacher dismissed the typed question.
    Dismissed,
}

impl EndReason {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lowered => "lowered",
            Self::Released => "released",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
            Self::Left => "left",
            Self::Kicked => "kicked",
            Self::SessionEnded => "session_ended",
            Self::ModeClosed => "mode_closed",
            Self::LimitLowered => "limit_lowered",
            Self::Answered => "answered",
            Self::Dismissed => "dismissed",
        }
    }
}

/// A command on the floor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// A learner raises a hand.
    Raise(Uuid),
    /// A learner asks a typed question (already stored as `question`): it
    /// takes a place in line, or the place of the learner's raised hand.
    Ask {
        /// Who asks.
        participant: Uuid,
        /// The stored question.
        question: Uuid,
    },
    /// The teacher answers a waiting question: aloud (its place ends), or
    /// by giving its author the floor (`floor`).
    Answer {
        /// The question.
        question: Uuid,
        /// Whether its author gets the floor.
        floor: bool,
    },
    /// The teacher dismisses a waiting question.
    Dismiss(Uuid),
    /// A learner lowers the hand, or gives the floor back.
    Lower(Uuid),
    /// The teacher gives the floor to the first in line.
    GrantNext,
    /// The teacher gives the floor to this participant (queued or not).
    Grant(Uuid),
    /// The teacher takes the floor (or the hand) from this participant.
    Revoke(Uuid),
    /// The teacher takes the floor from every speaker.
    RevokeAll,
    /// The teacher changes the settings.
    Configure {
        /// New mode.
        mode: FloorMode,
        /// New limit on speakers.
        max_speakers: usize,
        /// New speaking-time limit (for grants from now on).
        time_limit: Option<Duration>,
    },
    /// The participant left LiveKit.
    Left(Uuid),
    /// The participant was kicked.
    Kicked(Uuid),
    /// The session ended.
    SessionEnded,
    /// A speaking-time limit may have run out (a timer fired).
    Expire(Uuid),
}

/// A change to one participant's turn, to be recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TurnChange {
    /// A hand went up, or a question took a place in line.
    Queued {
        /// Who.
        participant: Uuid,
        /// When.
        raised_at: DateTime<Utc>,
        /// The question, if it is one.
        question: Option<Uuid>,
    },
    /// A question was attached to the participant's raised hand, which
    /// keeps its place.
    Asked {
        /// Who.
        participant: Uuid,
        /// The question.
        question: Uuid,
    },
    /// The floor was given (from the queue or directly).
    Speaking {
        /// Who.
        participant: Uuid,
        /// When.
        since: DateTime<Utc>,
        /// When it expires.
        expires_at: Option<DateTime<Utc>>,
    },
    /// The hand or the turn ended.
    Done {
        /// Who.
        participant: Uuid,
        /// Why.
        reason: EndReason,
    },
}

/// A LiveKit permission change to make after the decision is committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// `canPublish=true, canPublishSources=[MICROPHONE]`.
    Grant(Uuid),
    /// `canPublish=false`, then mute the microphone.
    Revoke(Uuid),
}

impl Effect {
    /// The participant it concerns.
    pub fn participant(self) -> Uuid {
        match self {
            Self::Grant(p) | Self::Revoke(p) => p,
        }
    }
}

/// The result of a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The floor after it.
    pub floor: Floor,
    /// Turn changes, in order.
    pub changes: Vec<TurnChange>,
    /// LiveKit changes, in order.
    pub effects: Vec<Effect>,
    /// Whether the mode or a limit changed.
    pub settings_changed: bool,
}

impl Outcome {
    /// Whether the command changed anything.
    pub fn changed(&self) -> bool {
        !self.changes.is_empty() || self.settings_changed
    }
}

/// Why a command is refused. Each maps to one API error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The floor is closed: no hands, no grants.
    #[error("The floor is closed.")]
    Closed,
    /// The hand is already up.
    #[error("Your hand is already raised.")]
    AlreadyQueued,
    /// The participant already speaks.
    #[error("This participant already has the floor.")]
    AlreadySpeaking,
    /// Nobody waits.
    #[error("Nobody is waiting for the floor.")]
    QueueEmpty,
    /// Every speaking slot is taken.
    #[error("Every speaking slot is taken; revoke someone first.")]
    Full,
    /// `max_speakers` out of range.
    #[error("max_speakers must be between 1 and 16.")]
    InvalidMaxSpeakers,
    /// The participant's question is still waiting.
    #[error("Your question is still waiting; withdraw it before asking another.")]
    QuestionWaiting,
    /// The question is no longer waiting (answered, dismissed, withdrawn).
    #[error("This question is no longer waiting for an answer.")]
    QuestionNotWaiting,
}

impl Floor {
    /// A floor with these settings and nobody on it.
    pub fn new(mode: FloorMode, max_speakers: usize, time_limit: Option<Duration>) -> Self {
        Self {
            mode,
            max_speakers,
            time_limit,
            speakers: Vec::new(),
            queue: Vec::new(),
        }
    }

    /// Whether `participant` speaks.
    pub fn is_speaking(&self, participant: Uuid) -> bool {
        self.speakers.iter().any(|s| s.participant == participant)
    }

    /// 1-based position of `participant` in the queue.
    pub fn position(&self, participant: Uuid) -> Option<usize> {
        self.queue
            .iter()
            .position(|h| h.participant == participant)
            .map(|i| i + 1)
    }

    /// Everyone on the floor: speakers, then the queue.
    pub fn participants(&self) -> impl Iterator<Item = Uuid> + '_ {
        self.speakers
            .iter()
            .map(|s| s.participant)
            .chain(self.queue.iter().map(|h| h.participant))
    }

    /// The place in line of `question`, with its author.
    pub fn question(&self, question: Uuid) -> Option<&Hand> {
        self.queue.iter().find(|h| h.question == Some(question))
    }

    fn free_slots(&self) -> usize {
        self.max_speakers.saturating_sub(self.speakers.len())
    }
}

/// The floor as mirrored into a participant's LiveKit attributes, so any
/// LiveKit client sees hands and speakers natively: `estrade.hand`
/// (`raised`/`none`), `estrade.floor` (`speaking`/`none`) and
/// `estrade.queue_position` (1-based; empty, which deletes it in LiveKit,
/// when not waiting).
pub fn attributes(floor: &Floor, participant: Uuid) -> [(&'static str, String); 3] {
    let position = floor.position(participant);
    [
        (
            "estrade.hand",
            if position.is_some() { "raised" } else { "none" }.to_owned(),
        ),
        (
            "estrade.floor",
            if floor.is_speaking(participant) {
                "speaking"
            } else {
                "none"
            }
            .to_owned(),
        ),
        (
            "estrade.queue_position",
            position.map(|p| p.to_string()).unwrap_or_default(),
        ),
    ]
}

/// Everyone whose mirrored attributes differ between two floors.
pub fn attribute_changes(before: &Floor, after: &Floor) -> Vec<Uuid> {
    let mut everyone: Vec<Uuid> = before.participants().chain(after.participants()).collect();
    everyone.sort();
    everyone.dedup();
    everyone.retain(|p| attributes(before, *p) != attributes(after, *p));
    everyone
}

struct Step {
    floor: Floor,
    changes: Vec<TurnChange>,
    effects: Vec<Effect>,
    now: DateTime<Utc>,
}

impl Step {
    fn grant(&mut self, participant: Uuid) {
        let expires_at = self
            .floor
            .time_limit
            .and_then(|d| chrono::Duration::from_std(d).ok())
            .map(|d| self.now + d);
        self.floor.speakers.push(Speaker {
            participant,
            since: self.now,
            expires_at,
        });
        self.changes.push(TurnChange::Speaking {
            participant,
            since: self.now,
            expires_at,
        });
        self.effects.push(Effect::Grant(participant));
    }

    /// Ends `participant`'s turn or hand, if any. `revoke` says whether
    /// LiveKit must be told (not for someone who left or was removed).
    fn end(&mut self, participant: Uuid, reason: EndReason, revoke: bool) -> bool {
        if let Some(i) = self
            .floor
            .speakers
            .iter()
            .position(|s| s.participant == participant)
        {
            self.floor.speakers.remove(i);
            self.changes.push(TurnChange::Done {
                participant,
                reason,
            });
            if revoke {
                self.effects.push(Effect::Revoke(participant));
            }
            return true;
        }
        if let Some(i) = self
            .floor
            .queue
            .iter()
            .position(|h| h.participant == participant)
        {
            self.floor.queue.remove(i);
            self.changes.push(TurnChange::Done {
                participant,
                reason,
            });
            return true;
        }
        false
    }

    /// In open mode, a free slot goes at once to the first raised hand in
    /// line (questions wait for the teacher's answer).
    fn fill_open_slots(&mut self) {
        while self.floor.mode == FloorMode::Open && self.floor.free_slots() > 0 {
            let Some(i) = self.floor.queue.iter().position(|h| h.question.is_none()) else {
                return;
            };
            let next = self.floor.queue.remove(i);
            self.grant(next.participant);
        }
    }
}

/// Applies `command` at time `now`.
pub fn apply(floor: &Floor, command: &Command, now: DateTime<Utc>) -> Result<Outcome, Refusal> {
    let mut step = Step {
        floor: floor.clone(),
        changes: Vec::new(),
        effects: Vec::new(),
        now,
    };
    let closed = floor.mode == FloorMode::Closed;
    match *command {
        Command::Raise(p) => {
            if closed {
                return Err(Refusal::Closed);
            }
            if floor.is_speaking(p) {
                return Err(Refusal::AlreadySpeaking);
            }
            if floor.position(p).is_some() {
                return Err(Refusal::AlreadyQueued);
            }
            step.floor.queue.push(Hand {
                participant: p,
                raised_at: now,
                question: None,
            });
            step.changes.push(TurnChange::Queued {
                participant: p,
                raised_at: now,
                question: None,
            });
        }
        Command::Ask {
            participant: p,
            question,
        } => {
            if closed {
                return Err(Refusal::Closed);
            }
            if floor.is_speaking(p) {
                return Err(Refusal::AlreadySpeaking);
            }
            match step.floor.queue.iter_mut().find(|h| h.participant == p) {
                Some(hand) if hand.question.is_some() => return Err(Refusal::QuestionWaiting),
                Some(hand) => {
                    hand.question = Some(question);
                    step.changes.push(TurnChange::Asked {
                        participant: p,
                        question,
                    });
                }
                None => {
                    step.floor.queue.push(Hand {
                        participant: p,
                        raised_at: now,
                        question: Some(question),
                    });
                    step.changes.push(TurnChange::Queued {
                        participant: p,
                        raised_at: now,
                        question: Some(question),
                    });
                }
            }
        }
        Command::Answer {
            question,
            floor: speak,
        } => {
            let p = floor
                .question(question)
                .ok_or(Refusal::QuestionNotWaiting)?
                .participant;
            if speak {
                if floor.free_slots() == 0 {
                    return Err(Refusal::Full);
                }
                step.floor.queue.retain(|h| h.participant != p);
                step.grant(p);
            } else {
                step.end(p, EndReason::Answered, false);
            }
        }
        Command::Dismiss(question) => {
            let p = floor
                .question(question)
                .ok_or(Refusal::QuestionNotWaiting)?
                .participant;
            step.end(p, EndReason::Dismissed, false);
        }
        Command::Lower(p) => {
            // Idempotent: lowering without a hand changes nothing.
            if floor.is_speaking(p) {
                step.end(p, EndReason::Released, true);
            } else {
                step.end(p, EndReason::Lowered, false);
            }
        }
        Command::GrantNext => {
            if closed {
                return Err(Refusal::Closed);
            }
            if floor.queue.is_empty() {
                return Err(Refusal::QueueEmpty);
            }
            if floor.free_slots() == 0 {
                return Err(Refusal::Full);
            }
            let next = step.floor.queue.remove(0);
            step.grant(next.participant);
        }
        Command::Grant(p) => {
            if closed {
                return Err(Refusal::Closed);
            }
            if floor.is_speaking(p) {
                return Err(Refusal::AlreadySpeaking);
            }
            if floor.free_slots() == 0 {
                return Err(Refusal::Full);
            }
            step.floor.queue.retain(|h| h.participant != p);
            step.grant(p);
        }
        Command::Revoke(p) => {
            // Idempotent: revoking someone without floor or hand changes
            // nothing.
            step.end(p, EndReason::Revoked, true);
        }
        Command::RevokeAll => {
            let speakers: Vec<Uuid> = floor.speakers.iter().map(|s| s.participant).collect();
            for p in speakers {
                step.end(p, EndReason::Revoked, true);
            }
        }
        Command::Configure {
            mode,
            max_speakers,
            time_limit,
        } => {
            let max = usize::try_from(limits::MAX_SPEAKERS).unwrap_or(16);
            if !(1..=max).contains(&max_speakers) {
                return Err(Refusal::InvalidMaxSpeakers);
            }
            step.floor.mode = mode;
            step.floor.max_speakers = max_speakers;
            step.floor.time_limit = time_limit;
            if mode == FloorMode::Closed {
                let everyone: Vec<Uuid> = floor.participants().collect();
                for p in everyone {
                    step.end(p, EndReason::ModeClosed, true);
                }
            }
            // Most recent grants go first.
            while step.floor.speakers.len() > max_speakers {
                let newest = step
                    .floor
                    .speakers
                    .iter()
                    .max_by_key(|s| s.since)
                    .map(|s| s.participant)
                    .expect("more speakers than the limit, so at least one");
                step.end(newest, EndReason::LimitLowered, true);
            }
        }
        Command::Left(p) => {
            step.end(p, EndReason::Left, false);
        }
        Command::Kicked(p) => {
            step.end(p, EndReason::Kicked, false);
        }
        Command::SessionEnded => {
            let everyone: Vec<Uuid> = floor.participants().collect();
            for p in everyone {
                step.end(p, EndReason::SessionEnded, false);
            }
        }
        Command::Expire(p) => {
            // A stale timer (the turn ended or was renewed) changes nothing.
            let due = floor
                .speakers
                .iter()
                .any(|s| s.participant == p && s.expires_at.is_some_and(|at| at <= now));
            if due {
                step.end(p, EndReason::Expired, true);
            }
        }
    }
    step.fill_open_slots();
    let settings_changed = step.floor.mode != floor.mode
        || step.floor.max_speakers != floor.max_speakers
        || step.floor.time_limit != floor.time_limit;
    Ok(Outcome {
        floor: step.floor,
        changes: step.changes,
        effects: step.effects,
        settings_changed,
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;
    use proptest::prelude::*;

    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_790_000_000 + secs, 0).unwrap()
    }

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn moderated() -> Floor {
        Floor::new(FloorMode::Moderated, 1, None)
    }

    fn run(floor: &Floor, commands: &[Command]) -> Floor {
        commands
            .iter()
            .enumerate()
            .fold(floor.clone(), |f, (i, c)| {
                apply(&f, c, t(i as i64)).unwrap().floor
            })
    }

    #[test]
    fn attributes_mirror_hands_speakers_and_positions_and_only_changes_are_sent() {
        let before = run(
            &moderated(),
            &[Command::Raise(id(1)), Command::Raise(id(2))],
        );
        assert_eq!(
            attributes(&before, id(2)),
            [
                ("estrade.hand", "raised".to_owned()),
                ("estrade.floor", "none".to_owned()),
                ("estrade.queue_position", "2".to_owned())
            ]
        );
        let after = apply(&before, &Command::GrantNext, t(5)).unwrap().floor;
        assert_eq!(attributes(&after, id(1))[1].1, "speaking");
        assert_eq!(attributes(&after, id(1))[2].1, "", "deleted in LiveKit");
        // 1 now speaks, 2 moved up; 3 never took part.
        assert_eq!(attribute_changes(&before, &after), [id(1), id(2)]);
    }

    #[test]
    fn a_raised_hand_waits_in_a_moderated_floor_until_the_teacher_grants_it() {
        let f = run(
            &moderated(),
            &[Command::Raise(id(1)), Command::Raise(id(2))],
        );
        assert_eq!(f.position(id(1)), Some(1));
        assert_eq!(f.position(id(2)), Some(2));
        let out = apply(&f, &Command::GrantNext, t(10)).unwrap();
        assert!(out.floor.is_speaking(id(1)));
        assert_eq!(out.floor.position(id(2)), Some(1));
        assert_eq!(out.effects, [Effect::Grant(id(1))]);
    }

    #[test]
    fn raising_twice_or_while_speaking_is_refused() {
        let f = run(&moderated(), &[Command::Raise(id(1))]);
        assert_eq!(
            apply(&f, &Command::Raise(id(1)), t(5)),
            Err(Refusal::AlreadyQueued)
        );
        let f = run(&f, &[Command::GrantNext]);
        assert_eq!(
            apply(&f, &Command::Raise(id(1)), t(5)),
            Err(Refusal::AlreadySpeaking)
        );
    }

    #[test]
    fn lowering_clears_the_hand_or_gives_the_floor_back_and_is_idempotent() {
        let f = run(
            &moderated(),
            &[
                Command::Raise(id(1)),
                Command::Raise(id(2)),
                Command::GrantNext,
            ],
        );
        let out = apply(&f, &Command::Lower(id(2)), t(9)).unwrap();
        assert_eq!(
            out.changes,
            [TurnChange::Done {
                participant: id(2),
                reason: EndReason::Lowered
            }]
        );
        assert!(out.effects.is_empty());
        let out = apply(&f, &Command::Lower(id(1)), t(9)).unwrap();
        assert_eq!(out.effects, [Effect::Revoke(id(1))]);
        assert!(out.floor.speakers.is_empty());
        let out = apply(&out.floor, &Command::Lower(id(1)), t(10)).unwrap();
        assert!(!out.changed(), "lowering without a hand changes nothing");
    }

    #[test]
    fn an_open_floor_grants_a_raise_while_a_slot_is_free_and_fills_freed_slots() {
        let open = Floor::new(FloorMode::Open, 1, None);
        let out = apply(&open, &Command::Raise(id(1)), t(0)).unwrap();
        assert!(out.floor.is_speaking(id(1)));
        assert_eq!(out.effects, [Effect::Grant(id(1))]);
        let f = run(&out.floor, &[Command::Raise(id(2))]);
        assert_eq!(f.position(id(2)), Some(1), "no slot: queued");
        let out = apply(&f, &Command::Lower(id(1)), t(5)).unwrap();
        assert!(out.floor.is_speaking(id(2)));
        assert_eq!(out.effects, [Effect::Revoke(id(1)), Effect::Grant(id(2))]);
    }

    #[test]
    fn a_closed_floor_refuses_raises_and_grants_and_closing_revokes_everyone() {
        let f = run(
            &Floor::new(FloorMode::Moderated, 2, None),
            &[
                Command::Raise(id(1)),
                Command::Raise(id(2)),
                Command::GrantNext,
            ],
        );
        let close = Command::Configure {
            mode: FloorMode::Closed,
            max_speakers: 2,
            time_limit: None,
        };
        let out = apply(&f, &close, t(9)).unwrap();
        assert!(out.floor.speakers.is_empty() && out.floor.queue.is_empty());
        assert_eq!(out.effects, [Effect::Revoke(id(1))]);
        for c in [
            Command::Raise(id(3)),
            Command::GrantNext,
            Command::Grant(id(3)),
        ] {
            assert_eq!(apply(&out.floor, &c, t(10)), Err(Refusal::Closed));
        }
    }

    #[test]
    fn lowering_max_speakers_revokes_the_most_recent_grants() {
        let f = run(
            &Floor::new(FloorMode::Moderated, 3, None),
            &[
                Command::Grant(id(1)),
                Command::Grant(id(2)),
                Command::Grant(id(3)),
            ],
        );
        let c = Command::Configure {
            mode: FloorMode::Moderated,
            max_speakers: 1,
            time_limit: None,
        };
        let out = apply(&f, &c, t(9)).unwrap();
        assert_eq!(
            out.floor
                .speakers
                .iter()
                .map(|s| s.participant)
                .collect::<Vec<_>>(),
            [id(1)]
        );
        assert_eq!(out.effects, [Effect::Revoke(id(3)), Effect::Revoke(id(2))]);
        let bad = Command::Configure {
            mode: FloorMode::Moderated,
            max_speakers: 0,
            time_limit: None,
        };
        assert_eq!(apply(&f, &bad, t(9)), Err(Refusal::InvalidMaxSpeakers));
        let bad = Command::Configure {
            mode: FloorMode::Moderated,
            max_speakers: 21,
            time_limit: None,
        };
        assert_eq!(apply(&f, &bad, t(9)), Err(Refusal::InvalidMaxSpeakers));
    }

    #[test]
    fn a_full_floor_refuses_another_grant_and_an_empty_queue_has_no_next() {
        let f = run(&moderated(), &[Command::Grant(id(1))]);
        assert_eq!(apply(&f, &Command::Grant(id(2)), t(5)), Err(Refusal::Full));
        assert_eq!(
            apply(&f, &Command::GrantNext, t(5)),
            Err(Refusal::QueueEmpty)
        );
        assert_eq!(
            apply(&f, &Command::Grant(id(1)), t(5)),
            Err(Refusal::AlreadySpeaking)
        );
    }

    #[test]
    fn a_limited_grant_expires_by_itself_and_a_stale_timer_changes_nothing() {
        let f = Floor::new(FloorMode::Moderated, 1, Some(Duration::from_secs(30)));
        let out = apply(&f, &Command::Grant(id(1)), t(0)).unwrap();
        assert_eq!(out.floor.speakers[0].expires_at, Some(t(30)));
        let early = apply(&out.floor, &Command::Expire(id(1)), t(29)).unwrap();
        assert!(!early.changed());
        let due = apply(&out.floor, &Command::Expire(id(1)), t(30)).unwrap();
        assert_eq!(
            due.changes,
            [TurnChange::Done {
                participant: id(1),
                reason: EndReason::Expired
            }]
        );
        assert_eq!(due.effects, [Effect::Revoke(id(1))]);
    }

    #[test]
    fn leaving_or_being_kicked_releases_without_a_livekit_call_and_ending_clears_all() {
        let f = run(
            &Floor::new(FloorMode::Moderated, 2, None),
            &[
                Command::Grant(id(1)),
                Command::Raise(id(2)),
                Command::Raise(id(3)),
            ],
        );
        let out = apply(&f, &Command::Left(id(1)), t(9)).unwrap();
        assert!(out.effects.is_empty() && out.floor.speakers.is_empty());
        let out = apply(&out.floor, &Command::Kicked(id(2)), t(9)).unwrap();
        assert_eq!(out.floor.position(id(3)), Some(1));
        let out = apply(&out.floor, &Command::SessionEnded, t(9)).unwrap();
        assert!(out.floor.queue.is_empty() && out.floor.speakers.is_empty());
    }

    #[test]
    fn revoking_all_leaves_the_queue_and_revoking_a_hand_dismisses_it() {
        let f = run(
            &Floor::new(FloorMode::Moderated, 2, None),
            &[
                Command::Grant(id(1)),
                Command::Grant(id(2)),
                Command::Raise(id(3)),
            ],
        );
        let out = apply(&f, &Command::RevokeAll, t(9)).unwrap();
        assert_eq!(out.effects, [Effect::Revoke(id(1)), Effect::Revoke(id(2))]);
        assert_eq!(out.floor.position(id(3)), Some(1));
        let out = apply(&out.floor, &Command::Revoke(id(3)), t(9)).unwrap();
        assert!(out.floor.queue.is_empty() && out.effects.is_empty());
    }

    fn ask(p: u128, q: u128) -> Command {
        Command::Ask {
            participant: id(p),
            question: id(100 + q),
        }
    }

    #[test]
    fn a_question_takes_a_place_in_the_same_line_as_hands_or_the_place_of_the_raised_hand() {
        let f = run(
            &moderated(),
            &[Command::Raise(id(1)), ask(2, 1), Command::Raise(id(3))],
        );
        assert_eq!(f.position(id(2)), Some(2));
        assert_eq!(f.queue[1].question, Some(id(101)));
        // Ada's hand becomes a question and keeps its place.
        let out = apply(&f, &ask(1, 2), t(9)).unwrap();
        assert_eq!(out.floor.position(id(1)), Some(1));
        assert_eq!(out.floor.queue[0].raised_at, t(0));
        assert_eq!(
            out.changes,
            [TurnChange::Asked {
                participant: id(1),
                question: id(102)
            }]
        );
        assert_eq!(
            apply(&out.floor, &ask(1, 3), t(10)),
            Err(Refusal::QuestionWaiting)
        );
    }

    #[test]
    fn answering_aloud_ends_the_place_and_answering_with_the_floor_grants_it() {
        let f = run(&moderated(), &[ask(1, 1), ask(2, 2)]);
        let aloud = Command::Answer {
            question: id(101),
            floor: false,
        };
        let out = apply(&f, &aloud, t(5)).unwrap();
        assert_eq!(
            out.changes,
            [TurnChange::Done {
                participant: id(1),
                reason: EndReason::Answered
            }]
        );
        assert!(out.effects.is_empty());
        assert_eq!(out.floor.position(id(2)), Some(1));
        assert_eq!(
            apply(&out.floor, &aloud, t(6)),
            Err(Refusal::QuestionNotWaiting),
            "answered once"
        );
        let speak = Command::Answer {
            question: id(102),
            floor: true,
        };
        let out = apply(&out.floor, &speak, t(7)).unwrap();
        assert!(out.floor.is_speaking(id(2)));
        assert_eq!(out.effects, [Effect::Grant(id(2))]);
        let f = run(&out.floor, &[ask(3, 3)]);
        let full = Command::Answer {
            question: id(103),
            floor: true,
        };
        assert_eq!(apply(&f, &full, t(20)), Err(Refusal::Full));
        let out = apply(&f, &Command::Dismiss(id(103)), t(20)).unwrap();
        assert_eq!(
            out.changes,
            [TurnChange::Done {
                participant: id(3),
                reason: EndReason::Dismissed
            }]
        );
    }

    #[test]
    fn an_open_floor_grants_raised_hands_at_once_but_questions_wait_for_the_teacher() {
        let open = Floor::new(FloorMode::Open, 1, None);
        let out = apply(&open, &ask(1, 1), t(0)).unwrap();
        assert!(out.floor.speakers.is_empty() && out.effects.is_empty());
        let out = apply(&out.floor, &Command::Raise(id(2)), t(1)).unwrap();
        assert!(out.floor.is_speaking(id(2)), "the hand behind the question");
        assert_eq!(out.floor.position(id(1)), Some(1));
        let closed = Floor::new(FloorMode::Closed, 1, None);
        assert_eq!(apply(&closed, &ask(1, 1), t(0)), Err(Refusal::Closed));
    }

    fn command() -> impl Strategy<Value = Command> {
        let p = (1u128..=6).prop_map(Uuid::from_u128);
        let mode = prop_oneof![
            Just(FloorMode::Moderated),
            Just(FloorMode::Open),
            Just(FloorMode::Closed)
        ];
        prop_oneof![
            4 => p.clone().prop_map(Command::Raise),
            2 => p.clone().prop_map(Command::Lower),
            2 => Just(Command::GrantNext),
            2 => p.clone().prop_map(Command::Grant),
            1 => p.clone().prop_map(Command::Revoke),
            1 => Just(Command::RevokeAll),
            1 => (mode, 1usize..=4, prop::option::of(5u64..60)).prop_map(|(mode, max_speakers, s)| {
                Command::Configure { mode, max_speakers, time_limit: s.map(Duration::from_secs) }
            }),
            1 => p.clone().prop_map(Command::Left),
            1 => p.clone().prop_map(Command::Kicked),
            1 => p.clone().prop_map(Command::Expire),
            // The test loop makes question ids fresh, and turns the
            // index of an answer or a dismissal into a waiting question.
            2 => p.prop_map(|p| Command::Ask { participant: p, question: Uuid::nil() }),
            1 => (0u128..8, any::<bool>()).prop_map(|(q, floor)| Command::Answer { question: id(q), floor }),
            1 => (0u128..8).prop_map(|q| Command::Dismiss(id(q))),
        ]
    }

    proptest! {
        /// Random command sequences keep every invariant of the floor.
        #[test]
        fn every_command_sequence_keeps_the_floor_invariants(
            commands in prop::collection::vec(command(), 1..80),
            steps in prop::collection::vec(0i64..40, 80),
        ) {
            let mut floor = moderated();
            let mut gone = std::collections::HashSet::new();
            let mut now = t(0);
            let mut asked = 0;
            for (c, dt) in commands.iter().zip(steps) {
                now += chrono::Duration::seconds(dt);
                let waiting: Vec<Uuid> = floor.queue.iter().filter_map(|h| h.question).collect();
                let pick = |i: Uuid| {
                    let n = waiting.len().max(1) as u128;
                    waiting.get((i.as_u128() % n) as usize).copied().unwrap_or(Uuid::nil())
                };
                let c = &match *c {
                    Command::Ask { participant, .. } => {
                        asked += 1;
                        Command::Ask { participant, question: id(1000 + asked) }
                    }
                    Command::Answer { question, floor } => Command::Answer { question: pick(question), floor },
                    Command::Dismiss(question) => Command::Dismiss(pick(question)),
                    ref c => c.clone(),
                };
                // The caller refuses commands for someone gone (404).
                let subject = match c {
                    Command::Raise(p) | Command::Grant(p) => Some(*p),
                    Command::Ask { participant, .. } => Some(*participant),
                    _ => None,
                };
                if subject.is_some_and(|p| gone.contains(&p)) {
                    continue;
                }
                let Ok(out) = apply(&floor, c, now) else { continue };
                let f = &out.floor;
                prop_assert!(f.speakers.len() <= f.max_speakers);
                for s in &f.speakers {
                    prop_assert!(f.position(s.participant).is_none(), "both queued and speaking");
                    prop_assert_eq!(f.speakers.iter().filter(|x| x.participant == s.participant).count(), 1);
                }
                prop_assert!(f.queue.windows(2).all(|w| w[0].raised_at <= w[1].raised_at));
                if f.mode == FloorMode::Closed {
                    prop_assert!(f.speakers.is_empty() && f.queue.is_empty());
                }
                if f.mode == FloorMode::Open {
                    prop_assert!(f.queue.iter().all(|h| h.question.is_some()) || f.speakers.len() == f.max_speakers);
                }
                let mut questions: Vec<Uuid> = f.queue.iter().filter_map(|h| h.question).collect();
                let waiting = questions.len();
                questions.sort();
                questions.dedup();
                prop_assert_eq!(questions.len(), waiting, "a question in line twice");
                if let Command::Left(p) | Command::Kicked(p) = c {
                    gone.insert(*p);
                }
                for p in &gone {
                    prop_assert!(!f.is_speaking(*p) && f.position(*p).is_none(), "gone but on the floor");
                }
                for e in &out.effects {
                    match e {
                        Effect::Grant(p) => prop_assert!(f.is_speaking(*p)),
                        Effect::Revoke(p) => prop_assert!(!f.is_speaking(*p)),
                    }
                }
                floor = out.floor;
            }
        }
    }
}
