//! `casetrace fit-score`: fit the learned fine score on the pair files of
//! several labelled sets (`casetrace eval LABELS.csv --pairs-out PAIRS.csv`)
//! and write it (e.g. `models/score/fine-score-model.json`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use casetrace_engine::comparison::{
    fit_score_model, LabelledPair, PairSet, FEATURES, FEATURE_NAMES,
};

use crate::manifest::read_manifest;

#[derive(Debug, clap::Args)]
pub struct FitScoreArgs {
    /// One set: NAME=PAIRS.csv,LABELS.csv (the pairs `eval --pairs-out`
    /// wrote, and the labels it was run on). Give several: the model must
    /// be fitted on a mix of conditions, never on one set alone.
    #[arg(long = "set", required = true)]
    pub sets: Vec<String>,
    /// Folds of the cross-validation over each set's firearms.
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
    /// Where to write the model.
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(args: FitScoreArgs) -> anyhow::Result<ExitCode> {
    let sets = args
        .sets
        .iter()
        .map(|s| read_set(s))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let model = fit_score_model(&sets, args.folds)?;
    model.save(&args.out)?;
    println!(
        "score model written to {} (ridge {})",
        args.out.display(),
        model.ridge
    );
    for s in &model.fitted_on {
        println!(
            "  {}: {} firearms, {} known-match / {} known-non-match pairs; held-out AUC {:.4} (hand-weighted score {:.4})",
            s.name, s.firearms, s.known_match_pairs, s.known_non_match_pairs, s.held_out_auc, s.legacy_auc
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn read_set(spec: &str) -> anyhow::Result<PairSet> {
    let Some((name, files)) = spec.split_once('=') else {
        bail!("--set {spec:?}: expected NAME=PAIRS.csv,LABELS.csv");
    };
    let Some((pairs, labels)) = files.split_once(',') else {
        bail!("--set {spec:?}: expected NAME=PAIRS.csv,LABELS.csv");
    };
    let firearm_of: HashMap<String, String> = read_manifest(Path::new(labels))?
        .into_iter()
        .filter_map(|r| Some((r.casing_id, r.extra.get("firearm_id")?.clone())))
        .collect();
    let pairs = read_pairs(Path::new(pairs), &firearm_of)?;
    Ok(PairSet {
        name: name.to_string(),
        pairs,
    })
}

/// The pairs of an `eval --pairs-out` file, with their firearms.
fn read_pairs(
    path: &Path,
    firearm_of: &HashMap<String, String>,
) -> anyhow::Result<Vec<LabelledPair>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let column = |name: &str| {
        header.iter().position(|h| *h == name).with_context(|| {
            format!(
                "{}: no column {name:?} (written by an older eval?)",
                path.display()
            )
        })
    };
    let (q, c, legacy) = (
        column("query")?,
        column("candidate")?,
        column("legacy_score")?,
    );
    let feature_cols: Vec<usize> = FEATURE_NAMES
        .iter()
        .map(|n| column(n))
        .collect::<anyhow::Result<_>>()?;
    let mut out = Vec::new();
    for (i, line) in lines.enumerate() {
        let cells: Vec<&str> = line.split(',').collect();
        let at = |k: usize| cells.get(k).copied().unwrap_or_default();
        let number = |k: usize| -> anyhow::Result<f64> {
            at(k).parse().with_context(|| {
                format!(
                    "{} line {}: {:?} is not a number",
                    path.display(),
                    i + 2,
                    at(k)
                )
            })
        };
        let gun = |id: &str| {
            firearm_of.get(id).cloned().with_context(|| {
                format!(
                    "{} line {}: casing {id} is not in the labels",
                    path.display(),
                    i + 2
                )
            })
        };
        let mut features = [0.0; FEATURES];
        for (f, k) in features.iter_mut().zip(&feature_cols) {
            *f = number(*k)?;
        }
        out.push(LabelledPair {
            query_firearm: gun(at(q))?,
            candidate_firearm: gun(at(c))?,
            features,
            legacy_score: number(legacy)?,
        });
    }
    Ok(out)
}
