//! Scores per mark, and the one rule that combines them.
//!
//! A candidate is scored on each mark both casings carry: the breech face
//! always (the fine comparison's `score`), the firing-pin impression when
//! both casings have one (`comparison::pin`). IBIS and TopMatch rank per
//! mark and combined; so does casetrace.
//!
//! **Combined** adds the evidence of the pin to that of the breech face
//! on the log-odds scale: `combined = σ(logit(breech_face) + pin_llr)`.
//! The breech-face score is a logistic regression fitted with both classes
//! weighted equally (`score_model.rs`), so its logit is a log likelihood
//! ratio. `pin_llr` is the pin's, made robust:
//!
//! ```text
//! R       = exp(a + b · pin)                       (the fitted pin LR)
//! pin_llr = ln( ((1 − ε) · R + ε) / (ε · R + (1 − ε)) )
//! ```
//!
//! `a + b · pin` is a 1-D logistic fitted with both classes weighted
//! equally on the pin scores of labelled pairs ([`PIN_LOG_ODDS`]). Taken
//! alone (naive Bayes, as first shipped) it says a mate's pins always agree
//! and a non-mate's never do, as they do on the synthetic set it was
//! fitted on. Real pins need not: a worn or flat tip, a crater the scan
//! did not capture well, or a raw scan of a gun whose pin leaves nothing
//! individual makes a mate's pins disagree, and tips made alike (class
//! marks) can make a non-mate's agree. The rule above is the likelihood
//! ratio when a share ε of pairs of either kind has pin scores drawn as
//! the other kind's (`misleading_share`): it is the fitted log LR where
//! that is small, and never beyond ±ln((1 − ε)/ε) (±2.20 for ε = 0.1,
//! an LR between 1/9 and 9). So a pin reorders candidates whose breech
//! faces are close, and lifts a pin-matched mate, but cannot overturn a
//! breech-face lead of more than twice that bound in either direction.
//!
//! Why: the naive-Bayes rule cost issue #14's thin-ring set (raw scans
//! without `--pin-marks`, whose pins carry nothing of the gun) top-1
//! 0.975 → 0.9625. A raw mate whose pin scored like a non-mate's (0.25)
//! got −5.7 log-odds and fell below processed non-mates, which have no
//! pin and so keep their breech-face score. ε = 0.1 was picked by
//! cross-validation over firearms on both that set and the pin-marked
//! synthetic set (docs/comparison.md, "Marks"): it keeps thin-ring top-1
//! at or above the breech face alone, and most of the pin's margin gain
//! on the pin-marked set; 0.05–0.2 do about as well on both.
//!
//! Adding log LRs assumes the marks independent given the gun, which
//! separate parts of the gun (the breech face and the pin tip) make
//! plausible. When either casing has no pin mark, there is no pin
//! evidence and `combined` **is** `breech_face`, bit for bit: lists of
//! casings without pin marks (every processed scan) rank exactly as
//! before. Likelihood ratios stay calibrated on the breech-face score
//! alone.

/// The pin score's evidence: a 1-D logistic in the pin score, log-odds
/// (natural log) of "same gun" = `intercept + slope · pin`, made robust
/// by `misleading_share` (module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PinLogOdds {
    pub intercept: f64,
    pub slope: f64,
    /// ε: the share of pairs, mates and non-mates alike, whose pin scores
    /// are taken to look like the other kind's. It bounds the pin's log LR
    /// to ±ln((1 − ε)/ε); 0 is the plain fitted logistic, unbounded.
    pub misleading_share: f64,
}

/// The shipped pin evidence. The logistic was fitted by `casetrace eval`
/// (its `firing_pin log-odds` line: −11.785 + 23.682 · pin, on 182
/// known-match and 4,648 known-non-match ordered pairs) on the synthetic
/// raw set of `casetrace synth --guns 20 --casings 4 --raw-per-gun 4
/// --pin-marks --seed 7`; see docs/comparison.md, "Marks". Even odds at a
/// pin score of 0.50. `misleading_share` 0.1 (pin log LR within ±2.20)
/// was chosen on that set and issue #14's thin-ring set together (module
/// docs). No real labelled raw set with pin marks is at hand: a lab
/// should refit it on its own pairs.
pub const PIN_LOG_ODDS: PinLogOdds = PinLogOdds {
    intercept: -11.8,
    slope: 23.7,
    misleading_share: 0.1,
};

