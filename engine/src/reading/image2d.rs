//! Reading 2D photographs (PNG, TIFF, JPEG) of cartridge cases, such as the
//! NBIDE breech-face images, into [`SurfaceKind::Photograph`] surfaces.
//!
//! The scale comes from the caller's `um_per_px` when given (the lab knows
//! its microscope), else from a PNG's `pHYs` chunk; a photograph without
//! either is refused rather than given an assumed scale. Values are grey levels as f32: 0..255 for 8-bit, 0..65535 for
//! 16-bit, the stored value for float TIFF. Colour is converted to luma
//! (Rec. 709 weights, as the `image` crate does) because the comparison works
//! on intensity only; alpha is dropped.
//!
//! Dimensions are read from the header and checked against [`ReadLimits`]
//! before any pixel is decoded, and the decoders run with allocation limits
//! on top, so a small file declaring a huge image costs nothing.
//!
//! Grey TIFFs are decoded with the `tiff` crate directly: `image` cannot
//! represent 1-channel float32 TIFF, the usual export of intensity data.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, ImageReader};
use tiff::decoder::{Decoder as TiffDecoder, DecodingResult};
use tiff::ColorType as TiffColor;

use super::format::InputFormat;
use super::png_scale::png_um_per_px;
use super::{ReadLimits, MAX_UM_PER_PX, MIN_UM_PER_PX};
use crate::error::{EngineError, Result};
use crate::surface::{Surface, SurfaceKind};

/// Bytes per pixel of the largest decoded form (RGBA f32), for the decoder
/// allocation limit.
const MAX_DECODED_BYTES_PER_PIXEL: u64 = 16;

/// Read a 2D image into a photograph surface with every pixel valid (float
/// TIFF pixels that are NaN or infinite are the exception: they are
/// invalid).
pub fn read_image(
    bytes: &[u8],
    format: InputFormat,
    source_name: &str,
    um_per_px: Option<f64>,
    limits: &ReadLimits,
) -> Result<Surface> {
    let from_file = match format {
        InputFormat::Png => png_um_per_px(bytes),
        _ => None,
    };
    // Name where the scale came from in errors about it.
    let scale_field = if um_per_px.is_some() || from_file.is_none() {
        "um_per_px"
    } else {
        "pHYs"
    };
    let um_per_px = check_scale(um_per_px.or(from_file), source_name)?;
    limits.check_file_size(bytes, source_name)?;
    let grid = Grid {
        um_per_px,
        scale_field,
    };
    let image_format = match format {
        InputFormat::Png => ImageFormat::Png,
        InputFormat::Jpeg => ImageFormat::Jpeg,
        InputFormat::Tiff => {
            if let Some(surface) = read_grey_tiff(bytes, source_name, &grid, limits)? {
                return finish(surface, source_name);
            }
            ImageFormat::Tiff
        }
        InputFormat::X3p => {
            return Err(EngineError::invalid(
                source_name,
                "format",
                "an X3P scan is not a 2D image; read it with read_x3p",
            ))
        }
    };

    let decode_error = |e: image::ImageError| {
        EngineError::invalid(source_name, "image", format!("cannot decode: {e}"))
    };
    let (width, height) = ImageReader::with_format(Cursor::new(bytes), image_format)
        .into_dimensions()
        .map_err(decode_error)?;
    grid.check(width, height, source_name, limits)?;

    let mut decode_limits = image::Limits::default();
    decode_limits.max_image_width = Some(width);
    decode_limits.max_image_height = Some(height);
    decode_limits.max_alloc =
        Some((limits.max_pixels as u64).saturating_mul(MAX_DECODED_BYTES_PER_PIXEL));
    let mut reader = ImageReader::with_format(Cursor::new(bytes), image_format);
    reader.limits(decode_limits);
    let image = reader.decode().map_err(decode_error)?;
    finish(luma_surface(image, um_per_px), source_name)
}

/// The scale must be given, finite and plausible for a casing photograph.
fn check_scale(um_per_px: Option<f64>, source_name: &str) -> Result<f64> {
    let scale = um_per_px.ok_or_else(|| {
        EngineError::invalid(
            source_name,
            "um_per_px",
            "this image carries no physical scale (PNG pHYs in metres); supply um_per_px",
        )
    })?;
    if !scale.is_finite() || !(MIN_UM_PER_PX..=MAX_UM_PER_PX).contains(&scale) {
        return Err(EngineError::invalid(
            source_name,
            "um_per_px",
            format!(
                "{scale} is outside the plausible [{MIN_UM_PER_PX}, {MAX_UM_PER_PX}] µm per pixel"
            ),
        ));
    }
    Ok(scale)
}

