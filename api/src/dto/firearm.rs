//! Firearms and their trace events on the wire.

use casetrace_engine::casing::CasingRef;
use casetrace_engine::traces::{
    FirearmRecord, NewFirearm, NewTraceEvent, SerialMatch, TraceEventKind, TraceEventRecord,
};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::DEFAULT_AGENCY;

/// A casing as clients name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CasingRefDto {
    pub agency: String,
    #[schema(example = "TW01-01")]
    pub casing_id: String,
}

impl From<CasingRef> for CasingRefDto {
    fn from(r: CasingRef) -> Self {
        CasingRefDto {
            agency: r.agency,
            casing_id: r.casing_id,
        }
    }
}

/// A firearm on file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FirearmDto {
    pub id: i64,
    pub agency: String,
    pub make: Option<String>,
    pub model: Option<String>,
    /// Pistol, revolver, rifle, ...
    #[serde(rename = "type")]
    pub firearm_type: Option<String>,
    pub calibre: Option<String>,
    /// Country of manufacture.
    pub country: Option<String>,
    pub importer: Option<String>,
    /// The serial as written on the firearm or the request.
    #[schema(example = "RP-0O1 234")]
    pub serial: String,
    /// Upper case, separators removed, look-alikes folded (O→0, I/L→1, S→5,
    /// B→8, Z→2): what serial search compares.
    #[schema(example = "RP001234")]
    pub serial_normalised: String,
    pub obliterated: bool,
    /// Characters a lab restored on an obliterated serial.
    pub restored_chars: Option<String>,
    pub submitted_at: DateTime<Utc>,
    pub submitted_by: String,
}

impl From<FirearmRecord> for FirearmDto {
    fn from(r: FirearmRecord) -> Self {
        FirearmDto {
            id: r.id,
            agency: r.agency,
            make: r.make,
            model: r.model,
            firearm_type: r.firearm_type,
            calibre: r.calibre,
            country: r.country,
            importer: r.importer,
            serial: r.serial_as_written,
            serial_normalised: r.serial_normalised,
            obliterated: r.obliterated,
            restored_chars: r.restored_chars,
            submitted_at: r.submitted_at,
            submitted_by: r.submitted_by,
        }
    }
}

/// What happened to a firearm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TraceEventKindDto {
    Manufacture,
    Import,
    /// Retail sale by a licensed dealer; time-to-crime counts from the last.
    DealerSale,
    MultipleSale,
    Theft,
    Loss,
    Recovery,
    /// A lab fired it for reference; names the test-fire casing.
    TestFire,
}

impl From<TraceEventKind> for TraceEventKindDto {
    fn from(k: TraceEventKind) -> Self {
        match k {
            TraceEventKind::Manufacture => Self::Manufacture,
            TraceEventKind::Import => Self::Import,
            TraceEventKind::DealerSale => Self::DealerSale,
            TraceEventKind::MultipleSale => Self::MultipleSale,
            TraceEventKind::Theft => Self::Theft,
            TraceEventKind::Loss => Self::Loss,
            TraceEventKind::Recovery => Self::Recovery,
            TraceEventKind::TestFire => Self::TestFire,
        }
    }
}

impl From<TraceEventKindDto> for TraceEventKind {
    fn from(k: TraceEventKindDto) -> Self {
        match k {
            TraceEventKindDto::Manufacture => Self::Manufacture,
            TraceEventKindDto::Import => Self::Import,
            TraceEventKindDto::DealerSale => Self::DealerSale,
            TraceEventKindDto::MultipleSale => Self::MultipleSale,
            TraceEventKindDto::Theft => Self::Theft,
            TraceEventKindDto::Loss => Self::Loss,
            TraceEventKindDto::Recovery => Self::Recovery,
            TraceEventKindDto::TestFire => Self::TestFire,
        }
    }
}

/// A trace event on file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TraceEventDto {
    pub id: i64,
    /// The agency that recorded it.
    pub agency: String,
    pub firearm_id: i64,
    pub kind: TraceEventKindDto,
    #[schema(value_type = String, format = Date, example = "2024-03-01")]
    pub date: NaiveDate,
    /// Dealer sales: the seller's licence id.
    pub licensee_id: Option<String>,
    /// Recoveries and test fires: the agency or lab that acted.
    pub acting_agency: Option<String>,
    pub place: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub crime_code: Option<String>,
    pub possessor: Option<String>,
    /// Test fires: the lab's test-fire casing.
    pub casing: Option<CasingRefDto>,
    pub comment: Option<String>,
    pub trace_number: Option<String>,
    pub submitted_at: DateTime<Utc>,
    pub submitted_by: String,
}

