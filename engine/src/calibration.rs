//! Calibration: the fine score turned into a likelihood ratio,
//! LR = P(score | same firearm) / P(score | different firearms).
//!
//! Fitted by logistic regression of "same firearm" on the score, with the
//! two classes weighted equally, so the fitted log-odds are the log LR
//! (a prior-free reading). Logistic regression is monotone and has two
//! parameters, so it cannot overfit the tails the way a density ratio of
//! two histograms does. The LR is then bounded: from `n` known-non-match
//! pairs no rate below about `1/(n+1)` can be shown, so no LR above `n+1`
//! is claimed (and symmetrically with the known-match pairs for LRs
//! below 1). Pairs from one set share casings and are not independent;
//! the bounds use the number of unordered pairs, which flatters the data,
//! so treat them as an upper limit on what the file claims.
//!
//! A calibration speaks only for pairs like those it was fitted on. Each
//! states its [`Coverage`] (the surface kind, the files' resolution range
//! and the least breech-face surface a casing had, in cells possible), and an LR is reported only
//! for a pair inside some calibration's coverage; any other pair keeps its
//! score and rank but gets no LR, with the reason ([`Calibrations::assess`]).
//! A fit on processed Ruger scans gave LR > 1 to 12.6% of different-gun
//! pairs of another make, and log10 LR 0.45 to a pair of photographs: a
//! number outside its calibration's conditions overstates the evidence.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};

/// The format tag every calibration file carries.
pub const FORMAT: &str = "casetrace-calibration/1";

/// A fitted calibration, as stored under `models/calibration/`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    pub format: String,
    /// Which score this calibrates (the fine comparison's `score`).
    pub score: String,
    /// log10 LR = `intercept + slope * score`, before bounding.
    pub intercept: f64,
    pub slope: f64,
    /// log10 LR is clamped to this range.
    pub min_log10_lr: f64,
    pub max_log10_lr: f64,
    /// Scored pairs the fit used (ordered pairs, as the queries produced them).
    pub known_match_pairs: usize,
    pub known_non_match_pairs: usize,
    /// Where the labels came from and how many casings and firearms.
    pub fitted_on: String,
    pub casings: usize,
    pub firearms: usize,
    /// Mean and standard deviation of the score in each class, for a reader.
    pub known_match_mean: f64,
    pub known_match_sd: f64,
    pub known_non_match_mean: f64,
    pub known_non_match_sd: f64,
    pub method: String,
    /// A short name responses quote (defaults to the file's stem).
    #[serde(default)]
    pub name: String,
    /// The conditions the fit saw; a calibration without one covers no
    /// pair (files written before coverage existed).
    #[serde(default)]
    pub coverage: Option<Coverage>,
}

/// The conditions a calibration was fitted under, and so the only ones it
/// speaks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Coverage {
    /// Surface kind of both casings (`topography` or `photograph`).
    pub surface_kind: String,
    /// Native resolution of both casings' files, µm per pixel, [low, high].
    pub um_per_px: [f64; 2],
    /// Fewest cells possible on a casing of the fit (500 µm cells at least
    /// half valid, [`crate::comparison::cells_possible`]; a pair counts its
    /// poorer casing): casings with less usable surface were never seen (a
    /// thin ring of breech face has a handful where a near-full disc has
    /// 20 and more).
    pub min_cells_possible: usize,
}

/// What decides whether a pair is inside a calibration's coverage.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairConditions<'a> {
    pub surface_kind: &'a str,
    pub query_um_per_px: f64,
    pub candidate_um_per_px: f64,
    /// Cells possible on the poorer of the two casings.
    pub cells_possible: usize,
}

impl Coverage {
    /// The conditions of a set of scored pairs: the kind they share, the
    /// range of their files' resolutions and their fewest cells possible.
    pub fn of_pairs(
        surface_kind: &str,
        um_per_px: &[f64],
        cells_possible: &[usize],
    ) -> Option<Self> {
        let lo = um_per_px.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = um_per_px.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Some(Coverage {
            surface_kind: surface_kind.to_string(),
            um_per_px: [lo, hi],
            min_cells_possible: *cells_possible.iter().min()?,
        })
        .filter(|_| lo.is_finite() && hi.is_finite())
    }

