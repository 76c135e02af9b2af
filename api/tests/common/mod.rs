//! Fixtures: an engine on a fresh data directory, on SQLite always and on
//! PostgreSQL when a test server is named; the real scans the tests submit;
//! multipart bodies built by hand; and counts of what is on file, so tests
//! can show a refused request left nothing behind.
//!
//! Each PostgreSQL test gets its own schema `t_<uuid>` (the connections'
//! `search_path`), so tests running in parallel never see each other's
//! rows; [`TestEngine::close`] drops it.

#![allow(dead_code)]

pub mod http1;
pub mod server;

use std::io::Write;
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::test::{self, TestRequest};
use actix_web::web;
use casetrace_api::state::AppState;
use casetrace_engine::casing::CasingKind;
use casetrace_engine::service::Submission;
use casetrace_engine::{Engine, EngineConfig, EvidenceLocation, S3Credentials, S3Location};
use serde_json::Value;
use sqlx::AssertSqlSafe;

/// Folder of the Weller et al. cartridge-case scans (shared, never copied
/// into the repository). TW01-* come from one pistol, TW02-* from another.
pub const WELLER_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/weller/");

/// Names the PostgreSQL database tests may create schemas in. The second
/// name is the one `scripts/test` and the engine's own tests use.
const POSTGRES_URL_VARS: [&str; 2] = ["CASETRACE_TEST_DATABASE_URL", "CASETRACE_TEST_POSTGRES_URL"];

/// The two NBIDE breech-face photographs: casings fired by one Ruger.
pub const NBIDE_PHOTOS: [&str; 2] = [
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/data/nbide-2d/NBIDE R BF 118.png"
    ),
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/data/nbide-2d/NBIDE R BF 129.png"
    ),
];

/// The bytes of one Weller scan, e.g. `weller("TW01-01")`.
pub fn weller(name: &str) -> Vec<u8> {
    let path = format!("{WELLER_DIR}{name}.x3p");
    std::fs::read(&path).unwrap_or_else(|e| panic!("read fixture {path}: {e}"))
}

/// A Weller scan submitted as evidence of agency `local` under its own name.
pub fn weller_submission(name: &str) -> Submission {
    Submission {
        agency: "local".into(),
        casing_id: name.into(),
        file_name: format!("{name}.x3p"),
        bytes: weller(name),
        kind: CasingKind::Evidence,
        case_number: None,
        calibre: None,
        metadata: serde_json::json!({}),
        um_per_px: None,
        submitted_by: "test".into(),
    }
}

/// The machine's operator, with full access by name, as the command line
/// acts: for fixtures that drive the engine directly.
pub fn operator() -> casetrace_engine::access::Principal {
    casetrace_engine::access::Principal::local_admin("local", "test fixture")
}

/// A database a test runs against.
#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    Postgres { url: String },
}

/// SQLite, plus PostgreSQL when a server is named. In CI a missing server
/// fails the run instead of silently testing one backend.
pub fn backends() -> Vec<Backend> {
    let mut out = vec![Backend::Sqlite];
    match POSTGRES_URL_VARS.iter().find_map(|v| std::env::var(v).ok()) {
        Some(url) => out.push(Backend::Postgres { url }),
        None if std::env::var_os("CI").is_some() => {
            panic!("{} must be set in CI", POSTGRES_URL_VARS[0])
        }
        None => {
            // Straight to stderr, past the harness's capture (which
            // `eprintln!` goes through), so a skip is never taken for a pass.
            let _ = writeln!(
                std::io::stderr(),
                "note: PostgreSQL not tested: {} is not set",
                POSTGRES_URL_VARS[0]
            );
        }
    }
    out
}

/// The variables naming the S3-compatible server tests may write to
/// (`scripts/s3-throwaway` exports them).
const S3_VARS: [&str; 5] = [
    "CASETRACE_TEST_S3_ENDPOINT",
    "CASETRACE_TEST_S3_BUCKET",
    "CASETRACE_TEST_S3_REGION",
    "CASETRACE_TEST_S3_ACCESS_KEY",
    "CASETRACE_TEST_S3_SECRET_KEY",
];

