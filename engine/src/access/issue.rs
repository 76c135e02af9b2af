//! Making a key record: the checks and the expiry, shared by the engine
//! (REST admins) and the operator's command line.

use chrono::{DateTime, Duration, SecondsFormat, Utc};

use super::{generate_key, ApiKeyRecord, Role};
use crate::error::{EngineError, Result};

/// Longest a key may live: keys are rotated at least every two years.
pub const MAX_KEY_DAYS: i64 = 730;

/// A key just made: `key` is shown once and never stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedKey {
    pub key: String,
    pub record: ApiKeyRecord,
}

/// A key's expiry or revocation time as stored: RFC 3339 UTC with
/// milliseconds and `Z`, so that comparing the text compares the times.
pub fn key_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A new key for `agency`, valid `days` days from now.
pub fn new_key(agency: &str, holder: &str, roles: Vec<Role>, days: i64) -> Result<IssuedKey> {
    if !(1..=MAX_KEY_DAYS).contains(&days) {
        return Err(EngineError::InvalidMetadata {
            field: "days".into(),
            reason: format!("a key lives 1-{MAX_KEY_DAYS} days, not {days}"),
        });
    }
    if roles.is_empty() {
        return Err(EngineError::InvalidMetadata {
            field: "roles".into(),
            reason: "a key needs at least one role".into(),
        });
    }
    let generated = generate_key();
    Ok(IssuedKey {
        key: generated.key,
        record: ApiKeyRecord {
            id: generated.id,
            agency: agency.to_string(),
            holder: holder.trim().to_string(),
            roles,
            secret_sha256: generated.secret_sha256,
            expires_at: key_time(Utc::now() + Duration::days(days)),
            revoked_at: None,
        },
    })
}
