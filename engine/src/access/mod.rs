//! Who may do what: agencies, their API keys and roles, and the sharing
//! agreements between agencies. Their records and rules live here;
//! [`crate::store`] persists the records; the REST layer only asks.
//!
//! A key is `ct_<id>_<secret>`: the id is public (it names the key in the
//! audit log and in revocations), the secret is 256 random bits of which
//! only the SHA-256 is stored.

mod agency;
mod agreement;
mod issue;
mod key;
pub mod policy;
mod role;

pub use agency::AgencyRecord;
pub use agreement::AgreementRecord;
pub use issue::{key_time, new_key, IssuedKey, MAX_KEY_DAYS};
pub use key::{
    generate_key, hash_secret, parse_key, same_digest, ApiKeyRecord, GeneratedKey, KEY_PREFIX,
};
pub use policy::{Action, Agencies, ImageRights, Sight};
pub use role::{Role, Scope};

use serde::{Deserialize, Serialize};

/// Who an engine call acts for: every call that reads or writes records
/// demands one, and the engine decides from it what the call may see
/// ([`policy`]). A key holder sees its agency's records and what
/// agreements grant it; full access is never a default but asked for by
/// name ([`Principal::local_admin`]), with the reason it is needed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    pub agency: String,
    /// The person or system the key was issued to.
    pub holder: String,
    pub key_id: Option<String>,
    pub roles: Vec<Role>,
    /// Why this principal sees every agency's records (`None` for a key).
    /// Private: only [`Principal::local_admin`] sets it.
    #[serde(skip)]
    full_access: Option<String>,
}

impl Principal {
    /// The holder of an API key of `agency`: sees what agreements grant.
    pub fn key_holder(
        agency: &str,
        holder: &str,
        key_id: Option<String>,
        roles: Vec<Role>,
    ) -> Self {
        Principal {
            agency: agency.to_string(),
            holder: holder.to_string(),
            key_id,
            roles,
            full_access: None,
        }
    }

    /// The operator of the machine (the command line, tools), acting for
    /// `agency` (its writes go there) with every role and sight of every
    /// agency's records. `reason` says why full access is needed; it is
    /// logged, and kept for anyone who reads the principal.
    pub fn local_admin(agency: &str, reason: &str) -> Self {
        tracing::debug!(
            agency,
            reason,
            "full access granted to the local administrator"
        );
        Principal {
            agency: agency.to_string(),
            holder: LOCAL_ADMIN.to_string(),
            key_id: None,
            roles: Role::ALL.to_vec(),
            full_access: Some(reason.to_string()),
        }
    }

    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Why this principal sees everything, when it does.
    pub fn full_access(&self) -> Option<&str> {
        self.full_access.as_deref()
    }
}

/// The holder name of [`Principal::local_admin`], as recorded on what it
/// writes and in the audit log.
pub const LOCAL_ADMIN: &str = "cli:local-admin";
