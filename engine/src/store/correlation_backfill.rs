//! Queueing correlation for casings that have no job: those stored before
//! the queue existed (migration 0012), and those whose finished job was
//! pruned. On request, casings already correlated are queued again, e.g.
//! after `redescribe` gave them descriptors of a new model.
//!
//! Running a casing's correlation again makes no lead twice: a lead is
//! unique per agency and pair.

use super::audit::append_audit_in;
use super::db::{on_pool, BeginWrite, Database};
use crate::audit::AuditEvent;
use crate::error::Result;

/// A job for every casing without one, queued as its agency with no key
/// (the job then ranks within what the agency's agreements allow). A
/// submission racing this statement has queued its own job: kept.
const QUEUE_MISSING: &str = "INSERT INTO correlation_jobs (casing_pk, agency, key_id) \
     SELECT c.id, c.agency, NULL FROM casings c \
     WHERE NOT EXISTS (SELECT 1 FROM correlation_jobs j WHERE j.casing_pk = c.id) \
     ORDER BY c.id \
     ON CONFLICT (casing_pk) DO NOTHING";

impl Database {
    /// Queue a correlation job for every casing that has none; with
    /// `again`, finished jobs (done or failed) are replaced by new ones
    /// first, so every casing not already queued or running is queued.
    /// `event` goes into the audit log in the same transaction, with the
    /// counts. How many jobs were queued.
    pub async fn queue_missing_correlation(&self, again: bool, event: &AuditEvent) -> Result<u64> {
        let backend = self.backend();
        let mut event = event.clone();
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let replaced = if again {
                sqlx::query("DELETE FROM correlation_jobs WHERE state IN ('done', 'failed')")
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
            } else {
                0
            };
            let queued = sqlx::query(QUEUE_MISSING).execute(&mut *tx).await?.rows_affected();
            event.detail.insert("queued".into(), queued.into());
            event.detail.insert("finished_jobs_replaced".into(), replaced.into());
            append_audit_in!(tx, backend, &event);
            tx.commit().await?;
            Ok(queued)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::test_support::{
        audit_records_of, casing_fixture, completion_event, on_both_backends,
    };
    use super::*;
    use crate::audit::AuditOutcome;
    use crate::store::CorrelationState;

    const LONG: Duration = Duration::from_secs(60);

    fn event() -> AuditEvent {
        AuditEvent::new(
            "local",
            "admin",
            "correlation.queue",
            "correlation_jobs",
            AuditOutcome::Ok,
        )
    }

    /// Casings without a job (as after migration 0012 or pruning) get one;
    /// casings with a job keep theirs unless asked to run again; a second
    /// run queues nothing new.
    async fn casings_without_a_job_are_queued_once(db: &Database) {
        let a = casing_fixture(db, "lab", "A", None, None).await;
        let b = casing_fixture(db, "lab", "B", None, None).await;
        let c = casing_fixture(db, "other", "C", None, None).await;
        // A is done; B's and C's jobs are gone, as for casings stored
        // before the queue existed.
        let job = db.claim_correlation_jobs("n", 1, LONG, 3).await.unwrap()[0].clone();
        assert_eq!(job.casing_pk, a);
        db.complete_correlation_job(&job, &[], &completion_event())
            .await
            .unwrap()
            .unwrap();
        on_pool!(db, pool => {
            sqlx::query("DELETE FROM correlation_jobs WHERE casing_pk IN ($1, $2)")
                .bind(b)
                .bind(c)
                .execute(pool)
                .await
                .unwrap();
        });
        assert_eq!(
            db.queue_missing_correlation(false, &event()).await.unwrap(),
            2
        );
        for (pk, agency) in [(b, "lab"), (c, "other")] {
            let job = db.correlation_job_of(pk).await.unwrap().unwrap();
            assert_eq!(
                (job.state, job.agency.as_str(), job.key_id),
                (CorrelationState::Queued, agency, None)
            );
        }
        assert_eq!(
            db.correlation_job_of(a).await.unwrap().unwrap().state,
            CorrelationState::Done
        );
        assert_eq!(
            db.queue_missing_correlation(false, &event()).await.unwrap(),
            0
        );
        // Again: A's finished job is replaced by a fresh one; B's and C's
        // queued jobs are left as they are.
        assert_eq!(
            db.queue_missing_correlation(true, &event()).await.unwrap(),
            1
        );
        let fresh = db.correlation_job_of(a).await.unwrap().unwrap();
        assert_eq!(
            (fresh.state, fresh.completions, fresh.attempts),
            (CorrelationState::Queued, 0, 0)
        );
        assert_ne!(fresh.id, job.id);
        assert_eq!(db.correlation_jobs().await.unwrap().len(), 3);
        let records = audit_records_of(db, "correlation.queue").await;
        assert_eq!(records.len(), 3);
        assert!(
            records[0].detail.contains("\"queued\":2"),
            "{}",
            records[0].detail
        );
        assert!(
            records[2].detail.contains("\"finished_jobs_replaced\":1"),
            "{}",
            records[2].detail
        );
    }

    on_both_backends!(casings_without_a_job_are_queued_once);
}
