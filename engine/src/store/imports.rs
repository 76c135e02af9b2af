//! Bulk import jobs: the job rows, the outcome of every manifest row, and
//! the batch write that stores many casings in one transaction.
//!
//! A manifest row is settled when its `import_rows` row exists. Loading a
//! casing and recording its row happen in the same transaction, so after a
//! crash every row is either fully loaded and recorded or untouched, and a
//! resumed job redoes exactly the untouched ones.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use sqlx::FromRow;

use super::casings::{
    checked_metadata, encode_descriptor, insert_casing_rows, same_casing_outcome, CasingRow,
    SELECT_SAME_CASING,
};
use super::changes::record_changes_in;
use super::correlation_jobs::enqueue_correlation_in;
use super::db::{on_pool, BeginWrite, Database};
use crate::casing::{CasingFeatures, CasingRecord, NewCasing};
use crate::error::{EngineError, Result};

/// Tries of a batch that lost a race on a unique constraint to another
/// writer (the retry then sees the winner's rows and records duplicates).
const BATCH_ATTEMPTS: usize = 3;
/// Per-row errors returned with a job at most (the counts are always whole).
pub const MAX_LISTED_FAILURES: i64 = 10_000;

/// Where a job's rows come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// A manifest file on the local disk whose paths may point anywhere
    /// (the CLI's original `import MANIFEST.csv`).
    Manifest,
    Folder,
    Zip,
    Tar,
    TarGz,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Manifest => "manifest",
            SourceKind::Folder => "folder",
            SourceKind::Zip => "zip",
            SourceKind::Tar => "tar",
            SourceKind::TarGz => "tar_gz",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        [
            SourceKind::Manifest,
            SourceKind::Folder,
            SourceKind::Zip,
            SourceKind::Tar,
            SourceKind::TarGz,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
        .ok_or_else(|| EngineError::Internal(format!("unknown stored source kind {s:?}")))
    }
}

/// The life of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    /// Every row is settled (some may have failed).
    Done,
    /// The job stopped before settling every row (see its `error`).
    Failed,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        [
            JobState::Queued,
            JobState::Running,
            JobState::Done,
            JobState::Failed,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
        .ok_or_else(|| EngineError::Internal(format!("unknown stored job state {s:?}")))
    }
}

/// What happened to one manifest row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RowOutcome {
    /// Loaded by this job.
    Done,
    /// The casing (same id and bytes, or the same bytes) was already on file.
    Duplicate,
    Failed,
}

impl RowOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            RowOutcome::Done => "done",
            RowOutcome::Duplicate => "duplicate",
            RowOutcome::Failed => "failed",
        }
    }
}

/// A job about to be created.
#[derive(Debug, Clone)]
pub struct NewImportJob {
    /// The importer's agency: only it follows or resumes the job.
    pub agency: String,
    pub source: String,
    pub source_kind: SourceKind,
    pub manifest_sha256: String,
    pub total_rows: u64,
    pub owner: String,
    pub submitted_by: String,
}

/// A job as stored, with its row counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportJob {
    pub id: String,
    /// The importer's agency: only it follows or resumes the job.
    pub agency: String,
    pub source: String,
    pub source_kind: SourceKind,
    pub manifest_sha256: String,
    pub state: JobState,
    pub total_rows: u64,
    pub owner: String,
    pub submitted_by: String,
    pub error: Option<String>,
    pub created_ms: i64,
    pub run_started_ms: Option<i64>,
    pub rows_at_run_start: u64,
    pub heartbeat_ms: Option<i64>,
    pub finished_ms: Option<i64>,
    pub counts: RowCounts,
}

/// Settled rows by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowCounts {
    pub done: u64,
    pub duplicate: u64,
    pub failed: u64,
}

impl RowCounts {
    pub fn settled(&self) -> u64 {
        self.done + self.duplicate + self.failed
    }
}

/// A row that failed, as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowFailure {
    pub row_number: u64,
    pub casing_id: String,
    pub file: String,
    pub reason: String,
}

/// Which manifest row an item of a batch settles.
#[derive(Debug, Clone)]
pub struct RowRef {
    pub row_number: u64,
    pub casing_id: String,
    pub file: String,
}

