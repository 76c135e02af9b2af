//! Finding the breech-face region and the firing-pin impression in scans
//! as labs produce them, and turning them into the validity mask.
//!
//! Two kinds of topography arrive. *Cropped* scans (the Weller set) hold
//! only the breech face, with the firing-pin hole already missing: the rim
//! of the valid region is the region. *Raw* scans hold the whole primer,
//! the gap around it, some of the case head, and the firing-pin crater. A
//! raw scan is recognised by a circular step down (primer to gap) with
//! valid surface on both sides; the crater by a connected region far below
//! the primer face. Photographs have no heights: the primer is the bright
//! disc and the pin impression a dark-rimmed disc near its centre.

use super::centre::{outer_circle_of_valid_region, Circle};
use super::form::{fit_form, subtract_form, FormFit, FormOrder};
use super::hough::{hough_circle, CircleSearch, Polarity};
use crate::surface::Surface;

/// What was found in a surface at the canonical resolution, in its pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct Regions {
    /// The breech-face region's outer circle: the primer (raw scans,
    /// photographs) or the rim of the valid region (cropped scans).
    pub primer: Circle,
    /// Whether the primer was found as an edge inside the scan (a raw scan)
    /// rather than as the rim of what is valid.
    pub raw: bool,
    /// Pixels of the firing-pin impression (with a safety margin), when one
    /// was found; already-cropped scans have none.
    pub pin: Option<PinImpression>,
}

/// The firing-pin impression: its pixels and their area-equivalent circle.
#[derive(Debug, Clone, PartialEq)]
pub struct PinImpression {
    pub mask: Vec<bool>,
    pub circle: Circle,
}

/// Least fraction of the circumference on a matching edge for a circle to be
/// believed (a full primer edge scores ~0.8-1, texture ~0.1-0.3).
const MIN_SUPPORT: f64 = 0.5;
/// Least fraction valid of a band just outside a primer edge for the scan to
/// count as raw: a cropped scan has nothing valid outside its rim.
const MIN_VALID_OUTSIDE: f64 = 0.5;

/// Regions of a topography at the canonical resolution, levelled by `form`
/// (robustly, so the primer face is near 0 and the crater far below).
pub fn topography_regions(
    surface: &Surface,
    form: &FormFit,
    primer_radius_px: (f64, f64),
    pin_depth_um: f64,
    pin_margin_px: f64,
) -> Option<Regions> {
    let (primer, raw) = match raw_primer_edge(surface, primer_radius_px) {
        Some(c) => (c, true),
        None => (outer_circle_of_valid_region(surface)?, false),
    };
    // Deeper than both an absolute depth and many robust sigmas of the
    // face: breech-face marks are a few µm, pin craters tens to hundreds.
    // In a raw scan the first levelling spans primer, gap and case head;
    // when the head sits tens of µm off the primer its sigma is that of
    // the mixture (9-15 µm against 2-3 µm of the face alone), 8 of them
    // exceed a shallow crater's depth, and the crater stayed in the canvas
    // as a radially symmetric bowl that every other such scan matched at
    // any angle. So a raw scan is levelled again on its primer face, and
    // the crater measured from there.
    let face = if raw {
        level_on_face(surface, &primer)
    } else {
        None
    };
    let (levelled, sigma) = match &face {
        Some((s, f)) => (s, f.residual_sigma),
        None => (surface, form.residual_sigma),
    };
    let depth = pin_depth_um.max(8.0 * sigma);
    let pin = pin_crater(levelled, &primer, depth, pin_margin_px);
    Some(Regions { primer, raw, pin })
}

/// Share of the primer radius whose samples level the face: inside the
/// rounded primer edge, so that only breech face and crater are fitted (the
/// crater is a minority the robust fit sets aside).
const FACE_FIT_RADIUS: f64 = 0.9;

/// `surface` with the plane of its primer face removed, and that fit.
fn level_on_face(surface: &Surface, primer: &Circle) -> Option<(Surface, FormFit)> {
    let inside = disc_mask(surface.width, surface.height, primer, FACE_FIT_RADIUS);
    let face = fit_form(surface, FormOrder::Plane, Some(&inside))?;
    let mut levelled = surface.clone();
    subtract_form(&mut levelled, &face);
    Some((levelled, face))
}

