//! The audit chain anchored outside the database: with the database file
//! in hand, deleting the newest records, editing an old one and re-hashing
//! everything after it, or deleting a middle record and renumbering the
//! rest all leave a chain that verifies on its own; the signed checkpoints
//! catch each. And the retention procedure, the one sanctioned way records
//! leave the table, keeps `audit verify` verifying.

use casetrace_engine::audit::{AuditEvent, AuditOutcome};
use serde_json::Value;

use crate::audit::owner_sql;
use crate::common::{backends, casetrace, TestEngine};

/// Six records, then a checkpoint of them (which the CLI follows with its
/// own record 7).
async fn six_records_and_a_checkpoint(t: &TestEngine) {
    for n in 1..=6 {
        let e = AuditEvent::new(
            "FR-LPS",
            "examiner.martin",
            "casing.read",
            format!("casing/FR-LPS/C-{n}"),
            AuditOutcome::Ok,
        );
        t.engine.database().append_audit(&e).await.expect("append");
    }
    let out = casetrace(t, &["audit", "checkpoint"]);
    assert!(out.status.success(), "{out:?}");
    let checkpoint: Value = serde_json::from_slice(&out.stdout).expect("JSON checkpoint");
    assert_eq!(checkpoint["seq"], 6);
    let intact = casetrace(t, &["audit", "verify"]);
    assert!(intact.status.success(), "{}: {intact:?}", t.backend);
    let report: Value = serde_json::from_slice(&intact.stdout).expect("JSON report");
    assert_eq!(report["anchor"]["latest"]["seq"], 6, "{report}");
    assert_eq!(report["anchor"]["problems"], serde_json::json!([]));
}

/// Lift the append-only guard, as a database owner can.
async fn lift_guard(t: &TestEngine) {
    let sql = match t.backend {
        "sqlite" => "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;",
        _ => "ALTER TABLE audit_log DISABLE TRIGGER USER",
    };
    owner_sql(t, sql).await;
}

/// Recompute `prev_hash` and `hash` of every record from `from` on, as
/// someone covering their tracks would.
async fn rehash_from(t: &TestEngine, from: i64) {
    let records = t
        .engine
        .database()
        .audit_page(0, 10_000)
        .await
        .expect("read");
    let mut prev = casetrace_engine::audit::GENESIS_HASH.to_string();
    let mut sql = String::new();
    for mut r in records {
        if r.seq >= from {
            r.prev_hash = prev.clone();
            r.hash = r.computed_hash();
            sql += &format!(
                "UPDATE audit_log SET prev_hash = '{}', hash = '{}' WHERE seq = {};",
                r.prev_hash, r.hash, r.seq
            );
        }
        prev = r.hash;
    }
    owner_sql(t, &sql).await;
}

/// `audit verify` fails; the chain alone is intact (the tampering was
/// covered up) and the anchor names the problem of `kind`.
fn assert_only_the_anchor_catches(t: &TestEngine, kind: &str, says: &str) -> Value {
    let out = casetrace(t, &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1), "{}: {out:?}", t.backend);
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(
        report["breaks"],
        serde_json::json!([]),
        "{}: {report}",
        t.backend
    );
    let problems = report["anchor"]["problems"].as_array().expect("problems");
    assert_eq!(problems.len(), 1, "{}: {report}", t.backend);
    assert_eq!(problems[0]["kind"], kind, "{report}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(says), "{stderr}");
    report
}

#[actix_web::test]
async fn verify_reports_a_deleted_tail() {
    for backend in backends() {
        let t = TestEngine::open(&backend).await;
        six_records_and_a_checkpoint(&t).await;
        lift_guard(&t).await;
        owner_sql(&t, "DELETE FROM audit_log WHERE seq >= 5").await;
        let report =
            assert_only_the_anchor_catches(&t, "truncated", "the newest records were deleted");
        assert_eq!(report["anchor"]["problems"][0]["checkpoint_seq"], 6);
        assert_eq!(report["anchor"]["problems"][0]["head_seq"], 4);
        t.close().await;
    }
}

#[actix_web::test]
async fn verify_reports_an_edit_rehashed_to_the_end() {
    for backend in backends() {
        let t = TestEngine::open(&backend).await;
        six_records_and_a_checkpoint(&t).await;
        lift_guard(&t).await;
        owner_sql(
            &t,
            "UPDATE audit_log SET actor = 'someone.else' WHERE seq = 3",
        )
        .await;
        rehash_from(&t, 3).await;
        let report = assert_only_the_anchor_catches(&t, "rewritten", "re-hashed");
        assert_eq!(report["anchor"]["problems"][0]["seq"], 6);
        t.close().await;
    }
}

