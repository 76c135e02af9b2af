//! The database's side of anchoring the audit chain: its head, and
//! checking the chain against the signed checkpoints kept outside it.

use super::audit::{AuditRow, COLUMNS};
use super::db::{on_pool, Database};
use crate::audit::anchor::{authentic_checkpoints, CheckpointLine};
use crate::audit::{AnchorProblem, AnchorReport, AuditKey, AuditRecord};
use crate::error::Result;

impl Database {
    /// Sequence number and hash of the newest record, if any.
    pub async fn audit_head(&self) -> Result<Option<(i64, String)>> {
        Ok(on_pool!(self, pool => {
            sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                .fetch_optional(pool)
                .await?
        }))
    }

    /// Record `seq`, if it is in the table.
    pub async fn audit_record_at(&self, seq: i64) -> Result<Option<AuditRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM audit_log WHERE seq = $1");
        let row: Option<AuditRow> = on_pool!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(seq)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(AuditRecord::from))
    }

    /// Check the chain against the checkpoint log's `lines` under `key`:
    /// every checkpoint must be authentic, and the record each names must
    /// still be there with the hash it had. Records at or below
    /// `archived_through` were moved out by the retention procedure and
    /// are checked by their segment instead.
    ///
    /// Only the earliest missing or rewritten record is reported (every
    /// later checkpoint would repeat it), and one truncation.
    pub async fn verify_audit_anchor(
        &self,
        lines: &[CheckpointLine],
        key: &AuditKey,
        archived_through: i64,
    ) -> Result<AnchorReport> {
        let (mut good, mut problems) = authentic_checkpoints(lines, key);
        good.sort_by_key(|c| c.seq);
        let head_seq = self.audit_head().await?.map(|(s, _)| s);
        // The last record the chain accounts for, archived or in the table.
        let reach = head_seq.unwrap_or(0).max(archived_through);
        if let Some(beyond) = good.iter().rev().find(|c| c.seq > reach) {
            problems.push(AnchorProblem::Truncated {
                checkpoint_seq: beyond.seq,
                head_seq,
            });
        }
        for c in &good {
            if c.seq <= archived_through || c.seq > reach {
                continue;
            }
            let problem = match self.audit_record_at(c.seq).await? {
                None => AnchorProblem::Missing { seq: c.seq },
                Some(r) if r.hash != c.head_hash => AnchorProblem::Rewritten {
                    seq: c.seq,
                    checkpoint_hash: c.head_hash.clone(),
                    stored_hash: r.hash,
                },
                Some(_) => continue,
            };
            problems.push(problem);
            break;
        }
        Ok(AnchorReport {
            checkpoints: lines.len() as u64,
            latest: good.last().cloned(),
            problems,
        })
    }
}