/// The primer's edge in a raw scan, when there is one: a raised disc with
/// strong edge support and valid surface (gap floor, case head) outside it.
fn raw_primer_edge(surface: &Surface, (min_r, max_r): (f64, f64)) -> Option<Circle> {
    let found = hough_circle(
        surface,
        &CircleSearch {
            min_radius: min_r,
            max_radius: max_r,
            polarity: Polarity::RaisedDisc,
            centre_near: None,
        },
    )?;
    if found.support < MIN_SUPPORT {
        return None;
    }
    let c = found.circle;
    let (mut inside_image, mut valid) = (0usize, 0usize);
    for k in 0..360 {
        let theta = f64::from(k) * std::f64::consts::TAU / 360.0;
        for dr in [3.0, 5.0, 7.0] {
            let (x, y) = (
                c.cx + (c.radius + dr) * theta.cos(),
                c.cy + (c.radius + dr) * theta.sin(),
            );
            if x < 0.0 || y < 0.0 || x >= surface.width as f64 || y >= surface.height as f64 {
                continue;
            }
            inside_image += 1;
            valid += usize::from(surface.valid[surface.index(x as usize, y as usize)]);
        }
    }
    (inside_image > 0 && valid as f64 / inside_image as f64 >= MIN_VALID_OUTSIDE).then_some(c)
}

/// The largest 4-connected set of samples inside the primer lying more than
/// `depth` below the face, grown by `margin_px` (the crater's upper walls
/// and its raised lip are not breech-face marks either). Small sets (under
/// 1% of the primer) are pits, not a pin impression.
fn pin_crater(
    surface: &Surface,
    primer: &Circle,
    depth: f64,
    margin_px: f64,
) -> Option<PinImpression> {
    let (w, h) = (surface.width, surface.height);
    let deep: Vec<bool> = (0..w * h)
        .map(|i| {
            let (x, y) = ((i % w) as f64, (i / w) as f64);
            surface.valid[i]
                && f64::from(surface.values[i]) < -depth
                && (x - primer.cx).hypot(y - primer.cy) < primer.radius
        })
        .collect();
    let component = largest_component(&deep, w, h)?;
    let area = component.len() as f64;
    if area < 0.01 * std::f64::consts::PI * primer.radius * primer.radius {
        return None;
    }
    let (sx, sy) = component.iter().fold((0.0, 0.0), |(a, b), &i| {
        (a + (i % w) as f64, b + (i / w) as f64)
    });
    let circle = Circle {
        cx: sx / area,
        cy: sy / area,
        radius: (area / std::f64::consts::PI).sqrt(),
    };
    let mut mask = vec![false; w * h];
    for &i in &component {
        mask[i] = true;
    }
    Some(PinImpression {
        mask: dilate(&mask, w, h, margin_px),
        circle,
    })
}

fn largest_component(mask: &[bool], w: usize, h: usize) -> Option<Vec<usize>> {
    let mut seen = vec![false; mask.len()];
    let mut best: Option<Vec<usize>> = None;
    for start in 0..mask.len() {
        if !mask[start] || seen[start] {
            continue;
        }
        seen[start] = true;
        let mut stack = vec![start];
        let mut members = Vec::new();
        while let Some(i) = stack.pop() {
            members.push(i);
            let (x, y) = (i % w, i / w);
            let mut push = |j: usize| {
                if mask[j] && !seen[j] {
                    seen[j] = true;
                    stack.push(j);
                }
            };
            if x > 0 {
                push(i - 1);
            }
            if x + 1 < w {
                push(i + 1);
            }
            if y > 0 {
                push(i - w);
            }
            if y + 1 < h {
                push(i + w);
            }
        }
        if best.as_ref().is_none_or(|b| members.len() > b.len()) {
            best = Some(members);
        }
    }
    best
}

/// Grow `mask` by a disc of `radius` pixels.
fn dilate(mask: &[bool], w: usize, h: usize, radius: f64) -> Vec<bool> {
    let r = radius.max(0.0).ceil() as isize;
    let offsets: Vec<(isize, isize)> = (-r..=r)
        .flat_map(|dy| (-r..=r).map(move |dx| (dx, dy)))
        .filter(|(dx, dy)| ((dx * dx + dy * dy) as f64).sqrt() <= radius)
        .collect();
    let mut out = mask.to_vec();
    for (i, _) in mask.iter().enumerate().filter(|(_, m)| **m) {
        let (x, y) = ((i % w) as isize, (i / w) as isize);
        for (dx, dy) in &offsets {
            let (nx, ny) = (x + dx, y + dy);
            if nx >= 0 && ny >= 0 && (nx as usize) < w && (ny as usize) < h {
                out[ny as usize * w + nx as usize] = true;
            }
        }
    }
    out
}

/// The firing-pin impression in a photograph: a darker-inside circle of
/// `radius_range` fractions of the primer radius, centred within a third of
/// the primer radius of its centre, believed only with strong edge support.
pub fn photograph_pin(
    surface: &Surface,
    primer: &Circle,
    radius_range: (f64, f64),
) -> Option<Circle> {
    let found = hough_circle(
        surface,
        &CircleSearch {
            min_radius: radius_range.0 * primer.radius,
            max_radius: radius_range.1 * primer.radius,
            polarity: Polarity::SunkenDisc,
            centre_near: Some(((primer.cx, primer.cy), primer.radius / 3.0)),
        },
    )?;
    (found.support >= MIN_SUPPORT).then_some(found.circle)
}

