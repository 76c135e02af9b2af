//! Recognising what kind of file was submitted, from its first bytes.
//!
//! The decision is made on magic bytes only, never on the file name or a
//! client-supplied content type: evidence files arrive renamed, and a
//! wrong extension must not route bytes to the wrong parser.

use std::str::FromStr;

use crate::error::{EngineError, Result};

/// The input formats the engine reads. Serialised (and stored) as
/// [`InputFormat::as_str`] gives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputFormat {
    /// ISO 25178-72 X3P topography (a zip container).
    X3p,
    /// PNG photograph (8- or 16-bit).
    Png,
    /// TIFF photograph (8-/16-bit integer or 32-bit float grey).
    Tiff,
    /// JPEG photograph.
    Jpeg,
}

/// Local file header signature: every non-empty zip starts with it, so an
/// X3P does too. An empty archive ("PK\x05\x06") cannot be an X3P.
const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";
/// Classic TIFF in both byte orders, then BigTIFF in both byte orders.
const TIFF_MAGICS: [&[u8]; 4] = [b"II*\0", b"MM\0*", b"II+\0", b"MM\0+"];
/// SOI marker followed by the start of the next marker.
const JPEG_MAGIC: &[u8] = b"\xFF\xD8\xFF";

impl InputFormat {
    /// Identify the format from the leading bytes of `bytes`.
    ///
    /// `source_name` only labels the error.
    pub fn detect(bytes: &[u8], source_name: &str) -> Result<InputFormat> {
        if bytes.starts_with(ZIP_MAGIC) {
            Ok(InputFormat::X3p)
        } else if bytes.starts_with(PNG_MAGIC) {
            Ok(InputFormat::Png)
        } else if TIFF_MAGICS.iter().any(|m| bytes.starts_with(m)) {
            Ok(InputFormat::Tiff)
        } else if bytes.starts_with(JPEG_MAGIC) {
            Ok(InputFormat::Jpeg)
        } else {
            Err(EngineError::invalid(
                source_name,
                "format",
                "not an X3P scan or a PNG/TIFF/JPEG image",
            ))
        }
    }

    /// Stable lower-case name, used in records and API responses.
    pub fn as_str(self) -> &'static str {
        match self {
            InputFormat::X3p => "x3p",
            InputFormat::Png => "png",
            InputFormat::Tiff => "tiff",
            InputFormat::Jpeg => "jpeg",
        }
    }

    /// True for the formats that carry a physical scale of their own.
    pub fn is_topography(self) -> bool {
        matches!(self, InputFormat::X3p)
    }
}

impl FromStr for InputFormat {
    type Err = EngineError;

    /// The format of a stored name ([`InputFormat::as_str`]).
    fn from_str(s: &str) -> Result<Self> {
        [
            InputFormat::X3p,
            InputFormat::Png,
            InputFormat::Tiff,
            InputFormat::Jpeg,
        ]
        .into_iter()
        .find(|f| f.as_str() == s)
        .ok_or_else(|| EngineError::InvalidMetadata {
            field: "format".into(),
            reason: format!("{s:?} is not an input format; expected one of: x3p, png, tiff, jpeg"),
        })
    }
}

/// Free-function form of [`InputFormat::detect`].
pub fn detect(bytes: &[u8], source_name: &str) -> Result<InputFormat> {
    InputFormat::detect(bytes, source_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_format_by_magic() {
        let cases: [(&[u8], InputFormat); 7] = [
            (b"PK\x03\x04rest", InputFormat::X3p),
            (b"\x89PNG\r\n\x1a\n....", InputFormat::Png),
            (b"II*\0....", InputFormat::Tiff),
            (b"MM\0*....", InputFormat::Tiff),
            (b"II+\0....", InputFormat::Tiff),
            (b"\xFF\xD8\xFF\xE0....", InputFormat::Jpeg),
            (b"\xFF\xD8\xFF\xDB", InputFormat::Jpeg),
        ];
        for (bytes, want) in cases {
            assert_eq!(detect(bytes, "t").ok(), Some(want), "{bytes:?}");
        }
    }

    #[test]
    fn garbage_and_empty_input_are_invalid_input() {
        for bytes in [
            &b""[..],
            b"hello world",
            b"PK\x05\x06",
            b"\x89PN",
            b"GIF89a",
        ] {
            match detect(bytes, "junk.bin") {
                Err(EngineError::InvalidInput {
                    source_name,
                    field,
                    reason,
                }) => {
                    assert_eq!(source_name, "junk.bin");
                    assert_eq!(field, "format");
                    assert!(reason.contains("not an X3P scan"), "{reason}");
                }
                other => panic!("expected InvalidInput for {bytes:?}, got {other:?}"),
            }
        }
    }

    #[test]
    fn names_are_stable() {
        assert_eq!(InputFormat::X3p.as_str(), "x3p");
        assert_eq!(InputFormat::Png.as_str(), "png");
        assert_eq!(InputFormat::Tiff.as_str(), "tiff");
        assert_eq!(InputFormat::Jpeg.as_str(), "jpeg");
        assert!(InputFormat::X3p.is_topography());
        assert!(!InputFormat::Png.is_topography());
    }
}