/// The scale of an image being read, and the field it came from.
struct Grid {
    um_per_px: f64,
    scale_field: &'static str,
}

impl Grid {
    /// The declared pixel counts and physical size, before decoding.
    fn check(&self, width: u32, height: u32, source_name: &str, limits: &ReadLimits) -> Result<()> {
        check_dimensions(u64::from(width), u64::from(height), source_name, limits)?;
        limits.check_extent(
            width as usize,
            height as usize,
            self.um_per_px,
            source_name,
            self.scale_field,
        )
    }
}

fn check_dimensions(width: u64, height: u64, source_name: &str, limits: &ReadLimits) -> Result<()> {
    if width == 0 || height == 0 {
        return Err(EngineError::invalid(
            source_name,
            "image",
            format!("has no pixels ({width} x {height})"),
        ));
    }
    let max_side = limits.max_side as u64;
    for (what, side) in [("image width", width), ("image height", height)] {
        if side > max_side {
            return Err(EngineError::too_large(source_name, what, side, max_side));
        }
    }
    let pixels = width.saturating_mul(height);
    if pixels > limits.max_pixels as u64 {
        return Err(EngineError::too_large(
            source_name,
            "image pixels",
            pixels,
            limits.max_pixels as u64,
        ));
    }
    Ok(())
}

/// Decode a single-channel TIFF with the `tiff` crate. Returns `None` for
/// other colour types, which go through `image` instead.
fn read_grey_tiff(
    bytes: &[u8],
    source_name: &str,
    grid: &Grid,
    limits: &ReadLimits,
) -> Result<Option<Surface>> {
    let tiff_error = |e: tiff::TiffError| {
        EngineError::invalid(source_name, "image", format!("cannot decode TIFF: {e}"))
    };
    let mut decoder = TiffDecoder::new(Cursor::new(bytes)).map_err(tiff_error)?;
    if !matches!(
        decoder.colortype().map_err(tiff_error)?,
        TiffColor::Gray(8 | 16 | 32 | 64)
    ) {
        return Ok(None);
    }
    let (width, height) = decoder.dimensions().map_err(tiff_error)?;
    grid.check(width, height, source_name, limits)?;
    let mut tiff_limits = tiff::decoder::Limits::default();
    tiff_limits.decoding_buffer_size = limits.max_pixels.saturating_mul(8);
    let mut decoder = decoder.with_limits(tiff_limits);

    let values: Vec<f32> =
        match decoder.read_image().map_err(tiff_error)? {
            DecodingResult::U8(v) => v.into_iter().map(f32::from).collect(),
            DecodingResult::U16(v) => v.into_iter().map(f32::from).collect(),
            DecodingResult::F32(v) => v,
            DecodingResult::F64(v) => v.into_iter().map(|x| x as f32).collect(),
            _ => return Err(EngineError::invalid(
                source_name,
                "image",
                "grey TIFF sample type not supported (use 8/16-bit unsigned or 32/64-bit float)",
            )),
        };
    let (width, height) = (width as usize, height as usize);
    if values.len() != width * height {
        return Err(EngineError::invalid(
            source_name,
            "image",
            format!(
                "TIFF decoded to {} samples, expected {width} x {height}",
                values.len()
            ),
        ));
    }
    let valid = values.iter().map(|v| v.is_finite()).collect();
    let values = values
        .into_iter()
        .map(|v| if v.is_finite() { v } else { 0.0 })
        .collect();
    Ok(Some(Surface {
        width,
        height,
        values,
        valid,
        um_per_px: grid.um_per_px,
        kind: SurfaceKind::Photograph,
    }))
}

/// Convert a decoded image to grey levels, keeping 16-bit and float depth.
fn luma_surface(image: DynamicImage, um_per_px: f64) -> Surface {
    let (width, height) = (image.width() as usize, image.height() as usize);
    let values: Vec<f32> = match image {
        DynamicImage::ImageLuma8(_)
        | DynamicImage::ImageLumaA8(_)
        | DynamicImage::ImageRgb8(_)
        | DynamicImage::ImageRgba8(_) => image
            .to_luma8()
            .into_raw()
            .into_iter()
            .map(f32::from)
            .collect(),
        DynamicImage::ImageLuma16(_)
        | DynamicImage::ImageLumaA16(_)
        | DynamicImage::ImageRgb16(_)
        | DynamicImage::ImageRgba16(_) => image
            .to_luma16()
            .into_raw()
            .into_iter()
            .map(f32::from)
            .collect(),
        _ => image.to_luma32f().into_raw(),
    };
    let valid = values.iter().map(|v| v.is_finite()).collect();
    let values = values
        .into_iter()
        .map(|v| if v.is_finite() { v } else { 0.0 })
        .collect();
    Surface {
        width,
        height,
        values,
        valid,
        um_per_px,
        kind: SurfaceKind::Photograph,
    }
}