impl PinLogOdds {
    /// The pin score's log likelihood ratio (natural log), within
    /// ±ln((1 − ε)/ε).
    pub fn log_lr(&self, pin: f64) -> f64 {
        let z = self.intercept + self.slope * pin;
        let eps = self.misleading_share.clamp(0.0, 0.5);
        if eps == 0.0 {
            return z;
        }
        // ln((1 − ε)·e^z + ε) − ln(ε·e^z + 1 − ε), without overflowing e^z.
        let (keep, flip) = ((1.0 - eps).ln(), eps.ln());
        ln_add_exp(keep + z, flip) - ln_add_exp(flip + z, keep)
    }

    /// The largest |log LR| a pin score can carry: ln((1 − ε)/ε).
    pub fn bound(&self) -> f64 {
        let eps = self.misleading_share.clamp(0.0, 0.5);
        ((1.0 - eps) / eps).ln()
    }
}

/// ln(eˣ + eʸ), exact for large arguments.
fn ln_add_exp(x: f64, y: f64) -> f64 {
    let (hi, lo) = if x > y { (x, y) } else { (y, x) };
    hi + (lo - hi).exp().ln_1p()
}

/// Breech-face scores are kept this far from 0 and 1 before the logit, so
/// a saturated score stays finite (and ordered) when pin evidence is added.
const LOGIT_EPS: f64 = 1e-9;

/// The per-mark scores of one candidate.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MarkScores {
    /// The breech-face comparison's score (the fine comparison's `score`).
    pub breech_face: f64,
    /// The pin-to-pin score in [0, 1]; `None` unless both casings have a
    /// firing-pin mark.
    pub firing_pin: Option<f64>,
    /// Both marks' evidence together (module docs); `breech_face` itself
    /// when there is no pin score. Candidate lists are ranked by it.
    pub combined: f64,
}

