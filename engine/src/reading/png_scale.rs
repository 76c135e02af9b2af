//! The physical pixel size a PNG may carry in its `pHYs` chunk.
//!
//! Microscope software writes it (the NBIDE photographs say 10,039.5 dots
//! per inch, 2.53 µm per pixel); using it spares the lab from typing a
//! number that decides every comparison. Only a square pixel in metres
//! counts: unit 0 is an aspect ratio, not a size.

const SIGNATURE: &[u8; 8] = b"\x89PNG\r\n\x1a\n";

/// µm per pixel from the `pHYs` chunk, if there is a usable one. Only the
/// chunks before the image data are walked (`pHYs` must precede `IDAT`),
/// so this reads a few hundred bytes at most of a valid file.
pub fn png_um_per_px(bytes: &[u8]) -> Option<f64> {
    let mut rest = bytes.strip_prefix(SIGNATURE)?;
    while rest.len() >= 12 {
        let len = u32::from_be_bytes(rest[0..4].try_into().ok()?) as usize;
        let kind = &rest[4..8];
        let data = rest.get(8..8usize.checked_add(len)?)?;
        match kind {
            b"pHYs" if len == 9 => {
                let x = u32::from_be_bytes(data[0..4].try_into().ok()?);
                let y = u32::from_be_bytes(data[4..8].try_into().ok()?);
                let metres = data[8] == 1;
                return (metres && x == y && x > 0).then(|| 1e6 / f64::from(x));
            }
            b"IDAT" | b"IEND" => return None,
            _ => {}
        }
        // Length, type, data and CRC.
        rest = rest.get(12 + len..)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::png_um_per_px;

    fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut out = (data.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        out.extend_from_slice(&[0; 4]); // CRC: not checked here
        out
    }

    fn png(chunks: &[Vec<u8>]) -> Vec<u8> {
        let mut out = super::SIGNATURE.to_vec();
        out.extend(chunk(b"IHDR", &[0; 13]));
        chunks.iter().for_each(|c| out.extend_from_slice(c));
        out.extend(chunk(b"IDAT", &[0; 3]));
        out
    }

    fn phys(x: u32, y: u32, unit: u8) -> Vec<u8> {
        let mut data = x.to_be_bytes().to_vec();
        data.extend_from_slice(&y.to_be_bytes());
        data.push(unit);
        chunk(b"pHYs", &data)
    }

    #[test]
    fn square_pixels_in_metres_give_the_scale() {
        // 395,256 px/m = 10,039.5 dpi, the NBIDE photographs' setting.
        let um = png_um_per_px(&png(&[phys(395_256, 395_256, 1)])).expect("scale");
        assert!((um - 2.53).abs() < 0.001, "{um}");
    }

    #[test]
    fn no_unit_non_square_absent_or_late_chunks_give_none() {
        assert_eq!(png_um_per_px(&png(&[phys(1000, 1000, 0)])), None);
        assert_eq!(png_um_per_px(&png(&[phys(1000, 2000, 1)])), None);
        assert_eq!(png_um_per_px(&png(&[phys(0, 0, 1)])), None);
        assert_eq!(png_um_per_px(&png(&[])), None);
        let mut late = png(&[]);
        late.extend(phys(1000, 1000, 1));
        assert_eq!(png_um_per_px(&late), None);
    }

    #[test]
    fn truncated_or_foreign_bytes_give_none() {
        let full = png(&[phys(395_256, 395_256, 1)]);
        for cut in 0..full.len() - 20 {
            let _ = png_um_per_px(&full[..cut]);
        }
        assert_eq!(png_um_per_px(&full[..40]), None);
        assert_eq!(png_um_per_px(b"GIF89a"), None);
        let mut huge = super::SIGNATURE.to_vec();
        huge.extend_from_slice(&u32::MAX.to_be_bytes());
        huge.extend_from_slice(b"tEXt");
        assert_eq!(png_um_per_px(&huge), None);
    }
}
