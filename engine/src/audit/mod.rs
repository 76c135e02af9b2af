//! The audit trail: one record per attributable action (who, for which
//! agency, with which key, did what to which resource, when, with what
//! outcome), kept append-only and chained by hashes so that an edited or
//! deleted record is detected and named.
//!
//! [`AuditEvent`] is what a caller records; the store gives it a sequence
//! number, a time and its place in the chain ([`AuditRecord`]).
//! [`ChainVerifier`] checks a chain read back in sequence order.
//! [`anchor`] signs the chain's head with a key kept outside the database
//! ([`Checkpoint`]s in a log file), so that a deleted tail or a re-hashed
//! edit is caught too; [`AuditAnchor`] writes them as the chain grows.

pub mod anchor;
mod checkpointer;
mod entry;
mod verify;

/// How audit records are asked for (kept by [`crate::store`]).
pub use crate::store::{AuditQuery, AUDIT_QUERY_MAX};
pub use anchor::{AnchorProblem, AnchorReport, AuditKey, Checkpoint, CheckpointLog};
pub use checkpointer::AuditAnchor;
pub(crate) use entry::audit_now;
pub use entry::{AuditEvent, AuditOutcome, AuditRecord, GENESIS_HASH};
pub use verify::{ChainBreak, ChainBreakKind, ChainReport, ChainVerifier};
