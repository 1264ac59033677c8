//! The floor as clients see it: the body of `GET /v1/sessions/{id}/floor`
//! and of every `floor` event on the live stream. Rendered from the state
//! machine's [`Floor`] and the participants' names; pure.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::FloorMode;
use crate::floor::Floor;

/// Someone speaking, as clients see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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

/// What waits in line: a raised hand or a typed question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A raised hand.
    Hand,
    /// A typed question (its text: `GET …/questions`, for the teacher and
    /// its author only).
    Question,
}

/// A place in line, as clients see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HandView {
    /// The participant.
    pub participant_id: Uuid,
    /// Display name.
    pub name: String,
    /// Server time the hand went up (or the question was asked).
    pub raised_at: DateTime<Utc>,
    /// 1 = next in line.
    pub position: usize,
    /// A hand or a question.
    pub kind: EntryKind,
    /// The question, for a question.
    pub question_id: Option<Uuid>,
}

/// The floor of a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// waiting). Absent for the teacher and admins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<Option<usize>>,
}

impl FloorView {
    /// Renders `floor` at `version`; a participant missing from `names`
    /// shows with an empty name.
    pub fn render(floor: &Floor, version: i64, names: &HashMap<Uuid, String>) -> Self {
        let name = |id: &Uuid| names.get(id).cloned().unwrap_or_default();
        Self {
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
                    kind: if h.question.is_some() {
                        EntryKind::Question
                    } else {
                        EntryKind::Hand
                    },
                    question_id: h.question,
                })
                .collect(),
            version,
            position: None,
        }
    }

    /// The same view for one participant: with its place in the queue.
    pub fn for_participant(mut self, participant: Uuid) -> Self {
        self.position = Some(
            self.queue
                .iter()
                .find(|h| h.participant_id == participant)
                .map(|h| h.position),
        );
        self
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::floor::{Hand, Speaker};

    #[test]
    fn a_view_numbers_the_queue_from_one_and_tells_a_participant_its_place() {
        let now = Utc::now();
        let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let mut floor = Floor::new(FloorMode::Moderated, 1, Some(Duration::from_secs(60)));
        floor.speakers.push(Speaker {
            participant: a,
            since: now,
            expires_at: Some(now),
        });
        floor.queue.push(Hand {
            participant: b,
            raised_at: now,
            question: None,
        });
        floor.queue.push(Hand {
            participant: c,
            raised_at: now,
            question: Some(a),
        });
        let names = HashMap::from([(a, "Ada".to_owned()), (c, "Cy".to_owned())]);
        let view = FloorView::render(&floor, 7, &names);
        assert_eq!(view.speaking_time_limit_s, Some(60));
        assert_eq!(view.speakers[0].name, "Ada");
        assert_eq!(view.queue[0].name, "");
        assert_eq!(
            view.queue.iter().map(|h| h.position).collect::<Vec<_>>(),
            [1, 2]
        );
        assert_eq!(view.queue[0].kind, EntryKind::Hand);
        assert_eq!(
            (view.queue[1].kind, view.queue[1].question_id),
            (EntryKind::Question, Some(a))
        );
        assert_eq!(view.clone().for_participant(c).position, Some(Some(2)));
        assert_eq!(view.clone().for_participant(a).position, Some(None));
        let json = serde_json::to_value(&view).unwrap();
        assert!(json.get("position").is_none(), "no position for staff");
        assert_eq!(json["version"], 7);
    }
}
