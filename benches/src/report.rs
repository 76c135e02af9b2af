//! What a workload hands back: lines for people and one JSON value for
//! scripts. With `--json` the JSON goes to stdout and the lines to stderr,
//! so a pipe gets only the document and a terminal still shows progress.

use serde_json::Value;

#[derive(Debug)]
pub struct Report {
    workload: &'static str,
    json_mode: bool,
    results: Vec<Value>,
}

impl Report {
    pub fn new(workload: &'static str, json_mode: bool) -> Self {
        Report {
            workload,
            json_mode,
            results: Vec::new(),
        }
    }

    /// Record one measured result: its human line (printed at once, so long
    /// runs show progress) and its JSON form.
    pub fn push(&mut self, line: String, result: Value) {
        self.note(line);
        self.results.push(result);
    }

    /// A line for people only (its figures are in some result's JSON).
    pub fn note(&self, line: String) {
        if self.json_mode {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    }

    /// The whole run as one JSON document.
    pub fn to_json(&self, parameters: Value) -> Value {
        serde_json::json!({
            "workload": self.workload,
            "parameters": parameters,
            "results": self.results,
            "threads": std::thread::available_parallelism().map_or(1, |n| n.get()),
            "env": {
                "OPENBLAS_NUM_THREADS": std::env::var("OPENBLAS_NUM_THREADS").ok(),
                "OMP_NUM_THREADS": std::env::var("OMP_NUM_THREADS").ok(),
            },
        })
    }
}

/// `engine / baseline`, NaN when the baseline took no measurable time.
pub fn ratio(engine: f64, baseline: f64) -> f64 {
    if baseline > 0.0 {
        engine / baseline
    } else {
        f64::NAN
    }
}
