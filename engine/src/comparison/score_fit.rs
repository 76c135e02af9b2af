//! Fitting the learned fine score ([`ScoreModel`]) on labelled pairs of
//! several sets, with cross-validation over firearms.
//!
//! Every set weighs the same in the fit, and within a set the known-match
//! and known-non-match pairs weigh half each: a set of 100 guns must not
//! drown a real set of 11, nor the many non-matches the few matches. The
//! ridge penalty is chosen by leave-firearms-out cross-validation: the
//! firearms of each set are dealt into folds, a model fitted on the pairs
//! whose two firearms both lie outside a fold scores the pairs whose two
//! firearms both lie in it (mixed pairs are used by neither), and the
//! ridge with the best worst-set held-out AUC wins (ties: the larger ridge).
//! The final model is fitted on every pair with that ridge.

use std::collections::{BTreeSet, HashMap};

use super::score_model::{sigmoid, FittedSet, ScoreModel, FEATURES, FEATURE_NAMES, FORMAT};
use crate::error::{EngineError, Result};

/// One labelled pair: whose firearms, its features and the hand-weighted
/// score it had.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledPair {
    pub query_firearm: String,
    pub candidate_firearm: String,
    pub features: [f64; FEATURES],
    pub legacy_score: f64,
}

impl LabelledPair {
    fn same(&self) -> bool {
        self.query_firearm == self.candidate_firearm
    }
}

/// A named set of labelled pairs.
#[derive(Debug, Clone)]
pub struct PairSet {
    pub name: String,
    pub pairs: Vec<LabelledPair>,
}

/// Ridge penalties tried by the cross-validation.
pub const RIDGES: [f64; 5] = [1e-4, 1e-3, 1e-2, 1e-1, 1.0];

/// Fit a model on `sets`, choosing the ridge by `folds`-fold cross-validation
/// over each set's firearms.
pub fn fit_score_model(sets: &[PairSet], folds: usize) -> Result<ScoreModel> {
    let folds = folds.max(2);
    for s in sets {
        let (km, knm) = class_counts(&s.pairs);
        if km < 2 || knm < 2 {
            return Err(EngineError::Config(format!(
                "set {}: {km} known-match and {knm} known-non-match pairs; at least 2 of each",
                s.name
            )));
        }
    }
    if sets.is_empty() {
        return Err(EngineError::Config("no pair sets to fit on".into()));
    }
    let fold_of: Vec<HashMap<String, usize>> = sets.iter().map(|s| deal(s, folds)).collect();
    let mut best: Option<(f64, f64, Vec<f64>)> = None;
    for ridge in RIDGES {
        let mut held: Vec<Vec<(f64, bool)>> = vec![Vec::new(); sets.len()];
        for k in 0..folds {
            let train: Vec<PairSet> = sets
                .iter()
                .zip(&fold_of)
                .map(|(s, f)| {
                    subset(s, |p| {
                        f[&p.query_firearm] != k && f[&p.candidate_firearm] != k
                    })
                })
                .collect();
            let Ok(model) = fit_with(&train, ridge) else {
                continue;
            };
            for (i, (s, f)) in sets.iter().zip(&fold_of).enumerate() {
                held[i].extend(
                    s.pairs
                        .iter()
                        .filter(|p| f[&p.query_firearm] == k && f[&p.candidate_firearm] == k)
                        .map(|p| (model.score(&p.features), p.same())),
                );
            }
        }
        let aucs: Vec<f64> = held.iter().map(|h| auc_of(h)).collect();
        let worst = aucs.iter().copied().fold(f64::INFINITY, f64::min);
        // `>=`: ridges are tried smallest first, so ties go to the larger.
        if best.as_ref().is_none_or(|b| worst >= b.0) && worst.is_finite() {
            best = Some((worst, ridge, aucs));
        }
    }
    let (_, ridge, aucs) = best.ok_or_else(|| {
        EngineError::Config("cross-validation found no fold with pairs of both classes".into())
    })?;
    let mut model = fit_with(sets, ridge)?;
    model.fitted_on = sets
        .iter()
        .zip(aucs)
        .map(|(s, held_out_auc)| {
            let (km, knm) = class_counts(&s.pairs);
            let legacy: Vec<(f64, bool)> =
                s.pairs.iter().map(|p| (p.legacy_score, p.same())).collect();
            FittedSet {
                name: s.name.clone(),
                firearms: firearms(s).len(),
                known_match_pairs: km,
                known_non_match_pairs: knm,
                held_out_auc,
                legacy_auc: auc_of(&legacy),
            }
        })
        .collect();
    Ok(model)
}