/// One item of a batch write.
#[derive(Debug, Clone)]
pub enum BatchItem {
    /// A casing analysed and ready to store (its evidence file is written).
    Load {
        row: RowRef,
        casing: Box<NewCasing>,
        features: Box<CasingFeatures>,
    },
    /// A row settled without storing anything.
    Settle {
        row: RowRef,
        outcome: RowOutcome,
        casing_pk: Option<i64>,
        reason: Option<String>,
    },
}

/// What the batch did with one item, in the batch's order.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchResult {
    pub outcome: RowOutcome,
    /// The casing stored now (for the index), when `outcome` is `Done`.
    pub inserted: Option<CasingRecord>,
}

#[derive(FromRow)]
struct JobRow {
    id: String,
    agency: String,
    source: String,
    source_kind: String,
    manifest_sha256: String,
    state: String,
    total_rows: i64,
    owner: String,
    submitted_by: String,
    error: Option<String>,
    created_ms: i64,
    run_started_ms: Option<i64>,
    rows_at_run_start: i64,
    heartbeat_ms: Option<i64>,
    finished_ms: Option<i64>,
}

const JOB_COLUMNS: &str =
    "id, agency, source, source_kind, manifest_sha256, state, total_rows, owner, \
     submitted_by, error, created_ms, run_started_ms, rows_at_run_start, heartbeat_ms, finished_ms";

const INSERT_ROW: &str = "INSERT INTO import_rows \
     (job_id, row_number, casing_id, file, outcome, casing_pk, reason) VALUES ($1, $2, $3, $4, $5, $6, $7)";

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Insert one `import_rows` row on an open transaction (`$tx`) of either
/// backend: a macro, so it expands inside each arm of [`on_pool!`].
macro_rules! record_row {
    ($tx:expr, $job_id:expr, $row:expr, $outcome:expr, $casing_pk:expr, $reason:expr) => {
        sqlx::query(INSERT_ROW)
            .bind($job_id)
            .bind($row.row_number as i64)
            .bind(&$row.casing_id)
            .bind(&$row.file)
            .bind($outcome.as_str())
            .bind($casing_pk)
            .bind($reason)
            .execute(&mut *$tx)
            .await?
    };
}

