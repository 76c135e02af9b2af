//! Fine comparison of two casings by registration: find the rotation and
//! translation that best align their breech-face marks and score the
//! alignment by masked normalised cross-correlation.
//!
//! Two steps keep it fast: a sweep over every rotation on a coarse copy of
//! both canvases (4x fewer pixels a side, so each trial is a small 2D FFT),
//! then, for the few best rotations, a search around them at full
//! resolution. The sweep works on the planar surfaces rather than a polar
//! unwrap because casings are never centred to the pixel: a polar search
//! assumes a shared centre and misses mates whose centres differ by a few
//! tens of µm (the Weller scans do, by up to ~100 µm).

mod cells;
mod codec;
mod fft2;
mod scoring;
mod translation;

pub use cells::{analyse_cells, CellAnalysis, CellConfig, CellResult};
pub use codec::{decode_canvas, encode_canvas};
use fft2::Fft2;
pub use scoring::{best_shifts, masked_ncc};
pub use translation::{best_shift, rotate, PlanarSpectra, ShiftMatch};

use crate::preprocessing::resample;
use crate::surface::Surface;

/// Knobs of the fine comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareConfig {
    /// How much coarser the rotation sweep's canvas is (per side).
    pub coarse_factor: usize,
    /// Step of the rotation sweep, degrees.
    pub coarse_step_deg: f64,
    /// How many distinct coarse rotations are refined.
    pub refine_peaks: usize,
    /// Angles tried around each coarse rotation, in degrees.
    pub refine_offsets_deg: Vec<f64>,
    /// Largest translation searched, in full-resolution canvas pixels.
    pub max_shift_px: usize,
    /// Least overlap, as a fraction of the smaller valid area.
    pub min_overlap_fraction: f64,
    /// The congruent-matching-cells stage run at the consensus registration.
    pub cells: CellConfig,
}

impl Default for CompareConfig {
    fn default() -> Self {
        CompareConfig {
            coarse_factor: 4,
            coarse_step_deg: 2.0,
            refine_peaks: 3,
            refine_offsets_deg: vec![-1.0, 0.0, 1.0],
            max_shift_px: 8,
            min_overlap_fraction: 0.3,
            cells: CellConfig::default(),
        }
    }
}

/// How `b` was brought onto `a`, and how well it fits.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Comparison {
    /// The final score: the mean of the whole-surface correlation (floored
    /// at 0) and the cell score, in [0, 1]; higher = more alike.
    pub score: f64,
    /// Masked NCC of the whole surface at the consensus registration.
    pub registration_ncc: f64,
    /// Counter-clockwise rotation of `b` relative to `a`, degrees in [0, 360).
    pub rotation_deg: f64,
    /// Shift of `b` relative to `a` after rotation, µm (x right, y down).
    pub dx_um: f64,
    pub dy_um: f64,
    /// Overlapping valid area at that registration, as a fraction of `a`'s.
    pub overlap_fraction: f64,
    /// `a`'s cells registered one by one around the consensus.
    pub cells: CellAnalysis,
}

/// The whole-surface registration found by the search, before the cells.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Registration {
    ncc: f64,
    rotation_deg: f64,
    dx: i64,
    dy: i64,
    overlap_fraction: f64,
}

/// One casing made ready for comparison: its canonical canvas, a coarse
/// copy, and the spectra of both (computed once, used against many).
#[derive(Debug, Clone)]
pub struct ComparisonInput {
    pub canvas: Surface,
    planar: PlanarSpectra,
    coarse: Surface,
    coarse_planar: PlanarSpectra,
}

/// Compares canonical canvases; holds FFT plans so they are made once.
#[derive(Debug, Clone)]
pub struct FineComparer {
    cfg: CompareConfig,
    fft: Fft2,
    coarse_fft: Fft2,
}

