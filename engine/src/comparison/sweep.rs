//! The coarse rotation sweep: which rotations are worth registering at full
//! resolution.
//!
//! The query's coarse canvas is turned once per trial angle and kept for
//! the whole query (a shortlist of 50 reuses every turned copy 50 times).
//! Each candidate's coarse canvas is then correlated with every turned copy
//! over a small shift window, directly in space: at ±2 coarse pixels that
//! is 25 dot products of a 40 × 40 canvas per angle, cheaper than the three
//! forward and three inverse FFTs a masked NCC per trial would need.
//!
//! The sweep's score is a plain correlation, each side normalised by its
//! own energy, not the masked NCC: it only ranks one pair's angles against
//! each other, and the full-resolution refinement computes the masked NCC
//! that is reported.

use super::scoring::dot;
use super::translation::rotate;
use crate::surface::Surface;

/// The query's coarse canvas turned by every trial angle, each copy with
/// its mean removed and scaled to unit energy (invalid samples are 0).
#[derive(Debug, Clone)]
pub struct SweepStack {
    step_deg: f64,
    side: usize,
    turns: Vec<Vec<f32>>,
}

impl SweepStack {
    pub fn new(coarse: &Surface, step_deg: f64) -> Self {
        let trials = (360.0 / step_deg).round().max(1.0) as usize;
        let side = coarse.width.max(coarse.height);
        let turns = (0..trials)
            .map(|i| {
                // Turning the query counter-clockwise by θ aligns it with a
                // candidate that the refinement turns clockwise by θ.
                let turned = rotate(coarse, -(i as f64) * step_deg);
                square_normalised(&turned, side, 0)
            })
            .collect();
        SweepStack {
            step_deg,
            side,
            turns,
        }
    }

    pub fn step_deg(&self) -> f64 {
        self.step_deg
    }

    /// The sweep's score at every trial angle (`None` where a side has no
    /// texture): the best correlation over shifts up to `max_shift`.
    pub fn scores(&self, target: &SweepTarget) -> Vec<Option<f64>> {
        debug_assert_eq!(self.side, target.side);
        self.turns
            .iter()
            .map(|turn| target.best_correlation(turn, self.side))
            .collect()
    }
}

/// A candidate's coarse canvas, normalised like the stack's copies and
/// padded by the shift range so every shifted read stays in bounds.
#[derive(Debug, Clone)]
pub struct SweepTarget {
    side: usize,
    pad: usize,
    values: Vec<f32>,
}

impl SweepTarget {
    pub fn new(coarse: &Surface, max_shift: usize) -> Self {
        let side = coarse.width.max(coarse.height);
        SweepTarget {
            side,
            pad: max_shift,
            values: square_normalised(coarse, side, max_shift),
        }
    }

    fn best_correlation(&self, turn: &[f32], side: usize) -> Option<f64> {
        if turn.iter().all(|v| *v == 0.0) || self.values.iter().all(|v| *v == 0.0) {
            return None;
        }
        let stride = side + 2 * self.pad;
        let m = self.pad as i64;
        let mut best = f32::NEG_INFINITY;
        for sy in -m..=m {
            for sx in -m..=m {
                let mut sum = 0.0_f32;
                for y in 0..side {
                    let row = &turn[y * side..(y + 1) * side];
                    let start = (y as i64 + m + sy) as usize * stride + (m + sx) as usize;
                    sum += dot(row, &self.values[start..start + side]);
                }
                best = best.max(sum);
            }
        }
        Some(f64::from(best))
    }
}

/// `s` as a `side` × `side` array padded by `pad` zeros on every side,
/// with the valid samples' mean removed and scaled to unit energy.
fn square_normalised(s: &Surface, side: usize, pad: usize) -> Vec<f32> {
    let stride = side + 2 * pad;
    let mut out = vec![0.0_f32; stride * stride];
    let (mean, _) = s.valid_mean_std();
    let mut energy = 0.0_f64;
    for y in 0..s.height.min(side) {
        for x in 0..s.width.min(side) {
            let i = s.index(x, y);
            if s.valid[i] {
                let v = s.values[i] - mean as f32;
                out[(y + pad) * stride + x + pad] = v;
                energy += f64::from(v) * f64::from(v);
            }
        }
    }
    if energy > 0.0 {
        let scale = (1.0 / energy.sqrt()) as f32;
        out.iter_mut().for_each(|v| *v *= scale);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::surface::SurfaceKind;

    fn disc_texture(n: usize, seed: u32) -> Surface {
        let mut s = Surface::empty(n, n, 100.0, SurfaceKind::Topography);
        let c = (n as f64 - 1.0) / 2.0;
        let f = |k: u32| 0.3 + 0.4 * f64::from((seed.wrapping_mul(2_654_435_761) ^ k) % 89) / 89.0;
        for y in 0..n {
            for x in 0..n {
                let (fx, fy) = (x as f64, y as f64);
                if (fx - c).hypot(fy - c) < c - 1.0 {
                    let i = s.index(x, y);
                    s.values[i] = ((fx * f(1) + fy * f(2)).sin()
                        + (fx * f(3) - fy * f(4)).cos()
                        + (fx * f(5) * 1.3 - fy * f(6)).sin())
                        as f32;
                    s.valid[i] = true;
                }
            }
        }
        s
    }

    #[test]
    fn the_sweep_peaks_at_the_angle_that_turns_the_candidate_back() {
        let query = disc_texture(40, 5);
        // The candidate is the query turned counter-clockwise by 30°; the
        // refinement would turn it clockwise by 30° to bring it back.
        let candidate = rotate(&query, -30.0);
        let stack = SweepStack::new(&query, 2.0);
        let scores = stack.scores(&SweepTarget::new(&candidate, 2));
        let (best, score) = scores
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.map(|s| (i, s)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .expect("scores");
        assert_eq!(best as f64 * stack.step_deg(), 30.0, "{scores:?}");
        assert!(score > 0.9, "{score}");
    }

    #[test]
    fn a_blank_side_has_no_score() {
        let blank = Surface::empty(40, 40, 100.0, SurfaceKind::Topography);
        let stack = SweepStack::new(&disc_texture(40, 1), 10.0);
        assert!(stack
            .scores(&SweepTarget::new(&blank, 2))
            .iter()
            .all(Option::is_none));
    }
}
