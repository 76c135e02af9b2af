//! Keys and who may see what, through the engine.

use chrono::{Duration, SecondsFormat, Utc};

use crate::access::{generate_key, hash_secret, parse_key, same_digest, Principal, Role, Scope};
use crate::error::{EngineError, Result};
use crate::store::ApiKeyRecord;

use super::Engine;

/// Longest a key may live: keys are rotated at least yearly-ish.
pub const MAX_KEY_DAYS: i64 = 730;

/// A key just issued: `key` is shown this once and never stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedKey {
    pub key: String,
    pub record: ApiKeyRecord,
}

fn now_text() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Engine {
    /// The caller a presented key stands for. Every failure is the same
    /// 401 to the client; the log line says which it was.
    pub async fn authenticate(&self, presented: &str) -> Result<Principal> {
        let refuse = |why: &str| {
            tracing::info!(reason = why, "key refused");
            EngineError::Unauthenticated("the API key is not valid".into())
        };
        let (id, secret) = parse_key(presented.trim()).ok_or_else(|| refuse("malformed"))?;
        let key = self
            .database()
            .api_key(id)
            .await?
            .ok_or_else(|| refuse("unknown id"))?;
        if !same_digest(&hash_secret(secret), &key.secret_sha256) {
            return Err(refuse("wrong secret"));
        }
        if key.revoked_at.is_some() {
            return Err(refuse("revoked"));
        }
        // Both are RFC 3339 UTC with milliseconds and `Z`, so text order
        // is time order.
        if key.expires_at <= now_text() {
            return Err(refuse("expired"));
        }
        Ok(Principal {
            agency: key.agency,
            holder: key.holder,
            key_id: Some(key.id),
            roles: key.roles,
        })
    }

    /// Issue a key for `agency` valid for `days` days.
    pub async fn issue_key(
        &self,
        agency: &str,
        holder: &str,
        roles: Vec<Role>,
        days: i64,
    ) -> Result<IssuedKey> {
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
        let record = ApiKeyRecord {
            id: generated.id,
            agency: agency.to_string(),
            holder: holder.trim().to_string(),
            roles,
            secret_sha256: generated.secret_sha256,
            expires_at: (Utc::now() + Duration::days(days))
                .to_rfc3339_opts(SecondsFormat::Millis, true),
            revoked_at: None,
        };
        self.database().insert_api_key(&record).await?;
        Ok(IssuedKey {
            key: generated.key,
            record,
        })
    }

    /// Revoke a key from now on.
    pub async fn revoke_key(&self, id: &str) -> Result<ApiKeyRecord> {
        self.database().revoke_api_key(id, &now_text()).await
    }

    /// The agencies whose records `caller` may use under `scope`.
    pub async fn visible_agencies(&self, caller: &Principal, scope: Scope) -> Result<Vec<String>> {
        self.database()
            .visible_agencies(&caller.agency, scope)
            .await
    }
}
