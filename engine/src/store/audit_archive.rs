//! The retention procedure: the only sanctioned way records leave the
//! audit table.
//!
//! The oldest records (from just after the last archived segment, up to a
//! time at least `min_retention_days` ago) are checked, exported to a
//! JSON-lines file, sealed (an HMAC under the audit key over the segment's
//! bounds, its last hash and the file's SHA-256) and registered in
//! `audit_segment`; only then are they deleted, in the same transaction as
//! the registration (the table's delete trigger refuses any record that no
//! segment covers). Verification resumes the chain from the last segment's
//! hash and checks every segment's seal, so the table alone still proves
//! that nothing but archived segments is missing.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::FromRow;

use super::audit::append_audit_in;
use super::db::{on_pool, BeginWrite, Database};
use crate::audit::{
    audit_now, AnchorProblem, AuditEvent, AuditKey, AuditOutcome, AuditRecord, ChainReport,
    ChainVerifier,
};
use crate::error::{EngineError, Result};

/// A run of records moved out of the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, FromRow)]
pub struct AuditSegment {
    pub first_seq: i64,
    pub last_seq: i64,
    pub last_hash: String,
    /// The exported file's name (in the folder the operator chose).
    pub file_name: String,
    pub file_sha256: String,
    pub records: i64,
    pub archived_at: String,
    pub mac: String,
}

/// What `archive_audit` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArchiveOutcome {
    pub segment: AuditSegment,
    pub file: PathBuf,
}

