//! The stand-in's rooms and participants, with LiveKit's semantics. Every
//! operation is synchronous and returns the webhook events it causes, in
//! the order LiveKit would send them.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use livekit_api::access_token::Claims;
use livekit_protocol::{
    self as proto, DisconnectReason, ParticipantInfo, ParticipantPermission, Room, TrackInfo,
    TrackSource, TrackType, WebhookEvent, participant_info,
};

use crate::twirp::TwirpError;

fn now() -> (i64, i64) {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_secs() as i64, d.as_millis() as i64)
}

/// One room and everyone in it.
#[derive(Debug, Clone, Default)]
pub(crate) struct RoomState {
    pub(crate) room: Room,
    /// By identity, in join order of identities.
    pub(crate) participants: BTreeMap<String, ParticipantInfo>,
    /// Data packets sent through SendData, for tests to read.
    pub(crate) data: Vec<proto::SendDataRequest>,
}

/// Everything the stand-in knows.
#[derive(Debug, Default)]
pub(crate) struct World {
    pub(crate) rooms: BTreeMap<String, RoomState>,
    next_sid: u64,
    pub(crate) auto_create_rooms: bool,
}

/// What an operation caused, to be sent as webhooks.
pub(crate) type Events = Vec<WebhookEvent>;

/// A webhook, shaped as LiveKit v1.13.5 sends it (checked by
/// `tests/tests/stub_fidelity.rs`): the room without its counts; a
/// participant without its tracks; for a track event, only the names and
/// sids of its room and participant.
fn event(
    kind: &str,
    room: &Room,
    participant: Option<&ParticipantInfo>,
    track: Option<&TrackInfo>,
) -> WebhookEvent {
    let (room, participant) = if track.is_some() {
        (
            Room {
                name: room.name.clone(),
                sid: room.sid.clone(),
                ..Room::default()
            },
            participant.map(|p| ParticipantInfo {
                identity: p.identity.clone(),
                sid: p.sid.clone(),
                ..ParticipantInfo::default()
            }),
        )
    } else {
        (
            Room {
                num_participants: 0,
                num_publishers: 0,
                ..room.clone()
            },
            participant.map(|p| ParticipantInfo {
                tracks: Vec::new(),
                ..p.clone()
            }),
        )
    };
    WebhookEvent {
        event: kind.to_owned(),
        room: Some(room),
        participant,
        track: track.cloned(),
        // Filled in when the event is queued for delivery.
        id: String::new(),
        created_at: now().0,
        ..Default::default()
    }
}

/// A participant leaves for `reason`: each of its tracks is unpublished
/// first, as LiveKit reports it.
fn departure(kind: &str, room: &Room, p: &ParticipantInfo, reason: DisconnectReason) -> Events {
    let gone = ParticipantInfo {
        disconnect_reason: reason as i32,
        state: participant_info::State::Disconnected as i32,
        ..p.clone()
    };
    p.tracks
        .iter()
        .map(|track| event("track_unpublished", room, Some(p), Some(track)))
        .chain([event(kind, room, Some(&gone), None)])
        .collect()
}

fn not_found(what: &str) -> TwirpError {
    TwirpError::new("not_found", format!("{what} does not exist"))
}

/// Parses a token grant's source name ("microphone", "SCREEN_SHARE").
fn source_from_grant(name: &str) -> Option<TrackSource> {
    TrackSource::from_str_name(&name.to_ascii_uppercase())
}

/// Whether `permission` lets its holder publish `source`. An empty source
/// list means every source, as in LiveKit.
pub(crate) fn may_publish(permission: &ParticipantPermission, source: TrackSource) -> bool {
    permission.can_publish
        && (permission.can_publish_sources.is_empty()
            || permission.can_publish_sources.contains(&(source as i32)))
}

impl World {
    fn sid(&mut self, prefix: &str) -> String {
        self.next_sid += 1;
        format!("{prefix}_{:012}", self.next_sid)
    }

    fn room_mut(&mut self, name: &str) -> Result<&mut RoomState, TwirpError> {
        self.rooms
            .get_mut(name)
            .ok_or_else(|| not_found("requested room"))
    }

