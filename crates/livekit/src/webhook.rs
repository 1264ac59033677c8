//! Verifying LiveKit's webhooks.
//!
//! LiveKit signs each webhook with a JWT in the `Authorization` header (raw,
//! no `Bearer` prefix; one is accepted if a proxy adds it). The token is
//! HS256 with our API secret, issued by our API key, short-lived, and carries
//! a base64 SHA-256 of the exact body bytes. The official `WebhookReceiver`
//! compares that hash with `!=` and accepts tokens without an issuer, so the
//! checks are composed here from its `TokenVerifier` instead.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::errors::ErrorKind;
use livekit_api::access_token::{AccessTokenError, TokenVerifier};
use livekit_protocol::WebhookEvent;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// Why a webhook was refused. None of these is worth a retry by LiveKit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// No `Authorization` header.
    #[error("no Authorization header")]
    MissingAuthorization,
    /// The header is not a JWT we can read.
    #[error("the token is malformed")]
    MalformedToken,
    /// The signature does not match our secret.
    #[error("the token's signature is invalid")]
    BadSignature,
    /// The token expired (beyond the clock leeway).
    #[error("the token has expired")]
    Expired,
    /// The token is not valid yet (beyond the clock leeway).
    #[error("the token is not valid yet")]
    NotYetValid,
    /// A required claim is absent.
    #[error("the token has no {0} claim")]
    MissingClaim(&'static str),
    /// Issued by another API key.
    #[error("the token was issued by another API key")]
    WrongIssuer,
    /// The body is not the one that was signed.
    #[error("the body does not match the token's sha256 claim")]
    BodyMismatch,
    /// Signed correctly, but not a webhook event we can read.
    #[error("the body is not a LiveKit webhook event: {0}")]
    InvalidPayload(String),
}

/// Checks webhooks against our API key and secret.
#[derive(Clone)]
pub struct WebhookVerifier {
    api_key: String,
    tokens: TokenVerifier,
}

impl std::fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookVerifier")
            .field("api_key", &self.api_key)
            .finish_non_exhaustive()
    }
}

impl WebhookVerifier {
    /// A verifier for webhooks signed with `api_secret` and issued by `api_key`.
    pub fn new(api_key: &str, api_secret: &str) -> Self {
        Self {
            api_key: api_key.to_owned(),
            tokens: TokenVerifier::with_api_key(api_key, api_secret),
        }
    }

    /// Verifies `authorization` (the header's value) against the exact
    /// `body` bytes and parses the event.
    pub fn verify(
        &self,
        authorization: Option<&str>,
        body: &[u8],
    ) -> Result<WebhookEvent, WebhookError> {
        self.authenticate(authorization, body)?;
        serde_json::from_slice(body).map_err(|e| WebhookError::InvalidPayload(e.to_string()))
    }

    /// Verifies that LiveKit signed exactly these `body` bytes, without
    /// reading them: an event a newer LiveKit sends (with enum values this
    /// version does not know) is still accepted and stored.
    pub fn authenticate(
        &self,
        authorization: Option<&str>,
        body: &[u8],
    ) -> Result<(), WebhookError> {
        self.check_token(authorization)?.check(body)
    }

    /// Verifies the `Authorization` header alone (signature, expiry,
    /// issuer, a body hash claimed), so a request that cannot be LiveKit's
    /// is refused before its body is read; [`SignedBody::check`] then
    /// checks the body.
    pub fn check_token(&self, authorization: Option<&str>) -> Result<SignedBody, WebhookError> {
        let header = authorization.map(str::trim).filter(|h| !h.is_empty());
        let header = header.ok_or(WebhookError::MissingAuthorization)?;
        let jwt = header.strip_prefix("Bearer ").unwrap_or(header).trim();

        // Signature, `exp` (required) and `nbf`, with jsonwebtoken's default
        // leeway of 60 s.
        let claims = self.tokens.verify(jwt).map_err(token_error)?;
        if claims.iss.is_empty() {
            return Err(WebhookError::MissingClaim("iss"));
        }
        if claims.iss != self.api_key {
            return Err(WebhookError::WrongIssuer);
        }
        if claims.sha256.is_empty() {
            return Err(WebhookError::MissingClaim("sha256"));
        }
        let sha256 = STANDARD
            .decode(&claims.sha256)
            .map_err(|_| WebhookError::BodyMismatch)?;
        Ok(SignedBody { sha256 })
    }
}

/// A webhook token that checked out: the SHA-256 it signed.
#[derive(Debug, Clone)]
pub struct SignedBody {
    sha256: Vec<u8>,
}

impl SignedBody {
    /// Whether `body` is exactly what was signed.
    pub fn check(&self, body: &[u8]) -> Result<(), WebhookError> {
        let actual = Sha256::digest(body);
        // Constant time, so timing does not reveal how much of a forged hash
        // was right.
        if bool::from(self.sha256.as_slice().ct_eq(actual.as_slice())) {
            Ok(())
        } else {
            Err(WebhookError::BodyMismatch)
        }
    }
}

