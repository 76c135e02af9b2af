//! Fine comparison of two casings by registration: find the rotation and
//! translation that best align their breech-face marks and score the
//! alignment by masked normalised cross-correlation.
//!
//! Three resolutions keep it fast. A sweep over every rotation on coarse
//! copies of both canvases (4x fewer pixels a side, correlated directly in
//! space against the query's turned copies, which are made once per query)
//! ranks the rotations; the best few are registered by masked NCC on
//! medium copies (2x fewer a side) and climbed to half a degree there; the
//! full-resolution canvases are registered once, at that angle. The sweep
//! works on the planar surfaces rather than a polar unwrap because casings
//! are never centred to the pixel: a polar search assumes a shared centre
//! and misses mates whose centres differ by a few tens of µm (the Weller
//! scans do, by up to ~100 µm).

mod cells;
mod codec;
mod fft2;
mod marks;
mod pin;
mod render;
mod ring_angle;
mod score_fit;
mod score_model;
mod scoring;
mod spectrum_angle;
mod sweep;
mod translation;

use std::sync::{Arc, OnceLock};

pub use cells::{analyse_cells, cells_possible, CellAnalysis, CellConfig, CellResult};
pub use codec::{
    canvas_codec, decode_canvas, encode_canvas, encode_canvas_v1, CANVAS_CODEC, CANVAS_CODEC_V1,
};
use fft2::Fft2;
pub use marks::{MarkScores, PinLogOdds, PIN_LOG_ODDS};
pub use pin::{PinQuery, PinUnwrap, PIN_BINS, PIN_CENTRE_REACH_PX};
pub use render::{
    hillshade, hillshade_png, quantise, registered_onto, QuantisedHeights, NO_DATA, TOP_CODE,
};
use ring_angle::{RingQuery, RingUnwrap, RING_BINS};
pub use score_fit::{auc_of, fit_score_model, LabelledPair, PairSet};
pub use score_model::{features, FittedSet, ScoreModel, FEATURES, FEATURE_NAMES};
pub use scoring::{best_shifts, masked_ncc};
use spectrum_angle::PolarSpectrum;
use sweep::{SweepStack, SweepTarget};
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
    /// The sweep's shift window, coarse pixels each way. Narrower than the
    /// registration's: the sweep's cost grows with its square, and the
    /// power spectra, blind to shift, propose the angle for larger ones.
    pub sweep_shift_px: usize,
    /// How many distinct coarse rotations are refined.
    pub refine_peaks: usize,
    /// How many rotations from the power spectra are refined (each both
    /// ways round, since a spectrum fixes the angle modulo 180°).
    pub spectrum_peaks: usize,
    /// The band of wavelengths whose power spectra estimate the rotation,
    /// µm.
    pub spectrum_band_um: (f64, f64),
    /// How many rotations from the medium canvases unwrapped about their
    /// centres are refined (the witness for thin rings of breech face),
    /// and the query's centres tried: up to `ring_centre_reach_px` medium
    /// pixels from its own, `ring_centre_step_px` apart.
    pub ring_peaks: usize,
    pub ring_centre_reach_px: i32,
    pub ring_centre_step_px: i32,
    /// How much coarser the angle refinement's canvas is (per side).
    pub medium_factor: usize,
    /// Steps of the angle refinement's hill climb, degrees, coarsest first.
    pub refine_steps_deg: Vec<f64>,
    /// Largest translation searched, in full-resolution canvas pixels
    /// (16 px = 400 µm: centres fitted to the valid region's rim differ
    /// by up to ~300 µm between mates in the Weller scans).
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
            sweep_shift_px: 2,
            refine_peaks: 3,
            spectrum_peaks: 2,
            spectrum_band_um: (100.0, 500.0),
            ring_peaks: 2,
            ring_centre_reach_px: 2,
            ring_centre_step_px: 2,
            medium_factor: 2,
            refine_steps_deg: vec![1.0, 0.5],
            max_shift_px: 16,
            min_overlap_fraction: 0.3,
            cells: CellConfig::default(),
        }
    }
}

