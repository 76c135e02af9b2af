//! The operator's door: the machine's tenant administration and the audit
//! log's upkeep, on the database, the audit key and the checkpoint log
//! alone. [`Operator`] loads no model and no index, so `casetrace audit
//! verify` runs on copies of those three (docs/audit.md); like
//! [`Engine`](super::Engine), every call takes the caller's [`Principal`]
//! and asks [`policy`] whether it may. The bodies here are the engine's
//! too: [`Engine`](super::Engine) delegates to the same functions.

use std::path::Path;
use std::sync::Arc;

use chrono::Utc;

use crate::access::policy::{self, Action};
use crate::access::{
    key_time, new_key, AgencyRecord, AgreementRecord, ApiKeyRecord, IssuedKey, Principal, Role,
    Scope,
};
use crate::audit::{
    AnchorReport, AuditAnchor, AuditEvent, AuditKey, AuditRecord, ChainReport, Checkpoint,
    CheckpointLog,
};
use crate::error::{EngineError, Result};
use crate::store::{ArchiveOutcome, AuditQuery, Database, RefusalCount};

use super::EngineConfig;

/// The engine's records without its model: agencies, keys, agreements and
/// the audit log, for the machine's operator (`casetrace agencies`,
/// `keys`, `agreements`, `audit`).
#[derive(Debug)]
pub struct Operator {
    cfg: EngineConfig,
    db: Database,
}

/// What `audit verify` found: the chain itself, and the chain against the
/// signed checkpoints (`None` when there is neither a key nor a checkpoint:
/// a chain that was never anchored).
#[derive(Debug)]
pub struct AuditVerification {
    pub chain: ChainReport,
    pub anchor: Option<AnchorReport>,
}

impl AuditVerification {
    pub fn is_intact(&self) -> bool {
        self.chain.is_intact() && self.anchor.as_ref().is_none_or(AnchorReport::is_intact)
    }
}

impl EngineConfig {
    /// The operator's door: the database (connected and migrated), with
    /// the audit key and checkpoint log read when a call needs them. No
    /// model, no index.
    pub async fn open_operator(&self) -> Result<Operator> {
        Ok(Operator {
            db: self.open_database().await?,
            cfg: self.clone(),
        })
    }
}

impl Operator {
    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    /// Register an agency (a tenant); registering it again with the same
    /// details is a no-op, with others an error. The machine's operator's
    /// alone.
    pub async fn register_agency(
        &self,
        caller: &Principal,
        agency: &AgencyRecord,
    ) -> Result<AgencyRecord> {
        policy::require_operator(caller, "registering an agency")?;
        self.db.insert_agency(agency).await
    }

    /// Every agency on file. The machine's operator's alone.
    pub async fn agencies(&self, caller: &Principal) -> Result<Vec<AgencyRecord>> {
        policy::require_operator(caller, "listing every agency")?;
        self.db.agencies().await
    }

    /// Issue a key of `caller`'s agency valid for `days` days.
    pub async fn issue_key(
        &self,
        caller: &Principal,
        holder: &str,
        roles: Vec<Role>,
        days: i64,
    ) -> Result<IssuedKey> {
        issue_key(&self.db, caller, holder, roles, days).await
    }

    /// Revoke a key from now on (see [`Engine::revoke_key`](super::Engine::revoke_key)).
    pub async fn revoke_key(&self, caller: &Principal, id: &str) -> Result<ApiKeyRecord> {
        revoke_key(&self.db, caller, id).await
    }

    /// The keys of `agency` (never their secrets), or of every agency for
    /// `None`; another agency's than the caller's only for the operator.
    pub async fn keys(
        &self,
        caller: &Principal,
        agency: Option<&str>,
    ) -> Result<Vec<ApiKeyRecord>> {
        keys(&self.db, caller, agency).await
    }

    /// Let `grantee` use `caller`'s agency's records under `scope`.
    pub async fn grant(
        &self,
        caller: &Principal,
        grantee: &str,
        scope: Scope,
    ) -> Result<AgreementRecord> {
        grant(&self.db, caller, grantee, scope).await
    }