fn token_error(e: AccessTokenError) -> WebhookError {
    match e {
        AccessTokenError::Encoding(e) => match e.kind() {
            ErrorKind::ExpiredSignature => WebhookError::Expired,
            ErrorKind::ImmatureSignature => WebhookError::NotYetValid,
            ErrorKind::InvalidSignature => WebhookError::BadSignature,
            ErrorKind::InvalidIssuer => WebhookError::WrongIssuer,
            ErrorKind::MissingRequiredClaim(claim) if claim == "exp" => {
                WebhookError::MissingClaim("exp")
            }
            _ => WebhookError::MalformedToken,
        },
        _ => WebhookError::MalformedToken,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use livekit_api::access_token::AccessToken;

    use super::*;

    const KEY: &str = "APIkey";
    const SECRET: &str = "a-secret-of-at-least-thirty-two-chars";
    const BODY: &[u8] = br#"{"event":"room_started","room":{"sid":"RM_1","name":"r"},"id":"EV_1","createdAt":"1700000000"}"#;

    fn hash(body: &[u8]) -> String {
        STANDARD.encode(Sha256::digest(body))
    }

    fn signed(key: &str, secret: &str, body: &[u8]) -> String {
        AccessToken::with_api_key(key, secret)
            .with_ttl(Duration::from_secs(300))
            .with_sha256(&hash(body))
            .to_jwt()
            .unwrap()
    }

    fn verifier() -> WebhookVerifier {
        WebhookVerifier::new(KEY, SECRET)
    }

    #[test]
    fn a_correctly_signed_webhook_is_accepted_raw_or_with_bearer() {
        let token = signed(KEY, SECRET, BODY);
        let event = verifier().verify(Some(&token), BODY).unwrap();
        assert_eq!(event.event, "room_started");
        assert_eq!(event.id, "EV_1");
        assert_eq!(event.created_at, 1_700_000_000);
        let with_bearer = format!("Bearer {token}");
        assert!(verifier().verify(Some(&with_bearer), BODY).is_ok());
    }

    #[test]
    fn a_missing_header_is_refused() {
        assert_eq!(
            verifier().verify(None, BODY),
            Err(WebhookError::MissingAuthorization)
        );
        assert_eq!(
            verifier().verify(Some("  "), BODY),
            Err(WebhookError::MissingAuthorization)
        );
    }

    #[test]
    fn a_tampered_body_is_refused() {
        let token = signed(KEY, SECRET, BODY);
        let tampered = String::from_utf8(BODY.to_vec())
            .unwrap()
            .replace("RM_1", "RM_2");
        assert_eq!(
            verifier().verify(Some(&token), tampered.as_bytes()),
            Err(WebhookError::BodyMismatch)
        );
    }

    #[test]
    fn another_secret_is_refused() {
        let token = signed(KEY, "another-secret-of-thirty-two-chars!!", BODY);
        assert_eq!(
            verifier().verify(Some(&token), BODY),
            Err(WebhookError::BadSignature)
        );
    }

    #[test]
    fn another_issuer_is_refused() {
        let token = signed("OtherKey", SECRET, BODY);
        assert_eq!(
            verifier().verify(Some(&token), BODY),
            Err(WebhookError::WrongIssuer)
        );
    }

    #[test]
    fn a_token_without_the_body_hash_is_refused() {
        let token = AccessToken::with_api_key(KEY, SECRET).to_jwt().unwrap();
        assert_eq!(
            verifier().verify(Some(&token), BODY),
            Err(WebhookError::MissingClaim("sha256"))
        );
    }

    #[test]
    fn garbage_is_a_malformed_token() {
        assert_eq!(
            verifier().verify(Some("not.a.jwt"), BODY),
            Err(WebhookError::MalformedToken)
        );
    }

    /// Signs claims by hand, to produce tokens the official builder never
    /// would (expired, no `exp`).
    fn raw_token(claims: serde_json::Value) -> String {
        use hmac::Mac as _;
        let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string());
        let mut mac = hmac::Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(format!("{header}.{payload}").as_bytes());
        let sig =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{header}.{payload}.{sig}")
    }

    fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    #[test]
    fn a_token_expired_beyond_the_leeway_is_refused_but_within_it_is_accepted() {
        let expired =
            raw_token(serde_json::json!({"iss": KEY, "exp": now() - 120, "sha256": hash(BODY)}));
        assert_eq!(
            verifier().verify(Some(&expired), BODY),
            Err(WebhookError::Expired)
        );
        let within =
            raw_token(serde_json::json!({"iss": KEY, "exp": now() - 30, "sha256": hash(BODY)}));
        assert!(verifier().verify(Some(&within), BODY).is_ok());
    }

    #[test]
    fn a_token_without_expiry_is_refused() {
        let forever = raw_token(serde_json::json!({"iss": KEY, "sha256": hash(BODY)}));
        assert_eq!(
            verifier().verify(Some(&forever), BODY),
            Err(WebhookError::MissingClaim("exp"))
        );
    }

    #[test]
    fn a_token_without_issuer_is_refused() {
        let anonymous = raw_token(serde_json::json!({"exp": now() + 60, "sha256": hash(BODY)}));
        assert_eq!(
            verifier().verify(Some(&anonymous), BODY),
            Err(WebhookError::MissingClaim("iss"))
        );
    }

    #[test]
    fn a_signed_body_that_is_not_an_event_is_refused() {
        let body = b"[1, 2, 3]";
        let token = signed(KEY, SECRET, body);
        assert!(matches!(
            verifier().verify(Some(&token), body),
            Err(WebhookError::InvalidPayload(_))
        ));
    }
}
