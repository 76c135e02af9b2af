//! Fine comparison of two casings by registration: find the rotation and
//! translation that best align their breech-face marks and score the
//! alignment by masked normalised cross-correlation.
//!
//! Two steps keep it fast: a coarse rotation search over all angles in
//! polar coordinates (1D FFTs), then, for the few best angles and their
//! neighbours, a translation search by 2D FFT.

mod codec;
mod fft2;
mod rotation;
mod translation;

pub use codec::{decode_canvas, encode_canvas};
use fft2::Fft2;
pub use rotation::{best_shifts, masked_ncc, ncc_by_shift, PolarSpectra};
pub use translation::{best_shift, rotate, PlanarSpectra, ShiftMatch};

use crate::preprocessing::{unwrap, PolarGrid};
use crate::surface::Surface;

/// Knobs of the fine comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareConfig {
    /// Polar grid of the coarse rotation search (angles set its step).
    pub polar: PolarGrid,
    /// How many distinct coarse rotations are refined.
    pub refine_peaks: usize,
    /// Angles tried around each coarse rotation, in degrees.
    pub refine_offsets_deg: Vec<f64>,
    /// Largest translation searched, in canvas pixels.
    pub max_shift_px: usize,
    /// Least overlap, as a fraction of the smaller valid area.
    pub min_overlap_fraction: f64,
}

impl Default for CompareConfig {
    fn default() -> Self {
        CompareConfig {
            polar: PolarGrid {
                rings: 48,
                angles: 360,
                inner_radius_px: 10.0,
                outer_radius_px: 76.0,
            },
            refine_peaks: 3,
            refine_offsets_deg: vec![-1.0, 0.0, 1.0],
            max_shift_px: 8,
            min_overlap_fraction: 0.3,
        }
    }
}

/// How `b` was brought onto `a`, and how well it fits.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Comparison {
    /// Masked NCC at the best registration, in [-1, 1]; higher = more alike.
    pub score: f64,
    /// Counter-clockwise rotation of `b` relative to `a`, degrees in [0, 360).
    pub rotation_deg: f64,
    /// Shift of `b` relative to `a` after rotation, µm (x right, y down).
    pub dx_um: f64,
    pub dy_um: f64,
    /// Overlapping valid area at that registration, as a fraction of `a`'s.
    pub overlap_fraction: f64,
}

/// One casing made ready for comparison: its canonical canvas and the
/// spectra of its polar unwrap (computed once, used against many).
#[derive(Debug, Clone)]
pub struct ComparisonInput {
    pub canvas: Surface,
    planar: PlanarSpectra,
    polar: PolarSpectra,
    polar_valid: usize,
}

/// Compares canonical canvases; holds FFT plans so they are made once.
#[derive(Debug, Clone)]
pub struct FineComparer {
    cfg: CompareConfig,
    fft: Fft2,
}

impl FineComparer {
    pub fn new(cfg: CompareConfig, canvas_px: usize) -> Self {
        // Pad so that shifts up to max_shift do not wrap data around.
        let n = canvas_px + 2 * cfg.max_shift_px;
        FineComparer {
            fft: Fft2::new(n),
            cfg,
        }
    }

    pub fn config(&self) -> &CompareConfig {
        &self.cfg
    }

    pub fn input(&self, canvas: Surface) -> ComparisonInput {
        let polar = unwrap(&canvas, &self.cfg.polar);
        let polar_valid = polar.valid.iter().filter(|v| **v).count();
        ComparisonInput {
            planar: PlanarSpectra::new(&canvas, &self.fft),
            polar: PolarSpectra::new(&polar),
            polar_valid,
            canvas,
        }
    }

    /// Register `b` onto `a` and score the alignment.
    pub fn compare(&self, a: &ComparisonInput, b: &ComparisonInput) -> Option<Comparison> {
        let frac = self.cfg.min_overlap_fraction;
        let polar_min = frac * a.polar_valid.min(b.polar_valid) as f64;
        let coarse = ncc_by_shift(&a.polar, &b.polar, polar_min);
        let step = 360.0 / self.cfg.polar.angles as f64;
        let separation = (10.0 / step).ceil() as usize;
        let peaks = best_shifts(&coarse, self.cfg.refine_peaks, separation);
        let spectra_a = &a.planar;
        let min_overlap = frac * spectra_a.valid_count.min(b.canvas.valid_count()) as f64;
        let mut best: Option<Comparison> = None;
        for (shift, _) in peaks {
            for offset in &self.cfg.refine_offsets_deg {
                let angle = (shift as f64 * step + offset).rem_euclid(360.0);
                let turned = rotate(&b.canvas, angle);
                let spectra_b = PlanarSpectra::new(&turned, &self.fft);
                let found = best_shift(spectra_a, &spectra_b, &self.fft, self.cfg.max_shift_px, min_overlap);
                if let Some(m) = found {
                    if best.is_none_or(|c| m.ncc > c.score) {
                        let um = a.canvas.um_per_px;
                        best = Some(Comparison {
                            score: m.ncc,
                            rotation_deg: angle,
                            dx_um: m.dx as f64 * um,
                            dy_um: m.dy as f64 * um,
                            overlap_fraction: m.overlap / spectra_a.valid_count.max(1) as f64,
                        });
                    }
                }
            }
        }
        best
    }
}
