//! `casetrace check`: prove that descriptors, index, evidence files and the
//! database agree, and say what disagrees. Exit code 0 only when all agree.

use std::process::ExitCode;

use casetrace_engine::EngineConfig;

use super::open_engine;

/// Disagreements printed at most (the count is always printed).
const MAX_PRINTED: usize = 100;

#[derive(Debug, clap::Args)]
pub struct CheckArgs {}

pub async fn run(cfg: EngineConfig, _args: CheckArgs) -> anyhow::Result<ExitCode> {
    let engine = open_engine(cfg).await?;
    let report = engine
        .check()
        .await
        .map_err(|e| anyhow::anyhow!("check: {e}"))?;
    for problem in report.problems.iter().take(MAX_PRINTED) {
        eprintln!("{problem}");
    }
    println!(
        "{} casings, {} descriptors, {} indexed, {} evidence files verified: {}",
        report.casings,
        report.described,
        report.indexed,
        report.evidence_checked,
        if report.is_clean() {
            "all agree".to_string()
        } else {
            format!("{} disagreements", report.problems.len())
        }
    );
    if report.needs_redescribe > 0 {
        eprintln!(
            "{} casings have no descriptor of the current model and are not searchable: run `casetrace redescribe`",
            report.needs_redescribe
        );
    }
    Ok(if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
