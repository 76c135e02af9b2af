//! `casetrace audit verify|list|checkpoint`: check the audit chain against
//! its signed checkpoints, read the records, sign the current head.
//!
//! Through the engine's operator door ([`Operator`]): only the database,
//! the audit key and the checkpoint log are opened (no model, no index),
//! so an auditor can run these on copies of those alone.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use casetrace_engine::access::Principal;
use casetrace_engine::audit::{AuditQuery, AUDIT_QUERY_MAX};
use casetrace_engine::{EngineConfig, Operator};

use super::{operator, CLI_AGENCY};

#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: AuditCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Check every record's hash and link, and the chain against the
    /// signed checkpoints (a deleted tail, a re-hashed edit); exit 1 naming
    /// each problem.
    Verify,
    /// Sign the chain's current head into the checkpoint log.
    Checkpoint,
    /// Retention: export the records older than --before (and at least the
    /// minimum retention old) to a sealed file, then remove them from the
    /// table. `verify` keeps verifying across archived segments.
    Archive(ArchiveArgs),
    /// Counts of refused calls without a valid key, per minute, newest first.
    Refusals {
        #[arg(long, default_value_t = 60)]
        limit: i64,
    },
    /// Print records as JSON lines, oldest first.
    List(ListArgs),
}

#[derive(Debug, clap::Args)]
pub struct ArchiveArgs {
    /// Archive records before this time (RFC 3339).
    #[arg(long)]
    pub before: String,
    /// Folder for the segment file (kept by the operator, e.g. on WORM storage).
    #[arg(long)]
    pub out: std::path::PathBuf,
    /// Refuse records younger than this many days (default 365).
    #[arg(long)]
    pub min_retention_days: Option<i64>,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[arg(long)]
    pub agency: Option<String>,
    /// With --agency: also other agencies' calls on records it owns.
    #[arg(long, requires = "agency")]
    pub include_owned: bool,
    /// Exact resource, or every resource under it when it ends in `/`.
    #[arg(long)]
    pub resource: Option<String>,
    #[arg(long)]
    pub action: Option<String>,
    /// From this time on (RFC 3339, e.g. 2026-11-29T05:00:00Z).
    #[arg(long)]
    pub from: Option<String>,
    /// Before this time (RFC 3339).
    #[arg(long)]
    pub to: Option<String>,
    /// Only records after this sequence number.
    #[arg(long)]
    pub after: Option<i64>,
    #[arg(long, default_value_t = 1000)]
    pub limit: i64,
}

pub async fn run(cfg: EngineConfig, args: AuditArgs) -> anyhow::Result<ExitCode> {
    let op = super::access::open_operator(&cfg).await?;
    let admin = operator(CLI_AGENCY);
    let outcome = match args.command {
        AuditCommand::Verify => verify(&op, &admin).await,
        AuditCommand::Checkpoint => checkpoint(&op, &admin).await,
        AuditCommand::Archive(a) => archive(&op, &admin, a).await,
        AuditCommand::Refusals { limit } => refusals(&op, &admin, limit).await,
        AuditCommand::List(list) => print_records(&op, &admin, list).await,
    };
    op.close().await;
    outcome
}

