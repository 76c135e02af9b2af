//! Finding the centre of the breech-face region.
//!
//! Rotation between two casings is arbitrary, but it is a rotation about the
//! primer's centre; finding that centre well turns a 3-parameter search
//! (rotation and translation) into a rotation search plus a small
//! translation refinement.

use crate::surface::Surface;

/// A circle in pixel coordinates of the surface it was found in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Circle {
    pub cx: f64,
    pub cy: f64,
    pub radius: f64,
}

/// The outer boundary of the valid region, for scans already cropped to the
/// breech face: the farthest valid pixel along each of many rays from a first
/// guess, then a least-squares circle through those points with outliers
/// (dropouts in the rim, a notch of the ejector) trimmed and the fit redone.
pub fn outer_circle_of_valid_region(surface: &Surface) -> Option<Circle> {
    let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
    for y in 0..surface.height {
        for x in 0..surface.width {
            if surface.valid[surface.index(x, y)] {
                x0 = x0.min(x);
                x1 = x1.max(x);
                y0 = y0.min(y);
                y1 = y1.max(y);
            }
        }
    }
    if x0 == usize::MAX {
        return None;
    }
    let mut centre = ((x0 + x1) as f64 / 2.0, (y0 + y1) as f64 / 2.0);
    let mut circle = None;
    // Two rounds: the second casts rays from the first fit's centre.
    for _ in 0..2 {
        let points = rim_points(surface, centre);
        let fitted = fit_circle_trimmed(&points)?;
        centre = (fitted.cx, fitted.cy);
        circle = Some(fitted);
    }
    circle
}

/// Along each of 360 rays from `(cx, cy)`, in steps of half a pixel until
/// the ray leaves the image, the farthest step on a valid pixel.
///
/// Found from the outside in: the steps inside the image are a prefix of
/// the ray (the centre is inside, and x and y each move one way along a
/// ray), so its end is found by bisection and the walk back stops at the
/// first valid pixel, a few steps in from the rim, instead of walking
/// every ray from the centre.
fn rim_points(surface: &Surface, (cx, cy): (f64, f64)) -> Vec<(f64, f64)> {
    const RAYS: usize = 360;
    let max_r = (surface.width.max(surface.height)) as f64;
    let (w, h) = (surface.width as f64, surface.height as f64);
    // Step j is at radius 0.5·j (exactly, as repeated additions of 0.5 are).
    let end = (2.0 * max_r).ceil() as usize;
    let mut points = Vec::with_capacity(RAYS);
    for k in 0..RAYS {
        let theta = k as f64 * std::f64::consts::TAU / RAYS as f64;
        let (dx, dy) = (theta.cos(), theta.sin());
        let at = |j: usize| {
            let r = 0.5 * j as f64;
            (cx + r * dx, cy + r * dy)
        };
        let inside = |j: usize| {
            let (x, y) = at(j);
            0.5 * (j as f64) < max_r && !(x < 0.0 || y < 0.0 || x >= w || y >= h)
        };
        if !inside(0) {
            continue;
        }
        // inside(lo) and !inside(hi).
        let (mut lo, mut hi) = (0usize, end.max(1));
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if inside(mid) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let last = (0..=lo)
            .rev()
            .map(at)
            .find(|&(x, y)| surface.valid[surface.index(x as usize, y as usize)]);
        if let Some(p) = last {
            points.push(p);
        }
    }
    points
}

/// Algebraic (Kåsa) circle fit, then drop points whose residual exceeds
/// three median residuals and fit again.
fn fit_circle_trimmed(points: &[(f64, f64)]) -> Option<Circle> {
    let first = fit_circle(points)?;
    let mut residuals: Vec<f64> = points.iter().map(|p| residual(&first, *p)).collect();
    let mid = residuals.len() / 2;
    let median = residuals
        .select_nth_unstable_by(mid, f64::total_cmp)
        .1
        .max(0.5);
    let kept: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|p| residual(&first, *p) <= 3.0 * median)
        .collect();
    fit_circle(&kept).or(Some(first))
}

fn residual(c: &Circle, (x, y): (f64, f64)) -> f64 {
    (((x - c.cx).powi(2) + (y - c.cy).powi(2)).sqrt() - c.radius).abs()
}

pub(crate) fn fit_circle(points: &[(f64, f64)]) -> Option<Circle> {
    if points.len() < 8 {
        return None;
    }
    let n = points.len() as f64;
    let (mx, my) = (
        points.iter().map(|p| p.0).sum::<f64>() / n,
        points.iter().map(|p| p.1).sum::<f64>() / n,
    );
    // Solve for the centre (u, v) relative to the mean: least squares on
    // u·Suu + v·Suv = (Suuu + Suvv)/2 and u·Suv + v·Svv = (Svvv + Svuu)/2.
    let (mut suu, mut svv, mut suv, mut suuu, mut svvv, mut suvv, mut svuu) =
        (0f64, 0f64, 0f64, 0f64, 0f64, 0f64, 0f64);
    for &(x, y) in points {
        let (u, v) = (x - mx, y - my);
        suu += u * u;
        svv += v * v;
        suv += u * v;
        suuu += u * u * u;
        svvv += v * v * v;
        suvv += u * v * v;
        svuu += v * u * u;
    }
    let det = suu * svv - suv * suv;
    if det.abs() < 1e-9 {
        return None;
    }
    let b1 = 0.5 * (suuu + suvv);
    let b2 = 0.5 * (svvv + svuu);
    let u = (b1 * svv - b2 * suv) / det;
    let v = (suu * b2 - suv * b1) / det;
    let radius = (u * u + v * v + (suu + svv) / n).sqrt();
    Some(Circle {
        cx: u + mx,
        cy: v + my,
        radius,
    })
}

