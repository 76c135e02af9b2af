//! The engine as a whole: one [`Engine`] owns the database, the evidence
//! files, the descriptor model, the index and the fine comparer, and runs
//! every CPU-heavy stage on blocking threads so async callers never stall.

mod access;
mod analysis;
mod candidates;
mod check;
mod config;
mod correlation_backfill;
mod correlator;
mod fine_only;
mod history;
mod import;
mod index_saving;
mod index_sync;
mod leads;
mod operator;
mod pair;
mod recode;
mod redescribe;
mod shortlist;
mod submit;
mod surfaces;
mod traces;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// A row an import could not load (kept by [`crate::store`]).
pub use crate::store::RowFailure;
/// Where evidence files live (kept by [`crate::store`]).
pub use crate::store::{EvidenceLocation, S3Credentials, S3Location};
pub use analysis::{analyse, Analysis, AnalysisTimings};
pub use candidates::{Candidate, CandidateList, QueryTimings};
pub use check::CheckReport;
pub use config::{AuditConfig, CorrelationConfig, EngineConfig, ImportConfig};
pub use correlation_backfill::{QueueCorrelationOptions, QUEUE_CORRELATION_ACTION};
pub use correlator::{QueueDepth, CORRELATION_ACTION};
pub use fine_only::{BudgetedRanking, FineMatch};
pub use import::{ImportProgress, ImportReport, ImportStatus, PreparedImport};
pub use index_sync::IndexLag;
pub use operator::{AuditVerification, Operator};
pub use pair::PairComparison;
pub use recode::RECODE_ACTION;
pub use redescribe::{
    RedescribeFailure, RedescribeOptions, RedescribeProgress, RedescribeReport, REDESCRIBE_ACTION,
};
pub use shortlist::ShortlistEntry;
pub use submit::{Submission, SubmitOutcome};
pub use traces::MAX_CANDIDATE_LIST;

use crate::access::Agencies;
use crate::audit::{AuditAnchor, AuditRecord, Checkpoint};
use crate::calibration::Calibrations;
use crate::comparison::{FineComparer, ScoreModel};
use crate::description::DescriptorModel;
use crate::error::{EngineError, Result};
use crate::index::{CasingIndex, IndexKind};
use crate::preprocessing::MARKS_VERSION;
use crate::store::{Database, EvidenceStore};

/// A running casetrace engine. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Engine {
    cfg: EngineConfig,
    db: Database,
    evidence: EvidenceStore,
    model: Arc<DescriptorModel>,
    comparer: Arc<FineComparer>,
    index: Arc<Mutex<CasingIndex>>,
    index_path: PathBuf,
    /// Applies the database's change feed to `index`; its task follows
    /// the feed in the background until the engine is dropped or closed.
    follower: index_sync::IndexFollower,
    follow_task: index_sync::FollowTask,
    calibrations: Arc<Calibrations>,
    audit_anchor: Arc<AuditAnchor>,
    /// This engine's name in the correlation queue's claims.
    node: String,
    /// The correlation workers, once started.
    correlator_tasks: correlator::CorrelatorTasks,
}

