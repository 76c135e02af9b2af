//! `casetrace audit verify|list`: check the audit chain, read the records.
//!
//! Only the database is opened (no model, no index), so an auditor can run
//! these on a copy of the database alone.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use casetrace_engine::store::{AuditQuery, Database, AUDIT_QUERY_MAX};
use casetrace_engine::EngineConfig;

#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: AuditCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Check every record's hash and link; exit 1 naming each broken record.
    Verify,
    /// Print records as JSON lines, oldest first.
    List(ListArgs),
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[arg(long)]
    pub agency: Option<String>,
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
    let db = cfg
        .open_database()
        .await
        .with_context(|| format!("opening the database of {}", cfg.data_dir.display()))?;
    let outcome = match args.command {
        AuditCommand::Verify => verify(&db).await,
        AuditCommand::List(list) => print_records(&db, list).await,
    };
    db.close().await;
    outcome
}

async fn verify(db: &Database) -> anyhow::Result<ExitCode> {
    let report = db.verify_audit_chain().await?;
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, &report)?;
    writeln!(out)?;
    if report.is_intact() {
        eprintln!("audit chain intact: {} records", report.checked);
        Ok(ExitCode::SUCCESS)
    } else {
        for b in &report.breaks {
            eprintln!("BROKEN: {b}");
        }
        eprintln!(
            "audit chain broken at {} place(s) among {} records",
            report.breaks.len(),
            report.checked
        );
        Ok(ExitCode::FAILURE)
    }
}

async fn print_records(db: &Database, args: ListArgs) -> anyhow::Result<ExitCode> {
    if !(1..=AUDIT_QUERY_MAX).contains(&args.limit) {
        anyhow::bail!("--limit must be between 1 and {AUDIT_QUERY_MAX}");
    }
    let query = AuditQuery {
        agency: args.agency,
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
    let records = db.audit_records(&query).await?;
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
