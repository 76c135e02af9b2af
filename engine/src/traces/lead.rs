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
    /// The pair's breech-face score when the lead was taken up (`None`
    /// when the pair could not be registered, or on leads from before).
    pub score: Option<f64>,
    /// Its calibrated log10 LR, when a calibration covered the pair.
    pub log10_lr: Option<f64>,
    /// The query casing's case number and calibre, for the lead lists.
    pub case_number: Option<String>,
    pub calibre: Option<String>,
    /// Made by the correlation queue (a candidate above the calibrated
    /// threshold), not taken up by hand.
    pub automatic: bool,
}

/// A lead as one caller is shown it: the record, its verification (from
/// every conclusion) and the conclusions the caller may read (see
/// `access::policy::sees_conclusions`: a verifier is blind to the
/// others' until it has recorded its own).
#[derive(Debug, Clone, PartialEq)]
pub struct LeadView {
    pub lead: LeadRecord,
    pub verification: super::Verification,
    /// Every conclusion, or none when they are hidden from the caller.
    pub conclusions: Vec<super::ConclusionRecord>,
    /// How many conclusions were withheld from the caller.
    pub conclusions_hidden: usize,
}
