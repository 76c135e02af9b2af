//! Rotation from power spectra (the Fourier–Mellin idea): a surface's
//! power spectrum does not change when the surface shifts, and turns with
//! it when it turns. Comparing two casings' spectra in polar coordinates
//! therefore estimates their relative rotation without knowing their
//! relative shift, on the medium canvases whose marks the coarse sweep
//! has averaged away.
//!
//! The spectrum of a real surface is point-symmetric, so it fixes the
//! rotation only modulo 180°: each estimate is tried both ways round by
//! the caller. It complements the coarse sweep rather than replacing it: a
//! surface with little directional structure has a nearly round spectrum
//! and no clear angle.

use std::sync::{Arc, OnceLock};

use rustfft::num_complex::Complex32;
use rustfft::{Fft, FftPlanner};

use super::fft2::Fft2;
use crate::surface::Surface;

/// Angular bins over half a turn (1° each).
pub const ANGLE_BINS: usize = 180;

/// A casing's power spectrum in polar coordinates over a band of
/// wavelengths: `rings` × [`ANGLE_BINS`], log power with each ring's mean
/// removed and scaled to unit energy, so every ring counts alike. Kept as
/// each ring's Fourier transform along the angle, so that correlating two
/// at every turn costs one product per ring and bin and one inverse FFT.
#[derive(Debug, Clone)]
pub struct PolarSpectrum {
    rings: usize,
    angular: Vec<Complex32>,
}

impl PolarSpectrum {
    /// Wavelengths between `min_wavelength_um` and `max_wavelength_um`
    /// (within what the canvas's pixel size and side can hold).
    pub fn new(
        surface: &Surface,
        fft: &Fft2,
        min_wavelength_um: f64,
        max_wavelength_um: f64,
    ) -> Self {
        let n = fft.n;
        let mut data = vec![Complex32::default(); n * n];
        let (mean, _) = surface.valid_mean_std();
        for y in 0..surface.height.min(n) {
            for x in 0..surface.width.min(n) {
                let i = surface.index(x, y);
                if surface.valid[i] {
                    data[y * n + x] = Complex32::new(surface.values[i] - mean as f32, 0.0);
                }
            }
        }
        fft.forward(&mut data);
        let power: Vec<f32> = data.iter().map(|c| (1.0 + c.norm_sqr()).ln()).collect();
        // Frequency index k (cycles per n pixels) has wavelength n·um/k.
        let span = n as f64 * surface.um_per_px;
        let k_min = (span / max_wavelength_um).max(2.0);
        let k_max = (span / min_wavelength_um).min(n as f64 / 2.0 - 1.0);
        let rings = (k_max - k_min).floor().max(0.0) as usize;
        let mut values = vec![0.0_f32; rings * ANGLE_BINS];
        for r in 0..rings {
            let k = k_min + r as f64 + 0.5;
            let row = &mut values[r * ANGLE_BINS..(r + 1) * ANGLE_BINS];
            for (t, v) in row.iter_mut().enumerate() {
                // Angle of the wave vector, counter-clockwise with y up.
                let theta = (t as f64 + 0.5).to_radians();
                let (fx, fy) = (k * theta.cos(), -k * theta.sin());
                // The forward transform leaves the spectrum transposed
                // (index kx·n + ky), hence the swapped coordinates.
                *v = sample_periodic(&power, n, fy, fx);
            }
            let m = row.iter().sum::<f32>() / ANGLE_BINS as f32;
            row.iter_mut().for_each(|v| *v -= m);
            let energy = row.iter().map(|v| v * v).sum::<f32>().sqrt();
            if energy > 0.0 {
                row.iter_mut().for_each(|v| *v /= energy);
            }
        }
        let mut angular: Vec<Complex32> = values.iter().map(|v| Complex32::new(*v, 0.0)).collect();
        if rings > 0 {
            plans().0.process(&mut angular);
        }
        PolarSpectrum { rings, angular }
    }

