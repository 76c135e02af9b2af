//! A bulk import job on the engine: find or resume the job for a manifest,
//! then stream the source's files through the analysis pipeline and store
//! them in batches.
//!
//! Three threads of work meet here:
//! - a reader thread walks the source, hashes each file and settles rows
//!   that need no analysis (bad rows, casings already on file, repeats
//!   within the manifest);
//! - the pipeline (`bulk::pipeline`) analyses the rest in parallel;
//! - this async task gathers settled rows into batches, writes each batch
//!   in one transaction together with its rows' outcomes, then adds the
//!   batch to the index and saves the index once.
//!
//! Because a row's outcome is committed with its casing, a job killed at
//! any point resumes exactly: rows with an outcome are skipped, the others
//! are done again, and the unique constraints catch anything in between.

use std::collections::HashMap;
use std::sync::mpsc::sync_channel;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{blocking, Engine};
use crate::access::policy::{self, hidden, Action};
use crate::access::Principal;
use crate::bulk::pipeline::{self, Stage};
use crate::bulk::{
    confined_path, parse_manifest, Analysed, DescribedCasing, EvidenceWriter, ImportSource,
    ManifestRow, PendingEvidence, PipelineConfig, StageClock, StageSeconds, Work,
};
use crate::casing::{CasingFeatures, NewCasing};
use crate::error::{EngineError, Result};
use crate::preprocessing::{MARKS_VERSION, PIPELINE_VERSION};
use crate::store::{
    now_ms, sha256_hex, BatchItem, EvidencePut, ImportJob, JobState, NewImportJob, RowCounts,
    RowFailure, RowOutcome, RowRef, SourceKind, MAX_LISTED_FAILURES,
};

/// How long the writer waits for more rows before writing a partial batch.
const FLUSH_AFTER: Duration = Duration::from_millis(250);
/// A job on another host whose heartbeat is older than this is taken to
/// be dead and may be resumed.
const STALE_AFTER_MS: i64 = 10 * 60 * 1000;

/// A job ready to run: its manifest parsed, created or found unfinished.
#[derive(Debug)]
pub struct PreparedImport {
    pub job: ImportJob,
    /// True when an unfinished job of this manifest is being resumed.
    pub resumed: bool,
    source: ImportSource,
    base: String,
    rows: Vec<ManifestRow>,
    /// The importer's key: its casings' correlation jobs run for it.
    key_id: Option<String>,
}

/// Where a running job stands, after each batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImportProgress {
    pub total: u64,
    pub counts: RowCounts,
    /// Seconds since this run started.
    pub elapsed_s: f64,
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct ImportReport {
    pub job: ImportJob,
    pub failures: Vec<RowFailure>,
    /// Rows this run settled (less than the job's total when resumed).
    pub settled_this_run: u64,
    pub wall_s: f64,
    /// Time per stage, summed over threads.
    pub stages: StageSeconds,
}

/// A job as reported to people: counts, rate, time left, failed rows.
#[derive(Debug, Clone)]
pub struct ImportStatus {
    pub job: ImportJob,
    /// Rows settled per second in the current (or last) run.
    pub rate_per_s: Option<f64>,
    /// Seconds left at that rate (0 once finished).
    pub eta_s: Option<f64>,
    pub failures: Vec<RowFailure>,
}

/// What the writer receives.
enum Msg {
    Analysed(Analysed),
    /// Settled without analysis.
    Settled {
        slot: usize,
        outcome: RowOutcome,
        reason: String,
    },
}

impl From<Analysed> for Msg {
    fn from(a: Analysed) -> Self {
        Msg::Analysed(a)
    }
}

