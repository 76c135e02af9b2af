//! A casing as the engine keeps it: what a submission stores, the record
//! on file and the features computed from it. These are the engine's own
//! types; [`crate::store`] persists them, and the other folders (traces,
//! access, service) use them without depending on storage.
//!
//! A casing is identified to people by `(agency, casing_id)` and to the
//! index by its database id, which is never reused.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};
use crate::reading::InputFormat;
use crate::surface::SurfaceKind;

/// Whether a casing comes from a crime scene or was fired for reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CasingKind {
    Evidence,
    TestFire,
}

impl CasingKind {
    pub const ALL: [CasingKind; 2] = [CasingKind::Evidence, CasingKind::TestFire];

    /// The stored (and serialised) name.
    pub fn as_str(self) -> &'static str {
        match self {
            CasingKind::Evidence => "evidence",
            CasingKind::TestFire => "test_fire",
        }
    }
}

impl fmt::Display for CasingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CasingKind {
    type Err = EngineError;

    fn from_str(s: &str) -> Result<Self> {
        CasingKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| EngineError::InvalidMetadata {
                field: "kind".into(),
                reason: format!("{s:?} is not a casing kind; expected one of: evidence, test_fire"),
            })
    }
}

/// A casing about to be stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewCasing {
    pub agency: String,
    pub casing_id: String,
    /// Lowercase hex SHA-256 of the original file.
    pub sha256: String,
    pub file_name: String,
    /// What the file was read as (recognised from its bytes).
    pub format: InputFormat,
    pub surface_kind: SurfaceKind,
    pub kind: CasingKind,
    pub case_number: Option<String>,
    pub calibre: Option<String>,
    /// Further metadata: a JSON object (`null` is stored as `{}`).
    pub metadata: serde_json::Value,
    pub um_per_px: f64,
    pub width: i64,
    pub height: i64,
    pub submitted_by: String,
}

/// A casing as clients name it: its agency and its id there.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CasingRef {
    pub agency: String,
    pub casing_id: String,
}

/// A casing on file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CasingRecord {
    /// Database id, also the casing's id in the vector index.
    pub id: i64,
    pub agency: String,
    pub casing_id: String,
    pub sha256: String,
    pub file_name: String,
    /// What the file was read as (recognised from its bytes).
    pub format: InputFormat,
    pub surface_kind: SurfaceKind,
    pub kind: CasingKind,
    pub case_number: Option<String>,
    pub calibre: Option<String>,
    pub metadata: serde_json::Value,
    pub um_per_px: f64,
    pub width: i64,
    pub height: i64,
    /// Set by the database when the casing was stored.
    pub submitted_at: chrono::DateTime<chrono::Utc>,
    pub submitted_by: String,
}

/// What the engine computed from a casing and keeps for later comparisons.
#[derive(Debug, Clone, PartialEq)]
pub struct CasingFeatures {
    /// Version of the descriptor model that made `descriptor`.
    pub model_version: String,
    pub descriptor: Vec<f32>,
    /// The comparison surface, encoded by the caller; stored as given.
    pub comparison_surface: Vec<u8>,
    pub pipeline_version: String,
    /// The firing-pin mark, encoded by the caller; `None` when the casing
    /// has none.
    pub pin_mark: Option<Vec<u8>>,
    /// The version of the mark extraction that ran; `None` on rows stored
    /// before it existed.
    pub marks_version: Option<String>,
}
