//! Trace events: what happened to a firearm, dated. The kinds, the event
//! a trace records and the event on file; [`crate::store`] keeps the rows.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::NewFirearm;
use crate::casing::CasingRef;
use crate::error::{EngineError, Result};

/// What kind of thing happened to a firearm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TraceEventKind {
    Manufacture,
    Import,
    /// Retail sale by a licensed dealer; time-to-crime counts from the last.
    DealerSale,
    MultipleSale,
    Theft,
    Loss,
    Recovery,
    /// A lab fired it for reference; links the test-fire casing.
    TestFire,
}

impl TraceEventKind {
    pub const ALL: [TraceEventKind; 8] = [
        TraceEventKind::Manufacture,
        TraceEventKind::Import,
        TraceEventKind::DealerSale,
        TraceEventKind::MultipleSale,
        TraceEventKind::Theft,
        TraceEventKind::Loss,
        TraceEventKind::Recovery,
        TraceEventKind::TestFire,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TraceEventKind::Manufacture => "manufacture",
            TraceEventKind::Import => "import",
            TraceEventKind::DealerSale => "dealer_sale",
            TraceEventKind::MultipleSale => "multiple_sale",
            TraceEventKind::Theft => "theft",
            TraceEventKind::Loss => "loss",
            TraceEventKind::Recovery => "recovery",
            TraceEventKind::TestFire => "test_fire",
        }
    }
}

impl fmt::Display for TraceEventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TraceEventKind {
    type Err = EngineError;

    fn from_str(s: &str) -> Result<Self> {
        TraceEventKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| EngineError::InvalidMetadata {
                field: "kind".into(),
                reason: format!(
                    "{s:?} is not a trace event kind; expected one of: {}",
                    TraceEventKind::ALL.map(|k| k.as_str()).join(", ")
                ),
            })
    }
}

/// A trace event about to be stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewTraceEvent {
    pub agency: String,
    pub firearm_id: i64,
    pub kind: TraceEventKind,
    pub occurred_on: NaiveDate,
    pub licensee_id: Option<String>,
    pub acting_agency: Option<String>,
    pub place: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub crime_code: Option<String>,
    pub possessor: Option<String>,
    /// Test fire only: the database id of the test-fire casing.
    pub casing_pk: Option<i64>,
    pub comment: Option<String>,
    /// The agency's number for the trace request this event came from;
    /// unique per agency, so a resubmitted request is recognised.
    pub trace_number: Option<String>,
    pub submitted_by: String,
}

impl NewTraceEvent {
    /// An event of `kind` with only the required fields set.
    pub fn new(
        agency: &str,
        firearm_id: i64,
        kind: TraceEventKind,
        on: NaiveDate,
        by: &str,
    ) -> Self {
        NewTraceEvent {
            agency: agency.into(),
            firearm_id,
            kind,
            occurred_on: on,
            licensee_id: None,
            acting_agency: None,
            place: None,
            latitude: None,
            longitude: None,
            crime_code: None,
            possessor: None,
            casing_pk: None,
            comment: None,
            trace_number: None,
            submitted_by: by.into(),
        }
    }
}

/// A trace event on file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceEventRecord {
    pub id: i64,
    pub agency: String,
    pub firearm_id: i64,
    pub kind: TraceEventKind,
    pub occurred_on: NaiveDate,
    pub licensee_id: Option<String>,
    pub acting_agency: Option<String>,
    pub place: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub crime_code: Option<String>,
    pub possessor: Option<String>,
    pub casing_pk: Option<i64>,
    /// Test fire: who the casing belongs to and its id, as clients name it.
    pub casing: Option<CasingRef>,
    pub comment: Option<String>,
    pub trace_number: Option<String>,
    pub submitted_at: chrono::DateTime<chrono::Utc>,
    pub submitted_by: String,
}

/// Which firearm a trace is recorded on.
#[derive(Debug, Clone, PartialEq)]
pub enum TraceFirearm {
    /// One on file.
    OnFile(i64),
    /// A new one, stored in the same transaction as the event.
    New(Box<NewFirearm>),
}