impl Database {
    /// Create a job in the `queued` state.
    pub async fn create_import_job(&self, new: &NewImportJob) -> Result<ImportJob> {
        let id = uuid::Uuid::new_v4().to_string();
        on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO import_jobs (id, source, source_kind, manifest_sha256, state, total_rows, \
                 owner, submitted_by, created_ms, agency) \
                 VALUES ($1, $2, $3, $4, 'queued', $5, $6, $7, $8, $9)",
            )
            .bind(&id)
            .bind(&new.source)
            .bind(new.source_kind.as_str())
            .bind(&new.manifest_sha256)
            .bind(new.total_rows as i64)
            .bind(&new.owner)
            .bind(&new.submitted_by)
            .bind(now_ms())
            .bind(&new.agency)
            .execute(pool)
            .await?;
        });
        self.import_job(&id)
            .await?
            .ok_or_else(|| EngineError::Internal(format!("import job {id} vanished after insert")))
    }

    /// The job with this id and its row counts.
    pub async fn import_job(&self, id: &str) -> Result<Option<ImportJob>> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM import_jobs WHERE id = $1");
        let row: Option<JobRow> = on_pool!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await?
        });
        match row {
            Some(row) => {
                let counts = self.import_row_counts(id).await?;
                Ok(Some(job_from_row(row, counts)?))
            }
            None => Ok(None),
        }
    }

    /// Unfinished jobs of this manifest started by `agency`, newest first:
    /// candidates to resume. Another agency's jobs are never among them.
    pub async fn unfinished_import_jobs(
        &self,
        agency: &str,
        manifest_sha256: &str,
    ) -> Result<Vec<ImportJob>> {
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM import_jobs WHERE agency = $1 AND manifest_sha256 = $2 \
             AND state IN ('queued', 'running') ORDER BY created_ms DESC"
        );
        let rows: Vec<JobRow> = on_pool!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(agency)
                .bind(manifest_sha256)
                .fetch_all(pool)
                .await?
        });
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let counts = self.import_row_counts(&row.id).await?;
            out.push(job_from_row(row, counts)?);
        }
        Ok(out)
    }

    /// Mark a job running under `owner`, starting a new run (for the rate).
    pub async fn start_import_run(&self, id: &str, owner: &str) -> Result<()> {
        let settled = self.import_row_counts(id).await?.settled() as i64;
        let now = now_ms();
        on_pool!(self, pool => {
            sqlx::query(
                "UPDATE import_jobs SET state = 'running', owner = $2, run_started_ms = $3, \
                 heartbeat_ms = $3, rows_at_run_start = $4, error = NULL, finished_ms = NULL WHERE id = $1",
            )
            .bind(id)
            .bind(owner)
            .bind(now)
            .bind(settled)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// End a job: `done`, or `failed` with the reason it stopped.
    pub async fn finish_import_job(
        &self,
        id: &str,
        state: JobState,
        error: Option<&str>,
    ) -> Result<()> {
        on_pool!(self, pool => {
            sqlx::query("UPDATE import_jobs SET state = $2, error = $3, finished_ms = $4 WHERE id = $1")
                .bind(id)
                .bind(state.as_str())
                .bind(error)
                .bind(now_ms())
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Settled rows of a job by outcome.
    pub async fn import_row_counts(&self, id: &str) -> Result<RowCounts> {
        let rows: Vec<(String, i64)> = on_pool!(self, pool => {
            sqlx::query_as("SELECT outcome, count(*) FROM import_rows WHERE job_id = $1 GROUP BY outcome")
                .bind(id)
                .fetch_all(pool)
                .await?
        });
        let mut counts = RowCounts::default();
        for (outcome, n) in rows {
            let n = n as u64;
            match outcome.as_str() {
                "done" => counts.done = n,
                "duplicate" => counts.duplicate = n,
                _ => counts.failed = n,
            }
        }
        Ok(counts)
    }

    /// The manifest rows of a job already settled.
    pub async fn settled_import_rows(&self, id: &str) -> Result<HashSet<u64>> {
        let rows: Vec<i64> = on_pool!(self, pool => {
            sqlx::query_scalar("SELECT row_number FROM import_rows WHERE job_id = $1")
                .bind(id)
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().map(|r| r as u64).collect())
    }

    /// The failed rows of a job in row order, at most `limit`.
    pub async fn import_failures(&self, id: &str, limit: i64) -> Result<Vec<RowFailure>> {
        let rows: Vec<(i64, String, String, Option<String>)> = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT row_number, casing_id, file, reason FROM import_rows \
                 WHERE job_id = $1 AND outcome = 'failed' ORDER BY row_number LIMIT $2",
            )
            .bind(id)
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(row_number, casing_id, file, reason)| RowFailure {
                row_number: row_number as u64,
                casing_id,
                file,
                reason: reason.unwrap_or_default(),
            })
            .collect())
    }

    /// `casing_id -> sha256` of every casing of `agency`: lets a job settle
    /// rows already on file without reading or analysing their files.
    pub async fn casing_hashes(&self, agency: &str) -> Result<HashMap<String, String>> {
        let rows: Vec<(String, String)> = on_pool!(self, pool => {
            sqlx::query_as("SELECT casing_id, sha256 FROM casings WHERE agency = $1")
                .bind(agency)
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().collect())
    }

    /// Casings referred to by `done` rows that are not on file: must be
    /// empty (a check of `casetrace check`).
    pub async fn import_rows_without_casing(&self) -> Result<i64> {
        Ok(on_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT count(*) FROM import_rows r WHERE r.outcome = 'done' \
                 AND NOT EXISTS (SELECT 1 FROM casings c WHERE c.id = r.casing_pk)",
            )
            .fetch_one(pool)
            .await?
        }))
    }

    /// Store a batch in one transaction: every casing and its features and
    /// correlation job (run for its agency and `key_id`, the importer's
    /// key), every row's outcome, and the job's heartbeat. A casing already on
    /// file (same id and bytes, or same bytes) settles as a duplicate; an
    /// id on file with other bytes fails its row. Nothing of the batch is
    /// written if the transaction fails.
    pub async fn write_import_batch(
        &self,
        job_id: &str,
        items: &[BatchItem],
        key_id: Option<&str>,
    ) -> Result<Vec<BatchResult>> {
        let mut attempt = 1;
        loop {
            match self.try_write_import_batch(job_id, items, key_id).await {
                Err(EngineError::Database(sqlx::Error::Database(e)))
                    if e.is_unique_violation() && attempt < BATCH_ATTEMPTS =>
                {
                    // A concurrent writer stored one of these casings after
                    // our check; the retry sees it and records a duplicate.
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn try_write_import_batch(
        &self,
        job_id: &str,
        items: &[BatchItem],
        key_id: Option<&str>,
    ) -> Result<Vec<BatchResult>> {
        let backend = self.backend();
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let mut results = Vec::with_capacity(items.len());
            for item in items {
                let (row, outcome, casing_pk, reason, inserted) = match item {
                    BatchItem::Settle { row, outcome, casing_pk, reason } => {
                        (row, *outcome, *casing_pk, reason.clone(), None)
                    }
                    BatchItem::Load { row, casing, features } => {
                        let checked = checked_metadata(casing).map(|metadata| {
                            (metadata, encode_descriptor(&features.descriptor))
                        });
                        let (metadata, descriptor) = match checked {
                            Ok(v) => v,
                            Err(e) => {
                                results.push(BatchResult { outcome: RowOutcome::Failed, inserted: None });
                                record_row!(tx, job_id, row, RowOutcome::Failed, None::<i64>, Some(e.to_string()));
                                continue;
                            }
                        };
                        let same: Vec<CasingRow> = sqlx::query_as(SELECT_SAME_CASING)
                            .bind(&casing.agency)
                            .bind(&casing.casing_id)
                            .bind(&casing.sha256)
                            .fetch_all(&mut *tx)
                            .await?;
                        match same_casing_outcome(casing, same) {
                            Ok(Some(existing)) => {
                                let pk = existing.record().id;
                                (row, RowOutcome::Duplicate, Some(pk), Some("already on file".to_string()), None)
                            }
                            Err(e) => (row, RowOutcome::Failed, None, Some(e.to_string()), None),
                            Ok(None) => {
                                let stored = insert_casing_rows!(tx, casing, &metadata, features, &descriptor);
                                let record = CasingRecord::try_from(stored)?;
                                enqueue_correlation_in!(tx, record.id, &record.agency, key_id);
                                (row, RowOutcome::Done, Some(record.id), None, Some(record))
                            }
                        }
                    }
                };
                record_row!(tx, job_id, row, outcome, casing_pk, reason);
                results.push(BatchResult { outcome, inserted });
            }
            sqlx::query("UPDATE import_jobs SET heartbeat_ms = $2 WHERE id = $1")
                .bind(job_id)
                .bind(now_ms())
                .execute(&mut *tx)
                .await?;
            // Last before the commit: it holds the feed's turn to the end.
            let stored: Vec<i64> = results
                .iter()
                .filter_map(|r| r.inserted.as_ref().map(|c| c.id))
                .collect();
            record_changes_in!(tx, backend, crate::store::ChangeKind::Insert, &stored);
            tx.commit().await?;
            Ok(results)
        })
    }
}

fn job_from_row(row: JobRow, counts: RowCounts) -> Result<ImportJob> {
    Ok(ImportJob {
        source_kind: SourceKind::parse(&row.source_kind)?,
        state: JobState::parse(&row.state)?,
        id: row.id,
        agency: row.agency,
        source: row.source,
        manifest_sha256: row.manifest_sha256,
        total_rows: row.total_rows as u64,
        owner: row.owner,
        submitted_by: row.submitted_by,
        error: row.error,
        created_ms: row.created_ms,
        run_started_ms: row.run_started_ms,
        rows_at_run_start: row.rows_at_run_start as u64,
        heartbeat_ms: row.heartbeat_ms,
        finished_ms: row.finished_ms,
        counts,
    })
}
