//! Writing a [`Surface`] as an X3P file.
//!
//! Used by the synthetic-data generator and by tests, so the output follows
//! the layout of the real (Weller/NanoFocus) files the reader is checked
//! against: metre increments, `D` (f64) heights, NaN for invalid samples,
//! the point-data MD5 in `main.xml` and `md5checksum.hex` holding the MD5 of
//! `main.xml`. Output is deterministic (fixed zip timestamps and dates) so the
//! same surface always gives the same bytes and the same content hash.

use std::io::{Cursor, Write};

use md5::{Digest, Md5};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

use crate::surface::Surface;

/// Encode `surface` as an X3P archive.
///
/// Conversion to metres divides by 1e6 (correctly rounded), so a pixel
/// size of 2.5 µm is written as `2.5e-6` rather than `2.4999999999999998e-6`.
///
/// Values are taken as micrometres and `um_per_px` as the spacing of both
/// axes; both are written in metres as the standard requires. Invalid
/// samples, and any sample past the end of a short `values`/`valid`, are
/// written as NaN. Reading the result back gives the same values to f32
/// precision.
pub fn write_x3p(surface: &Surface) -> Vec<u8> {
    write_x3p_scaled(surface, 1e6)
}

/// Encode `surface` as an X3P archive whose increments and heights are in
/// micrometres where the standard says metres, as some instruments' files
/// are (the reader recognises them by their increment).
pub fn write_x3p_micrometres(surface: &Surface) -> Vec<u8> {
    write_x3p_scaled(surface, 1.0)
}

/// Lengths are written as micrometres divided by `per_unit` (µm per unit
/// of the file).
fn write_x3p_scaled(surface: &Surface, per_unit: f64) -> Vec<u8> {
    let data = point_data(surface, per_unit);
    let data_md5 = md5_hex(&data);
    let xml = main_xml(
        surface.width,
        surface.height,
        surface.um_per_px / per_unit,
        &data_md5,
    );
    let checksum_file = format!("{} *main.xml\n", md5_hex(xml.as_bytes()));

    // Writing a zip into a Vec can only fail on a bug in the zip crate (no
    // I/O, sizes far below the zip64 threshold for any allowed surface), so
    // there is no error to report to the caller.
    zip_members(&[
        ("main.xml", xml.as_bytes()),
        ("bindata/data.bin", &data),
        ("md5checksum.hex", checksum_file.as_bytes()),
    ])
    .expect("writing an X3P zip into memory cannot fail")
}

/// Little-endian f64 heights (µm / `per_unit`), x fastest, NaN where invalid.
fn point_data(surface: &Surface, per_unit: f64) -> Vec<u8> {
    let n = surface.width * surface.height;
    let mut data = Vec::with_capacity(n * 8);
    for i in 0..n {
        let valid = surface.valid.get(i).copied().unwrap_or(false);
        let metres = match surface.values.get(i) {
            Some(v) if valid => f64::from(*v) / per_unit,
            _ => f64::NAN,
        };
        data.extend_from_slice(&metres.to_le_bytes());
    }
    data
}

/// Lower-case hex MD5 of `bytes`.
pub(super) fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

