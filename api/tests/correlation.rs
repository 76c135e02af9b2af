//! The correlation queue through the engine (issue #17): every casing
//! stored gets a job, a job makes a lead of each candidate whose
//! calibrated log10 LR reaches the threshold, for the submitter's agency
//! and within what its agreements let it correlate with, and engines
//! sharing a database work one queue, each job once.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::test;
use casetrace_api::app::create_app;
use casetrace_engine::access::{Principal, Role, Scope};
use casetrace_engine::service::Submission;
use casetrace_engine::store::{AuditQuery, CorrelationState, CORRELATOR};
use casetrace_engine::traces::{LeadFilter, LeadRecord};
use casetrace_engine::Engine;

use crate::common::{
    assert_each_pair_led_once, backends, casetrace, get, register_test_agency, second_node, send,
    stderr, stdout, weller_submission, TestEngine,
};

/// Long enough for any machine; how long it took is not what is tested.
const PATIENCE: Duration = Duration::from_secs(120);

/// The key id of [`crate::common::TEST_KEY`].
const TEST_KEY_ID: &str = "00000000000000a1";
const KEY_B: &str =
    "ct_00000000000000b2_2222222222222222222222222222222222222222222222222222222222222222";

/// The holder of the `local` test key, as the API would authenticate it.
fn local_examiner() -> Principal {
    Principal::key_holder(
        "local",
        "local-tester",
        Some(TEST_KEY_ID.into()),
        Role::ALL.to_vec(),
    )
}

fn examiner_of(agency: &str, key_id: &str) -> Principal {
    Principal::key_holder(agency, "tester", Some(key_id.into()), Role::ALL.to_vec())
}

fn weller_of(agency: &str, name: &str) -> Submission {
    Submission {
        agency: agency.into(),
        ..weller_submission(name)
    }
}

/// Work the queue on `engine` until no job is left to claim.
async fn drain(engine: &Engine) -> usize {
    let mut worked = 0;
    while engine.work_one_correlation_job().await.unwrap() {
        worked += 1;
    }
    worked
}

/// Each lead as (agency, query casing id, candidate casing id).
fn pairs(leads: &[LeadRecord]) -> BTreeSet<(String, String, String)> {
    leads
        .iter()
        .map(|l| {
            (
                l.agency.clone(),
                l.query_casing.casing_id.clone(),
                l.candidate_casing.casing_id.clone(),
            )
        })
        .collect()
}

async fn leads_of(t: &TestEngine, agency: &str) -> Vec<LeadRecord> {
    t.engine
        .database()
        .leads_of_agency(agency, &LeadFilter::default())
        .await
        .unwrap()
}

/// The audit records of `action`, oldest first.
async fn audited(t: &TestEngine, action: &str) -> Vec<casetrace_engine::audit::AuditRecord> {
    t.engine
        .database()
        .audit_records(&AuditQuery {
            action: Some(action.into()),
            limit: 100,
            ..AuditQuery::default()
        })
        .await
        .unwrap()
}

/// A submitted casing is queued for its submitter's key; its job makes a
/// lead of exactly the candidates whose calibrated LR reaches the
/// threshold: the pair from one Weller pistol, not the other pistol's.
#[actix_web::test]
async fn a_job_makes_leads_of_the_candidates_above_the_threshold() {
    for backend in backends() {
        let t = TestEngine::open(&backend).await;
        let who = local_examiner();
        for id in ["TW01-01", "TW02-01", "TW01-02"] {
            t.engine.submit(&who, weller_submission(id)).await.unwrap();
        }
        let jobs = t.engine.database().correlation_jobs().await.unwrap();
        assert_eq!(jobs.len(), 3, "{}", t.backend);
        assert!(jobs.iter().all(|j| j.state == CorrelationState::Queued
            && j.agency == "local"
            && j.key_id.as_deref() == Some(TEST_KEY_ID)));

        assert_eq!(drain(&t.engine).await, 3);
        let leads = leads_of(&t, "local").await;
        assert_eq!(leads.len(), 1, "{}: {:?}", t.backend, pairs(&leads));
        let lead = &leads[0];
        let ids = BTreeSet::from([
            lead.query_casing.casing_id.as_str(),
            lead.candidate_casing.casing_id.as_str(),
        ]);
        assert_eq!(ids, BTreeSet::from(["TW01-01", "TW01-02"]));
        assert!(lead.automatic);
        assert_eq!(lead.marked_by, CORRELATOR);
        let min = t.engine.config().correlation.min_log10_lr;
        assert!(lead.log10_lr.is_some_and(|lr| lr >= min), "{lead:?}");

        // The threshold both ways: every candidate with an LR at or above
        // it is a lead, none below it is.
        for id in ["TW01-01", "TW02-01", "TW01-02"] {
            let list = t.engine.candidates(&who, None, id, 10).await.unwrap();
            for c in list.candidates {
                let above = c.log10_lr.is_some_and(|lr| lr >= min);
                let lead = leads.iter().any(|l| {
                    let both = [&l.query_casing.casing_id, &l.candidate_casing.casing_id];
                    both.contains(&&c.casing.casing_id) && both.contains(&&id.to_string())
                });
                assert_eq!(
                    above, lead,
                    "{id} / {}: {:?}",
                    c.casing.casing_id, c.log10_lr
                );
            }
        }

        let jobs = t.engine.database().correlation_jobs().await.unwrap();
        assert!(jobs
            .iter()
            .all(|j| j.state == CorrelationState::Done && j.completions == 1));
        assert_eq!(jobs.iter().map(|j| j.leads_made).sum::<i32>(), 1);
        let completions = audited(&t, "correlation.complete").await;
        assert_eq!(completions.len(), 3);
        assert!(completions
            .iter()
            .all(|r| r.actor == CORRELATOR && r.key_id.as_deref() == Some(TEST_KEY_ID)));
        t.close().await;
    }
}

