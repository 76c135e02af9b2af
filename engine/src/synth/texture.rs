//! Random breech-face textures on a square grid of texels.

use rand::Rng;

use crate::preprocessing::masked_gaussian;
use crate::surface::{Surface, SurfaceKind};

/// A texture centred on the origin, sampled in µm.
#[derive(Debug, Clone)]
pub struct Texture {
    side: usize,
    texel_um: f64,
    values: Vec<f32>,
}

impl Texture {
    /// Band-limited roughness (difference of Gaussians, ~50-400 µm) plus a
    /// set of parallel machining marks of random direction and pitch,
    /// scaled to unit standard deviation.
    pub fn random(rng: &mut impl Rng, side: usize, texel_um: f64) -> Texture {
        let mut white = Surface::empty(side, side, texel_um, SurfaceKind::Topography);
        for (v, ok) in white.values.iter_mut().zip(white.valid.iter_mut()) {
            *v = rng.random_range(-1.0f32..1.0);
            *ok = true;
        }
        let fine = masked_gaussian(&white, 35.0 / texel_um);
        let coarse = masked_gaussian(&white, 140.0 / texel_um);
        let dir: f64 = rng.random_range(0.0..std::f64::consts::PI);
        let pitch_um = rng.random_range(120.0..300.0);
        let phase = rng.random_range(0.0..std::f64::consts::TAU);
        let marks_weight = rng.random_range(0.2..0.6);
        let (sd, cd) = dir.sin_cos();
        let half = (side as f64 - 1.0) / 2.0;
        let dog: Vec<f32> = fine.iter().zip(&coarse).map(|(f, c)| f - c).collect();
        let dog_std = std_dev(&dog).max(1e-12);
        let mut values: Vec<f32> = dog
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let (x, y) = ((i % side) as f64 - half, (i / side) as f64 - half);
                let along = (x * cd + y * sd) * texel_um;
                let marks = (along / pitch_um * std::f64::consts::TAU + phase).sin();
                (f64::from(*d / dog_std) + marks_weight * marks) as f32
            })
            .collect();
        let std = std_dev(&values).max(1e-12);
        values.iter_mut().for_each(|v| *v /= std);
        Texture {
            side,
            texel_um,
            values,
        }
    }

    /// `(1 - share)·self + share·other`, renormalised.
    pub fn blend(&self, other: &Texture, share: f64) -> Texture {
        let (a, b) = ((1.0 - share) as f32, share as f32);
        let norm = (a * a + b * b).sqrt();
        let values = self
            .values
            .iter()
            .zip(&other.values)
            .map(|(x, y)| (a * x + b * y) / norm)
            .collect();
        Texture {
            side: self.side,
            texel_um: self.texel_um,
            values,
        }
    }

    /// Bilinear value at `(x, y)` µm from the centre (y up); 0 outside.
    pub fn at(&self, x_um: f64, y_um: f64) -> f64 {
        let half = (self.side as f64 - 1.0) / 2.0;
        let fx = x_um / self.texel_um + half;
        let fy = half - y_um / self.texel_um;
        if fx < 0.0 || fy < 0.0 || fx >= (self.side - 1) as f64 || fy >= (self.side - 1) as f64 {
            return 0.0;
        }
        let (x0, y0) = (fx as usize, fy as usize);
        let (tx, ty) = (fx - x0 as f64, fy - y0 as f64);
        let v = |x: usize, y: usize| f64::from(self.values[y * self.side + x]);
        let top = v(x0, y0) * (1.0 - tx) + v(x0 + 1, y0) * tx;
        let bottom = v(x0, y0 + 1) * (1.0 - tx) + v(x0 + 1, y0 + 1) * tx;
        top * (1.0 - ty) + bottom * ty
    }
}

/// Standard deviation about the mean.
fn std_dev(values: &[f32]) -> f32 {
    let n = values.len().max(1) as f32;
    let mean = values.iter().sum::<f32>() / n;
    (values.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n).sqrt()
}
