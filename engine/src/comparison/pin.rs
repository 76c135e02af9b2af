//! Pin-to-pin comparison: the best normalised cross-correlation of two
//! firing-pin marks (`preprocessing::extract_pin_mark`) over every turn and
//! small shifts of the centre.
//!
//! Both marks are centred on their impressions, so a turn of the casing
//! is a turn about the canvas centre: unwrapped into rings × angles, a
//! circular shift along the angle, and the correlation at every turn comes
//! from one FFT per ring and one inverse FFT. The impressions' centres are
//! found to some µm only, so the query is unwrapped about the centres
//! within `PIN_CENTRE_REACH_PX` of its own (made once per query) and the
//! best counts. Each ring's mean is removed (what is left of the crater's
//! round form is the same in every crater, so it would make any two marks
//! alike) and its samples are weighted by √radius so that every ring counts
//! by its area, not by its number of samples.

use std::sync::{Arc, OnceLock};

use rustfft::num_complex::Complex32;
use rustfft::{Fft, FftPlanner};

use crate::preprocessing::{unwrap_about, PolarGrid};
use crate::surface::Surface;

/// Angular bins over a full turn (1° each: half a pixel of arc at the
/// edge of a 64-pixel canvas).
pub const PIN_BINS: usize = 360;
/// Centres of the query tried, pixels each way (±25 µm at 12.5 µm/px).
pub const PIN_CENTRE_REACH_PX: i32 = 2;
/// Innermost ring, pixels: nearer the centre a ring has too few samples.
const INNER_RING_PX: f64 = 2.0;
/// A ring counts when at least this share of it is valid on both marks.
const MIN_RING_VALID: f64 = 0.5;

/// One pin mark unwrapped about one centre: per ring, the FFT along the
/// angle of its mean-free, area-weighted values, its energy, and whether
/// enough of it is valid to count.
#[derive(Debug, Clone)]
pub struct PinUnwrap {
    spectra: Vec<Complex32>,
    energy: Vec<f64>,
    usable: Vec<bool>,
}

impl PinUnwrap {
    /// `mark` unwrapped about its centre moved by (`dx`, `dy`) pixels.
    pub fn new(mark: &Surface, dx: f64, dy: f64) -> Self {
        let outer = (mark.width.min(mark.height) as f64 / 2.0 - 1.0).max(INNER_RING_PX);
        let rings = (outer - INNER_RING_PX).floor() as usize + 1;
        let grid = PolarGrid {
            rings,
            angles: PIN_BINS,
            inner_radius_px: INNER_RING_PX,
            outer_radius_px: INNER_RING_PX + (rings - 1) as f64,
        };
        let polar = unwrap_about(mark, &grid, dx, dy);
        let mut spectra = vec![Complex32::default(); rings * PIN_BINS];
        let mut energy = vec![0.0; rings];
        let mut usable = vec![false; rings];
        for ring in 0..rings {
            let span = ring * PIN_BINS..(ring + 1) * PIN_BINS;
            let (values, valid) = (&polar.values[span.clone()], &polar.valid[span.clone()]);
            let count = valid.iter().filter(|v| **v).count();
            usable[ring] = count as f64 >= MIN_RING_VALID * PIN_BINS as f64;
            if count == 0 {
                continue;
            }
            let mean = values
                .iter()
                .zip(valid)
                .filter(|(_, ok)| **ok)
                .map(|(v, _)| f64::from(*v))
                .sum::<f64>()
                / count as f64;
            let weight = (INNER_RING_PX + ring as f64).sqrt();
            let out = &mut spectra[span];
            for ((o, v), ok) in out.iter_mut().zip(values).zip(valid) {
                if *ok {
                    let w = (f64::from(*v) - mean) * weight;
                    *o = Complex32::new(w as f32, 0.0);
                    energy[ring] += w * w;
                }
            }
            plans().0.process(out);
        }
        PinUnwrap {
            spectra,
            energy,
            usable,
        }
    }

    /// The best normalised cross-correlation of `b` against `self` over
    /// every turn, on the rings usable on both; `None` when none is.
    fn best(&self, b: &PinUnwrap) -> Option<f64> {
        let rings = self.energy.len().min(b.energy.len());
        let mut sum = vec![Complex32::default(); PIN_BINS];
        let (mut ea, mut eb) = (0.0, 0.0);
        for r in (0..rings).filter(|r| self.usable[*r] && b.usable[*r]) {
            ea += self.energy[r];
            eb += b.energy[r];
            let span = r * PIN_BINS..(r + 1) * PIN_BINS;
            for ((s, a), bv) in sum
                .iter_mut()
                .zip(&self.spectra[span.clone()])
                .zip(&b.spectra[span])
            {
                *s += a.conj() * bv;
            }
        }
        if !(ea > 0.0 && eb > 0.0) {
            return None;
        }
        plans().1.process(&mut sum);
        // The inverse FFT is unnormalised: its values are PIN_BINS times
        // the circular correlation.
        let peak = sum.iter().map(|c| f64::from(c.re)).fold(f64::MIN, f64::max);
        Some(peak / PIN_BINS as f64 / (ea * eb).sqrt())
    }
}

/// The query's pin mark unwrapped about the centres near its own.
#[derive(Debug, Clone)]
pub struct PinQuery {
    unwraps: Vec<PinUnwrap>,
}

