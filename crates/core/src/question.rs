//! Typed questions, for learners who cannot or would rather not speak:
//! what a learner may type, and where a question stands. A question takes
//! a place in the floor's line (`floor::Command::Ask`); where it stands is
//! read from that place (its `floor_turns` row), never stored twice.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::TurnState;

/// Most characters in a question (Unicode scalar values, as PostgreSQL's
/// `char_length` counts them).
pub const MAX_CHARS: usize = 500;

/// Why a question's text is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// Nothing but spaces.
    #[error("Type a question (at least one character).")]
    Empty,
    /// Longer than [`MAX_CHARS`].
    #[error("A question has at most 500 characters.")]
    TooLong,
    /// A control character (line breaks included): questions are one
    /// paragraph of plain text.
    #[error("A question is plain text without control characters or line breaks.")]
    ControlCharacter,
    /// A character that is invisible or changes the direction of the text
    /// around it (as refused in names), so the question would not read as
    /// what it is.
    #[error("A question must not contain invisible or direction-changing characters.")]
    InvisibleCharacter,
}

/// The text to store for `typed`: trimmed, 1–500 characters, none of the
/// control, invisible or direction-changing characters names refuse
/// (`domain::NAME_PATTERN` describes it for the OpenAPI document too).
/// Stored as typed otherwise, and never rendered as HTML anywhere.
pub fn text(typed: &str) -> Result<&str, TextError> {
    let text = typed.trim();
    if text.is_empty() {
        return Err(TextError::Empty);
    }
    let chars: Vec<char> = text.chars().collect();
    if chars.len() > MAX_CHARS {
        return Err(TextError::TooLong);
    }
    if chars.iter().any(|c| c.is_control()) {
        return Err(TextError::ControlCharacter);
    }
    if chars.iter().copied().any(crate::domain::is_invisible)
        || crate::domain::misplaced_joiner(&chars)
    {
        return Err(TextError::InvisibleCharacter);
    }
    Ok(text)
}

/// Where a question stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum QuestionStatus {
    /// In line for the teacher.
    Waiting,
    /// The teacher answered it aloud, or gave its author the floor.
    Answered,
    /// The teacher dismissed it.
    Dismissed,
    /// Its author withdrew it.
    Withdrawn,
    /// Closed unanswered: its author left or was removed, the floor was
    /// closed, or the session ended.
    Closed,
}

impl QuestionStatus {
    /// Where a question stands, from its place in line: the turn's state,
    /// whether it was granted, and why it ended.
    pub fn of(state: TurnState, granted: bool, end_reason: Option<&str>) -> Self {
        match (state, granted, end_reason) {
            (TurnState::Queued, _, _) => Self::Waiting,
            (_, true, _) | (_, _, Some("answered")) => Self::Answered,
            (_, _, Some("dismissed" | "revoked")) => Self::Dismissed,
            (_, _, Some("lowered")) => Self::Withdrawn,
            _ => Self::Closed,
        }
    }
}

/// A question, as its author and the teacher see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Question {
    /// The question.
    pub id: Uuid,
    /// Its session.
    pub session_id: Uuid,
    /// Its author.
    pub participant_id: Uuid,
    /// The author's display name.
    pub name: String,
    /// What the author typed (plain text; `(erased)` once the retention
    /// period is over).
    #[schema(min_length = 1, max_length = 500)]
    pub text: String,
    /// When it was asked.
    pub asked_at: DateTime<Utc>,
    /// Where it stands.
    pub status: QuestionStatus,
    /// Whether it was answered by giving its author the floor.
    pub answered_with_floor: bool,
    /// When it stopped waiting (null while waiting).
    pub ended_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_question_is_trimmed_plain_text_of_one_to_five_hundred_characters() {
        assert_eq!(text("  Why salt the water?  "), Ok("Why salt the water?"));
        assert_eq!(text("   "), Err(TextError::Empty));
        assert_eq!(text(&"é".repeat(500)).map(str::len), Ok(1000));
        assert_eq!(text(&"é".repeat(501)), Err(TextError::TooLong));
        assert_eq!(text("one\ntwo"), Err(TextError::ControlCharacter));
        assert_eq!(text("bell\u{7}"), Err(TextError::ControlCharacter));
        assert_eq!(text("c1\u{85}x"), Err(TextError::ControlCharacter));
        assert_eq!(
            text("<b>bold</b>"),
            Ok("<b>bold</b>"),
            "stored as typed, shown as text"
        );
        assert_eq!(text("\u{202e}tlas"), Err(TextError::InvisibleCharacter));
        assert_eq!(text("salt\u{200b}"), Err(TextError::InvisibleCharacter));
    }

    #[test]
    fn a_question_stands_where_its_place_in_line_ended() {
        use QuestionStatus as S;
        assert_eq!(S::of(TurnState::Queued, false, None), S::Waiting);
        assert_eq!(S::of(TurnState::Speaking, true, None), S::Answered);
        assert_eq!(S::of(TurnState::Done, true, Some("released")), S::Answered);
        assert_eq!(S::of(TurnState::Done, false, Some("answered")), S::Answered);
        assert_eq!(
            S::of(TurnState::Done, false, Some("dismissed")),
            S::Dismissed
        );
        assert_eq!(S::of(TurnState::Done, false, Some("revoked")), S::Dismissed);
        assert_eq!(S::of(TurnState::Done, false, Some("lowered")), S::Withdrawn);
        assert_eq!(S::of(TurnState::Done, false, Some("left")), S::Closed);
        assert_eq!(
            S::of(TurnState::Done, false, Some("session_ended")),
            S::Closed
        );
    }
}
