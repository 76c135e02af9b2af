//! The engine's configuration, resolved before anything runs.

use std::path::PathBuf;
use std::time::Duration;

use crate::comparison::CompareConfig;
use crate::description::{default_runtime_path, ModelPaths};
use crate::index::IndexPlan;
use crate::preprocessing::PreprocessConfig;
use crate::reading::ReadLimits;
use crate::store::EvidenceLocation;

/// Everything [`super::Engine::open`] needs; `EngineConfig::new(dir)` gives
/// the zero-configuration embedded default.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Holds the SQLite file, the index and (by default) the evidence files.
    pub data_dir: PathBuf,
    /// `postgres://…` for a shared deployment; `None` = SQLite in `data_dir`.
    pub database_url: Option<String>,
    /// Where the original files are kept: `evidence/` in `data_dir` by
    /// default, or an S3-compatible bucket every node shares.
    pub evidence: EvidenceLocation,
    pub model: ModelPaths,
    /// The ONNX Runtime shared library.
    pub runtime_library: PathBuf,
    /// Worker threads for description and fine comparison.
    pub threads: usize,
    pub limits: ReadLimits,
    pub preprocess: PreprocessConfig,
    pub compare: CompareConfig,
    /// How many nearest neighbours the descriptor index hands to the fine
    /// comparison. Recall of this shortlist bounds the whole engine.
    pub shortlist: usize,
    /// While the casings a query may see number at most this many, it is
    /// fine-compared with every one of them, not with a shortlist:
    /// the shortlist is there for scale, and on a small collection the
    /// descriptor's misses (a make or instrument it was not trained on)
    /// would cost ranks for nothing. 500 keeps a query to about three
    /// seconds on two cores (~11 ms a pair); 0 always takes the shortlist.
    pub compare_all_up_to: u64,
    /// Which index the descriptors get by count (exact below a threshold,
    /// IVF above it) and how an IVF index is searched.
    pub index: IndexPlan,
    /// Bulk import jobs.
    pub imports: ImportConfig,
    /// The audit chain's anchor and retention.
    pub audit: AuditConfig,
    /// The fine score's likelihood-ratio calibration: a file (`casetrace
    /// eval --write-calibration` writes one) or a folder of them, each
    /// applied only inside its stated coverage; `None` = candidates carry
    /// no LR (and say so).
    pub calibration: Option<PathBuf>,
    /// The learned fine score (`casetrace fit-score` writes one); `None` =
    /// the hand-weighted score. A path that does not load is an error.
    pub score_model: Option<PathBuf>,
    /// How often the engine reads the database's change feed to bring its
    /// index up to date with what other engines (and the command line)
    /// committed. Casings this engine stores are indexed at once.
    pub follow_every: Duration,
    /// The index file is written at most once per this period while
    /// changes keep coming (and at the end of an import, a re-description
    /// and on close); zero writes it after every change. The file is a
    /// cache a start catches up from, so a longer period costs only a
    /// longer catch-up after a crash.
    pub index_save_every: Duration,
    /// The correlation queue's workers on this engine (off unless asked:
    /// `casetrace serve` turns them on).
    pub correlation: CorrelationConfig,
}

/// Settings of this engine's correlation workers. Every engine enqueues a
/// job for each casing it stores whatever these say; they decide whether
/// this engine also works the queue.
#[derive(Debug, Clone, PartialEq)]
pub struct CorrelationConfig {
    /// Worker tasks; 0 = this engine works no job.
    pub workers: usize,
    /// A candidate becomes a lead when the calibrated log10 likelihood
    /// ratio of the pair reaches this. Candidates without an LR (no
    /// calibration covers the pair) never become leads automatically.
    pub min_log10_lr: f64,
    /// Casings the descriptor index hands a job's fine comparison.
    pub shortlist: usize,
    /// How long a claimed job is a worker's before others may take it
    /// over; the worker renews it every third of this while it works, so
    /// only a stopped node loses its jobs.
    pub lease: Duration,
    /// Claims of a job before it is given up as failed, its last error
    /// kept.
    pub max_attempts: i32,
    /// How often an idle worker looks for jobs.
    pub poll_every: Duration,
    /// Done jobs are deleted this many days after they finished.
    pub keep_done_days: i64,
}

