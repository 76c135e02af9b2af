//! Resampling to the canonical physical resolution.
//!
//! Every comparison happens at one µm/pixel so that scans from different
//! instruments meet on equal terms; the scale always comes from the file.

use crate::error::{EngineError, Result};
use crate::surface::Surface;

/// Largest canonical surface [`check_resampled_size`] lets preprocessing
/// build, in pixels. Every later buffer is proportional to it (the circle
/// search alone holds about 150 bytes per pixel: 25 radius planes of votes
/// plus the gradients), so this bounds preprocessing's memory near 200 MB.
/// 1024 x 1024 at the canonical 25 µm is 25.6 mm, a whole case head.
pub const MAX_RESAMPLED_PIXELS: usize = 1024 * 1024;

/// Width and height of `width` x `height` pixels at `from_um_per_px` once
/// resampled to `to_um_per_px` (at least 1 x 1; saturating for absurd scales).
pub fn resampled_size(
    width: usize,
    height: usize,
    from_um_per_px: f64,
    to_um_per_px: f64,
) -> (usize, usize) {
    let factor = to_um_per_px / from_um_per_px;
    let side = |n: usize| ((n as f64) / factor).floor().max(1.0) as usize;
    (side(width), side(height))
}

/// Refuse, before anything is allocated, a surface whose resampling to
/// `to_um_per_px` would exceed [`MAX_RESAMPLED_PIXELS`], in either
/// direction: a coarse declared scale enlarges a small image, and a fine
/// canonical scale enlarges everything. The error names `um_per_px`, the
/// scale that decides the size.
pub fn check_resampled_size(surface: &Surface, to_um_per_px: f64, source_name: &str) -> Result<()> {
    let from = surface.um_per_px;
    if !(from.is_finite() && from > 0.0 && to_um_per_px.is_finite() && to_um_per_px > 0.0) {
        return Err(EngineError::invalid(
            source_name,
            "um_per_px",
            format!("cannot resample from {from} to {to_um_per_px} µm per pixel"),
        ));
    }
    let (w, h) = resampled_size(surface.width, surface.height, from, to_um_per_px);
    let pixels = w.saturating_mul(h);
    if pixels > MAX_RESAMPLED_PIXELS {
        return Err(EngineError::invalid(
            source_name,
            "um_per_px",
            format!(
                "{} x {} pixels at {from} µm per pixel resample to {w} x {h} at                  {to_um_per_px} µm per pixel ({pixels} pixels, the most is                  {MAX_RESAMPLED_PIXELS}): the declared scale makes the image                  far larger than a cartridge-case head",
                surface.width, surface.height
            ),
        ));
    }
    Ok(())
}

/// Resample to `target_um_per_px`: area averaging when shrinking (so fine
/// noise averages out instead of aliasing), bilinear when enlarging.
/// A target pixel is valid when at least half of the area it covers is.
///
/// The output's size follows from the scales alone: callers with untrusted
/// scales run [`check_resampled_size`] first.
pub fn resample(surface: &Surface, target_um_per_px: f64) -> Surface {
    let factor = target_um_per_px / surface.um_per_px;
    let (width, height) = resampled_size(
        surface.width,
        surface.height,
        surface.um_per_px,
        target_um_per_px,
    );
    let mut out = Surface::empty(width, height, target_um_per_px, surface.kind);
    if factor <= 1.0 {
        for y in 0..height {
            for x in 0..width {
                let sx = (x as f64 + 0.5) * factor - 0.5;
                let sy = (y as f64 + 0.5) * factor - 0.5;
                if let Some(v) = surface.sample(sx.max(0.0), sy.max(0.0)) {
                    let i = out.index(x, y);
                    out.values[i] = v;
                    out.valid[i] = true;
                }
            }
        }
        return out;
    }
    for y in 0..height {
        let y0 = (y as f64 * factor) as usize;
        let y1 = (((y + 1) as f64 * factor) as usize).min(surface.height);
        for x in 0..width {
            let x0 = (x as f64 * factor) as usize;
            let x1 = (((x + 1) as f64 * factor) as usize).min(surface.width);
            let (mut sum, mut n, mut total) = (0f64, 0usize, 0usize);
            for sy in y0..y1 {
                let row = sy * surface.width;
                for sx in x0..x1 {
                    total += 1;
                    if surface.valid[row + sx] {
                        sum += f64::from(surface.values[row + sx]);
                        n += 1;
                    }
                }
            }
            if n > 0 && 2 * n >= total {
                let i = out.index(x, y);
                out.values[i] = (sum / n as f64) as f32;
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

    #[test]
    fn shrinking_by_four_averages_blocks_and_keeps_the_physical_size() {
        let mut s = Surface::empty(40, 20, 6.25, SurfaceKind::Topography);
        for (i, v) in s.values.iter_mut().enumerate() {
            *v = (i % 40) as f32;
        }
        s.valid.iter_mut().for_each(|v| *v = true);
        let r = resample(&s, 25.0);
        assert_eq!((r.width, r.height), (10, 5));
        assert_eq!(r.um_per_px, 25.0);
        // Block 0 covers columns 0..4: mean 1.5.
        assert!((r.values[0] - 1.5).abs() < 1e-6);
        assert!((r.values[9] - 37.5).abs() < 1e-6);
    }

    #[test]
    fn mostly_missing_blocks_become_invalid() {
        let mut s = Surface::empty(8, 4, 5.0, SurfaceKind::Topography);
        // Only one of the 4x4 samples of the left block is valid.
        s.valid[0] = true;
        for y in 0..4 {
            for x in 4..8 {
                let i = s.index(x, y);
                s.valid[i] = true;
            }
        }
        let r = resample(&s, 20.0);
        assert_eq!(r.valid, vec![false, true]);
    }

    fn refused_field(result: Result<()>) -> String {
        match result {
            Err(EngineError::InvalidInput { field, reason, .. }) => {
                assert_eq!(field, "um_per_px");
                reason
            }
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }

    #[test]
    fn a_coarse_declared_scale_is_refused_before_enlarging() {
        // The case: 256 x 256 declared at 500 µm per pixel would
        // become 5120 x 5120 at 25 µm.
        let s = Surface::empty(256, 256, 500.0, SurfaceKind::Photograph);
        assert_eq!(resampled_size(256, 256, 500.0, 25.0), (5120, 5120));
        let reason = refused_field(check_resampled_size(&s, 25.0, "tiny.png"));
        assert!(reason.contains("5120 x 5120"), "{reason}");
        // The same pixels at a microscope's scale are fine.
        let s = Surface::empty(256, 256, 3.0, SurfaceKind::Photograph);
        assert!(check_resampled_size(&s, 25.0, "t").is_ok());
    }

    #[test]
    fn a_fine_target_scale_is_bounded_too() {
        // Enlarging in the other direction: a real-sized scan resampled to
        // a tiny canonical pixel.
        let s = Surface::empty(2048, 2048, 2.5, SurfaceKind::Topography);
        assert!(check_resampled_size(&s, 25.0, "t").is_ok());
        let reason = refused_field(check_resampled_size(&s, 0.5, "t"));
        assert!(reason.contains("10240 x 10240"), "{reason}");
        for bad in [0.0, f64::NAN, -1.0] {
            refused_field(check_resampled_size(&s, bad, "t"));
        }
    }
}
