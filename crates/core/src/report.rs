//! The fairness report of a class: who asked for the floor, who got it,
//! how long each spoke and waited, and how concentrated the learners'
//! speaking time was. Computed from the stored floor history only (the
//! rows of `floor_turns`), never from memory, so it is the same during the
//! class, after it, and on any replica.
//!
//! Definitions (the API documents the same):
//! - a **hand** is a turn that was raised (`raised_at`) without a typed
//!   question; a **question** is a turn that carries one (a hand that
//!   became a question counts as a question); a direct grant is a turn
//!   raised by neither;
//! - a question is **answered** when the teacher answered it aloud or gave
//!   its author the floor;
//! - **talk time** is floor time: from a grant to the end of that turn (or
//!   to now, or to the end of the class, while it lasts);
//! - a **wait** is from a raised hand or a question to its grant; an
//!   **unanswered** hand is one raised and never granted (lowered, left,
//!   or still waiting);
//! - the **teacher's floor time** is the time of the class during which no
//!   learner or classroom held the floor (the teacher speaks at will);
//! - **polls answered** counts the polls of the class a learner or
//!   classroom answered (the poll rows, not the floor);
//! - the **concentration** is the Gini coefficient of talk time over every
//!   learner and classroom of the session: 0 when all spoke as long, near 1
//!   when one spoke and the others did not.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::ParticipantKind;

/// A participant of the session, as the report names it.
#[derive(Debug, Clone)]
pub struct Person {
    /// The participant.
    pub id: Uuid,
    /// Its kind; only learners and classrooms take the floor.
    pub kind: ParticipantKind,
    /// Its display name (erased after the retention period).
    pub display_name: String,
    /// People behind a classroom's screen.
    pub headcount: Option<i32>,
}

/// One stored turn: a raised hand, a typed question's place in line, or a
/// direct grant.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Turn {
    /// Whose turn.
    pub participant_id: Uuid,
    /// When the hand went up; none for a direct grant.
    pub raised_at: Option<DateTime<Utc>>,
    /// When the floor was given.
    pub granted_at: Option<DateTime<Utc>>,
    /// When the turn ended; none while it lasts.
    pub ended_at: Option<DateTime<Utc>>,
    /// Why it ended (`released`, `revoked`, …).
    pub end_reason: Option<String>,
    /// Whether it carried a typed question.
    pub question: bool,
}

/// The class's polls, as the report counts them.
#[derive(Debug, Clone, Default)]
pub struct PollParticipation {
    /// Polls opened in the class.
    pub polls: u32,
    /// How many of them each participant answered (absent: none).
    pub answered: Vec<(Uuid, u32)>,
}

/// The figures of one learner or classroom.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ParticipantFigures {
    /// The participant.
    pub participant_id: Uuid,
    /// `learner` or `classroom`.
    pub kind: ParticipantKind,
    /// Its display name.
    pub display_name: String,
    /// People behind a classroom's screen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headcount: Option<i32>,
    /// Hands it raised.
    pub hands_raised: u32,
    /// Times it was given the floor (after a hand or directly).
    pub times_granted: u32,
    /// Seconds it held the floor, in all.
    pub talk_time_s: f64,
    /// Longest wait from a raised hand to its grant, in seconds; none when
    /// no hand of it was granted.
    pub longest_wait_s: Option<f64>,
    /// Median of those waits, in seconds.
    pub median_wait_s: Option<f64>,
    /// Hands raised and never granted.
    pub hands_unanswered: u32,
    /// Typed questions it asked.
    pub questions_asked: u32,
    /// Of them, those answered (aloud or with the floor).
    pub questions_answered: u32,
    /// Polls of the class it answered.
    pub polls_answered: u32,
}

