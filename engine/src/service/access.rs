//! Keys and who may see what, through the engine.

use chrono::Utc;

use crate::access::{
    hash_secret, key_time, new_key, parse_key, same_digest, IssuedKey, Principal, Role, Scope,
};
use crate::error::{EngineError, Result};
use crate::store::ApiKeyRecord;

use super::Engine;

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
        if key.expires_at <= key_time(Utc::now()) {
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
        let issued = new_key(agency, holder, roles, days)?;
        self.database().insert_api_key(&issued.record).await?;
        Ok(issued)
    }

    /// Revoke a key from now on.
    pub async fn revoke_key(&self, id: &str) -> Result<ApiKeyRecord> {
        self.database()
            .revoke_api_key(id, &key_time(Utc::now()))
            .await
    }

    /// The agencies whose records `caller` may use under `scope`.
    pub async fn visible_agencies(&self, caller: &Principal, scope: Scope) -> Result<Vec<String>> {
        self.database()
            .visible_agencies(&caller.agency, scope)
            .await
    }
}
