//! JSON files the engine writes for people and for later runs (the score
//! model, calibrations): written whole or not at all.

use std::path::Path;

use serde::Serialize;

use crate::error::{EngineError, Result};

/// Write `value` as pretty JSON to `path` through a temporary file and a
/// rename, so a failure never leaves half a file where a reader looks.
pub(crate) fn save_pretty<T: Serialize>(value: &T, path: &Path) -> Result<()> {
    let io = |e: std::io::Error| EngineError::Io {
        path: path.to_path_buf(),
        source: e,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| EngineError::Config(format!("{}: {e}", path.display())))?;
    std::fs::write(&tmp, text + "\n").map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}
