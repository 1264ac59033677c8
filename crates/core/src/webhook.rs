//! What a stored LiveKit webhook means, and the decisions that make
//! applying it safe whatever order events arrive in. Pure: the worker reads
//! rows, asks these functions, and writes what they decide.
//!
//! Events are read from the stored JSON (LiveKit's protojson) by field,
//! not through the protobuf types, so an event from a newer LiveKit with an
//! enum value we do not know is still understood for the fields we use.

use std::cmp::Ordering;
use std::time::Duration;

use serde_json::Value;

/// An event, reduced to what Estrade acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveKitEvent {
    /// `room_started`: acknowledged, nothing to change (our own start
    /// created the room).
    RoomStarted {
        /// The room's name.
        room: String,
    },
    /// `room_finished`: LiveKit closed the room; the session ends.
    RoomFinished {
        /// The room's name.
        room: String,
        /// Which instance of the room (`RM_…`), when LiveKit says.
        sid: Option<String>,
    },
    /// `participant_joined`.
    Joined(Connection),
    /// `participant_left` or `participant_connection_aborted`.
    Left(Connection),
    /// `track_published`.
    TrackPublished(Track),
    /// `track_unpublished`.
    TrackUnpublished(Track),
    /// Anything else (egress, ingress, `participant_active`, unknown
    /// types): stored, not acted on.
    Ignored,
}

/// One LiveKit connection of a participant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// The room's name.
    pub room: String,
    /// The identity we assigned.
    pub identity: String,
    /// LiveKit's id for this connection (`PA_…`); a reconnection that
    /// resumes keeps it, a new connection gets a new one.
    pub sid: String,
    /// When this connection joined, in milliseconds (from `joinedAtMs`, or
    /// `joinedAt` seconds for an older LiveKit).
    pub joined_at_ms: i64,
}

impl Connection {
    /// The order of connections of one identity: by join time, then sid.
    pub fn key(&self) -> (i64, &str) {
        (self.joined_at_ms, &self.sid)
    }
}

/// A published or unpublished track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Track {
    /// Who publishes it.
    pub connection: Connection,
    /// LiveKit's track id (`TR_…`).
    pub sid: String,
    /// `camera`, `microphone`, … (see [`track_source`]).
    pub source: &'static str,
}

/// Why a stored event cannot be applied, ever: it becomes a dead letter at
/// once instead of being retried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Malformed(pub String);

fn text<'a>(value: &'a Value, path: &[&str]) -> Result<&'a str, Malformed> {
    let mut v = value;
    for key in path {
        v = &v[*key];
    }
    v.as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Malformed(format!("`{}` is missing", path.join("."))))
}

