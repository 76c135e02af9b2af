//! A casing on file, as clients see it.

use casetrace_engine::casing::{CasingKind, CasingRecord};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Whether a casing comes from a crime scene or was test-fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CasingKindDto {
    #[default]
    Evidence,
    TestFire,
}

impl From<CasingKind> for CasingKindDto {
    fn from(kind: CasingKind) -> Self {
        match kind {
            CasingKind::Evidence => CasingKindDto::Evidence,
            CasingKind::TestFire => CasingKindDto::TestFire,
        }
    }
}

impl From<CasingKindDto> for CasingKind {
    fn from(kind: CasingKindDto) -> Self {
        match kind {
            CasingKindDto::Evidence => CasingKind::Evidence,
            CasingKindDto::TestFire => CasingKind::TestFire,
        }
    }
}

/// A casing on file. The database's internal row id is deliberately left
/// out: `(agency, casing_id)` is the only identity clients see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CasingDto {
    #[schema(example = "TW01-01")]
    pub casing_id: String,
    #[schema(example = "local")]
    pub agency: String,
    /// Lowercase hex SHA-256 of the file as submitted.
    pub sha256: String,
    pub file_name: String,
    /// `x3p`, `png`, `tiff` or `jpeg`, detected from the file's bytes.
    pub format: String,
    /// `topography` (3D scan) or `photograph` (2D image).
    pub surface_kind: String,
    pub kind: CasingKindDto,
    pub case_number: Option<String>,
    pub calibre: Option<String>,
    /// Further metadata, kept as submitted.
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    /// Physical size of one pixel of the file as read, micrometres.
    pub um_per_px: f64,
    pub width: i64,
    pub height: i64,
    pub submitted_at: DateTime<Utc>,
    pub submitted_by: String,
}

impl From<CasingRecord> for CasingDto {
    fn from(r: CasingRecord) -> Self {
        CasingDto {
            casing_id: r.casing_id,
            agency: r.agency,
            sha256: r.sha256,
            file_name: r.file_name,
            format: r.format.as_str().to_string(),
            surface_kind: r.surface_kind.as_str().to_string(),
            kind: r.kind.into(),
            case_number: r.case_number,
            calibre: r.calibre,
            metadata: r.metadata,
            um_per_px: r.um_per_px,
            width: r.width,
            height: r.height,
            submitted_at: r.submitted_at,
            submitted_by: r.submitted_by,
        }
    }
}
