//! Storage: the database of casings and their features ([`Database`],
//! SQLite embedded or PostgreSQL) and the content-addressed store of the
//! original evidence files ([`BlobStore`]).
//!
//! The database is the source of truth for what is on file; the vector
//! index is rebuilt from it ([`Database::all_descriptors`]). Evidence files
//! are named by their SHA-256, which every casing row records.

mod audit;
mod blobs;
mod casings;
mod db;
#[cfg(test)]
mod test_support;

pub use audit::{AuditQuery, AUDIT_PAGE, AUDIT_QUERY_MAX};
pub use blobs::{sha256_hex, BlobPut, BlobStore};
pub use casings::{CasingFeatures, CasingKind, CasingRecord, InsertOutcome, NewCasing};
pub use db::{Backend, Database, DEFAULT_SQLITE_FILE};
