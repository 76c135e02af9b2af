//! Robust form removal: a low-order polynomial (plane or quadratic) fitted by
//! iteratively reweighted least squares with Tukey's biweight.
//!
//! A raw scan holds far more than the breech face: the firing-pin crater
//! (tens to hundreds of µm deep), the gap around the primer, the case head,
//! spikes where the instrument misread. An ordinary least-squares plane is
//! dragged by all of them; the biweight gives samples far from the current
//! fit zero weight, so the fit settles on the dominant surface, the
//! primer face.

use crate::surface::Surface;

/// Terms of the fitted polynomial in centred, scaled coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormOrder {
    /// `a + b·x + c·y`: tilt only.
    Plane,
    /// Plane plus `x², x·y, y²`: tilt and the primer's bulge or dish.
    Quadratic,
    /// Every monomial up to degree 4 (15 terms): the floor of a rounded
    /// firing-pin crater, whose walls a quadratic bowl does not follow.
    Quartic,
}

impl FormOrder {
    fn terms(self) -> usize {
        match self {
            FormOrder::Plane => 3,
            FormOrder::Quadratic => 6,
            FormOrder::Quartic => 15,
        }
    }
}

/// The fitted form and the robust spread of what is left.
#[derive(Debug, Clone, PartialEq)]
pub struct FormFit {
    coefficients: Vec<f64>,
    order: FormOrder,
    centre: (f64, f64),
    scale: f64,
    /// Robust standard deviation of the residuals (1.4826 · MAD) over the
    /// samples the final fit kept.
    pub residual_sigma: f64,
}

impl FormFit {
    /// The form at pixel `(x, y)`.
    pub fn at(&self, x: usize, y: usize) -> f64 {
        let p = basis(self.order, x, y, self.centre, self.scale);
        p.iter().zip(&self.coefficients).map(|(a, b)| a * b).sum()
    }
}

/// Most terms of any order; unused ones are 0.
const MAX_TERMS: usize = 15;

fn basis(order: FormOrder, x: usize, y: usize, centre: (f64, f64), scale: f64) -> [f64; MAX_TERMS] {
    let u = (x as f64 - centre.0) / scale;
    let v = (y as f64 - centre.1) / scale;
    let mut p = [0.0; MAX_TERMS];
    // Written in place: prepare calls this for every sample of every
    // reweighting round.
    p[..3].copy_from_slice(&[1.0, u, v]);
    if order != FormOrder::Plane {
        p[3..6].copy_from_slice(&[u * u, u * v, v * v]);
    }
    if order == FormOrder::Quartic {
        let (u2, v2) = (u * u, v * v);
        p[6..15].copy_from_slice(&[
            u2 * u,
            u2 * v,
            u * v2,
            v2 * v,
            u2 * u2,
            u2 * u * v,
            u2 * v2,
            u * v2 * v,
            v2 * v2,
        ]);
    }
    p
}

/// Iterations of reweighting; the biweight converges in a handful.
const IRLS_ROUNDS: usize = 8;
/// Tukey's constant (95% efficiency on Gaussian residuals), in robust sigmas.
const TUKEY_C: f64 = 4.685;

