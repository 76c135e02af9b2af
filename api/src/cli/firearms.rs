//! `casetrace firearms`: serial search, firearm histories and events.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use casetrace_engine::traces::{SerialFilters, SerialQuery};
use casetrace_engine::EngineConfig;

use super::{open_engine, print_json, read_limited, CLI_ACTOR};
use crate::dto::{FirearmHistoryDto, NewTraceEventDto, SerialMatchDto, TraceEventDto};

#[derive(Debug, clap::Args)]
pub struct FirearmsArgs {
    #[command(subcommand)]
    command: FirearmsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum FirearmsCommand {
    /// Find firearms by serial: exact (normalised), a pattern (`?` one
    /// unreadable character, `*` any run) or fuzzy. One JSON match a line.
    Search {
        serial: String,
        /// Match within this many edits instead of exactly.
        #[arg(long)]
        fuzzy: Option<usize>,
        #[arg(long)]
        make: Option<String>,
        #[arg(long)]
        calibre: Option<String>,
        /// Country of manufacture.
        #[arg(long)]
        country: Option<String>,
    },
    /// Everything known about a firearm, by id or by serial, as JSON.
    History {
        /// The firearm's id.
        #[arg(conflicts_with = "serial", required_unless_present = "serial")]
        id: Option<i64>,
        /// Every firearm with this (normalised) serial instead.
        #[arg(long)]
        serial: Option<String>,
    },
    /// Record an event on a firearm: a JSON file (or - for stdin) shaped
    /// like the body of POST /v1/firearms/{id}/events.
    Event { id: i64, event: PathBuf },
}

pub async fn run(cfg: EngineConfig, args: FirearmsArgs) -> anyhow::Result<ExitCode> {
    let engine = open_engine(cfg).await?;
    let operator = super::operator(super::CLI_AGENCY);
    match args.command {
        FirearmsCommand::Search {
            serial,
            fuzzy,
            make,
            calibre,
            country,
        } => {
            let query = match fuzzy {
                Some(max_edits) => SerialQuery::Fuzzy { serial, max_edits },
                None if serial.contains(['?', '*']) => SerialQuery::Pattern { pattern: serial },
                None => SerialQuery::Exact { serial },
            };
            let filters = SerialFilters {
                make,
                calibre,
                country,
            };
            let mut out = std::io::stdout().lock();
            for m in engine.search_serials(&operator, &query, &filters).await? {
                serde_json::to_writer(&mut out, &SerialMatchDto::from(m))?;
                std::io::Write::write_all(&mut out, b"\n")?;
            }
        }
        FirearmsCommand::History { id, serial } => match (id, serial) {
            (Some(id), _) => print_json(&FirearmHistoryDto::from(
                engine.firearm_history(&operator, id).await?,
            ))?,
            (None, Some(serial)) => {
                let all: Vec<FirearmHistoryDto> = engine
                    .serial_history(&operator, &serial)
                    .await?
                    .into_iter()
                    .map(Into::into)
                    .collect();
                print_json(&all)?
            }
            (None, None) => unreachable!("clap requires an id or --serial"),
        },
        FirearmsCommand::Event { id, event } => {
            let bytes = read_limited(&event, 1024 * 1024)?;
            let dto: NewTraceEventDto = serde_json::from_slice(&bytes)
                .with_context(|| format!("{}: not a trace event", event.display()))?;
            let (new, casing) = dto.into_new(CLI_ACTOR);
            let operator = super::operator(&new.agency);
            let recorded = engine
                .add_trace_event(&operator, id, new, casing.as_deref())
                .await?;
            print_json(&TraceEventDto::from(recorded))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
