//! Who may do what: agencies, their API keys and roles, and the sharing
//! agreements between agencies. The rules live here; the rows in
//! [`crate::store`]; the REST layer only asks.
//!
//! A key is `ct_<id>_<secret>`: the id is public (it names the key in the
//! audit log and in revocations), the secret is 256 random bits of which
//! only the SHA-256 is stored.

mod issue;
mod key;
mod role;

pub use issue::{key_time, new_key, IssuedKey, MAX_KEY_DAYS};
pub use key::{generate_key, hash_secret, parse_key, same_digest, GeneratedKey, KEY_PREFIX};
pub use role::{Role, Scope};

use serde::{Deserialize, Serialize};

/// An authenticated caller: an agency's key, its holder and its roles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    pub agency: String,
    /// The person or system the key was issued to.
    pub holder: String,
    pub key_id: Option<String>,
    pub roles: Vec<Role>,
}

impl Principal {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}