impl PinQuery {
    pub fn new(mark: &Surface) -> Self {
        let reach = PIN_CENTRE_REACH_PX;
        let unwraps = (-reach..=reach)
            .flat_map(|dy| (-reach..=reach).map(move |dx| (dx, dy)))
            .map(|(dx, dy)| PinUnwrap::new(mark, f64::from(dx), f64::from(dy)))
            .collect();
        PinQuery { unwraps }
    }

    /// The pin score of a candidate's mark: the best NCC over turns and
    /// the query's centres, floored at 0, so in [0, 1]. `None` when the
    /// two marks share no usable ring.
    pub fn score(&self, candidate: &Surface) -> Option<f64> {
        let b = PinUnwrap::new(candidate, 0.0, 0.0);
        self.unwraps
            .iter()
            .filter_map(|a| a.best(&b))
            .reduce(f64::max)
            .map(|ncc| ncc.clamp(0.0, 1.0))
    }
}

/// A plan for transforms along the angle.
type AnglePlan = Arc<dyn Fft<f32>>;

fn plans() -> &'static (AnglePlan, AnglePlan) {
    static PLANS: OnceLock<(AnglePlan, AnglePlan)> = OnceLock::new();
    PLANS.get_or_init(|| {
        let mut planner = FftPlanner::new();
        (
            planner.plan_fft_forward(PIN_BINS),
            planner.plan_fft_inverse(PIN_BINS),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::comparison::rotate;
    use crate::surface::SurfaceKind;

    /// A disc of pseudo-random texture, like a pin mark.
    fn mark(seed: u32) -> Surface {
        let mut s = Surface::empty(64, 64, 12.5, SurfaceKind::Topography);
        for y in 0..64 {
            for x in 0..64 {
                let (fx, fy) = (x as f64 - 31.5, y as f64 - 31.5);
                if fx.hypot(fy) > 30.0 {
                    continue;
                }
                let k = f64::from(seed);
                let i = s.index(x, y);
                s.values[i] = ((fx * (0.7 + 0.1 * k)).sin() * (fy * 0.45 + k).cos()
                    + 0.7 * ((fx * 0.3 - fy * (0.9 - 0.05 * k)) + k * 1.7).sin()
                    + 0.5 * (fx * fy * 0.02 * (1.0 + k * 0.1)).cos())
                    as f32;
                s.valid[i] = true;
            }
        }
        s
    }

    #[test]
    fn a_turned_and_shifted_copy_scores_high_another_mark_low() {
        let a = mark(1);
        let turned = rotate(&a, 73.0);
        // Moved by a pixel, as a centre found a little off would be.
        let mut b = Surface::empty(64, 64, 12.5, SurfaceKind::Topography);
        for y in 0..64 {
            for x in 1..64 {
                let (i, j) = (turned.index(x - 1, y), b.index(x, y));
                b.values[j] = turned.values[i];
                b.valid[j] = turned.valid[i];
            }
        }
        let query = PinQuery::new(&a);
        let same = query.score(&b).expect("shared rings");
        let other = query.score(&mark(4)).expect("shared rings");
        assert!(same > 0.8, "turned copy {same}");
        assert!(other < 0.4, "another mark {other}");
        assert!((0.0..=1.0).contains(&other));
    }

    #[test]
    fn marks_without_a_shared_ring_have_no_score() {
        let query = PinQuery::new(&mark(1));
        let empty = Surface::empty(64, 64, 12.5, SurfaceKind::Topography);
        assert_eq!(query.score(&empty), None);
    }
}

#[cfg(test)]
mod synthetic_raw_scans {
    use super::*;
    use crate::preprocessing::{extract_pin_mark, prepare, PinMarkConfig, PreprocessConfig};
    use crate::synth::{labelled_set_with_raw, RawShare, SynthConfig};

    /// Pin-marked raw scans of a few guns, through preparation and the
    /// mark's extraction as a submission runs them: mates' pin scores
    /// are above other guns' (pair AUC ≥ 0.9).
    #[test]
    fn mates_pin_marks_outscore_other_guns() {
        let cfg = SynthConfig::default();
        let share = RawShare::pin_marked(3);
        let marks: Vec<(usize, Surface)> = labelled_set_with_raw(9, 4, 3, 1, &cfg, Some(share))
            .map(|shot| {
                let prepared = prepare(&shot.scan, "raw.x3p", &PreprocessConfig::default())
                    .expect("a raw scan prepares");
                let pin = prepared.pin_impression_um.expect("its crater is found");
                let mark = extract_pin_mark(&shot.scan, pin, &PinMarkConfig::default())
                    .expect("a pin mark");
                (shot.gun, mark)
            })
            .collect();
        let (mut mates, mut others) = (Vec::new(), Vec::new());
        for (i, (gun_a, a)) in marks.iter().enumerate() {
            let query = PinQuery::new(a);
            for (gun_b, b) in marks.iter().skip(i + 1) {
                let s = query.score(b).expect("shared rings");
                if gun_a == gun_b {
                    mates.push(s);
                } else {
                    others.push(s);
                }
            }
        }
        let wins: f64 = mates
            .iter()
            .flat_map(|m| others.iter().map(move |o| (m, o)))
            .map(|(m, o)| match m.total_cmp(o) {
                std::cmp::Ordering::Greater => 1.0,
                std::cmp::Ordering::Equal => 0.5,
                std::cmp::Ordering::Less => 0.0,
            })
            .sum();
        let auc = wins / (mates.len() * others.len()) as f64;
        assert!(auc >= 0.9, "AUC {auc}: mates {mates:?} others {others:?}");
    }
}