/// How `b` was brought onto `a`, and how well it fits.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Comparison {
    /// The final score, in [0, 1]; higher = more alike: the learned
    /// model's ([`ScoreModel`]) when the comparer has one, else
    /// `legacy_score`.
    pub score: f64,
    /// The hand-weighted score: the mean of the whole-surface correlation
    /// (floored at 0) and the cell score.
    pub legacy_score: f64,
    /// What the model reads ([`FEATURE_NAMES`]).
    pub features: [f64; FEATURES],
    /// Masked NCC of the whole surface at the consensus registration.
    pub registration_ncc: f64,
    /// Counter-clockwise rotation of `b` relative to `a`, degrees in [0, 360).
    pub rotation_deg: f64,
    /// Shift of `b` relative to `a` after rotation, µm (x right, y down).
    pub dx_um: f64,
    pub dy_um: f64,
    /// Overlapping valid area at that registration, as a fraction of `a`'s.
    pub overlap_fraction: f64,
    /// How much breech face the poorer of the two casings has: its
    /// [`cells_possible`] (what a calibration's coverage is checked on).
    pub cells_possible: usize,
    /// `a`'s cells registered one by one around the consensus.
    pub cells: CellAnalysis,
    /// `b`'s cells registered one by one onto `a` around the inverse of
    /// the consensus: the other direction, which the learned score
    /// averages with the first.
    #[serde(default)]
    pub reverse_cells: CellAnalysis,
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

/// One casing made ready for comparison: its canonical canvas, the coarser
/// copies the sweep and the angle refinement read, and the coarse copy
/// laid out for the sweep. What only the query side needs (its spectra and
/// its turned coarse copies) is made the first time the input is compared
/// as the query, then reused for every candidate.
#[derive(Debug)]
pub struct ComparisonInput {
    pub canvas: Surface,
    medium: Surface,
    coarse: Surface,
    sweep_target: SweepTarget,
    spectrum: PolarSpectrum,
    rings: RingUnwrap,
    as_query: OnceLock<QuerySide>,
}

/// The query side's precomputed parts.
#[derive(Debug)]
struct QuerySide {
    planar: PlanarSpectra,
    medium_planar: PlanarSpectra,
    sweep: SweepStack,
    rings: RingQuery,
}

/// One resolution at which a masked-NCC registration runs.
#[derive(Debug, Clone)]
struct Level {
    fft: Fft2,
    max_shift_px: usize,
}

impl Level {
    /// Padded so that shifts up to `max_shift_px` do not wrap data around,
    /// then rounded up to a size whose only factors are 2, 3 and 5 (FFTs of
    /// such sizes are several times faster than of sizes with a factor 11).
    fn new(canvas_px: usize, max_shift_px: usize) -> Self {
        Level {
            fft: Fft2::new(fft2::smooth_size(canvas_px + 2 * max_shift_px)),
            max_shift_px,
        }
    }
}

/// Compares canonical canvases; holds FFT plans so they are made once.
#[derive(Debug, Clone)]
pub struct FineComparer {
    cfg: CompareConfig,
    full: Level,
    medium: Level,
    score_model: Option<Arc<ScoreModel>>,
}

impl FineComparer {
    pub fn new(cfg: CompareConfig, canvas_px: usize) -> Self {
        let factor = cfg.medium_factor.max(1);
        FineComparer {
            full: Level::new(canvas_px, cfg.max_shift_px),
            medium: Level::new(canvas_px / factor, cfg.max_shift_px.div_ceil(factor)),
            cfg,
            score_model: None,
        }
    }

    /// Score with a learned model instead of the hand weights.
    pub fn with_score_model(mut self, model: Option<Arc<ScoreModel>>) -> Self {
        self.score_model = model;
        self
    }

    pub fn score_model(&self) -> Option<&ScoreModel> {
        self.score_model.as_deref()
    }

    pub fn config(&self) -> &CompareConfig {
        &self.cfg
    }

    pub fn input(&self, canvas: Surface) -> ComparisonInput {
        let um = canvas.um_per_px;
        let coarse = resample(&canvas, um * self.cfg.coarse_factor as f64);
        let medium = resample(&canvas, um * self.cfg.medium_factor.max(1) as f64);
        let (short, long) = self.cfg.spectrum_band_um;
        ComparisonInput {
            spectrum: PolarSpectrum::new(&medium, &self.medium.fft, short, long),
            rings: RingUnwrap::new(&medium, 0.0, 0.0),
            medium,
            sweep_target: SweepTarget::new(&coarse, self.cfg.sweep_shift_px),
            coarse,
            canvas,
            as_query: OnceLock::new(),
        }
    }