impl Engine {
    /// Read and parse the source's manifest; resume the unfinished job of
    /// the same manifest, started by the caller's agency, whose process is
    /// gone, or create a new job. `label` names the source for people (a
    /// path, an upload's name). Rows that name no agency load into the
    /// caller's, and rows naming one it may not write fail: an importer
    /// loads its own agency's casings only. A lone manifest's rows must
    /// name files under its own folder, unless the caller is the local
    /// administrator.
    pub async fn prepare_import(
        &self,
        caller: &Principal,
        source: ImportSource,
        label: &str,
    ) -> Result<PreparedImport> {
        policy::require(caller, Action::ImportCasings)?;
        let source = if policy::may_read_outside_source(caller) {
            source
        } else {
            source.confined_to_its_folder()
        };
        let (manifest, mut rows) = {
            let source = source.clone();
            blocking(move || {
                let manifest = source.read_manifest()?;
                let rows = parse_manifest(&manifest.name, &manifest.bytes, manifest.format)?;
                Ok((manifest, rows))
            })
            .await?
        };
        let own = &caller.agency;
        for row in rows.iter_mut().filter(|r| r.problem.is_none()) {
            if !row.agency_named {
                row.agency = own.to_string();
            } else if policy::write_agency(caller, Some(&row.agency)).is_err() {
                row.problem = Some(format!(
                    "agency {:?} is not the importer's agency {own:?}",
                    row.agency
                ));
            }
        }
        let manifest_sha256 = sha256_hex(&manifest.bytes);
        let mut base = manifest.base.clone();
        if source.kind == SourceKind::Manifest && !source.confined() {
            // A lone manifest's relative paths resolve against its folder.
            base = source
                .path
                .parent()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
        }
        for job in self
            .db
            .unfinished_import_jobs(&caller.agency, &manifest_sha256)
            .await?
        {
            let same_source = source.kind != SourceKind::Manifest || job.source == label;
            if job.source_kind != source.kind || !same_source {
                continue;
            }
            if owner_alive(&job) {
                return Err(EngineError::ImportRunning { job_id: job.id });
            }
            tracing::info!(job = %job.id, settled = job.counts.settled(), "resuming import job");
            return Ok(PreparedImport {
                job,
                resumed: true,
                source,
                base,
                rows,
                key_id: caller.key_id.clone(),
            });
        }
        let job = self
            .db
            .create_import_job(&NewImportJob {
                agency: caller.agency.clone(),
                source: label.to_string(),
                source_kind: source.kind,
                manifest_sha256,
                total_rows: rows.len() as u64,
                owner: owner_here(),
                submitted_by: caller.holder.clone(),
            })
            .await?;
        Ok(PreparedImport {
            job,
            resumed: false,
            source,
            base,
            rows,
            key_id: caller.key_id.clone(),
        })
    }

    /// Run a prepared job to the end. Failed rows do not fail the job; a
    /// job fails only when it cannot go on (the source breaks, the database
    /// fails), and can then be resumed.
    pub async fn run_import(
        &self,
        prepared: PreparedImport,
        progress: &(dyn Fn(ImportProgress) + Send + Sync),
    ) -> Result<ImportReport> {
        let job_id = prepared.job.id.clone();
        let result = self.run_import_inner(prepared, progress).await;
        match &result {
            Ok(_) => {}
            Err(e) => {
                tracing::error!(job = %job_id, error = %e, "import job stopped");
                self.db
                    .finish_import_job(&job_id, JobState::Failed, Some(&e.to_string()))
                    .await?;
            }
        }
        result
    }

