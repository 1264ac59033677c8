//! API keys: `estrade_` followed by 256 random bits, shown once and stored
//! only as a SHA-256 hash.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// Every key starts with this, so a leaked key is easy to recognise (and
/// for secret scanners to find).
pub const PREFIX: &str = "estrade_";

/// How many characters of the key are kept in clear to tell keys apart.
const DISPLAY_PREFIX_LEN: usize = PREFIX.len() + 6;

/// A freshly generated key: the plaintext to show once, and what to store.
#[derive(Debug)]
pub struct NewApiKey {
    /// The whole key; shown to its owner once, never stored.
    pub plaintext: SecretString,
    /// The first characters, stored to identify the key in listings.
    pub display_prefix: String,
    /// SHA-256 of the whole key, stored and looked up.
    pub hash: [u8; 32],
}

impl NewApiKey {
    /// Draws a new key from the operating system's random source.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let plaintext = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
        Self {
            display_prefix: plaintext[..DISPLAY_PREFIX_LEN].to_owned(),
            hash: hash(&plaintext),
            plaintext: SecretString::from(plaintext),
        }
    }

    /// The key, for the single place that shows it.
    pub fn expose(&self) -> &str {
        self.plaintext.expose_secret()
    }
}

/// The stored form of a key presented by a client.
pub fn hash(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_has_the_prefix_and_its_hash_matches() {
        let key = NewApiKey::generate();
        assert!(key.expose().starts_with("estrade_"));
        assert_eq!(key.expose().len(), PREFIX.len() + 43);
        assert!(key.expose().starts_with(&key.display_prefix));
        assert_eq!(hash(key.expose()), key.hash);
    }

    #[test]
    fn two_keys_differ() {
        assert_ne!(NewApiKey::generate().hash, NewApiKey::generate().hash);
    }

    #[test]
    fn debug_output_does_not_show_the_key() {
        let key = NewApiKey::generate();
        assert!(!format!("{key:?}").contains(key.expose()));
    }
}
