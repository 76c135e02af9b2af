//! Resampling to the canonical physical resolution.
//!
//! Every comparison happens at one µm/pixel so that scans from different
//! instruments meet on equal terms; the scale always comes from the file.

use crate::surface::Surface;

/// Resample to `target_um_per_px`: area averaging when shrinking (so fine
/// noise averages out instead of aliasing), bilinear when enlarging.
/// A target pixel is valid when at least half of the area it covers is.
pub fn resample(surface: &Surface, target_um_per_px: f64) -> Surface {
    let factor = target_um_per_px / surface.um_per_px;
    let width = ((surface.width as f64) / factor).floor().max(1.0) as usize;
    let height = ((surface.height as f64) / factor).floor().max(1.0) as usize;
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
}
