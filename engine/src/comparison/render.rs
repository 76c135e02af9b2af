//! Canvases made ready for a person to look at: heights quantised to 16
//! bits for a client to draw as it likes, a hill-shaded PNG, and a
//! candidate's canvas resampled into the query's frame at the registration
//! the comparison found, so the two overlay pixel for pixel.

use std::io::Cursor;

use super::translation::rotate;
use crate::error::{EngineError, Result};
use crate::surface::Surface;

/// The quantised code of a sample with no data.
pub const NO_DATA: u16 = u16::MAX;
/// The code of the highest valid sample (`NO_DATA - 1`).
pub const TOP_CODE: u16 = u16::MAX - 1;

/// A canvas as 16-bit codes: value `v` stands for
/// `min + (max - min) * v / TOP_CODE`; [`NO_DATA`] marks no data.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantisedHeights {
    pub width: usize,
    pub height: usize,
    pub min: f64,
    pub max: f64,
    /// Row-major, `width * height` codes.
    pub codes: Vec<u16>,
}

/// Quantise `s` over its own range of valid values (0 and 0 when it has
/// none). A flat surface codes every valid sample as 0.
pub fn quantise(s: &Surface) -> QuantisedHeights {
    let valid = || {
        s.values
            .iter()
            .zip(&s.valid)
            .filter(|(_, ok)| **ok)
            .map(|(v, _)| f64::from(*v))
    };
    let (min, max) = valid().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let (min, max) = if min.is_finite() {
        (min, max)
    } else {
        (0.0, 0.0)
    };
    let span = max - min;
    let codes = s
        .values
        .iter()
        .zip(&s.valid)
        .map(|(v, ok)| match (*ok, span > 0.0) {
            (false, _) => NO_DATA,
            (true, false) => 0,
            (true, true) => {
                let t = (f64::from(*v) - min) / span;
                (t * f64::from(TOP_CODE))
                    .round()
                    .clamp(0.0, f64::from(TOP_CODE)) as u16
            }
        })
        .collect();
    QuantisedHeights {
        width: s.width,
        height: s.height,
        min,
        max,
        codes,
    }
}

/// Hill shading of `s` as grey and alpha bytes (no data is transparent),
/// lit from `azimuth_deg` (clockwise from the top of the image, as on a
/// map) at `elevation_deg` above the horizon.
///
/// The relief is exaggerated so that the RMS slope is 45°: a prepared
/// canvas is band-passed to marks of a few µm over hundreds of µm, which
/// at true scale would shade as a flat grey; a fixed exaggeration makes
/// every casing look alike in contrast, so they can be compared by eye.
pub fn hillshade(s: &Surface, azimuth_deg: f64, elevation_deg: f64) -> Vec<u8> {
    let (w, h) = (s.width, s.height);
    // Gradients by central differences where both neighbours are valid,
    // one-sided at the edges of the data.
    let at = |x: usize, y: usize| {
        let i = s.index(x, y);
        s.valid[i].then(|| f64::from(s.values[i]))
    };
    let diff = |here: f64, before: Option<f64>, after: Option<f64>| match (before, after) {
        (Some(b), Some(a)) => (a - b) / 2.0,
        (None, Some(a)) => a - here,
        (Some(b), None) => here - b,
        (None, None) => 0.0,
    };
    let mut gradients: Vec<Option<(f64, f64)>> = vec![None; w * h];
    for y in 0..h {
        for x in 0..w {
            let Some(here) = at(x, y) else { continue };
            let left = (x > 0).then(|| at(x - 1, y)).flatten();
            let right = (x + 1 < w).then(|| at(x + 1, y)).flatten();
            let up = (y > 0).then(|| at(x, y - 1)).flatten();
            let down = (y + 1 < h).then(|| at(x, y + 1)).flatten();
            gradients[y * w + x] = Some((diff(here, left, right), diff(here, up, down)));
        }
    }
    let (n, sum_sq) = gradients
        .iter()
        .flatten()
        .fold((0usize, 0.0), |(n, s), (gx, gy)| {
            (n + 1, s + gx * gx + gy * gy)
        });
    let rms = if n > 0 {
        (sum_sq / n as f64).sqrt()
    } else {
        0.0
    };
    let exaggeration = if rms > 0.0 { 1.0 / rms } else { 0.0 };
    let zenith = (90.0 - elevation_deg).to_radians();
    // Light direction in image coordinates (x right, y down, z up): an
    // azimuth of 0° lights from the top, 90° from the right.
    let az = azimuth_deg.to_radians();
    let light = (
        zenith.sin() * az.sin(),
        -zenith.sin() * az.cos(),
        zenith.cos(),
    );
    let mut out = vec![0u8; 2 * w * h];
    for (i, g) in gradients.iter().enumerate() {
        let Some((gx, gy)) = g else { continue };
        // The surface normal of z = f(x, y) is (-fx, -fy, 1).
        let (nx, ny, nz) = (-gx * exaggeration, -gy * exaggeration, 1.0);
        let norm = (nx * nx + ny * ny + nz * nz).sqrt();
        let shade = ((nx * light.0 + ny * light.1 + nz * light.2) / norm).max(0.0);
        out[2 * i] = (shade * 255.0).round() as u8;
        out[2 * i + 1] = u8::MAX;
    }
    out
}

