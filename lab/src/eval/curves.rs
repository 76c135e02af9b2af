//! The curves and rates `eval` reports from scored pairs and ranked lists.

/// ROC points (false positive rate, true positive rate), from the highest
/// threshold down, one point per distinct score.
pub fn roc(positives: &[f64], negatives: &[f64]) -> Vec<(f64, f64)> {
    let mut all: Vec<(f64, bool)> = positives
        .iter()
        .map(|s| (*s, true))
        .chain(negatives.iter().map(|s| (*s, false)))
        .collect();
    all.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (p, n) = (positives.len().max(1) as f64, negatives.len().max(1) as f64);
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut out = vec![(0.0, 0.0)];
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j < all.len() && all[j].0 == all[i].0 {
            tp += usize::from(all[j].1);
            fp += usize::from(!all[j].1);
            j += 1;
        }
        out.push((fp as f64 / n, tp as f64 / p));
        i = j;
    }
    out
}

/// Cumulative match characteristic: share of queries whose first mate is
/// ranked `k` or better, for k = 1..=max_k. `first_mate_rank` holds the
/// 1-based rank per query, `None` when no mate was listed.
pub fn cumulative_match(first_mate_rank: &[Option<usize>], max_k: usize) -> Vec<(usize, f64)> {
    let q = first_mate_rank.len().max(1) as f64;
    (1..=max_k)
        .map(|k| {
            let hits = first_mate_rank
                .iter()
                .filter(|r| r.is_some_and(|r| r <= k))
                .count();
            (k, hits as f64 / q)
        })
        .collect()
}

/// False-positive and false-negative rates when pairs scoring at least
/// `threshold` are called the same firearm.
pub fn error_rates(positives: &[f64], negatives: &[f64], threshold: f64) -> (f64, f64) {
    let fpr = negatives.iter().filter(|s| **s >= threshold).count() as f64
        / negatives.len().max(1) as f64;
    let fnr =
        positives.iter().filter(|s| **s < threshold).count() as f64 / positives.len().max(1) as f64;
    (fpr, fnr)
}

/// Log-likelihood-ratio cost (Brümmer): 0 for perfect, calibrated LRs, 1
/// for LRs that always say 1; above 1 means the LRs mislead. Inputs are
/// log10 LRs of known-match and known-non-match pairs.
pub fn cllr(match_log10_lr: &[f64], non_match_log10_lr: &[f64]) -> f64 {
    let cost = |v: &[f64], sign: f64| {
        v.iter()
            .map(|l| (1.0 + 10f64.powf(sign * l)).log2())
            .sum::<f64>()
            / v.len().max(1) as f64
    };
    0.5 * (cost(match_log10_lr, -1.0) + cost(non_match_log10_lr, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roc_of_separated_scores_goes_straight_up_then_across() {
        let r = roc(&[0.9, 0.8], &[0.1, 0.2]);
        assert_eq!(
            r,
            vec![(0.0, 0.0), (0.0, 0.5), (0.0, 1.0), (0.5, 1.0), (1.0, 1.0)]
        );
    }

    #[test]
    fn cumulative_match_counts_queries_with_a_mate_by_rank() {
        let c = cumulative_match(&[Some(1), Some(3), None, Some(2)], 3);
        assert_eq!(c, vec![(1, 0.25), (2, 0.5), (3, 0.75)]);
    }

    #[test]
    fn error_rates_at_a_threshold() {
        assert_eq!(
            error_rates(&[0.9, 0.4], &[0.5, 0.1, 0.2, 0.3], 0.45),
            (0.25, 0.5)
        );
    }

    #[test]
    fn cllr_is_one_for_uninformative_lrs_and_small_for_good_ones() {
        assert!((cllr(&[0.0], &[0.0]) - 1.0).abs() < 1e-12);
        assert!(cllr(&[3.0, 2.0], &[-3.0, -2.0]) < 0.02);
        assert!(cllr(&[-2.0], &[2.0]) > 1.0);
    }
}
