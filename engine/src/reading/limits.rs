//! Limits applied while parsing untrusted bytes.

use crate::error::{EngineError, Result};

/// Bounds on what a reader accepts; every reader checks these before it
/// allocates in proportion to a size taken from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// Largest encoded file accepted, in bytes.
    pub max_file_bytes: u64,
    /// Largest width or height, in pixels.
    pub max_side: usize,
    /// Largest number of pixels (width x height).
    pub max_pixels: usize,
    /// Largest decompressed size of any one zip member, in bytes.
    pub max_unzipped_bytes: u64,
    /// Largest number of members in an X3P zip.
    pub max_zip_entries: usize,
    /// Largest physical width or height of an input, µm (pixels times the
    /// declared scale). A cartridge-case head is at most about 22 mm across
    /// (.50 BMG) and its primer a few mm; a 2 KB image declaring 500 µm per
    /// pixel would otherwise describe a 128 mm field that preprocessing
    /// resamples into a buffer of gigabytes.
    pub max_extent_um: u64,
}

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits {
            max_file_bytes: 256 * 1024 * 1024,
            max_side: 16_384,
            max_pixels: 64 * 1024 * 1024,
            max_unzipped_bytes: 1024 * 1024 * 1024,
            max_zip_entries: 64,
            max_extent_um: 25_000,
        }
    }
}

impl ReadLimits {
    /// Refuse a file larger than `max_file_bytes` before looking inside it.
    pub fn check_file_size(&self, bytes: &[u8], source_name: &str) -> Result<()> {
        let encoded = bytes.len() as u64;
        if encoded > self.max_file_bytes {
            return Err(EngineError::too_large(
                source_name,
                "file size (bytes)",
                encoded,
                self.max_file_bytes,
            ));
        }
        Ok(())
    }

    /// Refuse a `width` x `height` grid at `um_per_px` whose physical size
    /// exceeds `max_extent_um`, naming `scale_field` (where the scale came
    /// from) — before any pixel is decoded.
    pub fn check_extent(
        &self,
        width: usize,
        height: usize,
        um_per_px: f64,
        source_name: &str,
        scale_field: &str,
    ) -> Result<()> {
        let side = width.max(height) as f64 * um_per_px;
        if side > self.max_extent_um as f64 {
            return Err(EngineError::invalid(
                source_name,
                scale_field,
                format!(
                    "{width} x {height} pixels at {um_per_px} µm per pixel is {:.1} x {:.1} mm; \
                     a cartridge-case head image is at most {:.1} mm across \
                     (check the declared scale)",
                    width as f64 * um_per_px / 1000.0,
                    height as f64 * um_per_px / 1000.0,
                    self.max_extent_um as f64 / 1000.0
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extent_names_the_scale_field_and_the_size() {
        let limits = ReadLimits::default();
        assert!(limits
            .check_extent(2592, 1944, 2.53, "nbide", "um_per_px")
            .is_ok());
        match limits.check_extent(256, 256, 500.0, "tiny.png", "um_per_px") {
            Err(EngineError::InvalidInput { field, reason, .. }) => {
                assert_eq!(field, "um_per_px");
                assert!(reason.contains("128.0 x 128.0 mm"), "{reason}");
                assert!(reason.contains("25.0 mm"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }
}
