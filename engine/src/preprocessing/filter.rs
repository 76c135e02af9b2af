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

/// Convolve rows then columns with `kernel`, treating samples outside the
/// image as absent (zero). Each output sums its taps in kernel order, as a
/// plain double loop would, so the result does not depend on how the loops
/// are arranged; they are arranged so that the compiler vectorises them:
/// tap by tap, a whole run of a row (or whole rows) scaled and added at
/// once. Summing each output's window in turn, as the row pass first did,
/// is a chain of dependent additions that cannot vectorise, and this
/// filter was a sixth of the preparation of an imported casing.
///
/// Zeros are skipped: a masked surface is zero outside its region (often
/// half the image), and adding a zero product to a sum that starts at +0
/// leaves it as it was, bit for bit. So each row is filtered only over the
/// reach of its non-zero run, and each column tap adds only the reach of
/// a row that has one.
fn separable(data: &[f32], w: usize, h: usize, kernel: &[f32]) -> Vec<f32> {
    let r = kernel.len() / 2;
    let mut tmp = vec![0f32; data.len()];
    // Per row of `tmp`, the columns that may be non-zero.
    let mut reach: Vec<Option<(usize, usize)>> = vec![None; h];
    for ((row, out), reach) in data
        .chunks_exact(w)
        .zip(tmp.chunks_exact_mut(w))
        .zip(&mut reach)
    {
        let Some((lo, hi)) = non_zero_run(row) else {
            continue;
        };
        let (xs, xe) = (lo.saturating_sub(r), (hi + r).min(w));
        *reach = Some((xs, xe));
        for (k, kv) in kernel.iter().enumerate() {
            // Outputs x with 0 <= x + k - r < w, within the reach.
            let first = r.saturating_sub(k).max(xs);
            let last = (w + r).saturating_sub(k).min(xe);
            if first >= last {
                continue;
            }
            let source = &row[first + k - r..last + k - r];
            for (o, v) in out[first..last].iter_mut().zip(source) {
                *o += v * kv;
            }
        }
    }
    let mut out = vec![0f32; data.len()];
    for (y, out_row) in out.chunks_exact_mut(w).enumerate() {
        let first = r.saturating_sub(y);
        let last = (h + r - y).min(kernel.len());
        for (k, kv) in kernel.iter().enumerate().take(last).skip(first) {
            let sy = y + k - r;
            let Some((xs, xe)) = reach[sy] else {
                continue;
            };
            let source = &tmp[sy * w + xs..sy * w + xe];
            for (o, v) in out_row[xs..xe].iter_mut().zip(source) {
                *o += v * kv;
            }
        }
    }
    out
}

/// First and one past the last index of `row` that is not zero (NaN
/// counts as not zero), if any.
fn non_zero_run(row: &[f32]) -> Option<(usize, usize)> {
    let lo = row.iter().position(|v| *v != 0.0)?;
    let hi = row.iter().rposition(|v| *v != 0.0)? + 1;
    Some((lo, hi))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::surface::SurfaceKind;

    /// The filter as first written: every output sums its in-range taps in
    /// kernel order.
    fn separable_plainly(data: &[f32], w: usize, h: usize, kernel: &[f32]) -> Vec<f32> {
        let r = kernel.len() as isize / 2;
        let pass = |src: &[f32], along_x: bool| {
            let mut dst = vec![0f32; src.len()];
            for y in 0..h as isize {
                for x in 0..w as isize {
                    let mut s = 0.0;
                    for (k, kv) in kernel.iter().enumerate() {
                        let (sx, sy) = if along_x {
                            (x + k as isize - r, y)
                        } else {
                            (x, y + k as isize - r)
                        };
                        if sx >= 0 && sy >= 0 && (sx as usize) < w && (sy as usize) < h {
                            s += src[sy as usize * w + sx as usize] * kv;
                        }
                    }
                    dst[y as usize * w + x as usize] = s;
                }
            }
            dst
        };
        pass(&pass(data, true), false)
    }

    #[test]
    fn the_vectorised_filter_gives_the_plain_loops_result_bit_for_bit() {
        // Images narrower and shorter than the kernel too, where every
        // output is a border output.
        // The band-pass's long kernel on a canvas-sized image too.
        for (w, h, sigma) in [
            (37, 23, 1.9),
            (5, 40, 2.5),
            (60, 3, 0.8),
            (1, 1, 1.0),
            (90, 70, 3.75),
        ] {
            let data: Vec<f32> = (0..w * h)
                .map(|i| ((i * 7919) % 1013) as f32 / 97.0 - 5.0)
                .collect();
            let kernel = gaussian_kernel(sigma);
            check_against_plain(&data, w, h, &kernel, sigma);
            // Masked as the band-pass masks: zero outside a disc, whole
            // zero rows, and zeros of both signs.
            let masked: Vec<f32> = data
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let (x, y) = (
                        (i % w) as f32 - w as f32 / 2.0,
                        (i / w) as f32 - h as f32 / 3.0,
                    );
                    if x * x + y * y < (w.min(h) as f32 / 3.0).powi(2) {
                        *v
                    } else if i % 3 == 0 {
                        -0.0
                    } else {
                        0.0
                    }
                })
                .collect();
            check_against_plain(&masked, w, h, &kernel, sigma);
        }
    }

    fn check_against_plain(data: &[f32], w: usize, h: usize, kernel: &[f32], sigma: f64) {
        let fast = separable(data, w, h, kernel);
        let plain = separable_plainly(data, w, h, kernel);
        assert!(
            fast.iter()
                .zip(&plain)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "{w}x{h}, sigma {sigma}: the two differ"
        );
    }

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