/// Fit the form robustly over the valid samples where `include` is true
/// (all valid samples when `None`). `None` when there are too few samples.
pub fn fit_form(surface: &Surface, order: FormOrder, include: Option<&[bool]>) -> Option<FormFit> {
    let centre = (surface.width as f64 / 2.0, surface.height as f64 / 2.0);
    let scale = (surface.width.max(surface.height) as f64 / 2.0).max(1.0);
    let n = order.terms();
    // Each used sample's row of the design matrix, computed once: every
    // reweighting round reads it twice (normal equations, residuals), and
    // recomputing the monomials was most of the fit's cost on import.
    let mut rows: Vec<f64> = Vec::new();
    let mut heights: Vec<f64> = Vec::new();
    for (i, (&ok, &z)) in surface.valid.iter().zip(&surface.values).enumerate() {
        if ok && include.is_none_or(|m| m[i]) {
            let p = basis(order, i % surface.width, i / surface.width, centre, scale);
            rows.extend_from_slice(&p[..n]);
            heights.push(f64::from(z));
        }
    }
    if heights.len() < 4 * n {
        return None;
    }
    let mut weights = vec![1.0f64; heights.len()];
    let mut residuals = vec![0.0f64; heights.len()];
    let mut median = MedianScratch::default();
    let mut fit = FormFit {
        coefficients: vec![0.0; n],
        order,
        centre,
        scale,
        residual_sigma: 0.0,
    };
    for _ in 0..IRLS_ROUNDS {
        let (m, rhs) = match order {
            FormOrder::Plane => normal_equations::<3>(&rows, &heights, &weights),
            FormOrder::Quadratic => normal_equations::<6>(&rows, &heights, &weights),
            FormOrder::Quartic => normal_equations::<15>(&rows, &heights, &weights),
        };
        let previous = std::mem::replace(&mut fit.coefficients, solve(m, rhs)?);
        // Converged: the coefficients (heights at the scaled coordinates'
        // unit) no longer move by a millionth of the residual spread, so
        // further rounds would change nothing that matters. Most fits get
        // here in three or four rounds instead of eight.
        let moved = previous
            .iter()
            .zip(&fit.coefficients)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        if fit.residual_sigma > 0.0 && moved < 1e-6 * fit.residual_sigma {
            break;
        }
        match order {
            FormOrder::Plane => residuals_of::<3>(&mut residuals, &rows, &heights, &fit),
            FormOrder::Quadratic => residuals_of::<6>(&mut residuals, &rows, &heights, &fit),
            FormOrder::Quartic => residuals_of::<15>(&mut residuals, &rows, &heights, &fit),
        }
        let sigma = robust_sigma(&residuals, &weights, &mut median);
        fit.residual_sigma = sigma;
        if sigma <= 0.0 {
            break;
        }
        let c = TUKEY_C * sigma;
        for (w, r) in weights.iter_mut().zip(&residuals) {
            let t = r / c;
            *w = if t.abs() < 1.0 {
                (1.0 - t * t).powi(2)
            } else {
                0.0
            };
        }
    }
    Some(fit)
}

/// `heights - rows · coefficients` with `N` terms, a constant so that the
/// dot product unrolls (the same products summed in the same order).
fn residuals_of<const N: usize>(out: &mut [f64], rows: &[f64], heights: &[f64], fit: &FormFit) {
    let coefficients: &[f64; N] = fit.coefficients[..N]
        .try_into()
        .expect("a fit has as many coefficients as terms");
    for ((r, p), z) in out.iter_mut().zip(rows.chunks_exact(N)).zip(heights) {
        *r = z - p.iter().zip(coefficients).map(|(a, b)| a * b).sum::<f64>();
    }
}

/// The weighted normal equations `(Xᵀ W X) β = Xᵀ W z` of `N` terms: the
/// term count is a constant so the inner loops unroll, and only the upper
/// triangle of the symmetric matrix is summed.
fn normal_equations<const N: usize>(
    rows: &[f64],
    heights: &[f64],
    weights: &[f64],
) -> (Vec<Vec<f64>>, Vec<f64>) {
    let mut m = [[0f64; N]; N];
    let mut rhs = [0f64; N];
    for ((p, &z), &wgt) in rows.chunks_exact(N).zip(heights).zip(weights) {
        if wgt <= 0.0 {
            continue;
        }
        for r in 0..N {
            let wp = wgt * p[r];
            rhs[r] += wp * z;
            for c in r..N {
                m[r][c] += wp * p[c];
            }
        }
    }
    let full = (0..N)
        .map(|r| {
            (0..N)
                .map(|c| if c >= r { m[r][c] } else { m[c][r] })
                .collect()
        })
        .collect();
    (full, rhs.to_vec())
}

/// 1.4826 · median absolute residual over the samples still in the fit.
fn robust_sigma(residuals: &[f64], weights: &[f64], scratch: &mut MedianScratch) -> f64 {
    scratch.keys.clear();
    // A non-negative f64 orders as its bits do (as `total_cmp` orders it),
    // so the median is taken over integer keys.
    scratch.keys.extend(
        residuals
            .iter()
            .zip(weights)
            .filter(|(_, w)| **w > 0.0)
            .map(|(r, _)| r.abs().to_bits()),
    );
    if scratch.keys.is_empty() {
        return 0.0;
    }
    let mid = scratch.keys.len() / 2;
    1.4826 * f64::from_bits(scratch.nth_smallest(mid))
}