/// The figures of the class as a whole.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SessionFigures {
    /// Seconds from the start to the end of the class (to now while live;
    /// 0 before it starts).
    pub duration_s: f64,
    /// Seconds during which at least one learner or classroom held the
    /// floor.
    pub learner_floor_s: f64,
    /// Seconds during which none did: the teacher's.
    pub teacher_floor_s: f64,
    /// `teacher_floor_s / duration_s`; none before the class starts.
    pub teacher_share: Option<f64>,
    /// `learner_floor_s / duration_s`; none before the class starts.
    pub learner_share: Option<f64>,
    /// Learners and classrooms in the session.
    pub learners: u32,
    /// Of them, those who held the floor at least once.
    pub distinct_speakers: u32,
    /// Hands raised in all.
    pub hands_raised: u32,
    /// Hands raised and never granted, in all.
    pub hands_unanswered: u32,
    /// Typed questions asked, in all.
    pub questions_asked: u32,
    /// Of them, those answered.
    pub questions_answered: u32,
    /// Polls opened in the class.
    pub polls: u32,
    /// Median wait from a raised hand to its grant over every granted hand,
    /// in seconds.
    pub median_wait_s: Option<f64>,
    /// Gini coefficient of talk time over the learners and classrooms
    /// (0 = equal, towards 1 = concentrated); none when nobody spoke.
    pub talk_time_gini: Option<f64>,
}

/// One turn on the floor, for the timeline.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TimelineEntry {
    /// Who held the floor.
    pub participant_id: Uuid,
    /// From when.
    pub granted_at: DateTime<Utc>,
    /// Until when; none while the turn lasts.
    pub ended_at: Option<DateTime<Utc>>,
    /// Why it ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_reason: Option<String>,
}

/// The fairness report of a session.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Report {
    /// The class as a whole.
    pub session: SessionFigures,
    /// Each learner and classroom, in the order they joined.
    pub participants: Vec<ParticipantFigures>,
    /// Every grant, in order.
    pub timeline: Vec<TimelineEntry>,
    /// How long the class took to come up.
    pub startup: Startup,
}

/// How long a class took to come up, from LiveKit's webhooks as Estrade
/// received them: the session's start to the teacher's first published
/// track, and each learner's or classroom's join to its first connection.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct Startup {
    /// Seconds from the start to the teacher's first track; none before it.
    pub teacher_first_track_s: Option<f64>,
    /// Learners and classrooms whose first connection LiveKit reported.
    pub learners_connected: u32,
    /// Median seconds from a join to its first connection.
    pub learner_connect_median_s: Option<f64>,
    /// The slowest of them.
    pub learner_connect_max_s: Option<f64>,
}

impl Startup {
    /// From the teacher's first-track delay and each learner's connect
    /// delay, in milliseconds (negative ones, from a clock step, count as 0).
    pub fn of(first_track_ms: Option<i64>, mut connect_ms: Vec<i64>) -> Self {
        for ms in &mut connect_ms {
            *ms = (*ms).max(0);
        }
        connect_ms.sort_unstable();
        Self {
            teacher_first_track_s: first_track_ms.map(|ms| seconds(ms.max(0))),
            learners_connected: connect_ms.len() as u32,
            learner_connect_median_s: median(&connect_ms).map(seconds_f),
            learner_connect_max_s: connect_ms.last().map(|&ms| seconds(ms)),
        }
    }
}