    async fn run_import_inner(
        &self,
        prepared: PreparedImport,
        progress: &(dyn Fn(ImportProgress) + Send + Sync),
    ) -> Result<ImportReport> {
        let started = Instant::now();
        let PreparedImport {
            job,
            source,
            base,
            rows,
            key_id,
            ..
        } = prepared;
        let job_id = job.id.clone();
        self.db.start_import_run(&job_id, &owner_here()).await?;
        let settled = self.db.settled_import_rows(&job_id).await?;
        let rows: Arc<Vec<ManifestRow>> = Arc::new(
            rows.into_iter()
                .filter(|r| !settled.contains(&r.row_number))
                .collect(),
        );
        let mut on_file = HashMap::new();
        for row in rows.iter() {
            if !on_file.contains_key(&row.agency) {
                let hashes = self.db.casing_hashes(&row.agency).await?;
                on_file.insert(row.agency.clone(), hashes);
            }
        }

        let clock = Arc::new(StageClock::default());
        let imports = &self.cfg.imports;
        let batch_size = imports.batch_size.max(1);
        let threads = self.cfg.threads.max(1);
        let (work_tx, work_rx) = sync_channel::<Work>(threads * 4);
        let (msg_tx, mut msg_rx) = tokio::sync::mpsc::channel::<Msg>(batch_size * 4);
        let pipeline_threads = pipeline::start(
            PipelineConfig {
                threads,
                batch: imports.describe_batch,
                limits: self.cfg.limits,
                preprocess: self.cfg.preprocess,
            },
            self.model.clone(),
            EvidenceWriter::new(self.evidence.clone(), tokio::runtime::Handle::current()),
            clock.clone(),
            work_rx,
            msg_tx.clone(),
        );
        let reader = {
            let (rows, clock, max_bytes) =
                (rows.clone(), clock.clone(), self.cfg.limits.max_file_bytes);
            std::thread::Builder::new()
                .name("import-read".into())
                .spawn(move || {
                    read_rows(
                        &source, &base, &rows, on_file, max_bytes, &clock, work_tx, msg_tx,
                    )
                })
                .map_err(|e| {
                    EngineError::Internal(format!("cannot start the import reader: {e}"))
                })?
        };

        let mut writer = Writer {
            engine: self,
            job_id: &job_id,
            key_id: key_id.as_deref(),
            rows: &rows,
            pending: Vec::new(),
            clock: &clock,
            total: job.total_rows,
            started,
            settled_this_run: 0,
        };
        let mut written = Ok(());
        loop {
            match tokio::time::timeout(FLUSH_AFTER, msg_rx.recv()).await {
                Ok(Some(msg)) => {
                    writer.take(msg);
                    if writer.pending.len() >= batch_size {
                        written = writer.flush(progress).await;
                    }
                }
                Ok(None) => {
                    written = writer.flush(progress).await;
                    break;
                }
                Err(_) => written = writer.flush(progress).await,
            }
            if written.is_err() {
                break;
            }
        }
        // Closing the channel stops the reader and the pipeline if the
        // writer gave up early.
        drop(msg_rx);
        let read_result = blocking(move || {
            for t in pipeline_threads {
                let _ = t.join();
            }
            reader
                .join()
                .map_err(|_| EngineError::internal("the import reader panicked"))?
        })
        .await;
        written?;
        read_result?;

        let job = self
            .db
            .import_job(&job_id)
            .await?
            .ok_or_else(|| EngineError::ImportNotFound(job_id.clone()))?;
        if job.counts.settled() != job.total_rows {
            return Err(EngineError::Internal(format!(
                "{} of {} rows settled; the job can be resumed",
                job.counts.settled(),
                job.total_rows
            )));
        }
        self.db
            .finish_import_job(&job_id, JobState::Done, None)
            .await?;
        self.save_index_now().await?;
        let status = self.job_status(&job_id).await?;
        tracing::info!(
            job = %job_id,
            done = status.job.counts.done,
            duplicate = status.job.counts.duplicate,
            failed = status.job.counts.failed,
            seconds = started.elapsed().as_secs_f64(),
            "import job done"
        );
        Ok(ImportReport {
            job: status.job,
            failures: status.failures,
            settled_this_run: writer.settled_this_run,
            wall_s: started.elapsed().as_secs_f64(),
            stages: clock.seconds(),
        })
    }

    /// A job with its counts, rate, time left and failed rows, if the
    /// caller's agency started it; another agency's job is answered as
    /// absent.
    pub async fn import_status(&self, caller: &Principal, id: &str) -> Result<ImportStatus> {
        policy::require(caller, Action::ReadImport)?;
        let status = self.job_status(id).await;
        match status {
            Ok(s) if s.job.agency == caller.agency || caller.full_access().is_some() => Ok(s),
            Ok(_) => Err(hidden(EngineError::ImportNotFound(id.to_string()))),
            Err(e) => Err(e),
        }
    }

    async fn job_status(&self, id: &str) -> Result<ImportStatus> {
        let job = self
            .db
            .import_job(id)
            .await?
            .ok_or_else(|| EngineError::ImportNotFound(id.to_string()))?;
        let failures = self.db.import_failures(id, MAX_LISTED_FAILURES).await?;
        let (rate_per_s, eta_s) = rate_and_eta(&job, now_ms());
        Ok(ImportStatus {
            job,
            rate_per_s,
            eta_s,
            failures,
        })
    }
}

/// Gathers settled rows and writes them a batch at a time.
struct Writer<'a> {
    engine: &'a Engine,
    job_id: &'a str,
    /// The importer's key, for the correlation jobs of what it loads.
    key_id: Option<&'a str>,
    rows: &'a [ManifestRow],
    pending: Vec<Taken>,
    clock: &'a StageClock,
    total: u64,
    started: Instant,
    settled_this_run: u64,
}

/// A row the writer holds until its batch is written.
enum Taken {
    Settled(BatchItem),
    /// Analysed; stored once its evidence file is written.
    Ready {
        slot: usize,
        casing: Box<DescribedCasing>,
        evidence: PendingEvidence,
    },
    /// Failed after its evidence file's write had started.
    FailedAfterWrite(BatchItem, PendingEvidence),
}

