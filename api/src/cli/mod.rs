//! Command-line interface. The contract of `import`, `candidates`,
//! `search`, `eval` and `serve` is relied on by other tools: change it only
//! compatibly.
//!
//! `eval`, `synth`, `fit-score` and `polar` are the evaluation and model tooling of the
//! `casetrace-lab` crate; this module only parses their arguments (the
//! crate's `clap` structs) and dispatches to it.

mod access;
mod audit;
mod candidates;
mod check;
mod correlate;
mod firearms;
mod import;
mod leads;
mod redescribe;
mod search;
mod serve;
mod traces;

use std::path::PathBuf;
use std::process::ExitCode;

use casetrace_engine::description::ModelPaths;
use casetrace_engine::{Engine, EngineConfig, EvidenceLocation, S3Credentials, S3Location};
use casetrace_lab::{eval, fit_score, polar, synth};
use clap::{Parser, Subcommand};

/// casetrace: cartridge-case correlation and firearm traces.
#[derive(Debug, Parser)]
#[command(name = "casetrace", version, about)]
pub struct Cli {
    /// Data directory (SQLite database, index, and evidence files unless
    /// they are in a bucket).
    #[arg(
        long,
        global = true,
        default_value = "casetrace-data",
        env = "CASETRACE_DATA_DIR"
    )]
    pub data_dir: PathBuf,
    /// PostgreSQL URL for a shared deployment; SQLite in the data directory when unset.
    #[arg(long, global = true, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Keep the evidence files in this bucket of an S3-compatible store
    /// (shared by every node) instead of the data directory. Credentials:
    /// CASETRACE_EVIDENCE_S3_ACCESS_KEY_ID and
    /// CASETRACE_EVIDENCE_S3_SECRET_ACCESS_KEY, else the usual AWS ones.
    #[arg(long, global = true, env = "CASETRACE_EVIDENCE_S3_BUCKET")]
    pub evidence_s3_bucket: Option<String>,
    /// The S3-compatible server's URL (default: AWS). Plain http:// only
    /// on loopback or a network the lab trusts.
    #[arg(
        long,
        global = true,
        env = "CASETRACE_EVIDENCE_S3_ENDPOINT",
        requires = "evidence_s3_bucket"
    )]
    pub evidence_s3_endpoint: Option<String>,
    /// The bucket's signing region.
    #[arg(
        long,
        global = true,
        env = "CASETRACE_EVIDENCE_S3_REGION",
        default_value = "us-east-1"
    )]
    pub evidence_s3_region: String,
    /// Store the objects under this prefix of the bucket.
    #[arg(
        long,
        global = true,
        env = "CASETRACE_EVIDENCE_S3_PREFIX",
        default_value = ""
    )]
    pub evidence_s3_prefix: String,
    /// Folder holding descriptor.onnx and descriptor.json.
    #[arg(long, global = true, env = "CASETRACE_MODEL_DIR")]
    pub model_dir: Option<PathBuf>,
    /// The ONNX Runtime shared library.
    #[arg(long, global = true, env = "CASETRACE_ORT_LIB")]
    pub ort_lib: Option<PathBuf>,
    /// The key that signs audit checkpoints (default: audit.key in the
    /// data directory, created mode 0600 on first start).
    #[arg(long, global = true, env = "CASETRACE_AUDIT_KEY")]
    pub audit_key: Option<PathBuf>,
    /// The signed audit checkpoint log, JSON lines (default:
    /// audit-checkpoints.jsonl in the data directory).
    #[arg(long, global = true, env = "CASETRACE_AUDIT_CHECKPOINTS")]
    pub audit_checkpoints: Option<PathBuf>,
    /// Below this many descriptors the index is exact; at or above it, an
    /// IVF index trained from the stored descriptors (default 100000).
    #[arg(long, global = true, env = "CASETRACE_INDEX_EXACT_BELOW")]
    pub index_exact_below: Option<u64>,
    /// Inverted lists an IVF search probes (default 32; more: better
    /// recall, slower).
    #[arg(long, global = true, env = "CASETRACE_INDEX_NPROBE")]
    pub index_nprobe: Option<usize>,
    /// Worker threads for image work (default: all cores).
    #[arg(long, global = true)]
    pub threads: Option<usize>,
    /// While a query may see at most this many casings, it is compared
    /// with every one instead of the descriptor index's shortlist of 100
    /// (default 500; 0 = always the shortlist).
    #[arg(long, global = true, env = "CASETRACE_COMPARE_ALL_UP_TO")]
    pub compare_all_up_to: Option<u64>,
    /// Log more (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Import the casings listed in a CSV manifest (columns file,casing_id,...),
    /// or a folder, zip or tar(.gz) holding scans and a manifest: a resumable job.
    Import(import::ImportArgs),
    /// Ranked candidates for casings on file, one JSON object per line, with
    /// per-mark scores (breech face; firing pin when both casings have one)
    /// and the marks combined, which ranks them.
    Candidates(candidates::CandidatesArgs),
    /// Ranked candidates for an image that is not on file.
    Search(search::SearchArgs),
    /// Measure accuracy and speed on a labelled set (casing_id,firearm_id,file),
    /// overall and per mark (breech face, firing pin, combined).
    Eval(eval::EvalArgs),
    /// Run the REST server.
    Serve(serve::ServeArgs),
    /// Write a synthetic labelled set of X3P scans.
    Synth(synth::SynthArgs),
    /// Fit the learned fine score on the pair files of several labelled sets.
    FitScore(fit_score::FitScoreArgs),
    /// Export the descriptor model's training input (polar unwraps) of a labelled set.
    Polar(polar::PolarArgs),
    /// Verify the audit log's hash chain, or list its records.
    Audit(audit::AuditArgs),
    /// Prove that descriptors, index, evidence files and database agree.
    Check(check::CheckArgs),
    /// Record trace requests, one or a file of them.
    Traces(traces::TracesArgs),
    /// Search firearms by serial, print their histories, record events.
    Firearms(firearms::FirearmsArgs),
    /// Mark, confirm or exclude leads.
    Leads(leads::LeadsArgs),
    /// Print a case's history: casings, leads, linked cases and firearms.
    Case(leads::CasesArgs),
    /// Register and list agencies (tenants).
    Agencies(access::AgenciesArgs),
    /// Issue, revoke and list API keys.
    Keys(access::KeysArgs),
    /// Grant, revoke and list sharing agreements between agencies.
    Agreements(access::AgreementsArgs),
    /// After a descriptor model upgrade or a new mark extraction: re-describe
    /// every casing not described by the current model or without marks of
    /// the current extraction, from its evidence file (resumable).
    Redescribe(redescribe::RedescribeArgs),
    /// Queue automatic correlation for casings that have no job (stored
    /// before the queue existed), or with --again for every casing; with
    /// --work, work the queue from this process until it is empty.
    Correlate(correlate::CorrelateArgs),
}

