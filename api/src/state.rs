//! What every handler shares: the engine and the server's own limits.
//! Apart from [`crate::app`] so that the modules `app` wires together
//! (routes, the audit trail, the caller extractor) can name the state
//! without importing the application that imports them.

use std::sync::Arc;

use casetrace_engine::Engine;

/// Default largest accepted image upload: 256 MiB, room for the largest
/// X3P scans in use.
pub const DEFAULT_MAX_UPLOAD_BYTES: usize = 256 * 1024 * 1024;

/// What every handler shares.
#[derive(Debug)]
pub struct AppState {
    pub engine: Arc<Engine>,
    /// Largest accepted image part, bytes; larger uploads are refused with
    /// 413 while streaming, before anything is stored.
    pub max_upload_bytes: usize,
    /// One permit per import archive upload held at once (see
    /// `ImportConfig::max_concurrent_uploads`).
    pub import_uploads: Arc<tokio::sync::Semaphore>,
}

impl AppState {
    pub fn new(engine: Arc<Engine>) -> Self {
        Self::with_upload_limit(engine, DEFAULT_MAX_UPLOAD_BYTES)
    }

    /// State refusing image parts over `max_upload_bytes`.
    pub fn with_upload_limit(engine: Arc<Engine>, max_upload_bytes: usize) -> Self {
        let uploads = engine.config().imports.max_concurrent_uploads;
        AppState {
            engine,
            max_upload_bytes,
            import_uploads: Arc::new(tokio::sync::Semaphore::new(uploads)),
        }
    }
}
