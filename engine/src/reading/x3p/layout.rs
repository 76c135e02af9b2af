//! Turning the raw `main.xml` fields into a checked description of the
//! point data: grid size, sample type, physical scale and where the data is.
//!
//! Units: ISO 5436-2 says increments and heights are in metres, and the
//! Weller scans follow it (CX Increment 6.25e-06). Some writers put
//! micrometres there instead. A lateral increment below 1e-3 can only be
//! metres for a cartridge-case scan (1 mm per pixel in micrometre units would
//! be 1e-3 µm, far below any microscope), anything from 1e-3 up is taken as
//! micrometres. Heights are assumed to be in the same unit as the lateral
//! axes. The resulting pixel size must then be plausible for a casing scan,
//! [0.05, 500] µm, which catches files whose unit guess would be wrong.

use super::header::{
    MainXml, CX_AXIS_TYPE, CX_INCREMENT, CY_AXIS_TYPE, CY_INCREMENT, CZ_AXIS_TYPE, CZ_DATA_TYPE,
    CZ_INCREMENT, CZ_OFFSET, MD5_POINT_DATA, POINT_DATA_LINK, SIZE_X, SIZE_Y, SIZE_Z,
    VALID_POINTS_LINK,
};
use crate::error::{EngineError, Result};
use crate::reading::{MAX_UM_PER_PX, MIN_UM_PER_PX};

/// Increments below this are metres, from it up micrometres.
const METRES_BELOW: f64 = 1e-3;
/// CX and CY increments may differ by this fraction (rounding in writers).
const MAX_ANISOTROPY: f64 = 0.01;

/// Sample encodings of `data.bin` (the CZ DataType).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DataType {
    /// IEEE 754 double, code `D`.
    F64,
    /// IEEE 754 single, code `F`.
    F32,
    /// 32-bit signed integer, code `L`.
    I32,
    /// 16-bit signed integer, code `I`.
    I16,
}

impl DataType {
    pub(super) fn bytes(self) -> usize {
        match self {
            DataType::F64 => 8,
            DataType::F32 | DataType::I32 => 4,
            DataType::I16 => 2,
        }
    }

    pub(super) fn is_integer(self) -> bool {
        matches!(self, DataType::I32 | DataType::I16)
    }
}

/// Everything needed to decode `data.bin` into a surface.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Layout {
    pub width: usize,
    pub height: usize,
    pub data_type: DataType,
    pub um_per_px: f64,
    /// Factor from the file's unit to micrometres (1e6 for metres, else 1).
    pub to_um: f64,
    /// CZ increment and offset, in the file's unit; applied to integer
    /// samples only (see [`Layout::height_um`]).
    pub z_increment: f64,
    pub z_offset: f64,
    /// Zip member holding the point data.
    pub point_data_link: String,
    /// Lower-case hex MD5 of the point data, when the file gives one.
    pub md5: Option<String>,
}

