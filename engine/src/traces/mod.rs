//! Firearm traces, their rules and records: serial-number matching
//! ([`serial`]), the time arithmetic of a trace ([`timeline`]), how a
//! history is put together ([`history`]) and how a trace file's rows
//! become submissions ([`import`]); and the records these rules work on
//! (firearms, trace events, leads, submissions). Pure: nothing here reads
//! or writes the database. [`crate::store`] persists the records and
//! [`crate::service`] gathers what a history needs.

mod conclusion;
mod event;
mod firearm;
pub mod history;
pub mod import;
mod lead;
mod lead_list;
pub mod serial;
mod submission;
pub mod timeline;

pub use conclusion::{
    next_role, verify, AfteConclusion, ConclusionFamily, ConclusionRecord, ConclusionRole,
    NewConclusion, Verification, VerificationState,
};
pub use event::{NewTraceEvent, TraceEventKind, TraceEventRecord, TraceFirearm};
pub use firearm::{
    parse_event_date, FirearmRecord, NewFirearm, SerialFilters, SerialMatch, SerialQuery,
};
pub use history::{CaseHistory, FirearmHistory, LinkedGroup, TimeToCrime};
pub use import::{parse_trace_rows, TraceRow};
pub use lead::{LeadRecord, LeadStatus, LeadView};
pub use lead_list::{lead_page, LeadCounts, LeadFilter, LeadPage, LeadSort};
pub use serial::{edit_distance, normalise_serial, SerialPattern};
pub use submission::{TraceImportReport, TraceOutcome, TraceRowError, TraceSubmission};
pub use timeline::time_to_crime_days;
