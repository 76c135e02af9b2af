//! Fine comparison per pair (coarse rotation sweep + refinement + cells)
//! against the reference that tries every angle at full resolution, and
//! whole shortlists of `--candidates` pairs on `--threads` threads. The
//! firing-pin comparison a pair of raw scans adds is timed too (`pin.rs`),
//! and the ratio counts it.

use std::time::Duration;

use casetrace_engine::comparison::{
    decode_canvas, encode_canvas, CompareConfig, ComparisonInput, FineComparer,
};
use casetrace_engine::preprocessing::{prepare, PreprocessConfig};
use casetrace_engine::synth::{fire, make_gun, SynthConfig};

use crate::report::{ratio, Report};
use crate::stats::{timed, Summary};

#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// Pairs timed with the engine's comparison.
    #[arg(long, default_value_t = 200)]
    pairs: usize,
    /// Pairs timed with the exhaustive baseline (slow: ~0.5 s each).
    #[arg(long, default_value_t = 5)]
    baseline_pairs: usize,
    /// Step of the baseline's rotation search, degrees.
    #[arg(long, default_value_t = 1.0)]
    baseline_step_deg: f64,
    /// Synthetic guns, and casings fired from each.
    #[arg(long, default_value_t = 2)]
    guns: usize,
    #[arg(long, default_value_t = 6)]
    casings_per_gun: usize,
    /// Seed of the synthetic guns and firings.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Candidates per simulated query (the shortlist the fine comparison
    /// sees), compared on `--threads` threads; timed `--queries` times.
    #[arg(long, default_value_t = 50)]
    candidates: usize,
    #[arg(long, default_value_t = 2)]
    threads: usize,
    #[arg(long, default_value_t = 5)]
    queries: usize,
    /// Scan resolution of the synthetic casings, µm per pixel.
    #[arg(long, default_value_t = 12.5)]
    um_per_px: f64,
    /// Casings whose breech face survives only as a thin ring around a
    /// large aperture (issue #14's hard case), where the registration adds
    /// its ring-angle proposal: the per-pair cost must hold there too.
    #[arg(long)]
    thin_ring: bool,
}