impl Engine {
    /// Open (creating if needed) the data directory, connect and migrate the
    /// database, load the model, and load the index or rebuild it from the
    /// database when it is missing or stale.
    pub async fn open(cfg: EngineConfig) -> Result<Engine> {
        std::fs::create_dir_all(&cfg.data_dir).map_err(|e| EngineError::io(&cfg.data_dir, e))?;
        let db = cfg.open_database().await?;
        let evidence =
            EvidenceStore::open(&cfg.evidence, &cfg.data_dir, cfg.limits.max_file_bytes).await?;
        let model = DescriptorModel::load(&cfg.model, &cfg.runtime_library, 1)?;
        let spec = model.spec();
        let input = &spec.input;
        if input.canvas_px != cfg.preprocess.canvas_px
            || input.um_per_px != cfg.preprocess.um_per_px
        {
            return Err(EngineError::Config(format!(
                "descriptor model expects {} px canvases at {} µm/px, preprocessing makes {} px at {} µm/px",
                input.canvas_px, input.um_per_px, cfg.preprocess.canvas_px, cfg.preprocess.um_per_px
            )));
        }
        let index_dir = cfg.data_dir.join("index");
        std::fs::create_dir_all(&index_dir).map_err(|e| EngineError::io(&index_dir, e))?;
        let index_path = index_dir.join("descriptors.faiss");
        let index_spec = index_sync::IndexSpec {
            path: index_path.clone(),
            model_version: spec.model_version.clone(),
            dim: spec.dim,
            plan: cfg.index,
        };
        let follower =
            index_sync::IndexFollower::start(db.clone(), index_spec, cfg.index_save_every).await?;
        let index = follower.index().clone();
        // What other engines and the command line wrote since the file
        // was saved, before this engine answers anything.
        follower.catch_up().await?;
        let stale = db
            .count_to_redescribe(&spec.model_version, MARKS_VERSION)
            .await?;
        if stale > 0 {
            tracing::warn!(
                casings = stale,
                model = %spec.model_version,
                marks = MARKS_VERSION,
                "{stale} casings have no descriptor of model {} or no marks of {MARKS_VERSION}: without the descriptor they are not searchable, without the marks compared on the breech face only; run `casetrace redescribe`",
                spec.model_version
            );
        }
        let score_model = match &cfg.score_model {
            Some(path) => Some(Arc::new(ScoreModel::load(path)?)),
            None => {
                tracing::warn!(
                    "no score model configured: candidates get the hand-weighted fine score"
                );
                None
            }
        };
        let comparer = FineComparer::new(cfg.compare.clone(), cfg.preprocess.canvas_px)
            .with_score_model(score_model);
        let calibrations = match &cfg.calibration {
            Some(path) => Calibrations::load(path)?,
            None => Calibrations::default(),
        };
        let audit_anchor = Arc::new(AuditAnchor::open(
            &cfg.audit_key_path(),
            &cfg.audit_checkpoint_path(),
            cfg.audit.checkpoint_every,
        )?);
        let follow_task = index_sync::FollowTask(Some(follower.clone().spawn(cfg.follow_every)));
        Ok(Engine {
            node: correlator::node_name(),
            correlator_tasks: correlator::CorrelatorTasks::default(),
            follower,
            follow_task,
            audit_anchor,
            calibrations: Arc::new(calibrations),
            db,
            evidence,
            model: Arc::new(model),
            comparer: Arc::new(comparer),
            index,
            index_path,
            cfg,
        })
    }

    /// The loaded likelihood-ratio calibrations (none when not configured).
    pub fn calibrations(&self) -> &Calibrations {
        &self.calibrations
    }

    /// The audit chain's key and checkpoint log.
    pub fn audit_anchor(&self) -> &AuditAnchor {
        &self.audit_anchor
    }

    /// Sign the chain's current head into the checkpoint log, unless it is
    /// already there (the server calls this periodically and at shutdown).
    pub async fn checkpoint_audit(&self) -> Result<Option<Checkpoint>> {
        operator::checkpoint_audit(&self.db, &self.audit_anchor).await
    }

    /// After `record` was appended: write a checkpoint of it when the
    /// last one is `checkpoint_every` records behind.
    pub async fn note_audit_append(&self, record: &AuditRecord) -> Result<Option<Checkpoint>> {
        if !self.audit_anchor.is_due(record.seq) {
            return Ok(None);
        }
        operator::write_checkpoint(&self.audit_anchor, record.seq, record.hash.clone()).await
    }

    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    /// This engine's name as a node of a shared deployment (in the
    /// correlation queue's claims and audit records).
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The store behind the engine's door, for tests and tools that check
    /// what is on file. Only with the `store-access` feature: the REST
    /// layer is built without it, so no handler can bypass the access
    /// rules every engine call applies.
    #[cfg(feature = "store-access")]
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// How many casings are on file, of every agency (a count, no record):
    /// for the health check.
    pub async fn casing_count(&self) -> Result<i64> {
        self.db.count_casings().await
    }

