//! The gradient Hough transform for circles: a primer's edge in a raw scan
//! or a photograph, a firing-pin impression's rim in a photograph.

use super::centre::Circle;
use crate::surface::Surface;

/// Which way the values step at the circle's edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Polarity {
    /// Higher (brighter) inside: a primer against the gap around it. The
    /// gradient at the edge points towards the centre.
    RaisedDisc,
    /// Lower (darker) inside: a firing-pin crater. The gradient at the edge
    /// points away from the centre.
    SunkenDisc,
}

/// What circle to look for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CircleSearch {
    /// Radius range, pixels.
    pub min_radius: f64,
    pub max_radius: f64,
    pub polarity: Polarity,
    /// Only centres within `.1` pixels of the point `.0` count.
    pub centre_near: Option<((f64, f64), f64)>,
}

/// A circle found by [`hough_circle`] and how well the image supports it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FoundCircle {
    pub circle: Circle,
    /// Fraction of the circle's circumference that lies on a strong edge of
    /// the expected polarity (1: a complete edge, ~0.1: chance).
    pub support: f64,
}

/// A gradient Hough transform for circles: each of the strongest tenth of
/// edges (gradients computed only where all 3x3 neighbours are valid, so a
/// mask boundary is not an edge) votes along its gradient direction for
/// every radius of the range; the best centre and radius, normalised by
/// circumference so large circles do not win by size, is returned with its
/// support.
///
/// The radii are searched one vote plane at a time, in two buffers reused
/// for all of them: the 25 planes of a first version were most of the
/// preparation of an imported casing, mostly spent zeroing, copying and
/// smoothing memory. The result is the one the 25 planes gave (the test
/// below keeps that version to compare).
pub fn hough_circle(surface: &Surface, search: &CircleSearch) -> Option<FoundCircle> {
    let (w, h) = (surface.width, surface.height);
    if w < 8 || h < 8 || search.max_radius <= search.min_radius || search.min_radius <= 0.0 {
        return None;
    }
    let gradients = valid_gradients(surface);
    let mut mags: Vec<f32> = gradients.iter().map(|g| g.4).collect();
    if mags.is_empty() {
        return None;
    }
    // Only the strongest tenth of edges vote: texture inside the region
    // would otherwise swamp its rim.
    let tenth = mags.len() * 9 / 10;
    let threshold = (*mags.select_nth_unstable_by(tenth, f32::total_cmp).1).max(f32::MIN_POSITIVE);
    let radii = search_radii(search);
    let sign = polarity_sign(search.polarity);
    // Each voter once: position, direction towards the centre, vote.
    let voters: Vec<(f64, f64, f64, f64, f32)> = gradients
        .iter()
        .filter(|g| g.4 >= threshold)
        .map(|&(x, y, ux, uy, mag)| {
            let (sx, sy) = (sign * f64::from(ux), sign * f64::from(uy));
            (x as f64, y as f64, sx, sy, mag.sqrt())
        })
        .collect();
    let allowed = allowed_centres(search, w, h);
    let mut plane = vec![0f32; w * h];
    let mut voted_rows = vec![false; h];
    let mut sums = vec![0f32; w];
    // Best score, radius index, pixel: the first strict maximum in the
    // order radius by radius, row by row, as the full scan found it.
    let mut best = (0f32, 0usize, 0usize);
    let mut voted = Vec::with_capacity(voters.len());
    for (ri, &r) in radii.iter().enumerate() {
        // Clear what the last radius wrote, not the whole plane.
        for &i in &voted {
            plane[i] = 0.0;
        }
        voted.clear();
        voted_rows.fill(false);
        for &(x, y, sx, sy, vote) in &voters {
            let (cx, cy) = (x + sx * r, y + sy * r);
            if cx >= 0.0 && cy >= 0.0 && (cx as usize) < w && (cy as usize) < h {
                let i = cy as usize * w + cx as usize;
                plane[i] += vote;
                voted.push(i);
                voted_rows[cy as usize] = true;
            }
        }
        let rf = r as f32;
        // Smoothed sums no larger than this cannot beat the best score:
        // the quotient by `rf` only grows with the sum.
        let mut beaten = 0f32;
        for y in 1..h - 1 {
            // Rows without a vote within one row smooth to 0, which never
            // beats a score (the best starts at 0 and must be exceeded).
            if !(voted_rows[y - 1] || voted_rows[y] || voted_rows[y + 1]) {
                continue;
            }
            box3_row(&plane, w, y, &mut sums);
            // Most rows hold nothing above the sums already beaten: one
            // comparison over the row (which vectorises) rules them out.
            let row = &sums[1..w - 1];
            if !row.iter().fold(false, |any, &s| any | (s > beaten)) {
                continue;
            }
            for (x, &s) in sums.iter().enumerate().take(w - 1).skip(1) {
                let i = y * w + x;
                if s <= beaten || allowed.as_ref().is_some_and(|a| !a[i]) {
                    continue;
                }
                // Whether or not it wins, `s / rf` is now at most the best.
                beaten = s;
                let score = s / rf;
                if score > best.0 {
                    best = (score, ri, i);
                }
            }
        }
    }
    if best.0 <= 0.0 {
        return None;
    }
    let circle = Circle {
        cx: (best.2 % w) as f64,
        cy: (best.2 / w) as f64,
        radius: radii[best.1],
    };
    let support = edge_support(&gradients, w, h, threshold, &circle, sign);
    Some(FoundCircle { circle, support })
}