/// Run one command; the exit code says whether everything succeeded.
/// Commands that touch records are audited as the local administrator.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let cfg = engine_config(&cli, cli.data_dir.clone())?;
    let action = cli_action(&cli.command);
    let outcome = run_command(cfg.clone(), cli.command).await;
    if let Some(action) = action {
        let ok = matches!(&outcome, Ok(code) if *code == ExitCode::SUCCESS);
        if let Err(e) = record_cli(&cfg, action, ok).await {
            // A command that already failed reports its own error, which
            // is likelier the cause (e.g. an unreachable database).
            if outcome.is_ok() {
                return Err(e.context("writing the audit record"));
            }
            tracing::warn!(error = %e, "audit record of a failed command not written");
        }
    }
    outcome
}

/// The audit action of a command, or `None` for commands that touch no
/// records (they work on scratch directories or files, or are the server,
/// whose calls are audited one by one).
fn cli_action(command: &Command) -> Option<&'static str> {
    Some(match command {
        Command::Import(_) => "cli import",
        Command::Candidates(_) => "cli candidates",
        Command::Search(_) => "cli search",
        Command::Audit(_) => "cli audit",
        Command::Check(_) => "cli check",
        Command::Traces(_) => "cli traces",
        Command::Firearms(_) => "cli firearms",
        Command::Leads(_) => "cli leads",
        Command::Case(_) => "cli case",
        Command::Agencies(_) => "cli agencies",
        Command::Keys(_) => "cli keys",
        Command::Agreements(_) => "cli agreements",
        Command::Redescribe(_) => "cli redescribe",
        Command::Correlate(_) => "cli correlate",
        Command::Eval(_)
        | Command::Serve(_)
        | Command::Synth(_)
        | Command::FitScore(_)
        | Command::Polar(_) => return None,
    })
}

/// Append the command's audit record: the operator as `cli:local-admin`
/// of agency `local`, the command line (without a database URL, which may
/// hold a password) as the resource.
async fn record_cli(cfg: &EngineConfig, action: &str, ok: bool) -> anyhow::Result<()> {
    use casetrace_engine::audit::{AuditEvent, AuditOutcome};
    let mut args: Vec<String> = Vec::new();
    let mut skip = false;
    for a in std::env::args().skip(1) {
        if skip {
            skip = false;
        } else if a == "--database-url" {
            skip = true;
        } else if !a.starts_with("--database-url=") {
            args.push(a);
        }
    }
    let mut resource = args.join(" ");
    resource.truncate(resource.floor_char_boundary(1024));
    let outcome = if ok {
        AuditOutcome::Ok
    } else {
        AuditOutcome::Failed
    };
    let op = access::open_operator(cfg).await?;
    let recorded = op
        .record_audit(&AuditEvent::new(
            CLI_AGENCY, CLI_ACTOR, action, resource, outcome,
        ))
        .await;
    op.close().await;
    recorded?;
    Ok(())
}