impl Writer<'_> {
    fn take(&mut self, msg: Msg) {
        let taken = match msg {
            Msg::Settled {
                slot,
                outcome,
                reason,
            } => Taken::Settled(settle(&self.rows[slot], outcome, reason)),
            Msg::Analysed(Analysed::Failed {
                slot,
                reason,
                evidence,
            }) => {
                let item = settle(&self.rows[slot], RowOutcome::Failed, reason);
                match evidence {
                    Some(evidence) => Taken::FailedAfterWrite(item, evidence),
                    None => Taken::Settled(item),
                }
            }
            Msg::Analysed(Analysed::Ready {
                slot,
                casing,
                evidence,
            }) => Taken::Ready {
                slot,
                casing,
                evidence,
            },
        };
        self.pending.push(taken);
    }

    fn load_item(&self, row: &ManifestRow, casing: DescribedCasing, sha256: String) -> BatchItem {
        let file_name = row.file.rsplit('/').next().unwrap_or(&row.file).to_string();
        BatchItem::Load {
            row: row_ref(row),
            casing: Box::new(NewCasing {
                agency: row.agency.clone(),
                casing_id: row.casing_id.clone(),
                sha256,
                file_name,
                format: casing.format,
                surface_kind: casing.surface_kind,
                kind: row.kind,
                case_number: row.case_number.clone(),
                calibre: row.calibre.clone(),
                metadata: serde_json::Value::Object(row.metadata.clone()),
                um_per_px: casing.um_per_px,
                width: casing.width as i64,
                height: casing.height as i64,
                submitted_by: String::new(),
            }),
            features: Box::new(CasingFeatures {
                model_version: self.engine.model_version().to_string(),
                descriptor: casing.descriptor,
                comparison_surface: casing.comparison_surface,
                pipeline_version: PIPELINE_VERSION.to_string(),
                pin_mark: casing.pin_mark,
                marks_version: Some(MARKS_VERSION.to_string()),
            }),
        }
    }

    /// The pending rows as batch items, once every evidence write among
    /// them has finished: a row is stored only with its file on file, and
    /// one whose write failed is settled as failed with the reason. Files
    /// written for rows that failed anyway are removed again.
    async fn settle_writes(&mut self) -> Result<(Vec<BatchItem>, Vec<Option<EvidencePut>>)> {
        let mut items = Vec::with_capacity(self.pending.len());
        let mut written = Vec::with_capacity(self.pending.len());
        for taken in std::mem::take(&mut self.pending) {
            match taken {
                Taken::Settled(item) => {
                    items.push(item);
                    written.push(None);
                }
                Taken::Ready {
                    slot,
                    casing,
                    evidence,
                } => {
                    let row = &self.rows[slot];
                    match evidence.written().await {
                        Ok(put) => {
                            items.push(self.load_item(row, *casing, put.sha256.clone()));
                            written.push(Some(put));
                        }
                        Err(reason) => {
                            items.push(settle(row, RowOutcome::Failed, reason));
                            written.push(None);
                        }
                    }
                }
                Taken::FailedAfterWrite(item, evidence) => {
                    if let Ok(put) = evidence.written().await {
                        self.engine.undo_evidence(&put).await?;
                    }
                    items.push(item);
                    written.push(None);
                }
            }
        }
        Ok((items, written))
    }

    async fn flush(&mut self, progress: &(dyn Fn(ImportProgress) + Send + Sync)) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let (mut items, written) = self.settle_writes().await?;
        let submitted_by = self
            .engine
            .db
            .import_job(self.job_id)
            .await?
            .map(|j| j.submitted_by)
            .unwrap_or_default();
        for item in &mut items {
            if let BatchItem::Load { casing, .. } = item {
                casing.submitted_by = submitted_by.clone();
            }
        }
        let started = Instant::now();
        let results = self
            .engine
            .db
            .write_import_batch(self.job_id, &items, self.key_id)
            .await?;
        self.clock.add(Stage::Store, started.elapsed());
        let started = Instant::now();
        let mut ids = Vec::new();
        let mut flat = Vec::new();
        for (result, item) in results.iter().zip(&items) {
            if let (Some(record), BatchItem::Load { features, .. }) = (&result.inserted, item) {
                ids.push(record.id);
                flat.extend_from_slice(&features.descriptor);
            }
        }
        if !ids.is_empty() {
            self.engine.add_to_index(ids, flat).await?;
        }
        self.clock.add(Stage::Index, started.elapsed());
        // An evidence file written for a row that did not load (a conflict
        // found in the transaction) goes, unless some casing refers to it.
        for (result, put) in results.iter().zip(&written) {
            if let (RowOutcome::Failed | RowOutcome::Duplicate, Some(put)) = (result.outcome, put) {
                self.engine.undo_evidence(put).await?;
            }
        }
        self.settled_this_run += results.len() as u64;
        let counts = self.engine.db.import_row_counts(self.job_id).await?;
        progress(ImportProgress {
            total: self.total,
            counts,
            elapsed_s: self.started.elapsed().as_secs_f64(),
        });
        Ok(())
    }
}

