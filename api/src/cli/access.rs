//! `casetrace agencies|keys|agreements`: the operator's tenant
//! administration on the machine itself, through the engine's operator
//! door ([`Operator`]): only the database is opened, no model.

use std::process::ExitCode;

use anyhow::Context;
use casetrace_engine::access::{AgencyRecord, Role, Scope};
use casetrace_engine::{EngineConfig, Operator};

use super::{operator, print_json, CLI_AGENCY};
use crate::dto::{AgreementDto, IssuedKeyDto, KeyDto};

#[derive(Debug, clap::Args)]
pub struct AgenciesArgs {
    #[command(subcommand)]
    command: AgenciesCommand,
}

#[derive(Debug, clap::Subcommand)]
enum AgenciesCommand {
    /// Register an agency (a tenant owning records).
    Add {
        /// Short id used in records, e.g. de-bka: a-z, 0-9, -, _.
        id: String,
        #[arg(long)]
        name: String,
        /// ISO 3166-1 alpha-2, e.g. DE.
        #[arg(long)]
        country: String,
        /// The agency's own identifier, e.g. an ORI.
        #[arg(long)]
        identifier: Option<String>,
    },
    /// Every agency, as JSON.
    List,
}

#[derive(Debug, clap::Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(Debug, clap::Subcommand)]
enum KeysCommand {
    /// Issue a key; it is printed once and only its hash is kept.
    Issue {
        #[arg(long)]
        agency: String,
        /// Who holds it (a person or a system), recorded in the audit log.
        #[arg(long)]
        holder: String,
        /// Comma-separated: examiner, investigator, importer, auditor, admin.
        #[arg(long)]
        roles: String,
        #[arg(long, default_value_t = 365)]
        days: i64,
    },
    /// Revoke a key from now on.
    Revoke { id: String },
    /// Keys (never their secrets), of one agency or all.
    List {
        #[arg(long)]
        agency: Option<String>,
    },
}

#[derive(Debug, clap::Args)]
pub struct AgreementsArgs {
    #[command(subcommand)]
    command: AgreementsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum AgreementsCommand {
    /// Let GRANTEE use OWNER's records: correlate, view or traces.
    Grant(AgreementArgs),
    /// End an agreement.
    Revoke(AgreementArgs),
    /// Agreements an agency is party to.
    List { agency: String },
}

/// One agreement on the command line: OWNER GRANTEE SCOPE.
#[derive(Debug, clap::Args)]
struct AgreementArgs {
    owner: String,
    grantee: String,
    scope: String,
}

impl AgreementArgs {
    fn scope(&self) -> anyhow::Result<Scope> {
        Ok(self.scope.parse()?)
    }
}

/// The engine's operator door on the configured database.
pub(super) async fn open_operator(cfg: &EngineConfig) -> anyhow::Result<Operator> {
    cfg.open_operator()
        .await
        .with_context(|| format!("opening the database of {}", cfg.data_dir.display()))
}

pub async fn run_agencies(cfg: EngineConfig, args: AgenciesArgs) -> anyhow::Result<ExitCode> {
    let op = open_operator(&cfg).await?;
    let outcome = agencies(&op, args).await;
    op.close().await;
    outcome
}

async fn agencies(op: &Operator, args: AgenciesArgs) -> anyhow::Result<ExitCode> {
    let admin = operator(CLI_AGENCY);
    match args.command {
        AgenciesCommand::Add {
            id,
            name,
            country,
            identifier,
        } => {
            let agency = AgencyRecord {
                id,
                name,
                country,
                identifier,
            };
            print_json(&op.register_agency(&admin, &agency).await?)?;
        }
        AgenciesCommand::List => print_json(&op.agencies(&admin).await?)?,
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn run_keys(cfg: EngineConfig, args: KeysArgs) -> anyhow::Result<ExitCode> {
    let op = open_operator(&cfg).await?;
    let outcome = keys(&op, args).await;
    op.close().await;
    outcome
}

async fn keys(op: &Operator, args: KeysArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        KeysCommand::Issue {
            agency,
            holder,
            roles,
            days,
        } => {
            let roles = Role::parse_list(&roles)?;
            let issued = op
                .issue_key(&operator(&agency), &holder, roles, days)
                .await?;
            eprintln!("the key is shown this once; only its hash is kept");
            print_json(&IssuedKeyDto::from(issued))?;
        }
        KeysCommand::Revoke { id } => {
            let revoked = op.revoke_key(&operator(CLI_AGENCY), &id).await?;
            print_json(&KeyDto::from(revoked))?;
        }
        KeysCommand::List { agency } => {
            let keys: Vec<KeyDto> = op
                .keys(&operator(CLI_AGENCY), agency.as_deref())
                .await?
                .into_iter()
                .map(Into::into)
                .collect();
            print_json(&keys)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn run_agreements(cfg: EngineConfig, args: AgreementsArgs) -> anyhow::Result<ExitCode> {
    let op = open_operator(&cfg).await?;
    let outcome = agreements(&op, args).await;
    op.close().await;
    outcome
}

/// An agreement is its owner's to grant or end: the operator acts for
/// the owning agency.
async fn agreements(op: &Operator, args: AgreementsArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        AgreementsCommand::Grant(args) => {
            let a = op
                .grant(&operator(&args.owner), &args.grantee, args.scope()?)
                .await?;
            print_json(&AgreementDto::from(a))?;
        }
        AgreementsCommand::Revoke(args) => {
            let a = op
                .end_agreement(&operator(&args.owner), &args.grantee, args.scope()?)
                .await?;
            print_json(&AgreementDto::from(a))?;
        }
        AgreementsCommand::List { agency } => {
            let all: Vec<AgreementDto> = op
                .agreements(&operator(&agency))
                .await?
                .into_iter()
                .map(Into::into)
                .collect();
            print_json(&all)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
