//! Quick polls: what a teacher may ask, and the results as counts. Answers
//! are anonymous to other learners: a poll as the API shows it carries
//! counts per choice, never who chose what (a participant learns only its
//! own choice). A classroom's answer is one answer, with the people behind
//! its screen (its headcount) shown beside the count.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::ParticipantKind;

/// Most characters in a poll's question.
pub const MAX_QUESTION_CHARS: usize = 200;
/// Most characters in one choice.
pub const MAX_CHOICE_CHARS: usize = 100;
/// Fewest and most choices.
pub const CHOICES: std::ops::RangeInclusive<usize> = 2..=6;

/// Why a new poll is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PollError {
    /// The question is empty, too long or holds control, invisible or
    /// direction-changing characters.
    #[error("A poll's question is 1–200 characters of plain text on one line.")]
    Question,
    /// Fewer than 2 or more than 6 choices.
    #[error("A poll has 2 to 6 choices.")]
    ChoiceCount,
    /// A choice is empty, too long or holds characters names refuse.
    #[error("Each choice is 1–100 characters of plain text on one line.")]
    Choice,
}

/// A poll to open, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPoll {
    /// The question, trimmed.
    pub question: String,
    /// The choices, trimmed, in order.
    pub choices: Vec<String>,
}

/// Trims `raw` and checks it is 1–`max` characters without control,
/// invisible or direction-changing ones.
fn line(raw: &str, max: usize) -> Option<String> {
    let text = raw.trim();
    let chars: Vec<char> = text.chars().collect();
    let fine = !chars.is_empty()
        && chars.len() <= max
        && !chars.iter().any(|c| c.is_control())
        && !chars.iter().copied().any(crate::domain::is_invisible)
        && !crate::domain::misplaced_joiner(&chars);
    fine.then(|| text.to_owned())
}

impl NewPoll {
    /// Checks a poll as typed (two choices that read the same are the
    /// teacher's to avoid; the console does not offer it).
    pub fn parse(question: &str, choices: &[String]) -> Result<Self, PollError> {
        let question = line(question, MAX_QUESTION_CHARS).ok_or(PollError::Question)?;
        if !CHOICES.contains(&choices.len()) {
            return Err(PollError::ChoiceCount);
        }
        let choices: Vec<String> = choices
            .iter()
            .map(|c| line(c, MAX_CHOICE_CHARS).ok_or(PollError::Choice))
            .collect::<Result<_, _>>()?;
        Ok(Self { question, choices })
    }
}

/// One answer, as counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    /// Index of the choice.
    pub choice: usize,
    /// Who answered: a learner or a classroom.
    pub kind: ParticipantKind,
    /// The classroom's headcount.
    pub headcount: Option<i32>,
}

/// The count of one choice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChoiceCount {
    /// The choice's text.
    pub text: String,
    /// Answers for it (a classroom's answer is one).
    pub answers: u32,
    /// Of them, classrooms.
    pub classrooms: u32,
    /// People behind those classrooms' screens (their headcounts).
    pub classroom_headcount: u32,
}

/// Counts `answers` per choice of `choices`; an answer naming no choice
/// is not counted.
pub fn tally(choices: &[String], answers: &[Answer]) -> Vec<ChoiceCount> {
    let mut counts: Vec<ChoiceCount> = choices
        .iter()
        .map(|text| ChoiceCount {
            text: text.clone(),
            answers: 0,
            classrooms: 0,
            classroom_headcount: 0,
        })
        .collect();
    for a in answers {
        let Some(count) = counts.get_mut(a.choice) else {
            continue;
        };
        count.answers += 1;
        if a.kind == ParticipantKind::Classroom {
            count.classrooms += 1;
            count.classroom_headcount += u32::try_from(a.headcount.unwrap_or(0)).unwrap_or(0);
        }
    }
    counts
}

