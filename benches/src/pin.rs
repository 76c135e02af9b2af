//! The firing-pin comparison a pair of raw scans adds to the fine
//! comparison: pin marks cut out of synthetic pin-marked raw scans as a
//! submission does, then `PinQuery::score` per ordered pair, the query's
//! unwraps made once per query as the engine makes them.

use std::time::Duration;

use casetrace_engine::comparison::PinQuery;
use casetrace_engine::preprocessing::{extract_pin_mark, prepare, PinMarkConfig, PreprocessConfig};
use casetrace_engine::synth::{labelled_set_with_raw, RawShare, SynthConfig};

use crate::stats::{timed, Summary};

/// Median and p95 per pair of `pairs` pin comparisons (at least one per
/// ordered pair of the marks made).
pub fn time_pin_pairs(seed: u64, pairs: usize) -> anyhow::Result<Summary> {
    let synth = SynthConfig {
        um_per_px: 12.5,
        ..SynthConfig::default()
    };
    let share = RawShare::pin_marked(3);
    let pre = PreprocessConfig::default();
    let mut marks = Vec::new();
    for shot in labelled_set_with_raw(seed, 2, 3, 1, &synth, Some(share)) {
        let prepared = prepare(&shot.scan, "synthetic", &pre)?;
        if let Some(mark) = prepared
            .pin_impression_um
            .and_then(|pin| extract_pin_mark(&shot.scan, pin, &PinMarkConfig::default()))
        {
            marks.push(mark);
        }
    }
    anyhow::ensure!(marks.len() >= 2, "too few synthetic pin marks");
    let queries: Vec<PinQuery> = marks.iter().map(PinQuery::new).collect();
    let m = marks.len();
    let mut times = Vec::<Duration>::new();
    for i in 0..pairs.max(m * (m - 1)) {
        let a = i % m;
        let b = (a + 1 + (i / m) % (m - 1)) % m;
        timed(&mut times, || queries[a].score(&marks[b]));
    }
    Ok(Summary::of(&mut times))
}