/// The report of a class that started at `started_at` (none if it has
/// not) and ends at `until` (its end, or now while it lasts), for `people`
/// (in join order), their `turns` and the class's `polls`.
pub fn compute(
    started_at: Option<DateTime<Utc>>,
    until: DateTime<Utc>,
    people: &[Person],
    turns: &[Turn],
    polls: &PollParticipation,
) -> Report {
    let speakers: Vec<&Person> = people.iter().filter(|p| p.kind.takes_the_floor()).collect();
    let end_of = |turn: &Turn| turn.ended_at.unwrap_or(until).min(until);
    let mut all_waits = Vec::new();
    let mut participants = Vec::with_capacity(speakers.len());
    // Each speaker's talk time in ms, for the concentration.
    let mut talk = Vec::with_capacity(speakers.len());
    for person in &speakers {
        let theirs = turns.iter().filter(|t| t.participant_id == person.id);
        let (mut raised, mut granted, mut unanswered, mut talk_ms) = (0, 0, 0, 0);
        let (mut asked, mut answered) = (0, 0);
        let mut waits = Vec::new();
        for turn in theirs {
            if turn.question {
                asked += 1;
                if turn.granted_at.is_some() || turn.end_reason.as_deref() == Some("answered") {
                    answered += 1;
                }
            } else if turn.raised_at.is_some() {
                raised += 1;
                if turn.granted_at.is_none() {
                    unanswered += 1;
                }
            }
            if let (Some(up), Some(given)) = (turn.raised_at, turn.granted_at) {
                waits.push(millis(given - up));
            }
            if let Some(given) = turn.granted_at {
                granted += 1;
                talk_ms += millis(end_of(turn) - given).max(0);
            }
        }
        waits.sort_unstable();
        all_waits.extend_from_slice(&waits);
        talk.push(talk_ms);
        participants.push(ParticipantFigures {
            participant_id: person.id,
            kind: person.kind,
            display_name: person.display_name.clone(),
            headcount: person.headcount,
            hands_raised: raised,
            times_granted: granted,
            talk_time_s: seconds(talk_ms),
            longest_wait_s: waits.last().map(|&w| seconds(w)),
            median_wait_s: median(&waits).map(seconds_f),
            hands_unanswered: unanswered,
            questions_asked: asked,
            questions_answered: answered,
            polls_answered: polls
                .answered
                .iter()
                .find(|(id, _)| *id == person.id)
                .map_or(0, |(_, n)| *n),
        });
    }
    all_waits.sort_unstable();

    let speaker_ids: std::collections::HashSet<Uuid> = speakers.iter().map(|p| p.id).collect();
    let mut timeline: Vec<TimelineEntry> = turns
        .iter()
        .filter(|t| speaker_ids.contains(&t.participant_id))
        .filter_map(|t| {
            t.granted_at.map(|granted_at| TimelineEntry {
                participant_id: t.participant_id,
                granted_at,
                ended_at: t.ended_at,
                end_reason: t.end_reason.clone(),
            })
        })
        .collect();
    timeline.sort_by_key(|e| (e.granted_at, e.participant_id));
    let intervals: Vec<(i64, i64)> = turns
        .iter()
        .filter(|t| speaker_ids.contains(&t.participant_id))
        .filter_map(|t| {
            let given = t.granted_at?;
            let from = started_at.map_or(given, |s| given.max(s));
            Some((from.timestamp_millis(), end_of(t).timestamp_millis()))
        })
        .collect();
    let duration_ms = started_at.map_or(0, |s| millis(until - s).max(0));
    let learner_ms = union_length(intervals).min(duration_ms);
    let share = |part: i64| (duration_ms > 0).then(|| round4(part as f64 / duration_ms as f64));
    let session = SessionFigures {
        duration_s: seconds(duration_ms),
        learner_floor_s: seconds(learner_ms),
        teacher_floor_s: seconds(duration_ms - learner_ms),
        teacher_share: share(duration_ms - learner_ms),
        learner_share: share(learner_ms),
        learners: participants.len() as u32,
        distinct_speakers: participants.iter().filter(|p| p.times_granted > 0).count() as u32,
        hands_raised: participants.iter().map(|p| p.hands_raised).sum(),
        hands_unanswered: participants.iter().map(|p| p.hands_unanswered).sum(),
        questions_asked: participants.iter().map(|p| p.questions_asked).sum(),
        questions_answered: participants.iter().map(|p| p.questions_answered).sum(),
        polls: polls.polls,
        median_wait_s: median(&all_waits).map(seconds_f),
        talk_time_gini: gini(&talk).map(round4),
    };
    Report {
        session,
        participants,
        timeline,
        // From other rows than the floor's: the caller fills it in.
        startup: Startup::default(),
    }
}

