//! What one live session needs repaired, from what PostgreSQL decided and
//! what LiveKit reports. Pure: no I/O, no clock; the caller applies each
//! repair under the checks that keep it from undoing a later decision.

use std::collections::HashMap;

use estrade_core::domain::ParticipantKind;
use estrade_core::floor::{self, Floor};
use estrade_livekit::grants;
use estrade_livekit::proto::{
    ParticipantInfo, ParticipantPermission, TrackSource, participant_info,
};
use uuid::Uuid;

/// A participant as PostgreSQL knows it.
#[derive(Debug, Clone)]
pub struct Known {
    /// The participant.
    pub id: Uuid,
    /// Its LiveKit identity.
    pub identity: String,
    /// `teacher`, `learner`, `classroom` or `observer`.
    pub kind: ParticipantKind,
    /// Present according to PostgreSQL.
    pub present: bool,
    /// Kicked: must not be in the room.
    pub kicked: bool,
    /// Its presence was last changed before LiveKit was listed, so a
    /// listing without it means it is gone (not that it joined since).
    pub settled: bool,
}

/// One repair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repair {
    /// In the room, but not present in PostgreSQL (a lost `joined`).
    MarkPresent {
        /// The participant.
        participant: Uuid,
        /// LiveKit's connection sid.
        sid: String,
        /// When that connection joined (ms).
        joined_at_ms: i64,
    },
    /// Present in PostgreSQL, gone from the room (a lost `left`).
    MarkLeft {
        /// The participant.
        participant: Uuid,
    },
    /// Kicked, yet in the room.
    RemoveKicked {
        /// Its identity.
        identity: String,
    },
    /// An identity we never issued (or already purged) in one of our rooms:
    /// reported only.
    Unknown {
        /// Its identity.
        identity: String,
    },
    /// LiveKit's permission differs from the decision: send the whole
    /// correct one (for a learner, through the floor's enforcement).
    Permission {
        /// The participant.
        participant: Uuid,
        /// Its identity.
        identity: String,
    },
    /// A learner's microphone published without the floor: revoke and
    /// mute.
    Microphone {
        /// The participant.
        participant: Uuid,
        /// Its identity.
        identity: String,
    },
    /// The mirrored floor attributes differ.
    Attributes {
        /// The participant.
        participant: Uuid,
        /// Its identity.
        identity: String,
    },
}

impl Repair {
    /// The report's name for this kind of repair.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::MarkPresent { .. } => "marked_present",
            Self::MarkLeft { .. } => "marked_left",
            Self::RemoveKicked { .. } => "kicked_removed",
            Self::Unknown { .. } => "unknown_participant",
            Self::Permission { .. } => "permission_drift",
            Self::Microphone { .. } => "microphone_revoked",
            Self::Attributes { .. } => "attributes_drift",
        }
    }
}

/// The permission a participant of `kind` must hold in LiveKit now.
pub fn expected_permission(kind: ParticipantKind, speaking: bool) -> ParticipantPermission {
    match kind {
        ParticipantKind::Teacher => grants::teacher_permission(),
        ParticipantKind::Learner | ParticipantKind::Classroom => grants::floor_permission(speaking),
        ParticipantKind::Observer => grants::observer_permission(),
    }
}

/// Whether LiveKit's permission says what we decided (the fields we set;
/// sources in any order).
pub fn same_permission(actual: &ParticipantPermission, expected: &ParticipantPermission) -> bool {
    let sources = |p: &ParticipantPermission| {
        let mut s = p.can_publish_sources.clone();
        s.sort_unstable();
        s
    };
    actual.can_subscribe == expected.can_subscribe
        && actual.can_publish == expected.can_publish
        && actual.can_publish_data == expected.can_publish_data
        && actual.hidden == expected.hidden
        && actual.can_update_metadata == expected.can_update_metadata
        && sources(actual) == sources(expected)
}

/// Whether LiveKit's attributes show `participant`'s place in `floor`. A
/// key never set reads as its neutral value (a learner who never raised a
/// hand has none).
fn same_attributes(actual: &HashMap<String, String>, floor: &Floor, participant: Uuid) -> bool {
    floor::attributes(floor, participant)
        .iter()
        .all(|(key, value)| {
            let neutral = if *key == "estrade.queue_position" {
                ""
            } else {
                "none"
            };
            actual.get(*key).map_or(neutral, String::as_str) == value.as_str()
        })
}

