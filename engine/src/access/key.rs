//! API keys: `ct_<id>_<secret>`, generated from the operating system's
//! randomness, checked against the stored SHA-256 of the secret, and the
//! record kept of each ([`ApiKeyRecord`], never the key itself).

use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Role;

/// Every key starts with this, so a leaked key is easy to grep for.
pub const KEY_PREFIX: &str = "ct_";

/// An API key as stored: never the key itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    pub id: String,
    pub agency: String,
    pub holder: String,
    pub roles: Vec<Role>,
    pub secret_sha256: String,
    /// RFC 3339 UTC.
    pub expires_at: String,
    pub revoked_at: Option<String>,
}

/// A freshly made key: the whole key is shown once and never stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedKey {
    pub id: String,
    pub key: String,
    pub secret_sha256: String,
}

/// A new key with a random 64-bit id and a random 256-bit secret.
pub fn generate_key() -> GeneratedKey {
    let mut rng = rand::rng();
    let mut id = [0u8; 8];
    let mut secret = [0u8; 32];
    rng.fill_bytes(&mut id);
    rng.fill_bytes(&mut secret);
    let id = hex::encode(id);
    let secret = hex::encode(secret);
    GeneratedKey {
        key: format!("{KEY_PREFIX}{id}_{secret}"),
        secret_sha256: hash_secret(&secret),
        id,
    }
}

/// The stored form of a secret.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Split a presented key into its id and secret; `None` if it is not
/// shaped like a key at all.
pub fn parse_key(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix(KEY_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let hex_of = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex_of(id, 16) && hex_of(secret, 64)).then_some((id, secret))
}

/// Equal strings, compared in time independent of where they differ, so
/// a caller cannot learn a stored hash byte by byte from response times.
pub fn same_digest(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_back_and_match_their_hash() {
        let k = generate_key();
        let (id, secret) = parse_key(&k.key).expect("own format");
        assert_eq!(id, k.id);
        assert!(same_digest(&hash_secret(secret), &k.secret_sha256));
        assert_ne!(generate_key().key, k.key);
    }

    #[test]
    fn malformed_keys_are_not_keys() {
        for bad in [
            "",
            "ct_",
            "ct_abc_def",
            "xx_0123456789abcdef_00",
            "ct_0123456789abcdef",
        ] {
            assert_eq!(parse_key(bad), None, "{bad}");
        }
        assert!(!same_digest("ab", "abc"));
        assert!(!same_digest("ab", "ac"));
    }
}