    fn participant_mut<'a>(
        state: &'a mut RoomState,
        identity: &str,
    ) -> Result<&'a mut ParticipantInfo, TwirpError> {
        state
            .participants
            .get_mut(identity)
            .ok_or_else(|| not_found("participant"))
    }

    fn refresh_counts(state: &mut RoomState) {
        state.room.num_participants = state.participants.len() as u32;
        state.room.num_publishers = state
            .participants
            .values()
            .filter(|p| p.is_publisher)
            .count() as u32;
    }

    /// CreateRoom: idempotent; a new room emits `room_started`.
    pub(crate) fn create_room(
        &mut self,
        req: proto::CreateRoomRequest,
    ) -> Result<(Room, Events), TwirpError> {
        if req.name.is_empty() {
            return Err(TwirpError::new("invalid_argument", "room name is required"));
        }
        if let Some(existing) = self.rooms.get(&req.name) {
            return Ok((existing.room.clone(), Vec::new()));
        }
        let (secs, millis) = now();
        let room = Room {
            sid: self.sid("RM"),
            name: req.name.clone(),
            empty_timeout: req.empty_timeout,
            departure_timeout: req.departure_timeout,
            max_participants: req.max_participants,
            creation_time: secs,
            creation_time_ms: millis,
            metadata: req.metadata,
            ..Default::default()
        };
        let events = vec![event("room_started", &room, None, None)];
        self.rooms.insert(
            req.name,
            RoomState {
                room: room.clone(),
                ..Default::default()
            },
        );
        Ok((room, events))
    }

    /// DeleteRoom: everyone leaves, then `room_finished`.
    pub(crate) fn delete_room(&mut self, name: &str) -> Result<Events, TwirpError> {
        let state = self
            .rooms
            .remove(name)
            .ok_or_else(|| not_found("requested room"))?;
        let mut events: Events = state
            .participants
            .values()
            .flat_map(|p| {
                departure(
                    "participant_left",
                    &state.room,
                    p,
                    DisconnectReason::RoomDeleted,
                )
            })
            .collect();
        events.push(event("room_finished", &state.room, None, None));
        Ok(events)
    }

    /// Rooms by name (all when `names` is empty).
    pub(crate) fn list_rooms(&self, names: &[String]) -> Vec<Room> {
        self.rooms
            .values()
            .filter(|r| names.is_empty() || names.contains(&r.room.name))
            .map(|r| r.room.clone())
            .collect()
    }

    /// ListParticipants: a room that does not exist has no participants
    /// (LiveKit v1.13.5 answers an empty list, not `not_found`).
    pub(crate) fn list_participants(&self, room: &str) -> Vec<ParticipantInfo> {
        self.rooms
            .get(room)
            .map(|state| state.participants.values().cloned().collect())
            .unwrap_or_default()
    }

    pub(crate) fn get_participant(
        &self,
        room: &str,
        identity: &str,
    ) -> Result<ParticipantInfo, TwirpError> {
        let state = self
            .rooms
            .get(room)
            .ok_or_else(|| not_found("requested room"))?;
        state
            .participants
            .get(identity)
            .cloned()
            .ok_or_else(|| not_found("participant"))
    }

    /// RemoveParticipant: disconnects it (`participant_left`). Like LiveKit
    /// v1.13.5, it ignores `revoke_token_ts`: the removed client may
    /// reconnect with the token it has (Estrade removes it again).
    pub(crate) fn remove_participant(
        &mut self,
        req: &proto::RoomParticipantIdentity,
    ) -> Result<Events, TwirpError> {
        let state = self.room_mut(&req.room)?;
        let p = state
            .participants
            .remove(&req.identity)
            .ok_or_else(|| not_found("participant"))?;
        Self::refresh_counts(state);
        Ok(departure(
            "participant_left",
            &state.room,
            &p,
            DisconnectReason::ParticipantRemoved,
        ))
    }

    /// UpdateParticipant: a given permission replaces the whole permission
    /// (every field), and tracks of sources no longer allowed are
    /// unpublished, as LiveKit does.
    pub(crate) fn update_participant(
        &mut self,
        req: proto::UpdateParticipantRequest,
    ) -> Result<(ParticipantInfo, Events), TwirpError> {
        let state = self.room_mut(&req.room)?;
        let room = state.room.clone();
        let p = Self::participant_mut(state, &req.identity)?;
        let mut events = Events::new();
        if let Some(permission) = req.permission {
            let (kept, removed): (Vec<TrackInfo>, Vec<TrackInfo>) =
                std::mem::take(&mut p.tracks).into_iter().partition(|t| {
                    TrackSource::try_from(t.source).is_ok_and(|s| may_publish(&permission, s))
                });
            p.tracks = kept;
            // LiveKit: a publisher is one that may publish (and whose
            // publishing connection is up, as a connected client's is).
            p.is_publisher = permission.can_publish;
            p.permission = Some(permission);
            for track in &removed {
                events.push(event("track_unpublished", &room, Some(p), Some(track)));
            }
        }
        if !req.metadata.is_empty() {
            p.metadata = req.metadata;
        }
        if !req.name.is_empty() {
            p.name = req.name;
        }
        for (k, v) in req.attributes {
            if v.is_empty() {
                p.attributes.remove(&k);
            } else {
                p.attributes.insert(k, v);
            }
        }
        p.version += 1;
        let info = p.clone();
        Self::refresh_counts(state);
        Ok((info, events))
    }

    /// MutePublishedTrack.
    pub(crate) fn mute_track(
        &mut self,
        req: &proto::MuteRoomTrackRequest,
    ) -> Result<TrackInfo, TwirpError> {
        let state = self.room_mut(&req.room)?;
        let p = Self::participant_mut(state, &req.identity)?;
        let track = p
            .tracks
            .iter_mut()
            .find(|t| t.sid == req.track_sid)
            .ok_or_else(|| not_found("track"))?;
        track.muted = req.muted;
        let track = track.clone();
        p.version += 1;
        Ok(track)
    }

    pub(crate) fn update_room_metadata(
        &mut self,
        req: proto::UpdateRoomMetadataRequest,
    ) -> Result<Room, TwirpError> {
        let state = self.room_mut(&req.room)?;
        state.room.metadata = req.metadata;
        Ok(state.room.clone())
    }

    pub(crate) fn send_data(&mut self, req: proto::SendDataRequest) -> Result<(), TwirpError> {
        let state = self.room_mut(&req.room)?;
        state.data.push(req);
        Ok(())
    }

    /// A client connects with `claims` from a token LiveKit would accept.
    /// Its permission is derived from the token's grants.
    pub(crate) fn connect(
        &mut self,
        claims: &Claims,
    ) -> Result<(ParticipantInfo, Events), TwirpError> {
        let v = &claims.video;
        if !v.room_join || v.room.is_empty() {
            return Err(TwirpError::new(
                "permission_denied",
                "token has no roomJoin grant",
            ));
        }
        if claims.sub.is_empty() {
            return Err(TwirpError::new("invalid_argument", "token has no identity"));
        }
        let mut events = Events::new();
        if !self.rooms.contains_key(&v.room) {
            if !self.auto_create_rooms {
                return Err(TwirpError::new(
                    "not_found",
                    "requested room does not exist",
                ));
            }
            let req = proto::CreateRoomRequest {
                name: v.room.clone(),
                ..Default::default()
            };
            events.extend(self.create_room(req)?.1);
        }
        let mut sources = Vec::new();
        for name in &v.can_publish_sources {
            let source = source_from_grant(name).ok_or_else(|| {
                TwirpError::new("invalid_argument", format!("unknown source {name:?}"))
            })?;
            sources.push(source as i32);
        }
        let permission = ParticipantPermission {
            can_subscribe: v.can_subscribe(),
            can_publish: v.can_publish(),
            can_publish_data: v.can_publish_data(),
            can_publish_sources: sources,
            hidden: v.hidden,
            can_update_metadata: v.can_update_own_metadata(),
            ..Default::default()
        };
        let sid = self.sid("PA");
        let state = self
            .rooms
            .get_mut(&v.room)
            .expect("room exists or was just created");
        let max = state.room.max_participants as usize;
        let replacing = state.participants.contains_key(&claims.sub);
        if max > 0 && !replacing && state.participants.len() >= max {
            return Err(TwirpError::new("resource_exhausted", "room is full"));
        }
        // A second connection with the same identity replaces the first.
        if let Some(old) = state.participants.remove(&claims.sub) {
            events.push(event("participant_left", &state.room, Some(&old), None));
        }
        let (secs, millis) = now();
        let info = ParticipantInfo {
            sid,
            identity: claims.sub.clone(),
            name: claims.name.clone(),
            metadata: claims.metadata.clone(),
            attributes: claims.attributes.clone(),
            state: participant_info::State::Active as i32,
            joined_at: secs,
            joined_at_ms: millis,
            version: 1,
            permission: Some(permission),
            kind: participant_info::Kind::Standard as i32,
            ..Default::default()
        };
        state.participants.insert(claims.sub.clone(), info.clone());
        Self::refresh_counts(state);
        events.push(event("participant_joined", &state.room, Some(&info), None));
        Ok((info, events))
    }

    /// A client disconnects (`participant_left`), or its connection drops
    /// before it fully joined (`participant_connection_aborted`).
    pub(crate) fn disconnect(
        &mut self,
        room: &str,
        identity: &str,
        aborted: bool,
    ) -> Result<Events, TwirpError> {
        let state = self.room_mut(room)?;
        let p = state
            .participants
            .remove(identity)
            .ok_or_else(|| not_found("participant"))?;
        Self::refresh_counts(state);
        let (kind, reason) = if aborted {
            (
                "participant_connection_aborted",
                DisconnectReason::UnknownReason,
            )
        } else {
            ("participant_left", DisconnectReason::ClientInitiated)
        };
        Ok(departure(kind, &state.room, &p, reason))
    }

    /// A client publishes a track; refused unless its permission allows
    /// the source.
    pub(crate) fn publish(
        &mut self,
        room: &str,
        identity: &str,
        source: TrackSource,
        name: &str,
    ) -> Result<(TrackInfo, Events), TwirpError> {
        let sid = self.sid("TR");
        let state = self.room_mut(room)?;
        let room_info = state.room.clone();
        let p = Self::participant_mut(state, identity)?;
        let permission = p.permission.clone().unwrap_or_default();
        if !may_publish(&permission, source) {
            return Err(TwirpError::new(
                "permission_denied",
                format!("not allowed to publish {}", source.as_str_name()),
            ));
        }
        let kind = match source {
            TrackSource::Microphone | TrackSource::ScreenShareAudio => TrackType::Audio,
            _ => TrackType::Video,
        };
        let track = TrackInfo {
            sid,
            r#type: kind as i32,
            name: name.to_owned(),
            source: source as i32,
            ..Default::default()
        };
        p.tracks.push(track.clone());
        p.is_publisher = true;
        p.version += 1;
        let events = vec![event("track_published", &room_info, Some(p), Some(&track))];
        Self::refresh_counts(state);
        Ok((track, events))
    }

    /// A client stops publishing a track.
    pub(crate) fn unpublish(
        &mut self,
        room: &str,
        identity: &str,
        track_sid: &str,
    ) -> Result<Events, TwirpError> {
        let state = self.room_mut(room)?;
        let room_info = state.room.clone();
        let p = Self::participant_mut(state, identity)?;
        let index = p
            .tracks
            .iter()
            .position(|t| t.sid == track_sid)
            .ok_or_else(|| not_found("track"))?;
        let track = p.tracks.remove(index);
        p.is_publisher = !p.tracks.is_empty();
        p.version += 1;
        let events = vec![event(
            "track_unpublished",
            &room_info,
            Some(p),
            Some(&track),
        )];
        Self::refresh_counts(state);
        Ok(events)
    }
}

