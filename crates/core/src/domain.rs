//! Domain vocabulary: small types with a `parse` constructor, so a value
//! that exists is a valid one ("parse, don't validate").

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What an account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountRole {
    /// IT staff: sees and manages everything.
    Admin,
    /// A teacher: owns its own sessions.
    Teacher,
}

impl AccountRole {
    /// The name stored in Postgres and used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Teacher => "teacher",
        }
    }
}

impl fmt::Display for AccountRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is neither `admin` nor `teacher`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("role must be admin or teacher")]
pub struct UnknownRole;

impl FromStr for AccountRole {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "admin" => Ok(Self::Admin),
            "teacher" => Ok(Self::Teacher),
            _ => Err(UnknownRole),
        }
    }
}

/// A human-readable name for an account: trimmed, 1 to 128 characters, no
/// control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct AccountName(String);

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Nothing left after trimming.
    #[error("name must not be empty")]
    Empty,
    /// Longer than allowed.
    #[error("name must be at most {0} characters")]
    TooLong(usize),
    /// Contains a control character (newline, tab, escape…).
    #[error("name must not contain control characters")]
    ControlCharacter,
    /// Contains a character that is invisible or changes the direction of
    /// the text around it, so the name would not read as what it is.
    #[error("name must not contain invisible or direction-changing characters")]
    InvisibleCharacter,
}

/// What a name or a title may hold, as a pattern for the OpenAPI document
/// (a little stricter than the checks below): at least one visible
/// character; no control characters; none of the invisible or
/// direction-changing ones
/// (bidi controls, zero-width spaces and joiners, the byte-order mark,
/// invisible operators, fillers). Tag characters (U+E0000–U+E007F), also
/// refused, are beyond what a portable pattern can name.
pub const NAME_PATTERN: &str = r"^[^\x00-\x1f\x7f-\x9f\u061c\u115f\u1160\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufeff\uffa0]*[^\s\x00-\x1f\x7f-\x9f\u061c\u115f\u1160\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufeff\uffa0][^\x00-\x1f\x7f-\x9f\u061c\u115f\u1160\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufeff\uffa0]*$";

/// Characters that change how the text around them is shown without
/// showing themselves: bidirectional controls (a "\u{202e}redaeT" shows as
/// "Teacher"), zero-width spaces and joiners of words, the byte-order mark,
/// invisible operators, fillers and tag characters.
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{061C}' | '\u{180E}' | '\u{200B}' | '\u{200E}' | '\u{200F}'
        | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}'
        | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' | '\u{FEFF}'
        | '\u{E0000}'..='\u{E007F}')
}

/// The zero-width joiner and non-joiner have a use between two visible
/// characters (emoji sequences, Persian and Indic writing), and none
/// anywhere else.
pub(crate) fn misplaced_joiner(chars: &[char]) -> bool {
    let visible = |c: Option<&char>| {
        c.is_some_and(|c| !c.is_whitespace() && !matches!(c, '\u{200C}' | '\u{200D}'))
    };
    chars.iter().enumerate().any(|(i, c)| {
        matches!(c, '\u{200C}' | '\u{200D}')
            && !(i > 0 && visible(chars.get(i - 1)) && visible(chars.get(i + 1)))
    })
}

fn parse_name(raw: &str, max: usize) -> Result<String, NameError> {
    use unicode_normalization::UnicodeNormalization as _;
    // One spelling for one name: "é" typed as e + U+0301 is stored as é.
    let name: String = raw.trim().nfc().collect();
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    let chars: Vec<char> = name.chars().collect();
    if chars.len() > max {
        return Err(NameError::TooLong(max));
    }
    if chars.iter().any(|c| c.is_control()) {
        return Err(NameError::ControlCharacter);
    }
    if chars.iter().copied().any(is_invisible) || misplaced_joiner(&chars) {
        return Err(NameError::InvisibleCharacter);
    }
    Ok(name)
}

impl AccountName {
    /// Longest accepted name, in characters (matches the column's check).
    pub const MAX_CHARS: usize = 128;

