//! Audit records and the hash that chains them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{EngineError, Result};

/// The `prev_hash` of the first record: no record came before it.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Domain separation: a hash of an audit record can never be mistaken for
/// the hash of anything else this engine computes, and a change of the
/// canonical form gets a new tag.
const HASH_TAG: &[u8] = b"casetrace-audit-v1";

/// How an audited action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    Ok,
    /// Refused by access control.
    Denied,
    /// Attempted and failed (bad input, internal error).
    Failed,
}

impl AuditOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditOutcome::Ok => "ok",
            AuditOutcome::Denied => "denied",
            AuditOutcome::Failed => "failed",
        }
    }
}

impl fmt::Display for AuditOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuditOutcome {
    type Err = EngineError;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "ok" => Ok(AuditOutcome::Ok),
            "denied" => Ok(AuditOutcome::Denied),
            "failed" => Ok(AuditOutcome::Failed),
            other => Err(EngineError::InvalidMetadata {
                field: "outcome".into(),
                reason: format!("{other:?} is not one of ok, denied, failed"),
            }),
        }
    }
}

/// What happened, as the caller records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// The agency on whose behalf the action ran.
    pub agency: String,
    /// Who acted: a user or service name, or the local admin of the CLI.
    pub actor: String,
    /// The API key used, by its public id (never the secret).
    pub key_id: Option<String>,
    /// What was done, e.g. `casing.submit`, `casing.read`, `trace.read`.
    pub action: String,
    /// What it was done to, e.g. `casing/local/C-17`.
    pub resource: String,
    /// The request that did it, to join with server logs.
    pub request_id: Option<String>,
    pub outcome: AuditOutcome,
    /// SHA-256 of the evidence file written or read, if any.
    pub evidence_sha256: Option<String>,
    /// Further facts (counts, reasons) as a JSON object.
    pub detail: serde_json::Map<String, serde_json::Value>,
    /// The agency owning the resource, when it is not `agency` (a partner
    /// reading shared records): its auditors see the record too.
    pub owner_agency: Option<String>,
}

impl AuditEvent {
    /// An event with no key, request, evidence or detail; set those fields
    /// directly when there are some.
    pub fn new(
        agency: impl Into<String>,
        actor: impl Into<String>,
        action: impl Into<String>,
        resource: impl Into<String>,
        outcome: AuditOutcome,
    ) -> Self {
        AuditEvent {
            agency: agency.into(),
            actor: actor.into(),
            key_id: None,
            action: action.into(),
            resource: resource.into(),
            request_id: None,
            outcome,
            evidence_sha256: None,
            detail: serde_json::Map::new(),
            owner_agency: None,
        }
    }
}

/// A record as stored: the event, its place in the chain and its time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// 1 for the first record, then each previous record's plus one.
    pub seq: i64,
    /// RFC 3339 UTC with milliseconds, exactly as hashed.
    pub at: String,
    pub agency: String,
    pub actor: String,
    pub key_id: Option<String>,
    pub action: String,
    pub resource: String,
    pub request_id: Option<String>,
    /// Stored as text so a record with an edited outcome can still be read
    /// and reported rather than failing to decode.
    pub outcome: String,
    pub evidence_sha256: Option<String>,
    /// The detail object as the JSON text that was hashed.
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
    /// See [`AuditEvent::owner_agency`]. Hashed only when set, so records
    /// written before the column existed keep their hashes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_agency: Option<String>,
}

impl AuditRecord {
    /// Seal `event` as record `seq` after a record whose hash is `prev_hash`.
    pub fn seal(event: &AuditEvent, seq: i64, at: String, prev_hash: &str) -> AuditRecord {
        let mut record = AuditRecord {
            seq,
            at,
            agency: event.agency.clone(),
            actor: event.actor.clone(),
            key_id: event.key_id.clone(),
            action: event.action.clone(),
            resource: event.resource.clone(),
            request_id: event.request_id.clone(),
            outcome: event.outcome.as_str().to_string(),
            evidence_sha256: event.evidence_sha256.clone(),
            // serde_json's map keeps its keys sorted, so the text is canonical.
            detail: serde_json::Value::Object(event.detail.clone()).to_string(),
            prev_hash: prev_hash.to_string(),
            hash: String::new(),
            owner_agency: event.owner_agency.clone(),
        };
        record.hash = record.computed_hash();
        record
    }