/// protojson writes 64-bit integers as strings; accept numbers too.
fn integer(value: &Value) -> Option<i64> {
    match value {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

fn connection(event: &Value) -> Result<Connection, Malformed> {
    let p = &event["participant"];
    let joined_at_ms = integer(&p["joinedAtMs"])
        .filter(|ms| *ms > 0)
        .or_else(|| integer(&p["joinedAt"]).map(|s| s.saturating_mul(1000)))
        .unwrap_or(0);
    Ok(Connection {
        room: text(event, &["room", "name"])?.to_owned(),
        identity: text(event, &["participant", "identity"])?.to_owned(),
        sid: text(event, &["participant", "sid"])?.to_owned(),
        joined_at_ms,
    })
}

/// LiveKit's `TrackSource`, as protojson writes it (name) or as a number.
pub fn track_source(value: &Value) -> &'static str {
    let name = match value {
        Value::String(s) => s.as_str(),
        Value::Number(n) => match n.as_i64() {
            Some(1) => "CAMERA",
            Some(2) => "MICROPHONE",
            Some(3) => "SCREEN_SHARE",
            Some(4) => "SCREEN_SHARE_AUDIO",
            _ => "UNKNOWN",
        },
        // protojson omits the default value (UNKNOWN).
        _ => "UNKNOWN",
    };
    match name {
        "CAMERA" => "camera",
        "MICROPHONE" => "microphone",
        "SCREEN_SHARE" => "screen_share",
        "SCREEN_SHARE_AUDIO" => "screen_share_audio",
        _ => "unknown",
    }
}

fn track(event: &Value) -> Result<Track, Malformed> {
    Ok(Track {
        connection: connection(event)?,
        sid: text(event, &["track", "sid"])?.to_owned(),
        source: track_source(&event["track"]["source"]),
    })
}

impl LiveKitEvent {
    /// Reads a stored event. `Err` only for an event type we act on whose
    /// fields are missing.
    pub fn from_json(event: &Value) -> Result<Self, Malformed> {
        let kind = event["event"].as_str().unwrap_or_default();
        Ok(match kind {
            "room_started" => Self::RoomStarted {
                room: text(event, &["room", "name"])?.to_owned(),
            },
            "room_finished" => Self::RoomFinished {
                room: text(event, &["room", "name"])?.to_owned(),
                sid: text(event, &["room", "sid"]).ok().map(str::to_owned),
            },
            "participant_joined" => Self::Joined(connection(event)?),
            "participant_left" | "participant_connection_aborted" => Self::Left(connection(event)?),
            "track_published" => Self::TrackPublished(track(event)?),
            "track_unpublished" => Self::TrackUnpublished(track(event)?),
            _ => Self::Ignored,
        })
    }
}

/// A verified webhook body, as the inbox stores it: its id, type, room and
/// time read once, and the payload without what Estrade must not keep (the
/// participant's display name, which is personal data with its own
/// retention, and client-set metadata and attributes).
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// LiveKit's event id (1–128 characters).
    pub event_id: String,
    /// `participant_joined`, …
    pub event_type: String,
    /// The room it concerns, if any.
    pub room_name: Option<String>,
    /// When LiveKit created it, if it says.
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The event, redacted.
    pub payload: Value,
}

impl Envelope {
    /// Reads and redacts a webhook body; `Err` says why it is no webhook
    /// event (not JSON, no id, no event name).
    pub fn parse(body: &[u8]) -> Result<Self, Malformed> {
        let mut payload: Value =
            serde_json::from_slice(body).map_err(|_| Malformed("not JSON".into()))?;
        if let Some(p) = payload
            .get_mut("participant")
            .and_then(Value::as_object_mut)
        {
            for field in ["name", "metadata", "attributes"] {
                p.remove(field);
            }
        }
        let event_id = payload["id"]
            .as_str()
            .filter(|id| !id.is_empty() && id.len() <= 128)
            .ok_or_else(|| Malformed("no event id".into()))?
            .to_owned();
        let event_type = payload["event"]
            .as_str()
            .filter(|e| !e.is_empty())
            .ok_or_else(|| Malformed("no event name".into()))?
            .to_owned();
        let created_at = integer(&payload["createdAt"])
            .and_then(|secs| chrono::DateTime::<chrono::Utc>::from_timestamp(secs, 0));
        let room_name = payload["room"]["name"].as_str().map(str::to_owned);
        Ok(Self {
            event_id,
            event_type,
            room_name,
            created_at,
            payload,
        })
    }
}

/// A stored event as an admin lists it, without its payload.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ListedEvent {
    /// LiveKit's event id.
    pub event_id: String,
    /// `participant_joined`, …
    pub event_type: String,
    /// The room it concerns.
    pub room_name: Option<String>,
    /// `pending`, `processed` or `failed`.
    pub status: crate::domain::InboxStatus,
    /// Failed attempts so far.
    pub attempts: i32,
    /// The last failure.
    pub last_error: Option<String>,
    /// When it was stored.
    pub received_at: chrono::DateTime<chrono::Utc>,
    /// When the next attempt is due (pending events).
    pub next_attempt_at: Option<chrono::DateTime<chrono::Utc>>,
    /// When it was applied.
    pub processed_at: Option<chrono::DateTime<chrono::Utc>>,
}