/// Buffers of [`robust_sigma`], kept across the rounds of one fit.
#[derive(Debug, Default)]
struct MedianScratch {
    keys: Vec<u64>,
    counts: Vec<u32>,
}

/// High bits of a key that pick its bucket: below the sign (always 0 for
/// magnitudes), the exponent and the top 3 bits of the mantissa, so that a
/// bucket spans an eighth of an octave.
const BUCKET_SHIFT: u32 = 49;
const BUCKETS: usize = 1 << (63 - BUCKET_SHIFT);

impl MedianScratch {
    /// The `n`-th smallest of `keys` (from 0), which must be below 2⁶³.
    /// The robust fit takes a median every round, and selecting among all
    /// samples was the biggest part of it: one counting pass finds the
    /// bucket that holds the `n`-th key, and only that bucket (a few
    /// percent of the samples) is selected in. `keys` is reordered.
    fn nth_smallest(&mut self, n: usize) -> u64 {
        self.counts.clear();
        self.counts.resize(BUCKETS, 0);
        for k in &self.keys {
            self.counts[(k >> BUCKET_SHIFT) as usize] += 1;
        }
        let (mut bucket, mut before) = (0usize, 0usize);
        for (b, &c) in self.counts.iter().enumerate() {
            if before + c as usize > n {
                bucket = b;
                break;
            }
            before += c as usize;
        }
        self.keys.retain(|k| (k >> BUCKET_SHIFT) as usize == bucket);
        *self.keys.select_nth_unstable(n - before).1
    }
}

/// Subtract `fit` from every valid sample.
pub fn subtract_form(surface: &mut Surface, fit: &FormFit) {
    if fit.order == FormOrder::Plane {
        subtract_plane(surface, fit);
        return;
    }
    for y in 0..surface.height {
        for x in 0..surface.width {
            let i = surface.index(x, y);
            if surface.valid[i] {
                surface.values[i] = (f64::from(surface.values[i]) - fit.at(x, y)) as f32;
            }
        }
    }
}

/// [`subtract_form`] of a plane, which preparation does twice per casing
/// over every sample: [`FormFit::at`]'s terms and sum, without building
/// the 15-term basis for 3 of them.
fn subtract_plane(surface: &mut Surface, fit: &FormFit) {
    let (cx, cy) = fit.centre;
    let c = &fit.coefficients[..3];
    let w = surface.width;
    for (y, (values, valid)) in surface
        .values
        .chunks_exact_mut(w)
        .zip(surface.valid.chunks_exact(w))
        .enumerate()
    {
        let v = (y as f64 - cy) / fit.scale;
        for (x, (z, ok)) in values.iter_mut().zip(valid).enumerate() {
            if *ok {
                let u = (x as f64 - cx) / fit.scale;
                let form = [1.0, u, v].iter().zip(c).map(|(a, b)| a * b).sum::<f64>();
                *z = (f64::from(*z) - form) as f32;
            }
        }
    }
}

