//! Readers for untrusted input files: X3P topography and 2D images.
//!
//! [`read_surface`] is the one entry point the rest of the engine uses: it
//! checks the file size, recognises the format from magic bytes
//! ([`InputFormat::detect`]) and hands the bytes to [`read_x3p`] or
//! [`read_image`]. Every reader checks [`ReadLimits`] before allocating in
//! proportion to a size taken from the input, and reports problems as
//! [`EngineError::InvalidInput`] / [`EngineError::TooLarge`] /
//! [`EngineError::Unusable`] naming the offending field.

mod format;
mod image2d;
mod limits;
mod png_scale;
mod x3p;

pub use format::{detect, InputFormat};
pub use image2d::read_image;
pub use limits::ReadLimits;
pub use x3p::{read_x3p, write_x3p, write_x3p_micrometres};

#[cfg(doc)]
use crate::error::EngineError;
use crate::error::Result;
use crate::surface::Surface;

/// Smallest plausible pixel size of a casing scan or photograph, µm.
pub const MIN_UM_PER_PX: f64 = 0.05;
/// Largest plausible pixel size of a casing scan or photograph, µm.
pub const MAX_UM_PER_PX: f64 = 500.0;

/// Read any supported input into a [`Surface`], reporting which format it was.
///
/// `um_per_px` is the physical pixel size for 2D images, which carry none
/// and must have it supplied. For X3P it is ignored: the scan's own
/// increments are the calibrated instrument scale, and letting a caller
/// override them would silently mis-scale evidence.
pub fn read_surface(
    bytes: &[u8],
    source_name: &str,
    um_per_px: Option<f64>,
    limits: &ReadLimits,
) -> Result<(InputFormat, Surface)> {
    limits.check_file_size(bytes, source_name)?;
    let format = InputFormat::detect(bytes, source_name)?;
    let surface = match format {
        InputFormat::X3p => read_x3p(bytes, source_name, limits)?,
        InputFormat::Png | InputFormat::Tiff | InputFormat::Jpeg => {
            read_image(bytes, format, source_name, um_per_px, limits)?
        }
    };
    Ok((format, surface))
}

#[cfg(test)]
mod tests {
    use image::{DynamicImage, GrayImage, ImageFormat};

    use super::*;
    use crate::error::EngineError;
    use crate::surface::SurfaceKind;

    fn png() -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        DynamicImage::ImageLuma8(GrayImage::from_pixel(4, 3, image::Luma([9])))
            .write_to(&mut out, ImageFormat::Png)
            .expect("encodes");
        out.into_inner()
    }

    #[test]
    fn dispatches_images_with_the_supplied_scale() {
        let (format, s) =
            read_surface(&png(), "a.png", Some(4.5), &ReadLimits::default()).expect("reads");
        assert_eq!(format, InputFormat::Png);
        assert_eq!((s.width, s.height, s.um_per_px), (4, 3, 4.5));
        assert_eq!(s.kind, SurfaceKind::Photograph);
    }

    #[test]
    fn x3p_keeps_its_own_scale_whatever_the_caller_supplies() {
        let mut scan = Surface::empty(2, 2, 2.5, SurfaceKind::Topography);
        scan.valid[3] = true;
        let (format, s) = read_surface(
            &write_x3p(&scan),
            "a.x3p",
            Some(99.0),
            &ReadLimits::default(),
        )
        .expect("reads");
        assert_eq!(format, InputFormat::X3p);
        assert!((s.um_per_px - 2.5).abs() < 1e-12);
        assert_eq!(s.kind, SurfaceKind::Topography);
    }

    #[test]
    fn file_size_is_checked_before_the_format() {
        let limits = ReadLimits {
            max_file_bytes: 4,
            ..ReadLimits::default()
        };
        // Garbage that is also too big reports the size, proving the order.
        assert!(matches!(
            read_surface(b"garbage!", "g", None, &limits),
            Err(EngineError::TooLarge {
                actual: 8,
                limit: 4,
                ..
            })
        ));
        assert!(matches!(
            read_surface(b"garbage!", "g", None, &ReadLimits::default()),
            Err(EngineError::InvalidInput { .. })
        ));
    }

    #[test]
    fn png_without_scale_is_refused_naming_um_per_px() {
        match read_surface(&png(), "a.png", None, &ReadLimits::default()) {
            Err(EngineError::InvalidInput { field, .. }) => assert_eq!(field, "um_per_px"),
            other => panic!("{other:?}"),
        }
    }
}
