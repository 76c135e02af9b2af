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

    pub fn forward(&self, data: &mut [Complex32]) {
        self.run(data, &self.forward);
    }

    /// Inverse transform, scaled by 1/n² so that it undoes `forward`.
    pub fn inverse(&self, data: &mut [Complex32]) {
        self.run(data, &self.inverse);
        let scale = 1.0 / (self.n * self.n) as f32;
        data.iter_mut().for_each(|v| *v *= scale);
    }

    fn run(&self, data: &mut [Complex32], plan: &Arc<dyn Fft<f32>>) {
        let n = self.n;
        plan.process(data);
        let mut column = vec![Complex32::default(); n];
        for x in 0..n {
            for y in 0..n {
                column[y] = data[y * n + x];
            }
            plan.process(&mut column);
            for y in 0..n {
                data[y * n + x] = column[y];
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
    use super::smooth_size;

    #[test]
    fn smooth_sizes_have_only_small_factors() {
        assert_eq!(smooth_size(176), 180);
        assert_eq!(smooth_size(88), 90);
        assert_eq!(smooth_size(64), 64);
        assert_eq!(smooth_size(0), 1);
    }
}
