//! The firing-pin impression as a mark of its own: cut out of a scan,
//! freed of the crater's shape and laid on a small canvas of fixed
//! resolution, centred on the impression, for the pin-to-pin comparison
//! (`comparison::pin`).
//!
//! The crater is tens to hundreds of µm deep; what identifies the gun is
//! the few µm of the pin tip's marks on its floor. So the disc a little
//! inside the found rim (the upper walls are steep, badly measured and
//! shaped by the primer rather than the tip) is sampled at a fixed µm per
//! pixel, a robust quartic surface (which follows a rounded crater floor
//! where a quadratic bowl does not) is subtracted, samples the robust fit
//! rejects (spikes) are dropped, and what is left of the form is removed
//! by a Gaussian high-pass, as the breech face's band-pass does.
//! Photographs are left out: their pin impression is lit, not measured,
//! and its look changes with the light more than with the gun.

use super::filter::band_pass;
use super::form::{fit_form, subtract_form, FormOrder};
use super::normalise;
use crate::surface::{Surface, SurfaceKind};

/// Version tag of the pin-mark canvas; stored with the casing's features
/// (`marks_version`), so `redescribe` knows whose marks are out of date.
/// v2 came with [`super::PIPELINE_VERSION`] v3: craters v1 missed now get
/// a mark. `redescribe` selects casings by this tag, and re-stores the
/// canvas of each one whose pipeline version differs, so bumping both
/// brings every stored casing up to date.
pub const MARKS_VERSION: &str = "pin-v2-12.5um-64";

/// Settings of the pin-mark canvas ([`MARKS_VERSION`] names them).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PinMarkConfig {
    /// Resolution of the canvas, µm per pixel: fine enough for marks of a
    /// few tens of µm, coarse enough that a canvas is a few thousand samples.
    pub um_per_px: f64,
    /// Side of the square canvas, pixels (64 at 12.5 µm: 0.8 mm).
    pub canvas_px: usize,
    /// The disc kept, as a fraction of the impression's radius.
    pub disc_fraction: f64,
    /// Wavelengths longer than this (µm) are form, not marks.
    pub long_cutoff_um: f64,
    /// Least share of the disc that must be valid.
    pub min_valid_fraction: f64,
    /// Samples this many robust sigmas off the fitted floor are spikes.
    pub outlier_sigmas: f64,
}

impl Default for PinMarkConfig {
    fn default() -> Self {
        PinMarkConfig {
            um_per_px: 12.5,
            canvas_px: 64,
            disc_fraction: 0.8,
            long_cutoff_um: 400.0,
            min_valid_fraction: 0.6,
            outlier_sigmas: 5.0,
        }
    }
}

/// The pin-mark canvas of a scan `input` (as read, native resolution)
/// whose impression `preprocessing::prepare` found at `pin_um` (centre µm
/// from the input's top-left corner, radius µm). `None` for photographs,
/// and when too little of the disc is valid or its form cannot be fitted.
/// The canvas is `canvas_px` square, the impression's centre at its
/// centre, zero mean and unit variance inside the disc, invalid outside.
pub fn extract_pin_mark(
    input: &Surface,
    pin_um: (f64, f64, f64),
    cfg: &PinMarkConfig,
) -> Option<Surface> {
    if input.kind != SurfaceKind::Topography || input.um_per_px.is_nan() || input.um_per_px <= 0.0 {
        return None;
    }
    let (cx, cy, r) = pin_um;
    let n = cfg.canvas_px;
    let half = (n as f64 - 1.0) / 2.0;
    // The disc stays inside the canvas, whatever the impression's size.
    let disc_px = (cfg.disc_fraction * r / cfg.um_per_px).min(half - 0.5);
    if disc_px < 4.0 {
        return None;
    }
    let mut canvas = sample_disc(input, (cx, cy), disc_px, cfg);
    let in_disc = canvas.valid.iter().filter(|v| **v).count();
    let disc_area = std::f64::consts::PI * disc_px * disc_px;
    if (in_disc as f64) < cfg.min_valid_fraction * disc_area {
        return None;
    }
    let form = fit_form(&canvas, FormOrder::Quartic, None)?;
    subtract_form(&mut canvas, &form);
    let limit = cfg.outlier_sigmas * form.residual_sigma;
    if limit > 0.0 {
        for (v, ok) in canvas.values.iter_mut().zip(canvas.valid.iter_mut()) {
            if *ok && f64::from(*v).abs() > limit {
                *ok = false;
                *v = 0.0;
            }
        }
    }
    band_pass(&mut canvas, 0.0, cfg.long_cutoff_um);
    normalise(&mut canvas);
    Some(canvas)
}

