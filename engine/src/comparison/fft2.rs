//! A square 2D FFT built from rustfft's 1D transforms (rows, then columns).

use std::sync::Arc;

use rustfft::num_complex::Complex32;
use rustfft::{Fft, FftPlanner};

/// Forward and inverse plans for `n` x `n` transforms.
#[derive(Clone)]
pub struct Fft2 {
    pub n: usize,
    forward: Arc<dyn Fft<f32>>,
    inverse: Arc<dyn Fft<f32>>,
}

impl std::fmt::Debug for Fft2 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fft2").field("n", &self.n).finish()
    }
}

impl Fft2 {
    pub fn new(n: usize) -> Self {
        let mut planner = FftPlanner::new();
        Fft2 {
            n,
            forward: planner.plan_fft_forward(n),
            inverse: planner.plan_fft_inverse(n),
        }
    }

    /// Forward transform, left *transposed* (frequency (kx, ky) at index
    /// kx·n + ky): rows, one transpose, rows again. Spectra are only ever
    /// multiplied element by element and transformed back, and
    /// [`Fft2::inverse`] expects this layout, so transposing back would be
    /// wasted work.
    pub fn forward(&self, data: &mut [Complex32]) {
        self.rows_then_transpose(data, &self.forward);
        self.rows(data, &self.forward);
    }

    /// Inverse of [`Fft2::forward`] (takes the transposed layout, returns the
    /// normal one), scaled by 1/n² so that it undoes it.
    pub fn inverse(&self, data: &mut [Complex32]) {
        self.rows_then_transpose(data, &self.inverse);
        self.rows(data, &self.inverse);
        let scale = 1.0 / (self.n * self.n) as f32;
        data.iter_mut().for_each(|v| *v *= scale);
    }

    fn rows(&self, data: &mut [Complex32], plan: &Arc<dyn Fft<f32>>) {
        // rustfft transforms every consecutive run of n values.
        plan.process(data);
    }

    fn rows_then_transpose(&self, data: &mut [Complex32], plan: &Arc<dyn Fft<f32>>) {
        self.rows(data, plan);
        transpose_in_place(data, self.n);
    }
}

/// Transpose a square n × n array in place, in tiles so both the rows read
/// and the rows written stay in cache.
fn transpose_in_place(data: &mut [Complex32], n: usize) {
    const TILE: usize = 16;
    for by in (0..n).step_by(TILE) {
        for bx in (by..n).step_by(TILE) {
            for y in by..(by + TILE).min(n) {
                let start = if bx == by { y + 1 } else { bx };
                for x in start..(bx + TILE).min(n) {
                    data.swap(y * n + x, x * n + y);
                }
            }
        }
    }
}

/// The smallest size ≥ `min` whose only prime factors are 2, 3 and 5.
pub fn smooth_size(min: usize) -> usize {
    (min.max(1)..)
        .find(|&n| {
            let mut m = n;
            for p in [2, 3, 5] {
                while m % p == 0 {
                    m /= p;
                }
            }
            m == 1
        })
        .expect("smooth numbers are unbounded")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_undoes_forward_and_a_correlation_peaks_at_the_shift() {
        let n = 12;
        let fft = Fft2::new(n);
        let signal: Vec<Complex32> = (0..n * n)
            .map(|i| Complex32::new(((i * 7 + i / n * 3) % 11) as f32 - 5.0, 0.0))
            .collect();
        let mut round_trip = signal.clone();
        fft.forward(&mut round_trip);
        fft.inverse(&mut round_trip);
        for (a, b) in signal.iter().zip(&round_trip) {
            assert!((a - b).norm() < 1e-3, "{a} vs {b}");
        }
        // b is a shifted by (dx, dy) = (3, 2): the correlation peaks there.
        let mut shifted = vec![Complex32::default(); n * n];
        for y in 0..n {
            for x in 0..n {
                shifted[((y + 2) % n) * n + (x + 3) % n] = signal[y * n + x];
            }
        }
        let (mut fa, mut fb) = (signal.clone(), shifted);
        fft.forward(&mut fa);
        fft.forward(&mut fb);
        let mut corr: Vec<Complex32> = fa.iter().zip(&fb).map(|(a, b)| a.conj() * b).collect();
        fft.inverse(&mut corr);
        let peak = (0..n * n)
            .max_by(|i, j| corr[*i].re.total_cmp(&corr[*j].re))
            .expect("values");
        assert_eq!((peak % n, peak / n), (3, 2));
    }

    #[test]
    fn smooth_sizes_have_only_small_factors() {
        assert_eq!(smooth_size(176), 180);
        assert_eq!(smooth_size(88), 90);
        assert_eq!(smooth_size(64), 64);
        assert_eq!(smooth_size(0), 1);
    }
}