#[cfg(test)]
mod tests {
    use livekit_api::access_token::VideoGrants;

    use super::*;

    fn claims(identity: &str, grants: VideoGrants) -> Claims {
        Claims {
            sub: identity.to_owned(),
            nbf: now().0 as usize,
            video: grants,
            ..Default::default()
        }
    }

    fn world_with_room() -> World {
        let mut w = World::default();
        w.create_room(proto::CreateRoomRequest {
            name: "r".into(),
            ..Default::default()
        })
        .unwrap();
        w
    }

    fn learner() -> VideoGrants {
        VideoGrants {
            room_join: true,
            room: "r".into(),
            can_publish: Some(false),
            ..Default::default()
        }
    }

    #[test]
    fn an_empty_source_list_with_can_publish_means_every_source() {
        let all = ParticipantPermission {
            can_publish: true,
            ..Default::default()
        };
        assert!(may_publish(&all, TrackSource::Camera));
        let mic = ParticipantPermission {
            can_publish: true,
            can_publish_sources: vec![TrackSource::Microphone as i32],
            ..Default::default()
        };
        assert!(may_publish(&mic, TrackSource::Microphone));
        assert!(!may_publish(&mic, TrackSource::Camera));
        assert!(!may_publish(
            &ParticipantPermission::default(),
            TrackSource::Microphone
        ));
    }

