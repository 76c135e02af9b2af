//! Import manifests (CSV and JSON lines) on arbitrary bytes, and the path
//! confinement every manifest row's `file` goes through.

#![no_main]

use casetrace_engine::bulk::{confined_path, parse_manifest, ManifestFormat};
use casetrace_fuzz::check_rising;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for format in [ManifestFormat::Csv, ManifestFormat::JsonLines] {
        let Ok(rows) = parse_manifest("fuzz", data, format) else {
            continue;
        };
        check_rising(rows.iter().map(|r| r.row_number));
        for row in &rows {
            if row.problem.is_none() {
                assert!(!row.file.is_empty() && !row.casing_id.is_empty(), "{row:?}");
                assert!(row.um_per_px.is_none_or(|x| x.is_finite() && x > 0.0));
            }
            if let Ok(path) = confined_path("base/dir", &row.file) {
                // What reaches the archive reader stays inside it.
                assert!(path.starts_with("base/dir/"), "{path:?}");
                assert!(!path
                    .split('/')
                    .any(|p| p.is_empty() || p == "." || p == ".."));
                assert!(!path.contains(['\\', ':']), "{path:?}");
            }
        }
    }
});