    /// Trims and checks a name.
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        parse_name(raw, Self::MAX_CHARS).map(Self)
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_stored_in_one_spelling_and_refuse_what_would_disguise_them() {
        assert_eq!(
            DisplayName::parse("  Le\u{0301}a ").unwrap().as_str(),
            "Léa"
        );
        for disguised in [
            "\u{202E}redaeT",
            "Ana\u{200B}",
            "\u{FEFF}Ana",
            "An\u{2066}a",
            "Ana\u{E0041}",
            "\u{200D}Ana",
            "Ana \u{200C}",
            "\u{3164}",
        ] {
            assert_eq!(
                DisplayName::parse(disguised),
                Err(NameError::InvisibleCharacter),
                "{disguised:?}"
            );
        }
        // Joiners between visible characters are writing, not disguise.
        for fine in ["👩\u{200D}🍳 Léa", "می\u{200C}خواهم", "Zoë", "李小龍", "Ян"]
        {
            assert!(DisplayName::parse(fine).is_ok(), "{fine:?}");
        }
        assert_eq!(
            AccountName::parse("Chef\u{202E}"),
            Err(NameError::InvisibleCharacter)
        );
    }

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in [AccountRole::Admin, AccountRole::Teacher] {
            assert_eq!(role.as_str().parse::<AccountRole>(), Ok(role));
        }
        assert_eq!("root".parse::<AccountRole>(), Err(UnknownRole));
    }

    #[test]
    fn account_names_are_trimmed_and_checked() {
        assert_eq!(
            AccountName::parse("  Chef Anne ").unwrap().as_str(),
            "Chef Anne"
        );
        assert_eq!(AccountName::parse("   "), Err(NameError::Empty));
        assert_eq!(AccountName::parse("a\nb"), Err(NameError::ControlCharacter));
        assert_eq!(
            AccountName::parse(&"é".repeat(129)),
            Err(NameError::TooLong(128))
        );
        assert!(AccountName::parse(&"é".repeat(128)).is_ok());
    }
}

/// A session's join code: six digits, read aloud in class.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct JoinCode(String);

/// A join code that is not six digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a join code is six digits")]
pub struct InvalidJoinCode;

impl JoinCode {
    /// Draws a random code. Uniqueness among live sessions is the
    /// database's job (a partial unique index); callers retry on conflict.
    pub fn generate() -> Self {
        use rand::Rng as _;
        Self(format!("{:06}", rand::rng().random_range(0..1_000_000u32)))
    }

    /// Accepts six digits, ignoring spaces and dashes people type
    /// ("123 456", "123-456").
    pub fn parse(raw: &str) -> Result<Self, InvalidJoinCode> {
        let digits: String = raw.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        if digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(digits))
        } else {
            Err(InvalidJoinCode)
        }
    }

    /// The six digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod join_code_tests {
    use super::*;

    #[test]
    fn generated_codes_are_six_digits() {
        for _ in 0..1000 {
            let code = JoinCode::generate();
            assert_eq!(JoinCode::parse(code.as_str()), Ok(code));
        }
    }

    #[test]
    fn codes_typed_with_spaces_or_dashes_are_accepted() {
        assert_eq!(JoinCode::parse("012 345").unwrap().as_str(), "012345");
        assert_eq!(JoinCode::parse("012-345").unwrap().as_str(), "012345");
        assert_eq!(JoinCode::parse("12345"), Err(InvalidJoinCode));
        assert_eq!(JoinCode::parse("12345a"), Err(InvalidJoinCode));
        assert_eq!(JoinCode::parse("١٢٣٤٥٦"), Err(InvalidJoinCode));
    }
}

/// A participant's display name as typed at join: trimmed, 1 to 64
/// characters, no control characters. Personal data: never logged.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct DisplayName(String);

impl fmt::Debug for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DisplayName(..)")
    }
}

impl DisplayName {
    /// Longest accepted name, in characters (matches the column's check).
    pub const MAX_CHARS: usize = 64;

    /// Trims and checks a name.
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        parse_name(raw, Self::MAX_CHARS).map(Self)
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where a session is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    /// Created, no LiveKit room yet.
    Scheduled,
    /// The room exists; learners may join.
    Live,
    /// Over; its join code is free again.
    Ended,
}

/// How learners get the floor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FloorMode {
    /// Learners queue; the teacher grants.
    Moderated,
    /// A raise grants at once while a speaker slot is free.
    Open,
    /// Nobody but the teacher speaks.
    Closed,
}

/// What kind of participant joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ParticipantKind {
    /// The session's teacher.
    Teacher,
    /// One learner.
    Learner,
    /// A classroom of learners behind one screen.
    Classroom,
    /// IT staff, hidden.
    Observer,
}

/// Where a participant is, as far as LiveKit told us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// Has credentials, never seen connected.
    Invited,
    /// Connected.
    Present,
    /// Gone.
    Left,
}

/// Where a raised hand or a speaking turn is (`floor_turns.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TurnState {
    /// A hand raised, waiting in line.
    Queued,
    /// Holding the floor.
    Speaking,
    /// Over.
    Done,
}

/// Where a stored webhook event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InboxStatus {
    /// Waiting to be applied (or retried).
    Pending,
    /// Applied.
    Processed,
    /// A dead letter: it will not be applied unless replayed.
    Failed,
}

/// Where a webhook to the LMS stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt (or in one).
    Pending,
    /// The endpoint answered 2xx.
    Delivered,
    /// Every attempt of its retry window failed.
    Failed,
}

/// A string stored in Postgres that is not one of an enum's names: the
/// schema's check constraints make this a bug, not bad input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unexpected value {0:?} in the database")]
pub struct UnknownValue(pub String);

