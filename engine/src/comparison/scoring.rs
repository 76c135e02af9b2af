//! Scoring helpers shared by the rotation sweep and the translation search.

/// Pearson correlation over an overlap from its running sums.
pub fn masked_ncc(
    sab: f64,
    sa: f64,
    sb: f64,
    saa: f64,
    sbb: f64,
    count: f64,
    min_overlap: f64,
) -> Option<f64> {
    if count < min_overlap.max(2.0) {
        return None;
    }
    let cov = sab - sa * sb / count;
    let va = saa - sa * sa / count;
    let vb = sbb - sb * sb / count;
    if va <= 1e-9 || vb <= 1e-9 {
        return None;
    }
    Some((cov / (va * vb).sqrt()).clamp(-1.0, 1.0))
}

/// The `k` best shifts, at least `separation` columns apart (circularly).
pub fn best_shifts(scores: &[Option<f64>], k: usize, separation: usize) -> Vec<(usize, f64)> {
    let n = scores.len();
    let mut order: Vec<(usize, f64)> = scores
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.map(|s| (i, s)))
        .collect();
    order.sort_by(|x, y| y.1.total_cmp(&x.1));
    let mut picked: Vec<(usize, f64)> = Vec::new();
    for (i, s) in order {
        let far = picked.iter().all(|(j, _)| {
            let d = i.abs_diff(*j);
            d.min(n - d) >= separation
        });
        if far {
            picked.push((i, s));
            if picked.len() == k {
                break;
            }
        }
    }
    picked
}

/// Dot product with eight running sums, so the compiler can vectorise it
/// (one running sum in f32 cannot be reordered, so it is not).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0_f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}
