//! Trace import files: one trace per row, CSV or JSON lines, read through
//! [`crate::bulk::table`] with its limits. A row names a firearm and one
//! dated event on it; a field trace request is the row whose event is a
//! `recovery`. Every row carries the agency's trace number, which makes a
//! re-run of the same file record nothing twice.
//!
//! Columns (CSV headers or JSON keys): `trace_number`, `serial`, `date`
//! (YYYY-MM-DD) (required); `event` (default `recovery`; see
//! [`TraceEventKind`]); `agency`; the firearm's `make`, `model`, `type`,
//! `calibre`, `country`, `importer`, `obliterated` (true/false),
//! `restored_chars`; the event's `licensee_id`, `acting_agency`, `place`,
//! `latitude`, `longitude`, `crime_code`, `possessor`, `comment`; and
//! `casing_id` for a test fire. Any other column is refused: a misspelt
//! `crime_cod` would otherwise drop data without a word.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::bulk::table::{read_table, take_text, TableFormat};
use crate::error::Result;
use crate::traces::{parse_event_date, NewFirearm, NewTraceEvent, TraceEventKind, TraceSubmission};

/// Every column a trace row may have.
pub const TRACE_COLUMNS: [&str; 21] = [
    "trace_number",
    "serial",
    "date",
    "event",
    "agency",
    "make",
    "model",
    "type",
    "calibre",
    "country",
    "importer",
    "obliterated",
    "restored_chars",
    "licensee_id",
    "acting_agency",
    "place",
    "latitude",
    "longitude",
    "crime_code",
    "possessor",
    "comment",
];
/// The test-fire casing column, in addition to [`TRACE_COLUMNS`].
const CASING_COLUMN: &str = "casing_id";
const REQUIRED: [&str; 3] = ["trace_number", "serial", "date"];

/// One row of a trace file: the trace, or why the row cannot be one.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceRow {
    pub row_number: u64,
    /// The row's trace number when it has one, to name it in reports.
    pub trace_number: Option<String>,
    pub submission: std::result::Result<TraceSubmission, String>,
}

/// Parse a trace file. Rows without an agency are `default_agency`'s;
/// `submitted_by` is recorded on every trace.
pub fn parse_trace_rows(
    name: &str,
    bytes: &[u8],
    format: TableFormat,
    default_agency: &str,
    submitted_by: &str,
) -> Result<Vec<TraceRow>> {
    let mut allowed: Vec<&str> = TRACE_COLUMNS.to_vec();
    allowed.push(CASING_COLUMN);
    let rows = read_table(name, bytes, format, &REQUIRED, Some(&allowed))?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let (trace_number, submission) = match row.cells {
                Ok(cells) => row_to_trace(cells, default_agency, submitted_by),
                Err(problem) => (None, Err(problem)),
            };
            TraceRow {
                row_number: row.row_number,
                trace_number,
                submission,
            }
        })
        .collect())
}

