//! Translation search at a fixed rotation: masked normalised
//! cross-correlation at every small shift, by 2D FFT (Padfield's method:
//! six correlations of values, squares and masks give the NCC at every
//! shift with the overlap region taken into account).

use rustfft::num_complex::Complex32;

use super::fft2::Fft2;
use super::scoring::masked_ncc;
use crate::surface::Surface;

/// FFTs of one side's value, value² and mask, zero-padded to the plan size.
#[derive(Debug, Clone)]
pub struct PlanarSpectra {
    value: Vec<Complex32>,
    square: Vec<Complex32>,
    mask: Vec<Complex32>,
    pub valid_count: usize,
}

impl PlanarSpectra {
    pub fn new(surface: &Surface, fft: &Fft2) -> Self {
        let n = fft.n;
        let mut value = vec![Complex32::default(); n * n];
        let mut square = vec![Complex32::default(); n * n];
        let mut mask = vec![Complex32::default(); n * n];
        for y in 0..surface.height.min(n) {
            for x in 0..surface.width.min(n) {
                let i = surface.index(x, y);
                if surface.valid[i] {
                    let v = surface.values[i];
                    value[y * n + x] = Complex32::new(v, 0.0);
                    square[y * n + x] = Complex32::new(v * v, 0.0);
                    mask[y * n + x] = Complex32::new(1.0, 0.0);
                }
            }
        }
        fft.forward(&mut value);
        fft.forward(&mut square);
        fft.forward(&mut mask);
        PlanarSpectra {
            value,
            square,
            mask,
            valid_count: surface.valid_count(),
        }
    }
}

/// The best shift found: NCC, shift of `b` relative to `a` in pixels, overlap.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShiftMatch {
    pub ncc: f64,
    pub dx: i64,
    pub dy: i64,
    pub overlap: f64,
}

/// Best masked NCC of `b` against `a` over shifts `|dx|, |dy| <= max_shift`
/// (b's pixel `p + (dx, dy)` against a's pixel `p`).
pub fn best_shift(
    a: &PlanarSpectra,
    b: &PlanarSpectra,
    fft: &Fft2,
    max_shift: usize,
    min_overlap: f64,
) -> Option<ShiftMatch> {
    let n = fft.n;
    // Pack two real results into one inverse FFT: the real part carries the
    // first, the imaginary part the second (both spectra are Hermitian).
    let i = Complex32::new(0.0, 1.0);
    let pack = |x1: &[Complex32], y1: &[Complex32], x2: &[Complex32], y2: &[Complex32]| {
        let mut out: Vec<Complex32> = (0..n * n)
            .map(|k| x1[k].conj() * y1[k] + i * (x2[k].conj() * y2[k]))
            .collect();
        fft.inverse(&mut out);
        out
    };
    let ab_count = pack(&a.value, &b.value, &a.mask, &b.mask);
    let sa_sb = pack(&a.value, &b.mask, &a.mask, &b.value);
    let saa_sbb = pack(&a.square, &b.mask, &a.mask, &b.square);
    let mut best: Option<ShiftMatch> = None;
    let m = max_shift as i64;
    for dy in -m..=m {
        for dx in -m..=m {
            let k = (dy.rem_euclid(n as i64) as usize) * n + dx.rem_euclid(n as i64) as usize;
            let score = masked_ncc(
                f64::from(ab_count[k].re),
                f64::from(sa_sb[k].re),
                f64::from(sa_sb[k].im),
                f64::from(saa_sbb[k].re),
                f64::from(saa_sbb[k].im),
                f64::from(ab_count[k].im).round(),
                min_overlap,
            );
            if let Some(ncc) = score {
                if best.is_none_or(|b| ncc > b.ncc) {
                    best = Some(ShiftMatch {
                        ncc,
                        dx,
                        dy,
                        overlap: f64::from(ab_count[k].im).round(),
                    });
                }
            }
        }
    }
    best
}

/// `surface` turned clockwise by `degrees` about its centre, so that a
/// casing turned counter-clockwise by that angle comes back into place.
/// Bilinear ([`Surface::sample`]: a sample with any invalid or outside
/// neighbour is invalid).
pub fn rotate(surface: &Surface, degrees: f64) -> Surface {
    let (sin, cos) = degrees.to_radians().sin_cos();
    let (w, h) = (surface.width, surface.height);
    let mut out = Surface::empty(w, h, surface.um_per_px, surface.kind);
    let cx = (w as f64 - 1.0) / 2.0;
    let cy = (h as f64 - 1.0) / 2.0;
    for y in 0..h {
        let py = cy - y as f64;
        for x in 0..w {
            // Output point p (y up) reads the input at R(φ)·p.
            let px = x as f64 - cx;
            let (qx, qy) = (cos * px - sin * py, sin * px + cos * py);
            if let Some(v) = surface.sample(cx + qx, cy - qy) {
                let i = y * w + x;
                out.values[i] = v;
                out.valid[i] = true;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::surface::SurfaceKind;

    #[test]
    fn the_rotation_samples_the_source_at_the_turned_position() {
        let mut s = Surface::empty(37, 29, 25.0, SurfaceKind::Topography);
        for y in 0..29 {
            for x in 0..37 {
                let i = s.index(x, y);
                s.values[i] = ((x * 7 + y * 13) % 17) as f32;
                s.valid[i] = (x + 2 * y) % 11 != 0;
            }
        }
        for degrees in [0.0, 17.5, 90.0, 203.0, -41.0] {
            let turned = rotate(&s, degrees);
            let (sin, cos) = f64::to_radians(degrees).sin_cos();
            let (cx, cy) = (18.0, 14.0);
            for y in 0..29 {
                for x in 0..37 {
                    let (px, py) = (x as f64 - cx, cy - y as f64);
                    let want = s.sample(cx + cos * px - sin * py, cy - (sin * px + cos * py));
                    let i = turned.index(x, y);
                    let got = turned.valid[i].then_some(turned.values[i]);
                    match (want, got) {
                        (Some(a), Some(b)) => {
                            assert!((a - b).abs() < 1e-3, "{degrees}° at {x},{y}: {a} vs {b}")
                        }
                        (a, b) => assert_eq!(a, b, "{degrees}° at {x},{y}"),
                    }
                }
            }
        }
    }
}
