//! `casetrace agencies|keys|agreements`: the operator's tenant
//! administration on the machine itself. Only the database is opened.

use std::process::ExitCode;

use anyhow::Context;
use casetrace_engine::access::{key_time, new_key, AgencyRecord, AgreementRecord, Role};
use casetrace_engine::store::Database;
use casetrace_engine::EngineConfig;
use chrono::Utc;

use super::print_json;
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
    fn record(self) -> anyhow::Result<AgreementRecord> {
        Ok(AgreementRecord {
            owner: self.owner,
            grantee: self.grantee,
            scope: self.scope.parse()?,
        })
    }
}

async fn open_db(cfg: &EngineConfig) -> anyhow::Result<Database> {
    cfg.open_database()
        .await
        .with_context(|| format!("opening the database of {}", cfg.data_dir.display()))
}

pub async fn run_agencies(cfg: EngineConfig, args: AgenciesArgs) -> anyhow::Result<ExitCode> {
    let db = open_db(&cfg).await?;
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
            print_json(&db.insert_agency(&agency).await?)?;
        }
        AgenciesCommand::List => print_json(&db.agencies().await?)?,
    }
    db.close().await;
    Ok(ExitCode::SUCCESS)
}

pub async fn run_keys(cfg: EngineConfig, args: KeysArgs) -> anyhow::Result<ExitCode> {
    let db = open_db(&cfg).await?;
    match args.command {
        KeysCommand::Issue {
            agency,
            holder,
            roles,
            days,
        } => {
            let issued = new_key(&agency, &holder, Role::parse_list(&roles)?, days)?;
            db.insert_api_key(&issued.record).await?;
            eprintln!("the key is shown this once; only its hash is kept");
            print_json(&IssuedKeyDto::from(issued))?;
        }
        KeysCommand::Revoke { id } => {
            let revoked = db.revoke_api_key(&id, &key_time(Utc::now())).await?;
            print_json(&KeyDto::from(revoked))?;
        }
        KeysCommand::List { agency } => {
            let keys: Vec<KeyDto> = db
                .api_keys(agency.as_deref())
                .await?
                .into_iter()
                .map(Into::into)
                .collect();
            print_json(&keys)?;
        }
    }
    db.close().await;
    Ok(ExitCode::SUCCESS)
}

pub async fn run_agreements(cfg: EngineConfig, args: AgreementsArgs) -> anyhow::Result<ExitCode> {
    let db = open_db(&cfg).await?;
    match args.command {
        AgreementsCommand::Grant(args) => {
            let a = args.record()?;
            db.grant(&a, super::CLI_ACTOR).await?;
            print_json(&AgreementDto::from(a))?;
        }
        AgreementsCommand::Revoke(args) => {
            let a = args.record()?;
            anyhow::ensure!(db.revoke_agreement(&a).await?, "no such agreement");
            print_json(&AgreementDto::from(a))?;
        }
        AgreementsCommand::List { agency } => {
            let all: Vec<AgreementDto> = db
                .agreements(&agency)
                .await?
                .into_iter()
                .map(Into::into)
                .collect();
            print_json(&all)?;
        }
    }
    db.close().await;
    Ok(ExitCode::SUCCESS)
}