    /// End an agreement `caller`'s agency granted.
    pub async fn end_agreement(
        &self,
        caller: &Principal,
        grantee: &str,
        scope: Scope,
    ) -> Result<AgreementRecord> {
        end_agreement(&self.db, caller, grantee, scope).await
    }

    /// The agreements `caller`'s agency is party to, either way.
    pub async fn agreements(&self, caller: &Principal) -> Result<Vec<AgreementRecord>> {
        agreements(&self.db, caller).await
    }

    /// Audit records (see [`Engine::audit_records`](super::Engine::audit_records)).
    pub async fn audit_records(
        &self,
        caller: &Principal,
        query: AuditQuery,
    ) -> Result<Vec<AuditRecord>> {
        audit_records(&self.db, caller, query).await
    }

    /// Counts of refused calls without a valid key, per minute, newest
    /// first (at most `limit` rows).
    pub async fn refusal_counts(
        &self,
        caller: &Principal,
        limit: i64,
    ) -> Result<Vec<RefusalCount>> {
        policy::require(caller, Action::ReadAudit)?;
        policy::require_operator(caller, "reading every agency's refused calls")?;
        self.db.refusal_counts(limit).await
    }

    /// Check every record's hash and link, and the chain against the
    /// signed checkpoints and archived segments. A checkpoint log without
    /// its key is an error: its checkpoints cannot be trusted.
    pub async fn verify_audit(&self, caller: &Principal) -> Result<AuditVerification> {
        policy::require(caller, Action::ReadAudit)?;
        policy::require_operator(caller, "verifying the whole audit chain")?;
        let chain = self.db.verify_audit_chain().await?;
        let key_path = self.cfg.audit_key_path();
        let log = CheckpointLog::new(self.cfg.audit_checkpoint_path());
        let lines = log.read()?;
        let key = match AuditKey::load(&key_path) {
            Ok(key) => key,
            Err(EngineError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                if !lines.is_empty() {
                    return Err(EngineError::Config(format!(
                        "{} holds checkpoints but the audit key {} is missing: they cannot be checked (pass --audit-key)",
                        log.path().display(),
                        key_path.display()
                    )));
                }
                return Ok(AuditVerification {
                    chain,
                    anchor: None,
                });
            }
            Err(e) => return Err(e),
        };
        let mut anchor = self
            .db
            .verify_audit_anchor(&lines, &key, self.db.audit_archived_through().await?)
            .await?;
        anchor
            .problems
            .extend(self.db.verify_audit_segments(&key).await?);
        Ok(AuditVerification {
            chain,
            anchor: Some(anchor),
        })
    }

    /// Sign the chain's current head into the checkpoint log (creating
    /// the key on first use), unless it is already there; `Ok(None)` also
    /// for an empty log ([`Operator::audit_head`] tells which).
    pub async fn checkpoint_audit(&self, caller: &Principal) -> Result<Option<Checkpoint>> {
        policy::require_operator(caller, "signing the audit chain")?;
        let anchor = Arc::new(AuditAnchor::open(
            &self.cfg.audit_key_path(),
            &self.cfg.audit_checkpoint_path(),
            self.cfg.audit.checkpoint_every,
        )?);
        checkpoint_audit(&self.db, &anchor).await
    }

    /// The newest record's sequence number and hash, `None` for an empty log.
    pub async fn audit_head(&self, caller: &Principal) -> Result<Option<(i64, String)>> {
        policy::require(caller, Action::ReadAudit)?;
        self.db.audit_head().await
    }

    /// Retention (docs/audit.md): move the records older than `before`
    /// (RFC 3339 UTC with milliseconds, as stored), and at least
    /// `min_retention_days` old (default: the configuration's), to a file
    /// in `dir` sealed with the audit key. `None`: nothing to archive.
    pub async fn archive_audit(
        &self,
        caller: &Principal,
        before: &str,
        min_retention_days: Option<i64>,
        dir: &Path,
    ) -> Result<Option<ArchiveOutcome>> {
        policy::require_operator(caller, "archiving the audit log")?;
        let key_path = self.cfg.audit_key_path();
        let key = AuditKey::load(&key_path).map_err(|e| {
            EngineError::Config(format!(
                "the audit key {} seals archived segments: {e}",
                key_path.display()
            ))
        })?;
        let days = min_retention_days.unwrap_or(self.cfg.audit.min_retention_days);
        self.db
            .archive_audit(before, days, dir, &key, &caller.holder)
            .await
    }