/// Invalidate everything outside `outer` (a fraction of the primer radius)
/// and the pin impression's pixels.
pub fn mask_regions(surface: &mut Surface, primer: &Circle, outer: f64, pin_mask: Option<&[bool]>) {
    if outer == f64::INFINITY {
        // Nothing lies beyond an infinite radius (a cropped scan's rim is
        // already the edge of what is valid): skip the distances.
        if let Some(m) = pin_mask {
            for ((v, ok), masked) in surface.values.iter_mut().zip(&mut surface.valid).zip(m) {
                if *masked {
                    *ok = false;
                    *v = 0.0;
                }
            }
        }
        return;
    }
    for y in 0..surface.height {
        for x in 0..surface.width {
            let i = surface.index(x, y);
            let d = (x as f64 - primer.cx).hypot(y as f64 - primer.cy) / primer.radius;
            if d > outer || pin_mask.is_some_and(|m| m[i]) {
                surface.valid[i] = false;
                surface.values[i] = 0.0;
            }
        }
    }
}

/// A disc mask of `circle` grown by `factor`.
pub fn disc_mask(w: usize, h: usize, circle: &Circle, factor: f64) -> Vec<bool> {
    (0..w * h)
        .map(|i| {
            let (x, y) = ((i % w) as f64, (i / w) as f64);
            (x - circle.cx).hypot(y - circle.cy) <= circle.radius * factor
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::preprocessing::{prepare, PreprocessConfig};
    use crate::synth::{fire, fire_raw, make_gun, RawConfig, SynthConfig};

    fn synth() -> SynthConfig {
        // 12.5 µm/px keeps the test quick; the pipeline resamples anyway.
        SynthConfig {
            um_per_px: 12.5,
            ..SynthConfig::default()
        }
    }

    #[test]
    fn finds_primer_and_pin_crater_of_raw_synthetic_scans() {
        let (cfg, raw, pre) = (synth(), RawConfig::default(), PreprocessConfig::default());
        for seed in 0..4u64 {
            let gun = make_gun(100 + seed, None, &cfg);
            let (scan, truth) = fire_raw(&gun, 200 + seed, &cfg, &raw);
            let p = prepare(&scan, "raw", &pre).expect("raw scan prepares");
            assert!(p.region_found_in_scan, "seed {seed}: primer edge not found");
            let (cx, cy) = p.region_centre_um;
            let (tx, ty) = truth.primer_centre_um;
            assert!(
                (cx - tx).hypot(cy - ty) < 50.0,
                "seed {seed}: centre {:?} vs {:?}",
                p.region_centre_um,
                truth.primer_centre_um
            );
            let r_err =
                (p.region_radius_um - truth.primer_radius_um).abs() / truth.primer_radius_um;
            assert!(
                r_err < 0.04,
                "seed {seed}: radius {} vs {}",
                p.region_radius_um,
                truth.primer_radius_um
            );
            let (px, py, pr) = p.pin_impression_um.expect("pin crater found");
            let (qx, qy) = truth.pin_centre_um;
            assert!(
                (px - qx).hypot(py - qy) < 75.0,
                "seed {seed}: pin at {px},{py} vs {qx},{qy}"
            );
            // The deep part of a shallow crater is smaller than its rim.
            assert!(
                (0.7..1.1).contains(&(pr / truth.pin_radius_um)),
                "seed {seed}: pin radius {pr} vs {}",
                truth.pin_radius_um
            );

            // The canvas: crater and everything outside the primer masked,
            // the breech face between them kept.
            let s = &p.surface;
            let half = (s.width as f64 - 1.0) / 2.0;
            let um = pre.um_per_px;
            let (pin_dx, pin_dy) = ((qx - tx) / um, (qy - ty) / um);
            let (mut face, mut face_valid) = (0usize, 0usize);
            for y in 0..s.height {
                for x in 0..s.width {
                    let (dx, dy) = (x as f64 - half, y as f64 - half);
                    let r_um = dx.hypot(dy) * um;
                    let pin_um = (dx - pin_dx).hypot(dy - pin_dy) * um;
                    let valid = s.valid[s.index(x, y)];
                    if pin_um < 0.9 * truth.pin_radius_um || r_um > truth.primer_radius_um {
                        assert!(!valid, "seed {seed}: ({x},{y}) should be masked");
                    }
                    if pin_um > truth.pin_radius_um + pre.pin_margin_um + 2.0 * um
                        && r_um < 0.85 * truth.primer_radius_um
                    {
                        face += 1;
                        face_valid += usize::from(valid);
                    }
                }
            }
            let kept = face_valid as f64 / face as f64;
            assert!(
                kept > 0.85,
                "seed {seed}: only {kept:.2} of the breech face kept"
            );
        }
    }

    #[test]
    fn a_shallow_crater_is_found_when_the_case_head_sits_far_off_the_primer() {
        // The case: thin-ring raw scans whose case head sat ~40 µm off the
        // primer face gave the whole-scan levelling a sigma of 9-15 µm, so
        // 8 sigmas exceeded a 60-100 µm crater, the crater stayed in the
        // canvas and different guns' scans matched on it.
        let cfg = synth();
        let raw = RawConfig {
            pin_depth_um: (60.0, 70.0),
            ..RawConfig::default()
        };
        let pre = PreprocessConfig::default();
        for seed in 0..3u64 {
            let gun = make_gun(300 + seed, None, &cfg);
            let (mut scan, truth) = fire_raw(&gun, 400 + seed, &cfg, &raw);
            let (tx, ty) = truth.primer_centre_um;
            for y in 0..scan.height {
                for x in 0..scan.width {
                    let (ux, uy) = (
                        (x as f64 + 0.5) * cfg.um_per_px,
                        (y as f64 + 0.5) * cfg.um_per_px,
                    );
                    if (ux - tx).hypot(uy - ty) > truth.primer_radius_um {
                        let i = scan.index(x, y);
                        scan.values[i] += 45.0;
                    }
                }
            }
            let p = prepare(&scan, "raw", &pre).expect("raw scan prepares");
            assert!(p.region_found_in_scan, "seed {seed}: primer edge not found");
            let (px, py, _) = p
                .pin_impression_um
                .unwrap_or_else(|| panic!("seed {seed}: shallow crater not found"));
            let (qx, qy) = truth.pin_centre_um;
            assert!(
                (px - qx).hypot(py - qy) < 75.0,
                "seed {seed}: pin at {px},{py} vs {qx},{qy}"
            );
        }
    }

    #[test]
    fn raw_and_cropped_scans_of_one_gun_give_similar_canvases() {
        // Same gun, same firing texture: the raw scan's canvas must carry
        // the same marks as a cropped scan does, whatever the crater and
        // tilt around them. Measured as the best correlation over rotations
        // of the two canvases' polar unwraps against a different gun's.
        // No play in the breech: this is about the masks, not registration.
        let cfg = SynthConfig {
            max_shift_um: 0.0,
            ..synth()
        };
        let (raw, pre) = (RawConfig::default(), PreprocessConfig::default());
        let gun = make_gun(7, None, &cfg);
        let other = make_gun(8, None, &cfg);
        let (a, _) = fire_raw(&gun, 1, &cfg, &raw);
        let b = fire(&gun, 2, &cfg);
        let c = fire(&other, 3, &cfg);
        let pa = prepare(&a, "a", &pre).expect("raw");
        let pb = prepare(&b, "b", &pre).expect("cropped");
        let pc = prepare(&c, "c", &pre).expect("cropped");
        assert!(!pb.region_found_in_scan && pb.pin_impression_um.is_none());
        let same = best_rotation_correlation(&pa.surface, &pb.surface);
        let different = best_rotation_correlation(&pa.surface, &pc.surface);
        assert!(
            same > different + 0.1,
            "same gun {same:.3}, different {different:.3}"
        );
    }

    fn best_rotation_correlation(a: &crate::surface::Surface, b: &crate::surface::Surface) -> f64 {
        use crate::preprocessing::{unwrap, PolarGrid};
        let grid = PolarGrid {
            rings: 24,
            angles: 180,
            inner_radius_px: 20.0,
            outer_radius_px: 60.0,
        };
        let (pa, pb) = (unwrap(a, &grid), unwrap(b, &grid));
        (0..grid.angles)
            .map(|shift| {
                let (mut sab, mut saa, mut sbb) = (0f64, 0f64, 0f64);
                for ring in 0..grid.rings {
                    for k in 0..grid.angles {
                        let i = ring * grid.angles + k;
                        let j = ring * grid.angles + (k + shift) % grid.angles;
                        if pa.valid[i] && pb.valid[j] {
                            let (x, y) = (f64::from(pa.values[i]), f64::from(pb.values[j]));
                            sab += x * y;
                            saa += x * x;
                            sbb += y * y;
                        }
                    }
                }
                sab / (saa * sbb).sqrt().max(1e-12)
            })
            .fold(f64::MIN, f64::max)
    }
}