/// `casetrace correlate`: nothing to queue while every casing has its
/// job; `--again --work` queues every correlated casing anew and works the
/// queue from the command line: the same leads as before, none twice, each
/// new job completed once, and the queueing audited.
#[actix_web::test]
async fn the_command_line_queues_correlation_again_and_works_it() {
    for backend in backends() {
        let t = TestEngine::open(&backend).await;
        let who = local_examiner();
        for id in ["TW01-01", "TW02-01", "TW01-02"] {
            t.engine.submit(&who, weller_submission(id)).await.unwrap();
        }
        assert_eq!(drain(&t.engine).await, 3);
        let before = pairs(&leads_of(&t, "local").await);
        assert_eq!(before.len(), 1, "{}", t.backend);
        let old_jobs: BTreeSet<i64> = t
            .engine
            .database()
            .correlation_jobs()
            .await
            .unwrap()
            .iter()
            .map(|j| j.id)
            .collect();

        let correlate = |args: &[&str]| {
            let o = casetrace(&t, args);
            assert!(o.status.success(), "{}: {}", t.backend, stderr(&o));
            stdout(&o)
        };
        let out = correlate(&["correlate"]);
        assert!(out.contains("0 casings queued"), "{out}");

        let out = correlate(&["correlate", "--again", "--work"]);
        assert!(out.contains("3 casings queued"), "{out}");
        assert!(out.contains("3 jobs worked"), "{out}");

        assert_eq!(pairs(&leads_of(&t, "local").await), before, "{}", t.backend);
        let jobs = t.engine.database().correlation_jobs().await.unwrap();
        assert_eq!(jobs.len(), 3);
        for job in &jobs {
            assert!(!old_jobs.contains(&job.id), "{job:?}");
            assert_eq!(
                (
                    job.state,
                    job.completions,
                    job.leads_made,
                    job.key_id.as_deref()
                ),
                (CorrelationState::Done, 1, 0, None),
                "{}: the lead was made before, not again",
                t.backend
            );
        }
        let queued = audited(&t, "correlation.queue").await;
        assert_eq!(queued.len(), 2, "{}", t.backend);
        assert!(
            queued[1].detail.contains("\"queued\":3"),
            "{}",
            queued[1].detail
        );
        t.close().await;
    }
}

/// A submission that fails leaves no job; nothing is left to work.
#[actix_web::test]
async fn a_failed_submission_queues_no_job() {
    for backend in backends() {
        let t = TestEngine::open(&backend).await;
        let bad = Submission {
            bytes: b"not a scan".to_vec(),
            ..weller_submission("TW01-01")
        };
        assert!(t.engine.submit(&local_examiner(), bad).await.is_err());
        assert!(t
            .engine
            .database()
            .correlation_jobs()
            .await
            .unwrap()
            .is_empty());
        assert_eq!(drain(&t.engine).await, 0);
        t.close().await;
    }
}

/// A job correlates only with what its submitter's agency may correlate
/// with, as its agreements stand when the job runs.
#[actix_web::test]
async fn agreements_bound_what_a_job_correlates_with() {
    for backend in backends() {
        let t = TestEngine::open(&backend).await;
        register_test_agency(&t.engine, "b", KEY_B).await;
        let b = examiner_of("b", "00000000000000b2");
        t.engine
            .submit(&local_examiner(), weller_submission("TW01-01"))
            .await
            .unwrap();
        t.engine
            .submit(&b, weller_of("b", "TW01-02"))
            .await
            .unwrap();
        drain(&t.engine).await;
        // Same pistol, but neither agency may correlate with the other's.
        assert!(leads_of(&t, "local").await.is_empty(), "{}", t.backend);
        assert!(leads_of(&t, "b").await.is_empty(), "{}", t.backend);

        // `local` lets `b` correlate with its casings: b's next casing
        // finds both, and `local` still sees nothing of b's.
        let local_admin = Principal::local_admin("local", "test fixture");
        t.engine
            .grant(&local_admin, "b", Scope::Correlate)
            .await
            .unwrap();
        t.engine
            .submit(&b, weller_of("b", "TW01-03"))
            .await
            .unwrap();
        t.engine
            .submit(&local_examiner(), weller_submission("TW01-04"))
            .await
            .unwrap();
        drain(&t.engine).await;
        let of_b = leads_of(&t, "b").await;
        let expected_b: BTreeSet<_> = [("b", "TW01-03", "TW01-01"), ("b", "TW01-03", "TW01-02")]
            .iter()
            .map(|(a, q, c)| (a.to_string(), q.to_string(), c.to_string()))
            .collect();
        let found_b = pairs(&of_b);
        assert!(expected_b.is_subset(&found_b), "{}: {found_b:?}", t.backend);
        for lead in &leads_of(&t, "local").await {
            assert_eq!(lead.query_casing.agency, "local", "{lead:?}");
            assert_eq!(lead.candidate_casing.agency, "local", "{lead:?}");
        }
        t.close().await;
    }
}