/// A poll as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Poll {
    /// The poll.
    pub id: Uuid,
    /// Its session.
    pub session_id: Uuid,
    /// The question.
    pub question: String,
    /// The choices, in order (answers name them by index, from 0).
    pub choices: Vec<String>,
    /// When it opened.
    pub opened_at: DateTime<Utc>,
    /// When it closed (null while open).
    pub closed_at: Option<DateTime<Utc>>,
    /// Whether the teacher showed the results to everyone.
    pub results_shown: bool,
    /// Answers so far (staff; for a participant only once shown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answers: Option<u32>,
    /// Counts per choice, in the choices' order (staff; for a participant
    /// only once shown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub results: Option<Vec<ChoiceCount>>,
    /// For a participant: the index of its own choice (null before it
    /// answers). Absent for staff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub my_choice: Option<Option<usize>>,
}

impl Poll {
    /// The same poll for a participant: counts only once shown, and its
    /// own choice.
    pub fn for_participant(mut self, mine: Option<usize>) -> Self {
        if !self.results_shown {
            self.answers = None;
            self.results = None;
        }
        self.my_choice = Some(mine);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(choices: &[&str]) -> Vec<String> {
        choices.iter().map(|c| (*c).to_owned()).collect()
    }

    #[test]
    fn a_poll_has_a_question_and_two_to_six_distinct_plain_choices() {
        let ok = NewPoll::parse(" Ready? ", &owned(&[" Yes", "No "])).unwrap();
        assert_eq!(
            (ok.question.as_str(), ok.choices),
            ("Ready?", owned(&["Yes", "No"]))
        );
        assert_eq!(
            NewPoll::parse("", &owned(&["a", "b"])),
            Err(PollError::Question)
        );
        assert_eq!(
            NewPoll::parse("two\nlines", &owned(&["a", "b"])),
            Err(PollError::Question)
        );
        assert_eq!(
            NewPoll::parse(&"q".repeat(201), &owned(&["a", "b"])),
            Err(PollError::Question)
        );
        assert_eq!(
            NewPoll::parse("Q", &owned(&["only"])),
            Err(PollError::ChoiceCount)
        );
        assert_eq!(
            NewPoll::parse("Q", &owned(&["1", "2", "3", "4", "5", "6", "7"])),
            Err(PollError::ChoiceCount)
        );
        assert_eq!(
            NewPoll::parse("Q", &owned(&["a", " "])),
            Err(PollError::Choice)
        );
        assert_eq!(
            NewPoll::parse("Q", &owned(&["a", "\u{202e}b"])),
            Err(PollError::Choice)
        );
    }

    #[test]
    fn a_classroom_counts_as_one_answer_with_its_headcount_beside_it() {
        let choices = owned(&["Yes", "No"]);
        let learner = |choice| Answer {
            choice,
            kind: ParticipantKind::Learner,
            headcount: None,
        };
        let answers = [
            learner(0),
            learner(1),
            Answer {
                choice: 0,
                kind: ParticipantKind::Classroom,
                headcount: Some(24),
            },
            learner(0),
            // Out of range: not counted.
            learner(7),
        ];
        let counts = tally(&choices, &answers);
        assert_eq!(
            counts
                .iter()
                .map(|c| (c.answers, c.classrooms, c.classroom_headcount))
                .collect::<Vec<_>>(),
            [(3, 1, 24), (1, 0, 0)]
        );
        assert_eq!(counts[0].text, "Yes");
    }

    #[test]
    fn a_participant_sees_counts_only_once_the_teacher_shows_them() {
        let poll = Poll {
            id: Uuid::nil(),
            session_id: Uuid::nil(),
            question: "Q".into(),
            choices: owned(&["a", "b"]),
            opened_at: Utc::now(),
            closed_at: None,
            results_shown: false,
            answers: Some(3),
            results: Some(tally(&owned(&["a", "b"]), &[])),
            my_choice: None,
        };
        let hidden = poll.clone().for_participant(Some(1));
        assert_eq!((hidden.answers, hidden.results.is_none()), (None, true));
        assert_eq!(hidden.my_choice, Some(Some(1)));
        let json = serde_json::to_value(&poll).unwrap();
        assert!(json.get("my_choice").is_none(), "no own choice for staff");
        let shown = Poll {
            results_shown: true,
            ..poll
        }
        .for_participant(None);
        assert_eq!(shown.answers, Some(3));
        assert_eq!(
            serde_json::to_value(&shown).unwrap()["my_choice"],
            serde_json::Value::Null
        );
    }
}