/// The test bucket under a prefix of its own (so tests running at once
/// never count each other's objects), or `None` after saying so when no
/// server is named. In CI a missing server fails the run.
pub fn s3_evidence() -> Option<EvidenceLocation> {
    let values: Vec<Option<String>> = S3_VARS.iter().map(|v| std::env::var(v).ok()).collect();
    let [Some(endpoint), Some(bucket), Some(region), Some(access_key_id), Some(secret_access_key)] =
        <[Option<String>; 5]>::try_from(values).expect("five variables")
    else {
        if std::env::var_os("CI").is_some() {
            panic!("{} must be set in CI", S3_VARS.join(", "));
        }
        let _ = writeln!(
            std::io::stderr(),
            "note: evidence in S3 not tested: {} are not set",
            S3_VARS.join(", ")
        );
        return None;
    };
    Some(EvidenceLocation::S3(S3Location {
        bucket,
        endpoint: Some(endpoint),
        region,
        prefix: format!("t-{}", uuid::Uuid::new_v4().simple()),
        credentials: Some(S3Credentials {
            access_key_id,
            secret_access_key,
        }),
    }))
}

/// An engine on a fresh data directory and database.
pub struct TestEngine {
    pub engine: Arc<Engine>,
    pub dir: tempfile::TempDir,
    pub backend: &'static str,
    postgres: Option<(sqlx::PgPool, String)>,
}

impl TestEngine {
    pub async fn open(backend: &Backend) -> TestEngine {
        TestEngine::open_with_evidence(backend, EvidenceLocation::Local).await
    }

    /// An engine whose evidence files are at `evidence` (a bucket, say).
    pub async fn open_with_evidence(backend: &Backend, evidence: EvidenceLocation) -> TestEngine {
        // The server's logs (a 500's detail among them), shown with a
        // failing test's output.
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter("info")
            .try_init();
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut cfg = EngineConfig::new(dir.path().join("data"));
        cfg.evidence = evidence;
        let mut postgres = None;
        let name = match backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres { url } => {
                let admin = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(1)
                    .connect(url)
                    .await
                    .unwrap_or_else(|e| panic!("connect to the test PostgreSQL {url}: {e}"));
                let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
                // Generated from hex digits only above, so safe to splice.
                sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                    .execute(&admin)
                    .await
                    .expect("create the test schema");
                let sep = if url.contains('?') { '&' } else { '?' };
                cfg.database_url = Some(format!("{url}{sep}options%5Bsearch_path%5D={schema}"));
                postgres = Some((admin, schema));
                "postgres"
            }
        };
        let engine = Engine::open(cfg)
            .await
            .unwrap_or_else(|e| panic!("open the engine on {name}: {e}"));
        register_test_agency(&engine, "local", TEST_KEY).await;
        TestEngine {
            engine: Arc::new(engine),
            dir,
            backend: name,
            postgres,
        }
    }

    /// Stop the engine and start a new one on the same data directory and
    /// database, as restarting the server does.
    pub async fn restart(&mut self) {
        let cfg = self.engine.config().clone();
        self.engine.database().close().await;
        let engine = Engine::open(cfg)
            .await
            .unwrap_or_else(|e| panic!("reopen the engine on {}: {e}", self.backend));
        self.engine = Arc::new(engine);
    }

    /// Restart as [`TestEngine::restart`] does, with `change` applied to
    /// the configuration first.
    pub async fn restart_with(&mut self, change: impl FnOnce(&mut EngineConfig)) {
        let mut cfg = self.engine.config().clone();
        change(&mut cfg);
        self.engine.database().close().await;
        let engine = Engine::open(cfg)
            .await
            .unwrap_or_else(|e| panic!("reopen the engine on {}: {e}", self.backend));
        self.engine = Arc::new(engine);
    }

    /// `--data-dir`, on PostgreSQL `--database-url` and with a bucket the
    /// `--evidence-s3-*` options, for the CLI.
    pub fn cli_args(&self) -> Vec<String> {
        let cfg = self.engine.config();
        let mut args = vec!["--data-dir".to_string(), cfg.data_dir.display().to_string()];
        if let Some(url) = &cfg.database_url {
            args.extend(["--database-url".to_string(), url.clone()]);
        }
        if let EvidenceLocation::S3(s3) = &cfg.evidence {
            for (flag, value) in [
                ("--evidence-s3-bucket", s3.bucket.as_str()),
                (
                    "--evidence-s3-endpoint",
                    s3.endpoint.as_deref().unwrap_or_default(),
                ),
                ("--evidence-s3-region", s3.region.as_str()),
                ("--evidence-s3-prefix", s3.prefix.as_str()),
            ] {
                args.extend([flag.to_string(), value.to_string()]);
            }
        }
        args
    }

    /// The bucket's key for the CLI, which takes it from the environment
    /// only.
    pub fn cli_env(&self) -> Vec<(&'static str, String)> {
        match &self.engine.config().evidence {
            EvidenceLocation::S3(S3Location {
                credentials: Some(c),
                ..
            }) => vec![
                (
                    "CASETRACE_EVIDENCE_S3_ACCESS_KEY_ID",
                    c.access_key_id.clone(),
                ),
                (
                    "CASETRACE_EVIDENCE_S3_SECRET_ACCESS_KEY",
                    c.secret_access_key.clone(),
                ),
            ],
            _ => Vec::new(),
        }
    }

    /// App state with the default upload limit.
    pub fn state(&self) -> web::Data<AppState> {
        web::Data::new(AppState::new(self.engine.clone()))
    }

    /// App state refusing images over `max_upload_bytes`.
    pub fn state_with_limit(&self, max_upload_bytes: usize) -> web::Data<AppState> {
        web::Data::new(AppState::with_upload_limit(
            self.engine.clone(),
            max_upload_bytes,
        ))
    }

    /// What is on file: rows, evidence files and index entries.
    pub async fn counts(&self) -> Counts {
        Counts {
            rows: self
                .engine
                .database()
                .count_casings()
                .await
                .expect("count casings"),
            evidence_files: self
                .engine
                .evidence()
                .count()
                .await
                .expect("count evidence files") as usize,
            indexed: self.engine.indexed_count().expect("index count"),
        }
    }

    /// Close the database and drop a PostgreSQL test schema.
    pub async fn close(self) {
        self.engine.database().close().await;
        if let Some((admin, schema)) = self.postgres {
            sqlx::query(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .execute(&admin)
                .await
                .expect("drop the test schema");
            admin.close().await;
        }
    }
}