/// The canvas's pixels inside `disc_px` of its centre, each the mean of a
/// k × k grid of bilinear samples of `input` over the pixel's area (k the
/// ratio of the resolutions, rounded up), so a fine scan is averaged, not
/// aliased; a pixel with any invalid sample is invalid.
fn sample_disc(
    input: &Surface,
    centre_um: (f64, f64),
    disc_px: f64,
    cfg: &PinMarkConfig,
) -> Surface {
    let n = cfg.canvas_px;
    let half = (n as f64 - 1.0) / 2.0;
    let (s, u) = (cfg.um_per_px, input.um_per_px);
    let k = (s / u).ceil().max(1.0) as usize;
    let sub: Vec<f64> = (0..k)
        .map(|a| ((a as f64 + 0.5) / k as f64 - 0.5) * s)
        .collect();
    let mut out = Surface::empty(n, n, s, SurfaceKind::Topography);
    for y in 0..n {
        for x in 0..n {
            let (ox, oy) = (x as f64 - half, y as f64 - half);
            if ox.hypot(oy) > disc_px {
                continue;
            }
            let mut sum = 0.0f64;
            let mut all_valid = true;
            'pixel: for dy in &sub {
                for dx in &sub {
                    // µm from the input's corner, then its pixel centres.
                    let px = (centre_um.0 + ox * s + dx) / u - 0.5;
                    let py = (centre_um.1 + oy * s + dy) / u - 0.5;
                    match input.sample(px, py) {
                        Some(v) => sum += f64::from(v),
                        None => {
                            all_valid = false;
                            break 'pixel;
                        }
                    }
                }
            }
            if all_valid {
                let i = out.index(x, y);
                out.values[i] = (sum / (k * k) as f64) as f32;
                out.valid[i] = true;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tilted scan at 5 µm/px with a rounded crater whose floor carries
    /// a pattern, and one spike on it.
    fn crater_scan() -> (Surface, (f64, f64, f64)) {
        let n = 300;
        let mut s = Surface::empty(n, n, 5.0, SurfaceKind::Topography);
        let (cx, cy, r) = (760.0, 720.0, 500.0);
        for y in 0..n {
            for x in 0..n {
                let (ux, uy) = ((x as f64 + 0.5) * 5.0, (y as f64 + 0.5) * 5.0);
                let d = (ux - cx).hypot(uy - cy) / r;
                let mut z = 0.01 * ux - 0.02 * uy;
                if d < 1.0 {
                    z -= 150.0 * (1.0 - d * d).sqrt();
                    z += 2.0 * ((ux - cx) / 40.0).sin() * ((uy - cy) / 55.0).cos();
                }
                let i = s.index(x, y);
                s.values[i] = z as f32;
                s.valid[i] = true;
            }
        }
        let spike = s.index(150, 150);
        s.values[spike] += 300.0;
        (s, (cx, cy, r))
    }

    #[test]
    fn the_crater_floor_is_cut_levelled_and_normalised() {
        let (scan, pin) = crater_scan();
        let cfg = PinMarkConfig::default();
        let mark = extract_pin_mark(&scan, pin, &cfg).expect("a pin mark");
        assert_eq!((mark.width, mark.height), (64, 64));
        assert_eq!(mark.um_per_px, 12.5);
        // The disc is 0.8 of 500 µm = 32 px: clipped to the canvas.
        let corner = mark.index(0, 0);
        assert!(!mark.valid[corner]);
        let (mean, std) = mark.valid_mean_std();
        assert!(
            mean.abs() < 1e-4 && (std - 1.0).abs() < 1e-3,
            "{mean} {std}"
        );
        // What is left is the pattern, not the crater: it correlates with
        // the pattern sampled at the canvas's pixels.
        let half = 31.5;
        let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
        for y in 0..64 {
            for x in 0..64 {
                let i = mark.index(x, y);
                if !mark.valid[i] {
                    continue;
                }
                let (ox, oy) = ((x as f64 - half) * 12.5, (y as f64 - half) * 12.5);
                let p = (ox / 40.0).sin() * (oy / 55.0).cos();
                let m = f64::from(mark.values[i]);
                sab += p * m;
                saa += p * p;
                sbb += m * m;
            }
        }
        let ncc = sab / (saa * sbb).sqrt();
        assert!(ncc > 0.8, "pattern correlation {ncc}");
    }

    #[test]
    fn photographs_and_tiny_impressions_have_none() {
        let (mut scan, (cx, cy, _)) = crater_scan();
        let cfg = PinMarkConfig::default();
        assert!(extract_pin_mark(&scan, (cx, cy, 40.0), &cfg).is_none());
        scan.kind = SurfaceKind::Photograph;
        assert!(extract_pin_mark(&scan, (cx, cy, 500.0), &cfg).is_none());
    }
}
