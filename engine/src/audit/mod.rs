//! The audit trail: one record per attributable action (who, for which
//! agency, with which key, did what to which resource, when, with what
//! outcome), kept append-only and chained by hashes so that an edited or
//! deleted record is detected and named.
//!
//! [`AuditEvent`] is what a caller records; the store gives it a sequence
//! number, a time and its place in the chain ([`AuditRecord`]).
//! [`ChainVerifier`] checks a chain read back in sequence order.

mod entry;
mod verify;

pub(crate) use entry::audit_now;
pub use entry::{AuditEvent, AuditOutcome, AuditRecord, GENESIS_HASH};
pub use verify::{ChainBreak, ChainBreakKind, ChainReport, ChainVerifier};
