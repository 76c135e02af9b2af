//! Top-k search latency of the engine's faiss index at growing sizes,
//! against a plain dot-product scan over the same vectors.

use std::time::{Duration, Instant};

use casetrace_engine::index::VectorIndex;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::stats::median_p95_ms;

#[derive(clap::Args)]
pub struct IndexArgs {
    /// Index sizes, comma separated (1000000 needs ~0.5 GB per 128 dims).
    #[arg(long, value_delimiter = ',', default_value = "10000,100000")]
    sizes: Vec<usize>,
    #[arg(long, default_value_t = 128)]
    dim: usize,
    #[arg(long, default_value_t = 100)]
    queries: usize,
    #[arg(long, default_value_t = 100)]
    k: usize,
}

fn unit_vectors(n: usize, dim: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
    let mut out: Vec<f32> = (0..n * dim).map(|_| rng.random::<f32>() - 0.5).collect();
    for v in out.chunks_exact_mut(dim) {
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
        v.iter_mut().for_each(|x| *x /= norm);
    }
    out
}

/// The baseline: score every vector, keep the k best.
fn brute_force(vectors: &[f32], dim: usize, query: &[f32], k: usize) -> Vec<(usize, f32)> {
    let mut scored: Vec<(usize, f32)> = vectors
        .chunks_exact(dim)
        .enumerate()
        .map(|(i, v)| (i, v.iter().zip(query).map(|(a, b)| a * b).sum()))
        .collect();
    let k = k.min(scored.len());
    scored.select_nth_unstable_by(k.saturating_sub(1), |a, b| b.1.total_cmp(&a.1));
    scored.truncate(k);
    scored.sort_by(|a, b| b.1.total_cmp(&a.1));
    scored
}

pub fn run(args: &IndexArgs) -> anyhow::Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let queries = unit_vectors(args.queries, args.dim, &mut rng);
    for &n in &args.sizes {
        let vectors = unit_vectors(n, args.dim, &mut rng);
        let ids: Vec<i64> = (0..n as i64).collect();
        let mut index = VectorIndex::new(args.dim)?;
        let started = Instant::now();
        index.add(&ids, &vectors)?;
        let add_s = started.elapsed().as_secs_f64();

        let (mut engine, mut baseline) = (Vec::<Duration>::new(), Vec::<Duration>::new());
        for q in queries.chunks_exact(args.dim) {
            let t = Instant::now();
            let found = index.search(q, args.k)?;
            engine.push(t.elapsed());
            let t = Instant::now();
            let expected = brute_force(&vectors, args.dim, q, args.k);
            baseline.push(t.elapsed());
            // Same answer, or the timing means nothing.
            anyhow::ensure!(
                found.first().map(|f| f.0) == expected.first().map(|e| e.0 as i64),
                "index and scan disagree"
            );
        }
        let (em, ep) = median_p95_ms(&mut engine);
        let (bm, bp) = median_p95_ms(&mut baseline);
        println!(
            "index n={n} dim={} k={}: add {:.0} vectors/s; search median {em:.2} ms p95 {ep:.2} ms; \
             brute-force scan median {bm:.2} ms p95 {bp:.2} ms; ratio {:.2}",
            args.dim,
            args.k,
            n as f64 / add_s,
            em / bm
        );
    }
    Ok(())
}
