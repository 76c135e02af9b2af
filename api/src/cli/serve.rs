//! `casetrace serve`: the REST server on the embedded default or PostgreSQL.

use std::process::ExitCode;
use std::sync::Arc;

use actix_web::web;
use casetrace_engine::EngineConfig;

use super::open_engine;
use crate::app::{serve, AppState};
use casetrace_engine::access::Role;
use casetrace_engine::store::AgencyRecord;
use casetrace_engine::Engine;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Largest accepted upload, bytes.
    #[arg(long, default_value_t = 256 * 1024 * 1024)]
    pub max_upload_bytes: usize,
    /// A folder whose contents `POST /v1/imports` may load by path (repeatable).
    #[arg(long)]
    pub import_root: Vec<std::path::PathBuf>,
    /// Largest uploaded import archive, bytes.
    #[arg(long)]
    pub max_import_bytes: Option<u64>,
}

pub async fn run(mut cfg: EngineConfig, args: ServeArgs) -> anyhow::Result<ExitCode> {
    cfg.imports.roots = args.import_root.clone();
    if let Some(n) = args.max_import_bytes {
        cfg.imports.max_upload_bytes = n;
    }
    let engine = open_engine(cfg).await?;
    bootstrap(&engine).await?;
    let state = web::Data::new(AppState {
        engine: Arc::new(engine),
        max_upload_bytes: args.max_upload_bytes,
    });
    eprintln!("casetrace listening on http://{}", args.listen);
    serve(state, &args.listen).await?;
    Ok(ExitCode::SUCCESS)
}

/// The agency a fresh data directory starts with.
const FIRST_AGENCY: &str = "local";

/// On a database with no API key at all, register the `local` agency and
/// issue it one administrator key with every role, printed here once (only
/// its hash is kept). Without it nobody could call the API, since every
/// route but `/healthz` needs a key. Later keys are issued with
/// `casetrace keys issue` or `POST /v1/keys`.
async fn bootstrap(engine: &Engine) -> anyhow::Result<()> {
    let db = engine.database();
    if !db.api_keys(None).await?.is_empty() {
        return Ok(());
    }
    if db.agency(FIRST_AGENCY).await?.is_none() {
        db.insert_agency(&AgencyRecord {
            id: FIRST_AGENCY.into(),
            name: "Local agency".into(),
            country: "ZZ".into(),
            identifier: None,
        })
        .await?;
    }
    let issued = engine
        .issue_key(FIRST_AGENCY, "bootstrap-admin", Role::ALL.to_vec(), 365)
        .await?;
    eprintln!(
        "first start: agency {FIRST_AGENCY:?} has one API key with every role, shown this once:\n\n    {}\n\nsend it as `Authorization: Bearer <key>`; issue others with `casetrace keys issue` or POST /v1/keys",
        issued.key
    );
    Ok(())
}
