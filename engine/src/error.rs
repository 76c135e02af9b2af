//! The engine's error type: user errors (bad input, unknown ids) apart from
//! internal ones, so the API can map each to an HTTP status in one place.

use std::path::PathBuf;

/// Everything that can go wrong inside the engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The submitted bytes are not a readable casing image or scan.
    #[error("invalid input {source_name}: {field}: {reason}")]
    InvalidInput {
        /// File name or other label of the input.
        source_name: String,
        /// The part of the input that is wrong (e.g. `main.xml/Record3/SizeX`).
        field: String,
        reason: String,
    },
    /// The input is larger than the configured limits allow.
    #[error("input too large {source_name}: {what} is {actual}, limit {limit}")]
    TooLarge {
        source_name: String,
        what: String,
        actual: u64,
        limit: u64,
    },
    /// The input is readable but holds too little usable surface to compare.
    #[error("unusable surface {source_name}: {reason}")]
    Unusable { source_name: String, reason: String },
    /// Submitted metadata is missing or malformed.
    #[error("invalid metadata: {field}: {reason}")]
    InvalidMetadata { field: String, reason: String },
    /// No casing with this id is on file.
    #[error("casing {0} not found")]
    CasingNotFound(String),
    /// The casing id is already used by a casing with different content.
    #[error(
        "casing id {casing_id} already exists with different content (sha256 {existing_sha256})"
    )]
    CasingIdConflict {
        casing_id: String,
        existing_sha256: String,
    },
    /// No firearm, trace event or lead with this id is on file (the text
    /// names which, e.g. `firearm 12`).
    #[error("{0} not found")]
    NotFound(String),
    /// The descriptor model could not be loaded or run.
    #[error("descriptor model: {0}")]
    Model(String),
    /// The nearest-neighbour index (faiss) failed.
    #[error("index: {0}")]
    Index(String),
    /// A fault of the engine itself, never of the request: work on a
    /// blocking thread panicked, a lock was poisoned by an earlier panic,
    /// or data on file is not what this code wrote (an unknown stored
    /// state, an undecodable comparison canvas, a row missing its
    /// features). Answered as a 500 without detail.
    #[error("internal: {0}")]
    Internal(String),
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// A database migration failed.
    #[error("database migration: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// Reading or writing a file of the data directory failed.
    #[error("io on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An evidence file is missing or damaged, or its store failed. The
    /// engine's fault or the store's, never the caller's: the files are
    /// written by the engine and named by their hash.
    #[error("evidence file {sha256} ({location}): {problem}")]
    Evidence {
        sha256: String,
        /// Where the file is: a path, or the store's URL of the object.
        location: String,
        problem: EvidenceProblem,
    },
    /// No import job with this id.
    #[error("import job {0} not found")]
    ImportNotFound(String),
    /// The same manifest is being loaded by a job that is still running.
    #[error("import job {job_id} is already loading this manifest")]
    ImportRunning { job_id: String },
    /// The engine's configuration is wrong.
    #[error("configuration: {0}")]
    Config(String),
    /// No key, a malformed or unknown key, or one expired or revoked. The
    /// reason is kept general on purpose: it must not tell a guesser which.
    #[error("authentication required: {0}")]
    Unauthenticated(String),
    /// The caller is known but may not do this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The caller may correlate with the casing's agency but not see its
    /// images: a `correlate`-only agreement shares ranks and scores, never
    /// the evidence itself.
    #[error("image not shared: {0}")]
    ImageNotShared(String),
    /// The request contradicts what is on file (a second conclusion by the
    /// same key, a conclusion on a concluded lead).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A record the caller may not see: shown exactly as the error an
    /// absent record gives (same text, same status and code), so hidden
    /// and absent cannot be told apart; the API records it as a denial.
    /// Made by [`crate::access::policy::hidden`].
    #[error(transparent)]
    Hidden(Box<EngineError>),
}

/// What is wrong with an evidence file ([`EngineError::Evidence`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceProblem {
    /// Nothing is stored under the file's name.
    #[error("not in the evidence store")]
    Missing,
    /// The stored bytes no longer hash to the file's name.
    #[error("corrupt: its content hashes to {actual}")]
    Corrupt { actual: String },
    /// The store holds an object of another size under the file's name: an
    /// existing object is never overwritten, so it is left for inspection.
    #[error(
        "holds {stored} bytes where its name promises {expected}: the stored evidence is damaged"
    )]
    Damaged { stored: u64, expected: u64 },
    /// Larger than any file the engine accepts: not read into memory.
    #[error("holds {stored} bytes, over the read limit of {limit}")]
    OverLimit { stored: u64, limit: u64 },
    /// The store itself failed (unreachable, refused the credentials, …).
    #[error("the evidence store failed: {0}")]
    Store(String),
}

impl EngineError {
    pub fn invalid(source_name: &str, field: &str, reason: impl Into<String>) -> Self {
        EngineError::InvalidInput {
            source_name: source_name.to_string(),
            field: field.to_string(),
            reason: reason.into(),
        }
    }

    pub fn too_large(source_name: &str, what: &str, actual: u64, limit: u64) -> Self {
        EngineError::TooLarge {
            source_name: source_name.to_string(),
            what: what.to_string(),
            actual,
            limit,
        }
    }

    pub fn internal(what: impl Into<String>) -> Self {
        EngineError::Internal(what.into())
    }

    /// The lock around the index was poisoned: a thread panicked while
    /// holding it, so what it guards may be half-changed.
    pub fn poisoned_index_lock() -> Self {
        EngineError::internal("index lock poisoned by an earlier panic")
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        EngineError::Io {
            path: path.into(),
            source,
        }
    }

    /// True when the caller, not the engine, is at fault.
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            EngineError::InvalidInput { .. }
                | EngineError::TooLarge { .. }
                | EngineError::Unusable { .. }
                | EngineError::InvalidMetadata { .. }
                | EngineError::CasingNotFound(_)
                | EngineError::CasingIdConflict { .. }
                | EngineError::NotFound(_)
                | EngineError::ImportNotFound(_)
                | EngineError::ImportRunning { .. }
                | EngineError::Conflict(_)
                | EngineError::Hidden(_)
        )
    }

    /// The error a client is shown: a hidden record's absent twin.
    pub fn shown(&self) -> &EngineError {
        match self {
            EngineError::Hidden(absent) => absent.shown(),
            other => other,
        }
    }
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;