async fn refusals(op: &Operator, admin: &Principal, limit: i64) -> anyhow::Result<ExitCode> {
    let counts = op
        .refusal_counts(admin, limit.clamp(1, AUDIT_QUERY_MAX))
        .await?;
    let mut out = std::io::stdout().lock();
    for c in counts {
        serde_json::to_writer(&mut out, &c)?;
        writeln!(out)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The chain report as JSON, with the anchor's report under `anchor`
/// (`null` when there is no key to check checkpoints with).
async fn verify(op: &Operator, admin: &Principal) -> anyhow::Result<ExitCode> {
    let found = op.verify_audit(admin).await?;
    let (report, anchor) = (&found.chain, &found.anchor);
    if anchor.is_none() {
        eprintln!(
            "warning: no audit key at {}: the chain is not anchored outside the database",
            op.config().audit_key_path().display()
        );
    }
    let mut json = serde_json::to_value(report)?;
    json["anchor"] = serde_json::to_value(anchor)?;
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, &json)?;
    writeln!(out)?;
    for b in &report.breaks {
        eprintln!("BROKEN: {b}");
    }
    if let Some(anchor) = anchor {
        for p in &anchor.problems {
            eprintln!("BROKEN: {p}");
        }
        match (&anchor.latest, report.head_seq) {
            (None, Some(_)) => eprintln!(
                "warning: no checkpoint signs this chain yet (run `casetrace audit checkpoint`): a deleted tail would go unnoticed"
            ),
            (Some(latest), Some(head)) if head > latest.seq => eprintln!(
                "note: records {}..{head} are after the latest checkpoint: covered by the chain only",
                latest.seq + 1
            ),
            _ => {}
        }
    }
    if found.is_intact() {
        let anchored = anchor
            .as_ref()
            .and_then(|a| a.latest.as_ref())
            .map_or("no checkpoint".to_string(), |c| {
                format!("checkpoint at record {}", c.seq)
            });
        eprintln!("audit chain intact: {} records, {anchored}", report.checked);
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "audit chain broken at {} place(s) among {} records",
            report.breaks.len() + anchor.as_ref().map_or(0, |a| a.problems.len()),
            report.checked
        );
        Ok(ExitCode::FAILURE)
    }
}

/// The retention procedure (see `docs/audit.md`).
async fn archive(op: &Operator, admin: &Principal, args: ArchiveArgs) -> anyhow::Result<ExitCode> {
    let before = stored_time("--before", &args.before)?;
    match op
        .archive_audit(admin, &before, args.min_retention_days, &args.out)
        .await?
    {
        None => eprintln!("no record before {before} left to archive"),
        Some(done) => {
            serde_json::to_writer(std::io::stdout().lock(), &done.segment)?;
            println!();
            eprintln!(
                "archived records {}..{} to {} (SHA-256 {})",
                done.segment.first_seq,
                done.segment.last_seq,
                done.file.display(),
                done.segment.file_sha256
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Sign the current head (creating the key on first use).
async fn checkpoint(op: &Operator, admin: &Principal) -> anyhow::Result<ExitCode> {
    match op.checkpoint_audit(admin).await? {
        None => match op.audit_head(admin).await? {
            None => eprintln!("the audit log is empty: nothing to sign"),
            Some((seq, _)) => eprintln!("record {seq} is already checkpointed"),
        },
        Some(c) => {
            serde_json::to_writer(std::io::stdout().lock(), &c)?;
            println!();
            eprintln!(
                "checkpoint at record {} written to {}",
                c.seq,
                op.config().audit_checkpoint_path().display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn print_records(
    op: &Operator,
    admin: &Principal,
    args: ListArgs,
) -> anyhow::Result<ExitCode> {
    if !(1..=AUDIT_QUERY_MAX).contains(&args.limit) {
        anyhow::bail!("--limit must be between 1 and {AUDIT_QUERY_MAX}");
    }
    let query = AuditQuery {
        agency: args.agency,
        include_owned: args.include_owned,
        resource: args.resource,
        action: args.action,
        from: args
            .from
            .as_deref()
            .map(|t| stored_time("--from", t))
            .transpose()?,
        to: args
            .to
            .as_deref()
            .map(|t| stored_time("--to", t))
            .transpose()?,
        after_seq: args.after,
        limit: args.limit,
    };
    let records = op.audit_records(admin, query).await?;
    let mut out = std::io::stdout().lock();
    for r in &records {
        serde_json::to_writer(&mut out, r)?;
        writeln!(out)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `text` as the records store times (UTC, milliseconds), so that the
/// text comparison in the query is a time comparison.
fn stored_time(flag: &str, text: &str) -> anyhow::Result<String> {
    let at = chrono::DateTime::parse_from_rfc3339(text)
        .with_context(|| format!("{flag} {text:?} is not an RFC 3339 time"))?;
    Ok(at
        .with_timezone(&chrono::Utc)
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string())
}
