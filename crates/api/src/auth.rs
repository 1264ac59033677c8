//! Who is calling, as extractors. An `Authorization: Bearer` credential is
//! either an API key (`estrade_…`, an admin or teacher account) or a
//! participant token (our own short-lived JWT, bound to one participant of
//! one session). A request without `Authorization` may instead carry the
//! teacher console's sign-in cookie ([`crate::console`]): it stands for
//! the account whose key was exchanged for it, and a change made with it
//! must come from Estrade's own pages. Handlers name the caller they accept ([`Admin`], [`Staff`],
//! [`Caller`], [`ParticipantCaller`]) and check object access with
//! [`Caller::can_see`], which answers 404 rather than revealing existence.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use estrade_core::api_key;
use estrade_core::domain::AccountRole;
use hmac::{Hmac, Mac as _};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use uuid::Uuid;

use crate::AppState;
use crate::error::Error;

/// An authenticated account (what it may manage is the use cases' rule).
pub use estrade_app::Account as AccountCaller;

/// An authenticated participant.
#[derive(Debug, Clone, Copy)]
pub struct ParticipantCaller {
    /// The participant.
    pub participant_id: Uuid,
    /// Its session.
    pub session_id: Uuid,
    /// When its token expires (Unix seconds).
    pub expires_at: u64,
}

/// Any authenticated caller.
#[derive(Debug, Clone)]
pub enum Caller {
    /// An admin or teacher, by API key.
    Account(AccountCaller),
    /// A participant, by participant token.
    Participant(ParticipantCaller),
}

impl Caller {
    /// Whether this caller may see `session` (owned by `teacher_id`):
    /// admins see all, teachers their own, participants their own session.
    /// Otherwise 404, so existence is not revealed.
    pub fn can_see(&self, session_id: Uuid, teacher_id: Uuid) -> Result<(), Error> {
        let allowed = match self {
            Self::Account(a) => a.role == AccountRole::Admin || a.id == teacher_id,
            Self::Participant(p) => p.session_id == session_id,
        };
        if allowed {
            Ok(())
        } else {
            Err(Error::NotFound)
        }
    }

    /// The audit actor for this caller.
    pub fn actor(&self) -> estrade_db::audit::Actor {
        match self {
            Self::Account(a) => estrade_db::audit::Actor::Account(a.id),
            Self::Participant(p) => estrade_db::audit::Actor::Participant(p.participant_id),
        }
    }
}

fn bearer(parts: &Parts) -> Result<&str, Error> {
    let value = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or(Error::Unauthorized)?;
    let value = value.to_str().map_err(|_| Error::Unauthorized)?;
    let token = value
        .strip_prefix("Bearer ")
        .ok_or(Error::Unauthorized)?
        .trim();
    if token.is_empty() {
        Err(Error::Unauthorized)
    } else {
        Ok(token)
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        if !parts.headers.contains_key(AUTHORIZATION) {
            return console_caller(parts, state).await;
        }
        let token = bearer(parts)?;
        if token.starts_with(api_key::PREFIX) {
            let owner = estrade_db::accounts::authenticate(&state.deps.db, &api_key::hash(token))
                .await?
                .ok_or(Error::Unauthorized)?;
            return Ok(Self::Account(AccountCaller {
                id: owner.account_id,
                name: owner.name,
                role: owner.role,
            }));
        }
        let claims = state.settings.participant_tokens.verify(token)?;
        // A kicked participant's tokens die with the kick, and everyone's
        // with the session's end, not at expiry.
        let standing = estrade_db::participants::standing(&state.deps.db, claims.sub)
            .await?
            .ok_or(Error::Unauthorized)?;
        if standing.session_id != claims.sid {
            return Err(Error::Unauthorized);
        }
        if standing.kicked {
            return Err(Error::Revoked);
        }
        if standing.session_ended {
            return Err(Error::session_ended());
        }
        Ok(Self::Participant(ParticipantCaller {
            participant_id: claims.sub,
            session_id: claims.sid,
            expires_at: claims.exp,
        }))
    }
}

/// The account signed in to the console with the request's cookie; 401
/// without one, 403 for a change from a page that is not Estrade's.
async fn console_caller(parts: &Parts, state: &AppState) -> Result<Caller, Error> {
    let cookies = &state.settings.console;
    let token = cookies.token(&parts.headers).ok_or(Error::Unauthorized)?;
    cookies.check_origin(&parts.method, &parts.headers)?;
    let signed_in = estrade_db::console::authenticate(&state.deps.db, &api_key::hash(&token))
        .await?
        .ok_or(Error::Unauthorized)?;
    Ok(Caller::Account(AccountCaller {
        id: signed_in.account_id,
        name: signed_in.name,
        role: signed_in.role,
    }))
}

/// An admin account; any other credential gets 403.
#[derive(Debug, Clone)]
pub struct Admin(pub AccountCaller);

impl FromRequestParts<AppState> for Admin {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        match Caller::from_request_parts(parts, state).await? {
            Caller::Account(a) if a.role == AccountRole::Admin => Ok(Self(a)),
            _ => Err(Error::Forbidden),
        }
    }
}

/// An admin or teacher account; a participant token gets 403.
#[derive(Debug, Clone)]
pub struct Staff(pub AccountCaller);

impl FromRequestParts<AppState> for Staff {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        match Caller::from_request_parts(parts, state).await? {
            Caller::Account(a) => Ok(Self(a)),
            Caller::Participant(_) => Err(Error::Forbidden),
        }
    }
}

impl FromRequestParts<AppState> for ParticipantCaller {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        match Caller::from_request_parts(parts, state).await? {
            Caller::Participant(p) => Ok(p),
            Caller::Account(_) => Err(Error::Forbidden),
        }
    }
}

