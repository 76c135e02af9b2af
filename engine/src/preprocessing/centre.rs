//! Finding the centre of the breech-face region.
//!
//! Rotation between two casings is arbitrary, but it is a rotation about the
//! primer's centre; finding that centre well turns a 3-parameter search
//! (rotation and translation) into a rotation search plus a small
//! translation refinement.

use super::hough::{hough_circle, CircleSearch, Polarity};
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocessing::hough::tests::levelled_synthetic_scans;
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