/// The 25 radii searched, evenly spaced over the range.
fn search_radii(search: &CircleSearch) -> Vec<f64> {
    (0..=24)
        .map(|k| search.min_radius + (search.max_radius - search.min_radius) * k as f64 / 24.0)
        .collect()
}

fn polarity_sign(polarity: Polarity) -> f64 {
    match polarity {
        Polarity::RaisedDisc => 1.0,
        Polarity::SunkenDisc => -1.0,
    }
}

/// Where the centre may be, worked out once rather than per radius.
fn allowed_centres(search: &CircleSearch, w: usize, h: usize) -> Option<Vec<bool>> {
    search.centre_near.map(|((nx, ny), d)| {
        (0..w * h)
            .map(|i| ((i % w) as f64 - nx).hypot((i / w) as f64 - ny) <= d)
            .collect()
    })
}

/// Sobel gradients `(x, y, unit x, unit y, magnitude)` at pixels whose 3x3
/// neighbourhood is wholly valid.
fn valid_gradients(surface: &Surface) -> Vec<(usize, usize, f32, f32, f32)> {
    let (w, h) = (surface.width, surface.height);
    // Per pixel, whether it and its left and right neighbours are valid:
    // three rows of these decide a 3x3 neighbourhood.
    let mut valid3 = vec![false; w * h];
    for (row, out) in surface
        .valid
        .chunks_exact(w)
        .zip(valid3.chunks_exact_mut(w))
    {
        for x in 1..w - 1 {
            out[x] = row[x - 1] & row[x] & row[x + 1];
        }
    }
    let mut gradients = Vec::new();
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let i = y * w + x;
            if !(valid3[i - w] & valid3[i] & valid3[i + w]) {
                continue;
            }
            let at = |dx: isize, dy: isize| {
                surface.values[((y as isize + dy) as usize) * w + (x as isize + dx) as usize]
            };
            let gx = (at(1, -1) + 2.0 * at(1, 0) + at(1, 1))
                - (at(-1, -1) + 2.0 * at(-1, 0) + at(-1, 1));
            let gy = (at(-1, 1) + 2.0 * at(0, 1) + at(1, 1))
                - (at(-1, -1) + 2.0 * at(0, -1) + at(1, -1));
            let mag = (gx * gx + gy * gy).sqrt();
            if mag > 0.0 {
                gradients.push((x, y, gx / mag, gy / mag, mag));
            }
        }
    }
    gradients
}

