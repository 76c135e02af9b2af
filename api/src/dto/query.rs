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
pub const MAX_LIMIT: usize = 100;

/// `?agency=` on reads of one casing.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CasingQuery {
    /// Agency owning the casing (default `local`).
    pub agency: Option<String>,
}

/// `?limit=&agency=` on candidate lists of casings on file.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CandidatesQuery {
    /// Longest list, 1-100 (default 10).
    pub limit: Option<usize>,
    /// Agency owning the casing (default `local`).
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