fn finish(surface: Surface, source_name: &str) -> Result<Surface> {
    if surface.valid_count() == 0 {
        return Err(EngineError::Unusable {
            source_name: source_name.to_string(),
            reason: "the image has no finite pixel values".to_string(),
        });
    }
    Ok(surface)
}

#[cfg(test)]
mod tests {
    use image::{GrayImage, ImageBuffer, Luma, Rgb, RgbImage};

    use super::*;

    const NBIDE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/data/nbide-2d/NBIDE R BF 118.png"
    );

    fn encode(image: DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, format).expect("encodes");
        out.into_inner()
    }

    fn read(bytes: &[u8], format: InputFormat) -> Result<Surface> {
        read_image(bytes, format, "t", Some(3.0), &ReadLimits::default())
    }

    fn grey_tiff<C: tiff::encoder::colortype::ColorType>(
        w: u32,
        h: u32,
        data: &[C::Inner],
    ) -> Vec<u8>
    where
        [C::Inner]: tiff::encoder::TiffValue,
    {
        let mut out = Cursor::new(Vec::new());
        tiff::encoder::TiffEncoder::new(&mut out)
            .expect("encoder")
            .write_image::<C>(w, h, data)
            .expect("encodes");
        out.into_inner()
    }

    #[test]
    fn sixteen_bit_png_values_are_exact() {
        let raw: Vec<u16> = vec![0, 1, 255, 256, 40_000, 65_535];
        let img = ImageBuffer::<Luma<u16>, _>::from_raw(3, 2, raw.clone()).expect("buffer");
        let s = read(
            &encode(DynamicImage::ImageLuma16(img), ImageFormat::Png),
            InputFormat::Png,
        )
        .expect("reads");
        assert_eq!((s.width, s.height, s.um_per_px), (3, 2, 3.0));
        assert_eq!(s.kind, SurfaceKind::Photograph);
        assert_eq!(
            s.values,
            raw.iter().map(|v| f32::from(*v)).collect::<Vec<_>>()
        );
        assert!(s.valid.iter().all(|v| *v));
    }

    #[test]
    fn colour_png_becomes_rec709_luma() {
        let img = RgbImage::from_fn(3, 1, |x, _| match x {
            0 => Rgb([255, 0, 0]),
            1 => Rgb([0, 255, 0]),
            _ => Rgb([0, 0, 255]),
        });
        let s = read(
            &encode(DynamicImage::ImageRgb8(img), ImageFormat::Png),
            InputFormat::Png,
        )
        .expect("reads");
        // 0.2126, 0.7152, 0.0722 of 255.
        for (got, want) in s.values.iter().zip([54.0f32, 182.0, 18.0]) {
            assert!((got - want).abs() <= 1.0, "{got} vs {want}");
        }
    }

    #[test]
    fn float32_tiff_keeps_values_and_marks_nan_invalid() {
        let data = [-1.25f32, 0.5, 1e6, f32::NAN];
        let bytes = grey_tiff::<tiff::encoder::colortype::Gray32Float>(2, 2, &data);
        let s = read(&bytes, InputFormat::Tiff).expect("reads");
        assert_eq!(s.values, vec![-1.25, 0.5, 1e6, 0.0]);
        assert_eq!(s.valid, vec![true, true, true, false]);
    }

    #[test]
    fn sixteen_bit_and_colour_tiffs_read() {
        let bytes = grey_tiff::<tiff::encoder::colortype::Gray16>(2, 1, &[7, 65_000]);
        assert_eq!(
            read(&bytes, InputFormat::Tiff).expect("reads").values,
            vec![7.0, 65_000.0]
        );
        // RGB TIFF goes through `image` and is converted to luma.
        let rgb = grey_tiff::<tiff::encoder::colortype::RGB8>(1, 1, &[100, 100, 100]);
        assert_eq!(
            read(&rgb, InputFormat::Tiff).expect("reads").values,
            vec![100.0]
        );
    }

    #[test]
    fn jpeg_reads_with_near_original_grey() {
        let img = GrayImage::from_pixel(16, 8, Luma([128]));
        let s = read(
            &encode(DynamicImage::ImageLuma8(img), ImageFormat::Jpeg),
            InputFormat::Jpeg,
        )
        .expect("reads");
        assert_eq!((s.width, s.height), (16, 8));
        assert!(
            s.values.iter().all(|v| (v - 128.0).abs() <= 2.0),
            "{:?}",
            &s.values[..4]
        );
    }

    #[test]
    fn scale_must_be_supplied_and_plausible() {
        let png = encode(
            DynamicImage::ImageLuma8(GrayImage::new(2, 2)),
            ImageFormat::Png,
        );
        for scale in [None, Some(0.0), Some(f64::NAN), Some(1000.0)] {
            match read_image(&png, InputFormat::Png, "t", scale, &ReadLimits::default()) {
                Err(EngineError::InvalidInput { field, reason, .. }) => {
                    assert_eq!(field, "um_per_px", "{scale:?}");
                    if scale.is_none() {
                        assert!(reason.contains("supply um_per_px"), "{reason}");
                    }
                }
                other => panic!("{scale:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn dimensions_are_checked_before_decoding() {
        let png = encode(
            DynamicImage::ImageLuma8(GrayImage::new(16, 4)),
            ImageFormat::Png,
        );
        let limits = ReadLimits {
            max_side: 8,
            ..ReadLimits::default()
        };
        match read_image(&png, InputFormat::Png, "t", Some(3.0), &limits) {
            Err(EngineError::TooLarge {
                what,
                actual,
                limit,
                ..
            }) => {
                assert_eq!((what.as_str(), actual, limit), ("image width", 16, 8));
            }
            other => panic!("{other:?}"),
        }
        let limits = ReadLimits {
            max_pixels: 63,
            ..ReadLimits::default()
        };
        assert!(matches!(
            read_image(&png, InputFormat::Png, "t", Some(3.0), &limits),
            Err(EngineError::TooLarge { actual: 64, .. })
        ));
    }

    #[test]
    fn a_coarse_scale_over_a_casing_head_is_refused_before_decoding() {
        let png = encode(
            DynamicImage::ImageLuma8(GrayImage::new(256, 256)),
            ImageFormat::Png,
        );
        // Checked from the header, before pixels are decoded: the decoder
        // would be given room for the image only after this check.
        match read_image(
            &png,
            InputFormat::Png,
            "t",
            Some(500.0),
            &ReadLimits::default(),
        ) {
            Err(EngineError::InvalidInput { field, reason, .. }) => {
                assert_eq!(field, "um_per_px");
                assert!(reason.contains("128.0 x 128.0 mm"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        let tiff = grey_tiff::<tiff::encoder::colortype::Gray8>(256, 256, &[0; 256 * 256]);
        assert!(matches!(
            read_image(
                &tiff,
                InputFormat::Tiff,
                "t",
                Some(500.0),
                &ReadLimits::default()
            ),
            Err(EngineError::InvalidInput { .. })
        ));
        // The same image at a microscope's scale reads.
        assert!(read_image(
            &png,
            InputFormat::Png,
            "t",
            Some(3.0),
            &ReadLimits::default()
        )
        .is_ok());
    }

    #[test]
    fn truncated_or_mislabelled_images_are_invalid_input() {
        let png = encode(
            DynamicImage::ImageLuma8(GrayImage::new(64, 64)),
            ImageFormat::Png,
        );
        for (bytes, format) in [
            (&png[..png.len() / 2], InputFormat::Png),
            (&png[..20], InputFormat::Png),
            (&png[..], InputFormat::Jpeg),
            (&b"II*\0garbage"[..], InputFormat::Tiff),
            (&png[..], InputFormat::X3p),
        ] {
            match read(bytes, format) {
                Err(EngineError::InvalidInput { field, .. }) => {
                    assert!(field == "image" || field == "format", "{field}");
                }
                other => panic!("{format:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn real_nbide_photograph_reads() {
        let bytes = std::fs::read(NBIDE).expect("NBIDE sample present under /work/shared");
        let s = read(&bytes, InputFormat::Png).expect("reads");
        assert_eq!((s.width, s.height), (2592, 1944));
        assert_eq!(s.valid_count(), 2592 * 1944);
        assert!(s.values.iter().all(|v| (0.0..=255.0).contains(v)));
        let (_, std) = s.valid_mean_std();
        assert!(std > 1.0, "a real photograph is not flat: std {std}");
    }
}