fn class_counts(pairs: &[LabelledPair]) -> (usize, usize) {
    let km = pairs.iter().filter(|p| p.same()).count();
    (km, pairs.len() - km)
}

fn firearms(s: &PairSet) -> BTreeSet<&str> {
    s.pairs
        .iter()
        .flat_map(|p| [p.query_firearm.as_str(), p.candidate_firearm.as_str()])
        .collect()
}

/// The set's firearms dealt into folds in name order.
fn deal(s: &PairSet, folds: usize) -> HashMap<String, usize> {
    firearms(s)
        .into_iter()
        .enumerate()
        .map(|(i, f)| (f.to_string(), i % folds))
        .collect()
}

fn subset(s: &PairSet, keep: impl Fn(&LabelledPair) -> bool) -> PairSet {
    PairSet {
        name: s.name.clone(),
        pairs: s.pairs.iter().filter(|p| keep(p)).cloned().collect(),
    }
}

/// Weighted, ridge-penalised logistic regression on standardised features
/// by Newton's method.
fn fit_with(sets: &[PairSet], ridge: f64) -> Result<ScoreModel> {
    // (features, label, weight): each set 1/S, each class half of that.
    let live: Vec<&PairSet> = sets
        .iter()
        .filter(|s| {
            let (km, knm) = class_counts(&s.pairs);
            km > 0 && knm > 0
        })
        .collect();
    if live.is_empty() {
        return Err(EngineError::Config(
            "no set has pairs of both classes".into(),
        ));
    }
    let mut data: Vec<([f64; FEATURES], f64, f64)> = Vec::new();
    for s in &live {
        let (km, knm) = class_counts(&s.pairs);
        let w_set = 1.0 / live.len() as f64;
        for p in &s.pairs {
            let n = if p.same() { km } else { knm };
            data.push((
                p.features,
                f64::from(u8::from(p.same())),
                w_set * 0.5 / n as f64,
            ));
        }
    }
    let mut mean = [0.0; FEATURES];
    let mut sd = [0.0; FEATURES];
    for j in 0..FEATURES {
        mean[j] = data.iter().map(|d| d.2 * d.0[j]).sum::<f64>();
        let var = data
            .iter()
            .map(|d| d.2 * (d.0[j] - mean[j]).powi(2))
            .sum::<f64>();
        sd[j] = var.sqrt().max(1e-6);
    }
    let dim = FEATURES + 1;
    let x_of = |f: &[f64; FEATURES]| -> Vec<f64> {
        std::iter::once(1.0)
            .chain((0..FEATURES).map(|j| (f[j] - mean[j]) / sd[j]))
            .collect()
    };
    let rows: Vec<(Vec<f64>, f64, f64)> = data.iter().map(|d| (x_of(&d.0), d.1, d.2)).collect();
    let mut beta = vec![0.0; dim];
    for _ in 0..100 {
        let mut grad: Vec<f64> = (0..dim)
            .map(|j| if j == 0 { 0.0 } else { -ridge * beta[j] })
            .collect();
        let mut hess = vec![vec![0.0; dim]; dim];
        for (j, row) in hess.iter_mut().enumerate().skip(1) {
            row[j] = ridge;
        }
        for (x, y, w) in &rows {
            let p = sigmoid(x.iter().zip(&beta).map(|(a, b)| a * b).sum());
            for j in 0..dim {
                grad[j] += w * (y - p) * x[j];
                for k in 0..dim {
                    hess[j][k] += w * p * (1.0 - p) * x[j] * x[k];
                }
            }
        }
        let step = solve(hess, grad)
            .ok_or_else(|| EngineError::Config("score model fit: singular system".into()))?;
        let size: f64 = step.iter().map(|s| s.abs()).sum();
        beta.iter_mut().zip(&step).for_each(|(b, s)| *b += s);
        if size < 1e-10 {
            break;
        }
    }
    Ok(ScoreModel {
        format: FORMAT.into(),
        features: FEATURE_NAMES.iter().map(|s| s.to_string()).collect(),
        mean: mean.to_vec(),
        sd: sd.to_vec(),
        coefficients: beta[1..].to_vec(),
        intercept: beta[0],
        ridge,
        fitted_on: Vec::new(),
        method: "logistic regression on standardised features; each set weighs the same, \
                 each class half of its set; ridge chosen by leave-firearms-out \
                 cross-validation (best worst-set held-out AUC)"
            .into(),
    })
}

