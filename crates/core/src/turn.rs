//! Short-lived TURN credentials, the "TURN REST API" scheme coturn
//! implements with `use-auth-secret`: the username is `expiry:identity`
//! (expiry in Unix seconds), the password the base64 HMAC-SHA1 of the
//! username keyed with the secret coturn shares. Nothing is stored: coturn
//! recomputes the password and refuses it after the expiry.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::{Hmac, Mac as _};
use sha1::Sha1;

/// A credential for one identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnCredential {
    /// `expiry:identity`.
    pub username: String,
    /// base64(HMAC-SHA1(secret, username)).
    pub password: String,
    /// When coturn stops accepting it.
    pub expires_at: SystemTime,
}

/// The credential of `identity` valid for `ttl` from `now`.
pub fn credential(secret: &[u8], identity: &str, now: SystemTime, ttl: Duration) -> TurnCredential {
    let expires_at = now + ttl;
    let expiry = expires_at
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let username = format!("{expiry}:{identity}");
    TurnCredential {
        password: password(secret, &username),
        username,
        expires_at: UNIX_EPOCH + Duration::from_secs(expiry),
    }
}

/// coturn's password for `username`.
pub fn password(secret: &[u8], username: &str) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(username.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values computed independently with Python's standard
    // library: base64.b64encode(hmac.new(secret, username, hashlib.sha1).digest()).
    #[test]
    fn the_password_matches_an_independent_hmac_sha1_computation() {
        assert_eq!(
            password(b"north", "1433895918:alice"),
            "RqMvcGPYTJMGThVLSi4amT4zFtI="
        );
        assert_eq!(
            password(b"estrade-turn-secret", "1767225600:l-0f8e"),
            "k8I3DY/Ssha6coigcrWS7MWh7/w="
        );
    }

    #[test]
    fn the_username_carries_the_expiry_then_the_identity() {
        let now = UNIX_EPOCH + Duration::from_secs(1_767_225_000);
        let c = credential(
            b"estrade-turn-secret",
            "l-0f8e",
            now,
            Duration::from_secs(600),
        );
        assert_eq!(c.username, "1767225600:l-0f8e");
        assert_eq!(c.password, "k8I3DY/Ssha6coigcrWS7MWh7/w=");
        assert_eq!(
            c.expires_at,
            UNIX_EPOCH + Duration::from_secs(1_767_225_600)
        );
    }
}