impl MarkScores {
    /// The scores of a pair, combined with the pin evidence `pin_log_odds`.
    pub fn new(breech_face: f64, firing_pin: Option<f64>, pin_log_odds: &PinLogOdds) -> Self {
        let combined = match firing_pin {
            None => breech_face,
            Some(pin) => {
                let p = breech_face.clamp(LOGIT_EPS, 1.0 - LOGIT_EPS);
                let logit = (p / (1.0 - p)).ln();
                let sum = logit + pin_log_odds.log_lr(pin);
                1.0 / (1.0 + (-sum).exp())
            }
        };
        MarkScores {
            breech_face,
            firing_pin,
            combined,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_pin_score_combined_is_the_breech_face_score_exactly() {
        for bf in [0.0, 0.0123456789, 0.5, 0.98765, 1.0] {
            let m = MarkScores::new(bf, None, &PIN_LOG_ODDS);
            assert_eq!(m.combined.to_bits(), bf.to_bits());
        }
    }

    #[test]
    fn pin_evidence_moves_the_breech_face_log_odds_by_its_own() {
        let w = PinLogOdds {
            intercept: -2.0,
            slope: 10.0,
            misleading_share: 0.0,
        };
        // At the pin score where its log-odds are 0, nothing changes.
        let neutral = MarkScores::new(0.3, Some(0.2), &w);
        assert!((neutral.combined - 0.3).abs() < 1e-12);
        // A strong pin match lifts, a poor one lowers; order is kept
        // among candidates with the same pin score.
        let lifted = MarkScores::new(0.3, Some(0.6), &w);
        let lowered = MarkScores::new(0.3, Some(0.0), &w);
        assert!(lifted.combined > 0.9 && lowered.combined < 0.1);
        let higher = MarkScores::new(0.4, Some(0.6), &w);
        assert!(higher.combined > lifted.combined);
        // Saturated breech-face scores stay finite and ordered.
        let top = MarkScores::new(1.0, Some(0.0), &w);
        assert!(top.combined.is_finite() && top.combined > 0.5);
    }

    fn logit(p: f64) -> f64 {
        (p / (1.0 - p)).ln()
    }

    #[test]
    fn the_pin_log_lr_is_the_fitted_one_when_small_and_never_beyond_the_bound() {
        let bound = PIN_LOG_ODDS.bound();
        assert!(
            (bound - 9f64.ln()).abs() < 1e-12,
            "ε = 0.1: LR within 1/9 … 9"
        );
        let plain = PinLogOdds {
            misleading_share: 0.0,
            ..PIN_LOG_ODDS
        };
        // Near even odds the robust log LR follows the fitted one.
        let even = -PIN_LOG_ODDS.intercept / PIN_LOG_ODDS.slope;
        assert!(PIN_LOG_ODDS.log_lr(even).abs() < 1e-12);
        let near = even + 0.01;
        assert!((PIN_LOG_ODDS.log_lr(near) - 0.8 * plain.log_lr(near)).abs() < 0.02);
        // Monotone in the pin score, and bounded for every score (the
        // fitted logistic itself reaches ±12 at the ends).
        let mut last = f64::NEG_INFINITY;
        for i in 0..=1000 {
            let pin = f64::from(i) / 1000.0;
            let llr = PIN_LOG_ODDS.log_lr(pin);
            assert!(llr.is_finite() && llr.abs() < bound, "pin {pin}: {llr}");
            assert!(llr >= last, "pin {pin}: not monotone");
            last = llr;
        }
        assert!(PIN_LOG_ODDS.log_lr(0.0) < -bound + 1e-3);
        assert!(PIN_LOG_ODDS.log_lr(1.0) > bound - 1e-3);
    }

    #[test]
    fn a_strong_breech_face_non_match_is_not_lifted_above_a_mate_by_any_pin() {
        // A breech-face lead of more than twice the bound (here 4.99 in
        // log-odds) holds whatever either pin scores.
        let (mate_bf, non_mate_bf) = (0.75, 0.02);
        assert!(logit(mate_bf) - logit(non_mate_bf) > 2.0 * PIN_LOG_ODDS.bound());
        for mate_pin in [None, Some(0.0), Some(0.25), Some(0.5)] {
            let mate = MarkScores::new(mate_bf, mate_pin, &PIN_LOG_ODDS);
            for pin in [0.5, 0.6, 0.8, 1.0] {
                let non_mate = MarkScores::new(non_mate_bf, Some(pin), &PIN_LOG_ODDS);
                assert!(
                    mate.combined > non_mate.combined,
                    "mate pin {mate_pin:?}, non-mate pin {pin}"
                );
            }
        }
    }

    #[test]
    fn a_mate_whose_pin_disagrees_keeps_a_clear_breech_face_lead_over_a_list_without_pins() {
        // Issue #14's thin-ring regression: a raw query's raw mate leads
        // on the breech face (log-odds +2.0) but its pin scores like a
        // non-mate's (0.25); a processed non-mate (no pin mark) scores
        // −2.1. The plain fitted logistic (−5.9 for the pin) put the
        // non-mate first; the bounded evidence keeps the mate first.
        let (mate_bf, non_mate_bf) = (0.88, 0.11);
        let plain = PinLogOdds {
            misleading_share: 0.0,
            ..PIN_LOG_ODDS
        };
        let non_mate = MarkScores::new(non_mate_bf, None, &PIN_LOG_ODDS);
        assert!(MarkScores::new(mate_bf, Some(0.25), &plain).combined < non_mate.combined);
        assert!(MarkScores::new(mate_bf, Some(0.25), &PIN_LOG_ODDS).combined > non_mate.combined);
    }

    #[test]
    fn a_pin_marked_mate_still_gains_and_a_pin_mismatch_still_costs() {
        // Scores typical of the pin-marked synthetic set: mates' pins
        // about 0.69, non-mates' about 0.31.
        let mate = MarkScores::new(0.3, Some(0.69), &PIN_LOG_ODDS);
        let non_mate = MarkScores::new(0.6, Some(0.31), &PIN_LOG_ODDS);
        assert!(logit(mate.combined) - logit(0.3) > 2.0);
        assert!(logit(non_mate.combined) - logit(0.6) < -2.0);
        // The pin turns a near tie on the breech face the right way.
        assert!(mate.combined > non_mate.combined);
        // Among candidates with the same pin score the breech face orders.
        let better = MarkScores::new(0.35, Some(0.69), &PIN_LOG_ODDS);
        assert!(better.combined > mate.combined);
        // Saturated breech-face scores stay finite and ordered.
        let top = MarkScores::new(1.0, Some(0.0), &PIN_LOG_ODDS);
        assert!(top.combined.is_finite() && top.combined > 0.99);
    }
}
