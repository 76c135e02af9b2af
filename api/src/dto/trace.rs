//! Field trace requests and trace imports on the wire.

use casetrace_engine::traces::{
    NewFirearm, NewTraceEvent, TraceEventKind, TraceImportReport, TraceOutcome, TraceRowError,
    TraceSubmission,
};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{FirearmDto, TraceEventDto, DEFAULT_AGENCY};

/// `POST /v1/traces`: a trace request as filed from the field for a
/// recovered firearm. The firearm is matched to one on file by serial and
/// make, or recorded new; the recovery becomes an event on it. Unknown
/// fields are refused.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TraceRequestDto {
    /// The requesting agency: the key's own (the default).
    pub agency: Option<String>,
    /// The agency's number for this request; a second request with the
    /// same number records nothing and answers with the first (200).
    #[schema(example = "T-2024-000123")]
    pub trace_number: Option<String>,
    #[schema(example = "RP-001234")]
    pub serial: String,
    /// The serial was obliterated (then `restored_chars` says what a lab
    /// brought back).
    #[serde(default)]
    pub obliterated: bool,
    pub restored_chars: Option<String>,
    #[schema(example = "Ruger")]
    pub make: Option<String>,
    #[serde(rename = "type")]
    #[schema(example = "pistol")]
    pub firearm_type: Option<String>,
    #[schema(example = "9mm Luger")]
    pub calibre: Option<String>,
    pub model: Option<String>,
    /// Country of manufacture.
    pub country: Option<String>,
    pub importer: Option<String>,
    /// Who had the firearm when it was recovered.
    pub possessor: Option<String>,
    pub recovery_place: Option<String>,
    #[schema(value_type = String, format = Date, example = "2024-03-01")]
    pub recovery_date: NaiveDate,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// The crime the recovery relates to (agency code list).
    pub crime_code: Option<String>,
    /// The agency or unit that recovered it, when not the requester.
    pub recovering_agency: Option<String>,
    pub comment: Option<String>,
}

impl TraceRequestDto {
    pub fn into_submission(self, submitted_by: &str) -> TraceSubmission {
        let agency = self.agency.unwrap_or_else(|| DEFAULT_AGENCY.to_string());
        let mut event = NewTraceEvent::new(
            &agency,
            0,
            TraceEventKind::Recovery,
            self.recovery_date,
            submitted_by,
        );
        event.acting_agency = self.recovering_agency;
        event.place = self.recovery_place;
        event.latitude = self.latitude;
        event.longitude = self.longitude;
        event.crime_code = self.crime_code;
        event.possessor = self.possessor;
        event.comment = self.comment;
        event.trace_number = self.trace_number;
        TraceSubmission {
            firearm: NewFirearm {
                agency,
                make: self.make,
                model: self.model,
                firearm_type: self.firearm_type,
                calibre: self.calibre,
                country: self.country,
                importer: self.importer,
                serial: self.serial,
                obliterated: self.obliterated,
                restored_chars: self.restored_chars,
                submitted_by: submitted_by.to_string(),
            },
            event,
            test_fire_casing: None,
        }
    }
}

/// What a trace request did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TraceOutcomeDto {
    /// False when the trace number was already on file (nothing written).
    pub created: bool,
    /// The firearm was not on file before this trace.
    pub created_firearm: bool,
    pub firearm: FirearmDto,
    /// The recovery recorded.
    pub event: TraceEventDto,
}

impl From<TraceOutcome> for TraceOutcomeDto {
    fn from(o: TraceOutcome) -> Self {
        TraceOutcomeDto {
            created: o.created,
            created_firearm: o.created_firearm,
            firearm: o.firearm.into(),
            event: o.event.into(),
        }
    }
}

/// One trace row that was not recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TraceRowErrorDto {
    /// Line in the file (a CSV header is line 1).
    pub row: u64,
    pub trace_number: Option<String>,
    pub reason: String,
}

impl From<TraceRowError> for TraceRowErrorDto {
    fn from(e: TraceRowError) -> Self {
        TraceRowErrorDto {
            row: e.row,
            trace_number: e.trace_number,
            reason: e.reason,
        }
    }
}

/// `POST /v1/traces/imports`'s answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TraceImportDto {
    pub rows: usize,
    /// Traces recorded now.
    pub recorded: usize,
    /// Rows whose trace number was already on file.
    pub duplicates: usize,
    pub firearms_created: usize,
    pub failed: Vec<TraceRowErrorDto>,
}

impl From<TraceImportReport> for TraceImportDto {
    fn from(r: TraceImportReport) -> Self {
        TraceImportDto {
            rows: r.rows,
            recorded: r.recorded,
            duplicates: r.duplicates,
            firearms_created: r.firearms_created,
            failed: r.failed.into_iter().map(Into::into).collect(),
        }
    }
}
