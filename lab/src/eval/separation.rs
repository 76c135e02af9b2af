//! How well a score separates known matches from known non-matches: the
//! AUC, and the margin between the weakest known match and the strongest
//! known non-match. The AUC saturates at 1 as soon as every match outscores
//! every non-match; the margin keeps measuring how far apart they are, so a
//! change that brings them closer shows before it costs a rank.

/// The separation of one score over a set of known-match (KM) and
/// known-non-match (KNM) pairs.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Separation {
    /// Probability that a KM pair outscores a KNM pair (ties count half);
    /// `null` in JSON when either side is empty.
    pub auc: f64,
    pub known_match_pairs: usize,
    pub known_non_match_pairs: usize,
    /// The lowest KM score and the highest KNM score.
    pub weakest_known_match: Option<f64>,
    pub strongest_known_non_match: Option<f64>,
    /// weakest KM − strongest KNM: positive when every match outscores every
    /// non-match, and by how much.
    pub margin: Option<f64>,
    /// Sample standard deviation of the KNM scores.
    pub known_non_match_sd: Option<f64>,
    /// The margin in KNM standard deviations: (min KM − max KNM) / SD(KNM).
    /// Absent when there are fewer than two KNM pairs or they all tie.
    pub margin_in_knm_sd: Option<f64>,
}

impl Separation {
    pub fn of(known_match: &[f64], known_non_match: &[f64]) -> Separation {
        let weakest = known_match.iter().copied().reduce(f64::min);
        let strongest = known_non_match.iter().copied().reduce(f64::max);
        let margin = weakest.zip(strongest).map(|(km, knm)| km - knm);
        let sd = sample_sd(known_non_match);
        Separation {
            auc: auc(known_match, known_non_match),
            known_match_pairs: known_match.len(),
            known_non_match_pairs: known_non_match.len(),
            weakest_known_match: weakest,
            strongest_known_non_match: strongest,
            margin,
            known_non_match_sd: sd,
            margin_in_knm_sd: margin
                .zip(sd)
                .filter(|(_, sd)| *sd > 0.0)
                .map(|(m, sd)| m / sd),
        }
    }

    /// `margin 0.1750 (4.21 KNM SD)`, or what is missing.
    pub fn margin_text(&self) -> String {
        match (self.margin, self.margin_in_knm_sd) {
            (Some(m), Some(sds)) => format!("margin {m:.4} ({sds:.2} KNM SD)"),
            (Some(m), None) => format!("margin {m:.4} (KNM SD undefined)"),
            _ => "margin n/a (no known-match or no known-non-match pair)".into(),
        }
    }
}

/// Sample standard deviation (n − 1), `None` for fewer than two values.
fn sample_sd(values: &[f64]) -> Option<f64> {
    if values.len() < 2 {
        return None;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let ss: f64 = values.iter().map(|v| (v - mean).powi(2)).sum();
    Some((ss / (n - 1.0)).sqrt())
}

/// Area under the ROC curve: the probability that a known-match pair
/// outscores a known-non-match pair (ties count half), by ranks.
pub fn auc(positives: &[f64], negatives: &[f64]) -> f64 {
    if positives.is_empty() || negatives.is_empty() {
        return f64::NAN;
    }
    let mut all: Vec<(f64, bool)> = positives
        .iter()
        .map(|s| (*s, true))
        .chain(negatives.iter().map(|s| (*s, false)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j < all.len() && all[j].0 == all[i].0 {
            j += 1;
        }
        let mid_rank = (i + j + 1) as f64 / 2.0;
        rank_sum += mid_rank * all[i..j].iter().filter(|x| x.1).count() as f64;
        i = j;
    }
    let (p, n) = (positives.len() as f64, negatives.len() as f64);
    (rank_sum - p * (p + 1.0) / 2.0) / (p * n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_of_separated_tied_and_reversed_scores() {
        assert_eq!(auc(&[0.9, 0.8], &[0.1, 0.2, 0.3]), 1.0);
        assert_eq!(auc(&[0.5], &[0.5]), 0.5);
        assert_eq!(auc(&[0.1], &[0.9]), 0.0);
    }

    #[test]
    fn margin_is_weakest_match_minus_strongest_non_match_in_knm_sds() {
        // KNM 0.1, 0.2, 0.3: mean 0.2, sample SD 0.1.
        let s = Separation::of(&[0.9, 0.5, 0.7], &[0.1, 0.3, 0.2]);
        assert_eq!(s.auc, 1.0);
        assert_eq!(s.weakest_known_match, Some(0.5));
        assert_eq!(s.strongest_known_non_match, Some(0.3));
        assert!((s.margin.unwrap() - 0.2).abs() < 1e-12, "{s:?}");
        assert!((s.known_non_match_sd.unwrap() - 0.1).abs() < 1e-12, "{s:?}");
        assert!((s.margin_in_knm_sd.unwrap() - 2.0).abs() < 1e-9, "{s:?}");
        assert_eq!(s.margin_text(), "margin 0.2000 (2.00 KNM SD)");
    }

    #[test]
    fn overlapping_scores_give_a_negative_margin_while_auc_stays_high() {
        let s = Separation::of(&[0.9, 0.8, 0.25], &[0.1, 0.2, 0.3]);
        assert!(s.margin.unwrap() < 0.0, "{s:?}");
        assert!(s.margin_in_knm_sd.unwrap() < 0.0, "{s:?}");
        assert!(s.auc > 0.7, "{s:?}");
    }

    #[test]
    fn missing_sides_and_tied_non_matches_leave_the_margin_undefined() {
        let none = Separation::of(&[], &[0.1, 0.2]);
        assert!(none.auc.is_nan());
        assert_eq!((none.margin, none.margin_in_knm_sd), (None, None));
        assert!(none.margin_text().contains("n/a"));

        let one_knm = Separation::of(&[0.9], &[0.1]);
        assert!((one_knm.margin.unwrap() - 0.8).abs() < 1e-12);
        assert_eq!(one_knm.known_non_match_sd, None);
        assert_eq!(one_knm.margin_in_knm_sd, None);

        let tied = Separation::of(&[0.9], &[0.1, 0.1]);
        assert_eq!(tied.known_non_match_sd, Some(0.0));
        assert_eq!(tied.margin_in_knm_sd, None, "no division by zero");
        assert!(tied.margin_text().contains("undefined"));
    }
}