fn millis(d: chrono::TimeDelta) -> i64 {
    d.num_milliseconds()
}

fn seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

fn seconds_f(ms: f64) -> f64 {
    ms.round() / 1000.0
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// The median of sorted values (the mean of the two middle ones for an
/// even count).
fn median(sorted: &[i64]) -> Option<f64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2] as f64),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) as f64 / 2.0),
    }
}

/// The total length covered by the intervals (overlaps counted once).
fn union_length(mut intervals: Vec<(i64, i64)>) -> i64 {
    intervals.retain(|(from, to)| to > from);
    intervals.sort_unstable();
    let mut total = 0;
    let mut current: Option<(i64, i64)> = None;
    for (from, to) in intervals {
        current = match current {
            Some((a, b)) if from <= b => Some((a, b.max(to))),
            Some((a, b)) => {
                total += b - a;
                Some((from, to))
            }
            None => Some((from, to)),
        };
    }
    total + current.map_or(0, |(a, b)| b - a)
}

/// The Gini coefficient of non-negative values: the mean absolute
/// difference between every pair over twice the mean. None for no values
/// or when all are zero.
fn gini(values: &[i64]) -> Option<f64> {
    let n = values.len() as f64;
    let sum: i64 = values.iter().sum();
    if values.is_empty() || sum == 0 {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    // Σᵢ (2i − n − 1)·xᵢ over the sorted values, i from 1.
    let weighted: f64 = sorted
        .iter()
        .enumerate()
        .map(|(i, &x)| (2.0 * (i as f64 + 1.0) - n - 1.0) * x as f64)
        .sum();
    Some(weighted / (n * sum as f64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    /// Minute `m` and second `s` of a class that starts at 10:00.
    fn at(m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 4, 10, m, s).unwrap()
    }

    fn person(n: u128, kind: ParticipantKind, name: &str) -> Person {
        Person {
            id: Uuid::from_u128(n),
            kind,
            display_name: name.into(),
            headcount: (kind == ParticipantKind::Classroom).then_some(24),
        }
    }

    fn turn(
        who: u128,
        raised: Option<DateTime<Utc>>,
        granted: Option<DateTime<Utc>>,
        ended: Option<DateTime<Utc>>,
    ) -> Turn {
        Turn {
            participant_id: Uuid::from_u128(who),
            raised_at: raised,
            granted_at: granted,
            ended_at: ended,
            end_reason: ended.map(|_| "released".into()),
            question: false,
        }
    }

    fn question(who: u128, asked: DateTime<Utc>, ended: DateTime<Utc>, reason: &str) -> Turn {
        Turn {
            end_reason: Some(reason.into()),
            question: true,
            ..turn(who, Some(asked), None, Some(ended))
        }
    }

    #[test]
    fn a_hand_built_class_gives_the_figures_worked_out_by_hand() {
        // A 30-minute class (10:00–10:30): Ana, Bea, a classroom and Chloé
        // who never asks; the teacher is not a speaker of the report.
        let people = [
            person(0, ParticipantKind::Teacher, "Chef"),
            person(1, ParticipantKind::Learner, "Ana"),
            person(2, ParticipantKind::Learner, "Bea"),
            person(3, ParticipantKind::Classroom, "CM2 B"),
            person(4, ParticipantKind::Learner, "Chloé"),
        ];
        let turns = [
            // Ana: raised 10:01:00, granted 10:02:00 (wait 60 s), spoke
            // until 10:05:00 (180 s).
            turn(1, Some(at(1, 0)), Some(at(2, 0)), Some(at(5, 0))),
            // Ana again: raised 10:10:00, granted 10:10:20 (wait 20 s),
            // spoke until 10:11:00 (40 s).
            turn(1, Some(at(10, 0)), Some(at(10, 20)), Some(at(11, 0))),
            // Bea: raised 10:03:00, granted 10:04:00 (wait 60 s; overlaps
            // Ana from 10:04 to 10:05), spoke until 10:06:00 (120 s).
            turn(2, Some(at(3, 0)), Some(at(4, 0)), Some(at(6, 0))),
            // Bea: raised 10:20:00, lowered at 10:21:00, never granted.
            turn(2, Some(at(20, 0)), None, Some(at(21, 0))),
            // The classroom: granted directly at 10:25:00, still speaking
            // at the end (10:30:00): 300 s.
            turn(3, None, Some(at(25, 0)), None),
            // The classroom: a hand raised at 10:28:00, still waiting.
            Turn {
                end_reason: None,
                ..turn(3, Some(at(28, 0)), None, None)
            },
            // Chloé types two questions: one answered aloud, one
            // dismissed; neither is a hand nor a wait.
            question(4, at(14, 0), at(15, 0), "answered"),
            question(4, at(16, 0), at(17, 0), "dismissed"),
        ];
        // Two polls: Ana answered both, the classroom one.
        let polls = PollParticipation {
            polls: 2,
            answered: vec![(Uuid::from_u128(1), 2), (Uuid::from_u128(3), 1)],
        };
        let report = compute(Some(at(0, 0)), at(30, 0), &people, &turns, &polls);

        let ana = &report.participants[0];
        assert_eq!(
            (
                ana.display_name.as_str(),
                ana.hands_raised,
                ana.times_granted
            ),
            ("Ana", 2, 2)
        );
        assert_eq!(ana.talk_time_s, 220.0);
        assert_eq!(ana.longest_wait_s, Some(60.0));
        // Waits 20 s and 60 s: the median is their mean.
        assert_eq!(ana.median_wait_s, Some(40.0));
        assert_eq!(ana.hands_unanswered, 0);

        let bea = &report.participants[1];
        assert_eq!((bea.hands_raised, bea.times_granted), (2, 1));
        assert_eq!(bea.talk_time_s, 120.0);
        assert_eq!(
            (bea.longest_wait_s, bea.median_wait_s),
            (Some(60.0), Some(60.0))
        );
        assert_eq!(bea.hands_unanswered, 1);

        let class = &report.participants[2];
        assert_eq!((class.hands_raised, class.times_granted), (1, 1));
        assert_eq!(class.talk_time_s, 300.0);
        assert_eq!((class.longest_wait_s, class.median_wait_s), (None, None));
        assert_eq!((class.hands_unanswered, class.headcount), (1, Some(24)));

        let chloe = &report.participants[3];
        assert_eq!((chloe.hands_raised, chloe.talk_time_s), (0, 0.0));
        assert_eq!((chloe.questions_asked, chloe.questions_answered), (2, 1));
        assert_eq!((chloe.hands_unanswered, chloe.median_wait_s), (0, None));
        assert_eq!((ana.questions_asked, ana.questions_answered), (0, 0));

        let s = &report.session;
        assert_eq!(s.duration_s, 1800.0);
        // Learners held the floor 10:02–10:06 (240 s, the overlap once),
        // 10:10:20–10:11 (40 s) and 10:25–10:30 (300 s): 580 s.
        assert_eq!(s.learner_floor_s, 580.0);
        assert_eq!(s.teacher_floor_s, 1220.0);
        assert_eq!(s.learner_share, Some(0.3222)); // 580 / 1800
        assert_eq!(s.teacher_share, Some(0.6778)); // 1220 / 1800
        assert_eq!((s.learners, s.distinct_speakers), (4, 3));
        assert_eq!((s.hands_raised, s.hands_unanswered), (5, 2));
        assert_eq!((s.questions_asked, s.questions_answered), (2, 1));
        assert_eq!(s.polls, 2);
        let answered: Vec<u32> = report
            .participants
            .iter()
            .map(|p| p.polls_answered)
            .collect();
        assert_eq!(answered, [2, 0, 1, 0]);
        // Granted waits 20, 60, 60: median 60 s.
        assert_eq!(s.median_wait_s, Some(60.0));
        // Talk times sorted 0, 120, 220, 300 (sum 640, n 4):
        // Σ (2i − n − 1)·x = −3·0 − 1·120 + 1·220 + 3·300 = 1000;
        // 1000 / (4 · 640) = 0.390625.
        assert_eq!(s.talk_time_gini, Some(0.3906));

        // Every grant in order, the one still lasting without an end.
        let order: Vec<u128> = report
            .timeline
            .iter()
            .map(|e| e.participant_id.as_u128())
            .collect();
        assert_eq!(order, [1, 2, 1, 3]);
        assert_eq!(report.timeline[3].ended_at, None);
    }

    #[test]
    fn a_class_where_only_one_learner_spoke_is_as_concentrated_as_its_size_allows() {
        let people: Vec<Person> = (1..=4)
            .map(|n| person(n, ParticipantKind::Learner, "L"))
            .collect();
        let turns = [turn(1, None, Some(at(0, 0)), Some(at(10, 0)))];
        let report = compute(
            Some(at(0, 0)),
            at(10, 0),
            &people,
            &turns,
            &PollParticipation::default(),
        );
        // One of n holds everything: (n − 1) / n.
        assert_eq!(report.session.talk_time_gini, Some(0.75));
        assert_eq!(report.session.teacher_share, Some(0.0));
        assert_eq!(report.session.distinct_speakers, 1);
    }

    #[test]
    fn equal_talk_times_are_not_concentrated_at_all() {
        let people: Vec<Person> = (1..=3)
            .map(|n| person(n, ParticipantKind::Learner, "L"))
            .collect();
        let turns: Vec<Turn> = (1..=3u32)
            .map(|n| turn(n.into(), None, Some(at(n, 0)), Some(at(n, 30))))
            .collect();
        let report = compute(
            Some(at(0, 0)),
            at(10, 0),
            &people,
            &turns,
            &PollParticipation::default(),
        );
        assert_eq!(report.session.talk_time_gini, Some(0.0));
        assert_eq!(report.session.learner_floor_s, 90.0);
    }

    #[test]
    fn a_class_that_has_not_started_has_no_shares_and_nobody_spoke() {
        let people = [person(1, ParticipantKind::Learner, "Ana")];
        let report = compute(None, at(0, 0), &people, &[], &PollParticipation::default());
        let s = &report.session;
        assert_eq!(
            (s.duration_s, s.teacher_share, s.learner_share),
            (0.0, None, None)
        );
        assert_eq!((s.talk_time_gini, s.median_wait_s), (None, None));
        assert_eq!(report.participants[0].talk_time_s, 0.0);
        assert!(report.timeline.is_empty());
    }

    #[test]
    fn start_up_takes_the_median_and_the_slowest_connection_and_the_teachers_first_track() {
        // Joins connected after 0.8 s, 1.2 s, 3 s and 1 s; the teacher's
        // camera came 6.5 s after the start.
        let startup = Startup::of(Some(6_500), vec![800, 1_200, 3_000, 1_000]);
        assert_eq!(
            startup,
            Startup {
                teacher_first_track_s: Some(6.5),
                learners_connected: 4,
                // The middle two, 1 s and 1.2 s.
                learner_connect_median_s: Some(1.1),
                learner_connect_max_s: Some(3.0),
            }
        );
        // Nothing reported yet; a clock stepped back counts as no delay.
        assert_eq!(Startup::of(None, vec![]), Startup::default());
        assert_eq!(
            Startup::of(Some(-5), vec![-10]).learner_connect_max_s,
            Some(0.0)
        );
        assert_eq!(
            Startup::of(Some(-5), vec![]).teacher_first_track_s,
            Some(0.0)
        );
    }
}
