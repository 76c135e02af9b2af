//! The correlation queue's workers: every casing stored gets a job
//! (`store::correlation_jobs`), and any engine whose configuration asks
//! for workers ([`super::CorrelationConfig::workers`]) claims jobs, ranks
//! each job's casing among what the job's principal may correlate with,
//! and writes the candidates whose calibrated log10 LR reaches the
//! threshold as leads of that principal's agency.
//!
//! A job is completed in one transaction with its leads and its audit
//! record, and only while this worker still holds its claim token, so a
//! node killed mid-job loses nothing (the lease runs out and another node
//! claims the job again) and no job is completed twice.
//!
//! The workers hold the engine weakly: they end when it is dropped or
//! closed, like the index follower.

use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use super::Engine;
use crate::access::{Principal, Role, Scope};
use crate::audit::{AuditEvent, AuditOutcome};
use crate::error::{EngineError, Result};
use crate::store::{ClaimedJob, NewAutoLead, QueueCounts, CORRELATOR};

/// How often one worker of each engine deletes old done jobs.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// The audit action of a completed job.
pub const CORRELATION_ACTION: &str = "correlation.complete";

/// The queue as one node sees it, for the health check.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QueueDepth {
    pub queued: u64,
    pub running: u64,
    /// Running jobs this node holds.
    pub running_here: u64,
    pub failed: u64,
    /// How long the oldest queued job has waited, seconds (0 when none).
    pub oldest_queued_seconds: f64,
    /// This node's workers (0: it works no job).
    pub workers: usize,
}

/// The running workers' tasks, aborted when the engine goes.
#[derive(Debug, Default)]
pub(super) struct CorrelatorTasks(Mutex<Vec<tokio::task::JoinHandle<()>>>);

impl CorrelatorTasks {
    pub(super) fn abort_all(&self) {
        if let Ok(mut tasks) = self.0.lock() {
            for task in tasks.drain(..) {
                task.abort();
            }
        }
    }
}

impl Drop for CorrelatorTasks {
    fn drop(&mut self) {
        self.abort_all();
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The node's name in `claimed_by`: host, process and a random part, so
/// two engines in one process (tests) are two nodes.
pub(super) fn node_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown-host".into());
    let tag = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}:{}:{}", std::process::id(), &tag[..8])
}

impl Engine {
    /// Start this engine's correlation workers, as many as its
    /// configuration says (none by default); how many were started. Call
    /// once; the workers end when the engine is dropped or closed.
    pub fn start_correlating(self: &Arc<Self>) -> usize {
        let workers = self.cfg.correlation.workers;
        let Ok(mut tasks) = self.correlator_tasks.0.lock() else {
            return 0;
        };
        for worker in 0..workers {
            tasks.push(tokio::spawn(work(Arc::downgrade(self), worker)));
        }
        if workers > 0 {
            tracing::info!(workers, node = %self.node, "correlation workers started");
        }
        workers
    }

    /// The correlation queue's depth, and what this node holds of it (for
    /// the health check: counts and times only, no record).
    pub async fn correlation_queue(&self) -> Result<QueueDepth> {
        let counts: QueueCounts = self.db.correlation_queue(&self.node).await?;
        let count = |n: i64| u64::try_from(n).unwrap_or_default();
        Ok(QueueDepth {
            queued: count(counts.queued),
            running: count(counts.running),
            running_here: count(counts.running_here),
            failed: count(counts.failed),
            oldest_queued_seconds: counts.oldest_queued_at.map_or(0.0, |at| {
                ((chrono::Utc::now() - at).num_milliseconds().max(0) as f64) / 1000.0
            }),
            workers: self.cfg.correlation.workers,
        })
    }

    /// Claim one job and work it to the end; false when none was
    /// claimable. Tests drive the queue through this without workers.
    pub async fn work_one_correlation_job(&self) -> Result<bool> {
        let cfg = &self.cfg.correlation;
        let Some(job) = self
            .db
            .claim_correlation_jobs(&self.node, 1, cfg.lease, cfg.max_attempts)
            .await?
            .pop()
        else {
            return Ok(false);
        };
        // Dropped, the guard stops the renewals, also when this worker is
        // aborted mid-job (the engine closing): the lease then runs out.
        let heartbeat = AbortOnDrop(tokio::spawn(renew_lease(
            self.db.clone(),
            job.clone(),
            cfg.lease,
        )));
        let outcome = self.finish_job(&job).await;
        drop(heartbeat);
        if let Err(e) = outcome {
            tracing::warn!(job = job.id, attempt = job.attempts, error = %e, "correlation job failed");
            self.db
                .fail_correlation_attempt(&job, &e.to_string(), cfg.max_attempts)
                .await?;
        }
        Ok(true)
    }

