//! Test helpers: a fresh database per test, on SQLite always and on
//! PostgreSQL when `CASETRACE_TEST_POSTGRES_URL` names a server.
//!
//! Each PostgreSQL test gets its own schema `t_<uuid>` (set as the
//! connections' `search_path`), created before the test and dropped after,
//! so tests running in parallel never see each other's rows.

use std::io::Write;
use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::AssertSqlSafe;

use super::db::Database;

/// Names the PostgreSQL database the tests may create schemas in, e.g.
/// `postgres://postgres@127.0.0.1:55432/casetrace_test`.
pub(crate) const POSTGRES_URL_VAR: &str = "CASETRACE_TEST_POSTGRES_URL";

/// A migrated SQLite database in a temporary directory (kept alive by the
/// returned guard).
pub(crate) async fn sqlite_in_tempdir() -> (Database, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = Database::open_default(dir.path())
        .await
        .expect("open SQLite");
    (db, dir)
}

/// A migrated PostgreSQL schema of its own, or `None` (after saying so)
/// when no server is configured outside CI.
pub(crate) async fn postgres_schema(test: &str) -> Option<PgSchema> {
    let Ok(url) = std::env::var(POSTGRES_URL_VAR) else {
        if std::env::var_os("CI").is_some() {
            panic!("{POSTGRES_URL_VAR} must be set in CI");
        }
        // Straight to stderr, past the test harness's capture, so a skip is
        // never mistaken for a pass.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test}: {POSTGRES_URL_VAR} is not set (e.g. postgres://postgres@127.0.0.1:55432/casetrace_test)"
        );
        return None;
    };
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap_or_else(|e| panic!("connect to {POSTGRES_URL_VAR}: {e}"));
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    // The name is generated above from hex digits only, so it is safe to splice.
    sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await
        .expect("create test schema");
    let options = PgConnectOptions::from_str(&url)
        .expect("parse the PostgreSQL URL")
        .options([("search_path", schema.as_str())]);
    let db = Database::connect_postgres(options)
        .await
        .expect("migrate the test schema");
    Some(PgSchema { admin, schema, db })
}

/// A test's PostgreSQL schema; [`PgSchema::drop_schema`] removes it.
pub(crate) struct PgSchema {
    admin: sqlx::PgPool,
    schema: String,
    pub db: Database,
}

impl PgSchema {
    pub async fn drop_schema(self) {
        self.db.close().await;
        sqlx::query(AssertSqlSafe(format!(
            "DROP SCHEMA {} CASCADE",
            self.schema
        )))
        .execute(&self.admin)
        .await
        .expect("drop test schema");
        self.admin.close().await;
    }
}

/// For each `async fn name(db: &Database)`, a module `name` holding two
/// tests, `name::sqlite` and `name::postgres` (a module and a function may
/// share a name). The PostgreSQL body runs in its own task so its schema is
/// dropped even when it panics; the panic is then passed on.
macro_rules! on_both_backends {
    ($($body:ident),+ $(,)?) => {
        $(
            mod $body {
                // Several worker threads, as in the server, so concurrency
                // tests really run side by side.
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let (db, _dir) = $crate::store::test_support::sqlite_in_tempdir().await;
                    super::$body(&db).await;
                    db.close().await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let test = concat!(module_path!(), "::postgres");
                    let Some(pg) = $crate::store::test_support::postgres_schema(test).await else {
                        return;
                    };
                    let db = pg.db.clone();
                    let outcome = tokio::spawn(async move { super::$body(&db).await }).await;
                    pg.drop_schema().await;
                    if let Err(e) = outcome {
                        std::panic::resume_unwind(e.into_panic());
                    }
                }
            }
        )+
    };
}
pub(crate) use on_both_backends;

