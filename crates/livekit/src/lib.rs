//! The gateway to LiveKit: the only crate that talks to the SFU. It wraps
//! the official `livekit-api` client, puts a deadline on every call and maps
//! LiveKit's Twirp errors to [`Error`], so callers can tell "the room is
//! gone" from "LiveKit is down". Token grants and permissions are pure
//! functions in [`grants`]; webhook verification is in [`webhook`].

pub mod grants;
pub mod server;
pub mod webhook;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use estrade_core::config::LiveKitConfig;
use livekit_api::services::room::{
    CreateRoomOptions, RemoveParticipantOptions, RoomClient, UpdateParticipantOptions,
};
use livekit_api::services::{ServerError, ServiceError};
use livekit_protocol::{ParticipantInfo, ParticipantPermission, Room, TrackSource};

pub use grants::{MintedToken, Role, TokenSpec};
pub use livekit_protocol as proto;
pub use webhook::{WebhookError, WebhookVerifier};

/// Why a LiveKit call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The room or participant does not exist (Twirp `not_found`).
    #[error("not found in LiveKit")]
    NotFound,
    /// LiveKit refused our credentials (`unauthenticated`, `permission_denied`).
    #[error("LiveKit refused our credentials ({0})")]
    Unauthorized(String),
    /// LiveKit refused the request itself (`invalid_argument`, …).
    #[error("LiveKit refused the request: {code}")]
    Rejected {
        /// Twirp error code.
        code: String,
    },
    /// LiveKit did not answer in time, could not be reached, or answered
    /// with an error on its side: worth retrying later.
    #[error("LiveKit is unavailable: {0}")]
    Unavailable(String),
    /// We refused to send a permission LiveKit would misread.
    #[error(transparent)]
    UnsafePermission(#[from] grants::UnboundedPublish),
    /// A token could not be signed (empty key or secret, missing identity).
    #[error("cannot sign a LiveKit token: {0}")]
    Token(String),
}

impl Error {
    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

impl Error {
    fn from_service(e: ServiceError) -> Self {
        match e {
            ServiceError::Twirp(ServerError::Twirp(twirp)) => match twirp.code.as_str() {
                "not_found" => Self::NotFound,
                "unauthenticated" | "permission_denied" => Self::Unauthorized(twirp.code),
                "unavailable" | "internal" | "unknown" | "deadline_exceeded"
                | "resource_exhausted" | "aborted" | "dataloss" => Self::Unavailable(twirp.code),
                _ => Self::Rejected { code: twirp.code },
            },
            // Transport errors, timeouts, and non-Twirp bodies (a proxy's 502).
            other => Self::Unavailable(other.to_string()),
        }
    }
}

/// A handle on LiveKit's server API. Cheap to clone.
#[derive(Clone)]
pub struct Gateway {
    rooms: Arc<RoomClient>,
    timeout: Duration,
    api_key: String,
    api_secret: Arc<str>,
    token_ttl: Duration,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("api_key", &self.api_key)
            .finish_non_exhaustive()
    }
}

/// Settings of a room we create.
#[derive(Debug, Clone, Copy)]
pub struct RoomSettings {
    /// Most participants LiveKit admits (teacher + learners + observers).
    pub max_participants: u32,
    /// Seconds LiveKit keeps an empty room before closing it.
    pub empty_timeout_s: u32,
}

impl Gateway {
    /// Builds the gateway; no connection is made until the first call.
    pub fn new(config: &LiveKitConfig) -> Self {
        let rooms =
            RoomClient::with_api_key(&config.api_url(), &config.api_key, config.expose_secret())
                .with_request_timeout(config.request_timeout);
        Self {
            rooms: Arc::new(rooms),
            timeout: config.request_timeout,
            api_key: config.api_key.clone(),
            api_secret: Arc::from(config.expose_secret()),
            token_ttl: config.token_ttl,
        }
    }

    /// Signs an access token for `role` (see [`grants::video_grants`]),
    /// valid for the configured TTL.
    pub fn mint(
        &self,
        role: Role,
        room: &str,
        identity: &str,
        name: &str,
    ) -> Result<MintedToken, Error> {
        self.mint_within(role, room, identity, name, self.token_ttl)
    }

    /// Like [`Gateway::mint`], valid for at most `longest` (never longer
    /// than the configured TTL).
    pub fn mint_within(
        &self,
        role: Role,
        room: &str,
        identity: &str,
        name: &str,
        longest: Duration,
    ) -> Result<MintedToken, Error> {
        let spec = TokenSpec {
            role,
            room,
            identity,
            name,
            ttl: longest.min(self.token_ttl),
        };
        grants::mint(&self.api_key, &self.api_secret, spec).map_err(|e| Error::Token(e.to_string()))
    }

    /// A verifier for webhooks signed with the same credentials.
    pub fn webhook_verifier(&self) -> WebhookVerifier {
        WebhookVerifier::new(&self.api_key, &self.api_secret)
    }

