//! Tables of records from untrusted files: CSV with a header row, or JSON
//! lines (one object per line), read with limits on size, rows and values.
//! Casing manifests and trace imports both read through here, so both
//! report problems the same way: a row that is wrong on its own keeps its
//! problem and its line number, a file that cannot be read as a whole is
//! refused.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::{EngineError, Result};

/// Largest table accepted, bytes.
pub const MAX_TABLE_BYTES: u64 = 64 * 1024 * 1024;
/// Most rows in one table.
pub const MAX_ROWS: usize = 1_000_000;
/// Longest single value, bytes.
pub const MAX_FIELD_BYTES: usize = 4096;

/// The two formats, told apart by file name or media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFormat {
    Csv,
    JsonLines,
}

impl TableFormat {
    /// `.csv` or `.jsonl`/`.ndjson`; anything else is not a table.
    pub fn from_name(name: &str) -> Option<Self> {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".csv") {
            Some(TableFormat::Csv)
        } else if lower.ends_with(".jsonl") || lower.ends_with(".ndjson") {
            Some(TableFormat::JsonLines)
        } else {
            None
        }
    }
}

/// One data row: its line in the file (a CSV header is line 1; the first
/// JSON line is line 1) and its non-empty cells, or why it has none.
#[derive(Debug, Clone, PartialEq)]
pub struct TableRow {
    pub row_number: u64,
    pub cells: std::result::Result<BTreeMap<String, Value>, String>,
}

/// Read a table. `required` columns must be in a CSV header and, when
/// `allowed` is given, no other than those; JSON lines carry their keys
/// per row, so checking them is the caller's, row by row. `name` labels
/// errors.
pub fn read_table(
    name: &str,
    bytes: &[u8],
    format: TableFormat,
    required: &[&str],
    allowed: Option<&[&str]>,
) -> Result<Vec<TableRow>> {
    if bytes.len() as u64 > MAX_TABLE_BYTES {
        return Err(EngineError::too_large(
            name,
            "table size (bytes)",
            bytes.len() as u64,
            MAX_TABLE_BYTES,
        ));
    }
    let rows = match format {
        TableFormat::Csv => read_csv(name, bytes, required, allowed)?,
        TableFormat::JsonLines => read_json_lines(name, bytes)?,
    };
    if rows.len() > MAX_ROWS {
        return Err(EngineError::too_large(
            name,
            "rows",
            rows.len() as u64,
            MAX_ROWS as u64,
        ));
    }
    Ok(rows)
}

fn read_csv(
    name: &str,
    bytes: &[u8],
    required: &[&str],
    allowed: Option<&[&str]>,
) -> Result<Vec<TableRow>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(bytes);
    let headers = reader
        .headers()
        .map_err(|e| EngineError::invalid(name, "header row", e.to_string()))?
        .clone();
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|r| !headers.iter().any(|h| h == *r))
        .collect();
    if !missing.is_empty() {
        return Err(EngineError::invalid(
            name,
            "header row",
            format!(
                "must name the columns {} (missing: {}; found: {})",
                required.join(", "),
                missing.join(", "),
                headers.iter().collect::<Vec<_>>().join(",")
            ),
        ));
    }
    if let Some(allowed) = allowed {
        if let Some(unknown) = headers.iter().find(|h| !allowed.contains(h)) {
            return Err(EngineError::invalid(
                name,
                "header row",
                format!(
                    "unknown column {unknown:.40}; the columns are: {}",
                    allowed.join(", ")
                ),
            ));
        }
    }
    let mut lines = LineCounter::new(bytes);
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            EngineError::invalid(name, &format!("line {line}"), format!("malformed CSV: {e}"))
        })?;
        let row_number = record.position().map_or(0, |p| lines.line_at(p.byte()));
        let cells = headers
            .iter()
            .zip(record.iter())
            .filter(|(_, v)| !v.is_empty())
            .map(|(h, v)| (h.to_string(), Value::String(v.to_string())))
            .collect();
        rows.push(TableRow {
            row_number,
            cells: Ok(cells),
        });
        if rows.len() > MAX_ROWS {
            break;
        }
    }
    Ok(rows)
}

/// Line numbers of byte offsets, counting `\n`, `\r\n` and a lone `\r`
/// as one line break each, as the csv reader does when it splits records.
/// Its own `Position::line` counts `\n` only, so records ended by a lone
/// `\r` (old Mac exports) shared one number; row numbers key an import's
/// rows, so they must differ (found by fuzzing).
struct LineCounter<'a> {
    bytes: &'a [u8],
    offset: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        LineCounter {
            bytes,
            offset: 0,
            line: 1,
        }
    }

    /// The line of the first byte at or after `offset` that is not a line
    /// break: csv reports a record's position before the breaks that end
    /// the previous one. Offsets must come in rising order, which keeps the
    /// whole walk linear in the file.
    fn line_at(&mut self, offset: u64) -> u64 {
        let end = usize::try_from(offset).map_or(self.bytes.len(), |o| o.min(self.bytes.len()));
        while self.offset < self.bytes.len()
            && (self.offset < end || matches!(self.bytes[self.offset], b'\r' | b'\n'))
        {
            match self.bytes[self.offset] {
                b'\n' => self.line += 1,
                b'\r' if self.bytes.get(self.offset + 1) != Some(&b'\n') => self.line += 1,
                _ => {}
            }
            self.offset += 1;
        }
        self.line
    }
}

