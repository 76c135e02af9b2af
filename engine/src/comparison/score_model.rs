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
    "ncc_z",
    "cell_score",
    "congruent_fraction",
    "agreeing_fraction",
    "agreeing_z",
    "mean_ccf",
    "ccf_z",
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
///
/// How much surface a pair shares is not itself evidence: two raw scans
/// share a whole primer face whatever gun fired them, two thin rings a
/// dozen cells. It enters only as the weight of a correlation: `ncc_z` and
/// `ccf_z` are Fisher's z of the whole-surface NCC and of the cells' mean
/// correlation times √n, n the cells scored (the independent patches the
/// correlation is an average over), so a correlation counts for more the
/// more surface agrees and a chance correlation of a small overlap for
/// less. (The features they replaced, the overlap fraction and ln(1 + n),
/// let a raw-raw non-mate with 28 cells and none congruent outscore a
/// processed-raw mate with 9.)
pub fn features(
    registration_ncc: f64,
    cells: &CellAnalysis,
    reverse_cells: &CellAnalysis,
) -> [f64; FEATURES] {
    let (f, r) = (cell_features(cells), cell_features(reverse_cells));
    let both = |k: usize| 0.5 * (f[k] + r[k]);
    // The cells scored, as the geometric mean of (1 + n) both ways, less 1.
    let n =
        ((1.0 + cells.valid_cells as f64) * (1.0 + reverse_cells.valid_cells as f64)).sqrt() - 1.0;
    let weight = n.max(1.0).sqrt();
    let fisher = |c: f64| c.clamp(0.0, 0.999).atanh();
    let registration_ncc = registration_ncc.max(0.0);
    let mean_ccf = both(4);
    [
        registration_ncc,
        fisher(registration_ncc) * weight,
        both(0),
        both(1),
        both(2),
        both(3),
        mean_ccf,
        fisher(mean_ccf) * weight,
    ]
}

/// One direction's cell features: `cell_score`, `congruent_fraction`,
/// `agreeing_fraction`, `agreeing_z`, `mean_ccf`.
fn cell_features(cells: &CellAnalysis) -> [f64; 5] {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(valid: usize, agreeing: usize, mean_ccf: f64) -> CellAnalysis {
        CellAnalysis {
            valid_cells: valid,
            congruent_cells: agreeing,
            agreeing_cells: agreeing,
            mean_ccf,
            cell_score: 0.5 * agreeing as f64 / valid.max(6) as f64,
            cells: Vec::new(),
        }
    }

    #[test]
    fn shared_surface_weighs_a_correlation_but_is_no_evidence_by_itself() {
        let name = |n: &str| FEATURE_NAMES.iter().position(|f| *f == n).expect(n);
        // Two raw faces of different guns: much surface, nothing agrees.
        let big = features(0.0, &cells(28, 0, 0.0), &cells(28, 0, 0.0));
        // A thin ring of one gun: little surface, a real correlation.
        let ring = features(0.35, &cells(9, 3, 0.5), &cells(9, 3, 0.5));
        assert_eq!(big[name("ncc_z")], 0.0);
        assert_eq!(big[name("ccf_z")], 0.0);
        assert!((ring[name("ncc_z")] - 0.35_f64.atanh() * 3.0).abs() < 1e-12);
        assert!((ring[name("ccf_z")] - 0.5_f64.atanh() * 3.0).abs() < 1e-12);
        // The same correlation over more surface weighs more.
        let wide = features(0.35, &cells(36, 12, 0.5), &cells(36, 12, 0.5));
        assert!(wide[name("ncc_z")] > 1.9 * ring[name("ncc_z")]);
        assert_eq!(
            wide[name("registration_ncc")],
            ring[name("registration_ncc")]
        );
    }

    #[test]
    fn cell_features_are_the_mean_of_both_directions() {
        let name = |n: &str| FEATURE_NAMES.iter().position(|f| *f == n).expect(n);
        let f = features(0.4, &cells(10, 5, 0.6), &cells(10, 1, 0.2));
        assert!((f[name("agreeing_fraction")] - 0.3).abs() < 1e-12);
        assert!((f[name("mean_ccf")] - 0.4).abs() < 1e-12);
        // The weight is the cells both ways: 10 and 10 make 10.
        assert!((f[name("ccf_z")] - 0.4_f64.atanh() * 10_f64.sqrt()).abs() < 1e-9);
    }
}
