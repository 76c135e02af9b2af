//! The index workload's inputs and its baseline: seeded random unit vectors
//! and a plain dot-product scan that keeps the k best.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `n` random L2-normalised vectors of `dim` values, row after row, the
/// same for the same seed.
pub fn unit_vectors(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out: Vec<f32> = (0..n * dim).map(|_| rng.random::<f32>() - 0.5).collect();
    for v in out.chunks_exact_mut(dim) {
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
        v.iter_mut().for_each(|x| *x /= norm);
    }
    out
}

/// Score every row of `vectors` against `query`; the `k` best (row, score),
/// best first.
pub fn brute_force(vectors: &[f32], dim: usize, query: &[f32], k: usize) -> Vec<(usize, f32)> {
    let mut scored: Vec<(usize, f32)> = vectors
        .chunks_exact(dim)
        .enumerate()
        .map(|(i, v)| (i, v.iter().zip(query).map(|(a, b)| a * b).sum()))
        .collect();
    let k = k.min(scored.len());
    if k == 0 {
        return Vec::new();
    }
    scored.select_nth_unstable_by(k - 1, |a, b| b.1.total_cmp(&a.1));
    scored.truncate(k);
    scored.sort_by(|a, b| b.1.total_cmp(&a.1));
    scored
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_are_unit_length_and_repeatable() {
        let a = unit_vectors(5, 16, 3);
        assert_eq!(a, unit_vectors(5, 16, 3));
        assert_ne!(a, unit_vectors(5, 16, 4));
        for v in a.chunks_exact(16) {
            let norm: f32 = v.iter().map(|x| x * x).sum();
            assert!((norm - 1.0).abs() < 1e-5);
        }
    }

    #[test]
    fn scan_returns_the_k_best_in_order() {
        let rows = [[1.0, 0.0], [0.0, 1.0], [0.6, 0.8], [-1.0, 0.0]].concat();
        let found = brute_force(&rows, 2, &[1.0, 0.0], 3);
        assert_eq!(found.iter().map(|f| f.0).collect::<Vec<_>>(), [0, 2, 1]);
        assert_eq!(brute_force(&rows, 2, &[1.0, 0.0], 10).len(), 4);
        assert!(brute_force(&rows, 2, &[1.0, 0.0], 0).is_empty());
    }
}
