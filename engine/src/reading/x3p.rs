//! Reading X3P topography scans (ISO 25178-72), the format of the Weller
//! and NBTRD 3D cartridge-case data.
//!
//! An X3P is a zip holding `main.xml` (axes, grid size, data type, the name
//! and MD5 of the point data) and a binary point file, normally
//! `bindata/data.bin`: little-endian samples, x fastest, NaN for missing.
//! The bytes are untrusted evidence submissions, so every size read from the
//! file is checked against [`ReadLimits`] before memory is spent on it, and
//! every inconsistency is an [`EngineError::InvalidInput`] naming the field.
//!
//! Submodules: [`header`] parses `main.xml`, [`layout`] checks its fields
//! and decides units, [`member`] inflates zip members within limits,
//! [`write`] produces X3P files.

mod header;
mod layout;
mod member;
mod write;

use std::io::Cursor;

use zip::ZipArchive;

use self::layout::{DataType, Layout};
use self::member::{read_member, SizeRule};
pub use self::write::{write_x3p, write_x3p_micrometres};
use super::ReadLimits;
use crate::error::{EngineError, Result};
use crate::surface::{Surface, SurfaceKind};

/// `main.xml` of real files is a few kilobytes; vendor extensions may add
/// some, but a document this large is not a scan header.
const MAX_MAIN_XML_BYTES: u64 = 16 * 1024 * 1024;

/// Read an X3P scan into a [`SurfaceKind::Topography`] surface with heights
/// in micrometres.
///
/// Errors: [`EngineError::TooLarge`] when the file, the number of zip
/// entries, a member or the grid exceed `limits`;
/// [`EngineError::InvalidInput`] for anything malformed or inconsistent
/// (including an MD5 mismatch of the point data);
/// [`EngineError::Unusable`] when no sample is valid.
pub fn read_x3p(bytes: &[u8], source_name: &str, limits: &ReadLimits) -> Result<Surface> {
    limits.check_file_size(bytes, source_name)?;
    // The central directory is parsed here; its size is bounded by the
    // file size checked above.
    let mut archive = ZipArchive::new(Cursor::new(bytes)).map_err(|e| {
        EngineError::invalid(source_name, "zip", format!("not a readable X3P zip: {e}"))
    })?;
    if archive.len() > limits.max_zip_entries {
        return Err(EngineError::too_large(
            source_name,
            "number of zip entries",
            archive.len() as u64,
            limits.max_zip_entries as u64,
        ));
    }

    let xml_rule = SizeRule {
        cap: limits.max_unzipped_bytes.min(MAX_MAIN_XML_BYTES),
        exact: None,
    };
    let xml = read_member(&mut archive, "main.xml", xml_rule, source_name)?;
    let layout = Layout::from_xml(&header::parse_main_xml(&xml, source_name)?, source_name)?;
    check_grid(&layout, source_name, limits)?;
    limits.check_extent(
        layout.width,
        layout.height,
        layout.um_per_px,
        source_name,
        header::CX_INCREMENT,
    )?;

    // The grid check bounds this product by max_pixels * 8.
    let expected = (layout.width * layout.height * layout.data_type.bytes()) as u64;
    let data_rule = SizeRule {
        cap: limits.max_unzipped_bytes,
        exact: Some(expected),
    };
    let data = read_member(
        &mut archive,
        &layout.point_data_link,
        data_rule,
        source_name,
    )?;
    if let Some(want) = &layout.md5 {
        let got = write::md5_hex(&data);
        if &got != want {
            return Err(EngineError::invalid(
                source_name,
                "MD5ChecksumPointData",
                format!(
                    "{} has MD5 {got}, main.xml says {want}: the point data is corrupt or was altered",
                    layout.point_data_link
                ),
            ));
        }
    }

    let surface = decode(&data, &layout);
    if surface.valid_count() == 0 {
        return Err(EngineError::Unusable {
            source_name: source_name.to_string(),
            reason: "the scan has no valid height samples".to_string(),
        });
    }
    Ok(surface)
}