    /// The hash this record's fields and `prev_hash` call for. Each field is
    /// written with its length first, so no two different records share an
    /// input (`"ab"+"c"` differs from `"a"+"bc"`), and an absent field
    /// differs from an empty one.
    pub fn computed_hash(&self) -> String {
        let mut h = Sha256::new();
        h.update(HASH_TAG);
        h.update(self.seq.to_le_bytes());
        let fields: [Option<&str>; 11] = [
            Some(&self.at),
            Some(&self.agency),
            Some(&self.actor),
            self.key_id.as_deref(),
            Some(&self.action),
            Some(&self.resource),
            self.request_id.as_deref(),
            Some(&self.outcome),
            self.evidence_sha256.as_deref(),
            Some(&self.detail),
            Some(&self.prev_hash),
        ];
        for field in fields {
            match field {
                Some(text) => {
                    h.update((text.len() as u64).to_le_bytes());
                    h.update(text.as_bytes());
                }
                None => h.update(u64::MAX.to_le_bytes()),
            }
        }
        // Appended only when set: an absent owner hashes as records did
        // before it existed, a present one (even empty) changes the hash.
        if let Some(owner) = &self.owner_agency {
            h.update(b"owner_agency");
            h.update((owner.len() as u64).to_le_bytes());
            h.update(owner.as_bytes());
        }
        hex::encode(h.finalize())
    }
}

/// Now, as audit records store it.
pub(crate) fn audit_now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> AuditEvent {
        let mut e = AuditEvent::new(
            "FR-PTS",
            "examiner.dupont",
            "casing.submit",
            "casing/FR-PTS/C-1",
            AuditOutcome::Ok,
        );
        e.detail.insert("candidates".into(), 10.into());
        e
    }

    #[test]
    fn sealing_is_deterministic_and_chains_on_the_previous_hash() {
        let at = "2026-11-29T05:00:00.000Z".to_string();
        let a = AuditRecord::seal(&event(), 1, at.clone(), GENESIS_HASH);
        let b = AuditRecord::seal(&event(), 1, at.clone(), GENESIS_HASH);
        assert_eq!(a.hash, b.hash);
        assert_eq!(a.hash.len(), 64);
        let next = AuditRecord::seal(&event(), 2, at.clone(), &a.hash);
        assert_ne!(next.hash, a.hash, "the sequence number is hashed");
        let other_prev = AuditRecord::seal(&event(), 2, at, &"1".repeat(64));
        assert_ne!(next.hash, other_prev.hash, "the previous hash is hashed");
    }

    #[test]
    fn every_field_is_covered_by_the_hash() {
        let base = AuditRecord::seal(&event(), 7, "2026-11-29T05:00:00.000Z".into(), GENESIS_HASH);
        type Edit = (&'static str, fn(&mut AuditRecord));
        let edits: Vec<Edit> = vec![
            ("at", |r| r.at.push('1')),
            ("agency", |r| r.agency.push('x')),
            ("actor", |r| r.actor.push('x')),
            ("key_id", |r| r.key_id = Some(String::new())),
            ("action", |r| r.action.push('x')),
            ("resource", |r| r.resource.push('x')),
            ("request_id", |r| r.request_id = Some("r".into())),
            ("outcome", |r| r.outcome = "denied".into()),
            ("evidence_sha256", |r| {
                r.evidence_sha256 = Some("a".repeat(64))
            }),
            ("detail", |r| r.detail = "{}".into()),
            ("prev_hash", |r| r.prev_hash = "f".repeat(64)),
            ("seq", |r| r.seq += 1),
            ("owner_agency", |r| r.owner_agency = Some(String::new())),
        ];
        for (field, edit) in edits {
            let mut r = base.clone();
            edit(&mut r);
            assert_ne!(
                r.computed_hash(),
                base.hash,
                "editing {field} went unnoticed"
            );
        }
    }

    #[test]
    fn field_boundaries_are_unambiguous() {
        let mut a = AuditRecord::seal(&event(), 1, "t".into(), GENESIS_HASH);
        let mut b = a.clone();
        a.agency = "ab".into();
        a.actor = "c".into();
        b.agency = "a".into();
        b.actor = "bc".into();
        assert_ne!(a.computed_hash(), b.computed_hash());
    }

    #[test]
    fn outcome_round_trips_and_rejects_unknown_names() {
        for o in [AuditOutcome::Ok, AuditOutcome::Denied, AuditOutcome::Failed] {
            assert_eq!(o.as_str().parse::<AuditOutcome>().unwrap(), o);
        }
        assert!("maybe".parse::<AuditOutcome>().is_err());
    }
}
