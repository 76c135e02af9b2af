//! Synthetic *raw* scans: the whole casing head as a lab's instrument
//! records it, not the cropped breech face. Around the gun's breech-face
//! marks on the primer come the things preprocessing must find and remove:
//! the firing-pin crater, the primer's edge and the gap to the case head,
//! the case head itself, tilt and a dished form, dropouts, spikes and
//! instrument noise. The ground truth comes with the scan, so tests can
//! check what the pipeline found.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::pin_tip::PinStrike;
use super::{texture_side, Gun, SynthConfig, Texture, TEXEL_UM};
use crate::surface::{Surface, SurfaceKind};

/// Knobs of a raw scan on top of [`SynthConfig`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RawConfig {
    /// Half-width of the scanned field, as a multiple of the primer radius
    /// (beyond the primer and gap lies case head).
    pub field: f64,
    /// Width (µm) and depth (µm) of the gap between primer and case head.
    pub gap_um: f64,
    pub gap_depth_um: f64,
    /// Firing-pin crater radius as a fraction of the primer radius, depth
    /// in µm, and largest offset of its centre from the primer centre as a
    /// fraction of the primer radius.
    pub pin_radius: (f64, f64),
    pub pin_depth_um: (f64, f64),
    pub pin_offset: f64,
    /// Largest tilt, µm of height per µm across (0.02 = 80 µm over 4 mm).
    pub max_tilt: f64,
    /// Dish of the primer face: height change (µm) from centre to rim.
    pub dish_um: f64,
    /// Scale of the breech-face marks and of the case head's roughness, µm.
    pub marks_um: f64,
    /// White instrument noise, µm.
    pub noise_um: f64,
    /// Fraction of samples replaced by spikes of ±`spike_um`.
    pub spike_fraction: f64,
    pub spike_um: f64,
    /// The breech face marks the primer only outside the gun's firing-pin
    /// aperture; inside it the primer flows into the hole unmarked. Off by
    /// default, so raw scans made before the option keep their bytes.
    pub unmarked_aperture: bool,
    /// The crater is the gun's firing pin striking through its aperture:
    /// centred on the aperture (plus the pin's play), the gun's size, and
    /// its floor carries the gun's pin-tip marks, turned with the casing.
    /// Off by default (the crater is then a smooth hemisphere at a random
    /// offset), so raw scans made before the option keep their bytes.
    pub pin_marks: bool,
}

impl Default for RawConfig {
    fn default() -> Self {
        RawConfig {
            field: 1.35,
            gap_um: 150.0,
            gap_depth_um: 120.0,
            pin_radius: (0.25, 0.35),
            pin_depth_um: (60.0, 200.0),
            pin_offset: 0.12,
            max_tilt: 0.02,
            dish_um: 8.0,
            marks_um: 2.0,
            noise_um: 0.3,
            spike_fraction: 0.002,
            spike_um: 300.0,
            unmarked_aperture: false,
            pin_marks: false,
        }
    }
}

/// Where things really are in a raw scan, µm from its top-left corner.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RawTruth {
    pub primer_centre_um: (f64, f64),
    pub primer_radius_um: f64,
    pub pin_centre_um: (f64, f64),
    pub pin_radius_um: f64,
}

