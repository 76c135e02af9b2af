//! Byte encoding of canonical canvases, as stored in the database for the
//! fine comparison (so a query never re-reads and re-processes evidence).
//!
//! Two versions, told apart by their first four bytes:
//!
//! - `CTC2` (written since issue #17): each valid sample quantised to a
//!   16-bit code on the canvas's own range, half the size of `CTC1`.
//!   Canvases are normalised to unit variance, so one step of the code is
//!   around 10⁻⁴ of a standard deviation: far below anything the fine
//!   comparison can tell apart (docs/evaluation.md has the check). A
//!   reserved code keeps no-data exactly.
//! - `CTC1`: f32 values, NaN for no-data. Still read; `casetrace
//!   redescribe` rewrites stored ones as `CTC2`.

use crate::error::{EngineError, Result};
use crate::surface::{Surface, SurfaceKind};

/// The version [`encode_canvas`] writes.
pub const CANVAS_CODEC: &[u8; 4] = MAGIC_V2;
/// The f32 version, read only.
pub const CANVAS_CODEC_V1: &[u8; 4] = MAGIC_V1;

const MAGIC_V1: &[u8; 4] = b"CTC1";
const MAGIC_V2: &[u8; 4] = b"CTC2";
/// Magic, width, height, µm/px and kind: what both versions start with.
const HEADER: usize = 21;
/// `CTC2`'s offset and step after the common header.
const V2_HEADER: usize = HEADER + 8;
/// The code of a sample without data; valid samples use `0..NO_DATA`.
const NO_DATA: u16 = u16::MAX;
/// The highest code of a valid sample.
const TOP_CODE: f64 = (NO_DATA - 1) as f64;

/// `CTC2`: the common header (magic, width u32, height u32, µm/px f64,
/// kind u8), the offset f32 (the lowest valid value) and the step f32,
/// then one u16 per sample: `value = offset + code * step`, or the
/// reserved code 65535 (no data); all little-endian. Non-finite values
/// count as no data, as they did in `CTC1`.
pub fn encode_canvas(s: &Surface) -> Vec<u8> {
    let valid = |i: usize| s.valid[i] && s.values[i].is_finite();
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for (i, v) in s.values.iter().enumerate() {
        if valid(i) {
            lo = lo.min(f64::from(*v));
            hi = hi.max(f64::from(*v));
        }
    }
    // No valid sample: any offset; a flat canvas: step 0, every code 0.
    let offset = if lo.is_finite() { lo as f32 } else { 0.0 };
    let step = if hi > lo {
        ((hi - lo) / TOP_CODE) as f32
    } else {
        0.0
    };
    let mut out = Vec::with_capacity(V2_HEADER + 2 * s.values.len());
    write_header(&mut out, MAGIC_V2, s);
    out.extend_from_slice(&offset.to_le_bytes());
    out.extend_from_slice(&step.to_le_bytes());
    for (i, v) in s.values.iter().enumerate() {
        let code = if !valid(i) {
            NO_DATA
        } else if step == 0.0 {
            0
        } else {
            // Rounded in f64 against the f32 offset and step the decoder
            // will use, so the error is at most half a step.
            let code = ((f64::from(*v) - f64::from(offset)) / f64::from(step)).round();
            code.clamp(0.0, TOP_CODE) as u16
        };
        out.extend_from_slice(&code.to_le_bytes());
    }
    out
}

/// The `CTC1` encoding (f32 values, NaN for no data): kept for tests that
/// stand for rows stored before `CTC2`, and to measure what `CTC2` saves.
pub fn encode_canvas_v1(s: &Surface) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + 4 * s.values.len());
    write_header(&mut out, MAGIC_V1, s);
    for (v, ok) in s.values.iter().zip(&s.valid) {
        let v = if *ok { *v } else { f32::NAN };
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// Which version `bytes` are, when they are one of the two.
pub fn canvas_codec(bytes: &[u8]) -> Option<&'static [u8; 4]> {
    match bytes.get(..4) {
        Some(m) if m == MAGIC_V2 => Some(MAGIC_V2),
        Some(m) if m == MAGIC_V1 => Some(MAGIC_V1),
        _ => None,
    }
}

fn write_header(out: &mut Vec<u8>, magic: &[u8; 4], s: &Surface) {
    out.extend_from_slice(magic);
    out.extend_from_slice(&(s.width as u32).to_le_bytes());
    out.extend_from_slice(&(s.height as u32).to_le_bytes());
    out.extend_from_slice(&s.um_per_px.to_le_bytes());
    out.push(match s.kind {
        SurfaceKind::Topography => 0,
        SurfaceKind::Photograph => 1,
    });
}