fn row_to_trace(
    mut cells: BTreeMap<String, Value>,
    default_agency: &str,
    submitted_by: &str,
) -> (Option<String>, std::result::Result<TraceSubmission, String>) {
    let mut problems = Vec::new();
    let mut text = |key: &str| take_text(&mut cells, key, &mut problems);
    let trace_number = text("trace_number");
    let serial = text("serial");
    let date = text("date");
    let event = text("event");
    let agency = text("agency").unwrap_or_else(|| default_agency.to_string());
    let mut firearm = NewFirearm {
        agency: agency.clone(),
        make: text("make"),
        model: text("model"),
        firearm_type: text("type"),
        calibre: text("calibre"),
        country: text("country"),
        importer: text("importer"),
        serial: serial.clone().unwrap_or_default(),
        obliterated: false,
        restored_chars: text("restored_chars"),
        submitted_by: submitted_by.to_string(),
    };
    let obliterated = text("obliterated");
    let licensee_id = text("licensee_id");
    let acting_agency = text("acting_agency");
    let place = text("place");
    let latitude = text("latitude");
    let longitude = text("longitude");
    let crime_code = text("crime_code");
    let possessor = text("possessor");
    let comment = text("comment");
    let casing = text(CASING_COLUMN);
    for key in cells.keys() {
        problems.push(format!(
            "unknown column {key:.40}; trace rows have: {}, {CASING_COLUMN}",
            TRACE_COLUMNS.join(", ")
        ));
    }
    for (column, value) in [
        ("trace_number", &trace_number),
        ("serial", &serial),
        ("date", &date),
    ] {
        if value.is_none() {
            problems.push(format!("the {column} column is empty"));
        }
    }
    match obliterated
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("false" | "no" | "0") => {}
        Some("true" | "yes" | "1") => firearm.obliterated = true,
        Some(other) => problems.push(format!("obliterated {other:?} is not true or false")),
    }
    let kind = match event.as_deref().map(str::parse::<TraceEventKind>) {
        None => TraceEventKind::Recovery,
        Some(Ok(kind)) => kind,
        Some(Err(e)) => {
            problems.push(e.to_string());
            TraceEventKind::Recovery
        }
    };
    let occurred_on = date
        .as_deref()
        .map(|d| parse_event_date("date", d).map_err(|e| e.to_string()));
    let mut coordinate = |name: &str, v: Option<String>| -> Option<f64> {
        let v = v?;
        match v.parse::<f64>() {
            Ok(x) if x.is_finite() => Some(x),
            _ => {
                problems.push(format!("{name} {v:?} is not a number"));
                None
            }
        }
    };
    let latitude = coordinate("latitude", latitude);
    let longitude = coordinate("longitude", longitude);
    let occurred_on = match occurred_on {
        Some(Ok(d)) => Some(d),
        Some(Err(e)) => {
            problems.push(e);
            None
        }
        None => None,
    };
    if let Some(problem) = problems.into_iter().next() {
        return (trace_number, Err(problem));
    }
    let Some(occurred_on) = occurred_on else {
        unreachable!("an empty date is a problem above");
    };
    let mut new = NewTraceEvent::new(&agency, 0, kind, occurred_on, submitted_by);
    new.licensee_id = licensee_id;
    new.acting_agency = acting_agency;
    new.place = place;
    new.latitude = latitude;
    new.longitude = longitude;
    new.crime_code = crime_code;
    new.possessor = possessor;
    new.comment = comment;
    new.trace_number = trace_number.clone();
    (
        trace_number,
        Ok(TraceSubmission {
            firearm,
            event: new,
            test_fire_casing: casing,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(csv: &str) -> Vec<TraceRow> {
        parse_trace_rows("t.csv", csv.as_bytes(), TableFormat::Csv, "lab", "tester").unwrap()
    }

    #[test]
    fn a_field_trace_row_becomes_a_recovery_on_its_firearm() {
        let rows = parse(
            "trace_number,serial,date,make,calibre,place,latitude,longitude,crime_code,possessor,obliterated\n\
             T-1,ab-12 34,2024-05-02,Ruger,9mm,Main St,40.1,-75.2,1300,J. Doe,no\n",
        );
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].row_number, 2);
        let sub = rows[0].submission.as_ref().unwrap();
        assert_eq!(sub.event.kind, TraceEventKind::Recovery);
        assert_eq!(sub.event.trace_number.as_deref(), Some("T-1"));
        assert_eq!(sub.event.agency, "lab");
        assert_eq!(sub.event.latitude, Some(40.1));
        assert_eq!(sub.event.possessor.as_deref(), Some("J. Doe"));
        assert_eq!(sub.firearm.serial, "ab-12 34");
        assert_eq!(sub.firearm.make.as_deref(), Some("Ruger"));
        assert!(!sub.firearm.obliterated);
        assert_eq!(sub.test_fire_casing, None);
    }

    #[test]
    fn each_bad_row_names_its_own_problem() {
        let rows = parse(
            "trace_number,serial,date,event,latitude,obliterated\n\
             T-1,A1,2024-13-01,,,\n\
             T-2,A2,2024-01-01,sold,,\n\
             T-3,A3,2024-01-01,,north,\n\
             T-4,,2024-01-01,,,\n\
             T-5,A5,2024-01-01,,,maybe\n\
             T-6,A6,2024-01-01,dealer_sale,,\n",
        );
        let problems: Vec<String> = rows
            .iter()
            .map(|r| r.submission.as_ref().err().cloned().unwrap_or_default())
            .collect();
        assert!(problems[0].contains("date"), "{problems:?}");
        assert!(
            problems[1].contains("\"sold\" is not a trace event kind"),
            "{problems:?}"
        );
        assert!(problems[2].contains("latitude \"north\""), "{problems:?}");
        assert!(
            problems[3].contains("serial column is empty"),
            "{problems:?}"
        );
        assert!(
            problems[4].contains("obliterated \"maybe\""),
            "{problems:?}"
        );
        assert_eq!(problems[5], "");
        assert_eq!(rows[1].trace_number.as_deref(), Some("T-2"));
    }

    #[test]
    fn unknown_columns_and_missing_required_ones_are_refused() {
        let err = parse_trace_rows(
            "t.csv",
            b"trace_number,serial,date,crime_cod\nT-1,A1,2024-01-01,13\n",
            TableFormat::Csv,
            "l",
            "t",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("unknown column crime_cod"), "{err}");
        let text =
            "{\"trace_number\":\"T\",\"serial\":\"A\",\"date\":\"2024-01-01\",\"crime_cod\":1}\n";
        let rows =
            parse_trace_rows("t.jsonl", text.as_bytes(), TableFormat::JsonLines, "l", "t").unwrap();
        let problem = rows[0].submission.as_ref().unwrap_err();
        assert!(problem.contains("unknown column crime_cod"), "{problem}");
        let err = parse_trace_rows(
            "t.csv",
            b"serial,date\nA,2024-01-01\n",
            TableFormat::Csv,
            "l",
            "t",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("missing: trace_number"), "{err}");
    }

    #[test]
    fn json_lines_rows_take_typed_values() {
        let text = "{\"trace_number\":\"T-9\",\"serial\":\"X1\",\"date\":\"2023-02-03\",\"event\":\"test_fire\",\"casing_id\":\"TF-1\",\"latitude\":1.5,\"longitude\":2}\n";
        let rows =
            parse_trace_rows("t.jsonl", text.as_bytes(), TableFormat::JsonLines, "l", "t").unwrap();
        let sub = rows[0].submission.as_ref().unwrap();
        assert_eq!(sub.event.kind, TraceEventKind::TestFire);
        assert_eq!(sub.test_fire_casing.as_deref(), Some("TF-1"));
        assert_eq!(
            (sub.event.latitude, sub.event.longitude),
            (Some(1.5), Some(2.0))
        );
    }
}
