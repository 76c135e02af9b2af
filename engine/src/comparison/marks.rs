//! Scores per mark, and the one rule that combines them.
//!
//! A candidate is scored on each mark both casings carry: the breech face
//! always (the fine comparison's `score`), the firing-pin impression when
//! both casings have one (`comparison::pin`). IBIS and TopMatch rank per
//! mark and combined; so does casetrace.
//!
//! **Combined** adds the evidence of the pin to that of the breech face
//! on the log-odds scale: `combined = σ(logit(breech_face) + a + b · pin)`.
//! The breech-face score is a logistic regression fitted with both classes
//! weighted equally (`score_model.rs`), so its logit is a log likelihood
//! ratio; `a + b · pin` is the log likelihood ratio of the pin score, a
//! 1-D logistic fitted the same way (classes weighted equally) on the pin
//! scores of labelled pairs ([`PIN_LOG_ODDS`]). Adding them is the naive
//! Bayes rule: it holds when the two marks are independent given the gun,
//! which is what separate parts of the gun (the breech face and the pin
//! tip) make plausible. When either casing has no pin mark, there is no
//! pin evidence and `combined` **is** `breech_face`, bit for bit: lists of
//! casings without pin marks (every processed scan) rank exactly as before.
//! Likelihood ratios stay calibrated on the breech-face score alone.

/// A 1-D logistic in the pin score: log-odds (natural log) of "same gun"
/// = `intercept + slope · pin`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PinLogOdds {
    pub intercept: f64,
    pub slope: f64,
}

/// The shipped pin log-odds, fitted by `casetrace eval` (its `firing_pin
/// log-odds` line: −11.785 + 23.682 · pin, on 182 known-match and 4,648
/// known-non-match ordered pairs) on the synthetic raw set of `casetrace
/// synth --guns 20 --casings 4 --raw-per-gun 4 --pin-marks --seed 7`;
/// see docs/comparison.md, "Marks". Even odds at a pin score of 0.50. No
/// real labelled raw set with pin marks is at hand: a lab should refit it
/// on its own pairs.
pub const PIN_LOG_ODDS: PinLogOdds = PinLogOdds {
    intercept: -11.8,
    slope: 23.7,
};

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
    /// The scores of a pair, combined by `pin_log_odds`.
    pub fn new(breech_face: f64, firing_pin: Option<f64>, pin_log_odds: &PinLogOdds) -> Self {
        let combined = match firing_pin {
            None => breech_face,
            Some(pin) => {
                let p = breech_face.clamp(LOGIT_EPS, 1.0 - LOGIT_EPS);
                let logit = (p / (1.0 - p)).ln();
                let sum = logit + pin_log_odds.intercept + pin_log_odds.slope * pin;
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
}
