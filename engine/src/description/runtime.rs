//! Finding and initialising the ONNX Runtime shared library.
//!
//! The library is loaded at run time (`load-dynamic`): nothing is fetched at
//! build time, and a missing library is a clear error rather than a panic.
//! ONNX Runtime allows one environment per process, so it is created once.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::environment::Environment;

use crate::error::{EngineError, Result};

/// Where `scripts/setup` installs the library.
pub const INSTALLED_RUNTIME: &str = "/opt/onnxruntime/lib/libonnxruntime.so";

/// `$CASETRACE_ORT_LIB`, else `$ORT_DYLIB_PATH` (ort's own variable), else
/// [`INSTALLED_RUNTIME`].
pub fn default_runtime_path() -> PathBuf {
    std::env::var_os("CASETRACE_ORT_LIB")
        .or_else(|| std::env::var_os("ORT_DYLIB_PATH"))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(INSTALLED_RUNTIME))
}

static ENVIRONMENT: OnceLock<std::result::Result<Environment, String>> = OnceLock::new();

/// The process's ONNX Runtime environment, loading `library` the first time.
pub fn ort_environment(library: &Path) -> Result<&'static Environment> {
    let env = ENVIRONMENT.get_or_init(|| {
        if !library.is_file() {
            return Err(format!(
                "ONNX Runtime library not found at {} (run scripts/setup, or set CASETRACE_ORT_LIB)",
                library.display()
            ));
        }
        ort::init_from(library)
            .map_err(|e| format!("loading {}: {e}", library.display()))?
            .with_name("casetrace")
            .build()
            .map_err(|e| format!("initialising ONNX Runtime: {e}"))
    });
    env.as_ref().map_err(|e| EngineError::Model(e.clone()))
}