fn read_json_lines(name: &str, bytes: &[u8]) -> Result<Vec<TableRow>> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| EngineError::invalid(name, "encoding", format!("not UTF-8: {e}")))?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        // A line that is not an object is that row's problem, not the file's.
        let cells = match serde_json::from_str(line) {
            Ok(Value::Object(map)) => Ok(map.into_iter().collect()),
            Ok(other) => Err(format!("not a JSON object: {other}")),
            Err(e) => Err(format!("not valid JSON: {e}")),
        };
        rows.push(TableRow {
            row_number: i as u64 + 1,
            cells,
        });
        if rows.len() > MAX_ROWS {
            break;
        }
    }
    Ok(rows)
}

/// Take `key` out of `cells` as trimmed text (numbers are written out; an
/// empty string or null is absent). A value over [`MAX_FIELD_BYTES`] or of
/// another JSON type is recorded in `problems` and treated as absent.
pub fn take_text(
    cells: &mut BTreeMap<String, Value>,
    key: &str,
    problems: &mut Vec<String>,
) -> Option<String> {
    match cells.remove(key)? {
        Value::String(s) if s.len() > MAX_FIELD_BYTES => {
            problems.push(format!("{key} is longer than {MAX_FIELD_BYTES} bytes"));
            None
        }
        Value::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Value::Null => None,
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        other => {
            problems.push(format!("{key} must be text, not {other}"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fuzzing (fuzz/ manifest) found two rows with one row number: csv
    /// splits records at a lone `\r` but counts lines at `\n` only.
    #[test]
    fn csv_rows_ended_by_a_lone_cr_get_their_own_row_numbers() {
        let rows = read_table(
            "t.csv",
            b"a,b\r1,2\r\n3,4\n\r5,6\r",
            TableFormat::Csv,
            &["a"],
            None,
        )
        .unwrap();
        let numbers: Vec<u64> = rows.iter().map(|r| r.row_number).collect();
        assert_eq!(numbers, [2, 3, 5]);

        let found = include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../testdata/fuzz-regressions/manifest-lone-cr-row-numbers.csv"
        ));
        let rows = read_table("fuzz.csv", found, TableFormat::Csv, &[], None).unwrap();
        assert!(rows.len() >= 2, "{rows:?}");
        assert!(
            rows.windows(2).all(|w| w[0].row_number < w[1].row_number),
            "{rows:?}"
        );
    }

    #[test]
    fn csv_names_every_missing_required_column() {
        let err = read_table(
            "t.csv",
            b"a,b\n1,2\n",
            TableFormat::Csv,
            &["a", "c", "d"],
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("missing: c, d"), "{err}");
        assert!(err.contains("t.csv"), "{err}");
    }

    #[test]
    fn json_lines_keep_bad_lines_as_row_problems() {
        let rows = read_table(
            "t.jsonl",
            b"{\"a\":1}\n\n[1]\n{oops\n",
            TableFormat::JsonLines,
            &["a"],
            None,
        )
        .unwrap();
        let numbers: Vec<u64> = rows.iter().map(|r| r.row_number).collect();
        assert_eq!(numbers, [1, 3, 4]);
        assert!(rows[0].cells.is_ok());
        assert!(rows[1]
            .cells
            .as_ref()
            .unwrap_err()
            .contains("not a JSON object"));
        assert!(rows[2]
            .cells
            .as_ref()
            .unwrap_err()
            .contains("not valid JSON"));
    }

    #[test]
    fn oversize_values_are_a_problem_not_a_value() {
        let mut cells = BTreeMap::new();
        cells.insert(
            "k".to_string(),
            Value::String("x".repeat(MAX_FIELD_BYTES + 1)),
        );
        cells.insert("n".to_string(), serde_json::json!(12));
        cells.insert("o".to_string(), serde_json::json!({"a": 1}));
        let mut problems = Vec::new();
        assert_eq!(take_text(&mut cells, "k", &mut problems), None);
        assert_eq!(
            take_text(&mut cells, "n", &mut problems).as_deref(),
            Some("12")
        );
        assert_eq!(take_text(&mut cells, "o", &mut problems), None);
        assert_eq!(problems.len(), 2, "{problems:?}");
    }
}
