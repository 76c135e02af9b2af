//! Keys, agreements and the audit log on the wire.

use casetrace_engine::access::{AgreementRecord, ApiKeyRecord, IssuedKey, Role, Scope};
use casetrace_engine::audit::AuditRecord;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// `POST /v1/keys`: a key for the caller's own agency.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKeyDto {
    /// The person or system that will hold it (recorded in the audit log).
    #[schema(example = "examiner J. Roe")]
    pub holder: String,
    /// Any of examiner, investigator, importer, auditor, admin.
    #[schema(value_type = Vec<String>, example = json!(["examiner"]))]
    pub roles: Vec<String>,
    /// Days until it expires, 1-730 (default 365).
    pub days: Option<i64>,
}

impl NewKeyDto {
    pub fn roles(&self) -> casetrace_engine::Result<Vec<Role>> {
        Role::parse_list(&self.roles.join(","))
    }
}

/// A key on file; never its secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct KeyDto {
    pub id: String,
    pub agency: String,
    pub holder: String,
    pub roles: Vec<String>,
    pub expires_at: String,
    pub revoked_at: Option<String>,
}

impl From<ApiKeyRecord> for KeyDto {
    fn from(k: ApiKeyRecord) -> Self {
        KeyDto {
            id: k.id,
            agency: k.agency,
            holder: k.holder,
            roles: k.roles.iter().map(|r| r.as_str().to_string()).collect(),
            expires_at: k.expires_at,
            revoked_at: k.revoked_at,
        }
    }
}

/// A key just issued. `key` is shown this once: only its hash is kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IssuedKeyDto {
    pub key: String,
    #[serde(flatten)]
    pub record: KeyDto,
}

impl From<IssuedKey> for IssuedKeyDto {
    fn from(k: IssuedKey) -> Self {
        IssuedKeyDto {
            key: k.key,
            record: k.record.into(),
        }
    }
}

/// `POST /v1/agreements`: let `grantee` use the caller's agency's records.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAgreementDto {
    pub grantee: String,
    /// correlate, view or traces.
    #[schema(example = "correlate")]
    pub scope: String,
}

/// An agreement: `owner` lets `grantee` use its records under `scope`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AgreementDto {
    pub owner: String,
    pub grantee: String,
    pub scope: String,
}

impl From<AgreementRecord> for AgreementDto {
    fn from(a: AgreementRecord) -> Self {
        AgreementDto {
            owner: a.owner,
            grantee: a.grantee,
            scope: a.scope.as_str().to_string(),
        }
    }
}

impl NewAgreementDto {
    pub fn scope(&self) -> casetrace_engine::Result<Scope> {
        self.scope.parse()
    }
}

/// `GET /v1/audit`: the caller's agency's records, oldest first.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQueryDto {
    /// Exact resource, or every resource under it when it ends in `/`.
    pub resource: Option<String>,
    pub action: Option<String>,
    /// Inclusive, RFC 3339 UTC (`2026-11-29T05:00:00.000Z`).
    pub from: Option<String>,
    /// Exclusive, same form.
    pub to: Option<String>,
    /// Records after this sequence number (paging).
    pub after: Option<i64>,
    /// 1-10000 (default 100).
    pub limit: Option<i64>,
}

/// One audit record, as chained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditRecordDto {
    pub seq: i64,
    pub at: String,
    pub agency: String,
    pub actor: String,
    pub key_id: Option<String>,
    pub action: String,
    pub resource: String,
    pub request_id: Option<String>,
    pub outcome: String,
    pub evidence_sha256: Option<String>,
    /// JSON text, as hashed.
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
    /// The agency owning the resource, when another agency's caller touched it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_agency: Option<String>,
}

impl From<AuditRecord> for AuditRecordDto {
    fn from(r: AuditRecord) -> Self {
        AuditRecordDto {
            seq: r.seq,
            at: r.at,
            agency: r.agency,
            actor: r.actor,
            key_id: r.key_id,
            action: r.action,
            resource: r.resource,
            request_id: r.request_id,
            outcome: r.outcome,
            evidence_sha256: r.evidence_sha256,
            detail: r.detail,
            prev_hash: r.prev_hash,
            hash: r.hash,
            owner_agency: r.owner_agency,
        }
    }
}
