//! The body of every error response.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `{"code": "...", "message": "..."}`: `code` is stable and meant for
/// programs, `message` is meant for people and may change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorDto {
    /// Stable snake_case code, e.g. `invalid_input`, `casing_not_found`.
    #[schema(example = "casing_not_found")]
    pub code: String,
    #[schema(example = "casing TW01-01 not found")]
    pub message: String,
    /// Set on server errors only: quote it when reporting the failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}