    /// The correlation of the two spectra for each turn of `b` relative to
    /// `a`, index = degrees clockwise that bring `b` back onto `a` (the
    /// convention of [`super::rotate`]), over [0, 180); `None` when either
    /// has no rings.
    pub fn scores(&self, b: &PolarSpectrum) -> Option<Vec<f64>> {
        let rings = self.rings.min(b.rings);
        if rings == 0 {
            return None;
        }
        // Circular cross-correlation along the angle, summed over rings:
        // score(φ) = Σ_r Σ_t a_r(t)·b_r(t + φ), by the correlation theorem.
        let mut sum = vec![Complex32::default(); ANGLE_BINS];
        for r in 0..rings {
            let ra = &self.angular[r * ANGLE_BINS..(r + 1) * ANGLE_BINS];
            let rb = &b.angular[r * ANGLE_BINS..(r + 1) * ANGLE_BINS];
            for ((s, x), y) in sum.iter_mut().zip(ra).zip(rb) {
                *s += x.conj() * y;
            }
        }
        plans().1.process(&mut sum);
        let scale = 1.0 / (ANGLE_BINS * rings) as f64;
        let scores = sum.iter().map(|c| f64::from(c.re) * scale).collect();
        Some(scores)
    }
}

/// A plan for transforms along the angle.
type AnglePlan = Arc<dyn Fft<f32>>;

/// Forward and inverse plans along the angle, made once per process.
fn plans() -> &'static (AnglePlan, AnglePlan) {
    static PLANS: OnceLock<(AnglePlan, AnglePlan)> = OnceLock::new();
    PLANS.get_or_init(|| {
        let mut planner = FftPlanner::new();
        (
            planner.plan_fft_forward(ANGLE_BINS),
            planner.plan_fft_inverse(ANGLE_BINS),
        )
    })
}

/// Bilinear read of a periodic n × n array at frequency (fx, fy), which
/// may be negative (it wraps, as FFT indices do).
fn sample_periodic(power: &[f32], n: usize, fx: f64, fy: f64) -> f32 {
    let (x0, y0) = (fx.floor(), fy.floor());
    let (tx, ty) = ((fx - x0) as f32, (fy - y0) as f32);
    let at = |x: f64, y: f64| {
        let xi = (x as i64).rem_euclid(n as i64) as usize;
        let yi = (y as i64).rem_euclid(n as i64) as usize;
        power[yi * n + xi]
    };
    let top = at(x0, y0) * (1.0 - tx) + at(x0 + 1.0, y0) * tx;
    let bottom = at(x0, y0 + 1.0) * (1.0 - tx) + at(x0 + 1.0, y0 + 1.0) * tx;
    top * (1.0 - ty) + bottom * ty
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::comparison::rotate;
    use crate::surface::SurfaceKind;

    /// Directional marks plus a little isotropic texture, in a disc.
    fn marks(n: usize) -> Surface {
        let mut s = Surface::empty(n, n, 50.0, SurfaceKind::Topography);
        let c = (n as f64 - 1.0) / 2.0;
        for y in 0..n {
            for x in 0..n {
                let (fx, fy) = (x as f64, y as f64);
                if (fx - c).hypot(fy - c) < c - 2.0 {
                    let i = s.index(x, y);
                    s.values[i] = ((fx * 0.9 + fy * 0.35).sin()
                        + 0.6 * (fx * 0.2 - fy * 0.7).sin()
                        + 0.3 * (fx * 1.3 + fy * 1.1).cos())
                        as f32;
                    s.valid[i] = true;
                }
            }
        }
        s
    }

    #[test]
    fn the_spectra_give_the_turn_modulo_half_a_turn_whatever_the_shift() {
        let fft = Fft2::new(90);
        let a = marks(80);
        // b is a turned counter-clockwise by 40° and shifted: rotate(b, 40)
        // brings it back.
        let turned = rotate(&a, -40.0);
        let mut b = Surface::empty(80, 80, 50.0, SurfaceKind::Topography);
        for y in 0..77 {
            for x in 0..78 {
                let (i, j) = (turned.index(x, y), b.index(x + 2, y + 3));
                b.values[j] = turned.values[i];
                b.valid[j] = turned.valid[i];
            }
        }
        let (pa, pb) = (
            PolarSpectrum::new(&a, &fft, 100.0, 1_000.0),
            PolarSpectrum::new(&b, &fft, 100.0, 1_000.0),
        );
        let scores = pa.scores(&pb).expect("rings");
        let best = (0..ANGLE_BINS)
            .max_by(|x, y| scores[*x].total_cmp(&scores[*y]))
            .expect("angles");
        assert!(best.abs_diff(40) <= 1, "best {best}°");
    }
}
