//! Import manifests: CSV with a header row, or JSON lines (one object per
//! line). Each row names a file and a casing; a row that is wrong on its
//! own (a bad `kind`, a path leaving the archive) is kept with its problem
//! so the job reports it against its row number, while a manifest that
//! cannot be read as a whole is refused.
//!
//! Columns (CSV headers or JSON keys): `file` and `casing_id` (required),
//! `agency`, `kind` (`evidence` | `test_fire`), `case_number`, `calibre`,
//! `um_per_px`, and `record` (`casing`, the default; trace records go in a
//! trace file of their own, see `traces::import`). Any other column is
//! kept as the casing's metadata.

use std::collections::BTreeMap;

use super::table::{read_table, take_text};
use crate::casing::CasingKind;
use crate::error::Result;

pub use super::table::TableFormat as ManifestFormat;
pub use super::table::{MAX_FIELD_BYTES, MAX_ROWS, MAX_TABLE_BYTES as MAX_MANIFEST_BYTES};
/// Agency of rows that name none.
pub const DEFAULT_AGENCY: &str = "local";

/// One data row.
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestRow {
    /// Line in the manifest (header = line 1 for CSV; first line = 1 for JSON lines).
    pub row_number: u64,
    /// The `file` value as written.
    pub file: String,
    pub casing_id: String,
    pub agency: String,
    /// The row named its agency (otherwise `agency` is the default).
    pub agency_named: bool,
    pub kind: CasingKind,
    pub case_number: Option<String>,
    pub calibre: Option<String>,
    pub um_per_px: Option<f64>,
    /// Every other column.
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// Why this row cannot be loaded, if it cannot.
    pub problem: Option<String>,
}

/// Parse a manifest. `name` labels errors.
pub fn parse_manifest(
    name: &str,
    bytes: &[u8],
    format: ManifestFormat,
) -> Result<Vec<ManifestRow>> {
    Ok(
        read_table(name, bytes, format, &["file", "casing_id"], None)?
            .into_iter()
            .map(|row| match row.cells {
                Ok(cells) => row_from_cells(row.row_number, cells),
                Err(problem) => broken_row(row.row_number, problem),
            })
            .collect(),
    )
}

fn broken_row(row_number: u64, problem: String) -> ManifestRow {
    ManifestRow {
        row_number,
        file: String::new(),
        casing_id: String::new(),
        agency: DEFAULT_AGENCY.into(),
        agency_named: false,
        kind: CasingKind::Evidence,
        case_number: None,
        calibre: None,
        um_per_px: None,
        metadata: Default::default(),
        problem: Some(problem),
    }
}

/// Turn one row's cells into a row, noting the first problem found.
fn row_from_cells(row_number: u64, mut cells: BTreeMap<String, serde_json::Value>) -> ManifestRow {
    let mut row = broken_row(row_number, String::new());
    let mut problems = Vec::new();
    let mut text = |cells: &mut BTreeMap<String, serde_json::Value>, key: &str| {
        take_text(cells, key, &mut problems)
    };
    let record = text(&mut cells, "record");
    row.file = text(&mut cells, "file").unwrap_or_default();
    row.casing_id = text(&mut cells, "casing_id").unwrap_or_default();
    if let Some(agency) = text(&mut cells, "agency") {
        row.agency = agency;
        row.agency_named = true;
    }
    let kind = text(&mut cells, "kind");
    row.case_number = text(&mut cells, "case_number");
    row.calibre = text(&mut cells, "calibre");
    let um_per_px = text(&mut cells, "um_per_px");
    if let Some(record) = record.filter(|r| r != "casing") {
        // Traces have a file of their own (traces::import), with their
        // own columns; a casing manifest holds casings only.
        problems.push(format!(
            "record type {record:?} does not belong in a casing manifest; load traces with `casetrace traces import` or POST /v1/traces/imports"
        ));
    }
    if row.file.is_empty() {
        problems.push("the file column is empty".into());
    }
    if row.casing_id.is_empty() {
        problems.push("the casing_id column is empty".into());
    }
    if let Some(kind) = kind {
        match kind.parse::<CasingKind>() {
            Ok(k) => row.kind = k,
            Err(e) => problems.push(e.to_string()),
        }
    }
    if let Some(v) = um_per_px {
        match v.parse::<f64>() {
            Ok(x) if x.is_finite() && x > 0.0 => row.um_per_px = Some(x),
            _ => problems.push(format!("um_per_px {v:?} is not a positive number")),
        }
    }
    for (key, value) in cells {
        if key.len() > MAX_FIELD_BYTES || value.to_string().len() > MAX_FIELD_BYTES {
            problems.push(format!(
                "metadata column {key:.40} is longer than {MAX_FIELD_BYTES} bytes"
            ));
            continue;
        }
        row.metadata.insert(key, value);
    }
    row.problem = problems.into_iter().next();
    row
}

