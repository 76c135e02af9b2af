//! Bulk import jobs on the wire: `POST /v1/imports` and `GET /v1/imports/{id}`.

use casetrace_engine::service::{ImportStatus, RowFailure};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /v1/imports` with a JSON body: load a folder or archive already on
/// the server, under one of the roots the server allows (`--import-root`).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportPathDto {
    /// A folder, zip, tar or tar.gz on the server.
    pub path: String,
}

/// The multipart form of `POST /v1/imports`.
#[derive(Debug, ToSchema)]
pub struct ImportForm {
    /// The archive: zip, tar or tar.gz holding scans and a manifest.csv or manifest.jsonl.
    #[schema(value_type = String, format = Binary)]
    pub archive: Vec<u8>,
}

/// Rows settled so far, by outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ImportCountsDto {
    /// Casings this job loaded.
    pub done: u64,
    /// Rows whose casing was already on file (same id and bytes, or same bytes).
    pub skipped_duplicate: u64,
    pub failed: u64,
}

/// One failed manifest row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ImportRowErrorDto {
    /// Line of the manifest (the CSV header is line 1).
    pub row: u64,
    pub casing_id: String,
    pub file: String,
    pub reason: String,
}

/// An import job: where it stands and what went wrong row by row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ImportJobDto {
    pub id: String,
    /// What is being loaded (an archive's or folder's name).
    pub source: String,
    /// `queued`, `running`, `done` or `failed` (stopped early; posting the same archive resumes it).
    #[schema(example = "running")]
    pub state: String,
    pub total_rows: u64,
    pub counts: ImportCountsDto,
    /// Rows settled per second in the current or last run.
    pub rate_rows_per_s: Option<f64>,
    /// Seconds left at that rate.
    pub eta_s: Option<f64>,
    /// Why the job stopped, when it failed as a whole.
    pub error: Option<String>,
    /// The failed rows in row order (at most 10,000; `counts.failed` is exact).
    pub errors: Vec<ImportRowErrorDto>,
}

impl From<RowFailure> for ImportRowErrorDto {
    fn from(f: RowFailure) -> Self {
        ImportRowErrorDto {
            row: f.row_number,
            casing_id: f.casing_id,
            file: f.file,
            reason: f.reason,
        }
    }
}

impl From<ImportStatus> for ImportJobDto {
    fn from(s: ImportStatus) -> Self {
        let job = s.job;
        ImportJobDto {
            id: job.id,
            source: job.source,
            state: job.state.as_str().to_string(),
            total_rows: job.total_rows,
            counts: ImportCountsDto {
                done: job.counts.done,
                skipped_duplicate: job.counts.duplicate,
                failed: job.counts.failed,
            },
            rate_rows_per_s: s.rate_per_s,
            eta_s: s.eta_s,
            error: job.error,
            errors: s.failures.into_iter().map(Into::into).collect(),
        }
    }
}