pub use crate::domain::Presence;

/// What we last recorded of a participant's connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen<'a> {
    /// Presence.
    pub presence: Presence,
    /// The connection it refers to, if we saw one.
    pub connection: Option<(i64, &'a str)>,
    /// Kicked: no connection may make it present again.
    pub kicked: bool,
}

/// What to do with a presence event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresenceDecision {
    /// Record this connection as present.
    Join,
    /// Record this connection as gone; release the floor and the hand.
    Leave,
    /// Change nothing, because…
    Ignore(&'static str),
}

/// Decides a `participant_joined` (`joined = true`) or `participant_left`.
///
/// Connections are ordered by `(joinedAtMs, sid)`. An event about an
/// older connection than the one recorded changes nothing (a late `left`
/// never marks a newer connection absent); a `joined` for the connection
/// already recorded as left changes nothing (no resurrection); a `left`
/// may arrive before its `joined` and is recorded, so that `joined` is
/// then ignored.
pub fn decide_presence(seen: &Seen<'_>, joined: bool, event: &Connection) -> PresenceDecision {
    let order = match seen.connection {
        None => Ordering::Greater,
        Some(recorded) => event.key().cmp(&recorded),
    };
    match (joined, order) {
        (_, Ordering::Less) => PresenceDecision::Ignore("older_connection"),
        (true, _) if seen.kicked => PresenceDecision::Ignore("kicked"),
        (true, Ordering::Greater) => PresenceDecision::Join,
        (true, Ordering::Equal) => match seen.presence {
            Presence::Left => PresenceDecision::Ignore("already_left"),
            _ => PresenceDecision::Ignore("duplicate"),
        },
        (false, Ordering::Greater) => PresenceDecision::Leave,
        (false, Ordering::Equal) => match seen.presence {
            Presence::Left => PresenceDecision::Ignore("duplicate"),
            _ => PresenceDecision::Leave,
        },
    }
}

/// After this many failed attempts an event becomes a dead letter.
pub const MAX_ATTEMPTS: i32 = 8;

