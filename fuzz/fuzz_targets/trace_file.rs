//! Trace import files (CSV and JSON lines) on arbitrary bytes.

#![no_main]

use casetrace_engine::bulk::TableFormat;
use casetrace_engine::traces::parse_trace_rows;
use casetrace_fuzz::check_rising;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for format in [TableFormat::Csv, TableFormat::JsonLines] {
        let Ok(rows) = parse_trace_rows("fuzz", data, format, "lab", "fuzzer") else {
            continue;
        };
        check_rising(rows.iter().map(|r| r.row_number));
        for row in &rows {
            if let Ok(sub) = &row.submission {
                // A row is only accepted with its three required columns.
                assert!(row.trace_number.is_some(), "{row:?}");
                assert!(!sub.firearm.serial.is_empty(), "{row:?}");
                assert_eq!(sub.event.trace_number, row.trace_number);
                for x in [sub.event.latitude, sub.event.longitude]
                    .into_iter()
                    .flatten()
                {
                    assert!(x.is_finite());
                }
            }
        }
    }
});