    /// Append one record to the audit log (the hash chain is the store's).
    /// Attributable actions are recorded by whoever performs them: the API
    /// layer per call, the command line per command.
    pub async fn record_audit(
        &self,
        event: &crate::audit::AuditEvent,
    ) -> Result<crate::audit::AuditRecord> {
        let record = self.db.append_audit(event).await?;
        // The record is written: a checkpoint that fails is logged, not
        // turned into a failure of the call it records.
        if let Err(e) = self.note_audit_append(&record).await {
            tracing::error!(error = %e, seq = record.seq, "audit checkpoint not written");
        }
        Ok(record)
    }

    /// Count a refused call that carried no valid key (`status` and a
    /// bounded path), instead of chaining a record of it.
    pub async fn count_refusal(&self, status: u16, path: &str) -> Result<()> {
        self.db.count_refusal(status, path).await
    }

    /// Close the database's connections (before a restart on the same
    /// data directory).
    pub async fn close(&self) {
        // Closing the pool ends the follower too; this is sooner.
        if let Some(task) = &self.follow_task.0 {
            task.abort();
        }
        self.correlator_tasks.abort_all();
        // What this engine indexed since its file was last written; if it
        // cannot be written the next start catches up from the feed.
        if let Err(e) = self.save_index_now().await {
            tracing::warn!(error = %e, "could not save the index on close");
        }
        self.db.close().await
    }

    /// The evidence files (a folder or a bucket; see
    /// [`EngineConfig::evidence`]).
    pub fn evidence(&self) -> &EvidenceStore {
        &self.evidence
    }

    pub fn model_version(&self) -> &str {
        &self.model.spec().model_version
    }

    /// Where the index is cached (a derived file: deleting it costs a
    /// rebuild from the database at the next start).
    pub fn index_path(&self) -> &std::path::Path {
        &self.index_path
    }

    /// Number of casings the index can return.
    pub fn indexed_count(&self) -> Result<u64> {
        Ok(self.lock_index()?.len())
    }

    /// What kind of index answers searches now (exact, or IVF with its
    /// lists and training size): for the health check.
    pub fn index_kind(&self) -> Result<IndexKind> {
        Ok(self.lock_index()?.kind())
    }

    /// The index's `k` nearest casings to `descriptor` among the casings
    /// of `within`, searched off the async executor. The agencies' id sets
    /// beside the index restrict the search itself, so what the caller may
    /// not see never takes a place among the `k`.
    ///
    /// While the casings of `within` number at most `whole_up_to`, all of
    /// them are returned (at least `k`), counted under the same lock, off
    /// the executor too.
    async fn search_index(
        &self,
        descriptor: Vec<f32>,
        k: usize,
        whole_up_to: u64,
        within: &Agencies,
    ) -> Result<Vec<(i64, f32)>> {
        let index = self.index.clone();
        let within = match within {
            Agencies::All => None,
            Agencies::Only(agencies) => Some(agencies.clone()),
        };
        blocking(move || {
            let mut index = index
                .lock()
                .map_err(|_| EngineError::poisoned_index_lock())?;
            index.search_or_all(&descriptor, k, whole_up_to, within.as_deref())
        })
        .await
    }

    fn lock_index(&self) -> Result<std::sync::MutexGuard<'_, CasingIndex>> {
        self.index
            .lock()
            .map_err(|_| EngineError::poisoned_index_lock())
    }
}

/// Run CPU-bound work on tokio's blocking pool.
async fn blocking<T, F>(work: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| EngineError::Internal(format!("worker thread failed: {e}")))?
}