    /// Correlate the job's casing and complete the job with its leads.
    async fn finish_job(&self, job: &ClaimedJob) -> Result<()> {
        let started = Instant::now();
        let (leads, event) = self.correlate(job).await?;
        match self
            .db
            .complete_correlation_job(job, &leads, &event)
            .await?
        {
            Some(made) => tracing::info!(
                job = job.id,
                casing = job.casing_pk,
                leads = made.len(),
                seconds = started.elapsed().as_secs_f64(),
                "correlation job done"
            ),
            // Its lease ran out and another worker holds it now: that one
            // completes it, and nothing of this run was written.
            None => tracing::warn!(
                job = job.id,
                "correlation job taken over by another worker; this run's result dropped"
            ),
        }
        Ok(())
    }

    /// The leads of a job's casing, and the audit record of the job.
    async fn correlate(&self, job: &ClaimedJob) -> Result<(Vec<NewAutoLead>, AuditEvent)> {
        let cfg = &self.cfg.correlation;
        let mut event = AuditEvent::new(
            &job.agency,
            CORRELATOR,
            CORRELATION_ACTION,
            format!("casing/#{}", job.casing_pk),
            AuditOutcome::Ok,
        );
        event.key_id = job.key_id.clone();
        event.detail.insert("node".into(), self.node.clone().into());
        // Everything committed before the claim, the job's casing among
        // them, into this node's index first: the node may lag the feed,
        // and a pair is found by the later of its two casings' jobs only
        // if the earlier casing is in the index by then.
        self.follower.catch_up().await?;
        let Some(casing) = self.db.casing_by_pk(job.casing_pk).await? else {
            // Removed since: nothing to correlate, the job is done.
            event.detail.insert("casing_removed".into(), true.into());
            return Ok((Vec::new(), event));
        };
        event.resource = format!("casing/{}/{}", casing.agency, casing.casing_id);
        // The submitter's agency's sight as it stands now: what its
        // agreements let it correlate with bounds the job.
        let principal = Principal::key_holder(
            &job.agency,
            CORRELATOR,
            job.key_id.clone(),
            vec![Role::Examiner],
        );
        let within = self
            .sight(&principal)
            .await?
            .agencies(Scope::Correlate)
            .clone();
        let list = self
            .rank_stored(&casing, cfg.shortlist, cfg.shortlist, &within)
            .await?;
        let leads: Vec<NewAutoLead> = list
            .candidates
            .iter()
            .filter_map(|c| {
                let lr = c.log10_lr.filter(|lr| *lr >= cfg.min_log10_lr)?;
                Some(NewAutoLead {
                    agency: job.agency.clone(),
                    query_casing_pk: casing.id,
                    candidate_casing_pk: c.casing.id,
                    score: c.score,
                    log10_lr: lr,
                })
            })
            .collect();
        event
            .detail
            .insert("candidates".into(), list.candidates.len().into());
        event
            .detail
            .insert("min_log10_lr".into(), cfg.min_log10_lr.into());
        Ok((leads, event))
    }
}

/// Keep `job`'s lease while it runs: renewed every third of `lease`, until
/// aborted or the claim is lost.
async fn renew_lease(db: crate::store::Database, job: ClaimedJob, lease: Duration) {
    loop {
        tokio::time::sleep(lease / 3).await;
        match db.renew_correlation_lease(&job, lease).await {
            Ok(true) => {}
            Ok(false) | Err(EngineError::Database(sqlx::Error::PoolClosed)) => return,
            // A database hiccup: try again next time; the lease has two
            // thirds of its time left.
            Err(e) => tracing::warn!(job = job.id, error = %e, "could not renew a lease"),
        }
    }
}

/// One worker: claim, work, repeat; idle for `poll_every` when the queue
/// is empty.
async fn work(engine: Weak<Engine>, worker: usize) {
    let mut failing = false;
    let mut pruned: Option<Instant> = None;
    loop {
        let Some(engine) = engine.upgrade() else {
            return;
        };
        let cfg = engine.cfg.correlation.clone();
        let idle = match engine.work_one_correlation_job().await {
            Ok(worked) => {
                if failing {
                    tracing::info!(worker, "working the correlation queue again");
                }
                failing = false;
                !worked
            }
            Err(EngineError::Database(sqlx::Error::PoolClosed)) => return,
            // Said once per outage; a claimed job comes back when its
            // lease runs out.
            Err(e) => {
                if !failing {
                    tracing::warn!(worker, error = %e, "could not work the correlation queue; retrying");
                }
                failing = true;
                true
            }
        };
        if worker == 0 && pruned.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
            pruned = Some(Instant::now());
            match engine.db.prune_correlation_jobs(cfg.keep_done_days).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(jobs = n, "old done correlation jobs deleted"),
                Err(e) => tracing::warn!(error = %e, "could not prune the correlation queue"),
            }
        }
        drop(engine);
        if idle {
            tokio::time::sleep(cfg.poll_every).await;
        }
    }
}