/// Resolve a row's `file` inside an archive or folder: relative, no `..`,
/// joined to the manifest's own folder (`base`, `""` at the top). The
/// result uses `/` and has no empty or `.` parts.
pub fn confined_path(base: &str, file: &str) -> std::result::Result<String, String> {
    let escapes = || format!("path {file:?} escapes the archive (absolute or with `..`)");
    if file.starts_with('/') || file.starts_with('\\') || file.contains(':') || file.contains('\\')
    {
        return Err(escapes());
    }
    let mut parts: Vec<&str> = base
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    let folder_parts = parts.len();
    for part in file.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(escapes()),
            p => parts.push(p),
        }
    }
    // Checked on the file's own parts: with a base folder, `.` would
    // otherwise name that folder rather than a file (found by fuzzing).
    if parts.len() == folder_parts {
        return Err(format!("path {file:?} names no file"));
    }
    Ok(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EngineError;

    #[test]
    fn csv_rows_keep_their_line_numbers_and_problems() {
        let csv = "file,casing_id,kind,um_per_px,lab\n\
                   a.x3p,A-1,evidence,,north\n\
                   b.png,B-1,shell,3.5,\n\
                   ,C-1,,,\n";
        let rows = parse_manifest("m.csv", csv.as_bytes(), ManifestFormat::Csv).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].row_number, 2);
        assert_eq!(rows[0].problem, None);
        assert_eq!(rows[0].metadata["lab"], "north");
        assert_eq!(rows[1].row_number, 3);
        assert!(
            rows[1].problem.as_deref().unwrap().contains("shell"),
            "{rows:?}"
        );
        assert_eq!(rows[1].um_per_px, Some(3.5));
        assert!(
            rows[2].problem.as_deref().unwrap().contains("file"),
            "{rows:?}"
        );
    }

    #[test]
    fn csv_without_the_required_columns_is_refused() {
        let err = parse_manifest("m.csv", b"path,id\na,b\n", ManifestFormat::Csv).unwrap_err();
        assert!(err.to_string().contains("casing_id"), "{err}");
    }

    #[test]
    fn json_lines_report_broken_lines_as_rows() {
        let text = "{\"file\":\"a.x3p\",\"casing_id\":\"A\",\"agency\":\"ny\",\"shots\":3}\n\
                    \n\
                    [1,2]\n\
                    {\"file\":\"t.x3p\",\"casing_id\":\"T\",\"record\":\"trace\"}\n";
        let rows = parse_manifest("m.jsonl", text.as_bytes(), ManifestFormat::JsonLines).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!((rows[0].row_number, rows[0].agency.as_str()), (1, "ny"));
        assert_eq!(rows[0].metadata["shots"], 3);
        assert_eq!(rows[1].row_number, 3);
        assert!(rows[1].problem.as_deref().unwrap().contains("object"));
        assert!(rows[2].problem.as_deref().unwrap().contains("trace"));
    }

    #[test]
    fn confined_paths_never_leave_the_archive() {
        assert_eq!(
            confined_path("set", "./scans/a.x3p").unwrap(),
            "set/scans/a.x3p"
        );
        assert_eq!(confined_path("", "a.x3p").unwrap(), "a.x3p");
        for bad in [
            "../a.x3p",
            "scans/../../a",
            "/etc/passwd",
            "C:\\x",
            "a\\..\\b",
        ] {
            assert!(confined_path("set", bad).is_err(), "{bad}");
        }
    }

    /// Fuzzing (fuzz/ manifest) found `.` resolving to the manifest's own
    /// folder when it had one, and to "names no file" when it had none.
    #[test]
    fn a_file_naming_no_file_is_refused_in_a_folder_too() {
        for base in ["", "set", "set/sub/"] {
            for file in ["", ".", "./", "././/."] {
                let err = confined_path(base, file).unwrap_err();
                assert!(err.contains("names no file"), "{base:?} {file:?}: {err}");
            }
        }
    }

    #[test]
    fn oversized_manifests_are_refused_before_parsing() {
        let big = vec![b'a'; MAX_MANIFEST_BYTES as usize + 1];
        let err = parse_manifest("m.csv", &big, ManifestFormat::Csv).unwrap_err();
        assert!(matches!(err, EngineError::TooLarge { .. }), "{err}");
    }
}
