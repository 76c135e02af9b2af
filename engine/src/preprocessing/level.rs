//! Form removal: subtract the least-squares plane through the valid samples.
//!
//! Scans arrive tilted by however the casing sat under the microscope; the
//! tilt is not a toolmark and would dominate any correlation.

use crate::surface::Surface;

/// Subtract the best-fitting plane `a + b·x + c·y` (over valid samples).
pub fn remove_plane(surface: &mut Surface) {
    // Normal equations of the 3-parameter fit, accumulated in f64 with
    // coordinates centred so the system stays well conditioned.
    let (cx, cy) = (surface.width as f64 / 2.0, surface.height as f64 / 2.0);
    let mut m = [[0f64; 3]; 3];
    let mut v = [0f64; 3];
    for y in 0..surface.height {
        for x in 0..surface.width {
            let i = surface.index(x, y);
            if !surface.valid[i] {
                continue;
            }
            let p = [1.0, x as f64 - cx, y as f64 - cy];
            let z = f64::from(surface.values[i]);
            for r in 0..3 {
                v[r] += p[r] * z;
                for c in 0..3 {
                    m[r][c] += p[r] * p[c];
                }
            }
        }
    }
    let Some([a, b, c]) = solve3(m, v) else {
        return;
    };
    for y in 0..surface.height {
        for x in 0..surface.width {
            let i = surface.index(x, y);
            if surface.valid[i] {
                let plane = a + b * (x as f64 - cx) + c * (y as f64 - cy);
                surface.values[i] = (f64::from(surface.values[i]) - plane) as f32;
            }
        }
    }
}

/// Solve a 3x3 system by Cramer's rule; `None` when it is singular
/// (fewer than three non-collinear valid samples).
fn solve3(m: [[f64; 3]; 3], v: [f64; 3]) -> Option<[f64; 3]> {
    let det = |a: [[f64; 3]; 3]| {
        a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1])
            - a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0])
            + a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0])
    };
    let d = det(m);
    if d.abs() < 1e-12 {
        return None;
    }
    let mut out = [0f64; 3];
    for (k, slot) in out.iter_mut().enumerate() {
        let mut mk = m;
        for r in 0..3 {
            mk[r][k] = v[r];
        }
        *slot = det(mk) / d;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::surface::SurfaceKind;

    #[test]
    fn removes_a_pure_tilt_to_zero() {
        let mut s = Surface::empty(20, 10, 10.0, SurfaceKind::Topography);
        for y in 0..10 {
            for x in 0..20 {
                let i = s.index(x, y);
                s.values[i] = 3.0 + 0.5 * x as f32 - 0.25 * y as f32;
                s.valid[i] = (x + y) % 7 != 0;
            }
        }
        remove_plane(&mut s);
        let worst = s
            .values
            .iter()
            .zip(&s.valid)
            .filter(|(_, ok)| **ok)
            .map(|(v, _)| v.abs())
            .fold(0f32, f32::max);
        assert!(worst < 1e-4, "residual {worst}");
    }
}