fn row_ref(row: &ManifestRow) -> RowRef {
    RowRef {
        row_number: row.row_number,
        casing_id: row.casing_id.clone(),
        file: row.file.clone(),
    }
}

fn settle(row: &ManifestRow, outcome: RowOutcome, reason: String) -> BatchItem {
    BatchItem::Settle {
        row: row_ref(row),
        outcome,
        casing_pk: None,
        reason: Some(reason),
    }
}

/// The reader thread: resolve each row's file, read and hash it, settle
/// what needs no analysis and queue the rest.
#[allow(clippy::too_many_arguments)]
fn read_rows(
    source: &ImportSource,
    base: &str,
    rows: &[ManifestRow],
    on_file: HashMap<String, HashMap<String, String>>,
    max_bytes: u64,
    clock: &StageClock,
    work: std::sync::mpsc::SyncSender<Work>,
    msgs: tokio::sync::mpsc::Sender<Msg>,
) -> Result<()> {
    let settle = |slot: usize, outcome: RowOutcome, reason: String| {
        msgs.blocking_send(Msg::Settled {
            slot,
            outcome,
            reason,
        })
        .is_ok()
    };
    // (slot, key) of the rows whose file must be read.
    let mut keys = Vec::new();
    let mut slots = Vec::new();
    for (slot, row) in rows.iter().enumerate() {
        let key = match (&row.problem, source.confined()) {
            (Some(problem), _) => Err(problem.clone()),
            (None, true) => confined_path(base, &row.file),
            (None, false) => Ok(std::path::Path::new(base)
                .join(&row.file)
                .display()
                .to_string()),
        };
        match key {
            Ok(key) => {
                keys.push(key);
                slots.push(slot);
            }
            Err(reason) => {
                if !settle(slot, RowOutcome::Failed, reason) {
                    return Ok(());
                }
            }
        }
    }
    // Earlier rows of this manifest, to settle repeats the same way every time.
    let mut ids_seen: HashMap<(&str, &str), (String, u64)> = HashMap::new();
    let mut shas_seen: HashMap<(&str, String), u64> = HashMap::new();
    let mut read_started = Instant::now();
    source.read_files(&keys, max_bytes, |read| {
        let slot = slots[read.index];
        let row = &rows[slot];
        let bytes = match read.bytes {
            Ok(b) => b,
            Err(reason) => return settle(slot, RowOutcome::Failed, reason),
        };
        let sha = sha256_hex(&bytes);
        clock.add(Stage::Read, read_started.elapsed());
        let agency = row.agency.as_str();
        let verdict = duplicate_verdict(row, &sha, &on_file, &ids_seen, &shas_seen);
        ids_seen
            .entry((agency, row.casing_id.as_str()))
            .or_insert((sha.clone(), row.row_number));
        shas_seen.entry((agency, sha)).or_insert(row.row_number);
        let go_on = match verdict {
            Some((outcome, reason)) => settle(slot, outcome, reason),
            None => work
                .send(Work {
                    slot,
                    file_name: row.file.clone(),
                    bytes,
                    um_per_px: row.um_per_px,
                })
                .is_ok(),
        };
        read_started = Instant::now();
        go_on
    })
}

