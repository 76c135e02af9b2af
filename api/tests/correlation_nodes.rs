//! Three `casetrace serve` processes on one PostgreSQL (issue #17): the
//! Weller scans submitted round-robin over HTTP, every node ranking every
//! casing, and one node killed with SIGKILL while it holds correlation
//! jobs. The survivors take its jobs over when their leases run out; in
//! the end no casing is lost, every job was completed exactly once, each
//! pair's lead was made once, and `casetrace check` agrees. The nodes keep
//! their evidence files in one S3-compatible bucket (the throwaway server
//! `scripts/test` starts), so any node's `check` verifies every file.
//!
//! PostgreSQL only: several processes on one SQLite file is not the
//! deployment this is about. Under `CI=1` a missing server fails (in
//! `backends`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use casetrace_engine::store::{AuditQuery, CorrelationState};
use casetrace_engine::traces::LeadFilter;
use serde_json::Value;

use crate::common::http1;
use crate::common::server::{free_port, Server};
use crate::common::{
    backends, multipart, s3_evidence, submission, weller, Backend, TestEngine, TEST_KEY, WELLER_DIR,
};

/// Generous for a loaded 2-core machine; only that things happen is
/// asserted, how long they took is printed.
const PATIENCE: Duration = Duration::from_secs(240);
/// Short, so the killed node's jobs come back soon.
const LEASE_SECS: &str = "3";

struct Node {
    server: Option<Server>,
    port: u16,
    data_dir: PathBuf,
    name: String,
}

/// The command-line flags and environment naming `t`'s evidence bucket.
fn evidence_settings(t: &TestEngine) -> (Vec<String>, Vec<(&'static str, String)>) {
    let args = t.cli_args();
    let flags = args
        .iter()
        .position(|a| a.starts_with("--evidence-"))
        .map(|first| args[first..].to_vec())
        .unwrap_or_default();
    (flags, t.cli_env())
}

/// `casetrace serve` on `url` with a data directory of its own and `t`'s
/// evidence bucket.
fn start_node(t: &TestEngine, url: &str, label: &str) -> Node {
    let data_dir = t.dir.path().join(label);
    std::fs::create_dir_all(&data_dir).unwrap();
    let (evidence_flags, evidence_env) = evidence_settings(t);
    let port = free_port();
    let log = std::fs::File::create(t.dir.path().join(format!("{label}.log"))).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_casetrace"))
        .env_remove("DATABASE_URL")
        .arg("--data-dir")
        .arg(&data_dir)
        .args(["--database-url", url])
        .args(&evidence_flags)
        .envs(evidence_env)
        .args(["--threads", "1", "serve", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .args([
            "--correlation-workers",
            "1",
            "--correlation-lease-secs",
            LEASE_SECS,
        ])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start casetrace serve");
    let mut node = Node {
        server: Some(Server(child)),
        port,
        data_dir,
        name: String::new(),
    };
    let started = Instant::now();
    loop {
        if let Ok(health) = healthz(&node) {
            node.name = health["node"].as_str().unwrap().to_string();
            return node;
        }
        assert!(started.elapsed() < PATIENCE, "{label} did not start");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn healthz(node: &Node) -> std::io::Result<Value> {
    let r = http1::request(node.port, "GET", "/healthz", &[], None)?;
    if r.status != 200 {
        return Err(std::io::Error::other(format!("healthz {}", r.status)));
    }
    Ok(r.json())
}

fn submit(node: &Node, casing_id: &str) {
    let (content_type, body) = multipart(&submission(casing_id, &weller(casing_id)));
    let auth = format!("Bearer {TEST_KEY}");
    let r = http1::request(
        node.port,
        "POST",
        "/v1/casings?limit=0",
        &[("Authorization", &auth)],
        Some((&content_type, &body)),
    )
    .expect("submit");
    assert_eq!(r.status, 201, "{casing_id}: {:?}", r.json());
}

/// The first candidate `node` ranks for `casing_id`.
fn best_candidate(node: &Node, casing_id: &str) -> String {
    let auth = format!("Bearer {TEST_KEY}");
    let r = http1::request(
        node.port,
        "GET",
        &format!("/v1/casings/{casing_id}/candidates?limit=3"),
        &[("Authorization", &auth)],
        None,
    )
    .expect("candidates");
    assert_eq!(r.status, 200);
    r.json()["candidates"][0]["casing_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no candidate for {casing_id}: {:?}", r.json()))
        .to_string()
}

/// The Weller scans' names, sorted.
fn weller_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(WELLER_DIR)
        .expect("the Weller folder")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".x3p").map(str::to_string)
        })
        .collect();
    names.sort();
    names
}

/// The pistol of a Weller scan: `TW03-07` -> `TW03`.
fn gun(casing_id: &str) -> &str {
    casing_id.split('-').next().unwrap()
}