/// A casing of `agency` as submitted, with placeholder file facts: what the
/// store's tests insert when they need a row, not a comparable surface.
pub(crate) fn placeholder_casing(agency: &str, id: &str) -> crate::casing::NewCasing {
    crate::casing::NewCasing {
        agency: agency.into(),
        casing_id: id.into(),
        sha256: super::sha256_hex(format!("{agency}/{id}").as_bytes()),
        file_name: format!("{id}.x3p"),
        format: crate::reading::InputFormat::X3p,
        surface_kind: crate::surface::SurfaceKind::Topography,
        kind: crate::casing::CasingKind::Evidence,
        case_number: None,
        calibre: None,
        metadata: serde_json::json!({}),
        um_per_px: 3.125,
        width: 8,
        height: 8,
        submitted_by: "examiner".into(),
    }
}

/// A casing row of `agency` with placeholder features (the store's tests
/// need a row to point at, not a comparable surface); its row id.
pub(crate) async fn casing_fixture(
    db: &Database,
    agency: &str,
    id: &str,
    case_number: Option<&str>,
    calibre: Option<&str>,
) -> i64 {
    use crate::casing::CasingFeatures;
    let new = crate::casing::NewCasing {
        case_number: case_number.map(Into::into),
        calibre: calibre.map(Into::into),
        ..placeholder_casing(agency, id)
    };
    let features = CasingFeatures {
        model_version: "m".into(),
        descriptor: vec![0.0; 4],
        comparison_surface: vec![0],
        pipeline_version: "p".into(),
        pin_mark: None,
        marks_version: None,
    };
    db.insert_casing(&new, &features)
        .await
        .expect("insert a casing fixture")
        .record()
        .id
}

/// The variables naming the S3-compatible server tests may write to
/// (`scripts/s3-throwaway` exports them).
pub(crate) const S3_VARS: [&str; 5] = [
    "CASETRACE_TEST_S3_ENDPOINT",
    "CASETRACE_TEST_S3_BUCKET",
    "CASETRACE_TEST_S3_REGION",
    "CASETRACE_TEST_S3_ACCESS_KEY",
    "CASETRACE_TEST_S3_SECRET_KEY",
];

/// The test S3 bucket under a prefix of this test's own, or `None` (after
/// saying so) when no server is configured outside CI.
pub(crate) fn s3_location(test: &str) -> Option<super::S3Location> {
    let values: Vec<Option<String>> = S3_VARS.iter().map(|v| std::env::var(v).ok()).collect();
    let [Some(endpoint), Some(bucket), Some(region), Some(access_key_id), Some(secret_access_key)] =
        <[Option<String>; 5]>::try_from(values).expect("five variables")
    else {
        if std::env::var_os("CI").is_some() {
            panic!("{} must be set in CI", S3_VARS.join(", "));
        }
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test}: {} are not set (source scripts/s3-throwaway; start_s3)",
            S3_VARS.join(", ")
        );
        return None;
    };
    Some(super::S3Location {
        bucket,
        endpoint: Some(endpoint),
        region,
        prefix: format!("t-{}", uuid::Uuid::new_v4().simple()),
        credentials: Some(super::S3Credentials {
            access_key_id,
            secret_access_key,
        }),
    })
}

/// An automatic lead of agency `lab` on a pair, as a correlation job makes
/// it (score 0.9, log10 LR 3).
pub(crate) fn auto_lead(query: i64, candidate: i64) -> super::NewAutoLead {
    super::NewAutoLead {
        agency: "lab".into(),
        query_casing_pk: query,
        candidate_casing_pk: candidate,
        score: 0.9,
        log10_lr: 3.0,
    }
}

/// The audit event a correlation job of agency `lab` completes with.
pub(crate) fn completion_event() -> crate::audit::AuditEvent {
    crate::audit::AuditEvent::new(
        "lab",
        super::CORRELATOR,
        "correlation.complete",
        "casing/x",
        crate::audit::AuditOutcome::Ok,
    )
}

/// The audit records of `action`, oldest first.
pub(crate) async fn audit_records_of(
    db: &Database,
    action: &str,
) -> Vec<crate::audit::AuditRecord> {
    db.audit_records(&super::AuditQuery {
        action: Some(action.into()),
        limit: super::AUDIT_QUERY_MAX,
        ..Default::default()
    })
    .await
    .unwrap()
}
