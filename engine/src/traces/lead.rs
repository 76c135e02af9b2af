//! Leads: a candidate an examiner takes up, then confirms (hit) or
//! excludes. Hits are the edges of the linked-case graph ([`super::history`]);
//! [`crate::store`] keeps the rows.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::casing::CasingRef;
use crate::error::{EngineError, Result};

/// Where an examiner's review of a candidate stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeadStatus {
    /// Taken up, not yet decided.
    Lead,
    /// Confirmed: both casings were fired by one gun.
    Hit,
    /// Ruled out.
    Excluded,
}

impl LeadStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LeadStatus::Lead => "lead",
            LeadStatus::Hit => "hit",
            LeadStatus::Excluded => "excluded",
        }
    }
}

impl fmt::Display for LeadStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LeadStatus {
    type Err = EngineError;

    fn from_str(s: &str) -> Result<Self> {
        [LeadStatus::Lead, LeadStatus::Hit, LeadStatus::Excluded]
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| EngineError::InvalidMetadata {
                field: "status".into(),
                reason: format!("{s:?} is not a lead status; expected one of: lead, hit, excluded"),
            })
    }
}

/// A lead on file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeadRecord {
    pub id: i64,
    pub agency: String,
    pub query_casing_pk: i64,
    pub candidate_casing_pk: i64,
    /// The two casings as clients name them.
    pub query_casing: CasingRef,
    pub candidate_casing: CasingRef,
    pub status: LeadStatus,
    pub comment: Option<String>,
    pub marked_by: String,
    pub marked_at: chrono::DateTime<chrono::Utc>,
    pub decided_by: Option<String>,
    pub decided_at: Option<chrono::DateTime<chrono::Utc>>,
}