/// What a participant token says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ParticipantClaims {
    /// The participant.
    pub sub: Uuid,
    /// Its session.
    pub sid: Uuid,
    /// Issued at (Unix seconds).
    pub iat: u64,
    /// Expires at (Unix seconds).
    pub exp: u64,
    /// Always `estrade.participant`, so no other JWT signed with the same
    /// secret can pass for one.
    pub aud: String,
}

const AUDIENCE: &str = "estrade.participant";

/// The key of a session's join link (`join_url`'s `#k=…`): an HMAC of the
/// code under the participant-token secret, so only Estrade can make it,
/// it changes with the code, and it cannot be guessed as six digits can.
/// A join that brings it is not limited as a guess ([`crate::limits`]).
#[derive(Clone)]
pub struct JoinLinks {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for JoinLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinLinks").finish_non_exhaustive()
    }
}

/// Bytes of the HMAC kept in a link key (128 bits).
const LINK_KEY_BYTES: usize = 16;

impl JoinLinks {
    /// Link keys under `secret`.
    pub fn new(secret: &str) -> Self {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
        mac.update(b"estrade join link\0");
        Self { mac }
    }

    fn mac_of(&self, code: &str) -> Hmac<Sha256> {
        let mut mac = self.mac.clone();
        mac.update(code.as_bytes());
        mac
    }

    /// The key of `code`'s link (base64url, 22 characters).
    pub fn key(&self, code: &str) -> String {
        let tag = self.mac_of(code).finalize().into_bytes();
        URL_SAFE_NO_PAD.encode(&tag[..LINK_KEY_BYTES])
    }

    /// Whether `key` is `code`'s link key (in constant time).
    pub fn verify(&self, code: &str, key: &str) -> bool {
        let Ok(tag) = URL_SAFE_NO_PAD.decode(key) else {
            return false;
        };
        tag.len() == LINK_KEY_BYTES && self.mac_of(code).verify_truncated_left(&tag).is_ok()
    }
}

/// Signs and checks participant tokens (HS256, our own secret, separate
/// from LiveKit's).
#[derive(Clone)]
pub struct ParticipantTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl: Duration,
}

impl std::fmt::Debug for ParticipantTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParticipantTokens")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// A participant token and when it expires.
#[derive(Debug, Clone)]
pub struct SignedToken {
    /// The JWT.
    pub token: String,
    /// Its expiry.
    pub expires_at: SystemTime,
}

impl ParticipantTokens {
    /// Tokens signed with `secret`, valid for `ttl`.
    pub fn new(secret: &str, ttl: Duration) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            ttl,
        }
    }

    /// A token for `participant_id` of `session_id`.
    pub fn sign(&self, participant_id: Uuid, session_id: Uuid) -> Result<SignedToken, Error> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let exp = now + self.ttl.as_secs();
        let claims = ParticipantClaims {
            sub: participant_id,
            sid: session_id,
            iat: now,
            exp,
            aud: AUDIENCE.to_owned(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| anyhow::anyhow!("signing a participant token: {e}"))?;
        Ok(SignedToken {
            token,
            expires_at: UNIX_EPOCH + Duration::from_secs(exp),
        })
    }

    /// Checks signature, audience and expiry (5 s leeway).
    pub fn verify(&self, token: &str) -> Result<ParticipantClaims, Error> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "sub", "aud"]);
        jsonwebtoken::decode::<ParticipantClaims>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|_| Error::Unauthorized)
    }
}

/// The client's IP address: the TCP peer, or — when the peer is a trusted
/// proxy (Traefik) — the right-most address in `X-Forwarded-For` that is not
/// itself a trusted proxy. A client cannot spoof it by sending the header
/// directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .ok_or_else(|| anyhow::anyhow!("the server was started without connect info"))?;
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(",");
        Ok(Self(client_ip(
            peer,
            &forwarded,
            &state.settings.trusted_proxies,
        )))
    }
}

/// The pure rule behind [`ClientIp`].
pub fn client_ip(peer: IpAddr, forwarded_for: &str, trusted: &[ipnet::IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    forwarded_for
        .split(',')
        .rev()
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .find(|ip| !is_trusted(ip))
        .unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy() {
        let trusted = ["10.0.0.0/8".parse().unwrap()];
        assert_eq!(
            client_ip(ip("203.0.113.9"), "1.2.3.4", &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_ip(ip("10.0.0.2"), "1.2.3.4", &trusted),
            ip("1.2.3.4")
        );
        // A client-supplied left-most entry cannot win over the real one.
        assert_eq!(
            client_ip(ip("10.0.0.2"), "6.6.6.6, 1.2.3.4, 10.0.0.3", &trusted),
            ip("1.2.3.4")
        );
        assert_eq!(
            client_ip(ip("10.0.0.2"), "garbage", &trusted),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn participant_tokens_round_trip_and_refuse_another_secret() {
        let tokens = ParticipantTokens::new(
            "a-secret-of-at-least-thirty-two-bytes",
            Duration::from_secs(60),
        );
        let (p, s) = (Uuid::new_v4(), Uuid::new_v4());
        let signed = tokens.sign(p, s).unwrap();
        let claims = tokens.verify(&signed.token).unwrap();
        assert_eq!((claims.sub, claims.sid), (p, s));
        let other = ParticipantTokens::new(
            "another-secret-of-thirty-two-bytes!",
            Duration::from_secs(60),
        );
        assert!(other.verify(&signed.token).is_err());
        assert!(tokens.verify("estrade_not_a_jwt").is_err());
    }
}