#[actix_web::test]
async fn three_nodes_one_killed_mid_job_lose_nothing_and_finish_nothing_twice() {
    let Some(pg) = backends()
        .into_iter()
        .find(|b| matches!(b, Backend::Postgres { .. }))
    else {
        return;
    };
    let Some(bucket) = s3_evidence() else { return };
    let t = TestEngine::open_with_evidence(&pg, bucket).await;
    let url = t.engine.config().database_url.clone().unwrap();
    let mut nodes: Vec<Node> = ["node-a", "node-b", "node-c"]
        .iter()
        .map(|label| start_node(&t, &url, label))
        .collect();

    // Round-robin, one submitting thread per node.
    let names = weller_names();
    let began = Instant::now();
    std::thread::scope(|scope| {
        for (i, node) in nodes.iter().enumerate() {
            let names = &names;
            scope.spawn(move || {
                for name in names.iter().skip(i).step_by(3) {
                    submit(node, name);
                }
            });
        }
    });
    let submitted_in = began.elapsed();

    // Every node ranks every casing: its index holds them all ...
    let all = names.len() as u64;
    let waited = Instant::now();
    for node in &nodes {
        while healthz(node).unwrap()["indexed"].as_u64() != Some(all) {
            assert!(
                waited.elapsed() < PATIENCE,
                "{} never indexed all",
                node.name
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let indexed_after = waited.elapsed();
    // ... and ranks a casing another node stored first among its mates.
    for (i, node) in nodes.iter().enumerate() {
        let stored_elsewhere = &names[(i + 1) % 3];
        let best = best_candidate(node, stored_elsewhere);
        assert_eq!(
            gun(&best),
            gun(stored_elsewhere),
            "{} ranks {best}",
            node.name
        );
    }

    // Kill node C while it holds a job.
    let victim = 2;
    let mut orphaned: Vec<i64> = Vec::new();
    let db = t.engine.database();
    while orphaned.is_empty() {
        let running_here = healthz(&nodes[victim]).unwrap()["correlation_queue"]["running_here"]
            .as_u64()
            .unwrap();
        if running_here > 0 {
            let mut server = nodes[victim].server.take().unwrap();
            server.0.kill().expect("SIGKILL node C");
            server.0.wait().unwrap();
            orphaned = db
                .correlation_jobs()
                .await
                .unwrap()
                .into_iter()
                .filter(|j| {
                    j.state == CorrelationState::Running
                        && j.claimed_by.as_deref() == Some(nodes[victim].name.as_str())
                })
                .map(|j| j.id)
                .collect();
            assert!(
                !orphaned.is_empty(),
                "node C held no job when it was killed"
            );
            break;
        }
        let q = db.correlation_queue("-").await.unwrap();
        assert!(
            q.queued > 0,
            "the queue drained before node C could be killed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed_at = began.elapsed();

    // The survivors drain the queue, the orphans included.
    let drained = loop {
        let q = db.correlation_queue("-").await.unwrap();
        if q.queued == 0 && q.running == 0 {
            break began.elapsed();
        }
        assert!(began.elapsed() < PATIENCE, "the queue never drained: {q:?}");
        std::thread::sleep(Duration::from_millis(200));
    };

    // No casing lost, each with its one job, each job completed once.
    let casings: BTreeMap<i64, String> = db
        .list_casings()
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.id, c.casing_id))
        .collect();
    assert_eq!(
        casings.values().cloned().collect::<BTreeSet<_>>(),
        names.iter().cloned().collect::<BTreeSet<_>>()
    );
    let jobs = db.correlation_jobs().await.unwrap();
    assert_eq!(
        jobs.iter().map(|j| j.casing_pk).collect::<BTreeSet<_>>(),
        casings.keys().copied().collect::<BTreeSet<_>>()
    );
    for job in &jobs {
        assert_eq!(
            (job.state, job.completions),
            (CorrelationState::Done, 1),
            "{job:?}"
        );
    }
    for id in &orphaned {
        let job = jobs.iter().find(|j| j.id == *id).unwrap();
        assert!(job.attempts >= 2, "orphaned job not taken over: {job:?}");
        assert_ne!(job.claimed_by.as_deref(), Some(nodes[victim].name.as_str()));
    }
    let completions = db
        .audit_records(&AuditQuery {
            action: Some("correlation.complete".into()),
            limit: 1000,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(
        completions.len(),
        jobs.len(),
        "one audited completion per job"
    );

    // Each pair's lead made once, by the job that made it.
    let leads = db
        .leads_of_agency("local", &LeadFilter::default())
        .await
        .unwrap();
    crate::common::assert_each_pair_led_once(&leads, &jobs);
    let same_gun = leads
        .iter()
        .filter(|l| gun(&l.query_casing.casing_id) == gun(&l.candidate_casing.casing_id))
        .count();
    assert!(same_gun > 0, "no lead of one pistol's casings");

    // The killed node's data directory, as it was left, agrees with the
    // database, and every casing's evidence file, whichever node took it,
    // is in the bucket and hashes to its record.
    let (evidence_flags, evidence_env) = evidence_settings(&t);
    let run = Command::new(env!("CARGO_BIN_EXE_casetrace"))
        .env_remove("DATABASE_URL")
        .arg("--data-dir")
        .arg(&nodes[victim].data_dir)
        .args(["--database-url", &url])
        .args(&evidence_flags)
        .envs(evidence_env)
        .arg("check")
        .output()
        .expect("run casetrace check");
    let report = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "casetrace check: {report}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        report.contains(&format!("{} evidence files verified", names.len())),
        "{report}"
    );
    for node in &nodes {
        assert!(
            !node.data_dir.join("evidence").exists(),
            "{}: evidence written to the node's own folder",
            node.name
        );
    }

    eprintln!(
        "three nodes: {} casings submitted in {:.1} s; every node indexed all {:.2} s after the last; \
         node C killed at {:.1} s holding {} jobs; queue drained at {:.1} s ({:.2} jobs/s overall); \
         {} leads, {} of one pistol",
        names.len(),
        submitted_in.as_secs_f64(),
        indexed_after.as_secs_f64(),
        killed_at.as_secs_f64(),
        orphaned.len(),
        drained.as_secs_f64(),
        jobs.len() as f64 / drained.as_secs_f64(),
        leads.len(),
        same_gun
    );
    for node in &mut nodes {
        node.server.take();
    }
    t.close().await;
}
