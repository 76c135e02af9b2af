//! Query strings.

use serde::Deserialize;
use utoipa::IntoParams;

/// Agency assumed when a request names none. Agencies and authentication
/// come later; until then every casing lives in this one.
pub const DEFAULT_AGENCY: &str = "local";
/// Candidate list length when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 10;
/// Longest candidate list a request may ask for: each candidate costs a
/// fine comparison.
pub const MAX_LIMIT: usize = casetrace_engine::service::MAX_CANDIDATE_LIST;

/// `?agency=` on reads of one casing.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CasingQuery {
    /// Agency owning the casing (default: the key's own).
    pub agency: Option<String>,
}

/// `?limit=&agency=` on candidate lists of casings on file.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CandidatesQuery {
    /// Longest list, 1-100 (default 10).
    pub limit: Option<usize>,
    /// Agency owning the casing (default: the key's own).
    pub agency: Option<String>,
}

/// `?limit=` on searches by an image not on file.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Longest list, 1-100 (default 10).
    pub limit: Option<usize>,
}

/// `?limit=` on submissions.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SubmitQuery {
    /// Length of the new casing's candidate list, 0-100 (default 10); 0
    /// skips ranking, e.g. for bulk imports.
    pub limit: Option<usize>,
}

/// How `GET /v1/firearms` matches `serial`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SerialModeDto {
    /// Normalised serials equal.
    Exact,
    /// `?` is one unreadable character, `*` any run of them.
    Pattern,
    /// Within `max_edits` edits of the normalised serial, nearest first.
    Fuzzy,
}

/// `GET /v1/firearms?serial=...`: serial search.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SerialSearchQuery {
    /// The serial, or a pattern such as `A?3*9`.
    pub serial: String,
    /// Default: `pattern` when `serial` holds `?` or `*`, else `exact`.
    pub mode: Option<SerialModeDto>,
    /// Fuzzy only: most edits allowed (default 1).
    pub max_edits: Option<usize>,
    /// Only firearms of this make (case-insensitive).
    pub make: Option<String>,
    pub calibre: Option<String>,
    /// Country of manufacture.
    pub country: Option<String>,
}
