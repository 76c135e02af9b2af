//! Cross-validation of the calibration over firearms: the guns are dealt
//! into folds; each fold's pairs (both casings from its guns) are given
//! LRs by a calibration fitted on the pairs of the other folds' guns only,
//! so no gun is ever scored by a fit that has seen it.

use std::collections::{BTreeSet, HashMap};

use casetrace_engine::calibration::{Calibration, FitSource};

use super::curves::{cllr, error_rates};

/// One scored ordered pair: query and candidate firearms, and the score.
#[derive(Debug, Clone)]
pub struct ScoredPair {
    pub query_gun: String,
    pub candidate_gun: String,
    pub score: f64,
}

/// What cross-validation found, pooled over the folds.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CrossValidation {
    pub folds: usize,
    /// Test pairs scored by a calibration that never saw their guns.
    pub known_match_pairs: usize,
    pub known_non_match_pairs: usize,
    /// Log-likelihood-ratio cost of those held-out LRs (0 best, 1 = no help).
    pub cllr: f64,
    /// Error rates when "LR > 1" is called a match, on the held-out pairs.
    pub false_positive_rate: f64,
    pub false_negative_rate: f64,
    /// Largest and smallest held-out log10 LRs given.
    pub max_log10_lr: f64,
    pub min_log10_lr: f64,
}

/// Deal the guns into `folds` folds (sorted by name, round robin) and
/// score each fold with a calibration fitted on the rest.
pub fn cross_validate(pairs: &[ScoredPair], folds: usize) -> anyhow::Result<CrossValidation> {
    let guns: BTreeSet<&str> = pairs.iter().map(|p| p.query_gun.as_str()).collect();
    anyhow::ensure!(
        folds >= 2 && guns.len() >= folds,
        "cross-validation needs at least {folds} firearms, the set has {}",
        guns.len()
    );
    let fold_of: HashMap<&str, usize> = guns
        .iter()
        .enumerate()
        .map(|(i, g)| (*g, i % folds))
        .collect();
    let (mut km_lr, mut knm_lr) = (Vec::new(), Vec::new());
    for f in 0..folds {
        let in_fold = |p: &ScoredPair| fold_of[p.query_gun.as_str()] == f;
        let both = |p: &ScoredPair, inside: bool| {
            in_fold(p) == inside && (fold_of.get(p.candidate_gun.as_str()) == Some(&f)) == inside
        };
        let split = |inside: bool| -> (Vec<f64>, Vec<f64>) {
            let mut km = Vec::new();
            let mut knm = Vec::new();
            for p in pairs.iter().filter(|p| both(p, inside)) {
                if p.query_gun == p.candidate_gun {
                    km.push(p.score)
                } else {
                    knm.push(p.score)
                }
            }
            (km, knm)
        };
        let (train_km, train_knm) = split(false);
        let (test_km, test_knm) = split(true);
        let cal = Calibration::fit(
            &train_km,
            &train_knm,
            FitSource {
                fitted_on: format!("cross-validation fold {f}"),
                casings: 0,
                firearms: guns.len() - guns.iter().filter(|g| fold_of[**g] == f).count(),
            },
        )?;
        km_lr.extend(test_km.iter().map(|s| cal.log10_lr(*s)));
        knm_lr.extend(test_knm.iter().map(|s| cal.log10_lr(*s)));
    }
    // "LR > 1" as the call: a threshold of 0 on log10 LR, just above it.
    let (fpr, fnr) = error_rates(&km_lr, &knm_lr, 1e-12);
    let all = km_lr.iter().chain(&knm_lr);
    Ok(CrossValidation {
        folds,
        known_match_pairs: km_lr.len(),
        known_non_match_pairs: knm_lr.len(),
        cllr: cllr(&km_lr, &knm_lr),
        false_positive_rate: fpr,
        false_negative_rate: fnr,
        max_log10_lr: all.clone().copied().fold(f64::NEG_INFINITY, f64::max),
        min_log10_lr: all.copied().fold(f64::INFINITY, f64::min),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs() -> Vec<ScoredPair> {
        // Six guns, three casings each; mates score high, others low, with
        // a little spread so the fit is finite.
        let mut out = Vec::new();
        for g in 0..6 {
            for c in 0..3 {
                for h in 0..6 {
                    for d in 0..3 {
                        if (g, c) == (h, d) {
                            continue;
                        }
                        let jitter = ((g * 7 + c * 5 + h * 3 + d) % 10) as f64 * 0.02;
                        let score = if g == h { 0.6 + jitter } else { 0.1 + jitter };
                        out.push(ScoredPair {
                            query_gun: format!("G{g}"),
                            candidate_gun: format!("G{h}"),
                            score,
                        });
                    }
                }
            }
        }
        out
    }

    #[test]
    fn held_out_guns_get_lrs_that_help_and_stay_bounded() {
        let cv = cross_validate(&pairs(), 3).expect("runs");
        // Each fold holds two guns: 2 guns x 3 x 2 mates, and 2 x 3 x 3 others.
        assert_eq!(cv.known_match_pairs, 3 * 12);
        assert_eq!(cv.known_non_match_pairs, 3 * 18);
        assert!(cv.cllr < 0.5, "{cv:?}");
        assert_eq!((cv.false_positive_rate, cv.false_negative_rate), (0.0, 0.0));
        // Training: 12 casings of 4 guns, 12 x 9 = 108 ordered non-match
        // pairs, 54 unordered: no LR above 55 is claimed.
        assert!(cv.max_log10_lr <= 55f64.log10() + 1e-9, "{cv:?}");
    }

    #[test]
    fn too_few_firearms_for_the_folds_is_an_error() {
        let err = cross_validate(&pairs(), 7)
            .expect_err("refused")
            .to_string();
        assert!(err.contains("7 firearms"), "{err}");
    }
}
