//! The first stage of a query at database scale: describe a real prepared
//! canvas with the ONNX model, then take the top K of N stored descriptors
//! from the engine's faiss index. The baseline does the same description
//! and a plain dot-product scan of the same vectors, so the ratio isolates
//! the index. Issue #3's target: descriptor + shortlist under 50 ms at
//! 100,000 casings.
//!
//! The stored descriptors are the real scans' own descriptors plus seeded
//! random unit vectors up to N: a flat index costs the same whatever the
//! vectors hold, and the real ones make sure the answer is checked against
//! genuine neighbours.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use casetrace_engine::description::DescriptorModel;
use casetrace_engine::index::VectorIndex;
use casetrace_engine::preprocessing::{prepare, PolarImage};
use casetrace_engine::reading::read_surface;
use casetrace_engine::EngineConfig;

use crate::report::{ratio, Report};
use crate::scan::{brute_force, unit_vectors};
use crate::stats::{timed, Summary};

#[derive(Debug, clap::Args)]
pub struct ShortlistArgs {
    /// Stored descriptors, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "10000,100000")]
    sizes: Vec<usize>,
    /// Shortlist lengths timed at each size.
    #[arg(long, value_delimiter = ',', default_value = "50,100")]
    k: Vec<usize>,
    /// Folder of real X3P scans; the queries are their prepared canvases.
    #[arg(long, default_value = "../shared/data/weller")]
    scans: PathBuf,
    /// Queries timed per size and k (cycling through the scans).
    #[arg(long, default_value_t = 200)]
    queries: usize,
    /// Seed of the padding vectors.
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

/// What a query costs within the engine's promise, ms.
const TARGET_MS: f64 = 50.0;

pub fn run(args: &ShortlistArgs, json_mode: bool) -> anyhow::Result<serde_json::Value> {
    anyhow::ensure!(
        args.queries > 0 && args.k.iter().all(|k| *k > 0),
        "queries and k must be positive"
    );
    let cfg = EngineConfig::new("unused");
    let model = DescriptorModel::load(&cfg.model, &cfg.runtime_library, 1)?;
    let inputs = real_inputs(&args.scans, &model, &cfg)?;
    let real = model.describe_polar(&inputs)?;
    let dim = model.spec().dim;
    let mut report = Report::new("shortlist", json_mode);
    report.note(format!(
        "{} real prepared canvases from {} as queries; model {} (dim {dim})",
        inputs.len(),
        args.scans.display(),
        model.spec().model_version
    ));
    for &n in &args.sizes {
        anyhow::ensure!(
            n >= real.len(),
            "size {n} is below the {} real scans",
            real.len()
        );
        let mut vectors: Vec<f32> = real.concat();
        let padding = n - real.len();
        vectors.extend(unit_vectors(
            padding,
            dim,
            args.seed ^ (n as u64).rotate_left(32),
        ));
        let ids: Vec<i64> = (0..n as i64).collect();
        let mut index = VectorIndex::new(dim)?;
        index.add(&ids, &vectors)?;
        // One untimed round each: first touches of the memory are not search.
        index.search(&real[0], 100)?;
        std::hint::black_box(brute_force(&vectors, dim, &real[0], 100));

        for &k in &args.k {
            let (mut describe, mut search, mut total, mut scan_total) =
                (Vec::<Duration>::new(), Vec::new(), Vec::new(), Vec::new());
            let mut agree = 0.0;
            for qi in 0..args.queries {
                let polar = &inputs[qi % inputs.len()];
                // Alternate which goes first so neither always finds warm caches.
                let engine_first = qi % 2 == 0;
                let mut run_engine = || -> anyhow::Result<Vec<(i64, f32)>> {
                    let t = Instant::now();
                    let d = timed(&mut describe, || {
                        model.describe_polar(std::slice::from_ref(polar))
                    })?;
                    let found = timed(&mut search, || index.search(&d[0], k))?;
                    total.push(t.elapsed());
                    Ok(found)
                };
                let mut run_scan = || -> anyhow::Result<Vec<(usize, f32)>> {
                    let t = Instant::now();
                    let d = model.describe_polar(std::slice::from_ref(polar))?;
                    let found = brute_force(&vectors, dim, &d[0], k);
                    scan_total.push(t.elapsed());
                    Ok(found)
                };
                let (found, expected) = if engine_first {
                    let f = run_engine()?;
                    (f, run_scan()?)
                } else {
                    let e = run_scan()?;
                    (run_engine()?, e)
                };
                // The query's own scan is on file: both must find it first.
                let own = (qi % inputs.len()) as i64;
                anyhow::ensure!(
                    found.first().map(|f| f.0) == Some(own)
                        && expected.first().map(|e| e.0 as i64) == Some(own),
                    "n={n} k={k}, query {qi}: the scan's own descriptor is not first"
                );
                let want: HashSet<i64> = expected.iter().map(|e| e.0 as i64).collect();
                agree += found.iter().filter(|f| want.contains(&f.0)).count() as f64
                    / want.len().max(1) as f64;
            }
            let agree = agree / args.queries as f64;
            let (d, s, t, b) = (
                Summary::of(&mut describe),
                Summary::of(&mut search),
                Summary::of(&mut total),
                Summary::of(&mut scan_total),
            );
            let r = ratio(t.median_ms, b.median_ms);
            report.push(
                format!(
                    "shortlist n={n} k={k} queries={}: describe median {:.2} ms p95 {:.2}; \
                     search median {:.2} ms p95 {:.2}; describe+search median {:.2} ms p95 {:.2} \
                     (target < {TARGET_MS} ms: {}); describe+brute-force scan median {:.2} ms p95 {:.2}; \
                     ratio engine/baseline {r:.3} (top-{k} agreement with the scan {agree:.4})",
                    args.queries,
                    d.median_ms,
                    d.p95_ms,
                    s.median_ms,
                    s.p95_ms,
                    t.median_ms,
                    t.p95_ms,
                    if t.p95_ms < TARGET_MS { "met" } else { "missed" },
                    b.median_ms,
                    b.p95_ms,
                ),
                serde_json::json!({
                    "n": n,
                    "k": k,
                    "describe": d.json(),
                    "search": s.json(),
                    "describe_and_search": t.json(),
                    "baseline_describe_and_scan": b.json(),
                    "ratio_median": r,
                    "ratio_p95": ratio(t.p95_ms, b.p95_ms),
                    "agreement_with_scan": agree,
                    "target_ms": TARGET_MS,
                }),
            );
        }
    }
    Ok(report.to_json(serde_json::json!({
        "sizes": args.sizes,
        "k": args.k,
        "queries": args.queries,
        "scans": args.scans,
        "seed": args.seed,
    })))
}

/// The model inputs of every X3P scan in `dir`, read and prepared as the
/// engine does on submission (untimed).
fn real_inputs(
    dir: &std::path::Path,
    model: &DescriptorModel,
    cfg: &EngineConfig,
) -> anyhow::Result<Vec<PolarImage>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "x3p"))
        .collect();
    paths.sort();
    anyhow::ensure!(!paths.is_empty(), "{}: no .x3p scans", dir.display());
    paths
        .iter()
        .map(|p| {
            let name = p.display().to_string();
            let bytes = std::fs::read(p).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
            let (_, surface) = read_surface(&bytes, &name, None, &cfg.limits)?;
            let prepared = prepare(&surface, &name, &cfg.preprocess)?;
            Ok(model.polar_input(&prepared.surface))
        })
        .collect()
}