/// Fire `gun` once and scan the whole casing head.
pub fn fire_raw(gun: &Gun, seed: u64, cfg: &SynthConfig, raw: &RawConfig) -> (Surface, RawTruth) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let tau = std::f64::consts::TAU;
    let theta: f64 = rng.random_range(0.0..tau);
    let transfer = rng.random_range(cfg.transfer.0..=cfg.transfer.1);
    let noise_tex = Texture::random(&mut rng, texture_side(cfg), TEXEL_UM);
    let radius = cfg.primer_radius_um * rng.random_range(0.97..1.03);
    // The primer sits off the scan's centre by up to a tenth of its radius.
    let offset = (
        rng.random_range(-0.1..0.1) * radius,
        rng.random_range(-0.1..0.1) * radius,
    );
    let mut pin_r = rng.random_range(raw.pin_radius.0..raw.pin_radius.1) * radius;
    let pin_depth = rng.random_range(raw.pin_depth_um.0..raw.pin_depth_um.1);
    let pin_angle: f64 = rng.random_range(0.0..tau);
    let pin_off = rng.random_range(0.0..raw.pin_offset) * radius;
    let mut pin = (pin_off * pin_angle.cos(), pin_off * pin_angle.sin());
    // The gun's own pin replaces the random crater; the draws above stay,
    // so scans without pin marks keep their bytes.
    let strike = raw.pin_marks.then(|| {
        let a = gun.aperture;
        PinStrike::draw(seed, (a.x_um, a.y_um), cfg)
    });
    let (sin, cos) = theta.sin_cos();
    if let Some(st) = &strike {
        // Gun frame to scan frame: the inverse of the turn applied below.
        let (gx, gy) = st.centre;
        pin = (cos * gx - sin * gy, sin * gx + cos * gy);
        pin_r = gun.pin.radius * st.size * radius;
    }
    let tilt_dir: f64 = rng.random_range(0.0..tau);
    let tilt = rng.random_range(0.3..1.0) * raw.max_tilt;
    let head_level = rng.random_range(-20.0..20.0);
    let dropouts: Vec<(f64, f64, f64)> = (0..cfg.dropouts)
        .map(|_| {
            let a: f64 = rng.random_range(0.0..tau);
            let d = rng.random_range(0.0..1.2) * radius;
            (d * a.cos(), d * a.sin(), rng.random_range(40.0..150.0))
        })
        .collect();

    let half_um = raw.field * radius + offset.0.abs().max(offset.1.abs());
    let side = (2.0 * half_um / cfg.um_per_px).ceil() as usize;
    let mut s = Surface::empty(side, side, cfg.um_per_px, SurfaceKind::Topography);
    let centre_px = side as f64 / 2.0;
    for y in 0..side {
        for x in 0..side {
            // Scan frame (µm from the primer centre, y up), pixel centres.
            let sx = (x as f64 + 0.5 - centre_px) * cfg.um_per_px - offset.0;
            let sy = (centre_px - y as f64 - 0.5) * cfg.um_per_px - offset.1;
            if dropouts.iter().any(|d| (sx - d.0).hypot(sy - d.1) < d.2) {
                continue;
            }
            let d = sx.hypot(sy);
            let mut z = if d <= radius {
                // Primer face: the gun's marks, turned, plus firing noise,
                // on a slight dish; the crater is pressed into it.
                let (gx, gy) = (cos * sx + sin * sy, -sin * sx + cos * sy);
                let a = gun.aperture;
                let in_hole =
                    raw.unmarked_aperture && (gx - a.x_um).hypot(gy - a.y_um) < a.radius_um;
                let dp = (sx - pin.0).hypot(sy - pin.1) / pin_r;
                let (share, gun_marks) = match &strike {
                    // The crater floor is what the pin tip touched, in the
                    // pin's frame: turned with the casing like the breech.
                    Some(st) if dp < 1.0 => (
                        st.transfer,
                        gun.pin.texture.at(gx - st.centre.0, gy - st.centre.1),
                    ),
                    _ if in_hole => (transfer, 0.0),
                    _ => (transfer, gun.texture.at(gx, gy)),
                };
                let marks = share * gun_marks + cfg.noise * noise_tex.at(sx, sy);
                let mut z = raw.marks_um * marks - raw.dish_um * (d / radius).powi(2);
                if dp < 1.0 {
                    // A rounded crater: the pin's hemispherical tip.
                    z -= pin_depth * (1.0 - dp * dp).sqrt();
                }
                z
            } else if d <= radius + raw.gap_um {
                -raw.gap_depth_um
            } else {
                head_level + raw.marks_um * noise_tex.at(sx * 0.7, sy * 0.7)
            };
            z += tilt * (tilt_dir.cos() * sx + tilt_dir.sin() * sy);
            z += raw.noise_um * rng.random_range(-1.7..1.7);
            if rng.random_bool(raw.spike_fraction) {
                z += if rng.random_bool(0.5) {
                    raw.spike_um
                } else {
                    -raw.spike_um
                };
            }
            let i = s.index(x, y);
            s.values[i] = z as f32;
            s.valid[i] = true;
        }
    }
    let to_corner = |(px, py): (f64, f64)| {
        (
            centre_px * cfg.um_per_px + px,
            centre_px * cfg.um_per_px - py,
        )
    };
    let truth = RawTruth {
        primer_centre_um: to_corner(offset),
        primer_radius_um: radius,
        pin_centre_um: to_corner((offset.0 + pin.0, offset.1 + pin.1)),
        pin_radius_um: pin_r,
    };
    (s, truth)
}
