//! The CPU-bound half of a submission: bytes to canonical canvas and
//! descriptor, with the time each stage took.

use std::time::Instant;

use crate::description::DescriptorModel;
use crate::error::Result;
use crate::preprocessing::{extract_pin_mark, prepare, PinMarkConfig, PreprocessConfig};
use crate::reading::{read_surface, InputFormat, ReadLimits};
use crate::surface::Surface;

/// A casing image read, prepared and described.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub format: InputFormat,
    /// The surface as read (for its size and resolution).
    pub width: usize,
    pub height: usize,
    pub um_per_px: f64,
    pub surface_kind: crate::surface::SurfaceKind,
    pub canvas: Surface,
    /// The firing-pin mark's canvas, when the scan has a pin impression
    /// (`preprocessing::extract_pin_mark`).
    pub pin_mark: Option<Surface>,
    pub descriptor: Vec<f32>,
    pub timings: AnalysisTimings,
}

/// Seconds spent per stage.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AnalysisTimings {
    pub decode_s: f64,
    pub preprocess_s: f64,
    pub describe_s: f64,
}

/// Read, prepare and describe one file.
pub fn analyse(
    bytes: &[u8],
    source_name: &str,
    um_per_px: Option<f64>,
    limits: &ReadLimits,
    preprocess: &PreprocessConfig,
    model: &DescriptorModel,
) -> Result<Analysis> {
    let t0 = Instant::now();
    let (format, surface) = read_surface(bytes, source_name, um_per_px, limits)?;
    let t1 = Instant::now();
    let prepared = prepare(&surface, source_name, preprocess)?;
    let pin_mark = prepared
        .pin_impression_um
        .and_then(|pin| extract_pin_mark(&surface, pin, &PinMarkConfig::default()));
    let t2 = Instant::now();
    let descriptor = model
        .describe(&[&prepared.surface])?
        .pop()
        .unwrap_or_default();
    let t3 = Instant::now();
    tracing::debug!(
        source = source_name,
        decode_ms = (t1 - t0).as_secs_f64() * 1e3,
        preprocess_ms = (t2 - t1).as_secs_f64() * 1e3,
        describe_ms = (t3 - t2).as_secs_f64() * 1e3,
        "analysed casing"
    );
    Ok(Analysis {
        format,
        width: surface.width,
        height: surface.height,
        um_per_px: surface.um_per_px,
        surface_kind: surface.kind,
        canvas: prepared.surface,
        pin_mark,
        descriptor,
        timings: AnalysisTimings {
            decode_s: (t1 - t0).as_secs_f64(),
            preprocess_s: (t2 - t1).as_secs_f64(),
            describe_s: (t3 - t2).as_secs_f64(),
        },
    })
}