    #[test]
    fn update_participant_overwrites_every_permission_field() {
        let mut w = world_with_room();
        let grants = VideoGrants {
            can_subscribe: Some(true),
            can_publish_data: Some(true),
            ..learner()
        };
        w.connect(&claims("l-1", grants)).unwrap();
        let req = proto::UpdateParticipantRequest {
            room: "r".into(),
            identity: "l-1".into(),
            permission: Some(ParticipantPermission {
                can_publish: false,
                ..Default::default()
            }),
            ..Default::default()
        };
        let (info, _) = w.update_participant(req).unwrap();
        let p = info.permission.unwrap();
        assert!(
            !p.can_subscribe,
            "an omitted can_subscribe is false afterwards"
        );
        assert!(!p.can_publish_data);
    }

    #[test]
    fn revoking_a_source_unpublishes_its_tracks() {
        let mut w = world_with_room();
        let grants = VideoGrants {
            can_publish: Some(true),
            can_publish_sources: vec!["microphone".into()],
            ..learner()
        };
        w.connect(&claims("l-1", grants)).unwrap();
        let (track, _) = w
            .publish("r", "l-1", TrackSource::Microphone, "mic")
            .unwrap();
        let req = proto::UpdateParticipantRequest {
            room: "r".into(),
            identity: "l-1".into(),
            permission: Some(ParticipantPermission {
                can_subscribe: true,
                ..Default::default()
            }),
            ..Default::default()
        };
        let (info, events) = w.update_participant(req).unwrap();
        assert!(info.tracks.is_empty());
        assert!(!info.is_publisher);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].event, "track_unpublished");
        assert_eq!(events[0].track.as_ref().unwrap().sid, track.sid);
    }

    #[test]
    fn a_token_without_publish_rights_cannot_publish() {
        let mut w = world_with_room();
        w.connect(&claims("l-1", learner())).unwrap();
        let refused = w
            .publish("r", "l-1", TrackSource::Microphone, "mic")
            .unwrap_err();
        assert_eq!(refused.code(), "permission_denied");
    }

    #[test]
    fn joining_a_room_that_does_not_exist_is_refused_unless_auto_create_is_on() {
        let mut w = World::default();
        assert_eq!(
            w.connect(&claims("l-1", learner())).unwrap_err().code(),
            "not_found"
        );
        w.auto_create_rooms = true;
        let (_, events) = w.connect(&claims("l-1", learner())).unwrap();
        let kinds: Vec<_> = events.iter().map(|e| e.event.as_str()).collect();
        assert_eq!(kinds, ["room_started", "participant_joined"]);
    }

    #[test]
    fn a_removed_participant_can_reconnect_with_its_token_as_on_the_real_server() {
        let mut w = world_with_room();
        let token = claims("l-1", learner());
        w.connect(&token).unwrap();
        let req = proto::RoomParticipantIdentity {
            room: "r".into(),
            identity: "l-1".into(),
            revoke_token_ts: now().0 + 1,
        };
        let events = w.remove_participant(&req).unwrap();
        assert_eq!(events[0].event, "participant_left");
        assert!(w.connect(&token).is_ok(), "revoke_token_ts is ignored");
    }

    #[test]
    fn deleting_a_room_emits_participant_left_for_each_then_room_finished() {
        let mut w = world_with_room();
        w.connect(&claims("l-1", learner())).unwrap();
        w.connect(&claims("l-2", learner())).unwrap();
        let kinds: Vec<_> = w
            .delete_room("r")
            .unwrap()
            .iter()
            .map(|e| e.event.clone())
            .collect();
        assert_eq!(
            kinds,
            ["participant_left", "participant_left", "room_finished"]
        );
        assert!(w.rooms.is_empty());
    }

    #[test]
    fn a_full_room_refuses_another_participant() {
        let mut w = World::default();
        w.create_room(proto::CreateRoomRequest {
            name: "r".into(),
            max_participants: 1,
            ..Default::default()
        })
        .unwrap();
        w.connect(&claims("l-1", learner())).unwrap();
        assert_eq!(
            w.connect(&claims("l-2", learner())).unwrap_err().code(),
            "resource_exhausted"
        );
    }
}