/// Fraction of 180 points on the circle with a strong edge within 1.5 px
/// whose gradient points the expected way (within 45° of the radius).
fn edge_support(
    gradients: &[(usize, usize, f32, f32, f32)],
    w: usize,
    h: usize,
    threshold: f32,
    c: &Circle,
    sign: f64,
) -> f64 {
    // Per pixel, the index of its strong gradient (u32::MAX: none).
    let mut strong = vec![u32::MAX; w * h];
    for (k, &(x, y, _, _, mag)) in gradients.iter().enumerate() {
        if mag >= threshold {
            strong[y * w + x] = k as u32;
        }
    }
    const POINTS: usize = 180;
    let mut hits = 0;
    for k in 0..POINTS {
        let theta = k as f64 * std::f64::consts::TAU / POINTS as f64;
        let (rx, ry) = (theta.cos(), theta.sin());
        let hit = [-1.5f64, -0.75, 0.0, 0.75, 1.5].iter().any(|dr| {
            let (x, y) = (c.cx + (c.radius + dr) * rx, c.cy + (c.radius + dr) * ry);
            if x < 0.0 || y < 0.0 || x >= w as f64 || y >= h as f64 {
                return false;
            }
            // Inward radius direction is (-rx, -ry); RaisedDisc gradients
            // point inwards, SunkenDisc ones outwards.
            let g = strong[y as usize * w + x as usize];
            g != u32::MAX && {
                let (_, _, ux, uy, _) = gradients[g as usize];
                let (ux, uy) = (f64::from(ux), f64::from(uy));
                -(ux * rx + uy * ry) * sign > std::f64::consts::FRAC_1_SQRT_2
            }
        });
        if hit {
            hits += 1;
        }
    }
    hits as f64 / POINTS as f64
}

