//! Fine comparison per pair (coarse sweep + refinement) against the
//! reference that tries every angle at full resolution.

use std::time::{Duration, Instant};

use casetrace_engine::comparison::{CompareConfig, ComparisonInput, FineComparer};
use casetrace_engine::preprocessing::{prepare, PreprocessConfig};
use casetrace_engine::synth::{fire, make_gun, SynthConfig};

use crate::stats::median_p95_ms;

#[derive(clap::Args)]
pub struct CompareArgs {
    /// Pairs timed with the engine's comparison.
    #[arg(long, default_value_t = 100)]
    pairs: usize,
    /// Pairs timed with the exhaustive baseline (slow: ~0.3 s each).
    #[arg(long, default_value_t = 5)]
    baseline_pairs: usize,
}

pub fn run(args: &CompareArgs) -> anyhow::Result<()> {
    let synth = SynthConfig {
        um_per_px: 12.5,
        ..SynthConfig::default()
    };
    let pre = PreprocessConfig::default();
    let comparer = FineComparer::new(CompareConfig::default(), pre.canvas_px);
    let gun = make_gun(1, None, &synth);
    let inputs: Vec<ComparisonInput> = (0..8)
        .map(|seed| {
            Ok(comparer.input(prepare(&fire(&gun, seed, &synth), "synthetic", &pre)?.surface))
        })
        .collect::<anyhow::Result<_>>()?;
    let pair = |i: usize| (&inputs[i % inputs.len()], &inputs[(i + 1) % inputs.len()]);

    let mut fast = Vec::<Duration>::new();
    for i in 0..args.pairs {
        let (a, b) = pair(i);
        let t = Instant::now();
        std::hint::black_box(comparer.compare(a, b));
        fast.push(t.elapsed());
    }
    let mut slow = Vec::<Duration>::new();
    for i in 0..args.baseline_pairs {
        let (a, b) = pair(i);
        let t = Instant::now();
        std::hint::black_box(comparer.compare_exhaustive(a, b, 1.0));
        slow.push(t.elapsed());
    }
    let (fm, fp) = median_p95_ms(&mut fast);
    let (sm, _) = median_p95_ms(&mut slow);
    println!(
        "compare: {} pairs median {fm:.1} ms p95 {fp:.1} ms; exhaustive 1° baseline median {sm:.1} ms; ratio {:.3}",
        args.pairs,
        fm / sm
    );
    Ok(())
}