impl Database {
    /// Archived segments, oldest first.
    pub async fn audit_segments(&self) -> Result<Vec<AuditSegment>> {
        Ok(on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT first_seq, last_seq, last_hash, file_name, file_sha256, records, \
                 archived_at, mac FROM audit_segment ORDER BY first_seq",
            )
            .fetch_all(pool)
            .await?
        }))
    }

    /// The last record moved out by the retention procedure (0: none).
    pub async fn audit_archived_through(&self) -> Result<i64> {
        Ok(self
            .audit_segments()
            .await?
            .last()
            .map_or(0, |s| s.last_seq))
    }

    /// Check every segment's seal and that they follow one another from
    /// record 1.
    pub async fn verify_audit_segments(&self, key: &AuditKey) -> Result<Vec<AnchorProblem>> {
        let mut problems = Vec::new();
        let mut expected_first = 1;
        for s in self.audit_segments().await? {
            if s.first_seq != expected_first {
                problems.push(AnchorProblem::SegmentGap {
                    expected_first,
                    found_first: s.first_seq,
                });
            }
            if !key.verify_segment(
                s.first_seq,
                s.last_seq,
                &s.last_hash,
                &s.file_sha256,
                &s.mac,
            ) {
                problems.push(AnchorProblem::SegmentForged {
                    first_seq: s.first_seq,
                    last_seq: s.last_seq,
                });
            }
            expected_first = s.last_seq + 1;
        }
        Ok(problems)
    }

    /// Move the records older than `before` (RFC 3339 UTC as stored) that
    /// follow the last archived segment into a sealed file in `dir`, then
    /// out of the table. Refuses a `before` less than `min_retention_days`
    /// ago, and a stretch whose chain does not verify. `None`: nothing to
    /// archive.
    pub async fn archive_audit(
        &self,
        before: &str,
        min_retention_days: i64,
        dir: &Path,
        key: &AuditKey,
        actor: &str,
    ) -> Result<Option<ArchiveOutcome>> {
        let newest_allowed = (chrono::Utc::now() - chrono::Duration::days(min_retention_days))
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string();
        if before > newest_allowed.as_str() {
            return Err(EngineError::InvalidMetadata {
                field: "before".into(),
                reason: format!(
                    "{before} is less than {min_retention_days} days ago: audit records are kept at least that long (latest allowed {newest_allowed})"
                ),
            });
        }
        let previous = self.audit_segments().await?.pop();
        let (mut verifier, first) = match &previous {
            Some(p) => (
                ChainVerifier::after(p.last_seq, &p.last_hash),
                p.last_seq + 1,
            ),
            None => (ChainVerifier::new(), 1),
        };
        // The stretch never skips a newer record: it stops at the first
        // record at or after `before`.
        let stop: Option<i64> = on_pool!(self, pool => {
            sqlx::query_scalar("SELECT MIN(seq) FROM audit_log WHERE seq >= $1 AND at >= $2")
                .bind(first)
                .bind(before)
                .fetch_one(pool)
                .await?
        });
        let head = self.audit_head().await?.map_or(0, |(seq, _)| seq);
        let last_seq = stop.map_or(head, |s| s - 1);
        if last_seq < first {
            return Ok(None);
        }
        let file_name = format!("audit-{first:012}-{last_seq:012}.jsonl");
        let file = dir.join(&file_name);
        let mut writer = SegmentWriter::create(&file)?;
        let mut last: Option<AuditRecord> = None;
        let mut after = first - 1;
        // Page by page, so a year of records never sits in memory.
        while after < last_seq {
            let page = self.audit_page(after, super::audit::AUDIT_PAGE).await?;
            let read_up_to = after;
            for r in page.into_iter().take_while(|r| r.seq <= last_seq) {
                verifier.push(&r);
                writer.write(&r)?;
                after = r.seq;
                last = Some(r);
            }
            if after == read_up_to {
                break;
            }
        }
        let report: ChainReport = verifier.finish();
        let last = match (report.breaks.first(), last) {
            (None, Some(last)) if last.seq == last_seq => last,
            (broken, _) => {
                let _ = std::fs::remove_file(&file);
                return Err(EngineError::Config(match broken {
                    Some(b) => format!("refusing to archive a broken chain: {b}"),
                    None => format!("records {first}..{last_seq} could not all be read"),
                }));
            }
        };
        let file_sha256 = writer.finish()?;
        let last_hash = last.hash;
        let records = report.checked as i64;
        let segment = AuditSegment {
            first_seq: first,
            last_seq,
            mac: key.sign_segment(first, last_seq, &last_hash, &file_sha256),
            last_hash,
            file_name,
            file_sha256,
            records,
            archived_at: audit_now(),
        };
        let mut event = AuditEvent::new(
            "local",
            actor,
            "audit.archive",
            format!("audit/{first}..{last_seq}"),
            AuditOutcome::Ok,
        );
        event
            .detail
            .insert("file_sha256".into(), segment.file_sha256.clone().into());
        event
            .detail
            .insert("records".into(), segment.records.into());
        let backend = self.backend();
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO audit_segment (first_seq, last_seq, last_hash, file_name, \
                 file_sha256, records, archived_at, mac) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(segment.first_seq)
            .bind(segment.last_seq)
            .bind(&segment.last_hash)
            .bind(&segment.file_name)
            .bind(&segment.file_sha256)
            .bind(segment.records)
            .bind(&segment.archived_at)
            .bind(&segment.mac)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM audit_log WHERE seq BETWEEN $1 AND $2")
                .bind(segment.first_seq)
                .bind(segment.last_seq)
                .execute(&mut *tx)
                .await?;
            append_audit_in!(tx, backend, &event);
            tx.commit().await?;
        });
        Ok(Some(ArchiveOutcome { segment, file }))
    }
}

/// A segment file being written: JSON lines, hashed as they go.
struct SegmentWriter {
    path: PathBuf,
    file: std::io::BufWriter<std::fs::File>,
    hash: Sha256,
}

impl SegmentWriter {
    /// A new file (never overwriting one).
    fn create(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| EngineError::io(dir, e))?;
        }
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| EngineError::io(path, e))?;
        Ok(SegmentWriter {
            path: path.to_path_buf(),
            file: std::io::BufWriter::new(file),
            hash: Sha256::new(),
        })
    }

    fn write(&mut self, record: &AuditRecord) -> Result<()> {
        let mut line = serde_json::to_vec(record).map_err(|e| {
            EngineError::Config(format!("cannot serialise record {}: {e}", record.seq))
        })?;
        line.push(b'\n');
        self.hash.update(&line);
        self.file
            .write_all(&line)
            .map_err(|e| EngineError::io(&self.path, e))
    }

    /// Flush and sync; the file's SHA-256.
    fn finish(self) -> Result<String> {
        let path = self.path;
        let file = self
            .file
            .into_inner()
            .map_err(|e| EngineError::io(&path, e.into_error()))?;
        file.sync_all().map_err(|e| EngineError::io(&path, e))?;
        Ok(hex::encode(self.hash.finalize()))
    }
}