/// The wait before attempt `failures + 1`: 1 s, 2 s, 4 s, … at most 60 s
/// (about two minutes in all before the dead letter).
pub fn retry_delay(failures: i32) -> Duration {
    let exponent = failures.saturating_sub(1).clamp(0, 6) as u32;
    Duration::from_secs(1u64 << exponent).min(Duration::from_secs(60))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_envelope_keeps_id_type_room_and_time_and_drops_the_name_metadata_and_attributes() {
        let body = br#"{"id": "EV_1", "event": "participant_joined", "createdAt": "1700000000",
            "room": {"name": "estrade-x", "sid": "RM_1"},
            "participant": {"identity": "l-abc", "sid": "PA_1", "name": "Ana",
                            "metadata": "{}", "attributes": {"a": "b"}}}"#;
        let envelope = Envelope::parse(body).unwrap();
        assert_eq!(envelope.event_id, "EV_1");
        assert_eq!(envelope.event_type, "participant_joined");
        assert_eq!(envelope.room_name.as_deref(), Some("estrade-x"));
        assert_eq!(envelope.created_at.unwrap().timestamp(), 1_700_000_000);
        let participant = envelope.payload["participant"].as_object().unwrap();
        assert_eq!(participant["identity"], "l-abc");
        for gone in ["name", "metadata", "attributes"] {
            assert!(!participant.contains_key(gone), "{gone} kept");
        }
        assert!(!envelope.payload.to_string().contains("Ana"));
    }

    #[test]
    fn an_envelope_reads_a_numeric_time_and_goes_without_room_or_time() {
        let envelope =
            Envelope::parse(br#"{"id": "EV_2", "event": "egress_started", "createdAt": 5}"#)
                .unwrap();
        assert_eq!(envelope.created_at.unwrap().timestamp(), 5);
        assert_eq!(envelope.room_name, None);
        let envelope = Envelope::parse(br#"{"id": "EV_3", "event": "egress_started"}"#).unwrap();
        assert_eq!(envelope.created_at, None);
    }

    #[test]
    fn a_body_without_json_an_id_or_an_event_name_is_no_envelope() {
        let long_id = format!(
            r#"{{"id": "{}", "event": "room_started"}}"#,
            "x".repeat(129)
        );
        for (body, why) in [
            ("not json", "not JSON"),
            (r#"{"event": "room_started"}"#, "no event id"),
            (r#"{"id": "", "event": "room_started"}"#, "no event id"),
            (long_id.as_str(), "no event id"),
            (r#"{"id": "EV_4"}"#, "no event name"),
            (r#"{"id": "EV_4", "event": ""}"#, "no event name"),
        ] {
            assert_eq!(
                Envelope::parse(body.as_bytes()),
                Err(Malformed(why.into())),
                "{body}"
            );
        }
    }

    fn conn(sid: &str, ms: i64) -> Connection {
        Connection {
            room: "r".into(),
            identity: "l-abcdefgh".into(),
            sid: sid.into(),
            joined_at_ms: ms,
        }
    }

    fn seen(presence: Presence, connection: Option<(i64, &str)>) -> Seen<'_> {
        Seen {
            presence,
            connection,
            kicked: false,
        }
    }

    #[test]
    fn a_first_join_makes_an_invited_participant_present() {
        let s = seen(Presence::Invited, None);
        assert_eq!(
            decide_presence(&s, true, &conn("PA_1", 10)),
            PresenceDecision::Join
        );
    }

    #[test]
    fn a_late_left_for_an_older_connection_does_not_mark_the_newer_one_absent() {
        let s = seen(Presence::Present, Some((20, "PA_2")));
        assert_eq!(
            decide_presence(&s, false, &conn("PA_1", 10)),
            PresenceDecision::Ignore("older_connection")
        );
    }

    #[test]
    fn a_late_joined_after_its_own_left_does_not_resurrect_the_connection() {
        let s = seen(Presence::Left, Some((10, "PA_1")));
        assert_eq!(
            decide_presence(&s, true, &conn("PA_1", 10)),
            PresenceDecision::Ignore("already_left")
        );
    }

    #[test]
    fn a_left_arriving_before_its_joined_is_recorded() {
        let s = seen(Presence::Invited, None);
        assert_eq!(
            decide_presence(&s, false, &conn("PA_1", 10)),
            PresenceDecision::Leave
        );
    }

    #[test]
    fn a_new_connection_after_leaving_makes_the_participant_present_again() {
        let s = seen(Presence::Left, Some((10, "PA_1")));
        assert_eq!(
            decide_presence(&s, true, &conn("PA_2", 30)),
            PresenceDecision::Join
        );
    }

    #[test]
    fn duplicates_change_nothing() {
        let present = seen(Presence::Present, Some((10, "PA_1")));
        assert_eq!(
            decide_presence(&present, true, &conn("PA_1", 10)),
            PresenceDecision::Ignore("duplicate")
        );
        let left = seen(Presence::Left, Some((10, "PA_1")));
        assert_eq!(
            decide_presence(&left, false, &conn("PA_1", 10)),
            PresenceDecision::Ignore("duplicate")
        );
    }

    #[test]
    fn a_kicked_participant_never_becomes_present_but_its_leaving_is_recorded() {
        let s = Seen {
            presence: Presence::Left,
            connection: Some((10, "PA_1")),
            kicked: true,
        };
        assert_eq!(
            decide_presence(&s, true, &conn("PA_2", 20)),
            PresenceDecision::Ignore("kicked")
        );
        assert_eq!(
            decide_presence(&s, false, &conn("PA_2", 20)),
            PresenceDecision::Leave
        );
    }

    /// Every order of the events of two connections ends in the state the
    /// in-order sequence gives.
    #[test]
    fn every_arrival_order_of_two_connections_ends_with_the_newest_state() {
        let events = [
            (true, conn("PA_1", 10)),
            (false, conn("PA_1", 10)),
            (true, conn("PA_2", 20)),
        ];
        let orders = [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ];
        for order in orders {
            let mut presence = Presence::Invited;
            let mut recorded: Option<Connection> = None;
            for i in order {
                let (joined, c) = &events[i];
                let s = Seen {
                    presence,
                    connection: recorded.as_ref().map(Connection::key),
                    kicked: false,
                };
                match decide_presence(&s, *joined, c) {
                    PresenceDecision::Join => {
                        presence = Presence::Present;
                        recorded = Some(c.clone());
                    }
                    PresenceDecision::Leave => {
                        presence = Presence::Left;
                        recorded = Some(c.clone());
                    }
                    PresenceDecision::Ignore(_) => {}
                }
            }
            assert_eq!(presence, Presence::Present, "order {order:?}");
            assert_eq!(
                recorded.map(|c| c.sid),
                Some("PA_2".into()),
                "order {order:?}"
            );
        }
    }

    #[test]
    fn events_are_read_from_livekit_protojson() {
        let joined = json!({
            "event": "participant_joined", "id": "EV_1", "createdAt": "1700000000",
            "room": {"name": "estrade-x", "sid": "RM_1"},
            "participant": {"sid": "PA_1", "identity": "l-abcdefgh", "joinedAt": "1700000000", "joinedAtMs": "1700000000123"}
        });
        assert_eq!(
            LiveKitEvent::from_json(&joined),
            Ok(LiveKitEvent::Joined(Connection {
                room: "estrade-x".into(),
                identity: "l-abcdefgh".into(),
                sid: "PA_1".into(),
                joined_at_ms: 1_700_000_000_123,
            }))
        );
        let older = json!({
            "event": "participant_connection_aborted",
            "room": {"name": "r"}, "participant": {"sid": "PA_1", "identity": "l-abcdefgh", "joinedAt": 17}
        });
        assert!(matches!(
            LiveKitEvent::from_json(&older),
            Ok(LiveKitEvent::Left(Connection {
                joined_at_ms: 17_000,
                ..
            }))
        ));
        let track = json!({
            "event": "track_published", "room": {"name": "r"},
            "participant": {"sid": "PA_1", "identity": "l-abcdefgh"},
            "track": {"sid": "TR_1", "type": "AUDIO", "source": "MICROPHONE"}
        });
        assert!(matches!(
            LiveKitEvent::from_json(&track),
            Ok(LiveKitEvent::TrackPublished(Track {
                source: "microphone",
                ..
            }))
        ));
    }

    #[test]
    fn unknown_and_unhandled_types_are_ignored_and_broken_known_ones_are_malformed() {
        for kind in [
            "egress_started",
            "ingress_ended",
            "participant_active",
            "something_new",
        ] {
            assert_eq!(
                LiveKitEvent::from_json(&json!({"event": kind})),
                Ok(LiveKitEvent::Ignored)
            );
        }
        let broken = json!({"event": "participant_left", "room": {"name": "r"}, "participant": {}});
        assert_eq!(
            LiveKitEvent::from_json(&broken),
            Err(Malformed("`participant.identity` is missing".into()))
        );
    }

    #[test]
    fn track_sources_are_read_by_name_or_number_and_default_to_unknown() {
        assert_eq!(track_source(&json!("SCREEN_SHARE")), "screen_share");
        assert_eq!(track_source(&json!(2)), "microphone");
        assert_eq!(track_source(&Value::Null), "unknown");
        assert_eq!(track_source(&json!("FUTURE_SOURCE")), "unknown");
    }

    #[test]
    fn retries_back_off_exponentially_up_to_a_minute() {
        let delays: Vec<u64> = (1..=9).map(|n| retry_delay(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
    }
}
