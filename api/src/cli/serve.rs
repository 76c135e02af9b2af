//! `casetrace serve`: the REST server on the embedded default or PostgreSQL.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use actix_web::web;
use anyhow::Context;
use casetrace_engine::EngineConfig;

use super::open_engine;
use crate::app::serve;
use crate::state::AppState;
use casetrace_engine::access::AgencyRecord;
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
    /// Largest uploaded import archive, bytes (default 2 GiB).
    #[arg(long)]
    pub max_import_bytes: Option<u64>,
    /// Most import archive uploads held at once (default 2).
    #[arg(long)]
    pub max_concurrent_imports: Option<usize>,
    /// Serve HTTPS with this certificate chain (PEM, leaf first).
    #[arg(long, requires = "tls_key", env = "CASETRACE_TLS_CERT")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// The certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, requires = "tls_cert", env = "CASETRACE_TLS_KEY")]
    pub tls_key: Option<std::path::PathBuf>,
    /// Correlation workers of this node: each claims a job of the shared
    /// queue at a time and makes its leads. 0 = this node works no job
    /// (casings it stores are still queued, for other nodes).
    #[arg(long, default_value_t = 1, env = "CASETRACE_CORRELATION_WORKERS")]
    pub correlation_workers: usize,
    /// Seconds a claimed correlation job stays this node's without a
    /// renewal: how long a killed node's jobs wait before another node
    /// takes them over.
    #[arg(long, env = "CASETRACE_CORRELATION_LEASE_SECS")]
    pub correlation_lease_secs: Option<u64>,
    /// A candidate becomes a lead automatically when its calibrated
    /// log10 likelihood ratio reaches this (default 2, i.e. 100 to 1).
    #[arg(long, env = "CASETRACE_LEAD_MIN_LOG10_LR")]
    pub lead_min_log10_lr: Option<f64>,
    /// Write this node's index file at most once per this many seconds
    /// while changes keep coming (default 30; 0 = after every change). The
    /// file is a cache the next start catches up from.
    #[arg(long, env = "CASETRACE_INDEX_SAVE_EVERY_SECS")]
    pub index_save_every_secs: Option<u64>,
}

pub async fn run(mut cfg: EngineConfig, args: ServeArgs) -> anyhow::Result<ExitCode> {
    cfg.imports.roots = args.import_root.clone();
    if let Some(n) = args.max_import_bytes {
        cfg.imports.max_upload_bytes = n;
    }
    if let Some(n) = args.max_concurrent_imports {
        cfg.imports.max_concurrent_uploads = n;
    }
    cfg.correlation.workers = args.correlation_workers;
    if let Some(secs) = args.correlation_lease_secs {
        anyhow::ensure!(secs > 0, "--correlation-lease-secs must be at least 1");
        cfg.correlation.lease = std::time::Duration::from_secs(secs);
    }
    if let Some(lr) = args.lead_min_log10_lr {
        anyhow::ensure!(lr.is_finite(), "--lead-min-log10-lr must be a number");
        cfg.correlation.min_log10_lr = lr;
    }
    if let Some(secs) = args.index_save_every_secs {
        cfg.index_save_every = std::time::Duration::from_secs(secs);
    }
    // Read before the engine starts, so a bad certificate fails fast.
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(tls_config(cert, key)?),
        _ => None,
    };
    let engine = open_engine(cfg).await?;
    bootstrap(&engine).await?;
    let engine = Arc::new(engine);
    engine.start_correlating();
    let state = web::Data::new(AppState::with_upload_limit(
        engine.clone(),
        args.max_upload_bytes,
    ));
    let checkpoints = tokio::spawn(checkpoint_periodically(engine.clone()));
    let scheme = if tls.is_some() { "https" } else { "http" };
    eprintln!("casetrace listening on {scheme}://{}", args.listen);
    let served = serve(state, &args.listen, tls).await;
    checkpoints.abort();
    // The last records of this run get their checkpoint before it ends.
    engine
        .checkpoint_audit()
        .await
        .context("writing the audit checkpoint at shutdown")?;
    // Writes the index file if changes wait for it, so the next start has
    // little to catch up on.
    engine.close().await;
    served?;
    Ok(ExitCode::SUCCESS)
}

/// How often the server signs the audit chain's head when it has moved
/// (besides every `checkpoint_every` records and at shutdown).
const CHECKPOINT_PERIOD: std::time::Duration = std::time::Duration::from_secs(60);

async fn checkpoint_periodically(engine: Arc<Engine>) {
    let mut tick = actix_web::rt::time::interval(CHECKPOINT_PERIOD);
    loop {
        tick.tick().await;
        if let Err(e) = engine.checkpoint_audit().await {
            tracing::error!(error = %e, "periodic audit checkpoint not written");
        }
    }
}

/// The agency a fresh data directory starts with.
const FIRST_AGENCY: &str = "local";

/// On a database with no API key at all, register the `local` agency and
/// issue it one administrator key with every role, printed here once (only
/// its hash is kept). Without it nobody could call the API, since every
/// route but `/healthz` needs a key. Later keys are issued with
/// `casetrace keys issue` or `POST /v1/keys`.
async fn bootstrap(engine: &Engine) -> anyhow::Result<()> {
    let first = AgencyRecord {
        id: FIRST_AGENCY.into(),
        name: "Local agency".into(),
        country: "ZZ".into(),
        identifier: None,
    };
    let Some(issued) = engine.bootstrap_first_key(&first).await? else {
        return Ok(());
    };
    eprintln!(
        "first start: agency {FIRST_AGENCY:?} has one API key with every role, shown this once:\n\n    {}\n\nsend it as `Authorization: Bearer <key>`; issue others with `casetrace keys issue` or POST /v1/keys",
        issued.key
    );
    Ok(())
}

/// A TLS server configuration (TLS 1.2 and 1.3, ring's safe defaults) for
/// one certificate chain and its key, each named in errors.
fn tls_config(cert: &Path, key: &Path) -> anyhow::Result<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("reading the certificate chain {}", cert.display()))?;
    anyhow::ensure!(
        !certs.is_empty(),
        "{}: no PEM certificate in it",
        cert.display()
    );
    let key_der = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("reading the private key {}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .with_context(|| {
            format!(
                "the key {} does not fit the certificate {}",
                key.display(),
                cert.display()
            )
        })
}
