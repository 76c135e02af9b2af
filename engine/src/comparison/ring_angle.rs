//! Rotation from the surfaces unwrapped about their centres: a third
//! witness for the rotation, made for thin rings of breech face.
//!
//! The coarse sweep reads 100 µm pixels, where a 0.4 mm ring is 4 pixels
//! wide and its marks are averaged away; the power spectrum of a ring is
//! dominated by the ring's own outline. Unwrapped into rings × angles about
//! the canvas centre (the fitted breech-face circle), a turn becomes a
//! circular shift along the angle, and the masked NCC of every shift comes
//! from a handful of FFTs along the angle. A polar unwrap assumes the two
//! casings share a centre, which they do only to some tens of µm, so the
//! query is unwrapped about a few centres around its own (made once per
//! query) and the best of them counts.

use std::sync::{Arc, OnceLock};

use rustfft::num_complex::Complex32;
use rustfft::{Fft, FftPlanner};

use crate::preprocessing::{unwrap_about, PolarGrid};
use crate::surface::Surface;

/// Angular bins over a full turn (2° each; the refinement climbs from there).
pub const RING_BINS: usize = 180;

/// One surface unwrapped about one centre: per ring, the FFTs along the
/// angle of its values, squared values and validity.
#[derive(Debug, Clone)]
pub struct RingUnwrap {
    rings: usize,
    values: Vec<Complex32>,
    squares: Vec<Complex32>,
    mask: Vec<Complex32>,
}

impl RingUnwrap {
    /// `surface` unwrapped about its centre moved by (`dx`, `dy`) pixels,
    /// rings 1 pixel apart from 3 pixels out to the canvas's edge.
    pub fn new(surface: &Surface, dx: f64, dy: f64) -> Self {
        let r_max = (surface.width.min(surface.height) as f64 / 2.0 - 1.0).max(0.0) as usize;
        let rings = (r_max + 1).saturating_sub(3);
        // Counter-clockwise with y up, as `rotate` turns.
        let grid = PolarGrid {
            rings,
            angles: RING_BINS,
            inner_radius_px: 3.0,
            outer_radius_px: r_max as f64,
        };
        let polar = unwrap_about(surface, &grid, dx, dy);
        let n = rings * RING_BINS;
        let mut values = vec![Complex32::default(); n];
        let mut squares = vec![Complex32::default(); n];
        let mut mask = vec![Complex32::default(); n];
        for (i, (v, ok)) in polar.values.iter().zip(&polar.valid).enumerate() {
            if *ok {
                values[i] = Complex32::new(*v, 0.0);
                squares[i] = Complex32::new(v * v, 0.0);
                mask[i] = Complex32::new(1.0, 0.0);
            }
        }
        let forward = &plans().0;
        for data in [&mut values, &mut squares, &mut mask] {
            for ring in data.chunks_exact_mut(RING_BINS) {
                forward.process(ring);
            }
        }
        RingUnwrap {
            rings,
            values,
            squares,
            mask,
        }
    }

    /// Masked NCC of `b` against `self` at every turn, index = bins of
    /// 360/[`RING_BINS`]° clockwise that bring `b` back onto `self` (the
    /// convention of [`super::rotate`]); `None` where they overlap in
    /// fewer than `min_overlap` samples.
    pub fn scores(&self, b: &RingUnwrap, min_overlap: f64) -> Vec<Option<f64>> {
        let rings = self.rings.min(b.rings);
        // score(φ) = Σ_r Σ_t a_r(t)·b_r(t + φ) = IFFT(Σ_r conj(A_r)·B_r).
        let mut sums = vec![vec![Complex32::default(); RING_BINS]; 6];
        for r in 0..rings {
            let span = r * RING_BINS..(r + 1) * RING_BINS;
            let (av, aa, am) = (
                &self.values[span.clone()],
                &self.squares[span.clone()],
                &self.mask[span.clone()],
            );
            let (bv, bb, bm) = (
                &b.values[span.clone()],
                &b.squares[span.clone()],
                &b.mask[span],
            );
            for t in 0..RING_BINS {
                let (av, aa, am) = (av[t].conj(), aa[t].conj(), am[t].conj());
                sums[0][t] += av * bv[t];
                sums[1][t] += av * bm[t];
                sums[2][t] += am * bv[t];
                sums[3][t] += aa * bm[t];
                sums[4][t] += am * bb[t];
                sums[5][t] += am * bm[t];
            }
        }
        let inverse = &plans().1;
        for s in &mut sums {
            inverse.process(s);
        }
        let scale = 1.0 / RING_BINS as f64;
        let at = |k: usize, t: usize| f64::from(sums[k][t].re) * scale;
        (0..RING_BINS)
            .map(|t| {
                super::masked_ncc(
                    at(0, t),
                    at(1, t),
                    at(2, t),
                    at(3, t),
                    at(4, t),
                    at(5, t).round(),
                    min_overlap,
                )
            })
            .collect()
    }
}