/// What is on file, all three of which a submission writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub rows: i64,
    pub evidence_files: usize,
    pub indexed: u64,
}

impl Counts {
    pub const EMPTY: Counts = Counts {
        rows: 0,
        evidence_files: 0,
        indexed: 0,
    };
}

/// One part of a multipart body.
#[derive(Debug, Clone)]
pub struct Part {
    pub name: String,
    pub file_name: Option<String>,
    pub body: Vec<u8>,
}

impl Part {
    pub fn file(name: &str, file_name: &str, body: &[u8]) -> Part {
        Part {
            name: name.into(),
            file_name: Some(file_name.into()),
            body: body.to_vec(),
        }
    }

    pub fn text(name: &str, body: &str) -> Part {
        Part {
            name: name.into(),
            file_name: None,
            body: body.as_bytes().to_vec(),
        }
    }
}

const BOUNDARY: &str = "casetrace-test-boundary-5f0c2a9e";

/// `(content type, body)` of a multipart/form-data request.
pub fn multipart(parts: &[Part]) -> (String, Vec<u8>) {
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        let disposition = match &part.file_name {
            Some(f) => format!(
                "Content-Disposition: form-data; name=\"{}\"; filename=\"{f}\"\r\n",
                part.name
            ),
            None => format!("Content-Disposition: form-data; name=\"{}\"\r\n", part.name),
        };
        body.extend_from_slice(disposition.as_bytes());
        let content_type = if part.file_name.is_some() {
            "application/octet-stream"
        } else {
            "application/json"
        };
        body.extend_from_slice(format!("Content-Type: {content_type}\r\n\r\n").as_bytes());
        body.extend_from_slice(&part.body);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={BOUNDARY}"), body)
}

