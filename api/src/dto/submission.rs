//! What a submission or search sends (the multipart `metadata` part) and
//! what a submission gets back.

use casetrace_engine::service::Submission;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{CandidateDto, CasingDto, CasingKindDto, DEFAULT_AGENCY};

/// The `metadata` part of `POST /v1/casings`: a JSON object. Fields beyond
/// the ones below are kept as given in the casing's `metadata`; the fields
/// below must have the types shown or the request is refused (400).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SubmissionMetadataDto {
    /// 1-128 characters of A-Z, a-z, 0-9, `-`, `_`, `.`, `:`.
    #[schema(example = "TW01-01")]
    pub casing_id: String,
    /// Owning agency: the key's own (the default); naming another is refused.
    #[serde(default)]
    pub agency: Option<String>,
    /// `evidence` (default) or `test_fire`.
    #[serde(default)]
    pub kind: CasingKindDto,
    #[serde(default)]
    pub case_number: Option<String>,
    #[serde(default)]
    pub calibre: Option<String>,
    /// Pixel size in micrometres, for 2D images (X3P scans carry their own).
    #[serde(default)]
    pub um_per_px: Option<f64>,
    /// Any further fields, kept as given.
    #[serde(flatten)]
    #[schema(ignore)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl SubmissionMetadataDto {
    /// The engine's submission of these metadata and the uploaded file.
    pub fn into_submission(
        self,
        file_name: String,
        bytes: Vec<u8>,
        submitted_by: &str,
    ) -> Submission {
        Submission {
            agency: self.agency.unwrap_or_else(|| DEFAULT_AGENCY.to_string()),
            casing_id: self.casing_id,
            file_name,
            bytes,
            kind: self.kind.into(),
            case_number: self.case_number,
            calibre: self.calibre,
            metadata: serde_json::Value::Object(self.extra),
            um_per_px: self.um_per_px,
            submitted_by: submitted_by.to_string(),
        }
    }
}

/// The optional `metadata` part of `POST /v1/search`. Unknown fields are
/// refused: nothing is stored by a search, so a misspelt `um_per_px` would
/// otherwise be silently ignored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchMetadataDto {
    /// Pixel size in micrometres, for 2D images.
    #[serde(default)]
    pub um_per_px: Option<f64>,
}

/// The multipart body of `POST /v1/casings` (OpenAPI only).
#[derive(Debug, ToSchema)]
pub struct SubmitForm {
    /// The scan (X3P) or photograph (PNG, TIFF, JPEG).
    #[schema(value_type = String, format = Binary, content_media_type = "application/octet-stream")]
    pub image: Vec<u8>,
    pub metadata: SubmissionMetadataDto,
}

/// The multipart body of `POST /v1/search` (OpenAPI only).
#[derive(Debug, ToSchema)]
pub struct SearchForm {
    /// The scan (X3P) or photograph (PNG, TIFF, JPEG).
    #[schema(value_type = String, format = Binary, content_media_type = "application/octet-stream")]
    pub image: Vec<u8>,
    pub metadata: Option<SearchMetadataDto>,
}

/// The casing on file after a submission, and its candidates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SubmitResponseDto {
    pub casing: CasingDto,
    /// False when the same file was already on file (same id and bytes, or
    /// the same bytes under another id of the agency): nothing was written.
    pub created: bool,
    /// Candidates for the casing, best first (empty for `?limit=0`).
    pub candidates: Vec<CandidateDto>,
}