/// `main.xml` for a `width` x `height` grid of f64 heights in metres with
/// lateral spacing `increment_m` metres.
pub(super) fn main_xml(width: usize, height: usize, increment_m: f64, data_md5: &str) -> String {
    // `{:e}` prints the shortest exponent form that parses back to the same
    // f64, so the increment survives the text round trip exactly.
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<p:ISO5436_2 xmlns:p="http://www.opengps.eu/2008/ISO5436_2" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://www.opengps.eu/2008/ISO5436_2 http://www.opengps.eu/2008/ISO5436_2/ISO5436_2.xsd">
  <Record1>
    <Revision>ISO5436 - 2000</Revision>
    <FeatureType>SUR</FeatureType>
    <Axes>
      <CX>
        <AxisType>I</AxisType>
        <DataType>D</DataType>
        <Increment>{increment_m:e}</Increment>
        <Offset>0</Offset>
      </CX>
      <CY>
        <AxisType>I</AxisType>
        <DataType>D</DataType>
        <Increment>{increment_m:e}</Increment>
        <Offset>0</Offset>
      </CY>
      <CZ>
        <AxisType>A</AxisType>
        <DataType>D</DataType>
        <Increment>1</Increment>
        <Offset>0</Offset>
      </CZ>
    </Axes>
  </Record1>
  <Record2>
    <Date>1980-01-01T00:00:00</Date>
    <Creator>casetrace</Creator>
    <Instrument>
      <Manufacturer>casetrace</Manufacturer>
      <Model>synthetic</Model>
      <Serial>not available</Serial>
      <Version>{version}</Version>
    </Instrument>
    <CalibrationDate>1980-01-01T00:00:00</CalibrationDate>
    <ProbingSystem>
      <Type>Software</Type>
      <Identification>casetrace write_x3p</Identification>
    </ProbingSystem>
  </Record2>
  <Record3>
    <MatrixDimension>
      <SizeX>{width}</SizeX>
      <SizeY>{height}</SizeY>
      <SizeZ>1</SizeZ>
    </MatrixDimension>
    <DataLink>
      <PointDataLink>bindata/data.bin</PointDataLink>
      <MD5ChecksumPointData>{data_md5}</MD5ChecksumPointData>
    </DataLink>
  </Record3>
  <Record4>
    <ChecksumFile>md5checksum.hex</ChecksumFile>
  </Record4>
</p:ISO5436_2>
"#,
        version = env!("CARGO_PKG_VERSION"),
    )
}

/// A deflated zip of `members` (name, content), with a fixed timestamp.
/// A `bindata/` directory entry is added first when a member lives there,
/// as in files written by instrument software.
pub(super) fn zip_members(members: &[(&str, &[u8])]) -> zip::result::ZipResult<Vec<u8>> {
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .last_modified_time(DateTime::default());
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    if members.iter().any(|(name, _)| name.starts_with("bindata/")) {
        zip.add_directory("bindata/", options)?;
    }
    for (name, content) in members {
        zip.start_file(*name, options)?;
        zip.write_all(content)?;
    }
    Ok(zip.finish()?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::surface::SurfaceKind;

    #[test]
    fn output_is_deterministic_and_carries_both_checksums() {
        let mut s = Surface::empty(3, 2, 2.5, SurfaceKind::Topography);
        s.values[1] = 1.5;
        s.valid[1] = true;
        let a = write_x3p(&s);
        assert_eq!(a, write_x3p(&s), "same surface, same bytes");
        assert!(a.starts_with(b"PK\x03\x04"));

        let mut zip = zip::ZipArchive::new(Cursor::new(&a)).expect("valid zip");
        let mut read = |name: &str| {
            let mut f = zip.by_name(name).expect("member present");
            let mut buf = Vec::new();
            std::io::Read::read_to_end(&mut f, &mut buf).expect("inflates");
            buf
        };
        let data = read("bindata/data.bin");
        let xml = String::from_utf8(read("main.xml")).expect("utf-8");
        let sums = String::from_utf8(read("md5checksum.hex")).expect("utf-8");
        assert_eq!(data.len(), 6 * 8);
        assert!(f64::from_le_bytes(data[0..8].try_into().unwrap()).is_nan());
        assert_eq!(f64::from_le_bytes(data[8..16].try_into().unwrap()), 1.5e-6);
        assert!(xml.contains(&format!("<MD5ChecksumPointData>{}<", md5_hex(&data))));
        assert!(xml.contains("<Increment>2.5e-6</Increment>"), "{xml}");
        assert_eq!(sums, format!("{} *main.xml\n", md5_hex(xml.as_bytes())));
    }

    #[test]
    fn a_micrometre_file_reads_back_as_the_same_surface() {
        let mut s = Surface::empty(4, 3, 7.4, SurfaceKind::Topography);
        for (i, (v, ok)) in s.values.iter_mut().zip(s.valid.iter_mut()).enumerate() {
            *v = i as f32 * 0.25 - 1.0;
            *ok = i != 5;
        }
        let bytes = write_x3p_micrometres(&s);
        assert_ne!(bytes, write_x3p(&s));
        let back = crate::reading::read_x3p(&bytes, "um.x3p", &Default::default()).expect("reads");
        assert_eq!(back.um_per_px, 7.4);
        assert_eq!(back.valid, s.valid);
        for i in (0..12).filter(|i| s.valid[*i]) {
            assert!((back.values[i] - s.values[i]).abs() < 1e-5, "sample {i}");
        }
    }
}