    fn query_side<'a>(&self, a: &'a ComparisonInput) -> &'a QuerySide {
        a.as_query.get_or_init(|| QuerySide {
            planar: PlanarSpectra::new(&a.canvas, &self.full.fft),
            medium_planar: PlanarSpectra::new(&a.medium, &self.medium.fft),
            sweep: SweepStack::new(&a.coarse, self.cfg.coarse_step_deg),
            rings: RingQuery::new(
                &a.medium,
                self.cfg.ring_centre_reach_px,
                self.cfg.ring_centre_step_px,
            ),
        })
    }

    /// Register `b` onto `a` and score the alignment, coarse to fine. Two
    /// witnesses propose rotations: the sweep over every rotation on the
    /// coarse canvases (rotation and shift together, but blind to marks
    /// finer than its 100 µm pixels) and the medium canvases' power spectra
    /// (blind to shift, so centring errors cost nothing, but only modulo
    /// 180°). Each proposal is registered on the medium canvases and the
    /// best climbed to the finest angle step there; the full-resolution
    /// canvases are then registered once, at that angle, and their cells
    /// analysed.
    pub fn compare(&self, a: &ComparisonInput, b: &ComparisonInput) -> Option<Comparison> {
        let query = self.query_side(a);
        let sweep = query.sweep.scores(&b.sweep_target);
        let step = query.sweep.step_deg();
        // Distinct peaks: at least 10 degrees apart.
        let separation = (10.0 / step).ceil() as usize;
        let mut proposals: Vec<f64> = best_shifts(&sweep, self.cfg.refine_peaks, separation)
            .into_iter()
            .map(|(i, _)| i as f64 * step)
            .collect();
        // The witnesses often agree: register each angle once.
        let add = |proposals: &mut Vec<f64>, angle: f64| {
            let apart = |p: &f64| {
                let d = (angle - p).rem_euclid(360.0);
                d.min(360.0 - d) >= step
            };
            if proposals.iter().all(apart) {
                proposals.push(angle);
            }
        };
        if let Some(spectral) = a.spectrum.scores(&b.spectrum) {
            let spectral: Vec<Option<f64>> = spectral.into_iter().map(Some).collect();
            for (deg, _) in best_shifts(&spectral, self.cfg.spectrum_peaks, 10) {
                for angle in [deg as f64, deg as f64 + 180.0] {
                    add(&mut proposals, angle);
                }
            }
        }
        if self.cfg.ring_peaks > 0 {
            let bin_deg = 360.0 / RING_BINS as f64;
            // Polar samples are not pixels (inner rings are oversampled):
            // a loose floor that only keeps slivers from proposing.
            let min_overlap = 0.1 * b.medium.valid_count() as f64;
            let ring = query.rings.scores(&b.rings, min_overlap);
            let separation = (10.0 / bin_deg).ceil() as usize;
            for (bin, _) in best_shifts(&ring, self.cfg.ring_peaks, separation) {
                add(&mut proposals, bin as f64 * bin_deg);
            }
        }
        let medium = |angle: f64| {
            register(
                &query.medium_planar,
                &b.medium,
                &self.medium,
                angle,
                self.cfg.min_overlap_fraction,
            )
        };
        let mut best = proposals
            .into_iter()
            .filter_map(medium)
            .max_by(|x, y| x.ncc.total_cmp(&y.ncc))?;
        // The sweep's grid steps over the true angle by up to half a step:
        // climb towards it, each step size until neither side improves.
        for &climb in &self.cfg.refine_steps_deg {
            for _ in 0..4 {
                let Some(better) = [best.rotation_deg - climb, best.rotation_deg + climb]
                    .into_iter()
                    .filter_map(medium)
                    .filter(|r| r.ncc > best.ncc)
                    .max_by(|x, y| x.ncc.total_cmp(&y.ncc))
                else {
                    break;
                };
                best = better;
            }
        }
        self.best_of(a, b, std::iter::once(best.rotation_deg))
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
        let planar = &self.query_side(a).planar;
        let frac = self.cfg.min_overlap_fraction;
        angles
            .filter_map(|angle| register(planar, &b.canvas, &self.full, angle, frac))
            .max_by(|x, y| x.ncc.total_cmp(&y.ncc))
            .map(|r| self.with_cells(a, b, r))
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
        // The other direction: `b`'s cells against `a` at the inverse of the
        // consensus. Different cells (b's grid, b's surface) registered at
        // the same alignment: on a thin ring, where each direction has only
        // a dozen or two cells, the two halve the chance scatter of what the
        // cells say (ACES scores both directions and averages them).
        let (back_deg, back_dx, back_dy) = inverse_registration(r.rotation_deg, r.dx, r.dy);
        let reverse_cells = analyse_cells(
            &b.canvas,
            &a.canvas,
            back_deg,
            back_dx,
            back_dy,
            &self.cfg.cells,
        );
        let um = a.canvas.um_per_px;
        let legacy_score = combined_score(r.ncc, &cells);
        let features = features(r.ncc, &cells, &reverse_cells);
        Comparison {
            score: self
                .score_model
                .as_ref()
                .map_or(legacy_score, |m| m.score(&features)),
            legacy_score,
            features,
            registration_ncc: r.ncc,
            rotation_deg: r.rotation_deg,
            dx_um: r.dx as f64 * um,
            dy_um: r.dy as f64 * um,
            overlap_fraction: r.overlap_fraction,
            cells_possible: cells_possible(&a.canvas, &self.cfg.cells)
                .min(cells_possible(&b.canvas, &self.cfg.cells)),
            cells,
            reverse_cells,
        }
    }
}

