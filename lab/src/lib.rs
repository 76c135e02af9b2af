//! # casetrace lab
//!
//! The evaluation and model tooling, apart from the server (issue #15):
//!
//! - [`eval`]: `casetrace eval LABELS.csv`, accuracy and speed on a labelled
//!   set, with its plots and their hand-written PNG encoder;
//! - [`synth`]: `casetrace synth`, a synthetic labelled set of X3P scans
//!   (the generator itself is `casetrace_engine::synth`, which the engine's
//!   own tests use);
//! - [`fit_score`]: `casetrace fit-score`, the learned fine score fitted on
//!   the pair files of several labelled sets;
//! - [`polar`]: `casetrace polar`, the descriptor model's training input;
//! - [`manifest`]: reading labelled sets.
//!
//! It depends on the engine only. The `casetrace` binary (api crate) parses
//! these commands' arguments with the `clap` structs here and calls their
//! `run`; the server's modules (routes, app, dto, auth, audit trail) never
//! use this crate. Everything here works on scratch data directories or
//! plain files, never on a deployment's records.

pub mod eval;
pub mod fit_score;
mod labelled_import;
pub mod manifest;
pub mod polar;
pub mod synth;

use casetrace_engine::{Engine, EngineConfig};

/// Who the tooling records as the author of what it writes into its
/// scratch databases: the machine's operator, as the api's command line
/// records itself (`cli:local-admin`).
const OPERATOR: &str = "cli:local-admin";

/// The operator acting for the agency the tooling's scratch records
/// belong to: full access, asked of the engine by name.
fn operator(agency: &str) -> casetrace_engine::access::Principal {
    casetrace_engine::access::Principal::local_admin(
        agency,
        "the machine's operator running the evaluation tooling",
    )
}

async fn open_engine(cfg: EngineConfig) -> anyhow::Result<Engine> {
    let dir = cfg.data_dir.clone();
    Engine::open(cfg)
        .await
        .map_err(|e| anyhow::anyhow!("opening the engine on {}: {e}", dir.display()))
}
