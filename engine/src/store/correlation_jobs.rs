//! The correlation queue (`correlation_jobs`): one job per casing stored
//! by submission or import, enqueued in the transaction that stores the
//! casing, and worked by any engine's workers ([`crate::service`]'s
//! correlator).
//!
//! # Claims, leases and tokens
//!
//! A worker claims jobs with one statement that moves them to `running`,
//! stamps its node, a fresh claim token and a lease (on PostgreSQL
//! `UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED)`, so workers
//! of many nodes never wait on each other or take the same job; SQLite has
//! one writer and needs no more than the `UPDATE`). A job is claimable when
//! it is queued, or running with its lease run out: the node holding it was
//! killed, or lost the database, and the job comes back.
//!
//! The worker renews its lease while it works. Whatever happens to it, the
//! job is completed only by the holder of the current token, in one
//! transaction with the leads it found and the audit record of both: a
//! worker whose lease was taken over finds its token gone and writes
//! nothing, so a job runs to completion once and its leads are made once.
//! Leads are unique per agency and unordered pair besides (migration
//! 0012), because the jobs of both casings of a pair may find it.
//!
//! Leases are compared on the database's clock, the one clock every node
//! shares.

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, FromRow};

use super::audit::append_audit_in;
use super::db::{on_pool, BeginWrite, Database, DbTimestamp};
use super::Backend;
use crate::audit::AuditEvent;
use crate::error::{EngineError, Result};

/// Insert the correlation job of casing `$pk` of `$agency`, submitted with
/// key `$key_id` (`Option<&str>`), in the open transaction `$tx` that
/// stores the casing.
macro_rules! enqueue_correlation_in {
    ($tx:ident, $pk:expr, $agency:expr, $key_id:expr) => {{
        let key_id: Option<&str> = $key_id;
        sqlx::query($crate::store::correlation_jobs::INSERT_JOB)
            .bind($pk)
            .bind($agency)
            .bind(key_id)
            .execute(&mut *$tx)
            .await?;
    }};
}
pub(super) use enqueue_correlation_in;

pub(super) const INSERT_JOB: &str =
    "INSERT INTO correlation_jobs (casing_pk, agency, key_id) VALUES ($1, $2, $3)";

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CorrelationState {
    Queued,
    Running,
    Done,
    Failed,
}

impl CorrelationState {
    pub fn as_str(self) -> &'static str {
        match self {
            CorrelationState::Queued => "queued",
            CorrelationState::Running => "running",
            CorrelationState::Done => "done",
            CorrelationState::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Result<Self> {
        match text {
            "queued" => Ok(CorrelationState::Queued),
            "running" => Ok(CorrelationState::Running),
            "done" => Ok(CorrelationState::Done),
            "failed" => Ok(CorrelationState::Failed),
            other => Err(EngineError::Database(sqlx::Error::Decode(
                format!("correlation_jobs: unknown state {other:?}").into(),
            ))),
        }
    }
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct CorrelationJob {
    pub id: i64,
    pub casing_pk: i64,
    pub agency: String,
    pub key_id: Option<String>,
    pub state: CorrelationState,
    pub claimed_by: Option<String>,
    pub attempts: i32,
    /// Times the job was completed: 1 for a done job.
    pub completions: i32,
    pub leads_made: i32,
    pub last_error: Option<String>,
}

/// A job one worker holds: only the holder of `token` can complete it.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ClaimedJob {
    pub id: i64,
    pub casing_pk: i64,
    /// The principal it runs for: the submitter's agency and key.
    pub agency: String,
    pub key_id: Option<String>,
    /// 1 on the first claim.
    pub attempts: i32,
    #[sqlx(rename = "claim_token")]
    pub token: String,
}

/// A lead a job found: a candidate above the threshold, for the agency the
/// job ran for.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAutoLead {
    pub agency: String,
    pub query_casing_pk: i64,
    pub candidate_casing_pk: i64,
    pub score: f64,
    pub log10_lr: f64,
}

/// The queue at a glance (counts and times only, no record).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueCounts {
    pub queued: i64,
    pub running: i64,
    /// Running jobs held by the node asked about.
    pub running_here: i64,
    pub failed: i64,
    pub done: i64,
    /// When the oldest queued job was queued (`None`: none queued).
    pub oldest_queued_at: Option<DateTime<Utc>>,
}