async fn run_command(cfg: EngineConfig, command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Import(args) => import::run(cfg, args).await,
        Command::Candidates(args) => candidates::run(cfg, args).await,
        Command::Search(args) => search::run(cfg, args).await,
        Command::Eval(args) => eval::run(cfg, args).await,
        Command::Serve(args) => serve::run(cfg, args).await,
        Command::Synth(args) => synth::run(args),
        Command::FitScore(args) => fit_score::run(args),
        Command::Polar(args) => polar::run(cfg, args),
        Command::Audit(args) => audit::run(cfg, args).await,
        Command::Check(args) => check::run(cfg, args).await,
        Command::Traces(args) => traces::run(cfg, args).await,
        Command::Firearms(args) => firearms::run(cfg, args).await,
        Command::Leads(args) => leads::run(cfg, args).await,
        Command::Case(args) => leads::run_cases(cfg, args).await,
        Command::Agencies(args) => access::run_agencies(cfg, args).await,
        Command::Keys(args) => access::run_keys(cfg, args).await,
        Command::Agreements(args) => access::run_agreements(cfg, args).await,
        Command::Redescribe(args) => redescribe::run(cfg, args).await,
        Command::Correlate(args) => correlate::run(cfg, args).await,
    }
}

/// The engine configuration the global options describe, for `data_dir`.
pub fn engine_config(cli: &Cli, data_dir: PathBuf) -> anyhow::Result<EngineConfig> {
    let mut cfg = EngineConfig::new(data_dir);
    cfg.database_url = cli.database_url.clone();
    cfg.evidence = evidence_location(cli)?;
    if let Some(dir) = &cli.model_dir {
        cfg.model = ModelPaths::in_dir(dir);
    }
    if let Some(lib) = &cli.ort_lib {
        cfg.runtime_library = lib.clone();
    }
    if let Some(t) = cli.threads {
        cfg.threads = t.max(1);
    }
    if let Some(n) = cli.index_exact_below {
        cfg.index.exact_below = n;
    }
    if let Some(n) = cli.index_nprobe {
        cfg.index.nprobe = n.max(1);
    }
    if let Some(n) = cli.compare_all_up_to {
        cfg.compare_all_up_to = n;
    }
    cfg.audit.key_file = cli.audit_key.clone();
    cfg.audit.checkpoint_file = cli.audit_checkpoints.clone();
    Ok(cfg)
}

/// The environment variables holding the bucket's key: never flags, which
/// `ps` shows to every user and this command line's audit record keeps.
const S3_KEY_ID_VAR: &str = "CASETRACE_EVIDENCE_S3_ACCESS_KEY_ID";
const S3_SECRET_VAR: &str = "CASETRACE_EVIDENCE_S3_SECRET_ACCESS_KEY";

/// Where the evidence files are: the data directory, or the bucket the
/// options name.
fn evidence_location(cli: &Cli) -> anyhow::Result<EvidenceLocation> {
    let Some(bucket) = &cli.evidence_s3_bucket else {
        return Ok(EvidenceLocation::Local);
    };
    let credentials = match (std::env::var(S3_KEY_ID_VAR), std::env::var(S3_SECRET_VAR)) {
        (Ok(access_key_id), Ok(secret_access_key)) => Some(S3Credentials {
            access_key_id,
            secret_access_key,
        }),
        (Err(_), Err(_)) => None,
        _ => anyhow::bail!("set both {S3_KEY_ID_VAR} and {S3_SECRET_VAR}, or neither"),
    };
    Ok(EvidenceLocation::S3(S3Location {
        bucket: bucket.clone(),
        endpoint: cli.evidence_s3_endpoint.clone(),
        region: cli.evidence_s3_region.clone(),
        prefix: cli.evidence_s3_prefix.clone(),
        credentials,
    }))
}

/// Who the command line records as the author of what it writes: the
/// operator of the machine, acting as its local administrator.
const CLI_ACTOR: &str = casetrace_engine::access::LOCAL_ADMIN;

/// The operator of the machine acting for `agency`: the command line asks
/// the engine for full access by name, as it alone may.
fn operator(agency: &str) -> casetrace_engine::access::Principal {
    casetrace_engine::access::Principal::local_admin(
        agency,
        "the machine's operator at the command line",
    )
}
/// The agency the command line acts for (as in its own audit records).
const CLI_AGENCY: &str = "local";

/// Print one value as pretty JSON on stdout.
fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    std::io::Write::write_all(&mut out, b"\n")?;
    Ok(())
}

/// A file's bytes (`-` is stdin), refused past `limit` bytes.
fn read_limited(path: &std::path::Path, limit: u64) -> anyhow::Result<Vec<u8>> {
    use std::io::Read;
    let reader: Box<dyn Read> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(
            std::fs::File::open(path)
                .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?,
        )
    };
    let mut bytes = Vec::new();
    reader.take(limit + 1).read_to_end(&mut bytes)?;
    anyhow::ensure!(
        bytes.len() as u64 <= limit,
        "{}: larger than the limit of {limit} bytes",
        path.display()
    );
    Ok(bytes)
}

async fn open_engine(cfg: EngineConfig) -> anyhow::Result<Engine> {
    let dir = cfg.data_dir.clone();
    Engine::open(cfg)
        .await
        .map_err(|e| anyhow::anyhow!("opening the engine on {}: {e}", dir.display()))
}

/// Logs go to stderr so that stdout stays machine-readable.
pub fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("CASETRACE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
