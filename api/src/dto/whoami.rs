//! `GET /v1/whoami` on the wire.

use casetrace_engine::access::Principal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `GET /v1/whoami`: who the key stands for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WhoamiDto {
    pub agency: String,
    pub key_id: Option<String>,
    /// The key's holder, as recorded on what it writes.
    pub key_name: String,
    pub roles: Vec<String>,
}

impl From<&Principal> for WhoamiDto {
    fn from(p: &Principal) -> Self {
        WhoamiDto {
            agency: p.agency.clone(),
            key_id: p.key_id.clone(),
            key_name: p.holder.clone(),
            roles: p.roles.iter().map(|r| r.as_str().to_string()).collect(),
        }
    }
}