pub fn run(args: &CompareArgs, json_mode: bool) -> anyhow::Result<serde_json::Value> {
    let m = args.guns * args.casings_per_gun;
    anyhow::ensure!(m >= 2, "need at least two casings to make pairs");
    anyhow::ensure!(
        args.baseline_step_deg > 0.0,
        "baseline step must be positive"
    );
    anyhow::ensure!(args.um_per_px > 0.0, "resolution must be positive");
    let synth = if args.thin_ring {
        SynthConfig::thin_ring(args.um_per_px)
    } else {
        SynthConfig {
            um_per_px: args.um_per_px,
            ..SynthConfig::default()
        }
    };
    let pre = PreprocessConfig::default();
    let comparer = FineComparer::new(CompareConfig::default(), pre.canvas_px);
    let mut inputs = Vec::<(usize, ComparisonInput)>::with_capacity(m);
    for g in 0..args.guns {
        let gun = make_gun(args.seed.wrapping_add(g as u64), None, &synth);
        for c in 0..args.casings_per_gun {
            let shot = args
                .seed
                .wrapping_mul(1_000)
                .wrapping_add((g * 100 + c) as u64);
            let canvas = prepare(&fire(&gun, shot, &synth), "synthetic", &pre)?.surface;
            inputs.push((g, comparer.input(canvas)));
        }
    }
    // Pair i walks through every ordered pair of distinct casings, mates and
    // casings from different guns alike.
    let pair = |i: usize| {
        let a = i % m;
        let b = (a + 1 + (i / m) % (m - 1)) % m;
        (&inputs[a], &inputs[b])
    };

    let (mut fast, mut slow) = (Vec::<Duration>::new(), Vec::<Duration>::new());
    let (mut mate_scores, mut other_scores) = (Vec::new(), Vec::new());
    // How much the coarse sweep loses against trying every angle, for mates
    // (where it matters: a lost mate is a missed identification) and others.
    let (mut shortfall_mates, mut shortfall_others) = (0.0_f64, 0.0_f64);
    // Baseline pairs are spread among the engine's so both see the same
    // machine load.
    let every = (args.pairs / args.baseline_pairs.max(1)).max(1);
    let mut baseline_done = 0;
    for i in 0..args.pairs.max(args.baseline_pairs * every) {
        let ((ga, a), (gb, b)) = pair(i);
        let found = if i < args.pairs {
            let found = timed(&mut fast, || comparer.compare(a, b));
            if let Some(c) = &found {
                if ga == gb {
                    &mut mate_scores
                } else {
                    &mut other_scores
                }
                .push(c.score);
            }
            found
        } else {
            comparer.compare(a, b)
        };
        if i % every == 0 && baseline_done < args.baseline_pairs {
            baseline_done += 1;
            let reference = timed(&mut slow, || {
                comparer.compare_exhaustive(a, b, args.baseline_step_deg)
            });
            if let (Some(f), Some(r)) = (found, reference) {
                let lost = r.registration_ncc - f.registration_ncc;
                if ga == gb {
                    shortfall_mates = shortfall_mates.max(lost);
                } else {
                    shortfall_others = shortfall_others.max(lost);
                }
            }
        }
    }
    // Whole shortlists as a query sees them (as the engine's `compare_stored`
    // does): the query's input made fresh, so its per-query precomputation
    // is counted; every candidate decoded from its stored bytes and made
    // into an input; `candidates` of them split over `threads` scoped
    // threads.
    let stored: Vec<Vec<u8>> = inputs
        .iter()
        .map(|(_, i)| encode_canvas(&i.canvas))
        .collect();
    let mut batches = Vec::<Duration>::new();
    for q in 0..args.queries {
        let query = q % m;
        let shortlist: Vec<usize> = (0..args.candidates)
            .map(|k| (query + 1 + k % (m - 1)) % m)
            .collect();
        let chunk = shortlist.len().div_ceil(args.threads.max(1)).max(1);
        timed(&mut batches, || {
            let query = comparer.input(decode_canvas(&stored[query]).expect("own encoding"));
            std::thread::scope(|scope| {
                for part in shortlist.chunks(chunk) {
                    let (comparer, query, stored) = (&comparer, &query, &stored);
                    scope.spawn(move || {
                        for c in part {
                            let canvas = decode_canvas(&stored[*c]).expect("own encoding");
                            std::hint::black_box(comparer.compare(query, &comparer.input(canvas)));
                        }
                    });
                }
            })
        });
    }
    let batch = Summary::of(&mut batches);
    let (f, s) = (Summary::of(&mut fast), Summary::of(&mut slow));
    let r = ratio(f.median_ms, s.median_ms);
    let pin = crate::pin::time_pin_pairs(args.seed, args.pairs)?;
    let r_with_pin = ratio(f.median_ms + pin.median_ms, s.median_ms);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let mut report = Report::new("compare", json_mode);
    report.push(
        format!(
            "compare {} pairs ({m} synthetic {} casings at {} µm/px): median {:.1} ms p95 {:.1} ms per pair; \
             exhaustive {}° baseline on {} pairs median {:.1} ms p95 {:.1} ms; ratio engine/baseline {r:.4}; \
             mean score mates {:.3} others {:.3}; worst registration NCC shortfall vs baseline: mates {shortfall_mates:.3}, others {shortfall_others:.3}; \
             {} candidates on {} threads: median {:.1} ms p95 {:.1} ms per query ({} queries); \
             firing-pin marks {} pairs: median {:.2} ms p95 {:.2} ms per pair; ratio engine with pin/baseline {r_with_pin:.4}",
            f.n,
            if args.thin_ring { "thin-ring" } else { "full-disc" },
            args.um_per_px,
            f.median_ms,
            f.p95_ms,
            args.baseline_step_deg,
            s.n,
            s.median_ms,
            s.p95_ms,
            mean(&mate_scores),
            mean(&other_scores),
            args.candidates,
            args.threads,
            batch.median_ms,
            batch.p95_ms,
            batch.n,
            pin.n,
            pin.median_ms,
            pin.p95_ms,
        ),
        serde_json::json!({
            "engine_compare": f.json(),
            "baseline_exhaustive": s.json(),
            "ratio_median": r,
            "mean_score_mates": mean(&mate_scores),
            "mean_score_non_mates": mean(&other_scores),
            "max_registration_ncc_shortfall_vs_baseline_mates": shortfall_mates,
            "max_registration_ncc_shortfall_vs_baseline_non_mates": shortfall_others,
            "shortlist_per_query": batch.json(),
            "pin_compare": pin.json(),
            "ratio_median_with_pin": r_with_pin,
        }),
    );
    Ok(report.to_json(serde_json::json!({
        "pairs": args.pairs,
        "baseline_pairs": args.baseline_pairs,
        "baseline_step_deg": args.baseline_step_deg,
        "guns": args.guns,
        "casings_per_gun": args.casings_per_gun,
        "um_per_px": args.um_per_px,
        "thin_ring": args.thin_ring,
        "seed": args.seed,
        "candidates": args.candidates,
        "threads": args.threads,
        "queries": args.queries,
    })))
}