/// [`hillshade`] encoded as an 8-bit grey-and-alpha PNG.
pub fn hillshade_png(s: &Surface, azimuth_deg: f64, elevation_deg: f64) -> Result<Vec<u8>> {
    let pixels = hillshade(s, azimuth_deg, elevation_deg);
    let image = image::GrayAlphaImage::from_raw(s.width as u32, s.height as u32, pixels)
        .ok_or_else(|| EngineError::internal("hill shading: buffer does not fit the canvas"))?;
    let mut png = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| EngineError::internal(format!("hill shading: PNG encoding: {e}")))?;
    Ok(png)
}

/// `b` brought into `a`'s frame by a registration found by the comparison
/// (`b` turned by `rotation_deg`, then its pixel `p + (dx, dy)` read at
/// `a`'s pixel `p`): the same size as `b`, no data where `b` has none.
pub fn registered_onto(b: &Surface, rotation_deg: f64, dx_px: i64, dy_px: i64) -> Surface {
    let turned = rotate(b, rotation_deg);
    let mut out = Surface::empty(b.width, b.height, b.um_per_px, b.kind);
    for y in 0..b.height {
        for x in 0..b.width {
            let (sx, sy) = (x as i64 + dx_px, y as i64 + dy_px);
            if sx < 0 || sy < 0 || sx >= b.width as i64 || sy >= b.height as i64 {
                continue;
            }
            let j = turned.index(sx as usize, sy as usize);
            if turned.valid[j] {
                let i = out.index(x, y);
                out.values[i] = turned.values[j];
                out.valid[i] = true;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::surface::SurfaceKind;

    fn ramp(w: usize, h: usize, f: impl Fn(usize, usize) -> Option<f32>) -> Surface {
        let mut s = Surface::empty(w, h, 25.0, SurfaceKind::Topography);
        for y in 0..h {
            for x in 0..w {
                if let Some(v) = f(x, y) {
                    let i = s.index(x, y);
                    s.values[i] = v;
                    s.valid[i] = true;
                }
            }
        }
        s
    }

    #[test]
    fn quantised_heights_decode_to_within_one_step_and_mark_no_data() {
        let s = ramp(7, 5, |x, y| {
            (x != 3).then_some(x as f32 * 0.37 - y as f32 * 1.1)
        });
        let q = quantise(&s);
        let step = (q.max - q.min) / f64::from(TOP_CODE);
        for (i, code) in q.codes.iter().enumerate() {
            if !s.valid[i] {
                assert_eq!(*code, NO_DATA);
                continue;
            }
            let decoded = q.min + (q.max - q.min) * f64::from(*code) / f64::from(TOP_CODE);
            assert!((decoded - f64::from(s.values[i])).abs() <= step, "{i}");
        }
        assert!(q.codes.contains(&0) && q.codes.contains(&TOP_CODE));
        let flat = quantise(&ramp(3, 3, |_, _| Some(2.0)));
        assert_eq!((flat.min, flat.max), (2.0, 2.0));
        assert!(flat.codes.iter().all(|c| *c == 0));
        let empty = quantise(&ramp(2, 2, |_, _| None));
        assert!(empty.codes.iter().all(|c| *c == NO_DATA));
    }

    #[test]
    fn slopes_facing_the_light_are_brighter_and_no_data_is_transparent() {
        // A roof: rising to the right on the left half, falling on the
        // right half. Light from the west (270°) falls on the left slope.
        let roof = ramp(20, 10, |x, y| {
            (y != 0).then_some(if x < 10 { x as f32 } else { 20.0 - x as f32 })
        });
        let px = hillshade(&roof, 270.0, 45.0);
        let grey = |x: usize, y: usize| px[2 * (y * 20 + x)];
        let alpha = |x: usize, y: usize| px[2 * (y * 20 + x) + 1];
        assert!(
            grey(4, 5) > grey(15, 5),
            "{} vs {}",
            grey(4, 5),
            grey(15, 5)
        );
        assert_eq!(alpha(4, 5), 255);
        assert_eq!(alpha(4, 0), 0);
        // The PNG holds the same pixels.
        let png = hillshade_png(&roof, 270.0, 45.0).unwrap();
        let back = image::load_from_memory(&png).unwrap().to_luma_alpha8();
        assert_eq!(back.dimensions(), (20, 10));
        assert_eq!(back.into_raw(), px);
    }

    #[test]
    fn a_registered_candidate_lands_on_the_query_pixel_for_pixel() {
        let a = ramp(40, 40, |x, y| {
            let (dx, dy) = (x as f32 - 19.5, y as f32 - 19.5);
            (dx * dx + dy * dy < 300.0).then_some((x as f32 * 0.7).sin() + (y as f32 * 0.4).cos())
        });
        // A shift alone: b holds a moved by (2, -3); reading b at p + (2, -3)
        // gives a back exactly.
        let shifted = registered_onto(&a, 0.0, -2, 3);
        let back = registered_onto(&shifted, 0.0, 2, -3);
        let mut overlap = 0;
        for i in 0..a.values.len() {
            if back.valid[i] {
                assert!(a.valid[i]);
                assert_eq!(back.values[i], a.values[i]);
                overlap += 1;
            }
        }
        assert!(overlap > 800, "{overlap}");
        // A turn: b is a turned by 30°; registered at 330° it lies on a
        // again (two bilinear resamplings: close, not exact).
        let turned = rotate(&a, 30.0);
        let back = registered_onto(&turned, 330.0, 0, 0);
        let (mut n, mut err) = (0, 0.0f64);
        for i in 0..a.values.len() {
            if a.valid[i] && back.valid[i] {
                n += 1;
                err += f64::from((a.values[i] - back.values[i]).abs());
            }
        }
        assert!(n > 600, "{n} overlapping samples");
        assert!(err / (n as f64) < 0.1, "mean error {}", err / n as f64);
    }
}
