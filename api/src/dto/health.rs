//! The health check's answer.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `GET /healthz`: the server is up and its database answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HealthDto {
    #[schema(example = "ok")]
    pub status: String,
    /// Casings in the database.
    pub casings: u64,
    /// Casings the descriptor index can return; equal to `casings` unless
    /// a submission is in flight.
    pub indexed: u64,
    /// The descriptor index answering searches: `exact` below the
    /// configured size, else the IVF index's lists and training size.
    #[schema(example = "exact")]
    pub index_kind: String,
    /// Version of the descriptor model in use.
    pub model_version: String,
    /// How far this node's index is behind the database's change feed
    /// (what other nodes and the command line committed).
    pub index_lag: IndexLagDto,
}

/// A node's index against the database's change feed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IndexLagDto {
    /// The feed position the index holds every change up to.
    pub position: i64,
    /// Changes committed after it, not yet in this node's index.
    pub changes_behind: u64,
    /// How long the oldest of them has waited, seconds (0 when none).
    pub seconds_behind: f64,
}

impl From<casetrace_engine::service::IndexLag> for IndexLagDto {
    fn from(lag: casetrace_engine::service::IndexLag) -> Self {
        IndexLagDto {
            position: lag.position,
            changes_behind: lag.changes_behind,
            seconds_behind: lag.seconds_behind,
        }
    }
}
