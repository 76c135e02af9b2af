//! Keys and who may see what, through the engine.

use chrono::Utc;

use crate::access::{
    hash_secret, key_time, parse_key, same_digest, AgencyRecord, AgreementRecord, ApiKeyRecord,
    IssuedKey, Principal, Role, Scope, Sight,
};
use crate::audit::AuditRecord;
use crate::error::{EngineError, Result};
use crate::store::AuditQuery;

use super::{operator, Engine};

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
            .db
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
        Ok(Principal::key_holder(
            &key.agency,
            &key.holder,
            Some(key.id),
            key.roles,
        ))
    }

    /// Issue a key of `caller`'s agency valid for `days` days.
    pub async fn issue_key(
        &self,
        caller: &Principal,
        holder: &str,
        roles: Vec<Role>,
        days: i64,
    ) -> Result<IssuedKey> {
        operator::issue_key(&self.db, caller, holder, roles, days).await
    }

    /// The keys of `caller`'s agency (never their secrets).
    pub async fn keys(&self, caller: &Principal) -> Result<Vec<ApiKeyRecord>> {
        operator::keys(&self.db, caller, Some(caller.agency.as_str())).await
    }

    /// Revoke a key of `caller`'s agency from now on; another agency's key
    /// answers as absent.
    pub async fn revoke_key(&self, caller: &Principal, id: &str) -> Result<ApiKeyRecord> {
        operator::revoke_key(&self.db, caller, id).await
    }

    /// On a database without any key, register `agency` (unless it is on
    /// file) and issue it one key with every role, for the operator to
    /// hand out; `None` when keys exist already.
    pub async fn bootstrap_first_key(&self, agency: &AgencyRecord) -> Result<Option<IssuedKey>> {
        if !self.db.api_keys(None).await?.is_empty() {
            return Ok(None);
        }
        if self.db.agency(&agency.id).await?.is_none() {
            self.db.insert_agency(agency).await?;
        }
        let admin = Principal::local_admin(&agency.id, "the first key of a new installation");
        Ok(Some(
            self.issue_key(&admin, "bootstrap-admin", Role::ALL.to_vec(), 365)
                .await?,
        ))
    }

    /// Let `grantee` use `caller`'s agency's records under `scope`.
    pub async fn grant(
        &self,
        caller: &Principal,
        grantee: &str,
        scope: Scope,
    ) -> Result<AgreementRecord> {
        operator::grant(&self.db, caller, grantee, scope).await
    }

    /// End an agreement `caller`'s agency granted.
    pub async fn end_agreement(
        &self,
        caller: &Principal,
        grantee: &str,
        scope: Scope,
    ) -> Result<AgreementRecord> {
        operator::end_agreement(&self.db, caller, grantee, scope).await
    }

    /// The agreements `caller`'s agency is party to, either way.
    pub async fn agreements(&self, caller: &Principal) -> Result<Vec<AgreementRecord>> {
        operator::agreements(&self.db, caller).await
    }

    /// Audit records of `caller`'s agency only (every agency's for the
    /// local administrator), whatever agency the query names.
    pub async fn audit_records(
        &self,
        caller: &Principal,
        query: AuditQuery,
    ) -> Result<Vec<AuditRecord>> {
        operator::audit_records(&self.db, caller, query).await
    }

    /// What `caller` sees of every agency's records. The agreements are
    /// read even for full access, so every call costs the same queries.
    pub async fn sight(&self, caller: &Principal) -> Result<Sight> {
        let agreements = self.db.agreements(&caller.agency).await?;
        Ok(Sight::new(caller, &agreements))
    }
}