/// The usual submission: an X3P file and metadata naming its casing id.
pub fn submission(casing_id: &str, bytes: &[u8]) -> Vec<Part> {
    vec![
        Part::file("image", &format!("{casing_id}.x3p"), bytes),
        Part::text(
            "metadata",
            &format!(r#"{{"casing_id": "{casing_id}", "calibre": "9mm Luger"}}"#),
        ),
    ]
}

/// A second node on `t`'s database, with a data directory (index file,
/// evidence) of its own: `change` adjusts its configuration first.
pub async fn second_node(
    t: &TestEngine,
    backend: &Backend,
    change: impl FnOnce(&mut EngineConfig),
) -> Engine {
    let mut cfg = t.engine.config().clone();
    cfg.data_dir = t.dir.path().join("node-b");
    if let Backend::Sqlite = backend {
        let file = t
            .engine
            .config()
            .data_dir
            .join(casetrace_engine::store::DEFAULT_SQLITE_FILE);
        cfg.database_url = Some(format!("sqlite://{}", file.display()));
    }
    change(&mut cfg);
    Engine::open(cfg)
        .await
        .unwrap_or_else(|e| panic!("open the second node on {}: {e}", t.backend))
}

/// Run the `casetrace` binary as other tools do, on `t`'s data directory
/// and database.
pub fn casetrace(t: &TestEngine, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_casetrace"))
        .args(t.cli_args())
        .envs(t.cli_env())
        .args(args)
        .output()
        .expect("run casetrace")
}

/// Every unordered pair has at most one of `leads`, and the jobs' counts
/// of leads made add up to them: each lead made once, by one job.
pub fn assert_each_pair_led_once(
    leads: &[casetrace_engine::traces::LeadRecord],
    jobs: &[casetrace_engine::store::CorrelationJob],
) {
    let mut per_pair: std::collections::BTreeMap<(i64, i64), usize> = Default::default();
    for l in leads {
        let pair = (
            l.query_casing_pk.min(l.candidate_casing_pk),
            l.query_casing_pk.max(l.candidate_casing_pk),
        );
        *per_pair.entry(pair).or_default() += 1;
    }
    assert!(per_pair.values().all(|n| *n == 1), "{per_pair:?}");
    assert_eq!(
        jobs.iter().map(|j| j.leads_made as usize).sum::<usize>(),
        leads.len()
    );
}

/// A command's standard output, as text.
pub fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A command's standard error, as text.
pub fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The key every helper request sends: the `local` agency's, with every
/// role. Tests of access rules issue keys of their own.
pub const TEST_KEY: &str =
    "ct_00000000000000a1_1111111111111111111111111111111111111111111111111111111111111111";

/// Register `agency` (country ZZ) and a key with every role whose text is
/// `key` (a well-formed `ct_<id>_<secret>`).
pub async fn register_test_agency(engine: &Engine, agency: &str, key: &str) {
    use casetrace_engine::access::{hash_secret, parse_key, AgencyRecord, ApiKeyRecord, Role};
    let db = engine.database();
    db.insert_agency(&AgencyRecord {
        id: agency.into(),
        name: format!("{agency} test agency"),
        country: "ZZ".into(),
        identifier: None,
    })
    .await
    .expect("register the test agency");
    let (id, secret) = parse_key(key).expect("a well-formed test key");
    db.insert_api_key(&ApiKeyRecord {
        id: id.into(),
        agency: agency.into(),
        holder: format!("{agency}-tester"),
        roles: Role::ALL.to_vec(),
        secret_sha256: hash_secret(secret),
        expires_at: "2099-01-01T00:00:00.000Z".into(),
        revoked_at: None,
    })
    .await
    .expect("store the test key");
}

/// `Authorization` for `key`.
pub fn bearer(key: &str) -> (header::HeaderName, String) {
    (header::AUTHORIZATION, format!("Bearer {key}"))
}

/// `Authorization` for [`TEST_KEY`].
pub fn auth() -> (header::HeaderName, String) {
    bearer(TEST_KEY)
}

/// A response, its body parsed as JSON.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub location: Option<String>,
    pub json: Value,
}

impl Reply {
    /// Assert an error reply: this status, this code, a message, and
    /// nothing else in the body.
    pub fn assert_error(&self, status: StatusCode, code: &str) {
        assert_eq!(self.status, status, "{:#}", self.json);
        assert_eq!(self.json["code"], code, "{:#}", self.json);
        assert!(
            self.json["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{:#}",
            self.json
        );
        let keys: Vec<&String> = self.json.as_object().expect("an object").keys().collect();
        assert_eq!(keys, ["code", "message"], "{:#}", self.json);
    }
}

pub async fn send<S, R, B>(app: &S, req: R) -> Reply
where
    S: Service<R, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let res = test::call_service(app, req).await;
    let status = res.status();
    let location = res
        .headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().expect("ascii Location").to_string());
    let body = test::read_body(res).await;
    let json = serde_json::from_slice(&body).unwrap_or_else(|e| {
        panic!(
            "{status}: body is not JSON ({e}): {:?}",
            String::from_utf8_lossy(&body)
        )
    });
    Reply {
        status,
        location,
        json,
    }
}

pub fn post_multipart(uri: &str, parts: &[Part]) -> TestRequest {
    let (content_type, body) = multipart(parts);
    TestRequest::post()
        .uri(uri)
        .insert_header(auth())
        .insert_header((header::CONTENT_TYPE, content_type))
        .set_payload(body)
}

pub fn get(uri: &str) -> TestRequest {
    get_as(TEST_KEY, uri)
}

/// A GET of `uri` with `key`.
pub fn get_as(key: &str, uri: &str) -> TestRequest {
    TestRequest::get().uri(uri).insert_header(bearer(key))
}

/// A JSON request to `uri`.
pub fn post_json(uri: &str, body: &Value) -> TestRequest {
    post_as(TEST_KEY, uri, body)
}

/// A JSON request to `uri` with `key`.
pub fn post_as(key: &str, uri: &str, body: &Value) -> TestRequest {
    TestRequest::post()
        .uri(uri)
        .insert_header(bearer(key))
        .set_json(body)
}
