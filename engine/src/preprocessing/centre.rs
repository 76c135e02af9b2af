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

fn rim_points(surface: &Surface, (cx, cy): (f64, f64)) -> Vec<(f64, f64)> {
    const RAYS: usize = 360;
    let max_r = (surface.width.max(surface.height)) as f64;
    let mut points = Vec::with_capacity(RAYS);
    for k in 0..RAYS {
        let theta = k as f64 * std::f64::consts::TAU / RAYS as f64;
        let (dx, dy) = (theta.cos(), theta.sin());
        let mut last = None;
        let mut r = 0.0;
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
    residuals.sort_by(f64::total_cmp);
    let median = residuals[residuals.len() / 2].max(0.5);
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
    let radii: Vec<f64> = (0..=24)
        .map(|k| search.min_radius + (search.max_radius - search.min_radius) * k as f64 / 24.0)
        .collect();
    let sign = match search.polarity {
        Polarity::RaisedDisc => 1.0,
        Polarity::SunkenDisc => -1.0,
    };
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
    // Where the centre may be, worked out once rather than per radius.
    let allowed: Option<Vec<bool>> = search.centre_near.map(|((nx, ny), d)| {
        (0..w * h)
            .map(|i| ((i % w) as f64 - nx).hypot((i / w) as f64 - ny) <= d)
            .collect()
    });
    let mut best = (0f32, 0usize, 0usize);
    for (ri, plane) in votes.iter().enumerate() {
        let smoothed = box3(plane, w, h);
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

/// Sobel gradients `(x, y, unit x, unit y, magnitude)` at pixels whose 3x3
/// neighbourhood is wholly valid.
fn valid_gradients(surface: &Surface) -> Vec<(usize, usize, f32, f32, f32)> {
    let (w, h) = (surface.width, surface.height);
    let mut gradients = Vec::new();
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let all_valid =
                (0..3).all(|dy| (0..3).all(|dx| surface.valid[(y + dy - 1) * w + x + dx - 1]));
            if !all_valid {
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
    let mut strong = vec![None; w * h];
    for &(x, y, ux, uy, mag) in gradients {
        if mag >= threshold {
            strong[y * w + x] = Some((f64::from(ux), f64::from(uy)));
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
            strong[y as usize * w + x as usize].is_some_and(|(ux, uy)| {
                -(ux * rx + uy * ry) * sign > std::f64::consts::FRAC_1_SQRT_2
            })
        });
        if hit {
            hits += 1;
        }
    }
    hits as f64 / POINTS as f64
}

fn box3(plane: &[f32], w: usize, h: usize) -> Vec<f32> {
    let mut out = vec![0f32; plane.len()];
    if w < 3 || h < 3 {
        return out;
    }
    // Sums in the order of a plain 3x3 loop (row above, own row, row
    // below; left to right), over row slices so the loop vectorises: the
    // Hough search smooths 25 planes per casing.
    for y in 1..h - 1 {
        let rows = [
            &plane[(y - 1) * w..y * w],
            &plane[y * w..(y + 1) * w],
            &plane[(y + 1) * w..(y + 2) * w],
        ];
        let out_row = &mut out[y * w..(y + 1) * w];
        for x in 1..w - 1 {
            let mut s = 0.0;
            for row in rows {
                s += row[x - 1];
                s += row[x];
                s += row[x + 1];
            }
            out_row[x] = s;
        }
    }
    out
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
