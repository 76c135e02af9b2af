//! Add throughput and top-k search latency of the engine's descriptor index
//! at growing sizes, against a plain dot-product scan over the same vectors.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use casetrace_engine::index::VectorIndex;

use crate::report::{ratio, Report};
use crate::scan::{brute_force, unit_vectors};
use crate::stats::{timed, Summary};

#[derive(Debug, clap::Args)]
pub struct IndexArgs {
    /// Index sizes, comma separated. 1000000 is optional: at 128 dims it
    /// holds ~0.5 GB of vectors twice (index and baseline) and takes minutes.
    #[arg(long, value_delimiter = ',', default_value = "10000,100000")]
    sizes: Vec<usize>,
    #[arg(long, default_value_t = 128)]
    dim: usize,
    /// Queries timed per size (the same queries for every size).
    #[arg(long, default_value_t = 200)]
    queries: usize,
    #[arg(long, default_value_t = 100)]
    k: usize,
    /// Seed of the vectors and queries.
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

/// Least fraction of the scan's top k the index must return too. Exact
/// search agrees up to float rounding among near-equal scores at the k-th
/// place, so a little slack, not none.
const MIN_RECALL: f64 = 0.99;

pub fn run(args: &IndexArgs, json_mode: bool) -> anyhow::Result<serde_json::Value> {
    anyhow::ensure!(
        args.dim > 0 && args.k > 0 && args.queries > 0,
        "dim, k and queries must be positive"
    );
    let queries = unit_vectors(args.queries, args.dim, args.seed);
    let mut report = Report::new("index", json_mode);
    for &n in &args.sizes {
        anyhow::ensure!(n > 0, "index sizes must be positive");
        // Seeded per size, so a size's vectors do not depend on the others run.
        let vectors = unit_vectors(n, args.dim, args.seed ^ (n as u64).rotate_left(32));
        let ids: Vec<i64> = (0..n as i64).collect();
        let mut index = VectorIndex::new(args.dim)?;
        let started = Instant::now();
        index.add(&ids, &vectors)?;
        let add_s = started.elapsed().as_secs_f64();

        // One untimed query each: first touches of the memory are not search.
        index.search(&queries[..args.dim], args.k)?;
        std::hint::black_box(brute_force(
            &vectors,
            args.dim,
            &queries[..args.dim],
            args.k,
        ));

        let (mut engine, mut baseline) = (Vec::<Duration>::new(), Vec::<Duration>::new());
        let mut recall_sum = 0.0;
        for (qi, q) in queries.chunks_exact(args.dim).enumerate() {
            // Alternate which goes first so neither always finds warm caches.
            let (found, expected) = if qi % 2 == 0 {
                let f = timed(&mut engine, || index.search(q, args.k))?;
                (
                    f,
                    timed(&mut baseline, || brute_force(&vectors, args.dim, q, args.k)),
                )
            } else {
                let e = timed(&mut baseline, || brute_force(&vectors, args.dim, q, args.k));
                (timed(&mut engine, || index.search(q, args.k))?, e)
            };
            // Same answer, or the timing means nothing.
            anyhow::ensure!(
                found.first().map(|f| f.0) == expected.first().map(|e| e.0 as i64),
                "n={n}, query {qi}: index and scan disagree on the best match"
            );
            let want: HashSet<i64> = expected.iter().map(|e| e.0 as i64).collect();
            let hits = found.iter().filter(|f| want.contains(&f.0)).count();
            recall_sum += hits as f64 / want.len().max(1) as f64;
        }
        let recall = recall_sum / args.queries as f64;
        anyhow::ensure!(
            recall >= MIN_RECALL,
            "n={n}: index returned only {:.1}% of the scan's top {}",
            recall * 100.0,
            args.k
        );
        let (e, b) = (Summary::of(&mut engine), Summary::of(&mut baseline));
        let r = ratio(e.median_ms, b.median_ms);
        let add_per_s = n as f64 / add_s;
        report.push(
            format!(
                "index n={n} dim={} k={} queries={}: add {add_per_s:.0} vectors/s ({add_s:.2} s); \
                 search median {:.3} ms p95 {:.3} ms; brute-force scan median {:.3} ms p95 {:.3} ms; \
                 ratio engine/baseline {r:.3} (top-{} recall vs scan {:.4})",
                args.dim,
                args.k,
                args.queries,
                e.median_ms,
                e.p95_ms,
                b.median_ms,
                b.p95_ms,
                args.k,
                recall
            ),
            serde_json::json!({
                "n": n,
                "add_s": add_s,
                "add_vectors_per_s": add_per_s,
                "engine_search": e.json(),
                "baseline_scan": b.json(),
                "ratio_median": r,
                "ratio_p95": ratio(e.p95_ms, b.p95_ms),
                "recall_at_k": recall,
            }),
        );
    }
    Ok(report.to_json(serde_json::json!({
        "sizes": args.sizes,
        "dim": args.dim,
        "queries": args.queries,
        "k": args.k,
        "seed": args.seed,
    })))
}