/// The registration of `a` onto `b` implied by that of `b` onto `a`: `b`
/// turned by `rotation_deg` about the canvas centre and read at `p + (dx,
/// dy)` against `a`'s pixel `p`. With R the turn (y up, as [`rotate`]
/// samples), a(p) = b(R(p + d)); so b(s) = a(R⁻¹s − d) = a(R⁻¹(s + d′))
/// with d′ = −R·d: `a` turned by −rotation, shifted by −R·d (rounded to
/// whole pixels; the cells' window absorbs the half pixel).
fn inverse_registration(rotation_deg: f64, dx: i64, dy: i64) -> (f64, i64, i64) {
    let (sin, cos) = rotation_deg.to_radians().sin_cos();
    // Pixel shifts are y down; the turn is y up.
    let (ux, uy) = (dx as f64, -(dy as f64));
    let (rx, ry) = (cos * ux - sin * uy, sin * ux + cos * uy);
    (
        (-rotation_deg).rem_euclid(360.0),
        (-rx).round() as i64,
        ry.round() as i64,
    )
}

/// `b` turned by `angle` and registered onto `a` (whose spectra are given)
/// by the best shift at `level`; `None` when they overlap too little.
fn register(
    a: &PlanarSpectra,
    b: &Surface,
    level: &Level,
    angle: f64,
    min_overlap_fraction: f64,
) -> Option<Registration> {
    let angle = angle.rem_euclid(360.0);
    let min_overlap = min_overlap_fraction * a.valid_count.min(b.valid_count()) as f64;
    let turned = rotate(b, angle);
    let spectra = PlanarSpectra::new(&turned, &level.fft);
    let m = best_shift(a, &spectra, &level.fft, level.max_shift_px, min_overlap)?;
    Some(Registration {
        ncc: m.ncc,
        rotation_deg: angle,
        dx: m.dx,
        dy: m.dy,
        overlap_fraction: m.overlap / a.valid_count.max(1) as f64,
    })
}

