//! Storage: the database of casings and their features ([`Database`],
//! SQLite embedded or PostgreSQL) and the content-addressed store of the
//! original evidence files ([`EvidenceStore`]), in a folder or an
//! S3-compatible bucket.
//!
//! Persistence only: the records stored are defined beside their rules
//! ([`crate::casing`], [`crate::access`], [`crate::audit`],
//! [`crate::traces`]), and this module depends on them, never the other
//! way round.
//!
//! The database is the source of truth for what is on file; the vector
//! index is rebuilt from it ([`Database::all_index_entries`]). Evidence files
//! are named by their SHA-256, which every casing row records.

mod access;
mod audit;
mod audit_anchor;
mod audit_archive;
mod audit_refusals;
mod canvas_recoding;
mod cases;
mod casings;
mod changes;
mod conclusions;
mod correlation_backfill;
pub(crate) mod correlation_jobs;
mod db;
mod evidence;
mod firearms;
mod imports;
mod index_entries;
mod leads;
mod redescription;
mod submission_undo;
#[cfg(test)]
pub(crate) mod test_support;
mod trace_events;

pub use audit::{AuditQuery, AUDIT_PAGE, AUDIT_QUERY_MAX};
pub use audit_archive::{ArchiveOutcome, AuditSegment};
pub use audit_refusals::RefusalCount;
pub use canvas_recoding::{RecodedCanvases, StoredCanvases};
pub use casings::InsertOutcome;
pub use changes::{CasingChange, ChangeKind, FeedLag};
pub use correlation_jobs::{
    ClaimedJob, CorrelationJob, CorrelationState, NewAutoLead, QueueCounts, CORRELATOR,
};
pub use db::{Backend, Database, DEFAULT_SQLITE_FILE};
pub use evidence::{
    sha256_hex, EvidenceLocation, EvidencePut, EvidenceStore, S3Credentials, S3Location,
};
pub use firearms::MAX_SEARCH_RESULTS;
pub use imports::{
    now_ms, BatchItem, BatchResult, ImportJob, JobState, NewImportJob, RowCounts, RowFailure,
    RowOutcome, RowRef, SourceKind, MAX_LISTED_FAILURES,
};
pub use leads::LeadScores;
pub use redescription::{NewDescription, StaleCasing};
