//! `casetrace traces`: trace requests and trace files, from the command
//! line. Input and output are the REST API's JSON shapes, so a request
//! written for one works with the other.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use casetrace_engine::bulk::table::MAX_TABLE_BYTES;
use casetrace_engine::bulk::TableFormat;
use casetrace_engine::EngineConfig;

use super::{open_engine, print_json, read_limited, CLI_ACTOR};
use crate::dto::{TraceImportDto, TraceOutcomeDto, TraceRequestDto};

#[derive(Debug, clap::Args)]
pub struct TracesArgs {
    #[command(subcommand)]
    command: TracesCommand,
}

#[derive(Debug, clap::Subcommand)]
enum TracesCommand {
    /// Record a trace request: a JSON file (or - for stdin) shaped like
    /// the body of POST /v1/traces. Prints what was recorded.
    Submit { request: PathBuf },
    /// Load a trace file, CSV or JSON lines (.jsonl/.ndjson), one trace per
    /// row keyed by its trace number; see docs/traces.md. Prints the report
    /// and exits 1 when any row failed.
    Import {
        file: PathBuf,
        /// Agency of rows that name none.
        #[arg(long, default_value = "local")]
        agency: String,
    },
}

pub async fn run(cfg: EngineConfig, args: TracesArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        TracesCommand::Submit { request } => {
            let bytes = read_limited(&request, 1024 * 1024)?;
            let dto: TraceRequestDto = serde_json::from_slice(&bytes)
                .with_context(|| format!("{}: not a trace request", request.display()))?;
            let engine = open_engine(cfg).await?;
            let submission = dto.into_submission(CLI_ACTOR);
            let operator = super::operator(&submission.event.agency);
            let outcome = engine.submit_trace(&operator, submission).await?;
            print_json(&TraceOutcomeDto::from(outcome))?;
            Ok(ExitCode::SUCCESS)
        }
        TracesCommand::Import { file, agency } => {
            let format = format_of(&file)?;
            let bytes = read_limited(&file, MAX_TABLE_BYTES)?;
            let engine = open_engine(cfg).await?;
            let name = file.display().to_string();
            let report = engine
                .import_traces(&super::operator(&agency), &name, &bytes, format)
                .await?;
            for failure in &report.failed {
                eprintln!(
                    "{name}: row {} ({}): {}",
                    failure.row,
                    failure.trace_number.as_deref().unwrap_or("no trace number"),
                    failure.reason
                );
            }
            let failed = !report.failed.is_empty();
            print_json(&TraceImportDto::from(report))?;
            Ok(if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

fn format_of(file: &Path) -> anyhow::Result<TableFormat> {
    TableFormat::from_name(&file.to_string_lossy()).with_context(|| {
        format!(
            "{}: a trace file ends in .csv, .jsonl or .ndjson",
            file.display()
        )
    })
}