/// The 3x3 sums of row `y` (1 ≤ y < h - 1) of `plane` into `out` (its
/// first and last entries are left alone). Summed in the order of a plain
/// 3x3 loop (row above, own row, row below; left to right), over row
/// slices so the loop vectorises.
fn box3_row(plane: &[f32], w: usize, y: usize, out: &mut [f32]) {
    let rows = [
        &plane[(y - 1) * w..y * w],
        &plane[y * w..(y + 1) * w],
        &plane[(y + 1) * w..(y + 2) * w],
    ];
    for x in 1..w - 1 {
        let mut s = 0.0;
        for row in rows {
            s += row[x - 1];
            s += row[x];
            s += row[x + 1];
        }
        out[x] = s;
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// The circle search as first written: 25 whole vote planes, each
    /// smoothed into a new plane and scanned in full.
    fn hough_circle_plainly(surface: &Surface, search: &CircleSearch) -> Option<FoundCircle> {
        let (w, h) = (surface.width, surface.height);
        let mut gradients = Vec::new();
        for y in 1..h - 1 {
            for x in 1..w - 1 {
                if !(0..3).all(|dy| (0..3).all(|dx| surface.valid[(y + dy - 1) * w + x + dx - 1])) {
                    continue;
                }
                let at = |dx: usize, dy: usize| surface.values[(y + dy - 1) * w + x + dx - 1];
                let gx =
                    (at(2, 0) + 2.0 * at(2, 1) + at(2, 2)) - (at(0, 0) + 2.0 * at(0, 1) + at(0, 2));
                let gy =
                    (at(0, 2) + 2.0 * at(1, 2) + at(2, 2)) - (at(0, 0) + 2.0 * at(1, 0) + at(2, 0));
                let mag = (gx * gx + gy * gy).sqrt();
                if mag > 0.0 {
                    gradients.push((x, y, gx / mag, gy / mag, mag));
                }
            }
        }
        let mut mags: Vec<f32> = gradients.iter().map(|g| g.4).collect();
        if mags.is_empty() {
            return None;
        }
        let tenth = mags.len() * 9 / 10;
        let threshold =
            (*mags.select_nth_unstable_by(tenth, f32::total_cmp).1).max(f32::MIN_POSITIVE);
        let radii = search_radii(search);
        let sign = polarity_sign(search.polarity);
        let mut votes = vec![vec![0f32; w * h]; radii.len()];
        for &(x, y, ux, uy, mag) in gradients.iter().filter(|g| g.4 >= threshold) {
            for (ri, r) in radii.iter().enumerate() {
                let cx = x as f64 + sign * f64::from(ux) * r;
                let cy = y as f64 + sign * f64::from(uy) * r;
                if cx >= 0.0 && cy >= 0.0 && (cx as usize) < w && (cy as usize) < h {
                    votes[ri][cy as usize * w + cx as usize] += mag.sqrt();
                }
            }
        }
        let allowed = allowed_centres(search, w, h);
        let mut best = (0f32, 0usize, 0usize);
        for (ri, plane) in votes.iter().enumerate() {
            let mut smoothed = vec![0f32; w * h];
            for y in 1..h - 1 {
                box3_row(plane, w, y, &mut smoothed[y * w..(y + 1) * w]);
            }
            for (i, v) in smoothed.iter().enumerate() {
                if allowed.as_ref().is_some_and(|a| !a[i]) {
                    continue;
                }
                let score = v / radii[ri] as f32;
                if score > best.0 {
                    best = (score, ri, i);
                }
            }
        }
        if best.0 <= 0.0 {
            return None;
        }
        let circle = Circle {
            cx: (best.2 % w) as f64,
            cy: (best.2 / w) as f64,
            radius: radii[best.1],
        };
        let support = edge_support(&gradients, w, h, threshold, &circle, sign);
        Some(FoundCircle { circle, support })
    }

    /// Synthetic scans as preparation sees them when it looks for circles:
    /// at 25 µm, levelled. Raw and cropped, thick and thin rings.
    pub(in crate::preprocessing) fn levelled_synthetic_scans() -> Vec<Surface> {
        use crate::preprocessing::{fit_form, resample, subtract_form, FormOrder};
        use crate::synth::{fire, fire_raw, make_gun, RawConfig, SynthConfig};
        let thick = SynthConfig {
            um_per_px: 12.5,
            ..SynthConfig::default()
        };
        let thin = SynthConfig::thin_ring(12.5);
        let mut scans = Vec::new();
        for (seed, cfg) in [(1u64, &thick), (2, &thin)] {
            let gun = make_gun(seed, None, cfg);
            scans.push(fire_raw(&gun, seed + 10, cfg, &RawConfig::default()).0);
            scans.push(fire(&gun, seed + 20, cfg));
        }
        scans
            .iter()
            .map(|s| {
                let mut s = resample(s, 25.0);
                let form = fit_form(&s, FormOrder::Plane, None).expect("levels");
                subtract_form(&mut s, &form);
                s
            })
            .collect()
    }

    #[test]
    fn the_plane_by_plane_circle_search_finds_what_the_full_planes_found() {
        for (n, s) in levelled_synthetic_scans().iter().enumerate() {
            let centre = (s.width as f64 / 2.0, s.height as f64 / 2.0);
            for search in [
                CircleSearch {
                    min_radius: 48.0,
                    max_radius: 104.0,
                    polarity: Polarity::RaisedDisc,
                    centre_near: None,
                },
                CircleSearch {
                    min_radius: 10.0,
                    max_radius: 40.0,
                    polarity: Polarity::SunkenDisc,
                    centre_near: Some((centre, 20.0)),
                },
            ] {
                let (fast, plain) = (hough_circle(s, &search), hough_circle_plainly(s, &search));
                assert!(fast.is_some(), "scan {n}: no circle at all");
                assert_eq!(fast, plain, "scan {n}, {search:?}");
            }
        }
    }
}