    /// Why the pair is outside this coverage, or `None` when it is inside.
    pub fn excludes(&self, pair: &PairConditions) -> Option<String> {
        if pair.surface_kind != self.surface_kind {
            return Some(format!(
                "surface kind {} (fitted on {})",
                pair.surface_kind, self.surface_kind
            ));
        }
        // A small tolerance: files of one instrument round their increment.
        let [lo, hi] = self.um_per_px;
        let inside = |um: f64| um >= lo * 0.98 && um <= hi * 1.02;
        for (side, um) in [
            ("query", pair.query_um_per_px),
            ("candidate", pair.candidate_um_per_px),
        ] {
            if !inside(um) {
                return Some(format!(
                    "{side} resolution {um:.3} µm/px (fitted on {lo:.3}-{hi:.3})"
                ));
            }
        }
        if pair.cells_possible < self.min_cells_possible {
            return Some(format!(
                "{} cells possible on the poorer casing (fitted on casings of at least {})",
                pair.cells_possible, self.min_cells_possible
            ));
        }
        None
    }
}

/// What a fit is told about its data, for the record in the file.
#[derive(Debug, Clone)]
pub struct FitSource {
    pub fitted_on: String,
    pub casings: usize,
    pub firearms: usize,
}

impl Calibration {
    /// Fit on known-match and known-non-match scores.
    pub fn fit(known_match: &[f64], known_non_match: &[f64], source: FitSource) -> Result<Self> {
        if known_match.len() < 2 || known_non_match.len() < 2 {
            return Err(EngineError::Config(format!(
                "calibration needs at least 2 known-match and 2 known-non-match scores, got {} and {}",
                known_match.len(),
                known_non_match.len()
            )));
        }
        let (a, b) = logistic_fit(known_match, known_non_match);
        let ln10 = std::f64::consts::LN_10;
        let (m_mean, m_sd) = mean_sd(known_match);
        let (n_mean, n_sd) = mean_sd(known_non_match);
        Ok(Calibration {
            format: FORMAT.into(),
            score: "fine comparison score (CompareConfig defaults)".into(),
            intercept: a / ln10,
            slope: b / ln10,
            min_log10_lr: -((known_match.len() / 2) as f64 + 1.0).log10(),
            max_log10_lr: ((known_non_match.len() / 2) as f64 + 1.0).log10(),
            known_match_pairs: known_match.len(),
            known_non_match_pairs: known_non_match.len(),
            fitted_on: source.fitted_on,
            casings: source.casings,
            firearms: source.firearms,
            known_match_mean: m_mean,
            known_match_sd: m_sd,
            known_non_match_mean: n_mean,
            known_non_match_sd: n_sd,
            method: "logistic regression, classes weighted equally; log10 LR bounded by \
                     ±log10(unordered pairs of the other class + 1)"
                .into(),
            name: String::new(),
            coverage: None,
        })
    }

    /// The same fit, stating the conditions it covers.
    pub fn with_coverage(mut self, name: &str, coverage: Coverage) -> Self {
        self.name = name.to_string();
        self.coverage = Some(coverage);
        self
    }

    /// log10 of the likelihood ratio for a score, within the bounds.
    pub fn log10_lr(&self, score: f64) -> f64 {
        (self.intercept + self.slope * score).clamp(self.min_log10_lr, self.max_log10_lr)
    }

    /// The score at which the LR is 1 (the operating threshold).
    pub fn neutral_score(&self) -> f64 {
        if self.slope.abs() < 1e-12 {
            f64::NAN
        } else {
            -self.intercept / self.slope
        }
    }

    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| EngineError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        let c: Calibration = serde_json::from_str(&text)
            .map_err(|e| EngineError::Config(format!("{}: {e}", path.display())))?;
        if c.format != FORMAT {
            return Err(EngineError::Config(format!(
                "{}: format {:?}, expected {FORMAT:?}",
                path.display(),
                c.format
            )));
        }
        if !(c.min_log10_lr <= 0.0 && c.max_log10_lr >= 0.0 && c.slope.is_finite()) {
            return Err(EngineError::Config(format!(
                "{}: bounds or slope out of range",
                path.display()
            )));
        }
        let mut c = c;
        if c.name.is_empty() {
            c.name = path
                .file_stem()
                .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
        }
        Ok(c)
    }

    /// Write to `path` through a temporary file, so a failure never leaves
    /// half a file.
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::json_file::save_pretty(self, path)
    }

    /// `models/calibration/fine-score.json`, or `$CASETRACE_CALIBRATION`.
    pub fn default_path() -> PathBuf {
        std::env::var_os("CASETRACE_CALIBRATION")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/../models/calibration/fine-score.json"
                ))
            })
    }
}

