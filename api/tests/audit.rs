//! The audit chain as an auditor checks it: `casetrace audit verify` on a
//! database whose audit table someone edited directly.

use casetrace_engine::audit::{AuditEvent, AuditOutcome};
use serde_json::Value;
use sqlx::AssertSqlSafe;

use crate::common::{backends, casetrace, TestEngine};

/// Run `sql` against the test's database as its owner would, past the engine.
pub(crate) async fn owner_sql(t: &TestEngine, sql: &str) {
    let cfg = t.engine.config();
    match &cfg.database_url {
        Some(url) => {
            let pool = sqlx::PgPool::connect(url)
                .await
                .expect("connect PostgreSQL");
            sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
                .execute(&pool)
                .await
                .expect(sql);
            pool.close().await;
        }
        None => {
            let file = cfg.data_dir.join("casetrace.sqlite3");
            let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", file.display()))
                .await
                .expect("connect SQLite");
            sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
                .execute(&pool)
                .await
                .expect(sql);
            pool.close().await;
        }
    }
}

#[actix_web::test]
async fn verify_names_the_record_edited_in_the_database() {
    for backend in backends() {
        let t = TestEngine::open(&backend).await;
        let db = t.engine.database();
        for n in 1..=6 {
            let mut e = AuditEvent::new(
                "FR-LPS",
                "examiner.martin",
                "casing.read",
                format!("casing/FR-LPS/C-{n}"),
                AuditOutcome::Ok,
            );
            e.request_id = Some(format!("req-{n}"));
            db.append_audit(&e).await.expect("append");
        }

        let intact = casetrace(&t, &["audit", "verify"]);
        assert!(intact.status.success(), "{}: {:?}", t.backend, intact);
        let report: Value = serde_json::from_slice(&intact.stdout).expect("JSON report");
        assert_eq!(report["checked"], 6);
        assert_eq!(report["breaks"], serde_json::json!([]));

        // A database owner lifts the append-only guard and rewrites record 4.
        let lift = match t.backend {
            "sqlite" => "DROP TRIGGER audit_log_no_update",
            _ => "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change",
        };
        owner_sql(&t, lift).await;
        owner_sql(
            &t,
            "UPDATE audit_log SET resource = 'casing/FR-LPS/C-99' WHERE seq = 4",
        )
        .await;

        let broken = casetrace(&t, &["audit", "verify"]);
        assert_eq!(broken.status.code(), Some(1), "{}: {:?}", t.backend, broken);
        let report: Value = serde_json::from_slice(&broken.stdout).expect("JSON report");
        let breaks = report["breaks"].as_array().expect("breaks");
        assert_eq!(breaks.len(), 1, "{}: {report}", t.backend);
        assert_eq!(breaks[0]["seq"], 4);
        assert_eq!(breaks[0]["kind"], "edited");
        let message = String::from_utf8_lossy(&broken.stderr);
        assert!(message.contains("record 4 was edited"), "{message}");

        // The listing still shows what is stored, for the auditor to read.
        let listed = casetrace(&t, &["audit", "list", "--resource", "casing/FR-LPS/C-99"]);
        assert!(listed.status.success(), "{listed:?}");
        let lines: Vec<Value> = String::from_utf8_lossy(&listed.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON line"))
            .collect();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0]["seq"], 4);
        t.close().await;
    }
}

#[actix_web::test]
async fn list_filters_by_agency_and_refuses_a_bad_time() {
    let t = TestEngine::open(&backends()[0]).await;
    for agency in ["A", "B", "A"] {
        let e = AuditEvent::new(agency, "u", "trace.read", "firearm/1", AuditOutcome::Denied);
        t.engine.database().append_audit(&e).await.expect("append");
    }
    let out = casetrace(&t, &["audit", "list", "--agency", "A"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 2);
    let bad = casetrace(&t, &["audit", "list", "--from", "yesterday"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr)
        .contains("--from \"yesterday\" is not an RFC 3339 time"));
    t.close().await;
}