#[derive(FromRow)]
struct JobRow {
    id: i64,
    casing_pk: i64,
    agency: String,
    key_id: Option<String>,
    state: String,
    claimed_by: Option<String>,
    attempts: i32,
    completions: i32,
    leads_made: i32,
    last_error: Option<String>,
}

impl TryFrom<JobRow> for CorrelationJob {
    type Error = EngineError;

    fn try_from(r: JobRow) -> Result<Self> {
        Ok(CorrelationJob {
            id: r.id,
            casing_pk: r.casing_pk,
            agency: r.agency,
            key_id: r.key_id,
            state: CorrelationState::parse(&r.state)?,
            claimed_by: r.claimed_by,
            attempts: r.attempts,
            completions: r.completions,
            leads_made: r.leads_made,
            last_error: r.last_error,
        })
    }
}

const SELECT_JOBS: &str = "SELECT id, casing_pk, agency, key_id, state, claimed_by, attempts, \
     completions, leads_made, last_error FROM correlation_jobs";

/// An automatic lead, made once per agency and pair (the unique index).
/// A pair one of whose casings is gone (its submission undone on another
/// node after this job ranked it) is skipped rather than failing the job.
const INSERT_AUTO_LEAD: &str = "INSERT INTO leads (agency, query_casing_pk, candidate_casing_pk, \
     status, marked_by, score, log10_lr, origin) \
     SELECT $1, $2, $3, 'lead', $4, $5, $6, 'automatic' \
     WHERE EXISTS (SELECT 1 FROM casings WHERE id = $2) \
     AND EXISTS (SELECT 1 FROM casings WHERE id = $3) \
     ON CONFLICT DO NOTHING RETURNING id";

/// Who a lead made by the queue is marked by, and who the audit log says
/// made it.
pub const CORRELATOR: &str = "correlator";

/// The database's clock in ms since the Unix epoch, as SQL.
fn now_ms_sql(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)",
        Backend::Postgres => "CAST(extract(epoch FROM clock_timestamp()) * 1000 AS BIGINT)",
    }
}

/// The database's clock as a stored timestamp, as SQL.
fn now_sql(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
        Backend::Postgres => "now()",
    }
}

