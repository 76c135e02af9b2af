//! Byte encoding of canonical canvases, as stored in the database for the
//! fine comparison (so a query never re-reads and re-processes evidence).

use crate::error::{EngineError, Result};
use crate::surface::{Surface, SurfaceKind};

const MAGIC: &[u8; 4] = b"CTC1";

/// `CTC1`, width u32, height u32, µm/px f64, kind u8, then f32 values with
/// NaN for invalid samples, all little-endian.
pub fn encode_canvas(s: &Surface) -> Vec<u8> {
    let mut out = Vec::with_capacity(21 + 4 * s.values.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(s.width as u32).to_le_bytes());
    out.extend_from_slice(&(s.height as u32).to_le_bytes());
    out.extend_from_slice(&s.um_per_px.to_le_bytes());
    out.push(match s.kind {
        SurfaceKind::Topography => 0,
        SurfaceKind::Photograph => 1,
    });
    for (v, ok) in s.values.iter().zip(&s.valid) {
        let v = if *ok { *v } else { f32::NAN };
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

pub fn decode_canvas(bytes: &[u8]) -> Result<Surface> {
    let bad = |why: &str| EngineError::Internal(format!("stored comparison canvas: {why}"));
    if bytes.len() < 21 || &bytes[..4] != MAGIC {
        return Err(bad("unknown format"));
    }
    let u32_at = |i: usize| {
        u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]) as usize
    };
    let (width, height) = (u32_at(4), u32_at(8));
    let mut um = [0u8; 8];
    um.copy_from_slice(&bytes[12..20]);
    let kind = match bytes[20] {
        0 => SurfaceKind::Topography,
        1 => SurfaceKind::Photograph,
        _ => return Err(bad("unknown surface kind")),
    };
    let body = &bytes[21..];
    if body.len() != width * height * 4 {
        return Err(bad("length does not match its dimensions"));
    }
    let mut s = Surface::empty(width, height, f64::from_le_bytes(um), kind);
    for (i, chunk) in body.chunks_exact(4).enumerate() {
        let v = f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        if v.is_finite() {
            s.values[i] = v;
            s.valid[i] = true;
        }
    }
    Ok(s)
}