/// Decode either version.
pub fn decode_canvas(bytes: &[u8]) -> Result<Surface> {
    let bad = |why: &str| EngineError::Internal(format!("stored comparison canvas: {why}"));
    let codec = canvas_codec(bytes).ok_or_else(|| bad("unknown format"))?;
    if bytes.len() < HEADER {
        return Err(bad("shorter than its header"));
    }
    let u32_at = |i: usize| {
        u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]) as usize
    };
    let f32_at =
        |i: usize| f32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let (width, height) = (u32_at(4), u32_at(8));
    let mut um = [0u8; 8];
    um.copy_from_slice(&bytes[12..20]);
    let kind = match bytes[20] {
        0 => SurfaceKind::Topography,
        1 => SurfaceKind::Photograph,
        _ => return Err(bad("unknown surface kind")),
    };
    let samples = width
        .checked_mul(height)
        .ok_or_else(|| bad("dimensions overflow"))?;
    // The length is checked before anything is allocated: dimensions
    // that do not match the bytes never size a buffer.
    let per_sample = if codec == MAGIC_V1 { 4 } else { 2 };
    let header = if codec == MAGIC_V1 { HEADER } else { V2_HEADER };
    if bytes.len() < header || Some(bytes.len() - header) != samples.checked_mul(per_sample) {
        return Err(bad("length does not match its dimensions"));
    }
    let mut s = Surface::empty(width, height, f64::from_le_bytes(um), kind);
    if codec == MAGIC_V1 {
        let body = &bytes[HEADER..];
        for (i, chunk) in body.chunks_exact(4).enumerate() {
            let v = f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            if v.is_finite() {
                s.values[i] = v;
                s.valid[i] = true;
            }
        }
        return Ok(s);
    }
    let (offset, step) = (f64::from(f32_at(HEADER)), f64::from(f32_at(HEADER + 4)));
    for (i, chunk) in bytes[V2_HEADER..].chunks_exact(2).enumerate() {
        let code = u16::from_le_bytes([chunk[0], chunk[1]]);
        if code != NO_DATA {
            s.values[i] = (offset + f64::from(code) * step) as f32;
            s.valid[i] = true;
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A canvas like the pipeline's: unit-variance values with holes.
    fn canvas(width: usize, height: usize) -> Surface {
        let mut s = Surface::empty(width, height, 25.0, SurfaceKind::Topography);
        for i in 0..width * height {
            let x = i as f32;
            s.values[i] = (x * 0.37).sin() * 1.7 + (x * 0.011).cos() * 0.6 - 0.2;
            s.valid[i] = i % 7 != 3;
        }
        s.values[5] = 9.5; // an outlier widens the range
        s
    }

    #[test]
    fn ctc2_keeps_no_data_exactly_and_values_within_half_a_step() {
        let s = canvas(160, 160);
        let bytes = encode_canvas(&s);
        assert_eq!(&bytes[..4], CANVAS_CODEC);
        assert_eq!(bytes.len(), V2_HEADER + 2 * 160 * 160);
        assert!(bytes.len() * 2 < encode_canvas_v1(&s).len() + 100);
        let back = decode_canvas(&bytes).unwrap();
        assert_eq!(
            (back.width, back.height, back.um_per_px, back.kind),
            (160, 160, 25.0, s.kind)
        );
        assert_eq!(back.valid, s.valid);
        let (lo, hi) = (-2.5_f64, 9.5_f64);
        let half_step = (hi - lo) / TOP_CODE / 2.0 + 1e-6;
        for i in 0..s.values.len() {
            if s.valid[i] {
                let err = (f64::from(back.values[i]) - f64::from(s.values[i])).abs();
                assert!(err <= half_step, "sample {i}: off by {err}");
            } else {
                assert_eq!(back.values[i], 0.0);
            }
        }
    }

    #[test]
    fn ctc1_rows_still_decode_bit_for_bit() {
        let s = canvas(40, 30);
        let back = decode_canvas(&encode_canvas_v1(&s)).unwrap();
        assert_eq!(back.valid, s.valid);
        for i in 0..s.values.len() {
            if s.valid[i] {
                assert_eq!(back.values[i].to_bits(), s.values[i].to_bits());
            }
        }
        assert_eq!(canvas_codec(&encode_canvas_v1(&s)), Some(CANVAS_CODEC_V1));
    }

    #[test]
    fn flat_empty_and_non_finite_canvases() {
        let mut flat = Surface::empty(4, 4, 12.5, SurfaceKind::Photograph);
        flat.values.fill(3.25);
        flat.valid.fill(true);
        flat.values[0] = f32::INFINITY;
        let back = decode_canvas(&encode_canvas(&flat)).unwrap();
        assert!(!back.valid[0], "a non-finite value is no data, as in CTC1");
        assert!(back.values[1..].iter().all(|v| *v == 3.25));
        assert!(back.valid[1..].iter().all(|v| *v));

        let empty = Surface::empty(3, 2, 25.0, SurfaceKind::Topography);
        let back = decode_canvas(&encode_canvas(&empty)).unwrap();
        assert!(back.valid.iter().all(|v| !v));
    }

    #[test]
    fn damaged_bytes_are_refused() {
        let bytes = encode_canvas(&canvas(8, 8));
        assert!(decode_canvas(&bytes[..bytes.len() - 1]).is_err());
        assert!(decode_canvas(&bytes[..10]).is_err());
        let mut other = bytes.clone();
        other[..4].copy_from_slice(b"CTC9");
        assert!(decode_canvas(&other).is_err());
        let mut huge = bytes;
        huge[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        huge[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode_canvas(&huge).is_err());
    }
}