    /// Append one record to the audit log (the hash chain is the store's);
    /// the next checkpoint signs it.
    pub async fn record_audit(&self, event: &AuditEvent) -> Result<AuditRecord> {
        self.db.append_audit(event).await
    }

    /// Close the database's connections.
    pub async fn close(&self) {
        self.db.close().await
    }
}

// The bodies shared with `Engine` (src/service/access.rs, mod.rs).

pub(super) async fn issue_key(
    db: &Database,
    caller: &Principal,
    holder: &str,
    roles: Vec<Role>,
    days: i64,
) -> Result<IssuedKey> {
    policy::require(caller, Action::ManageKeys)?;
    let issued = new_key(&caller.agency, holder, roles, days)?;
    db.insert_api_key(&issued.record).await?;
    Ok(issued)
}

pub(super) async fn keys(
    db: &Database,
    caller: &Principal,
    agency: Option<&str>,
) -> Result<Vec<ApiKeyRecord>> {
    policy::require(caller, Action::ManageKeys)?;
    if agency != Some(caller.agency.as_str()) {
        policy::require_operator(caller, "listing another agency's keys")?;
    }
    db.api_keys(agency).await
}

pub(super) async fn revoke_key(
    db: &Database,
    caller: &Principal,
    id: &str,
) -> Result<ApiKeyRecord> {
    policy::require(caller, Action::ManageKeys)?;
    let absent = || EngineError::NotFound(format!("key {id:?}"));
    match db.api_key(id).await? {
        None => Err(absent()),
        Some(key) if key.agency == caller.agency || caller.full_access().is_some() => {
            db.revoke_api_key(id, &key_time(Utc::now())).await
        }
        Some(_) => Err(policy::hidden(absent())),
    }
}

pub(super) async fn grant(
    db: &Database,
    caller: &Principal,
    grantee: &str,
    scope: Scope,
) -> Result<AgreementRecord> {
    policy::require(caller, Action::ManageAgreements)?;
    let agreement = AgreementRecord::granted_by(caller, grantee, scope);
    db.grant(&agreement, &caller.holder).await?;
    Ok(agreement)
}

pub(super) async fn end_agreement(
    db: &Database,
    caller: &Principal,
    grantee: &str,
    scope: Scope,
) -> Result<AgreementRecord> {
    policy::require(caller, Action::ManageAgreements)?;
    let agreement = AgreementRecord::granted_by(caller, grantee, scope);
    if db.revoke_agreement(&agreement).await? {
        Ok(agreement)
    } else {
        Err(EngineError::NotFound("agreement".into()))
    }
}

pub(super) async fn agreements(db: &Database, caller: &Principal) -> Result<Vec<AgreementRecord>> {
    policy::require(caller, Action::ReadAgreements)?;
    db.agreements(&caller.agency).await
}

pub(super) async fn audit_records(
    db: &Database,
    caller: &Principal,
    mut query: AuditQuery,
) -> Result<Vec<AuditRecord>> {
    policy::require(caller, Action::ReadAudit)?;
    if caller.full_access().is_none() {
        query.agency = Some(caller.agency.clone());
    }
    db.audit_records(&query).await
}

pub(super) async fn checkpoint_audit(
    db: &Database,
    anchor: &Arc<AuditAnchor>,
) -> Result<Option<Checkpoint>> {
    let Some((seq, hash)) = db.audit_head().await? else {
        return Ok(None);
    };
    write_checkpoint(anchor, seq, hash).await
}

/// Sign and append a checkpoint off the async executor (fsync).
pub(super) async fn write_checkpoint(
    anchor: &Arc<AuditAnchor>,
    seq: i64,
    hash: String,
) -> Result<Option<Checkpoint>> {
    let anchor = anchor.clone();
    super::blocking(move || anchor.write(seq, &hash)).await
}
