//! Polar unwrapping about the canvas centre.
//!
//! In polar coordinates a rotation of the casing is a circular shift along
//! the angle axis, which is what makes both the rotation-invariant
//! descriptor and the fast rotation search possible.

use crate::surface::Surface;

/// Rings (rows) by angles (columns), row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct PolarImage {
    pub rings: usize,
    pub angles: usize,
    pub values: Vec<f32>,
    pub valid: Vec<bool>,
}

/// Which rings and how many angles to sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PolarGrid {
    pub rings: usize,
    pub angles: usize,
    /// Radius of the first ring, in pixels of the canvas.
    pub inner_radius_px: f64,
    /// Radius of the last ring, in pixels of the canvas.
    pub outer_radius_px: f64,
}

/// Sample `surface` on `grid` about its centre. Angle index `j` is at
/// `2πj/angles`, counter-clockwise on screen (y grows downwards), so turning
/// the casing by `φ` moves its pattern by `φ·angles/2π` columns.
pub fn unwrap(surface: &Surface, grid: &PolarGrid) -> PolarImage {
    unwrap_about(surface, grid, 0.0, 0.0)
}

/// [`unwrap`] about the canvas centre moved by (`dx`, `dy`) pixels (x
/// right, y down): for comparisons that try centres near the fitted one.
pub fn unwrap_about(surface: &Surface, grid: &PolarGrid, dx: f64, dy: f64) -> PolarImage {
    let (cx, cy) = (
        (surface.width as f64 - 1.0) / 2.0 + dx,
        (surface.height as f64 - 1.0) / 2.0 + dy,
    );
    let mut out = PolarImage {
        rings: grid.rings,
        angles: grid.angles,
        values: vec![0.0; grid.rings * grid.angles],
        valid: vec![false; grid.rings * grid.angles],
    };
    let step = if grid.rings > 1 {
        (grid.outer_radius_px - grid.inner_radius_px) / (grid.rings - 1) as f64
    } else {
        0.0
    };
    // The same angles on every ring: their cosines and sines once, not
    // once per ring (the comparison unwraps about many trial centres).
    let directions: Vec<(f64, f64)> = (0..grid.angles)
        .map(|a| {
            let theta = a as f64 * std::f64::consts::TAU / grid.angles as f64;
            (theta.cos(), theta.sin())
        })
        .collect();
    for ring in 0..grid.rings {
        let r = grid.inner_radius_px + step * ring as f64;
        for (a, (cos, sin)) in directions.iter().enumerate() {
            if let Some(v) = surface.sample(cx + r * cos, cy - r * sin) {
                let i = ring * grid.angles + a;
                out.values[i] = v;
                out.valid[i] = true;
            }
        }
    }
    out
}