#[actix_web::test]
async fn verify_reports_a_deleted_middle_record_renumbered() {
    for backend in backends() {
        let t = TestEngine::open(&backend).await;
        six_records_and_a_checkpoint(&t).await;
        lift_guard(&t).await;
        // Record 3 goes; every later one moves down, and the chain is
        // re-hashed so that no gap or broken link shows.
        let head = t.engine.database().audit_head().await.unwrap().unwrap().0;
        let mut sql = "DELETE FROM audit_log WHERE seq = 3;".to_string();
        for seq in 4..=head {
            sql += &format!("UPDATE audit_log SET seq = {} WHERE seq = {seq};", seq - 1);
        }
        owner_sql(&t, &sql).await;
        rehash_from(&t, 3).await;
        assert!(t
            .engine
            .database()
            .verify_audit_chain()
            .await
            .unwrap()
            .is_intact());
        let report = assert_only_the_anchor_catches(&t, "rewritten", "record 6 hashes to");
        assert_eq!(report["anchor"]["problems"][0]["seq"], 6);
        t.close().await;
    }
}

#[actix_web::test]
async fn a_forged_checkpoint_and_a_missing_key_are_reported() {
    let t = TestEngine::open(&backends()[0]).await;
    six_records_and_a_checkpoint(&t).await;
    let log = t.engine.config().audit_checkpoint_path();
    let text = std::fs::read_to_string(&log).unwrap();
    std::fs::write(&log, text.replace("\"seq\":6", "\"seq\":5")).unwrap();
    assert_only_the_anchor_catches(&t, "forged", "not written with this key");
    // Checkpoints without their key cannot be trusted: verify refuses.
    std::fs::remove_file(t.engine.config().audit_key_path()).unwrap();
    let out = casetrace(&t, &["audit", "verify"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("audit key"),
        "{out:?}"
    );
    t.close().await;
}

#[actix_web::test]
async fn retention_archives_old_records_and_verify_keeps_verifying() {
    for backend in backends() {
        let t = TestEngine::open(&backend).await;
        six_records_and_a_checkpoint(&t).await;
        let out_dir = t.dir.path().join("archive");
        let out_arg = out_dir.to_str().unwrap();
        let now = chrono::Utc::now().to_rfc3339();

        // Younger than the minimum retention (a year by default): refused.
        let refused = casetrace(
            &t,
            &["audit", "archive", "--before", &now, "--out", out_arg],
        );
        assert!(!refused.status.success());
        assert!(
            String::from_utf8_lossy(&refused.stderr).contains("365 days"),
            "{refused:?}"
        );

        let head_before = t.engine.database().audit_head().await.unwrap().unwrap().0;
        let done = casetrace(
            &t,
            &[
                "audit",
                "archive",
                "--before",
                &now,
                "--out",
                out_arg,
                "--min-retention-days",
                "0",
            ],
        );
        assert!(done.status.success(), "{}: {done:?}", t.backend);
        let segment: Value = serde_json::from_slice(&done.stdout).expect("JSON segment");
        assert_eq!(segment["first_seq"], 1);
        let last = segment["last_seq"].as_i64().unwrap();
        assert!(last >= 6 && last <= head_before, "{segment}");
        let file = out_dir.join(segment["file_name"].as_str().unwrap());
        let exported = std::fs::read_to_string(&file).expect("segment file");
        assert_eq!(exported.lines().count() as i64, last);
        let sha = casetrace_engine::store::sha256_hex(exported.as_bytes());
        assert_eq!(segment["file_sha256"], sha);
        // Gone from the table, and the chain still verifies, across the
        // segment and the checkpoint inside it.
        let db = t.engine.database();
        assert!(db.audit_record_at(1).await.unwrap().is_none());
        let ok = casetrace(&t, &["audit", "verify"]);
        assert!(ok.status.success(), "{}: {ok:?}", t.backend);

        // A forged segment row cannot excuse deleting newer records.
        let head = db.audit_head().await.unwrap().unwrap();
        owner_sql(
            &t,
            &format!(
                "INSERT INTO audit_segment (first_seq, last_seq, last_hash, file_name, \
                 file_sha256, records, archived_at, mac) VALUES ({}, {}, '{}', 'x', 'x', 1, 'x', '00')",
                last + 1,
                head.0,
                head.1
            ),
        )
        .await;
        owner_sql(
            &t,
            &format!("DELETE FROM audit_log WHERE seq <= {}", head.0),
        )
        .await;
        let out = casetrace(&t, &["audit", "verify"]);
        assert_eq!(out.status.code(), Some(1), "{}: {out:?}", t.backend);
        let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
        let kinds: Vec<&str> = report["anchor"]["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["kind"].as_str().unwrap())
            .collect();
        assert!(kinds.contains(&"segment_forged"), "{report}");
        t.close().await;
    }
}
