//! What each kind of participant may do in LiveKit, as pure functions: the
//! grants in the access tokens we mint, and the whole `ParticipantPermission`
//! we send when that changes live (granting or revoking the floor).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use livekit_api::access_token::{AccessToken, AccessTokenError, VideoGrants};
use livekit_protocol::{ParticipantPermission, TrackSource};

/// Who a LiveKit token is for. The identity prefix follows API.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Publishes camera, microphone and screen from the desktop app.
    Teacher,
    /// One learner at home: watches, talks only when given the floor.
    Learner,
    /// A classroom of learners behind one screen: same rights as a learner.
    Classroom,
    /// IT staff watching without being seen.
    Observer,
}

impl Role {
    /// The identity prefix for this role (`t-`, `l-`, `c-`, `o-`).
    pub fn identity_prefix(self) -> &'static str {
        match self {
            Self::Teacher => "t-",
            Self::Learner => "l-",
            Self::Classroom => "c-",
            Self::Observer => "o-",
        }
    }
}

/// The token sources for a teacher: LiveKit reads them case-insensitively
/// (it upper-cases them into `TrackSource` names).
const TEACHER_SOURCES: [&str; 4] = ["camera", "microphone", "screen_share", "screen_share_audio"];

/// The video grants for `role` in `room`.
///
/// A learner's or classroom's token never lets it publish media: speaking is
/// granted live through [`floor_permission`], so the decision stays with
/// Estrade and can be taken back at any moment.
pub fn video_grants(role: Role, room: &str) -> VideoGrants {
    let base = VideoGrants {
        room_join: true,
        room: room.to_owned(),
        ..Default::default()
    };
    match role {
        Role::Teacher => VideoGrants {
            can_publish: Some(true),
            can_publish_sources: TEACHER_SOURCES.iter().map(|s| (*s).to_owned()).collect(),
            can_publish_data: Some(true),
            can_subscribe: Some(true),
            can_update_own_metadata: Some(false),
            ..base
        },
        Role::Learner | Role::Classroom => VideoGrants {
            can_publish: Some(false),
            can_publish_data: Some(true),
            can_subscribe: Some(true),
            can_update_own_metadata: Some(false),
            ..base
        },
        Role::Observer => VideoGrants {
            can_publish: Some(false),
            can_publish_data: Some(false),
            can_subscribe: Some(true),
            can_update_own_metadata: Some(false),
            hidden: true,
            ..base
        },
    }
}

/// A signed LiveKit access token.
#[derive(Debug, Clone)]
pub struct MintedToken {
    /// The JWT to hand to the client.
    pub jwt: String,
    /// When it stops being accepted for a new connection.
    pub expires_at: SystemTime,
}

/// Everything a token says about its holder.
#[derive(Debug, Clone, Copy)]
pub struct TokenSpec<'a> {
    /// What the holder may do.
    pub role: Role,
    /// The room it joins.
    pub room: &'a str,
    /// The server-assigned identity.
    pub identity: &'a str,
    /// The display name other participants see.
    pub name: &'a str,
    /// How long the token is valid for a new connection.
    pub ttl: Duration,
}

/// Signs a token for `spec` with our API key and secret.
pub fn mint(
    api_key: &str,
    api_secret: &str,
    spec: TokenSpec<'_>,
) -> Result<MintedToken, AccessTokenError> {
    // The token's `exp` is computed from the clock when it is signed; ours
    // matches it to the second.
    let now = SystemTime::now();
    let whole_seconds = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let expires_at = UNIX_EPOCH + Duration::from_secs(whole_seconds) + spec.ttl;
    let jwt = AccessToken::with_api_key(api_key, api_secret)
        .with_identity(spec.identity)
        .with_name(spec.name)
        .with_ttl(spec.ttl)
        .with_grants(video_grants(spec.role, spec.room))
        .to_jwt()?;
    Ok(MintedToken { jwt, expires_at })
}

/// The whole permission of a learner or classroom, speaking or not.
///
/// LiveKit's `UpdateParticipant` overwrites every field, so this is always
/// complete: an omitted `can_subscribe` would silently deafen the learner.
/// Speaking means `can_publish` with exactly the microphone as source; an
/// empty source list with `can_publish` would mean *every* source.
pub fn floor_permission(speaking: bool) -> ParticipantPermission {
    ParticipantPermission {
        can_subscribe: true,
        can_publish: speaking,
        can_publish_data: true,
        can_publish_sources: if speaking {
            vec![TrackSource::Microphone as i32]
        } else {
            Vec::new()
        },
        hidden: false,
        can_update_metadata: false,
        ..Default::default()
    }
}

/// The whole permission a teacher holds (what its token grants).
pub fn teacher_permission() -> ParticipantPermission {
    ParticipantPermission {
        can_subscribe: true,
        can_publish: true,
        can_publish_data: true,
        can_publish_sources: vec![
            TrackSource::Camera as i32,
            TrackSource::Microphone as i32,
            TrackSource::ScreenShare as i32,
            TrackSource::ScreenShareAudio as i32,
        ],
        hidden: false,
        can_update_metadata: false,
        ..Default::default()
    }
}

