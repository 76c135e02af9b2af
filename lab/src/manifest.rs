//! Reading import manifests and labelled sets: CSV with a header row.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

/// One data row of a manifest, with its 1-based line number in the file.
#[derive(Debug, Clone)]
pub struct ManifestRow {
    pub line: u64,
    pub file: PathBuf,
    pub casing_id: String,
    /// Every other column, by header name (empty cells left out).
    pub extra: BTreeMap<String, String>,
}

/// Largest manifest read into memory.
const MAX_MANIFEST_BYTES: u64 = 64 * 1024 * 1024;

/// Read `path`: required columns `file` and `casing_id`; relative file paths
/// resolve against the manifest's folder.
pub fn read_manifest(path: &Path) -> anyhow::Result<Vec<ManifestRow>> {
    let meta = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    if meta.len() > MAX_MANIFEST_BYTES {
        bail!(
            "{}: manifest is {} bytes, limit {MAX_MANIFEST_BYTES}",
            path.display(),
            meta.len()
        );
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .with_context(|| format!("reading {}", path.display()))?;
    let headers = reader
        .headers()
        .with_context(|| format!("{}: header row", path.display()))?
        .clone();
    let column = |name: &str| headers.iter().position(|h| h == name);
    let (Some(file_col), Some(id_col)) = (column("file"), column("casing_id")) else {
        bail!(
            "{}: header must name the columns `file` and `casing_id` (found: {})",
            path.display(),
            headers.iter().collect::<Vec<_>>().join(",")
        );
    };
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.with_context(|| format!("{}: malformed CSV", path.display()))?;
        let line = record.position().map_or(0, |p| p.line());
        let get = |i: usize| record.get(i).unwrap_or("").to_string();
        let extra = headers
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != file_col && *i != id_col)
            .filter_map(|(i, h)| {
                record
                    .get(i)
                    .filter(|v| !v.is_empty())
                    .map(|v| (h.to_string(), v.to_string()))
            })
            .collect();
        rows.push(ManifestRow {
            line,
            file: base.join(get(file_col)),
            casing_id: get(id_col),
            extra,
        });
    }
    Ok(rows)
}