/// Check the declared grid against the limits, before anything of that size
/// is allocated or inflated.
fn check_grid(layout: &Layout, source_name: &str, limits: &ReadLimits) -> Result<()> {
    for (what, side) in [("SizeX", layout.width), ("SizeY", layout.height)] {
        if side > limits.max_side {
            return Err(EngineError::too_large(
                source_name,
                &format!("Record3/MatrixDimension/{what}"),
                side as u64,
                limits.max_side as u64,
            ));
        }
    }
    // Saturating: both sides are at most max_side, but a caller may
    // configure an absurd max_side.
    let pixels = layout.width.saturating_mul(layout.height);
    if pixels > limits.max_pixels {
        return Err(EngineError::too_large(
            source_name,
            "pixels (SizeX x SizeY)",
            pixels as u64,
            limits.max_pixels as u64,
        ));
    }
    if pixels.checked_mul(layout.data_type.bytes()).is_none() {
        return Err(EngineError::too_large(
            source_name,
            "point data bytes",
            u64::MAX,
            limits.max_unzipped_bytes,
        ));
    }
    Ok(())
}

/// Decode the point data (its length already checked) into a surface.
/// Non-finite samples, and finite ones that overflow f32 once in
/// micrometres, become invalid with value 0.
fn decode(data: &[u8], layout: &Layout) -> Surface {
    let mut surface = Surface::empty(
        layout.width,
        layout.height,
        layout.um_per_px,
        SurfaceKind::Topography,
    );
    let step = layout.data_type.bytes();
    let samples = data.chunks_exact(step);
    for ((chunk, value), valid) in samples
        .zip(surface.values.iter_mut())
        .zip(surface.valid.iter_mut())
    {
        let raw = sample(chunk, layout.data_type);
        let um = layout.height_um(raw) as f32;
        if um.is_finite() {
            *value = um;
            *valid = true;
        }
    }
    surface
}

/// One little-endian sample as f64 (lossless for every supported type).
fn sample(chunk: &[u8], data_type: DataType) -> f64 {
    let mut b = [0u8; 8];
    b[..chunk.len()].copy_from_slice(chunk);
    match data_type {
        DataType::F64 => f64::from_le_bytes(b),
        DataType::F32 => f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        DataType::I32 => f64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        DataType::I16 => f64::from(i16::from_le_bytes([b[0], b[1]])),
    }
}

#[cfg(test)]
mod tests {
    use super::write::{main_xml, md5_hex, zip_members};
    use super::*;