/// Every calibration the engine has, each applied only inside its coverage.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Calibrations {
    pub list: Vec<Calibration>,
}

/// The LR of one pair, or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub enum LrAssessment {
    Covered {
        log10_lr: f64,
        /// The calibration's name.
        calibration: String,
    },
    Withheld {
        reason: String,
    },
}

impl Calibrations {
    /// A calibration file, or every `*.json` in a folder (sorted by name,
    /// so the first covering calibration is always the same one).
    pub fn load(path: &Path) -> Result<Self> {
        if !path.is_dir() {
            return Ok(Calibrations {
                list: vec![Calibration::load(path)?],
            });
        }
        let io = |e: std::io::Error| EngineError::Io {
            path: path.to_path_buf(),
            source: e,
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        let list = files
            .iter()
            .map(|p| Calibration::load(p))
            .collect::<Result<_>>()?;
        Ok(Calibrations { list })
    }

    /// The first calibration that covers the pair gives its LR; if none
    /// does, the reasons each gave.
    pub fn assess(&self, pair: &PairConditions, score: f64) -> LrAssessment {
        if self.list.is_empty() {
            return LrAssessment::Withheld {
                reason: "no calibration is loaded".into(),
            };
        }
        let mut reasons = Vec::new();
        for c in &self.list {
            let why = match &c.coverage {
                None => Some("states no coverage".to_string()),
                Some(cov) => cov.excludes(pair),
            };
            match why {
                None => {
                    return LrAssessment::Covered {
                        log10_lr: c.log10_lr(score),
                        calibration: c.name.clone(),
                    }
                }
                Some(why) => reasons.push(format!("{}: {why}", c.name)),
            }
        }
        LrAssessment::Withheld {
            reason: format!("outside every calibration ({})", reasons.join("; ")),
        }
    }
}

fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (mean, var.sqrt())
}

