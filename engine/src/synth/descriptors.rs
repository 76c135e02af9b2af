//! Synthetic descriptors shaped like real ones, for sizing the index where
//! rendering and describing a million casings would take days: guns fall
//! into makes (shared class characteristics), each gun fires a few casings
//! near its own point, and every vector is unit length as the model's are.
//! Exact and approximate search are compared on these; nothing here claims
//! the real descriptor's accuracy.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How the vectors cluster. Spreads are the lengths of the random offsets
/// added to a unit centre before normalising again.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DescriptorShape {
    /// Makes (families of guns sharing a direction).
    pub makes: usize,
    /// Casings fired by each gun.
    pub per_gun: usize,
    /// A gun's offset from its make's centre.
    pub gun_spread: f32,
    /// A casing's offset from its gun's centre.
    pub casing_spread: f32,
}

impl Default for DescriptorShape {
    fn default() -> Self {
        // Same-gun cosine around 0.75, same-make around 0.5, else about 0:
        // near what the real descriptor gives mates and non-mates.
        DescriptorShape {
            makes: 200,
            per_gun: 4,
            gun_spread: 1.0,
            casing_spread: 0.6,
        }
    }
}

/// Guns' centres and their casings' descriptors.
#[derive(Debug, Clone)]
pub struct DescriptorSet {
    pub dim: usize,
    pub shape: DescriptorShape,
    /// One unit vector per gun, row after row.
    pub guns: Vec<f32>,
    /// `guns × per_gun` casings, row after row, gun after gun.
    pub casings: Vec<f32>,
}

impl DescriptorSet {
    /// `guns` guns of `dim`-dimensional descriptors, the same for the same
    /// seed.
    pub fn generate(guns: usize, dim: usize, shape: DescriptorShape, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let makes: Vec<Vec<f32>> = (0..shape.makes.max(1))
            .map(|_| unit(gaussian(&mut rng, dim, 1.0)))
            .collect();
        let mut centres = Vec::with_capacity(guns * dim);
        let mut casings = Vec::with_capacity(guns * shape.per_gun * dim);
        for g in 0..guns {
            let make = &makes[g % makes.len()];
            let centre = unit(offset(make, &mut rng, shape.gun_spread));
            for _ in 0..shape.per_gun {
                casings.extend(unit(offset(&centre, &mut rng, shape.casing_spread)));
            }
            centres.extend(centre);
        }
        DescriptorSet {
            dim,
            shape,
            guns: centres,
            casings,
        }
    }

    /// How many casings the set holds.
    pub fn len(&self) -> usize {
        self.casings.len() / self.dim.max(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Casing `i`'s descriptor.
    pub fn casing(&self, i: usize) -> &[f32] {
        &self.casings[i * self.dim..(i + 1) * self.dim]
    }

    /// The gun that fired casing `i`.
    pub fn gun_of(&self, i: usize) -> usize {
        i / self.shape.per_gun.max(1)
    }

    /// A new casing fired by gun `gun` (not in the set): a query with
    /// mates on file.
    pub fn fresh_casing(&self, gun: usize, seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let centre = &self.guns[gun * self.dim..(gun + 1) * self.dim];
        unit(offset(centre, &mut rng, self.shape.casing_spread))
    }
}

/// `centre` plus a random offset of length about `spread`.
fn offset(centre: &[f32], rng: &mut ChaCha8Rng, spread: f32) -> Vec<f32> {
    let sigma = spread / (centre.len() as f32).sqrt();
    centre
        .iter()
        .zip(gaussian(rng, centre.len(), sigma))
        .map(|(c, e)| c + e)
        .collect()
}

/// `n` normal deviates of standard deviation `sigma` (Box-Muller).
fn gaussian(rng: &mut ChaCha8Rng, n: usize, sigma: f32) -> Vec<f32> {
    (0..n)
        .map(|_| {
            let u1: f32 = rng.random_range(f32::EPSILON..1.0);
            let u2: f32 = rng.random();
            sigma * (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
        })
        .collect()
}

fn unit(v: Vec<f32>) -> Vec<f32> {
    let n = v
        .iter()
        .map(|x| x * x)
        .sum::<f32>()
        .sqrt()
        .max(f32::MIN_POSITIVE);
    v.into_iter().map(|x| x / n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dot(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn mates_are_nearer_than_strangers_and_the_seed_repeats() {
        let set = DescriptorSet::generate(50, 64, DescriptorShape::default(), 3);
        assert_eq!(set.len(), 200);
        assert!((dot(set.casing(0), set.casing(0)) - 1.0).abs() < 1e-4);
        let mates = dot(set.casing(0), set.casing(1));
        let stranger = dot(set.casing(0), set.casing(4 * 7 + 1));
        assert!(
            mates > 0.5 && mates > stranger + 0.3,
            "{mates} vs {stranger}"
        );
        assert_eq!(set.gun_of(5), 1);
        assert_eq!(
            DescriptorSet::generate(50, 64, DescriptorShape::default(), 3).casings,
            set.casings
        );
        let fresh = set.fresh_casing(3, 9);
        assert!(dot(&fresh, set.casing(12)) > dot(&fresh, set.casing(0)));
    }
}
