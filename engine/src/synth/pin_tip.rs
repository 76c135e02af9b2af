//! A gun's firing-pin tip: the mark it leaves in the floor of the crater
//! it strikes into the primer, as IBIS and TopMatch compare it apart from
//! the breech face.
//!
//! The tip is the gun's own random texture (like its breech face, but on
//! the pin), and its size is the gun's. It strikes through the aperture,
//! so the crater sits at the aperture's centre plus the pin's play in its
//! channel, and it turns with the casing as the breech marks do. Firings
//! differ by that play, how much of the tip transfers, the crater's depth
//! and the casing's own noise: mates are alike, not identical.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{SynthConfig, Texture, TEXEL_UM};

/// One gun's firing pin.
#[derive(Debug, Clone)]
pub struct PinTip {
    pub(super) texture: Texture,
    /// Radius of the crater the tip leaves, as a fraction of the primer
    /// radius (before the firing's own small variation).
    pub(super) radius: f64,
}

/// Largest play of the pin in its channel, µm each way.
pub(super) const PIN_PLAY_UM: f64 = 15.0;
/// Crater radii of the guns' pins, as fractions of the primer radius (those
/// of [`super::RawConfig`]'s random craters).
const PIN_RADIUS: (f64, f64) = (0.25, 0.35);

impl PinTip {
    /// The pin of the gun made from `seed`, drawn from a stream of its own
    /// so that guns keep the breech faces (and files) they always had.
    pub(super) fn of_gun(seed: u64, cfg: &SynthConfig) -> PinTip {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x0f1a_e9b1);
        let (lo, hi) = PIN_RADIUS;
        let radius = rng.random_range(lo..hi);
        // Enough texels to cover the largest crater at any turn.
        let side = (2.0 * hi * cfg.primer_radius_um * 1.1 / TEXEL_UM).ceil() as usize + 8;
        PinTip {
            texture: Texture::random(&mut rng, side, TEXEL_UM),
            radius,
        }
    }
}

/// What one firing does with the pin, drawn from a stream of its own (so
/// raw scans without pin marks keep their bytes).
#[derive(Debug, Clone, Copy)]
pub(super) struct PinStrike {
    /// The crater's centre in the gun's frame (µm from the breech centre,
    /// y up): the aperture's centre plus the play.
    pub centre: (f64, f64),
    /// Multiplies the tip's radius: how deep it went.
    pub size: f64,
    /// Share of the tip's marks the primer took up.
    pub transfer: f64,
}

impl PinStrike {
    pub(super) fn draw(seed: u64, aperture: (f64, f64), cfg: &SynthConfig) -> PinStrike {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x51d1_7e3c);
        let p = PIN_PLAY_UM;
        PinStrike {
            centre: (
                aperture.0 + rng.random_range(-p..p),
                aperture.1 + rng.random_range(-p..p),
            ),
            size: rng.random_range(0.97..1.03),
            transfer: rng.random_range(cfg.transfer.0..=cfg.transfer.1),
        }
    }
}