/// Whether a row is already settled by what is on file or by an earlier
/// row of the manifest: `None` when it must be analysed.
fn duplicate_verdict(
    row: &ManifestRow,
    sha: &str,
    on_file: &HashMap<String, HashMap<String, String>>,
    ids_seen: &HashMap<(&str, &str), (String, u64)>,
    shas_seen: &HashMap<(&str, String), u64>,
) -> Option<(RowOutcome, String)> {
    let agency = row.agency.as_str();
    if let Some(on_file_sha) = on_file.get(agency).and_then(|m| m.get(&row.casing_id)) {
        return Some(if on_file_sha == sha {
            (RowOutcome::Duplicate, "already on file".to_string())
        } else {
            (
                RowOutcome::Failed,
                format!(
                    "casing id {} already exists with different content (sha256 {on_file_sha})",
                    row.casing_id
                ),
            )
        });
    }
    if let Some((seen_sha, seen_row)) = ids_seen.get(&(agency, row.casing_id.as_str())) {
        return Some(if seen_sha == sha {
            (
                RowOutcome::Duplicate,
                format!("same casing as row {seen_row}"),
            )
        } else {
            (
                RowOutcome::Failed,
                format!(
                    "casing id {} is also on row {seen_row} with different content",
                    row.casing_id
                ),
            )
        });
    }
    if let Some(seen_row) = shas_seen.get(&(agency, sha.to_string())) {
        return Some((
            RowOutcome::Duplicate,
            format!("same file as row {seen_row}"),
        ));
    }
    None
}

/// `host:pid` of this process.
fn owner_here() -> String {
    format!("{}:{}", host_name(), std::process::id())
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown-host".into())
}

/// Whether the process that last ran a job may still be running it: on
/// this host, its pid exists; elsewhere, its heartbeat is recent.
fn owner_alive(job: &ImportJob) -> bool {
    if job.state == JobState::Queued {
        return false;
    }
    let (host, pid) = job.owner.rsplit_once(':').unwrap_or((&job.owner, ""));
    if host == host_name() {
        return pid.parse::<u32>().is_ok_and(|pid| {
            pid == std::process::id() || std::path::Path::new(&format!("/proc/{pid}")).exists()
        });
    }
    job.heartbeat_ms
        .is_some_and(|h| now_ms() - h < STALE_AFTER_MS)
}

/// Rows per second in the current or last run, and seconds left.
fn rate_and_eta(job: &ImportJob, now: i64) -> (Option<f64>, Option<f64>) {
    let Some(start) = job.run_started_ms else {
        return (None, None);
    };
    let end = match job.state {
        JobState::Running | JobState::Queued => now,
        JobState::Done | JobState::Failed => job.finished_ms.or(job.heartbeat_ms).unwrap_or(now),
    };
    let seconds = (end - start) as f64 / 1e3;
    let settled = job.counts.settled();
    let in_run = settled.saturating_sub(job.rows_at_run_start) as f64;
    if seconds <= 0.0 || in_run == 0.0 {
        return (
            None,
            if job.state == JobState::Done {
                Some(0.0)
            } else {
                None
            },
        );
    }
    let rate = in_run / seconds;
    let left = job.total_rows.saturating_sub(settled) as f64;
    (Some(rate), Some(left / rate))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(state: JobState, run_started_ms: Option<i64>, settled: u64) -> ImportJob {
        ImportJob {
            id: "j".into(),
            agency: "local".into(),
            source: "s".into(),
            source_kind: SourceKind::Zip,
            manifest_sha256: "0".repeat(64),
            state,
            total_rows: 100,
            owner: "nowhere:1".into(),
            submitted_by: "t".into(),
            error: None,
            created_ms: 0,
            run_started_ms,
            rows_at_run_start: 10,
            heartbeat_ms: Some(1_000),
            finished_ms: None,
            counts: RowCounts {
                done: settled,
                duplicate: 0,
                failed: 0,
            },
        }
    }

    #[test]
    fn rate_counts_this_run_only_and_eta_the_rows_left() {
        let (rate, eta) = rate_and_eta(&job(JobState::Running, Some(0), 50), 4_000);
        assert_eq!(rate, Some(10.0));
        assert_eq!(eta, Some(5.0));
        assert_eq!(
            rate_and_eta(&job(JobState::Queued, None, 0), 4_000),
            (None, None)
        );
    }

    #[test]
    fn a_job_of_another_host_is_alive_while_its_heartbeat_is_fresh() {
        let mut j = job(JobState::Running, Some(0), 0);
        j.heartbeat_ms = Some(now_ms());
        assert!(owner_alive(&j));
        j.heartbeat_ms = Some(now_ms() - STALE_AFTER_MS - 1);
        assert!(!owner_alive(&j));
        j.owner = format!("{}:{}", host_name(), std::process::id());
        assert!(owner_alive(&j), "this very process");
    }
}