/// The whole permission an observer holds (what its token grants): it
/// watches, unseen, and publishes nothing.
pub fn observer_permission() -> ParticipantPermission {
    ParticipantPermission {
        can_subscribe: true,
        can_publish: false,
        can_publish_data: false,
        can_publish_sources: Vec::new(),
        hidden: true,
        can_update_metadata: false,
        ..Default::default()
    }
}

/// A permission we refuse to send: `can_publish` with no source listed,
/// which LiveKit reads as "every source".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("can_publish with an empty source list would allow every source")]
pub struct UnboundedPublish;

/// Checks a permission before it is sent to LiveKit.
pub fn check_permission(permission: &ParticipantPermission) -> Result<(), UnboundedPublish> {
    if permission.can_publish && permission.can_publish_sources.is_empty() {
        Err(UnboundedPublish)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use livekit_api::access_token::TokenVerifier;

    use super::*;

    const KEY: &str = "APIkey";
    const SECRET: &str = "a-secret-of-at-least-thirty-two-chars";

    fn spec(role: Role) -> TokenSpec<'static> {
        TokenSpec {
            role,
            room: "estrade-room",
            identity: "l-abc123",
            name: "Ana",
            ttl: Duration::from_secs(900),
        }
    }

    fn decoded(role: Role) -> livekit_api::access_token::Claims {
        let token = mint(KEY, SECRET, spec(role)).unwrap();
        TokenVerifier::with_api_key(KEY, SECRET)
            .verify(&token.jwt)
            .unwrap()
    }

    #[test]
    fn a_teacher_token_publishes_camera_microphone_and_screen_and_subscribes() {
        let claims = decoded(Role::Teacher);
        let v = claims.video;
        assert!(v.room_join);
        assert_eq!(v.room, "estrade-room");
        assert_eq!(v.can_publish, Some(true));
        assert_eq!(
            v.can_publish_sources,
            ["camera", "microphone", "screen_share", "screen_share_audio"]
        );
        assert_eq!(v.can_publish_data, Some(true));
        assert_eq!(v.can_subscribe, Some(true));
        assert!(!v.room_admin && !v.hidden);
    }

    #[test]
    fn a_learner_or_classroom_token_never_publishes_media() {
        for role in [Role::Learner, Role::Classroom] {
            let v = decoded(role).video;
            assert!(v.room_join);
            assert_eq!(v.can_publish, Some(false), "{role:?}");
            assert!(v.can_publish_sources.is_empty());
            assert_eq!(v.can_subscribe, Some(true));
            assert_eq!(v.can_publish_data, Some(true), "the text channel");
            assert_eq!(v.can_update_own_metadata, Some(false));
            assert!(!v.room_admin && !v.room_create && !v.room_list && !v.hidden);
        }
    }

    #[test]
    fn an_observer_token_only_subscribes_hidden() {
        let v = decoded(Role::Observer).video;
        assert_eq!(v.can_subscribe, Some(true));
        assert!(v.hidden);
        assert_eq!(v.can_publish, Some(false));
        assert_eq!(v.can_publish_data, Some(false));
    }

    #[test]
    fn a_token_carries_identity_name_issuer_and_expiry() {
        let claims = decoded(Role::Learner);
        assert_eq!(claims.sub, "l-abc123");
        assert_eq!(claims.name, "Ana");
        assert_eq!(claims.iss, KEY);
        let token = mint(KEY, SECRET, spec(Role::Learner)).unwrap();
        let exp = token
            .expires_at
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as usize;
        assert_eq!(claims.exp, exp);
        assert!(claims.exp - claims.nbf <= 901);
    }

    #[test]
    fn a_token_is_refused_by_a_verifier_with_another_secret() {
        let token = mint(KEY, SECRET, spec(Role::Teacher)).unwrap();
        let other = TokenVerifier::with_api_key(KEY, "another-secret-of-thirty-two-chars!!");
        assert!(other.verify(&token.jwt).is_err());
    }

    #[test]
    fn the_floor_permission_is_complete_and_bounded() {
        let speaking = floor_permission(true);
        assert!(speaking.can_publish && speaking.can_subscribe && speaking.can_publish_data);
        assert_eq!(
            speaking.can_publish_sources,
            [TrackSource::Microphone as i32]
        );
        check_permission(&speaking).unwrap();

        let silent = floor_permission(false);
        assert!(!silent.can_publish);
        assert!(silent.can_subscribe, "revoking the floor never deafens");
        assert!(silent.can_publish_data);
        check_permission(&silent).unwrap();
        check_permission(&teacher_permission()).unwrap();
    }

    #[test]
    fn publishing_with_no_source_listed_is_refused_before_it_reaches_livekit() {
        let unbounded = ParticipantPermission {
            can_publish: true,
            ..floor_permission(false)
        };
        assert_eq!(check_permission(&unbounded), Err(UnboundedPublish));
    }

    #[test]
    fn identity_prefixes_follow_the_api_contract() {
        let prefixes: Vec<_> = [
            Role::Teacher,
            Role::Learner,
            Role::Classroom,
            Role::Observer,
        ]
        .map(Role::identity_prefix)
        .to_vec();
        assert_eq!(prefixes, ["t-", "l-", "c-", "o-"]);
    }
}