impl FineComparer {
    pub fn new(cfg: CompareConfig, canvas_px: usize) -> Self {
        // Pad so that shifts up to max_shift do not wrap data around.
        let n = canvas_px + 2 * cfg.max_shift_px;
        let coarse_n = canvas_px / cfg.coarse_factor + 2 * cfg.coarse_shift_px();
        FineComparer {
            fft: Fft2::new(n),
            coarse_fft: Fft2::new(coarse_n),
            cfg,
        }
    }

    pub fn config(&self) -> &CompareConfig {
        &self.cfg
    }

    pub fn input(&self, canvas: Surface) -> ComparisonInput {
        let coarse = resample(&canvas, canvas.um_per_px * self.cfg.coarse_factor as f64);
        ComparisonInput {
            planar: PlanarSpectra::new(&canvas, &self.fft),
            coarse_planar: PlanarSpectra::new(&coarse, &self.coarse_fft),
            coarse,
            canvas,
        }
    }

    /// Register `b` onto `a` and score the alignment.
    pub fn compare(&self, a: &ComparisonInput, b: &ComparisonInput) -> Option<Comparison> {
        let step = self.cfg.coarse_step_deg;
        let trials = (360.0 / step).round() as usize;
        let frac = self.cfg.min_overlap_fraction;
        let coarse_min = frac * a.coarse_planar.valid_count.min(b.coarse.valid_count()) as f64;
        let sweep: Vec<Option<f64>> = (0..trials)
            .map(|i| {
                let turned = rotate(&b.coarse, i as f64 * step);
                let spectra = PlanarSpectra::new(&turned, &self.coarse_fft);
                best_shift(
                    &a.coarse_planar,
                    &spectra,
                    &self.coarse_fft,
                    self.cfg.coarse_shift_px(),
                    coarse_min,
                )
                .map(|m| m.ncc)
            })
            .collect();
        // Distinct peaks: at least 10 degrees apart.
        let separation = (10.0 / step).ceil() as usize;
        let angles = best_shifts(&sweep, self.cfg.refine_peaks, separation)
            .into_iter()
            .flat_map(|(i, _)| {
                self.cfg
                    .refine_offsets_deg
                    .iter()
                    .map(move |o| i as f64 * step + o)
            });
        self.best_of(a, b, angles)
    }

    /// Registration by trying every rotation `step_deg` apart at full
    /// resolution: slow, the reference the coarse sweep is checked against.
    pub fn compare_exhaustive(
        &self,
        a: &ComparisonInput,
        b: &ComparisonInput,
        step_deg: f64,
    ) -> Option<Comparison> {
        let trials = (360.0 / step_deg).round() as usize;
        self.best_of(a, b, (0..trials).map(|i| i as f64 * step_deg))
    }

    /// The best full-resolution registration among the given rotations,
    /// then the cells of `a` registered around it.
    fn best_of(
        &self,
        a: &ComparisonInput,
        b: &ComparisonInput,
        angles: impl Iterator<Item = f64>,
    ) -> Option<Comparison> {
        let min_overlap =
            self.cfg.min_overlap_fraction * a.planar.valid_count.min(b.canvas.valid_count()) as f64;
        let mut best: Option<Registration> = None;
        for angle in angles {
            let angle = angle.rem_euclid(360.0);
            let turned = rotate(&b.canvas, angle);
            let spectra_b = PlanarSpectra::new(&turned, &self.fft);
            let Some(m) = best_shift(
                &a.planar,
                &spectra_b,
                &self.fft,
                self.cfg.max_shift_px,
                min_overlap,
            ) else {
                continue;
            };
            if best.is_none_or(|c| m.ncc > c.ncc) {
                best = Some(Registration {
                    ncc: m.ncc,
                    rotation_deg: angle,
                    dx: m.dx,
                    dy: m.dy,
                    overlap_fraction: m.overlap / a.planar.valid_count.max(1) as f64,
                });
            }
        }
        best.map(|r| self.with_cells(a, b, r))
    }

