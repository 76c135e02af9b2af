//! Coarse rotation search in polar coordinates.
//!
//! A rotation is a circular shift along the angle axis, so the masked
//! normalised cross-correlation at every rotation comes from 1D FFTs along
//! each ring, summed over rings: O(rings · angles · log angles) instead of
//! one 2D correlation per trial angle.

use rustfft::num_complex::Complex32;
use rustfft::FftPlanner;

use crate::preprocessing::PolarImage;

/// The six ring-summed correlation spectra terms, precomputed for one side.
#[derive(Debug, Clone)]
pub struct PolarSpectra {
    rings: usize,
    angles: usize,
    /// Per ring: FFT of value, value², mask.
    value: Vec<Complex32>,
    square: Vec<Complex32>,
    mask: Vec<Complex32>,
}

impl PolarSpectra {
    pub fn new(polar: &PolarImage) -> Self {
        let (r, a) = (polar.rings, polar.angles);
        let fft = FftPlanner::<f32>::new().plan_fft_forward(a);
        let mut value = Vec::with_capacity(r * a);
        let mut square = Vec::with_capacity(r * a);
        let mut mask = Vec::with_capacity(r * a);
        for (v, ok) in polar.values.iter().zip(&polar.valid) {
            let (v, m) = if *ok { (*v, 1.0) } else { (0.0, 0.0) };
            value.push(Complex32::new(v, 0.0));
            square.push(Complex32::new(v * v, 0.0));
            mask.push(Complex32::new(m, 0.0));
        }
        for buf in [&mut value, &mut square, &mut mask] {
            for ring in buf.chunks_exact_mut(a) {
                fft.process(ring);
            }
        }
        PolarSpectra {
            rings: r,
            angles: a,
            value,
            square,
            mask,
        }
    }
}

/// Masked NCC of `b` against `a` at every circular shift `s` (b's column
/// `j + s` against a's column `j`); `None` where the overlap is below
/// `min_overlap` samples.
pub fn ncc_by_shift(a: &PolarSpectra, b: &PolarSpectra, min_overlap: f64) -> Vec<Option<f64>> {
    assert_eq!((a.rings, a.angles), (b.rings, b.angles), "polar grids differ");
    let n = a.angles;
    // Cross-spectra summed over rings: conj(X)·Y for each needed pair.
    let mut sums = vec![vec![Complex32::default(); n]; 6];
    for ring in 0..a.rings {
        let span = ring * n..(ring + 1) * n;
        let (av, aq, am) = (&a.value[span.clone()], &a.square[span.clone()], &a.mask[span.clone()]);
        let (bv, bq, bm) = (&b.value[span.clone()], &b.square[span.clone()], &b.mask[span]);
        for k in 0..n {
            sums[0][k] += av[k].conj() * bv[k]; // Σ a·b
            sums[1][k] += av[k].conj() * bm[k]; // Σ a over overlap
            sums[2][k] += am[k].conj() * bv[k]; // Σ b over overlap
            sums[3][k] += aq[k].conj() * bm[k]; // Σ a²
            sums[4][k] += am[k].conj() * bq[k]; // Σ b²
            sums[5][k] += am[k].conj() * bm[k]; // overlap count
        }
    }
    let ifft = FftPlanner::<f32>::new().plan_fft_inverse(n);
    for s in sums.iter_mut() {
        ifft.process(s);
    }
    let scale = 1.0 / n as f64;
    (0..n)
        .map(|s| {
            let get = |q: usize| f64::from(sums[q][s].re) * scale;
            masked_ncc(get(0), get(1), get(2), get(3), get(4), get(5), min_overlap)
        })
        .collect()
}

/// Pearson correlation over an overlap from its running sums.
pub fn masked_ncc(
    sab: f64,
    sa: f64,
    sb: f64,
    saa: f64,
    sbb: f64,
    count: f64,
    min_overlap: f64,
) -> Option<f64> {
    if count < min_overlap.max(2.0) {
        return None;
    }
    let cov = sab - sa * sb / count;
    let va = saa - sa * sa / count;
    let vb = sbb - sb * sb / count;
    if va <= 1e-9 || vb <= 1e-9 {
        return None;
    }
    Some((cov / (va * vb).sqrt()).clamp(-1.0, 1.0))
}

/// The `k` best shifts, at least `separation` columns apart (circularly).
pub fn best_shifts(scores: &[Option<f64>], k: usize, separation: usize) -> Vec<(usize, f64)> {
    let n = scores.len();
    let mut order: Vec<(usize, f64)> = scores
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.map(|s| (i, s)))
        .collect();
    order.sort_by(|x, y| y.1.total_cmp(&x.1));
    let mut picked: Vec<(usize, f64)> = Vec::new();
    for (i, s) in order {
        let far = picked.iter().all(|(j, _)| {
            let d = i.abs_diff(*j);
            d.min(n - d) >= separation
        });
        if far {
            picked.push((i, s));
            if picked.len() == k {
                break;
            }
        }
    }
    picked
}