    /// Runs one call under our own deadline as well as the client's, so no
    /// call can hang longer than the configured timeout.
    async fn call<T>(
        &self,
        fut: impl Future<Output = Result<T, ServiceError>>,
    ) -> Result<T, Error> {
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(result) => result.map_err(Error::from_service),
            Err(_) => Err(Error::Unavailable("timed out".to_owned())),
        }
    }

    /// Creates `room`, or returns it if it exists (LiveKit's CreateRoom is
    /// idempotent).
    pub async fn create_room(&self, room: &str, settings: RoomSettings) -> Result<Room, Error> {
        let options = CreateRoomOptions {
            max_participants: settings.max_participants,
            empty_timeout: settings.empty_timeout_s,
            // LiveKit's default closes a room 20 s after its last
            // participant leaves: a network blip of the whole class would
            // end the session. Wait as long as for a room never joined.
            departure_timeout: settings.empty_timeout_s,
            ..Default::default()
        };
        self.call(self.rooms.create_room(room, options)).await
    }

    /// Deletes `room`, disconnecting everyone in it. [`Error::NotFound`]
    /// when it does not exist.
    pub async fn delete_room(&self, room: &str) -> Result<(), Error> {
        self.call(self.rooms.delete_room(room)).await
    }

    /// Lists rooms: all of them when `names` is empty.
    pub async fn list_rooms(&self, names: Vec<String>) -> Result<Vec<Room>, Error> {
        self.call(self.rooms.list_rooms(names)).await
    }

    /// Everyone in `room`.
    pub async fn list_participants(&self, room: &str) -> Result<Vec<ParticipantInfo>, Error> {
        self.call(self.rooms.list_participants(room)).await
    }

    /// One participant of `room`.
    pub async fn get_participant(
        &self,
        room: &str,
        identity: &str,
    ) -> Result<ParticipantInfo, Error> {
        self.call(self.rooms.get_participant(room, identity)).await
    }

    /// Disconnects a participant and invalidates every token issued to that
    /// identity before `revoke_before`, so it cannot reconnect with one.
    pub async fn remove_participant(
        &self,
        room: &str,
        identity: &str,
        revoke_before: SystemTime,
    ) -> Result<(), Error> {
        // Unix seconds: LiveKit compares it with the token's `nbf`, which is
        // in seconds (the Rust SDK's doc comment says milliseconds; the
        // protocol's says "nbf before this value").
        let revoke_token_ts = revoke_before
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs() as i64;
        let options = RemoveParticipantOptions { revoke_token_ts };
        self.call(
            self.rooms
                .remove_participant_with_options(room, identity, options),
        )
        .await
    }

    /// Replaces a participant's whole permission. Refuses, without calling
    /// LiveKit, a permission that would let it publish every source.
    pub async fn set_permission(
        &self,
        room: &str,
        identity: &str,
        permission: ParticipantPermission,
    ) -> Result<ParticipantInfo, Error> {
        grants::check_permission(&permission)?;
        let options = UpdateParticipantOptions {
            permission: Some(permission),
            ..Default::default()
        };
        self.call(self.rooms.update_participant(room, identity, options))
            .await
    }

    /// Gives a learner the floor: its usual rights plus the microphone.
    pub async fn grant_floor(&self, room: &str, identity: &str) -> Result<ParticipantInfo, Error> {
        self.set_permission(room, identity, grants::floor_permission(true))
            .await
    }

    /// Takes the floor back: no publishing, then every microphone track it
    /// still has is muted at the SFU. Returns how many tracks were muted.
    pub async fn revoke_floor(&self, room: &str, identity: &str) -> Result<usize, Error> {
        let info = self
            .set_permission(room, identity, grants::floor_permission(false))
            .await?;
        let mut muted = 0;
        for track in &info.tracks {
            if track.source == TrackSource::Microphone as i32 && !track.muted {
                self.mute_track(room, identity, &track.sid).await?;
                muted += 1;
            }
        }
        Ok(muted)
    }

    /// Mutes one published track at the SFU.
    pub async fn mute_track(
        &self,
        room: &str,
        identity: &str,
        track_sid: &str,
    ) -> Result<(), Error> {
        // The SDK unwraps the response's track; LiveKit always sends it on
        // success, and the stand-in does too.
        self.call(
            self.rooms
                .mute_published_track(room, identity, track_sid, true),
        )
        .await
        .map(|_| ())
    }

    /// Sets participant attributes (merged by LiveKit; an empty value
    /// deletes a key). The permission is left as it is.
    pub async fn set_attributes(
        &self,
        room: &str,
        identity: &str,
        attributes: HashMap<String, String>,
    ) -> Result<ParticipantInfo, Error> {
        let options = UpdateParticipantOptions {
            attributes,
            ..Default::default()
        };
        self.call(self.rooms.update_participant(room, identity, options))
            .await
    }

    /// Checks that LiveKit answers an authenticated call (readiness).
    pub async fn ping(&self) -> Result<(), Error> {
        self.call(
            self.rooms
                .list_rooms(vec!["estrade-readiness-probe".to_owned()]),
        )
        .await
        .map(|_| ())
    }
}
