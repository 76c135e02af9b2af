//! Masked Gaussian filtering (normalised convolution) and the band-pass
//! built from it.
//!
//! Masked: invalid samples neither contribute nor get filled, so the edge of
//! the region of interest and the firing-pin hole do not ring.

use crate::surface::Surface;

/// Gaussian sigma (in pixels) of the filter whose 50% transmission is at
/// `cutoff_um`, the convention of ISO 16610-61 used by the field.
pub fn sigma_for_cutoff(cutoff_um: f64, um_per_px: f64) -> f64 {
    (std::f64::consts::LN_2 / 2.0).sqrt() / std::f64::consts::PI * cutoff_um / um_per_px
}

/// Low-pass the valid samples with a Gaussian of `sigma` pixels.
pub fn masked_gaussian(surface: &Surface, sigma: f64) -> Vec<f32> {
    let kernel = gaussian_kernel(sigma);
    let (w, h) = (surface.width, surface.height);
    let weights: Vec<f32> = surface
        .valid
        .iter()
        .map(|v| f32::from(u8::from(*v)))
        .collect();
    let values: Vec<f32> = surface
        .values
        .iter()
        .zip(&weights)
        .map(|(v, m)| v * m)
        .collect();
    let num = separable(&values, w, h, &kernel);
    let den = separable(&weights, w, h, &kernel);
    num.iter()
        .zip(&den)
        .zip(&surface.valid)
        .map(|((n, d), ok)| if *ok && *d > 1e-6 { n / d } else { 0.0 })
        .collect()
}

/// Remove wavelengths longer than `long_cutoff_um` (form, waviness) and,
/// when it is above the pixel size, shorter than `short_cutoff_um` (noise).
pub fn band_pass(surface: &mut Surface, short_cutoff_um: f64, long_cutoff_um: f64) {
    let long_sigma = sigma_for_cutoff(long_cutoff_um, surface.um_per_px);
    let background = masked_gaussian(surface, long_sigma);
    for ((v, b), ok) in surface
        .values
        .iter_mut()
        .zip(&background)
        .zip(&surface.valid)
    {
        if *ok {
            *v -= b;
        }
    }
    let short_sigma = sigma_for_cutoff(short_cutoff_um, surface.um_per_px);
    if short_sigma >= 0.5 {
        surface.values = masked_gaussian(surface, short_sigma);
    }
}

fn gaussian_kernel(sigma: f64) -> Vec<f32> {
    let radius = (3.0 * sigma).ceil().max(1.0) as usize;
    let mut k: Vec<f32> = (0..=2 * radius)
        .map(|i| {
            let d = i as f64 - radius as f64;
            (-(d * d) / (2.0 * sigma * sigma)).exp() as f32
        })
        .collect();
    let sum: f32 = k.iter().sum();
    k.iter_mut().for_each(|v| *v /= sum);
    k
}

fn separable(data: &[f32], w: usize, h: usize, kernel: &[f32]) -> Vec<f32> {
    let r = kernel.len() / 2;
    let mut tmp = vec![0f32; data.len()];
    for y in 0..h {
        let row = &data[y * w..(y + 1) * w];
        for x in 0..w {
            let mut s = 0.0;
            for (k, kv) in kernel.iter().enumerate() {
                let sx = x as isize + k as isize - r as isize;
                if sx >= 0 && (sx as usize) < w {
                    s += row[sx as usize] * kv;
                }
            }
            tmp[y * w + x] = s;
        }
    }
    let mut out = vec![0f32; data.len()];
    for y in 0..h {
        for x in 0..w {
            let mut s = 0.0;
            for (k, kv) in kernel.iter().enumerate() {
                let sy = y as isize + k as isize - r as isize;
                if sy >= 0 && (sy as usize) < h {
                    s += tmp[sy as usize * w + x] * kv;
                }
            }
            out[y * w + x] = s;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::surface::SurfaceKind;

    #[test]
    fn high_pass_removes_a_constant_offset_but_keeps_fine_texture() {
        let mut s = Surface::empty(64, 64, 25.0, SurfaceKind::Topography);
        for y in 0..64 {
            for x in 0..64 {
                let i = s.index(x, y);
                s.valid[i] = true;
                // Offset 100 plus a 4-pixel (100 µm) checker texture.
                s.values[i] = 100.0 + if (x / 2 + y / 2) % 2 == 0 { 1.0 } else { -1.0 };
            }
        }
        band_pass(&mut s, 16.0, 500.0);
        let (mean, std) = s.valid_mean_std();
        assert!(mean.abs() < 0.05, "mean {mean}");
        assert!(std > 0.5, "texture lost: std {std}");
    }
}
