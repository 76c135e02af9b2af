//! A firearm as the traces rules see it: what a trace stores, the record
//! on file, and how a serial search is asked and answered.
//! [`crate::store`] keeps the rows and runs the search.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};

/// A firearm about to be stored.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct NewFirearm {
    pub agency: String,
    pub make: Option<String>,
    pub model: Option<String>,
    pub firearm_type: Option<String>,
    pub calibre: Option<String>,
    pub country: Option<String>,
    pub importer: Option<String>,
    pub serial: String,
    pub obliterated: bool,
    pub restored_chars: Option<String>,
    pub submitted_by: String,
}

/// A firearm on file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FirearmRecord {
    pub id: i64,
    pub agency: String,
    pub make: Option<String>,
    pub model: Option<String>,
    pub firearm_type: Option<String>,
    pub calibre: Option<String>,
    pub country: Option<String>,
    pub importer: Option<String>,
    pub serial_as_written: String,
    pub serial_normalised: String,
    pub obliterated: bool,
    pub restored_chars: Option<String>,
    pub submitted_at: chrono::DateTime<chrono::Utc>,
    pub submitted_by: String,
}

/// How a serial search matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum SerialQuery {
    /// The normalised serial equals the query's normalised form.
    Exact { serial: String },
    /// `?` one unknown character, `*` any run (e.g. `A?3*9`).
    Pattern { pattern: String },
    /// Within `max_edits` edits of the query's normalised form, nearest first.
    Fuzzy { serial: String, max_edits: usize },
}

/// Restrictions on a serial search; `None` matches anything. Compared
/// case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SerialFilters {
    pub make: Option<String>,
    pub calibre: Option<String>,
    pub country: Option<String>,
}

impl SerialFilters {
    /// Whether `f` passes every filter set.
    pub fn admits(&self, f: &FirearmRecord) -> bool {
        let same = |want: &Option<String>, have: &Option<String>| match (want, have) {
            (None, _) => true,
            (Some(w), Some(h)) => w.eq_ignore_ascii_case(h),
            (Some(_), None) => false,
        };
        same(&self.make, &f.make)
            && same(&self.calibre, &f.calibre)
            && same(&self.country, &f.country)
    }
}

/// One firearm a serial search found, with its edit distance to the query
/// (zero for exact and pattern matches).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SerialMatch {
    pub firearm: FirearmRecord,
    pub distance: usize,
}

/// Parse an ISO calendar date, naming the field when it is not one.
pub fn parse_event_date(field: &str, text: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|e| EngineError::InvalidMetadata {
        field: field.into(),
        reason: format!("{text:?} is not a YYYY-MM-DD date: {e}"),
    })
}