fn ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Database {
    /// Claim up to `limit` jobs for `node`, each under a lease of `lease`
    /// and a fresh token. First, running jobs whose lease ran out after
    /// `max_attempts` claims are given up as failed; other jobs whose
    /// lease ran out are claimable again.
    pub async fn claim_correlation_jobs(
        &self,
        node: &str,
        limit: i64,
        lease: std::time::Duration,
        max_attempts: i32,
    ) -> Result<Vec<ClaimedJob>> {
        let backend = self.backend();
        let now_ms = now_ms_sql(backend);
        let now = now_sql(backend);
        let give_up = format!(
            "UPDATE correlation_jobs SET state = 'failed', finished_at = {now}, \
             last_error = 'the lease of attempt ' || attempts || ' ran out (' || \
             COALESCE(claimed_by, '?') || ' stopped working on it)' \
             WHERE state = 'running' AND lease_until_ms < {now_ms} AND attempts >= $1"
        );
        let skip_locked = match backend {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        };
        let claim = format!(
            "UPDATE correlation_jobs SET state = 'running', claimed_by = $1, claim_token = $2, \
             attempts = attempts + 1, lease_until_ms = {now_ms} + $3 \
             WHERE id IN (SELECT id FROM correlation_jobs \
               WHERE state = 'queued' OR (state = 'running' AND lease_until_ms < {now_ms}) \
               ORDER BY id LIMIT $4{skip_locked}) \
             RETURNING id, casing_pk, agency, key_id, attempts, claim_token"
        );
        let token = uuid::Uuid::new_v4().simple().to_string();
        let mut claimed: Vec<ClaimedJob> = on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query(AssertSqlSafe(give_up))
                .bind(max_attempts)
                .execute(&mut *tx)
                .await?;
            let rows = sqlx::query_as(AssertSqlSafe(claim))
                .bind(node)
                .bind(&token)
                .bind(ms(lease))
                .bind(limit)
                .fetch_all(&mut *tx)
                .await?;
            tx.commit().await?;
            rows
        });
        claimed.sort_by_key(|j| j.id);
        Ok(claimed)
    }

    /// Extend the lease of a job this worker holds; false when it holds
    /// it no more (its lease ran out and another worker claimed it).
    pub async fn renew_correlation_lease(
        &self,
        job: &ClaimedJob,
        lease: std::time::Duration,
    ) -> Result<bool> {
        let sql = format!(
            "UPDATE correlation_jobs SET lease_until_ms = {} + $3 \
             WHERE id = $1 AND claim_token = $2 AND state = 'running'",
            now_ms_sql(self.backend())
        );
        let affected = on_pool!(self, pool => {
            sqlx::query(AssertSqlSafe(sql))
                .bind(job.id)
                .bind(&job.token)
                .bind(ms(lease))
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(affected == 1)
    }

    /// Complete a job this worker holds: the job done, `leads` written
    /// (a pair the agency has a lead on already is left as it is) and
    /// `event` appended to the audit log with the new leads' ids, in one
    /// transaction. `None`, and nothing written, when the worker holds the
    /// job no more; else the ids of the leads this call made.
    pub async fn complete_correlation_job(
        &self,
        job: &ClaimedJob,
        leads: &[NewAutoLead],
        event: &AuditEvent,
    ) -> Result<Option<Vec<i64>>> {
        let backend = self.backend();
        let done = format!(
            "UPDATE correlation_jobs SET state = 'done', completions = completions + 1, \
             finished_at = {}, last_error = NULL \
             WHERE id = $1 AND claim_token = $2 AND state = 'running'",
            now_sql(backend)
        );
        let mut event = event.clone();
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let affected = sqlx::query(AssertSqlSafe(done))
                .bind(job.id)
                .bind(&job.token)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if affected != 1 {
                tx.rollback().await?;
                return Ok(None);
            }
            let mut made = Vec::new();
            for lead in leads {
                let id: Option<i64> = sqlx::query_scalar(INSERT_AUTO_LEAD)
                    .bind(&lead.agency)
                    .bind(lead.query_casing_pk)
                    .bind(lead.candidate_casing_pk)
                    .bind(CORRELATOR)
                    .bind(lead.score)
                    .bind(lead.log10_lr)
                    .fetch_optional(&mut *tx)
                    .await?;
                made.extend(id);
            }
            sqlx::query("UPDATE correlation_jobs SET leads_made = $2 WHERE id = $1")
                .bind(job.id)
                .bind(made.len() as i32)
                .execute(&mut *tx)
                .await?;
            event.detail.insert("job".into(), job.id.into());
            event.detail.insert("attempt".into(), job.attempts.into());
            event.detail.insert("leads".into(), made.clone().into());
            append_audit_in!(tx, backend, &event);
            tx.commit().await?;
            Ok(Some(made))
        })
    }

    /// A job this worker holds failed with `error`: queued again, or
    /// failed for good after `max_attempts` claims. False when the worker
    /// held it no more.
    pub async fn fail_correlation_attempt(
        &self,
        job: &ClaimedJob,
        error: &str,
        max_attempts: i32,
    ) -> Result<bool> {
        let sql = format!(
            "UPDATE correlation_jobs SET last_error = $3, claim_token = NULL, \
             lease_until_ms = NULL, \
             state = CASE WHEN attempts >= $4 THEN 'failed' ELSE 'queued' END, \
             finished_at = CASE WHEN attempts >= $4 THEN {} ELSE NULL END \
             WHERE id = $1 AND claim_token = $2 AND state = 'running'",
            now_sql(self.backend())
        );
        let affected = on_pool!(self, pool => {
            sqlx::query(AssertSqlSafe(sql))
                .bind(job.id)
                .bind(&job.token)
                .bind(error)
                .bind(max_attempts)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(affected == 1)
    }

    /// The queue's counts; `running_here` counts the running jobs `node`
    /// holds.
    pub async fn correlation_queue(&self, node: &str) -> Result<QueueCounts> {
        type Counts = (i64, i64, i64, i64, i64, Option<DbTimestamp>);
        let row: Counts = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT \
                 COALESCE(SUM(CASE WHEN state = 'queued' THEN 1 ELSE 0 END), 0), \
                 COALESCE(SUM(CASE WHEN state = 'running' THEN 1 ELSE 0 END), 0), \
                 COALESCE(SUM(CASE WHEN state = 'running' AND claimed_by = $1 THEN 1 ELSE 0 END), 0), \
                 COALESCE(SUM(CASE WHEN state = 'failed' THEN 1 ELSE 0 END), 0), \
                 COALESCE(SUM(CASE WHEN state = 'done' THEN 1 ELSE 0 END), 0), \
                 MIN(CASE WHEN state = 'queued' THEN queued_at END) \
                 FROM correlation_jobs",
            )
            .bind(node)
            .fetch_one(pool)
            .await?
        });
        Ok(QueueCounts {
            queued: row.0,
            running: row.1,
            running_here: row.2,
            failed: row.3,
            done: row.4,
            oldest_queued_at: row.5.map(|t| t.0),
        })
    }

    /// Every job, in id order (tests and `casetrace check`).
    pub async fn correlation_jobs(&self) -> Result<Vec<CorrelationJob>> {
        let sql = format!("{SELECT_JOBS} ORDER BY id");
        let rows: Vec<JobRow> = on_pool!(self, pool => {
            sqlx::query_as(AssertSqlSafe(sql)).fetch_all(pool).await?
        });
        rows.into_iter().map(CorrelationJob::try_from).collect()
    }

    /// The job of one casing, if it has one.
    pub async fn correlation_job_of(&self, casing_pk: i64) -> Result<Option<CorrelationJob>> {
        let sql = format!("{SELECT_JOBS} WHERE casing_pk = $1");
        let row: Option<JobRow> = on_pool!(self, pool => {
            sqlx::query_as(AssertSqlSafe(sql)).bind(casing_pk).fetch_optional(pool).await?
        });
        row.map(CorrelationJob::try_from).transpose()
    }

    /// Delete done jobs finished more than `days` days ago; how many.
    pub async fn prune_correlation_jobs(&self, days: i64) -> Result<u64> {
        let before = match self.backend() {
            Backend::Sqlite => "strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || $1 || ' days')",
            Backend::Postgres => "now() - make_interval(days => CAST($1 AS INTEGER))",
        };
        let sql =
            format!("DELETE FROM correlation_jobs WHERE state = 'done' AND finished_at < {before}");
        Ok(on_pool!(self, pool => {
            sqlx::query(AssertSqlSafe(sql))
                .bind(days)
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::super::test_support::{
        audit_records_of, auto_lead, casing_fixture, completion_event, on_both_backends,
        placeholder_casing,
    };
    use super::*;
    use crate::casing::CasingFeatures;
    use crate::traces::LeadFilter;

    const LONG: Duration = Duration::from_secs(60);

    fn features() -> CasingFeatures {
        CasingFeatures {
            model_version: "m".into(),
            descriptor: vec![0.5; 4],
            comparison_surface: vec![1],
            pipeline_version: "p".into(),
            pin_mark: None,
            marks_version: None,
        }
    }

    async fn leads_of_lab(db: &Database) -> Vec<crate::traces::LeadRecord> {
        db.leads_of_agency("lab", &LeadFilter::default())
            .await
            .unwrap()
    }

    /// A stored casing has its job, for the submitter's agency and key; a
    /// refused insert queues nothing, and an undone one takes its job along.
    async fn a_job_is_queued_with_its_casing_and_only_then(db: &Database) {
        let new = placeholder_casing("lab", "C1");
        let stored = db
            .insert_casing_by(&new, &features(), Some("k1"))
            .await
            .unwrap()
            .into_record();
        let job = db.correlation_job_of(stored.id).await.unwrap().unwrap();
        assert_eq!(
            (job.agency.as_str(), job.key_id.as_deref(), job.state),
            ("lab", Some("k1"), CorrelationState::Queued)
        );
        // The same id with other bytes: refused, nothing queued.
        let conflicting = crate::casing::NewCasing {
            sha256: "0".repeat(64),
            ..new.clone()
        };
        assert!(db
            .insert_casing_by(&conflicting, &features(), Some("k1"))
            .await
            .is_err());
        // The same casing again: nothing written, nothing queued twice.
        assert!(!db
            .insert_casing_by(&new, &features(), Some("k2"))
            .await
            .unwrap()
            .is_inserted());
        assert_eq!(db.correlation_jobs().await.unwrap().len(), 1);
        // A submission undone leaves no job behind.
        db.delete_casing(stored.id).await.unwrap();
        assert!(db.correlation_jobs().await.unwrap().is_empty());
    }

    /// A worker whose lease ran out loses the job to another; its late
    /// completion writes nothing, so the job completes once and its lead
    /// is made once.
    async fn an_expired_lease_is_taken_over_and_the_late_completion_refused(db: &Database) {
        let a = casing_fixture(db, "lab", "A", None, None).await;
        let b = casing_fixture(db, "lab", "B", None, None).await;
        let first = db
            .claim_correlation_jobs("n1", 1, Duration::ZERO, 3)
            .await
            .unwrap()
            .pop()
            .unwrap();
        assert_eq!((first.casing_pk, first.attempts), (a, 1));
        tokio::time::sleep(Duration::from_millis(20)).await;
        let second = db
            .claim_correlation_jobs("n2", 1, LONG, 3)
            .await
            .unwrap()
            .pop()
            .unwrap();
        assert_eq!((second.id, second.attempts), (first.id, 2));
        assert_ne!(second.token, first.token);
        // n2 holds it now: nothing else is claimable but B's job.
        let other = db.claim_correlation_jobs("n3", 5, LONG, 3).await.unwrap();
        assert_eq!(other.iter().map(|j| j.casing_pk).collect::<Vec<_>>(), [b]);

        assert!(!db.renew_correlation_lease(&first, LONG).await.unwrap());
        let late = db
            .complete_correlation_job(&first, &[auto_lead(a, b)], &completion_event())
            .await
            .unwrap();
        assert_eq!(late, None, "the first worker's completion must be refused");
        assert!(leads_of_lab(db).await.is_empty());
        assert!(db.renew_correlation_lease(&second, LONG).await.unwrap());
        let made = db
            .complete_correlation_job(&second, &[auto_lead(a, b)], &completion_event())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(made.len(), 1);
        // Completing again, by anyone, is refused.
        assert_eq!(
            db.complete_correlation_job(&second, &[auto_lead(a, b)], &completion_event())
                .await
                .unwrap(),
            None
        );
        let job = db.correlation_job_of(a).await.unwrap().unwrap();
        assert_eq!(
            (job.state, job.attempts, job.completions, job.leads_made),
            (CorrelationState::Done, 2, 1, 1)
        );
        assert_eq!(job.claimed_by.as_deref(), Some("n2"));
        let leads = leads_of_lab(db).await;
        assert_eq!(leads.len(), 1);
        assert!(leads[0].automatic);
        assert_eq!(leads[0].marked_by, CORRELATOR);
        assert_eq!(leads[0].log10_lr, Some(3.0));
        // The completion is in the audit log, with the lead it made.
        let records = audit_records_of(db, "correlation.complete").await;
        assert_eq!(records.len(), 1);
        assert!(records[0]
            .detail
            .contains(&format!("\"leads\":[{}]", made[0])));
    }

    /// Workers racing for the queue each get jobs no other worker got, and
    /// every job is completed exactly once.
    async fn racing_workers_claim_every_job_once(db: &Database) {
        const JOBS: usize = 24;
        for i in 0..JOBS {
            casing_fixture(db, "lab", &format!("R{i}"), None, None).await;
        }
        let mut workers = tokio::task::JoinSet::new();
        for w in 0..6 {
            let db = db.clone();
            workers.spawn(async move {
                let mut done = Vec::new();
                loop {
                    let claimed = db
                        .claim_correlation_jobs(&format!("w{w}"), 2, LONG, 3)
                        .await
                        .unwrap();
                    if claimed.is_empty() {
                        return done;
                    }
                    for job in claimed {
                        let made = db
                            .complete_correlation_job(&job, &[], &completion_event())
                            .await;
                        assert!(made.unwrap().is_some(), "a claimed job was refused");
                        done.push(job.id);
                    }
                }
            });
        }
        let mut times: BTreeMap<i64, usize> = BTreeMap::new();
        while let Some(done) = workers.join_next().await {
            for id in done.unwrap() {
                *times.entry(id).or_default() += 1;
            }
        }
        assert_eq!(times.len(), JOBS);
        assert!(times.values().all(|n| *n == 1), "{times:?}");
        let jobs = db.correlation_jobs().await.unwrap();
        assert!(jobs
            .iter()
            .all(|j| j.state == CorrelationState::Done && j.completions == 1 && j.attempts == 1));
    }

    /// Both casings' jobs may find the pair: one lead, whichever order
    /// they name it in, and none beside a lead taken up by hand.
    async fn a_pair_found_twice_is_one_lead(db: &Database) {
        let a = casing_fixture(db, "lab", "A", None, None).await;
        let b = casing_fixture(db, "lab", "B", None, None).await;
        let c = casing_fixture(db, "lab", "C", None, None).await;
        db.mark_lead("lab", c, a, "examiner", None, Default::default())
            .await
            .unwrap();
        let jobs = db.claim_correlation_jobs("n", 3, LONG, 3).await.unwrap();
        let made_a = db
            .complete_correlation_job(
                &jobs[0],
                &[auto_lead(a, b), auto_lead(a, c)],
                &completion_event(),
            )
            .await
            .unwrap()
            .unwrap();
        let made_b = db
            .complete_correlation_job(&jobs[1], &[auto_lead(b, a)], &completion_event())
            .await
            .unwrap()
            .unwrap();
        assert_eq!((made_a.len(), made_b.len()), (1, 0));
        let leads = leads_of_lab(db).await;
        assert_eq!(leads.len(), 2);
        assert_eq!(
            leads.iter().filter(|l| l.automatic).count(),
            1,
            "the hand-made lead stays as it was"
        );
        let job_b = db.correlation_job_of(b).await.unwrap().unwrap();
        assert_eq!((job_b.completions, job_b.leads_made), (1, 0));
    }

    /// A job that keeps failing, or whose node keeps stopping, is given up
    /// after its last attempt, with the error kept.
    async fn attempts_are_capped(db: &Database) {
        let a = casing_fixture(db, "lab", "A", None, None).await;
        let b = casing_fixture(db, "lab", "B", None, None).await;
        let job = db.claim_correlation_jobs("n", 1, LONG, 2).await.unwrap()[0].clone();
        assert!(db
            .fail_correlation_attempt(&job, "boom 1", 2)
            .await
            .unwrap());
        let queued = db.correlation_job_of(a).await.unwrap().unwrap();
        assert_eq!(queued.state, CorrelationState::Queued);
        let again = db.claim_correlation_jobs("n", 1, LONG, 2).await.unwrap()[0].clone();
        assert_eq!((again.id, again.attempts), (job.id, 2));
        assert!(db
            .fail_correlation_attempt(&again, "boom 2", 2)
            .await
            .unwrap());
        let failed = db.correlation_job_of(a).await.unwrap().unwrap();
        assert_eq!(
            (failed.state, failed.last_error.as_deref()),
            (CorrelationState::Failed, Some("boom 2"))
        );
        // B's node stops twice: its second lapse gives it up.
        for attempt in 1..=2 {
            let lapsed = db
                .claim_correlation_jobs("gone", 1, Duration::ZERO, 2)
                .await
                .unwrap();
            assert_eq!(lapsed[0].attempts, attempt);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(db
            .claim_correlation_jobs("n", 1, LONG, 2)
            .await
            .unwrap()
            .is_empty());
        let given_up = db.correlation_job_of(b).await.unwrap().unwrap();
        assert_eq!(given_up.state, CorrelationState::Failed);
        assert!(given_up.last_error.unwrap().contains("gone"));
    }

    /// The counts the health check shows, and pruning of done jobs.
    async fn counts_and_pruning(db: &Database) {
        assert_eq!(
            db.correlation_queue("n").await.unwrap(),
            QueueCounts::default()
        );
        for id in ["A", "B", "C", "D"] {
            casing_fixture(db, "lab", id, None, None).await;
        }
        let done = db.claim_correlation_jobs("n", 1, LONG, 1).await.unwrap();
        db.complete_correlation_job(&done[0], &[], &completion_event())
            .await
            .unwrap();
        let failed = db.claim_correlation_jobs("n", 1, LONG, 1).await.unwrap();
        db.fail_correlation_attempt(&failed[0], "boom", 1)
            .await
            .unwrap();
        db.claim_correlation_jobs("other", 1, LONG, 1)
            .await
            .unwrap();
        let counts = db.correlation_queue("n").await.unwrap();
        assert_eq!(
            (
                counts.queued,
                counts.running,
                counts.running_here,
                counts.failed,
                counts.done
            ),
            (1, 1, 0, 1, 1)
        );
        assert!(counts.oldest_queued_at.is_some());
        assert_eq!(db.correlation_queue("other").await.unwrap().running_here, 1);
        assert_eq!(db.prune_correlation_jobs(1).await.unwrap(), 0);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(db.prune_correlation_jobs(0).await.unwrap(), 1);
        assert_eq!(db.correlation_jobs().await.unwrap().len(), 3);
    }

    on_both_backends!(
        a_job_is_queued_with_its_casing_and_only_then,
        an_expired_lease_is_taken_over_and_the_late_completion_refused,
        racing_workers_claim_every_job_once,
        a_pair_found_twice_is_one_lead,
        attempts_are_capped,
        counts_and_pruning
    );
}