impl Layout {
    /// Check the fields of `xml` and derive the layout. Size limits are
    /// checked by the caller, which knows them.
    pub(super) fn from_xml(xml: &MainXml, source_name: &str) -> Result<Layout> {
        let bad = |field: &str, reason: String| EngineError::invalid(source_name, field, reason);

        for axis_type in [CX_AXIS_TYPE, CY_AXIS_TYPE] {
            // "I" (incremental) means positions follow from the increment;
            // "A" would store x/y per point in data.bin, which is not a grid.
            if let Some(t) = xml.get(axis_type).filter(|t| *t != "I") {
                return Err(bad(
                    axis_type,
                    format!("is {t:?}; only incremental (\"I\") lateral axes are supported"),
                ));
            }
        }
        if let Some(t) = xml.get(CZ_AXIS_TYPE).filter(|t| *t != "A") {
            return Err(bad(
                CZ_AXIS_TYPE,
                format!("is {t:?}; heights must be an absolute (\"A\") axis"),
            ));
        }
        if xml.get(VALID_POINTS_LINK).is_some_and(|l| !l.is_empty()) {
            // Decoding the separate valid-point bit mask is not implemented;
            // ignoring it would let invalid points pass as real heights.
            return Err(bad(
                VALID_POINTS_LINK,
                "separate valid-point masks are not supported yet".to_string(),
            ));
        }

        let data_type = match xml.require(source_name, CZ_DATA_TYPE)? {
            "D" => DataType::F64,
            "F" => DataType::F32,
            "L" => DataType::I32,
            "I" => DataType::I16,
            other => {
                return Err(bad(
                    CZ_DATA_TYPE,
                    format!("{other:?} is not one of D, F, L, I"),
                ))
            }
        };

        let width = parse_size(xml, source_name, SIZE_X)?;
        let height = parse_size(xml, source_name, SIZE_Y)?;
        let depth = parse_size(xml, source_name, SIZE_Z)?;
        if depth != 1 {
            return Err(bad(
                SIZE_Z,
                format!("is {depth}; only single-layer (SizeZ = 1) scans are supported"),
            ));
        }

        let inc_x = parse_f64(xml, source_name, CX_INCREMENT)?;
        let inc_y = parse_f64(xml, source_name, CY_INCREMENT)?;
        for (field, inc) in [(CX_INCREMENT, inc_x), (CY_INCREMENT, inc_y)] {
            if inc <= 0.0 {
                return Err(bad(field, format!("{inc} is not a positive spacing")));
            }
        }
        let to_um = if inc_x < METRES_BELOW { 1e6 } else { 1.0 };
        let um_per_px = inc_x * to_um;
        if !(MIN_UM_PER_PX..=MAX_UM_PER_PX).contains(&um_per_px) {
            return Err(bad(
                CX_INCREMENT,
                format!(
                    "{inc_x} gives {um_per_px} µm per pixel, outside the plausible \
                     [{MIN_UM_PER_PX}, {MAX_UM_PER_PX}] µm (units must be metres or micrometres)"
                ),
            ));
        }
        if ((inc_y - inc_x) / inc_x).abs() > MAX_ANISOTROPY {
            return Err(bad(
                CY_INCREMENT,
                format!(
                    "{inc_y} differs from CX increment {inc_x} by more than 1%; \
                     anisotropic scans would need resampling, which is not supported yet"
                ),
            ));
        }

        // Missing CZ increment/offset mean "stored values are the heights".
        let z_increment = parse_optional_f64(xml, source_name, CZ_INCREMENT)?.unwrap_or(1.0);
        let z_offset = parse_optional_f64(xml, source_name, CZ_OFFSET)?.unwrap_or(0.0);

        let point_data_link = xml.require(source_name, POINT_DATA_LINK)?.to_string();
        let md5 = match xml.get(MD5_POINT_DATA) {
            None | Some("") => None,
            Some(hex) if hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Some(hex.to_ascii_lowercase())
            }
            // Same field as the checksum-mismatch error in x3p.rs, so every
            // point-data checksum problem is reported under one name.
            Some(hex) => {
                return Err(bad(
                    "MD5ChecksumPointData",
                    format!("{hex:?} is not a 32-digit hex MD5"),
                ))
            }
        };

        Ok(Layout {
            width,
            height,
            data_type,
            um_per_px,
            to_um,
            z_increment,
            z_offset,
            point_data_link,
            md5,
        })
    }

    /// A stored sample in micrometres.
    ///
    /// Integer samples are codes: ISO 5436-2 scales them by the CZ increment
    /// and offset. Float samples are already heights; writers put Increment 1
    /// there, and the few that put something else do not mean a scale, so
    /// applying it would silently rescale real scans.
    pub(super) fn height_um(&self, raw: f64) -> f64 {
        let z = if self.data_type.is_integer() {
            raw * self.z_increment + self.z_offset
        } else {
            raw
        };
        z * self.to_um
    }
}

fn parse_size(xml: &MainXml, source_name: &str, field: &str) -> Result<usize> {
    let text = xml.require(source_name, field)?;
    match text.parse::<u64>() {
        Ok(0) => Err(EngineError::invalid(
            source_name,
            field,
            "must be at least 1",
        )),
        // Saturate on 32-bit targets: the size limits reject it afterwards.
        Ok(n) => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
        Err(e) => Err(EngineError::invalid(
            source_name,
            field,
            format!("{text:?} is not a whole number: {e}"),
        )),
    }
}

fn parse_optional_f64(xml: &MainXml, source_name: &str, field: &str) -> Result<Option<f64>> {
    match xml.get(field) {
        None | Some("") => Ok(None),
        Some(_) => parse_f64(xml, source_name, field).map(Some),
    }
}

