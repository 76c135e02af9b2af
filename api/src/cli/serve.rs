//! `casetrace serve`: the REST server on the embedded default or PostgreSQL.

use std::process::ExitCode;
use std::sync::Arc;

use actix_web::web;
use casetrace_engine::EngineConfig;

use super::open_engine;
use crate::app::{serve, AppState};

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
    let state = web::Data::new(AppState {
        engine: Arc::new(engine),
        max_upload_bytes: args.max_upload_bytes,
    });
    eprintln!("casetrace listening on http://{}", args.listen);
    serve(state, &args.listen).await?;
    Ok(ExitCode::SUCCESS)
}