impl From<TraceEventRecord> for TraceEventDto {
    fn from(r: TraceEventRecord) -> Self {
        TraceEventDto {
            id: r.id,
            agency: r.agency,
            firearm_id: r.firearm_id,
            kind: r.kind.into(),
            date: r.occurred_on,
            licensee_id: r.licensee_id,
            acting_agency: r.acting_agency,
            place: r.place,
            latitude: r.latitude,
            longitude: r.longitude,
            crime_code: r.crime_code,
            possessor: r.possessor,
            casing: r.casing.map(Into::into),
            comment: r.comment,
            trace_number: r.trace_number,
            submitted_at: r.submitted_at,
            submitted_by: r.submitted_by,
        }
    }
}

/// `POST /v1/firearms`: a firearm with no event yet (e.g. a reference
/// collection). Unknown fields are refused, so a misspelt one is not lost.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewFirearmDto {
    /// Owning agency: the key's own (the default); naming another is refused.
    pub agency: Option<String>,
    #[schema(example = "RP-001234")]
    pub serial: String,
    #[serde(default)]
    pub obliterated: bool,
    pub restored_chars: Option<String>,
    #[schema(example = "Ruger")]
    pub make: Option<String>,
    pub model: Option<String>,
    #[serde(rename = "type")]
    pub firearm_type: Option<String>,
    pub calibre: Option<String>,
    pub country: Option<String>,
    pub importer: Option<String>,
}

impl NewFirearmDto {
    pub fn into_new(self, submitted_by: &str) -> NewFirearm {
        NewFirearm {
            agency: self.agency.unwrap_or_else(|| DEFAULT_AGENCY.to_string()),
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
        }
    }
}

/// `POST /v1/firearms/{id}/events`: something that happened to a firearm
/// on file.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTraceEventDto {
    /// The recording agency (the key's own, the default); a test fire's casing is
    /// looked up in it.
    pub agency: Option<String>,
    pub kind: TraceEventKindDto,
    #[schema(value_type = String, format = Date, example = "2021-06-14")]
    pub date: NaiveDate,
    pub licensee_id: Option<String>,
    pub acting_agency: Option<String>,
    pub place: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub crime_code: Option<String>,
    pub possessor: Option<String>,
    /// Test fires only: the lab's test-fire casing id, already on file.
    pub casing_id: Option<String>,
    pub comment: Option<String>,
    pub trace_number: Option<String>,
}

impl NewTraceEventDto {
    /// The engine's event (firearm filled in by the engine) and the test
    /// fire's casing id.
    pub fn into_new(self, submitted_by: &str) -> (NewTraceEvent, Option<String>) {
        let agency = self.agency.unwrap_or_else(|| DEFAULT_AGENCY.to_string());
        let mut e = NewTraceEvent::new(&agency, 0, self.kind.into(), self.date, submitted_by);
        e.licensee_id = self.licensee_id;
        e.acting_agency = self.acting_agency;
        e.place = self.place;
        e.latitude = self.latitude;
        e.longitude = self.longitude;
        e.crime_code = self.crime_code;
        e.possessor = self.possessor;
        e.comment = self.comment;
        e.trace_number = self.trace_number;
        (e, self.casing_id)
    }
}

/// One firearm a serial search found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SerialMatchDto {
    pub firearm: FirearmDto,
    /// Edits between the query and the serial (0 for exact and pattern
    /// matches).
    pub distance: usize,
}

impl From<SerialMatch> for SerialMatchDto {
    fn from(m: SerialMatch) -> Self {
        SerialMatchDto {
            firearm: m.firearm.into(),
            distance: m.distance,
        }
    }
}

/// `GET /v1/firearms?serial=...`'s answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SerialSearchDto {
    pub mode: String,
    pub query: String,
    /// Nearest first; at most 200.
    pub matches: Vec<SerialMatchDto>,
}
