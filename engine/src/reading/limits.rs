//! Limits applied while parsing untrusted bytes.

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
}

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits {
            max_file_bytes: 256 * 1024 * 1024,
            max_side: 16_384,
            max_pixels: 64 * 1024 * 1024,
            max_unzipped_bytes: 1024 * 1024 * 1024,
            max_zip_entries: 64,
        }
    }
}

impl ReadLimits {
    /// Refuse a file larger than `max_file_bytes` before looking inside it.
    pub fn check_file_size(&self, bytes: &[u8], source_name: &str) -> crate::error::Result<()> {
        let encoded = bytes.len() as u64;
        if encoded > self.max_file_bytes {
            return Err(crate::error::EngineError::too_large(
                source_name,
                "file size (bytes)",
                encoded,
                self.max_file_bytes,
            ));
        }
        Ok(())
    }
}