/// Weighted logistic regression `P(match) = σ(a + b·s)` by Newton's method,
/// each class's weights summing to one half. A tiny ridge on `b` keeps the
/// fit finite when the classes separate perfectly.
fn logistic_fit(pos: &[f64], neg: &[f64]) -> (f64, f64) {
    let data: Vec<(f64, f64, f64)> = pos
        .iter()
        .map(|s| (*s, 1.0, 0.5 / pos.len() as f64))
        .chain(neg.iter().map(|s| (*s, 0.0, 0.5 / neg.len() as f64)))
        .collect();
    let ridge = 1e-4;
    let (mut a, mut b) = (0.0_f64, 0.0_f64);
    for _ in 0..100 {
        let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, -ridge * b, 0.0, 0.0, ridge);
        for (s, y, w) in &data {
            let p = 1.0 / (1.0 + (-(a + b * s)).exp());
            ga += w * (y - p);
            gb += w * (y - p) * s;
            let h = w * p * (1.0 - p);
            haa += h;
            hab += h * s;
            hbb += h * s * s;
        }
        let det = haa * hbb - hab * hab;
        if det.abs() < 1e-300 {
            break;
        }
        let (da, db) = ((hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det);
        a += da;
        b += db;
        if da.abs() + db.abs() < 1e-10 {
            break;
        }
    }
    (a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> FitSource {
        FitSource {
            fitted_on: "test".into(),
            casings: 10,
            firearms: 2,
        }
    }

    #[test]
    fn overlapping_classes_give_a_rising_lr_that_is_one_between_them() {
        let km: Vec<f64> = (0..200)
            .map(|i| 0.5 + 0.3 * ((i as f64) / 199.0 - 0.5))
            .collect();
        let knm: Vec<f64> = (0..200)
            .map(|i| 0.3 + 0.3 * ((i as f64) / 199.0 - 0.5))
            .collect();
        let c = Calibration::fit(&km, &knm, source()).expect("fits");
        assert!(c.slope > 0.0);
        assert!(
            (c.neutral_score() - 0.4).abs() < 0.02,
            "{}",
            c.neutral_score()
        );
        assert!(c.log10_lr(0.6) > 0.0 && c.log10_lr(0.2) < 0.0);
    }

    #[test]
    fn separated_small_samples_never_claim_more_than_they_can_show() {
        let c = Calibration::fit(&[0.8, 0.9, 0.85, 0.7], &[0.1, 0.2, 0.15, 0.05], source())
            .expect("fits");
        // 4 ordered pairs = 2 unordered: at most log10(3) either way.
        assert!((c.log10_lr(10.0) - 3f64.log10()).abs() < 1e-12);
        assert!((c.log10_lr(-10.0) + 3f64.log10()).abs() < 1e-12);
    }

    #[test]
    fn a_saved_file_loads_back_and_a_wrong_format_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.json");
        let c = Calibration::fit(&[0.8, 0.6, 0.7], &[0.1, 0.3, 0.5], source()).expect("fits");
        c.save(&path).expect("saves");
        let back = Calibration::load(&path).expect("loads");
        assert_eq!((back.known_match_pairs, &back.fitted_on), (3, &c.fitted_on));
        for s in [0.0, 0.4, 0.55, 1.0] {
            assert!((back.log10_lr(s) - c.log10_lr(s)).abs() < 1e-12);
        }
        let mut wrong = c.clone();
        wrong.format = "other/9".into();
        wrong.save(&path).expect("saves");
        let err = Calibration::load(&path).expect_err("refused").to_string();
        assert!(err.contains("format"), "{err}");
    }

    #[test]
    fn too_few_scores_are_refused() {
        assert!(Calibration::fit(&[0.5], &[0.1, 0.2], source()).is_err());
    }

    fn weller_like() -> Calibrations {
        let c = Calibration::fit(&[0.8, 0.6, 0.7], &[0.1, 0.3, 0.05], source()).expect("fits");
        let coverage =
            Coverage::of_pairs("topography", &[3.125, 3.125], &[24, 40, 31]).expect("pairs given");
        Calibrations {
            list: vec![c.with_coverage("ruger-3d", coverage)],
        }
    }

    fn pair(kind: &str, um: f64, cells: usize) -> PairConditions<'_> {
        PairConditions {
            surface_kind: kind,
            query_um_per_px: 3.125,
            candidate_um_per_px: um,
            cells_possible: cells,
        }
    }

    #[test]
    fn a_covered_pair_gets_the_lr_of_the_calibration_that_covers_it() {
        let cals = weller_like();
        let got = cals.assess(&pair("topography", 3.125, 30), 0.8);
        let want = cals.list[0].log10_lr(0.8);
        assert_eq!(
            got,
            LrAssessment::Covered {
                log10_lr: want,
                calibration: "ruger-3d".into()
            }
        );
    }

    #[test]
    fn a_photograph_pair_gets_no_lr_from_a_3d_calibration_and_says_why() {
        let got = weller_like().assess(&pair("photograph", 3.125, 30), 0.8);
        let LrAssessment::Withheld { reason } = got else {
            panic!("a photograph pair was given an LR: {got:?}");
        };
        assert!(
            reason.contains("ruger-3d") && reason.contains("photograph"),
            "{reason}"
        );
    }

    #[test]
    fn an_uncovered_resolution_or_too_few_cells_get_no_lr() {
        let cals = weller_like();
        for (um, cells, says) in [
            (7.4, 30, "resolution 7.400"),
            (3.125, 9, "9 cells possible"),
        ] {
            match cals.assess(&pair("topography", um, cells), 0.9) {
                LrAssessment::Withheld { reason } => assert!(reason.contains(says), "{reason}"),
                covered => panic!("{um} µm/px, {cells} cells: {covered:?}"),
            }
        }
        // Without any calibration, the reason says so.
        let none = Calibrations::default().assess(&pair("topography", 3.125, 30), 0.9);
        assert!(
            matches!(none, LrAssessment::Withheld { reason } if reason.contains("no calibration"))
        );
    }

    #[test]
    fn a_file_without_coverage_covers_nothing_and_a_folder_loads_every_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bare = Calibration::fit(&[0.8, 0.6, 0.7], &[0.1, 0.3, 0.5], source()).expect("fits");
        bare.save(&dir.path().join("a-old.json")).expect("saves");
        weller_like().list[0]
            .save(&dir.path().join("b-ruger.json"))
            .expect("saves");
        let cals = Calibrations::load(dir.path()).expect("loads");
        assert_eq!(cals.list.len(), 2);
        assert_eq!(cals.list[0].name, "a-old");
        // The old file states no coverage, the second covers the pair.
        match cals.assess(&pair("topography", 3.125, 30), 0.8) {
            LrAssessment::Covered { calibration, .. } => assert_eq!(calibration, "ruger-3d"),
            other => panic!("{other:?}"),
        }
        match cals.assess(&pair("topography", 3.125, 3), 0.8) {
            LrAssessment::Withheld { reason } => {
                assert!(reason.contains("a-old: states no coverage"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
    }
}