macro_rules! text_enum {
    ($ty:ty { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// The name stored in Postgres and used on the wire.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $name),+ }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = UnknownValue;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($name => Ok(Self::$variant),)+
                    other => Err(UnknownValue(other.to_owned())),
                }
            }
        }
    };
}

text_enum!(SessionStatus { Scheduled => "scheduled", Live => "live", Ended => "ended" });
text_enum!(FloorMode { Moderated => "moderated", Open => "open", Closed => "closed" });
impl ParticipantKind {
    /// Whether this kind takes the floor (and counts against the seats):
    /// learners and classrooms. The teacher always may speak; observers
    /// never do.
    pub fn takes_the_floor(self) -> bool {
        matches!(self, Self::Learner | Self::Classroom)
    }
}

text_enum!(Presence { Invited => "invited", Present => "present", Left => "left" });
text_enum!(TurnState { Queued => "queued", Speaking => "speaking", Done => "done" });
text_enum!(InboxStatus { Pending => "pending", Processed => "processed", Failed => "failed" });
text_enum!(DeliveryStatus { Pending => "pending", Delivered => "delivered", Failed => "failed" });
text_enum!(ParticipantKind {
    Teacher => "teacher",
    Learner => "learner",
    Classroom => "classroom",
    Observer => "observer",
});

/// How long a learner or classroom keeps its seat, and its place on the
/// floor, while LiveKit does not have it (the schema's `holds_seat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Graces {
    /// After joining through the API, to appear in LiveKit
    /// (`ESTRADE_ARRIVAL_GRACE_S`): a participant that never connects
    /// gives its seat back.
    pub arrival: std::time::Duration,
    /// After leaving LiveKit, to come back (`ESTRADE_DEPARTURE_GRACE_S`):
    /// a dropped network or a reload keeps the seat and the place in line.
    pub departure: std::time::Duration,
}

/// What one deployment admits at once (docs/CONFIGURATION.md): live
/// classes per teacher account (`ESTRADE_MAX_LIVE_SESSIONS_PER_TEACHER`),
/// live classes in all (`ESTRADE_MAX_LIVE_SESSIONS`), and the seats they
/// reserve together (`ESTRADE_MAX_PARTICIPANTS`: the sum of their
/// `max_learners`; a classroom takes one seat, whatever its headcount).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    /// Live sessions one teacher account runs at once.
    pub live_sessions_per_teacher: i64,
    /// Live sessions at once.
    pub live_sessions: i64,
    /// Seats the live sessions reserve together (their `max_learners`).
    pub participants: i64,
}

/// Limits on a session's settings (mirrored by the schema's checks).
pub mod limits {
    /// Most learners a session admits.
    pub const MAX_LEARNERS: i32 = 1000;
    /// Default learner limit: the field-measured 60 viewers per room.
    pub const DEFAULT_MAX_LEARNERS: i32 = 60;
    /// Most simultaneous speakers.
    pub const MAX_SPEAKERS: i32 = 16;
    /// Shortest and longest speaking-time limits, in seconds.
    pub const SPEAKING_TIME_LIMIT_S: std::ops::RangeInclusive<i32> = 5..=3600;
    /// Longest title, in characters.
    pub const TITLE_CHARS: usize = 200;
    /// Most people a classroom participant stands for.
    pub const HEADCOUNT: std::ops::RangeInclusive<i32> = 1..=500;
}

/// A session title: trimmed, 1 to 200 characters, no control characters.
pub fn parse_title(raw: &str) -> Result<String, NameError> {
    parse_name(raw, limits::TITLE_CHARS)
}

#[cfg(test)]
mod more_tests {
    use super::*;

    #[test]
    fn display_names_are_trimmed_bounded_and_free_of_control_characters() {
        assert_eq!(DisplayName::parse(" Ana ").unwrap().as_str(), "Ana");
        assert_eq!(
            DisplayName::parse(&"a".repeat(65)),
            Err(NameError::TooLong(64))
        );
        assert_eq!(
            DisplayName::parse("Ana\u{7}"),
            Err(NameError::ControlCharacter)
        );
        assert_eq!(DisplayName::parse(""), Err(NameError::Empty));
        assert_eq!(
            format!("{:?}", DisplayName::parse("Ana").unwrap()),
            "DisplayName(..)"
        );
    }

    #[test]
    fn text_enums_round_trip_through_their_names() {
        for s in [
            SessionStatus::Scheduled,
            SessionStatus::Live,
            SessionStatus::Ended,
        ] {
            assert_eq!(s.as_str().parse::<SessionStatus>(), Ok(s));
        }
        assert_eq!("open".parse::<FloorMode>(), Ok(FloorMode::Open));
        assert!("loud".parse::<FloorMode>().is_err());
        assert_eq!(
            "classroom".parse::<ParticipantKind>(),
            Ok(ParticipantKind::Classroom)
        );
    }
}
