//! The learned fine score: a logistic regression on a handful of what the
//! registration and the cells produce, fitted across firearms and
//! conditions instead of weighted by hand.
//!
//! The hand-weighted score (the mean of the whole-surface NCC and the cell
//! score) was shaped on near-full discs of breech face. On a thin ring
//! around a large aperture a pair keeps a few cells, few of them pass the
//! correlation threshold even for mates, and mates scored like non-mates.
//! What still tells them apart there is weaker evidence the hand weights
//! ignore: how many cells land on the consensus at all (a different gun's
//! cells scatter over the search window), how far that count is above
//! chance, how well the cells correlate on average. The model weighs those
//! from labelled pairs: `casetrace fit-score` fits it on the pair files of
//! several sets (`casetrace eval --pairs-out`), by leave-firearms-out
//! cross-validation, and writes it under `models/score/`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::cells::CellAnalysis;
use crate::error::{EngineError, Result};

/// The format tag every score model file carries.
/// Version 2: the cell features are means over both directions (version 1
/// read the query's cells only; its coefficients do not carry over).
pub const FORMAT: &str = "casetrace-score-model/2";

/// The features, in the order the model's coefficients are stored.
pub const FEATURE_NAMES: [&str; FEATURES] = [
    "registration_ncc",
    "cell_score",
    "congruent_fraction",
    "agreeing_fraction",
    "agreeing_z",
    "mean_ccf",
    "overlap_fraction",
    "log_valid_cells",
];
pub const FEATURES: usize = 8;

/// The chance that a different gun's cell lands within the congruence
/// tolerance of the consensus: of the default window's 3 × 9 × 9 trial
/// registrations, 1 × 5 × 5 agree. `agreeing_z` measures the agreeing
/// cells against it.
const CHANCE_AGREEMENT: f64 = 25.0 / 243.0;

/// What one comparison produced, as the model reads it: the whole-surface
/// registration, and what the cells say averaged over both directions (the
/// query's cells on the candidate, and the candidate's on the query).
pub fn features(
    registration_ncc: f64,
    overlap_fraction: f64,
    cells: &CellAnalysis,
    reverse_cells: &CellAnalysis,
) -> [f64; FEATURES] {
    let (f, r) = (cell_features(cells), cell_features(reverse_cells));
    let both = |k: usize| 0.5 * (f[k] + r[k]);
    [
        registration_ncc.max(0.0),
        both(0),
        both(1),
        both(2),
        both(3),
        both(4),
        overlap_fraction,
        both(5),
    ]
}

/// One direction's cell features: `cell_score`, `congruent_fraction`,
/// `agreeing_fraction`, `agreeing_z`, `mean_ccf`, `log_valid_cells`.
fn cell_features(cells: &CellAnalysis) -> [f64; 6] {
    let n = cells.valid_cells as f64;
    let share = |k: usize| if n > 0.0 { k as f64 / n } else { 0.0 };
    let p = CHANCE_AGREEMENT;
    let agreeing_z = if n > 0.0 {
        (cells.agreeing_cells as f64 - p * n) / (n * p * (1.0 - p)).sqrt()
    } else {
        0.0
    };
    [
        cells.cell_score,
        share(cells.congruent_cells),
        share(cells.agreeing_cells),
        agreeing_z,
        cells.mean_ccf,
        (1.0 + n).ln(),
    ]
}

/// A fitted model: score = σ(intercept + Σ coefficient · (feature − mean) / sd),
/// the probability of "same firearm" with the classes weighted equally.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreModel {
    pub format: String,
    pub features: Vec<String>,
    pub mean: Vec<f64>,
    pub sd: Vec<f64>,
    pub coefficients: Vec<f64>,
    pub intercept: f64,
    /// The ridge penalty the cross-validation chose.
    pub ridge: f64,
    /// What it was fitted on, and how it did on held-out firearms.
    pub fitted_on: Vec<FittedSet>,
    pub method: String,
}

/// One set a model was fitted on, with its held-out result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedSet {
    pub name: String,
    pub firearms: usize,
    pub known_match_pairs: usize,
    pub known_non_match_pairs: usize,
    /// Pair AUC of the model's score on held-out firearms, and of the
    /// hand-weighted score on the same pairs.
    pub held_out_auc: f64,
    pub legacy_auc: f64,
}

impl ScoreModel {
    /// The score of a comparison's features, in (0, 1).
    pub fn score(&self, f: &[f64; FEATURES]) -> f64 {
        sigmoid(self.logit(f))
    }

    fn logit(&self, f: &[f64; FEATURES]) -> f64 {
        self.intercept
            + f.iter()
                .zip(&self.coefficients)
                .zip(self.mean.iter().zip(&self.sd))
                .map(|((x, w), (m, s))| w * (x - m) / s)
                .sum::<f64>()
    }

    /// `models/score/fine-score-model.json`, or `$CASETRACE_SCORE_MODEL`.
    pub fn default_path() -> PathBuf {
        std::env::var_os("CASETRACE_SCORE_MODEL")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/../models/score/fine-score-model.json"
                ))
            })
    }

    /// Load and check a model file: the format, and features named and
    /// ordered as this engine computes them.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| EngineError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        let bad = |why: String| EngineError::Config(format!("{}: {why}", path.display()));
        let m: ScoreModel = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        if m.format != FORMAT {
            return Err(bad(format!("format {:?}, expected {FORMAT:?}", m.format)));
        }
        if m.features != FEATURE_NAMES {
            return Err(bad(format!(
                "features {:?}, this engine computes {FEATURE_NAMES:?}",
                m.features
            )));
        }
        let sizes_ok = [m.mean.len(), m.sd.len(), m.coefficients.len()] == [FEATURES; 3];
        let finite = m.mean.iter().chain(&m.coefficients).all(|v| v.is_finite())
            && m.sd.iter().all(|s| s.is_finite() && *s > 0.0)
            && m.intercept.is_finite();
        if !(sizes_ok && finite) {
            return Err(bad("coefficients missing or not finite".into()));
        }
        Ok(m)
    }

    /// Write through a temporary file, so a failure never leaves half a file.
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::json_file::save_pretty(self, path)
    }
}

pub fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}