/// The final score: the whole surface's correlation says how alike the two
/// are where they overlap, the cell score how much of the surface agrees
/// locally with one registration. Equal weights: neither is known to be
/// the better witness, and each caps what the other can claim.
pub fn combined_score(registration_ncc: f64, cells: &CellAnalysis) -> f64 {
    0.5 * registration_ncc.max(0.0) + 0.5 * cells.cell_score
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocessing::{prepare, PreprocessConfig};
    use crate::synth::{fire, make_gun, SynthConfig};

    /// The comparer an engine makes with the default settings.
    fn default_comparer() -> FineComparer {
        FineComparer::new(
            CompareConfig::default(),
            PreprocessConfig::default().canvas_px,
        )
    }

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
        let comparer = default_comparer();
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
        let comparer = default_comparer();
        let c = inputs(&comparer);
        let turned = comparer.input(rotate(&c[0].canvas, 37.0));
        let found = comparer.compare(&c[0], &turned).expect("overlaps");
        // Turning the copy back by 360-37 degrees brings it into place.
        let error = (found.rotation_deg - (360.0 - 37.0)).abs();
        assert!(error <= 1.0, "{found:?}");
        assert!(found.score > 0.9, "{found:?}");
        // At the registration found, the copy overlays the original.
        let um = c[0].canvas.um_per_px;
        let overlay = registered_onto(
            &turned.canvas,
            found.rotation_deg,
            (found.dx_um / um).round() as i64,
            (found.dy_um / um).round() as i64,
        );
        let (a, b) = (&c[0].canvas, &overlay);
        let both: Vec<usize> = (0..a.values.len())
            .filter(|i| a.valid[*i] && b.valid[*i])
            .collect();
        assert!(
            both.len() > a.valid_count() / 2,
            "{} of {}",
            both.len(),
            a.valid_count()
        );
        let (ma, mb) = both.iter().fold((0.0, 0.0), |(x, y), i| {
            (x + f64::from(a.values[*i]), y + f64::from(b.values[*i]))
        });
        let n = both.len() as f64;
        let (ma, mb) = (ma / n, mb / n);
        let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
        for i in &both {
            let (x, y) = (f64::from(a.values[*i]) - ma, f64::from(b.values[*i]) - mb);
            sab += x * y;
            saa += x * x;
            sbb += y * y;
        }
        let ncc = sab / (saa * sbb).sqrt();
        assert!(ncc > 0.9, "overlay correlates {ncc}");
    }

    #[test]
    fn the_inverse_registration_brings_the_query_onto_the_candidate() {
        let comparer = default_comparer();
        let c = inputs(&comparer);
        // A copy turned and shifted: found one way, inverted, it must match
        // what registering the other way round finds.
        let moved = comparer.input(registered_onto(&rotate(&c[0].canvas, 23.0), 0.0, 5, -3));
        let there = comparer.compare(&c[0], &moved).expect("overlaps");
        let back = comparer.compare(&moved, &c[0]).expect("overlaps");
        let um = c[0].canvas.um_per_px;
        let px = |v: f64| (v / um).round() as i64;
        let (deg, dx, dy) =
            inverse_registration(there.rotation_deg, px(there.dx_um), px(there.dy_um));
        let turn = (deg - back.rotation_deg).rem_euclid(360.0);
        assert!(turn.min(360.0 - turn) <= 1.0, "{deg} vs {back:?}");
        assert!(
            (dx - px(back.dx_um)).abs() <= 1 && (dy - px(back.dy_um)).abs() <= 1,
            "({dx}, {dy}) vs {back:?}"
        );
    }

    #[test]
    fn a_mates_cells_agree_both_ways_and_another_guns_do_not() {
        let comparer = default_comparer();
        let c = inputs(&comparer);
        let mate = comparer.compare(&c[0], &c[1]).expect("mates overlap");
        let other = comparer.compare(&c[0], &c[2]).expect("casings overlap");
        assert!(
            mate.reverse_cells.congruent_cells > 2 * other.reverse_cells.congruent_cells.max(1),
            "mate {:?}, other gun {:?}",
            mate.reverse_cells,
            other.reverse_cells
        );
    }

    /// Casings of 3 guns of one striker-fired model whose breech face
    /// survives only as a 0.4-0.8 mm ring around a large aperture, scanned
    /// at 7.4 µm/px, 2 each: (gun, prepared canvas).
    fn thin_ring_casings(comparer: &FineComparer) -> Vec<(usize, ComparisonInput)> {
        let cfg = crate::synth::SynthConfig::thin_ring(7.4);
        let pre = PreprocessConfig::default();
        crate::synth::labelled_set(21, 3, 2, 1, &cfg)
            .map(|(g, _, scan)| {
                let prepared = prepare(&scan, "ring", &pre).expect("a ring prepares");
                (g, comparer.input(prepared.surface))
            })
            .collect()
    }

    #[test]
    fn on_thin_rings_the_learned_score_ranks_every_mate_above_every_other_gun() {
        let model = ScoreModel::load(&ScoreModel::default_path()).expect("the shipped score model");
        let comparer = default_comparer().with_score_model(Some(Arc::new(model)));
        let c = thin_ring_casings(&comparer);
        let (mut mates, mut others) = (Vec::new(), Vec::new());
        for (i, (gi, a)) in c.iter().enumerate() {
            for (j, (gj, b)) in c.iter().enumerate() {
                if i == j {
                    continue;
                }
                let found = comparer.compare(a, b).expect("rings overlap");
                if gi == gj {
                    // A mate's ring, registered, leaves more than a handful
                    // of cells to score (2-17 with the full-disc rule).
                    assert!(found.cells.valid_cells >= 8, "{:?}", found.cells);
                    mates.push(found.score);
                } else {
                    others.push(found.score);
                }
            }
        }
        let weakest_mate = mates.iter().copied().fold(f64::INFINITY, f64::min);
        let strongest_other = others.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        assert!(
            weakest_mate > strongest_other,
            "mates {mates:?}, other guns {others:?}"
        );
    }
}