fn parse_f64(xml: &MainXml, source_name: &str, field: &str) -> Result<f64> {
    let text = xml.require(source_name, field)?;
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(v) => Err(EngineError::invalid(
            source_name,
            field,
            format!("{v} is not finite"),
        )),
        Err(e) => Err(EngineError::invalid(
            source_name,
            field,
            format!("{text:?} is not a number: {e}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::super::header::parse_main_xml;
    use super::super::write::main_xml;
    use super::*;

    const MD5: &str = "d78f2d4d159dbd996c56da47b7dff405";

    fn layout_of(xml: &str) -> Result<Layout> {
        Layout::from_xml(&parse_main_xml(xml.as_bytes(), "t")?, "t")
    }

    fn error_of(xml: &str) -> (String, String) {
        match layout_of(xml) {
            Err(EngineError::InvalidInput { field, reason, .. }) => (field, reason),
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }

    #[test]
    fn metre_increments_become_micrometres() {
        let l = layout_of(&main_xml(561, 563, 6.25e-6, MD5)).expect("valid");
        assert_eq!((l.width, l.height), (561, 563));
        assert_eq!(l.data_type, DataType::F64);
        assert!((l.um_per_px - 6.25).abs() < 1e-12);
        assert_eq!(l.to_um, 1e6);
        assert_eq!(l.point_data_link, "bindata/data.bin");
        assert_eq!(l.md5.as_deref(), Some(MD5));
        assert!((l.height_um(1.5e-6) - 1.5).abs() < 1e-12);
    }

    #[test]
    fn micrometre_increments_are_kept() {
        let l = layout_of(&main_xml(4, 4, 6.25, "")).expect("valid");
        assert_eq!((l.um_per_px, l.to_um), (6.25, 1.0));
        assert_eq!(l.md5, None);
    }

    #[test]
    fn implausible_or_non_finite_increments_name_the_cx_field() {
        // 1e-9 m = 0.001 µm per pixel; 0.01 is read as µm and is too fine;
        // 2000 µm per pixel is too coarse.
        for inc in [1e-9, 0.01, 2000.0] {
            let (field, reason) = error_of(&main_xml(4, 4, inc, ""));
            assert_eq!(field, "Record1/Axes/CX/Increment", "{inc}");
            assert!(reason.contains("plausible"), "{reason}");
        }
        for text in ["NaN", "inf", "-1e-6", "abc"] {
            let xml = main_xml(4, 4, 2.5e-6, "").replacen("2.5e-6", text, 1);
            assert_eq!(error_of(&xml).0, "Record1/Axes/CX/Increment", "{text}");
        }
    }

    #[test]
    fn anisotropic_increments_are_refused() {
        let base = main_xml(4, 4, 2.5e-6, "");
        // The last occurrence of the increment is CY's.
        let at = base.rfind("2.5e-6").expect("CY increment");
        let with_cy = |cy: &str| format!("{}{cy}{}", &base[..at], &base[at + "2.5e-6".len()..]);
        let (field, reason) = error_of(&with_cy("2.6e-6"));
        assert_eq!(field, "Record1/Axes/CY/Increment");
        assert!(reason.contains("not supported yet"), "{reason}");
        // Within 1% is rounding in the writer, and accepted.
        assert!(layout_of(&with_cy("2.51e-6")).is_ok());
    }

    #[test]
    fn bad_sizes_types_and_checksums_name_their_field() {
        let base = main_xml(4, 4, 2.5e-6, MD5);
        let cases = [
            ("<SizeZ>1</SizeZ>", "<SizeZ>2</SizeZ>", SIZE_Z),
            ("<SizeX>4</SizeX>", "<SizeX>0</SizeX>", SIZE_X),
            ("<SizeX>4</SizeX>", "<SizeX>-4</SizeX>", SIZE_X),
            ("<SizeY>4</SizeY>", "", SIZE_Y),
            (
                "<DataType>D</DataType>\n        <Increment>1</Increment>",
                "<DataType>Q</DataType>",
                CZ_DATA_TYPE,
            ),
            (
                "<AxisType>A</AxisType>",
                "<AxisType>I</AxisType>",
                CZ_AXIS_TYPE,
            ),
            (MD5, "not-a-checksum", "MD5ChecksumPointData"),
            (
                "</DataLink>",
                "<ValidPointsLink>bindata/valid.bin</ValidPointsLink></DataLink>",
                VALID_POINTS_LINK,
            ),
            (
                "<PointDataLink>bindata/data.bin</PointDataLink>",
                "",
                POINT_DATA_LINK,
            ),
        ];
        for (from, to, field) in cases {
            let xml = base.replacen(from, to, 1);
            assert_ne!(xml, base, "{from} not in template");
            assert_eq!(error_of(&xml).0, field, "{from} -> {to}");
        }
    }

    #[test]
    fn float_samples_ignore_cz_scale_but_integer_samples_use_it() {
        let mut l = layout_of(&main_xml(1, 1, 2.5e-6, "")).expect("valid");
        l.z_increment = 1e-8;
        l.z_offset = 1e-6;
        assert!(
            (l.height_um(3e-6) - 3.0).abs() < 1e-12,
            "float: stored value is the height"
        );
        l.data_type = DataType::I32;
        assert!(
            (l.height_um(100.0) - 2.0).abs() < 1e-12,
            "integer: code * inc + offset"
        );
    }
}