/// The query's unwraps about a few centres near its own.
#[derive(Debug, Clone)]
pub struct RingQuery {
    unwraps: Vec<RingUnwrap>,
}

impl RingQuery {
    /// Centres up to `reach` pixels from the canvas centre, `step` apart.
    pub fn new(surface: &Surface, reach: i32, step: i32) -> Self {
        let offsets: Vec<i32> = (-reach..=reach).step_by(step.max(1) as usize).collect();
        let unwraps = offsets
            .iter()
            .flat_map(|dy| offsets.iter().map(move |dx| (*dx, *dy)))
            .map(|(dx, dy)| RingUnwrap::new(surface, f64::from(dx), f64::from(dy)))
            .collect();
        RingQuery { unwraps }
    }

    /// The best score over the query's centres at every turn (same
    /// indexing as [`RingUnwrap::scores`]).
    pub fn scores(&self, b: &RingUnwrap, min_overlap: f64) -> Vec<Option<f64>> {
        let mut best = vec![None; RING_BINS];
        for u in &self.unwraps {
            for (slot, s) in best.iter_mut().zip(u.scores(b, min_overlap)) {
                if let Some(s) = s {
                    if slot.is_none_or(|b: f64| s > b) {
                        *slot = Some(s);
                    }
                }
            }
        }
        best
    }
}

/// A plan for transforms along the angle.
type AnglePlan = Arc<dyn Fft<f32>>;

fn plans() -> &'static (AnglePlan, AnglePlan) {
    static PLANS: OnceLock<(AnglePlan, AnglePlan)> = OnceLock::new();
    PLANS.get_or_init(|| {
        let mut planner = FftPlanner::new();
        (
            planner.plan_fft_forward(RING_BINS),
            planner.plan_fft_inverse(RING_BINS),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::comparison::rotate;
    use crate::surface::SurfaceKind;

    /// A textured ring 6 pixels wide around a hole, like a thin breech face.
    fn ring(n: usize) -> Surface {
        let mut s = Surface::empty(n, n, 50.0, SurfaceKind::Topography);
        let c = (n as f64 - 1.0) / 2.0;
        for y in 0..n {
            for x in 0..n {
                let (fx, fy) = (x as f64, y as f64);
                let d = (fx - c).hypot(fy - c);
                if (22.0..28.0).contains(&d) {
                    let i = s.index(x, y);
                    s.values[i] = ((fx * 0.9 + fy * 0.35).sin()
                        + 0.6 * (fx * 0.23 - fy * 0.7).sin()
                        + 0.4 * (fx * 1.3 * fy * 0.05).cos())
                        as f32;
                    s.valid[i] = true;
                }
            }
        }
        s
    }

    #[test]
    fn a_turned_ring_is_found_at_its_turn_even_off_centre() {
        let a = ring(80);
        // b is a turned counter-clockwise by 50° and moved by a pixel:
        // rotate(b, 50) brings it back.
        let turned = rotate(&a, -50.0);
        let mut b = Surface::empty(80, 80, 50.0, SurfaceKind::Topography);
        for y in 0..80 {
            for x in 0..79 {
                let (i, j) = (turned.index(x, y), b.index(x + 1, y));
                b.values[j] = turned.values[i];
                b.valid[j] = turned.valid[i];
            }
        }
        let query = RingQuery::new(&a, 2, 1);
        let scores = query.scores(&RingUnwrap::new(&b, 0.0, 0.0), 50.0);
        let best = (0..RING_BINS)
            .filter(|t| scores[*t].is_some())
            .max_by(|x, y| scores[*x].unwrap().total_cmp(&scores[*y].unwrap()))
            .expect("angles");
        let deg = best as f64 * 360.0 / RING_BINS as f64;
        assert!((deg - 50.0).abs() <= 2.0, "best {deg}°");
        assert!(scores[best].unwrap() > 0.8, "{:?}", scores[best]);
    }
}
