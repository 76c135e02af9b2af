//! Firearm traces: serial-number matching ([`serial`]) and the time
//! arithmetic of a trace ([`timeline`]). Storage of firearms, trace events
//! and leads lives in [`crate::store`]; this module holds the pure rules.

pub mod serial;
pub mod timeline;

pub use serial::{edit_distance, normalise_serial, SerialPattern};
pub use timeline::time_to_crime_days;
pub mod history;
pub mod import;

pub use history::{case_history, firearm_history, CaseHistory, FirearmHistory, TimeToCrime};
pub use import::{parse_trace_rows, TraceRow};