    const WELLER: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/data/weller/TW01-01.x3p"
    );

    /// An X3P of `xml` and `data` stored as `bindata/data.bin`.
    fn x3p_of(xml: &str, data: &[u8]) -> Vec<u8> {
        zip_members(&[("main.xml", xml.as_bytes()), ("bindata/data.bin", data)]).expect("zip")
    }

    /// A small surface with a ramp of heights and one invalid corner.
    fn ramp(width: usize, height: usize) -> Surface {
        let mut s = Surface::empty(width, height, 2.5, SurfaceKind::Topography);
        for (i, (v, ok)) in s.values.iter_mut().zip(s.valid.iter_mut()).enumerate() {
            *v = (i as f32 * 0.37).sin() * 3.1 - 0.001 * i as f32;
            *ok = i != 0;
        }
        s
    }

    fn invalid_field(result: Result<Surface>) -> (String, String) {
        match result {
            Err(EngineError::InvalidInput { field, reason, .. }) => (field, reason),
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }

    fn too_large_what(result: Result<Surface>) -> String {
        match result {
            Err(EngineError::TooLarge { what, .. }) => what,
            other => panic!("expected TooLarge, got {other:?}"),
        }
    }

    #[test]
    fn real_weller_scan_has_expected_geometry_and_heights() {
        let bytes = std::fs::read(WELLER).expect("Weller sample present under /work/shared");
        let s = read_x3p(&bytes, "TW01-01.x3p", &ReadLimits::default()).expect("reads");
        assert_eq!((s.width, s.height), (561, 563));
        assert!((s.um_per_px - 6.25).abs() < 1e-9, "{}", s.um_per_px);
        assert_eq!(s.kind, SurfaceKind::Topography);
        let fraction = s.valid_count() as f64 / (s.width * s.height) as f64;
        assert!((0.3..0.45).contains(&fraction), "valid fraction {fraction}");
        let (mean, std) = s.valid_mean_std();
        // Heights are micrometres: metres would give a std near 1e-6.
        assert!((0.1..5.0).contains(&std), "std {std} µm");
        assert!(mean.abs() < 10.0, "mean {mean} µm");
        assert!(s
            .values
            .iter()
            .zip(&s.valid)
            .all(|(v, ok)| *ok || *v == 0.0));
    }

    #[test]
    fn write_then_read_round_trips_exactly() {
        let s = ramp(7, 5);
        let back = read_x3p(&write_x3p(&s), "rt.x3p", &ReadLimits::default()).expect("reads");
        assert_eq!((back.width, back.height), (7, 5));
        assert!((back.um_per_px - 2.5).abs() < 1e-12);
        assert_eq!(back.valid, s.valid);
        assert_eq!(
            back.values, s.values,
            "values must survive bit-exactly in f32"
        );
    }

    /// The writer's X3P of `s` with its root element renamed to `root`
    /// (the namespace URI is left as written), checksums kept consistent.
    fn x3p_with_root(s: &Surface, root: &str) -> Vec<u8> {
        let data: Vec<u8> = s
            .values
            .iter()
            .zip(&s.valid)
            .flat_map(|(v, ok)| if *ok { f64::from(*v) / 1e6 } else { f64::NAN }.to_le_bytes())
            .collect();
        let xml = main_xml(s.width, s.height, s.um_per_px / 1e6, &md5_hex(&data))
            .replace("<p:ISO5436_2 ", &format!("<p:{root} "))
            .replace("</p:ISO5436_2>", &format!("</p:{root}>"));
        let sums = format!("{} *main.xml\n", md5_hex(xml.as_bytes()));
        zip_members(&[
            ("main.xml", xml.as_bytes()),
            ("bindata/data.bin", &data),
            ("md5checksum.hex", sums.as_bytes()),
        ])
        .expect("zip")
    }

    #[test]
    fn older_iso5436_root_reads_like_iso5436_2() {
        // Issue #14: a real file in circulation has `<p:ISO5436>` as its root.
        let s = ramp(7, 5);
        let standard = x3p_with_root(&s, "ISO5436_2");
        assert_eq!(standard, write_x3p(&s), "the fixture is the writer's file");
        let older = x3p_with_root(&s, "ISO5436");
        let back = read_x3p(&older, "old.x3p", &ReadLimits::default()).expect("reads");
        assert_eq!((back.width, back.height), (7, 5));
        assert!((back.um_per_px - 2.5).abs() < 1e-12);
        assert_eq!(back.valid, s.valid);
        assert_eq!(back.values, s.values);
    }

    #[test]
    fn other_roots_are_refused_naming_the_accepted_ones() {
        for root in ["ISO5436_3", "ISO25178", "x3p"] {
            let (field, reason) = invalid_field(read_x3p(
                &x3p_with_root(&ramp(3, 3), root),
                "t",
                &ReadLimits::default(),
            ));
            assert_eq!(field, "main.xml", "{root}");
            assert_eq!(
                reason,
                format!("root element is <{root}>, expected <ISO5436_2> or <ISO5436>")
            );
        }
    }

    #[test]
    fn flipped_data_byte_fails_the_md5_check() {
        let s = ramp(4, 4);
        let mut data: Vec<u8> = s
            .values
            .iter()
            .flat_map(|v| (f64::from(*v) * 1e-6).to_le_bytes())
            .collect();
        let xml = main_xml(4, 4, 2.5e-6, &md5_hex(&data));
        data[17] ^= 0x01;
        let (field, reason) =
            invalid_field(read_x3p(&x3p_of(&xml, &data), "t", &ReadLimits::default()));
        assert_eq!(field, "MD5ChecksumPointData");
        assert!(reason.contains("corrupt"), "{reason}");
    }

    #[test]
    fn md5_comparison_ignores_hex_case() {
        let data = 1.0e-6f64.to_le_bytes();
        let xml = main_xml(1, 1, 2.5e-6, &md5_hex(&data).to_uppercase());
        let s = read_x3p(&x3p_of(&xml, &data), "t", &ReadLimits::default()).expect("reads");
        assert_eq!(s.values, vec![1.0]);
    }

    #[test]
    fn truncated_zip_is_invalid_input() {
        let bytes = write_x3p(&ramp(8, 8));
        let (field, _) = invalid_field(read_x3p(
            &bytes[..bytes.len() / 2],
            "t",
            &ReadLimits::default(),
        ));
        assert_eq!(field, "zip");
    }

    #[test]
    fn short_point_data_is_rejected_with_expected_and_actual_sizes() {
        let data = vec![0u8; 3 * 3 * 8 - 8];
        let xml = main_xml(3, 3, 2.5e-6, &md5_hex(&data));
        let (field, reason) =
            invalid_field(read_x3p(&x3p_of(&xml, &data), "t", &ReadLimits::default()));
        assert_eq!(field, "bindata/data.bin");
        assert!(reason.contains("expected 72 bytes, got 64"), "{reason}");
    }

    #[test]
    fn missing_point_data_member_is_named() {
        let xml = main_xml(1, 1, 2.5e-6, "").replace("bindata/data.bin", "bindata/other.bin");
        let (field, reason) = invalid_field(read_x3p(
            &x3p_of(&xml, &[0; 8]),
            "t",
            &ReadLimits::default(),
        ));
        assert_eq!(field, "bindata/other.bin");
        assert!(reason.contains("missing"), "{reason}");
    }

    #[test]
    fn oversized_grid_is_too_large_before_reading_data() {
        // The data member is a single byte: the grid must be refused on the
        // header alone, long before a 100000-wide buffer could be allocated.
        let xml = main_xml(100_000, 2, 2.5e-6, "");
        let what = too_large_what(read_x3p(&x3p_of(&xml, &[0]), "t", &ReadLimits::default()));
        assert!(what.contains("SizeX"), "{what}");

        let xml = main_xml(10_000, 10_000, 2.5e-6, "");
        let what = too_large_what(read_x3p(&x3p_of(&xml, &[0]), "t", &ReadLimits::default()));
        assert!(what.contains("pixels"), "{what}");
    }

    #[test]
    fn coarse_increment_over_a_casing_head_is_refused_before_reading_data() {
        // 256 x 256 at 500 µm is 128 mm across: preprocessing would resample
        // it to 5120 x 5120. The header alone must refuse it, naming the
        // increment; the single-byte data member proves nothing was read.
        let xml = main_xml(256, 256, 500e-6, "");
        let (field, reason) = invalid_field(read_x3p(
            &x3p_of(&xml, &[0]),
            "coarse.x3p",
            &ReadLimits::default(),
        ));
        assert_eq!(field, "Record1/Axes/CX/Increment");
        assert!(reason.contains("128.0 x 128.0 mm"), "{reason}");
    }

    #[test]
    fn large_member_is_refused_on_its_declared_size() {
        // 64 x 64 f64 = 32 KiB of zeros deflates to almost nothing, but
        // declares its real size, which is over the 8 KiB member limit.
        let data = vec![0u8; 64 * 64 * 8];
        let xml = main_xml(64, 64, 2.5e-6, &md5_hex(&data));
        let limits = ReadLimits {
            max_unzipped_bytes: 8 * 1024,
            ..ReadLimits::default()
        };
        let what = too_large_what(read_x3p(&x3p_of(&xml, &data), "t", &limits));
        assert!(what.contains("bindata/data.bin"), "{what}");
    }

    #[test]
    fn zip_bomb_with_understated_size_is_too_large() {
        // main.xml padded with 4 MiB of comment deflates to a few KiB; its
        // headers are then patched to claim 100 bytes.
        let data = 1.0e-6f64.to_le_bytes();
        let xml = main_xml(1, 1, 2.5e-6, &md5_hex(&data));
        let padded = format!("{xml}<!--{}-->", " ".repeat(4 << 20));
        let mut bytes = x3p_of(&padded, &data);
        let patched = patch_declared_size(&mut bytes, b"main.xml", 100);
        assert_eq!(patched, 2, "local and central header both patched");
        let limits = ReadLimits {
            max_unzipped_bytes: 64 * 1024,
            ..ReadLimits::default()
        };
        match read_x3p(&bytes, "bomb.x3p", &limits) {
            Err(EngineError::TooLarge {
                what,
                actual,
                limit,
                ..
            }) => {
                assert!(what.contains("main.xml"), "{what}");
                assert_eq!((actual, limit), (101, 100));
            }
            other => panic!("expected TooLarge, got {other:?}"),
        }
    }

    /// Overwrite the uncompressed size of member `name` in its local and
    /// central headers; returns how many headers were patched.
    fn patch_declared_size(zip: &mut [u8], name: &[u8], size: u32) -> usize {
        let mut patched = 0;
        for i in 0..zip.len().saturating_sub(46) {
            // Offsets of the uncompressed size, name length and name.
            let (size_at, name_len_at, name_at) = match &zip[i..i + 4] {
                b"PK\x03\x04" => (22, 26, 30),
                b"PK\x01\x02" => (24, 28, 46),
                _ => continue,
            };
            let name_len = u16::from_le_bytes([zip[i + name_len_at], zip[i + name_len_at + 1]]);
            if &zip[i + name_at..i + name_at + name_len as usize] == name {
                zip[i + size_at..i + size_at + 4].copy_from_slice(&size.to_le_bytes());
                patched += 1;
            }
        }
        patched
    }

    #[test]
    fn too_many_entries_is_too_large() {
        let limits = ReadLimits {
            max_zip_entries: 2,
            ..ReadLimits::default()
        };
        // write_x3p makes 4 entries: bindata/, main.xml, data.bin, md5checksum.hex.
        let what = too_large_what(read_x3p(&write_x3p(&ramp(2, 2)), "t", &limits));
        assert!(what.contains("entries"), "{what}");
    }

    #[test]
    fn integer_samples_are_scaled_by_cz_increment_and_offset() {
        // I16 codes in a file with metre units: z = code * 1e-8 m + 2e-6 m.
        let codes: [i16; 4] = [0, 100, -100, 32_767];
        let data: Vec<u8> = codes.iter().flat_map(|c| c.to_le_bytes()).collect();
        let xml = main_xml(2, 2, 2.5e-6, &md5_hex(&data)).replace(
            "<DataType>D</DataType>\n        <Increment>1</Increment>\n        <Offset>0</Offset>\n      </CZ>",
            "<DataType>I</DataType>\n        <Increment>1e-8</Increment>\n        <Offset>2e-6</Offset>\n      </CZ>",
        );
        let s = read_x3p(&x3p_of(&xml, &data), "t", &ReadLimits::default()).expect("reads");
        let want = [2.0f32, 3.0, 1.0, 329.67];
        for (got, want) in s.values.iter().zip(want) {
            assert!((got - want).abs() < 1e-4, "{got} vs {want}");
        }
        assert!(
            s.valid.iter().all(|v| *v),
            "integer data has no missing samples"
        );
    }

    #[test]
    fn f32_micrometre_file_is_read_without_rescaling() {
        // Increment 6.25 can only be micrometres; heights stay as stored.
        let heights = [1.5f32, f32::NAN, -0.25, f32::INFINITY];
        let data: Vec<u8> = heights.iter().flat_map(|h| h.to_le_bytes()).collect();
        let xml = main_xml(2, 2, 6.25, &md5_hex(&data)).replace(
            "<DataType>D</DataType>\n        <Increment>1</Increment>",
            "<DataType>F</DataType>\n        <Increment>1</Increment>",
        );
        let s = read_x3p(&x3p_of(&xml, &data), "t", &ReadLimits::default()).expect("reads");
        assert_eq!(s.um_per_px, 6.25);
        assert_eq!(s.values, vec![1.5, 0.0, -0.25, 0.0]);
        assert_eq!(s.valid, vec![true, false, true, false]);
    }

    #[test]
    fn all_missing_scan_is_unusable() {
        let s = Surface::empty(3, 3, 2.5, SurfaceKind::Topography);
        assert!(matches!(
            read_x3p(&write_x3p(&s), "t", &ReadLimits::default()),
            Err(EngineError::Unusable { .. })
        ));
    }

    #[test]
    fn oversized_file_is_too_large_before_unzipping() {
        let limits = ReadLimits {
            max_file_bytes: 10,
            ..ReadLimits::default()
        };
        let what = too_large_what(read_x3p(&write_x3p(&ramp(2, 2)), "t", &limits));
        assert!(what.contains("file size"), "{what}");
    }

    /// Every Weller scan on disk reads (95 real files, a few seconds).
    #[test]
    fn all_weller_scans_read() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/weller");
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .expect("Weller directory")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "x3p"))
            .collect();
        paths.sort();
        assert_eq!(paths.len(), 95);
        for path in paths {
            let bytes = std::fs::read(&path).expect("readable");
            let name = path.display().to_string();
            let s = read_x3p(&bytes, &name, &ReadLimits::default()).expect(&name);
            let fraction = s.valid_count() as f64 / (s.width * s.height) as f64;
            let (_, std) = s.valid_mean_std();
            println!(
                "{name}: {}x{} valid {fraction:.3} std {std:.3} um",
                s.width, s.height
            );
            assert_eq!(s.um_per_px, 6.25, "{name}");
            assert!(fraction > 0.1 && std < 10.0, "{name}");
        }
    }
}
