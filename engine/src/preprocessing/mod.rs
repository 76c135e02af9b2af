//! From a surface as read to the canonical form every later stage uses:
//! levelled, resampled to one µm/pixel, centred on the breech face,
//! band-pass filtered, masked and normalised to zero mean and unit variance.

mod centre;
mod filter;
mod form;
mod hough;
mod level;
mod pin_mark;
mod polar;
mod region;
mod resample;

pub use centre::{outer_circle_of_valid_region, primer_circle_in_photograph, Circle};
pub use filter::{band_pass, masked_gaussian, sigma_for_cutoff};
pub use form::{fit_form, subtract_form, FormFit, FormOrder};
pub use hough::{hough_circle, CircleSearch, FoundCircle, Polarity};
pub use level::remove_plane;
pub use pin_mark::{extract_pin_mark, PinMarkConfig, MARKS_VERSION};
pub use polar::{unwrap, unwrap_about, PolarGrid, PolarImage};
pub use region::{topography_regions, PinImpression, Regions};
pub use resample::{check_resampled_size, resample, resampled_size, MAX_RESAMPLED_PIXELS};

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
    /// A raw scan keeps its primer inside this fraction of the primer
    /// radius (the rounded primer edge carries no breech-face marks).
    pub raw_primer_outer: f64,
    /// Samples this far (µm) below the levelled primer face, and at least
    /// 8 robust sigmas below it, make up the firing-pin crater of a raw scan.
    pub pin_depth_um: f64,
    /// The crater found is grown by this much (µm): its upper walls and its
    /// raised lip are not breech-face marks.
    pub pin_margin_um: f64,
    /// Radius range of a photograph's firing-pin impression, as fractions
    /// of the primer radius; found ones are grown by `photo_pin_grow`.
    pub photo_pin_radius: (f64, f64),
    pub photo_pin_grow: f64,
}

/// Version tag stored with every comparison surface and descriptor.
/// v3: a raw scan's crater is measured from its primer face levelled
/// alone (`region.rs`), which changes the canvases of raw scans whose
/// shallow crater v2 left in place.
pub const PIPELINE_VERSION: &str = "pre-v3-25um-160";

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
            raw_primer_outer: 0.92,
            pin_depth_um: 20.0,
            pin_margin_um: 75.0,
            photo_pin_radius: (0.4, 0.85),
            photo_pin_grow: 1.1,
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
    /// Where the canvas centre (the region's centre) lies in the input,
    /// µm from its top-left corner.
    pub region_centre_um: (f64, f64),
    /// Whether the region was found as the primer's edge inside a raw scan
    /// or photograph, rather than as the rim of an already-cropped scan.
    pub region_found_in_scan: bool,
    /// The firing-pin impression masked out, as its centre (µm, input
    /// from the top-left corner) and area-equivalent radius (µm), when one
    /// was found.
    pub pin_impression_um: Option<(f64, f64, f64)>,
}

/// Bring a surface as read into canonical form.
pub fn prepare(input: &Surface, source_name: &str, cfg: &PreprocessConfig) -> Result<Prepared> {
    let unusable = |reason: &str| EngineError::Unusable {
        source_name: source_name.to_string(),
        reason: reason.to_string(),
    };
    // Resample first: every later step then works in physical units at one
    // scale, and the robust fits below run on 40x fewer samples. Its size,
    // and so every later buffer's, is checked before anything is allocated.
    check_resampled_size(input, cfg.um_per_px, source_name)?;
    let mut surface = resample(input, cfg.um_per_px);
    let px = |um: f64| um / cfg.um_per_px;
    let (circle, found_in_scan, pin) = match surface.kind {
        SurfaceKind::Topography => {
            // Level robustly over everything first, so that the primer face
            // sits at 0 and the crater, gap and spikes stand out.
            let form = fit_form(&surface, FormOrder::Plane, None)
                .ok_or_else(|| unusable("too few valid samples to level"))?;
            subtract_form(&mut surface, &form);
            let (lo, hi) = cfg.primer_radius_um;
            let regions = topography_regions(
                &surface,
                &form,
                (px(lo), px(hi)),
                cfg.pin_depth_um,
                px(cfg.pin_margin_um),
            )
            .ok_or_else(|| unusable("no valid region to centre on"))?;
            let outer = if regions.raw {
                cfg.raw_primer_outer
            } else {
                f64::INFINITY
            };
            let pin_mask = regions.pin.as_ref().map(|p| p.mask.as_slice());
            region::mask_regions(&mut surface, &regions.primer, outer, pin_mask);
            // Level again on the breech face alone, now that nothing else
            // is left to pull the fit.
            if let Some(face) = fit_form(&surface, FormOrder::Plane, None) {
                subtract_form(&mut surface, &face);
            }
            (regions.primer, regions.raw, regions.pin.map(|p| p.circle))
        }
        SurfaceKind::Photograph => {
            let (lo, hi) = cfg.primer_radius_um;
            let c = primer_circle_in_photograph(&surface, px(lo), px(hi))
                .ok_or_else(|| unusable("no primer edge found in the photograph"))?;
            let (fixed_inner, outer) = cfg.photo_annulus;
            // A pin edge grown past 0.6 of the primer would leave too little
            // breech face (on NBIDE 118 it left 9 % of the canvas): distrust it.
            let pin = region::photograph_pin(&surface, &c, cfg.photo_pin_radius)
                .filter(|p| p.radius * cfg.photo_pin_grow <= 0.6 * c.radius);
            let pin_mask = match &pin {
                Some(p) => region::disc_mask(surface.width, surface.height, p, cfg.photo_pin_grow),
                // No pin edge found: fall back to a fixed central disc.
                None => region::disc_mask(
                    surface.width,
                    surface.height,
                    &Circle {
                        radius: c.radius * fixed_inner,
                        ..c
                    },
                    1.0,
                ),
            };
            region::mask_regions(&mut surface, &c, outer, Some(&pin_mask));
            (c, true, pin)
        }
    };
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
    let um = |v: f64| v * cfg.um_per_px;
    Ok(Prepared {
        surface: canvas,
        region_radius_um: um(circle.radius),
        region_centre_um: (um(circle.cx + 0.5), um(circle.cy + 0.5)),
        region_found_in_scan: found_in_scan,
        pin_impression_um: pin.map(|p| (um(p.cx + 0.5), um(p.cy + 0.5), um(p.radius))),
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepare_refuses_a_coarse_scale_before_resampling() {
        let input = Surface::empty(512, 512, 500.0, SurfaceKind::Photograph);
        match prepare(&input, "coarse.png", &PreprocessConfig::default()) {
            Err(EngineError::InvalidInput { field, .. }) => assert_eq!(field, "um_per_px"),
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }
}
