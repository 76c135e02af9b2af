//! Queueing correlation for casings on file that were never queued (stored
//! before the queue existed) or whose finished job was pruned, and, on
//! request, for every casing again (`casetrace correlate`).

use super::Engine;
use crate::audit::{AuditEvent, AuditOutcome};
use crate::error::Result;

/// The audit action of queueing correlation by hand.
pub const QUEUE_CORRELATION_ACTION: &str = "correlation.queue";

/// Who queues and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueCorrelationOptions {
    /// Also queue casings whose correlation is done or failed (after
    /// `redescribe`, or once the cause of failures is mended).
    pub again: bool,
    /// Recorded in the audit log as the acting agency and actor.
    pub agency: String,
    pub actor: String,
}

impl Engine {
    /// Queue a correlation job for every casing that has none (and, with
    /// `again`, for every casing whose job finished); the jobs are worked
    /// by whichever engines run correlation workers. Each runs as its
    /// casing's agency, ranking within that agency's agreements. How many
    /// were queued.
    pub async fn queue_correlation(&self, opts: &QueueCorrelationOptions) -> Result<u64> {
        let mut event = AuditEvent::new(
            opts.agency.clone(),
            opts.actor.clone(),
            QUEUE_CORRELATION_ACTION,
            "correlation_jobs",
            AuditOutcome::Ok,
        );
        event.detail.insert("again".into(), opts.again.into());
        let queued = self
            .db
            .queue_missing_correlation(opts.again, &event)
            .await?;
        tracing::info!(queued, again = opts.again, "correlation queued");
        Ok(queued)
    }
}