/// Gaussian elimination with partial pivoting; `None` when singular.
fn solve(mut m: Vec<Vec<f64>>, mut v: Vec<f64>) -> Option<Vec<f64>> {
    let n = v.len();
    for col in 0..n {
        let pivot = (col..n).max_by(|a, b| m[*a][col].abs().total_cmp(&m[*b][col].abs()))?;
        if m[pivot][col].abs() < 1e-12 {
            return None;
        }
        m.swap(col, pivot);
        v.swap(col, pivot);
        for row in col + 1..n {
            let f = m[row][col] / m[col][col];
            let (upper, lower) = m.split_at_mut(row);
            for (x, &p) in lower[0][col..n].iter_mut().zip(&upper[col][col..n]) {
                *x -= f * p;
            }
            v[row] -= f * v[col];
        }
    }
    let mut out = vec![0f64; n];
    for row in (0..n).rev() {
        let s: f64 = (row + 1..n).map(|k| m[row][k] * out[k]).sum();
        out[row] = (v[row] - s) / m[row][row];
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::surface::SurfaceKind;

    /// A tilted, bulged surface with small texture, a deep crater over a
    /// fifth of it and a few tall spikes.
    fn contaminated(order: FormOrder) -> Surface {
        let mut s = Surface::empty(80, 60, 25.0, SurfaceKind::Topography);
        for y in 0..60 {
            for x in 0..80 {
                let i = s.index(x, y);
                let (u, v) = (x as f64 - 40.0, y as f64 - 30.0);
                let mut z = 5.0 + 0.8 * u - 0.3 * v + ((x * 7 + y * 3) % 5) as f64 * 0.1;
                if order == FormOrder::Quadratic {
                    z += 0.01 * u * u + 0.02 * v * v;
                }
                if (u - 10.0).hypot(v) < 14.0 {
                    z -= 150.0;
                }
                if (x * 31 + y * 17) % 97 == 0 {
                    z += 400.0;
                }
                s.values[i] = z as f32;
                s.valid[i] = true;
            }
        }
        s
    }

    fn residual_on_clean_part(s: &Surface) -> f64 {
        let mut worst = 0f64;
        for y in 0..60 {
            for x in 0..80 {
                let (u, v) = (x as f64 - 40.0, y as f64 - 30.0);
                if (u - 10.0).hypot(v) < 16.0 || (x * 31 + y * 17) % 97 == 0 {
                    continue;
                }
                worst = worst.max(f64::from(s.values[s.index(x, y)]).abs());
            }
        }
        worst
    }

    #[test]
    fn the_bucketed_median_is_the_median_of_a_full_sort() {
        // Magnitudes over many octaves, with ties, zeros and one NaN (it
        // sorts last, as `total_cmp` puts it).
        let mut values: Vec<f64> = (0..5000u64)
            .map(|i| ((i * 7919) % 1009) as f64 * 1e-3 * 2f64.powi((i % 13) as i32 - 6))
            .collect();
        values.extend([0.0, 0.0, f64::NAN, 3.5, 3.5]);
        for len in [1, 2, 3, 10, 999, values.len()] {
            let mut sorted = values[..len].to_vec();
            sorted.sort_by(f64::total_cmp);
            for n in [0, len / 2, len - 1] {
                let mut scratch = MedianScratch {
                    keys: values[..len].iter().map(|v| v.to_bits()).collect(),
                    counts: Vec::new(),
                };
                let got = f64::from_bits(scratch.nth_smallest(n));
                assert_eq!(got.to_bits(), sorted[n].to_bits(), "len {len}, n {n}");
            }
        }
    }

    #[test]
    fn a_plane_is_subtracted_as_its_values_at_each_pixel_are() {
        let mut s = contaminated(FormOrder::Plane);
        s.valid[17] = false;
        let fit = fit_form(&s, FormOrder::Plane, None).expect("fits");
        let mut plain = s.clone();
        for y in 0..plain.height {
            for x in 0..plain.width {
                let i = plain.index(x, y);
                if plain.valid[i] {
                    plain.values[i] = (f64::from(plain.values[i]) - fit.at(x, y)) as f32;
                }
            }
        }
        subtract_form(&mut s, &fit);
        assert!(s
            .values
            .iter()
            .zip(&plain.values)
            .all(|(a, b)| a.to_bits() == b.to_bits()));
    }

    #[test]
    fn robust_plane_ignores_the_crater_and_the_spikes() {
        let mut s = contaminated(FormOrder::Plane);
        let fit = fit_form(&s, FormOrder::Plane, None).expect("fits");
        subtract_form(&mut s, &fit);
        // Texture is 0..0.4 µm: what remains is the texture, not a tilt.
        assert!(
            residual_on_clean_part(&s) < 0.5,
            "{}",
            residual_on_clean_part(&s)
        );
        assert!(fit.residual_sigma < 0.5, "{}", fit.residual_sigma);
    }

    #[test]
    fn least_squares_would_not_have_ignored_them() {
        // The contrast that makes the test above mean something.
        let mut s = contaminated(FormOrder::Plane);
        crate::preprocessing::remove_plane(&mut s);
        assert!(residual_on_clean_part(&s) > 5.0);
    }

    #[test]
    fn quadratic_form_removes_the_bulge() {
        let mut s = contaminated(FormOrder::Quadratic);
        let fit = fit_form(&s, FormOrder::Quadratic, None).expect("fits");
        subtract_form(&mut s, &fit);
        assert!(
            residual_on_clean_part(&s) < 0.5,
            "{}",
            residual_on_clean_part(&s)
        );
    }
}
