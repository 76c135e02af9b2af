//! A trace as it arrives and what recording it did: the types the REST
//! API, the command line and trace files share. The engine records them
//! ([`crate::Engine::submit_trace`], [`crate::Engine::import_traces`]).

use super::{FirearmRecord, NewFirearm, NewTraceEvent, TraceEventRecord};

/// A trace as it arrives: from a field trace request (a recovery) or an
/// imported row (any kind of event). The event's `firearm_id` and
/// `casing_pk` are filled in by the engine.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceSubmission {
    pub firearm: NewFirearm,
    pub event: NewTraceEvent,
    /// Test fires: the lab's test-fire casing, by its casing id within the
    /// event's agency.
    pub test_fire_casing: Option<String>,
}

/// What a trace submission did.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceOutcome {
    pub firearm: FirearmRecord,
    pub event: TraceEventRecord,
    /// The firearm was not on file before this trace.
    pub created_firearm: bool,
    /// False when the agency's trace number was already on file: nothing
    /// was written and `event` is the one recorded then.
    pub created: bool,
}

/// What a trace import did, row by row.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct TraceImportReport {
    pub rows: usize,
    /// Traces recorded by this run.
    pub recorded: usize,
    /// Rows whose trace number was already on file: nothing written.
    pub duplicates: usize,
    /// Firearms this run created (the rest were on file).
    pub firearms_created: usize,
    pub failed: Vec<TraceRowError>,
}

/// A row that was not recorded, and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TraceRowError {
    pub row: u64,
    pub trace_number: Option<String>,
    pub reason: String,
}