    /// Score the consensus registration with the congruent matching cells.
    fn with_cells(&self, a: &ComparisonInput, b: &ComparisonInput, r: Registration) -> Comparison {
        let cells = analyse_cells(
            &a.canvas,
            &b.canvas,
            r.rotation_deg,
            r.dx,
            r.dy,
            &self.cfg.cells,
        );
        let um = a.canvas.um_per_px;
        Comparison {
            score: combined_score(r.ncc, &cells),
            registration_ncc: r.ncc,
            rotation_deg: r.rotation_deg,
            dx_um: r.dx as f64 * um,
            dy_um: r.dy as f64 * um,
            overlap_fraction: r.overlap_fraction,
            cells,
        }
    }
}

/// The final score: the whole surface's correlation says how alike the two
/// are where they overlap, the cell score how much of the surface agrees
/// locally with one registration. Equal weights: neither is known to be
/// the better witness, and each caps what the other can claim.
pub fn combined_score(registration_ncc: f64, cells: &CellAnalysis) -> f64 {
    0.5 * registration_ncc.max(0.0) + 0.5 * cells.cell_score
}

impl CompareConfig {
    /// The translation range on the coarse canvas (rounded up, so the
    /// sweep never searches less than the refinement).
    fn coarse_shift_px(&self) -> usize {
        self.max_shift_px.div_ceil(self.coarse_factor.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocessing::{prepare, PreprocessConfig};
    use crate::synth::{fire, make_gun, SynthConfig};

    fn inputs(comparer: &FineComparer) -> Vec<ComparisonInput> {
        let cfg = SynthConfig {
            um_per_px: 12.5,
            ..SynthConfig::default()
        };
        let pre = PreprocessConfig::default();
        let (gun_a, gun_b) = (make_gun(1, None, &cfg), make_gun(2, None, &cfg));
        [(&gun_a, 10), (&gun_a, 11), (&gun_b, 12)]
            .into_iter()
            .map(|(gun, seed)| {
                let fired = fire(gun, seed, &cfg);
                comparer.input(
                    prepare(&fired, "synthetic", &pre)
                        .expect("prepares")
                        .surface,
                )
            })
            .collect()
    }

    #[test]
    fn the_sweep_finds_what_trying_every_angle_finds_and_mates_outscore_others() {
        let comparer = FineComparer::new(
            CompareConfig::default(),
            PreprocessConfig::default().canvas_px,
        );
        let c = inputs(&comparer);
        let fast = comparer.compare(&c[0], &c[1]).expect("mates overlap");
        let reference = comparer
            .compare_exhaustive(&c[0], &c[1], 1.0)
            .expect("mates overlap");
        assert!(
            fast.registration_ncc >= reference.registration_ncc - 0.02,
            "{fast:?} vs {reference:?}"
        );
        let other = comparer.compare(&c[0], &c[2]).expect("casings overlap");
        assert!(
            fast.score > other.score + 0.1,
            "mate {fast:?}, other gun {other:?}"
        );
        // The mate's cells agree with its registration; the other gun's do not.
        assert!(
            fast.cells.congruent_cells > 2 * other.cells.congruent_cells.max(1),
            "mate {:?}, other gun {:?}",
            fast.cells,
            other.cells
        );
    }

    #[test]
    fn a_turned_copy_is_found_at_its_angle() {
        let comparer = FineComparer::new(
            CompareConfig::default(),
            PreprocessConfig::default().canvas_px,
        );
        let c = inputs(&comparer);
        let turned = comparer.input(rotate(&c[0].canvas, 37.0));
        let found = comparer.compare(&c[0], &turned).expect("overlaps");
        // Turning the copy back by 360-37 degrees brings it into place.
        let error = (found.rotation_deg - (360.0 - 37.0)).abs();
        assert!(error <= 1.0, "{found:?}");
        assert!(found.score > 0.9, "{found:?}");
    }
}