/// Solve `a · x = b` by Gaussian elimination with partial pivoting.
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for c in 0..n {
        let pivot = (c..n).max_by(|i, j| a[*i][c].abs().total_cmp(&a[*j][c].abs()))?;
        if a[pivot][c].abs() < 1e-300 {
            return None;
        }
        a.swap(c, pivot);
        b.swap(c, pivot);
        let (done, below) = a.split_at_mut(c + 1);
        let pivot_row = &done[c];
        for (offset, row) in below.iter_mut().enumerate() {
            let f = row[c] / pivot_row[c];
            for (x, p) in row[c..].iter_mut().zip(&pivot_row[c..]) {
                *x -= f * p;
            }
            b[c + 1 + offset] -= f * b[c];
        }
    }
    let mut x = vec![0.0; n];
    for r in (0..n).rev() {
        let s: f64 = (r + 1..n).map(|k| a[r][k] * x[k]).sum();
        x[r] = (b[r] - s) / a[r][r];
    }
    Some(x)
}

/// Pair AUC by ranks (ties count half); NaN without both classes.
pub fn auc_of(scored: &[(f64, bool)]) -> f64 {
    let mut all = scored.to_vec();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut rank_sum, mut i) = (0.0, 0);
    while i < all.len() {
        let mut j = i;
        while j < all.len() && all[j].0 == all[i].0 {
            j += 1;
        }
        let mid = (i + j + 1) as f64 / 2.0;
        rank_sum += mid * all[i..j].iter().filter(|x| x.1).count() as f64;
        i = j;
    }
    let p = all.iter().filter(|x| x.1).count() as f64;
    let n = all.len() as f64 - p;
    if p == 0.0 || n == 0.0 {
        return f64::NAN;
    }
    (rank_sum - p * (p + 1.0) / 2.0) / (p * n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pairs whose agreeing share separates the classes and whose NCC is
    /// noise; `n` firearms, every ordered pair of 2 casings each.
    fn set(name: &str, n: usize, seed: u64) -> PairSet {
        let mut state = seed;
        let mut noise = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            ((state >> 33) as f64 / (1u64 << 31) as f64) - 0.5
        };
        let mut pairs = Vec::new();
        for q in 0..n {
            for c in 0..n {
                for _ in 0..2 {
                    let same = q == c;
                    let mut f = [0.0; FEATURES];
                    f[0] = 0.2 + noise();
                    f[3] = if same { 0.6 } else { 0.15 } + 0.3 * noise();
                    f[7] = 2.0 + noise();
                    pairs.push(LabelledPair {
                        query_firearm: format!("{name}{q}"),
                        candidate_firearm: format!("{name}{c}"),
                        features: f,
                        legacy_score: f[0],
                    });
                }
            }
        }
        PairSet {
            name: name.into(),
            pairs,
        }
    }

    #[test]
    fn the_fit_finds_the_feature_that_separates_and_reports_held_out_auc() {
        let sets = [set("a", 12, 1), set("b", 9, 2)];
        let model = fit_score_model(&sets, 3).expect("fits");
        // The agreeing share carries the weight; the noise feature little.
        assert!(
            model.coefficients[3] > 3.0 * model.coefficients[0].abs(),
            "{model:?}"
        );
        for s in &model.fitted_on {
            assert!(s.held_out_auc > 0.9, "{s:?}");
            assert!(s.legacy_auc < 0.7, "{s:?}");
        }
        let mut f = [0.0; FEATURES];
        f[3] = 0.6;
        let high = model.score(&f);
        f[3] = 0.1;
        assert!(high > 0.5 && model.score(&f) < 0.5);
    }

    #[test]
    fn a_set_without_both_classes_is_refused() {
        let mut s = set("a", 4, 3);
        s.pairs.retain(|p| !p.same());
        assert!(fit_score_model(&[s], 2).is_err());
    }

    #[test]
    fn a_saved_model_loads_back_and_a_wrong_feature_list_is_refused() {
        let model = fit_score_model(&[set("a", 6, 4)], 2).expect("fits");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("m.json");
        model.save(&path).expect("saves");
        // JSON keeps each number to within an ulp or so, not bit for bit.
        let back = ScoreModel::load(&path).expect("loads");
        assert_eq!(back.features, model.features);
        for (a, b) in back.coefficients.iter().zip(&model.coefficients) {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
        let mut wrong = model.clone();
        wrong.features.swap(0, 1);
        wrong.save(&path).expect("saves");
        let err = ScoreModel::load(&path).expect_err("refused").to_string();
        assert!(err.contains("features"), "{err}");
        // A model of the first format read one direction's cells only: its
        // coefficients mean something else now, so it is refused by name.
        let mut old = model.clone();
        old.format = "casetrace-score-model/1".into();
        old.save(&path).expect("saves");
        let err = ScoreModel::load(&path).expect_err("refused").to_string();
        assert!(err.contains("casetrace-score-model/1"), "{err}");
    }
}
