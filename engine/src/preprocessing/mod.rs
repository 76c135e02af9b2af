//! From a surface as read to the canonical form every later stage uses:
//! levelled, resampled to one µm/pixel, centred on the breech face,
//! band-pass filtered, masked and normalised to zero mean and unit variance.

mod centre;
mod filter;
mod level;
mod polar;
mod resample;

pub use centre::{outer_circle_of_valid_region, primer_circle_in_photograph, Circle};
pub use filter::{band_pass, masked_gaussian, sigma_for_cutoff};
pub use level::remove_plane;
pub use polar::{unwrap, PolarGrid, PolarImage};
pub use resample::resample;

use crate::error::{EngineError, Result};
use crate::surface::{Surface, SurfaceKind};

/// Settings of the canonical form. Changing any of them changes what is
/// stored for comparison, so they are versioned by [`PIPELINE_VERSION`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PreprocessConfig {
    /// Canonical resolution, µm per pixel.
    pub um_per_px: f64,
    /// Side of the square canvas, in canonical pixels.
    pub canvas_px: usize,
    /// Band-pass cut-offs in µm (the field's usual band is 16-500 µm).
    pub short_cutoff_um: f64,
    pub long_cutoff_um: f64,
    /// Least fraction of the canvas that must be valid to be comparable.
    pub min_valid_fraction: f64,
    /// Where to look for the primer edge in a photograph, in µm of radius.
    pub primer_radius_um: (f64, f64),
    /// The breech-face annulus of a photograph as fractions of the primer
    /// radius: inside `inner` is the firing-pin impression, outside `outer`
    /// the primer's rounded edge.
    pub photo_annulus: (f64, f64),
}

/// Version tag stored with every comparison surface and descriptor.
pub const PIPELINE_VERSION: &str = "pre-v1-25um-160";

impl Default for PreprocessConfig {
    fn default() -> Self {
        PreprocessConfig {
            um_per_px: 25.0,
            canvas_px: 160,
            short_cutoff_um: 16.0,
            long_cutoff_um: 500.0,
            min_valid_fraction: 0.1,
            primer_radius_um: (1_200.0, 2_600.0),
            photo_annulus: (0.35, 0.92),
        }
    }
}

/// The canonical form of one casing.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    /// `canvas_px` square, centred on the breech face, zero mean, unit variance.
    pub surface: Surface,
    /// Radius of the region found (primer or cropped rim), in µm.
    pub region_radius_um: f64,
}

/// Bring a surface as read into canonical form.
pub fn prepare(input: &Surface, source_name: &str, cfg: &PreprocessConfig) -> Result<Prepared> {
    let unusable = |reason: &str| EngineError::Unusable {
        source_name: source_name.to_string(),
        reason: reason.to_string(),
    };
    let mut surface = input.clone();
    if surface.kind == SurfaceKind::Topography {
        remove_plane(&mut surface);
    }
    let mut surface = resample(&surface, cfg.um_per_px);
    let (circle, annulus) = match surface.kind {
        SurfaceKind::Topography => {
            let c = outer_circle_of_valid_region(&surface)
                .ok_or_else(|| unusable("no valid region to centre on"))?;
            (c, None)
        }
        SurfaceKind::Photograph => {
            let (lo, hi) = cfg.primer_radius_um;
            let c = primer_circle_in_photograph(&surface, lo / cfg.um_per_px, hi / cfg.um_per_px)
                .ok_or_else(|| unusable("no primer edge found in the photograph"))?;
            (c, Some(cfg.photo_annulus))
        }
    };
    if let Some((inner, outer)) = annulus {
        mask_outside_annulus(&mut surface, &circle, inner, outer);
    }
    band_pass(&mut surface, cfg.short_cutoff_um, cfg.long_cutoff_um);
    let mut canvas = crop_centred(&surface, &circle, cfg.canvas_px);
    let valid_fraction = canvas.valid_count() as f64 / (cfg.canvas_px * cfg.canvas_px) as f64;
    if valid_fraction < cfg.min_valid_fraction {
        return Err(unusable(&format!(
            "only {:.0}% of the breech-face canvas is valid (need {:.0}%)",
            valid_fraction * 100.0,
            cfg.min_valid_fraction * 100.0
        )));
    }
    normalise(&mut canvas);
    Ok(Prepared {
        surface: canvas,
        region_radius_um: circle.radius * cfg.um_per_px,
    })
}

fn mask_outside_annulus(surface: &mut Surface, c: &Circle, inner: f64, outer: f64) {
    for y in 0..surface.height {
        for x in 0..surface.width {
            let d = (x as f64 - c.cx).hypot(y as f64 - c.cy) / c.radius;
            if d < inner || d > outer {
                let i = surface.index(x, y);
                surface.valid[i] = false;
                surface.values[i] = 0.0;
            }
        }
    }
}

/// A `side` x `side` window whose centre is the circle's centre, sampled
/// bilinearly so the centring keeps its sub-pixel precision.
fn crop_centred(surface: &Surface, c: &Circle, side: usize) -> Surface {
    let mut out = Surface::empty(side, side, surface.um_per_px, surface.kind);
    let half = (side as f64 - 1.0) / 2.0;
    for y in 0..side {
        for x in 0..side {
            if let Some(v) = surface.sample(c.cx - half + x as f64, c.cy - half + y as f64) {
                let i = out.index(x, y);
                out.values[i] = v;
                out.valid[i] = true;
            }
        }
    }
    out
}

/// Zero mean, unit variance over the valid samples; invalid samples are 0
/// so that they contribute nothing to sums and transforms.
pub fn normalise(surface: &mut Surface) {
    let (mean, std) = surface.valid_mean_std();
    let scale = if std > 0.0 { 1.0 / std } else { 1.0 };
    for (v, ok) in surface.values.iter_mut().zip(&surface.valid) {
        *v = if *ok {
            ((f64::from(*v) - mean) * scale) as f32
        } else {
            0.0
        };
    }
}