/// Two engines on one database work one queue at once: every job is done
/// exactly once, and every pair's lead is made once.
#[actix_web::test]
async fn two_engines_work_one_queue_each_job_once() {
    for backend in backends() {
        let mut t = TestEngine::open(&backend).await;
        t.restart_with(|cfg| cfg.correlation.workers = 2).await;
        let b = Arc::new(second_node(&t, &backend, |cfg| cfg.correlation.workers = 2).await);
        let names = [
            "TW01-01", "TW02-01", "TW01-02", "TW02-02", "TW01-03", "TW02-03", "TW01-04", "TW02-04",
        ];
        for (i, id) in names.iter().enumerate() {
            let node = if i % 2 == 0 { &t.engine } else { &b };
            node.submit(&local_examiner(), weller_submission(id))
                .await
                .unwrap();
        }
        t.engine.start_correlating();
        b.start_correlating();
        let started = Instant::now();
        loop {
            let q = t.engine.correlation_queue().await.unwrap();
            if q.queued == 0 && q.running == 0 {
                break;
            }
            assert!(started.elapsed() < PATIENCE, "{}: {q:?}", t.backend);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let jobs = t.engine.database().correlation_jobs().await.unwrap();
        assert_eq!(jobs.len(), names.len());
        for job in &jobs {
            assert_eq!(
                (job.state, job.completions),
                (CorrelationState::Done, 1),
                "{}: {job:?}",
                t.backend
            );
        }
        // One audited completion per job, and a lead per unordered pair.
        let completions = audited(&t, "correlation.complete").await;
        assert_eq!(completions.len(), names.len(), "{}", t.backend);
        let leads = leads_of(&t, "local").await;
        assert_each_pair_led_once(&leads, &jobs);
        b.close().await;
        t.close().await;
    }
}

/// `/healthz` shows the queue: what waits, what runs, this node's workers.
#[actix_web::test]
async fn healthz_reports_the_queue_depth() {
    for backend in backends() {
        let t = TestEngine::open(&backend).await;
        let app = test::init_service(create_app(t.state())).await;
        for id in ["TW01-01", "TW01-02"] {
            t.engine
                .submit(&local_examiner(), weller_submission(id))
                .await
                .unwrap();
        }
        let r = send(&app, get("/healthz").to_request()).await;
        assert_eq!(r.status, StatusCode::OK, "{:#}", r.json);
        let q = &r.json["correlation_queue"];
        assert_eq!(q["queued"], 2, "{}: {q:#}", t.backend);
        assert_eq!(q["running"], 0);
        assert_eq!(q["failed"], 0);
        assert_eq!(q["workers"], 0);
        assert!(q["oldest_queued_seconds"].as_f64().unwrap() >= 0.0);
        drain(&t.engine).await;
        let r = send(&app, get("/healthz").to_request()).await;
        let q = &r.json["correlation_queue"];
        assert_eq!(
            (q["queued"].as_u64(), q["running"].as_u64()),
            (Some(0), Some(0))
        );
        assert_eq!(q["oldest_queued_seconds"], 0.0);
        t.close().await;
    }
}

/// `casetrace check` names a job given up after its last attempt, with
/// its error, for the operator.
#[actix_web::test]
async fn check_names_a_failed_job() {
    for backend in backends() {
        let t = TestEngine::open(&backend).await;
        t.engine
            .submit(&local_examiner(), weller_submission("TW01-01"))
            .await
            .unwrap();
        let report = t.engine.check().await.unwrap();
        assert!(report.is_clean(), "{}: {:?}", t.backend, report.problems);
        let db = t.engine.database();
        let job = db
            .claim_correlation_jobs("test", 1, Duration::from_secs(60), 1)
            .await
            .unwrap()
            .pop()
            .unwrap();
        assert!(db
            .fail_correlation_attempt(&job, "the model broke", 1)
            .await
            .unwrap());
        let report = t.engine.check().await.unwrap();
        assert!(
            report
                .problems
                .iter()
                .any(|p| p.contains("failed after 1 attempts: the model broke")),
            "{}: {:?}",
            t.backend,
            report.problems
        );
        t.close().await;
    }
}