fn publishes_microphone(info: &ParticipantInfo) -> bool {
    info.tracks
        .iter()
        .any(|t| t.source == TrackSource::Microphone as i32 && !t.muted)
}

/// What to repair in one session: `known` from PostgreSQL with its
/// `floor`, `live` as LiveKit lists the room.
pub fn plan(known: &[Known], floor: &Floor, live: &[ParticipantInfo]) -> Vec<Repair> {
    let by_identity: HashMap<&str, &Known> =
        known.iter().map(|k| (k.identity.as_str(), k)).collect();
    let mut repairs = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for info in live {
        if info.state == participant_info::State::Disconnected as i32 {
            continue;
        }
        seen.insert(info.identity.as_str());
        let Some(k) = by_identity.get(info.identity.as_str()) else {
            repairs.push(Repair::Unknown {
                identity: info.identity.clone(),
            });
            continue;
        };
        if k.kicked {
            repairs.push(Repair::RemoveKicked {
                identity: k.identity.clone(),
            });
            continue;
        }
        if !k.present {
            repairs.push(Repair::MarkPresent {
                participant: k.id,
                sid: info.sid.clone(),
                joined_at_ms: if info.joined_at_ms > 0 {
                    info.joined_at_ms
                } else {
                    info.joined_at * 1000
                },
            });
        }
        let speaking = floor.is_speaking(k.id);
        let floor_governed = k.kind.takes_the_floor();
        let identity = || k.identity.clone();
        if floor_governed && !speaking && publishes_microphone(info) {
            // Revoking sends the whole permission too.
            repairs.push(Repair::Microphone {
                participant: k.id,
                identity: identity(),
            });
        } else if let expected = expected_permission(k.kind, speaking)
            && !info
                .permission
                .as_ref()
                .is_some_and(|actual| same_permission(actual, &expected))
        {
            repairs.push(Repair::Permission {
                participant: k.id,
                identity: identity(),
            });
        }
        if floor_governed && !same_attributes(&info.attributes, floor, k.id) {
            repairs.push(Repair::Attributes {
                participant: k.id,
                identity: identity(),
            });
        }
    }
    for k in known {
        if k.present && k.settled && !seen.contains(k.identity.as_str()) {
            repairs.push(Repair::MarkLeft { participant: k.id });
        }
    }
    repairs
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::Utc;
    use estrade_core::domain::FloorMode;
    use estrade_core::floor::{Hand, Speaker};
    use estrade_livekit::proto::TrackInfo;

    use super::*;

    fn known(kind: &str, n: u128) -> Known {
        Known {
            id: Uuid::from_u128(n),
            identity: format!("{}-{n}", &kind[..1]),
            kind: kind.parse().unwrap(),
            present: true,
            kicked: false,
            settled: true,
        }
    }

    /// How LiveKit shows `k` when everything agrees with `floor`.
    fn agreeing(k: &Known, floor: &Floor) -> ParticipantInfo {
        let speaking = floor.is_speaking(k.id);
        let mut attributes = HashMap::new();
        for (key, value) in floor::attributes(floor, k.id) {
            if !value.is_empty() {
                attributes.insert(key.to_owned(), value);
            }
        }
        ParticipantInfo {
            sid: format!("PA_{}", k.identity),
            identity: k.identity.clone(),
            state: participant_info::State::Active as i32,
            permission: Some(expected_permission(k.kind, speaking)),
            joined_at: 1_700_000_000,
            attributes,
            ..Default::default()
        }
    }

    fn class() -> (Vec<Known>, Floor) {
        let now = Utc::now();
        let people = vec![
            known("teacher", 1),
            known("learner", 2),
            known("learner", 3),
            known("classroom", 4),
            known("observer", 5),
        ];
        let mut floor = Floor::new(FloorMode::Moderated, 1, Some(Duration::from_secs(60)));
        floor.speakers.push(Speaker {
            participant: people[1].id,
            since: now,
            expires_at: None,
        });
        floor.queue.push(Hand {
            participant: people[2].id,
            raised_at: now,
            question: None,
        });
        (people, floor)
    }

    #[test]
    fn a_room_that_agrees_needs_nothing() {
        let (people, floor) = class();
        let live: Vec<_> = people.iter().map(|k| agreeing(k, &floor)).collect();
        assert_eq!(plan(&people, &floor, &live), []);
    }

    #[test]
    fn a_learner_who_never_raised_a_hand_has_no_attributes_and_that_is_no_drift() {
        let (people, floor) = class();
        let mut info = agreeing(&people[3], &floor);
        info.attributes.clear();
        assert_eq!(plan(&people[3..4], &floor, &[info]), []);
    }

    #[test]
    fn a_publish_permission_nobody_granted_is_drift_and_so_is_a_lost_grant() {
        let (people, floor) = class();
        let mut live: Vec<_> = people.iter().map(|k| agreeing(k, &floor)).collect();
        // Learner 3 (queued) was given the microphone behind our back.
        live[2].permission = Some(grants::floor_permission(true));
        // Learner 2 speaks, but the grant never reached LiveKit.
        live[1].permission = Some(grants::floor_permission(false));
        // The classroom can publish every source (an empty list).
        live[3].permission.as_mut().unwrap().can_publish = true;
        let repairs = plan(&people, &floor, &live);
        let kinds: Vec<_> = repairs.iter().map(Repair::kind).collect();
        assert_eq!(
            kinds,
            ["permission_drift", "permission_drift", "permission_drift"]
        );
    }

    #[test]
    fn a_microphone_published_without_the_floor_is_revoked_but_a_speaker_keeps_theirs() {
        let (people, floor) = class();
        let mut live: Vec<_> = people.iter().map(|k| agreeing(k, &floor)).collect();
        let mic = TrackInfo {
            sid: "TR_mic".into(),
            source: TrackSource::Microphone as i32,
            ..Default::default()
        };
        live[1].tracks.push(mic.clone()); // the speaker
        live[2].tracks.push(mic.clone()); // queued, no floor
        let mut muted = mic;
        muted.muted = true;
        live[3].tracks.push(muted); // already muted at the SFU
        assert_eq!(
            plan(&people, &floor, &live),
            [Repair::Microphone {
                participant: people[2].id,
                identity: people[2].identity.clone()
            }]
        );
    }

    #[test]
    fn presence_is_repaired_both_ways_but_only_for_a_settled_absence() {
        let (mut people, floor) = class();
        let mut live: Vec<_> = people.iter().map(|k| agreeing(k, &floor)).collect();
        people[3].present = false; // in the room, not present for us
        live.remove(4); // the observer is gone from the room…
        people[0].settled = false; // …and the teacher only just joined
        live.remove(0);
        let repairs = plan(&people, &floor, &live);
        assert_eq!(
            repairs,
            [
                Repair::MarkPresent {
                    participant: people[3].id,
                    sid: format!("PA_{}", people[3].identity),
                    joined_at_ms: 1_700_000_000_000,
                },
                Repair::MarkLeft {
                    participant: people[4].id
                },
            ]
        );
    }

    #[test]
    fn a_kicked_participant_in_the_room_is_removed_and_a_stranger_reported() {
        let (mut people, floor) = class();
        let mut live: Vec<_> = people.iter().map(|k| agreeing(k, &floor)).collect();
        people[2].kicked = true;
        people[2].present = false;
        let mut stranger = agreeing(&people[1], &floor);
        stranger.identity = "l-stranger".into();
        live.push(stranger);
        let kinds: Vec<_> = plan(&people, &floor, &live)
            .iter()
            .map(Repair::kind)
            .collect();
        assert_eq!(kinds, ["kicked_removed", "unknown_participant"]);
    }

    #[test]
    fn stale_attributes_are_drift() {
        let (people, floor) = class();
        let mut live: Vec<_> = people.iter().map(|k| agreeing(k, &floor)).collect();
        live[2]
            .attributes
            .insert("estrade.queue_position".into(), "3".into());
        live[1].attributes.clear();
        let kinds: Vec<_> = plan(&people, &floor, &live)
            .iter()
            .map(Repair::kind)
            .collect();
        assert_eq!(kinds, ["attributes_drift", "attributes_drift"]);
    }
}
