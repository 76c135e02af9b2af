//! `casetrace leads` and `casetrace cases`: an examiner's leads and case
//! histories.

use std::process::ExitCode;

use casetrace_engine::EngineConfig;

use super::{open_engine, operator, print_json, CLI_AGENCY};
use crate::dto::{CaseHistoryDto, DecisionDto, LeadDto};

#[derive(Debug, clap::Args)]
pub struct LeadsArgs {
    #[command(subcommand)]
    command: LeadsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum LeadsCommand {
    /// Take up CANDIDATE as a lead for QUERY (casing ids in --agency).
    Mark {
        query: String,
        candidate: String,
        #[arg(long, default_value = "local")]
        agency: String,
        #[arg(long)]
        comment: Option<String>,
    },
    /// Confirm (hit) or exclude a lead.
    Decide {
        id: i64,
        #[arg(value_enum)]
        decision: Decision,
        #[arg(long)]
        comment: Option<String>,
    },
    /// A lead, as JSON.
    Show { id: i64 },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Decision {
    Hit,
    Excluded,
}

#[derive(Debug, clap::Args)]
pub struct CasesArgs {
    /// The case number whose history to print, as JSON.
    case_number: String,
}

pub async fn run(cfg: EngineConfig, args: LeadsArgs) -> anyhow::Result<ExitCode> {
    let engine = open_engine(cfg).await?;
    let lead = match args.command {
        LeadsCommand::Mark {
            query,
            candidate,
            agency,
            comment,
        } => {
            engine
                .mark_lead(
                    &operator(&agency),
                    (&agency, &query),
                    (&agency, &candidate),
                    comment.as_deref(),
                )
                .await?
                .0
        }
        LeadsCommand::Decide {
            id,
            decision,
            comment,
        } => {
            let decision = match decision {
                Decision::Hit => DecisionDto::Hit,
                Decision::Excluded => DecisionDto::Excluded,
            };
            engine
                .decide_lead(
                    &operator(CLI_AGENCY),
                    id,
                    decision.into(),
                    comment.as_deref(),
                )
                .await?
        }
        LeadsCommand::Show { id } => engine.lead(&operator(CLI_AGENCY), id).await?,
    };
    print_json(&LeadDto::from(lead))?;
    Ok(ExitCode::SUCCESS)
}

pub async fn run_cases(cfg: EngineConfig, args: CasesArgs) -> anyhow::Result<ExitCode> {
    let engine = open_engine(cfg).await?;
    let history = engine
        .case_history(&operator(CLI_AGENCY), &args.case_number)
        .await?;
    print_json(&CaseHistoryDto::from(history))?;
    Ok(ExitCode::SUCCESS)
}