/// The primer in a photograph of the casing head: the strongest circular
/// edge with a radius in `[min_radius, max_radius]` pixels, by a Hough
/// transform that votes along each strong gradient's direction (the primer
/// edge is a bright disc against the dark gap to the case head).
pub fn primer_circle_in_photograph(
    surface: &Surface,
    min_radius: f64,
    max_radius: f64,
) -> Option<Circle> {
    let search = CircleSearch {
        min_radius,
        max_radius,
        polarity: Polarity::RaisedDisc,
        centre_near: None,
    };
    hough_circle(surface, &search).map(|found| found.circle)
}

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
    for (ri, &r) in radii.iter().enumerate() {
        plane.fill(0.0);
        voted_rows.fill(false);
        for &(x, y, sx, sy, vote) in &voters {
            let (cx, cy) = (x + sx * r, y + sy * r);
            if cx >= 0.0 && cy >= 0.0 && (cx as usize) < w && (cy as usize) < h {
                plane[cy as usize * w + cx as usize] += vote;
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
mod tests {
    use super::*;
    use crate::surface::SurfaceKind;

    fn annulus(w: usize, h: usize, c: (f64, f64), r_out: f64, hole: (f64, f64, f64)) -> Surface {
        let mut s = Surface::empty(w, h, 25.0, SurfaceKind::Topography);
        for y in 0..h {
            for x in 0..w {
                let (fx, fy) = (x as f64, y as f64);
                let outer = (fx - c.0).hypot(fy - c.1) <= r_out;
                let in_hole = (fx - hole.0).hypot(fy - hole.1) <= hole.2;
                let i = s.index(x, y);
                s.valid[i] = outer && !in_hole;
            }
        }
        s
    }

    #[test]
    fn finds_the_outer_rim_despite_an_off_centre_aperture() {
        let s = annulus(160, 150, (81.3, 72.6), 60.0, (70.0, 80.0, 35.0));
        let c = outer_circle_of_valid_region(&s).expect("circle");
        assert!(
            (c.cx - 81.3).abs() < 0.7 && (c.cy - 72.6).abs() < 0.7,
            "{c:?}"
        );
        assert!((c.radius - 60.0).abs() < 1.0, "{c:?}");
    }

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

    /// Every ray walked out from the centre, as first written.
    fn rim_points_plainly(surface: &Surface, (cx, cy): (f64, f64)) -> Vec<(f64, f64)> {
        let max_r = (surface.width.max(surface.height)) as f64;
        let mut points = Vec::new();
        for k in 0..360 {
            let theta = k as f64 * std::f64::consts::TAU / 360.0;
            let (dx, dy) = (theta.cos(), theta.sin());
            let (mut last, mut r) = (None, 0.0);
            while r < max_r {
                let (x, y) = (cx + r * dx, cy + r * dy);
                if x < 0.0 || y < 0.0 || x >= surface.width as f64 || y >= surface.height as f64 {
                    break;
                }
                if surface.valid[surface.index(x as usize, y as usize)] {
                    last = Some((x, y));
                }
                r += 0.5;
            }
            points.extend(last);
        }
        points
    }

    /// Synthetic scans as preparation sees them when it looks for circles:
    /// at 25 µm, levelled. Raw and cropped, thick and thin rings.
    fn levelled_synthetic_scans() -> Vec<Surface> {
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

    #[test]
    fn rays_walked_back_from_the_image_edge_find_the_rim_points_walked_out() {
        let mut surfaces = levelled_synthetic_scans();
        surfaces.push(annulus(160, 150, (81.3, 72.6), 60.0, (70.0, 80.0, 35.0)));
        for (n, s) in surfaces.iter().enumerate() {
            let (w, h) = (s.width as f64, s.height as f64);
            // Centres inside, on the last pixel, and outside the image.
            for centre in [
                (w / 2.0, h / 2.0),
                (w * 0.3, h * 0.7),
                (w - 0.5, 0.0),
                (-3.0, h / 2.0),
            ] {
                assert_eq!(
                    rim_points(s, centre),
                    rim_points_plainly(s, centre),
                    "surface {n}, centre {centre:?}"
                );
            }
        }
    }

    #[test]
    fn finds_a_bright_primer_disc_in_a_photograph() {
        let mut s = Surface::empty(200, 180, 25.0, SurfaceKind::Photograph);
        for y in 0..180 {
            for x in 0..200 {
                let d = (x as f64 - 110.0).hypot(y as f64 - 85.0);
                let i = s.index(x, y);
                s.valid[i] = true;
                s.values[i] = if d < 55.0 {
                    180.0
                } else if d < 70.0 {
                    20.0
                } else {
                    90.0
                };
            }
        }
        let c = primer_circle_in_photograph(&s, 40.0, 65.0).expect("circle");
        assert!(
            (c.cx - 110.0).abs() <= 2.0 && (c.cy - 85.0).abs() <= 2.0,
            "{c:?}"
        );
        assert!((c.radius - 55.0).abs() <= 3.0, "{c:?}");
    }
}