impl Default for CorrelationConfig {
    fn default() -> Self {
        CorrelationConfig {
            workers: 0,
            // 100 to 1 for the same firearm: a lead worth an examiner's
            // time, not a verdict.
            min_log10_lr: 2.0,
            shortlist: 20,
            lease: Duration::from_secs(30),
            max_attempts: 3,
            poll_every: Duration::from_millis(500),
            keep_done_days: 7,
        }
    }
}

/// Settings of bulk import jobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportConfig {
    /// Folders under which an import may name a server-side path; empty:
    /// server-side paths are refused (uploads only).
    pub roots: Vec<PathBuf>,
    /// Largest uploaded archive, bytes (spooled to a temporary file in the
    /// data directory, refused while streaming once it passes this).
    pub max_upload_bytes: u64,
    /// Most uploaded archives held at once (being received, or spooled for
    /// a running job): with `max_upload_bytes`, this bounds the disk that
    /// uploads can take. Further uploads are refused until one ends.
    pub max_concurrent_uploads: usize,
    /// Rows per database transaction and per index save.
    pub batch_size: usize,
    /// Casings per ONNX run.
    pub describe_batch: usize,
}

impl Default for ImportConfig {
    fn default() -> Self {
        ImportConfig {
            roots: Vec::new(),
            // 2 GiB: a few thousand X3P scans; larger loads are split or
            // imported from a server-side path.
            max_upload_bytes: 2 * 1024 * 1024 * 1024,
            max_concurrent_uploads: 2,
            batch_size: 64,
            describe_batch: 32,
        }
    }
}

/// Where the audit chain is anchored, and how long records must stay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditConfig {
    /// The key that signs checkpoints; `None`: `audit.key` in the data
    /// directory, created (mode 0600) on first start. Keep it away from
    /// whoever can write the database: a copy lets them forge checkpoints.
    pub key_file: Option<PathBuf>,
    /// The JSON-lines log of signed checkpoints; `None`:
    /// `audit-checkpoints.jsonl` in the data directory.
    pub checkpoint_file: Option<PathBuf>,
    /// A checkpoint is written at least every this many records.
    pub checkpoint_every: i64,
    /// `casetrace audit archive` refuses records younger than this (CJIS
    /// asks for a year).
    pub min_retention_days: i64,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            key_file: None,
            checkpoint_file: None,
            checkpoint_every: 100,
            min_retention_days: 365,
        }
    }
}

impl EngineConfig {
    /// The audit key's file.
    pub fn audit_key_path(&self) -> PathBuf {
        self.audit
            .key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("audit.key"))
    }

    /// The checkpoint log's file.
    pub fn audit_checkpoint_path(&self) -> PathBuf {
        self.audit
            .checkpoint_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("audit-checkpoints.jsonl"))
    }
}

impl EngineConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        EngineConfig {
            data_dir: data_dir.into(),
            database_url: None,
            evidence: EvidenceLocation::Local,
            model: ModelPaths::default_location(),
            runtime_library: default_runtime_path(),
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            limits: ReadLimits::default(),
            preprocess: PreprocessConfig::default(),
            compare: CompareConfig::default(),
            shortlist: 100,
            compare_all_up_to: 500,
            index: IndexPlan::default(),
            imports: ImportConfig::default(),
            audit: AuditConfig::default(),
            calibration: Some(crate::calibration::Calibration::default_path())
                .filter(|p| p.exists()),
            score_model: Some(crate::comparison::ScoreModel::default_path()).filter(|p| p.exists()),
            // Well inside the 2 s a shared deployment promises, for one
            // small indexed query per poll.
            follow_every: Duration::from_millis(500),
            // At a million casings the file is ~520 MB and writing it holds
            // the index (searches wait): not after every casing.
            index_save_every: Duration::from_secs(30),
            correlation: CorrelationConfig::default(),
        }
    }
}

impl EngineConfig {
    /// The database this configuration names: PostgreSQL at
    /// `database_url`, else SQLite in `data_dir`; migrated. For tools that
    /// need the records without the model or the index: tests and tools
    /// outside the engine reach them through
    /// [`EngineConfig::open_operator`] (or `Engine::database` with the
    /// `store-access` feature).
    pub(crate) async fn open_database(&self) -> crate::Result<crate::store::Database> {
        match &self.database_url {
            Some(url) => crate::store::Database::connect(url).await,
            None => crate::store::Database::open_default(&self.data_dir).await,
        }
    }
}
