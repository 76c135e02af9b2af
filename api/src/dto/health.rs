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
    /// This node's name in the correlation queue's claims (host, process
    /// and a random part).
    pub node: String,
    /// How far this node's index is behind the database's change feed
    /// (what other nodes and the command line committed).
    pub index_lag: IndexLagDto,
    /// The correlation queue shared by every node, and this node's part.
    pub correlation_queue: QueueDepthDto,
}

/// The correlation queue as one node sees it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct QueueDepthDto {
    /// Jobs waiting for a worker (of any node).
    pub queued: u64,
    /// Jobs a worker holds (of any node; a stopped node's until its lease
    /// runs out).
    pub running: u64,
    /// Running jobs this node holds.
    pub running_here: u64,
    /// Jobs given up after their last attempt, the error kept.
    pub failed: u64,
    /// How long the oldest queued job has waited, seconds (0 when none).
    pub oldest_queued_seconds: f64,
    /// This node's correlation workers (0: it works no job).
    pub workers: usize,
}

impl From<casetrace_engine::service::QueueDepth> for QueueDepthDto {
    fn from(q: casetrace_engine::service::QueueDepth) -> Self {
        QueueDepthDto {
            queued: q.queued,
            running: q.running,
            running_here: q.running_here,
            failed: q.failed,
            oldest_queued_seconds: q.oldest_queued_seconds,
            workers: q.workers,
        }
    }
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
