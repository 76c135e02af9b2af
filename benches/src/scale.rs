//! The descriptor index from ten thousand to a million casings (issue
//! #17): exact search against IVF, unrestricted against restricted to a
//! tenth of the agencies through the per-agency id sets, recall@100 of
//! IVF against exact search, index memory, and (`scale_db`) a database of
//! that many casings written directly, its bytes per casing, and
//! end-to-end candidate queries through the engine.
//!
//! The plain baseline for the shortlist is exact search of every
//! descriptor in the same process; for a restriction, the database query
//! of the permitted ids the engine ran per query before the id sets.
//!
//! Descriptors are synthetic and clustered (makes → guns → four casings
//! each, `synth::DescriptorSet`): IVF's recall depends on that structure,
//! so its figures hold for data shaped so, and `casetrace eval` checks the
//! real descriptor's own shortlist.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use casetrace_engine::index::{
    nlist_for, CasingIndex, IndexEntry, IndexKind, IndexPlan, IndexStamp, IvfCodec,
};
use casetrace_engine::synth::{DescriptorSet, DescriptorShape};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::report::{ratio, Report};
use crate::stats::{timed, Summary};

#[derive(Debug, Clone, clap::Args)]
pub struct ScaleArgs {
    /// Casings, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "10000,100000")]
    pub sizes: Vec<usize>,
    /// Agencies the casings are spread over; a restricted caller sees a
    /// tenth of them.
    #[arg(long, default_value_t = 100)]
    pub agencies: usize,
    /// Queries timed per size (fresh casings of guns on file).
    #[arg(long, default_value_t = 200)]
    pub queries: usize,
    /// Shortlist length of the index measurements (recall@k).
    #[arg(long, default_value_t = 100)]
    pub k: usize,
    /// IVF nprobe values measured (recall and speed).
    #[arg(long, value_delimiter = ',', default_value = "8,16,32,64")]
    pub nprobe: Vec<usize>,
    /// Makes the guns fall into (descriptors of one make share a
    /// direction): fixed, as makes are, while casings per make grow with
    /// the collection.
    #[arg(long, default_value_t = 200)]
    pub makes: usize,
    /// Descriptor dimension (the model's is 128).
    #[arg(long, default_value_t = 128)]
    pub dim: usize,
    /// Also write a database of each size and query it end to end
    /// through the engine (needs the ONNX model and the real scans).
    #[arg(long)]
    pub database: bool,
    /// Casings that get a full-size comparison canvas in the database
    /// (about 51 KB each); the rest get a one-sample placeholder, so a
    /// million casings fit the disk. They are the restricted agencies'.
    #[arg(long, default_value_t = 100_000)]
    pub canvas_rows: usize,
    /// Shortlist length (fine comparisons) of the end-to-end queries.
    #[arg(long, default_value_t = 50)]
    pub fine: usize,
    /// End-to-end queries per size and caller.
    #[arg(long, default_value_t = 30)]
    pub e2e_queries: usize,
    /// Folder of real X3P scans whose prepared canvases fill the database.
    #[arg(long, default_value = "../shared/data/weller")]
    pub scans: PathBuf,
    /// Where the databases are written (default: a temporary folder).
    #[arg(long)]
    pub workdir: Option<PathBuf>,
    #[arg(long, default_value_t = 17)]
    pub seed: u64,
}

/// The casings of one size: descriptors, and whose each is.
pub struct Collection {
    pub set: DescriptorSet,
    pub entries: Vec<IndexEntry>,
    /// The agencies a restricted caller sees (the first tenth).
    pub restricted: Vec<String>,
}

pub fn agency_name(i: usize) -> String {
    format!("agency-{i:03}")
}

impl Collection {
    /// `n` casings (four a gun). Up to `canvas_rows` casings, guns are
    /// dealt round every agency; past it, the first `canvas_rows` casings
    /// go round the restricted tenth and the rest round the others, so the
    /// restricted agencies hold exactly the casings with full canvases.
    pub fn generate(args: &ScaleArgs, n: usize) -> Collection {
        let shape = DescriptorShape {
            makes: args.makes,
            ..DescriptorShape::default()
        };
        let guns = n.div_ceil(shape.per_gun);
        let set = DescriptorSet::generate(guns, args.dim, shape, args.seed ^ n as u64);
        let tenth = (args.agencies / 10).max(1);
        let split = n > args.canvas_rows;
        let agency_of_gun = |gun: usize| {
            if !split {
                gun % args.agencies
            } else if gun * shape.per_gun < args.canvas_rows {
                gun % tenth
            } else {
                tenth + gun % (args.agencies - tenth).max(1)
            }
        };
        let entries = (0..n)
            .map(|i| IndexEntry {
                id: i as i64 + 1,
                agency: agency_name(agency_of_gun(set.gun_of(i))),
                descriptor: set.casing(i).to_vec(),
            })
            .collect();
        Collection {
            set,
            entries,
            restricted: (0..tenth).map(agency_name).collect(),
        }
    }
}

pub fn run(args: &ScaleArgs, json_mode: bool) -> anyhow::Result<serde_json::Value> {
    anyhow::ensure!(
        args.queries > 0 && args.k > 0 && args.agencies >= 10,
        "queries and k must be positive, agencies at least 10"
    );
    let mut report = Report::new("scale", json_mode);
    let plan = IndexPlan::default();
    report.note(format!(
        "synthetic clustered descriptors (dim {}, {} makes, 4 casings a gun), {} agencies, restricted = {} of them; \
         engine plan: exact below {}, IVF nprobe {}",
        args.dim,
        args.makes,
        args.agencies,
        (args.agencies / 10).max(1),
        plan.exact_below,
        plan.nprobe
    ));
    let workdir = match &args.workdir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            None
        }
        None => Some(tempfile::tempdir()?),
    };
    for &n in &args.sizes {
        let collection = Collection::generate(args, n);
        let index_result = measure_index(args, &collection, &mut report)?;
        if args.database {
            let dir = match (&args.workdir, &workdir) {
                (Some(dir), _) => dir.join(format!("scale-{n}")),
                (None, Some(tmp)) => tmp.path().join(format!("scale-{n}")),
                (None, None) => unreachable!("a work folder is always chosen"),
            };
            let db_result = crate::scale_db::measure(args, &collection, &dir, &mut report)?;
            report.push(
                String::new(),
                serde_json::json!({"n": n, "index": index_result, "database": db_result}),
            );
        } else {
            report.push(
                String::new(),
                serde_json::json!({"n": n, "index": index_result}),
            );
        }
    }
    Ok(report.to_json(serde_json::json!({
        "sizes": args.sizes,
        "agencies": args.agencies,
        "queries": args.queries,
        "k": args.k,
        "nprobe": args.nprobe,
        "dim": args.dim,
        "makes": args.makes,
        "seed": args.seed,
        "database": args.database,
        "canvas_rows": args.canvas_rows,
        "fine": args.fine,
    })))
}

/// The IVF kind of `n` casings with `codec`, whatever the threshold.
fn ivf(n: usize, codec: IvfCodec) -> IndexKind {
    IndexKind::Ivf {
        nlist: nlist_for(n as u64),
        codec,
        trained_on: n as u64,
    }
}

/// Bytes of an index as faiss writes it: its vectors, codes, ids and
/// centroids, about what it holds in memory; and the seconds the write
/// took (what a node paid per change when it wrote the file after each).
fn index_file(index: &CasingIndex, dim: usize) -> anyhow::Result<(u64, f64)> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("index.faiss");
    let stamp = IndexStamp {
        model_version: "bench".into(),
        dim,
        count: index.len(),
        max_id: None,
        feed_seq: Some(0),
        kind: index.kind(),
    };
    let t = Instant::now();
    index.vectors.save(&path, &stamp)?;
    let seconds = t.elapsed().as_secs_f64();
    Ok((std::fs::metadata(&path)?.len(), seconds))
}

fn ids(hits: &[(i64, f32)]) -> HashSet<i64> {
    hits.iter().map(|h| h.0).collect()
}

fn recall(found: &[(i64, f32)], truth: &HashSet<i64>) -> f64 {
    found.iter().filter(|h| truth.contains(&h.0)).count() as f64 / truth.len().max(1) as f64
}

fn measure_index(
    args: &ScaleArgs,
    c: &Collection,
    report: &mut Report,
) -> anyhow::Result<serde_json::Value> {
    let n = c.entries.len();
    let dim = args.dim;
    let t = Instant::now();
    let mut exact = CasingIndex::build(dim, IndexKind::Exact, &c.entries)?;
    let exact_build = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut flat = CasingIndex::build(dim, ivf(n, IvfCodec::Flat), &c.entries)?;
    let flat_build = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut sq8 = CasingIndex::build(dim, ivf(n, IvfCodec::Sq8), &c.entries)?;
    let sq8_build = t.elapsed().as_secs_f64();
    let (flat_bytes, flat_write) = index_file(&flat, dim)?;
    let memory = serde_json::json!({
        "exact_bytes": index_file(&exact, dim)?.0,
        "ivf_flat_bytes": flat_bytes,
        "ivf_flat_file_write_seconds": flat_write,
        "ivf_sq8_bytes": index_file(&sq8, dim)?.0,
        "agency_sets_bytes": exact.agencies.memory_bytes(),
    });
    report.note(format!(
        "n={n}: built exact in {exact_build:.1} s, IVF{},Flat in {flat_build:.1} s, \
         IVF{},SQ8 in {sq8_build:.1} s (training and adding); memory {memory}",
        nlist_for(n as u64),
        nlist_for(n as u64)
    ));

    let mut rng = ChaCha8Rng::seed_from_u64(args.seed ^ 0x9e37);
    let guns = c.set.len() / c.set.shape.per_gun;
    let queries: Vec<Vec<f32>> = (0..args.queries)
        .map(|q| {
            c.set
                .fresh_casing(rng.random_range(0..guns), q as u64 ^ args.seed)
        })
        .collect();
    let within = c.restricted.as_slice();
    let k = args.k;
    // Untimed first touches of every index's memory.
    for index in [&mut exact, &mut flat, &mut sq8] {
        index.vectors.set_nprobe(IndexPlan::default().nprobe);
        index.search(&queries[0], k, None)?;
        index.search(&queries[0], k, Some(within))?;
    }

    let (mut exact_all, mut exact_within, mut union) = (Vec::new(), Vec::new(), Vec::new());
    let mut truths = Vec::new();
    let mut truths_within = Vec::new();
    for q in &queries {
        truths.push(ids(&timed(&mut exact_all, || exact.search(q, k, None))?));
        let found = timed(&mut exact_within, || exact.search(q, k, Some(within)))?;
        truths_within.push(ids(&found));
        timed(&mut union, || exact.agencies.permitted(within));
    }
    let exact_all = Summary::of(&mut exact_all);
    let exact_within = Summary::of(&mut exact_within);
    let union = Summary::of(&mut union);
    report.note(format!(
        "n={n} k={k}: exact (baseline) median {:.2} ms p95 {:.2}; exact restricted median {:.2} ms \
         p95 {:.2} (ratio {:.3}); union of the restricted agencies' id sets median {:.3} ms",
        exact_all.median_ms,
        exact_all.p95_ms,
        exact_within.median_ms,
        exact_within.p95_ms,
        ratio(exact_within.median_ms, exact_all.median_ms),
        union.median_ms
    ));

    let mut sweep = Vec::new();
    for (codec, index) in [("flat", &mut flat), ("sq8", &mut sq8)] {
        for &nprobe in &args.nprobe {
            index.vectors.set_nprobe(nprobe);
            let (mut all, mut restricted) = (Vec::<Duration>::new(), Vec::new());
            let (mut r_all, mut r_within, mut short) = (0.0, 0.0, 0usize);
            for (qi, q) in queries.iter().enumerate() {
                let found = timed(&mut all, || index.search(q, k, None))?;
                r_all += recall(&found, &truths[qi]);
                let found = timed(&mut restricted, || index.search(q, k, Some(within)))?;
                r_within += recall(&found, &truths_within[qi]);
                short += usize::from(found.len() < truths_within[qi].len());
            }
            let (all, restricted) = (Summary::of(&mut all), Summary::of(&mut restricted));
            let (r_all, r_within) = (
                r_all / queries.len() as f64,
                r_within / queries.len() as f64,
            );
            report.note(format!(
                "n={n} IVF{},{codec} nprobe {nprobe}: median {:.3} ms p95 {:.3} (ratio to exact {:.3}), \
                 recall@{k} {r_all:.4}; restricted median {:.3} ms p95 {:.3} (ratio to exact restricted {:.3}), \
                 recall@{k} among the permitted {r_within:.4}, short lists {short}",
                nlist_for(n as u64),
                all.median_ms,
                all.p95_ms,
                ratio(all.median_ms, exact_all.median_ms),
                restricted.median_ms,
                restricted.p95_ms,
                ratio(restricted.median_ms, exact_within.median_ms),
            ));
            sweep.push(serde_json::json!({
                "codec": codec,
                "nprobe": nprobe,
                "search": all.json(),
                "recall": r_all,
                "ratio_to_exact_median": ratio(all.median_ms, exact_all.median_ms),
                "restricted_search": restricted.json(),
                "restricted_recall": r_within,
                "restricted_ratio_to_exact_median": ratio(restricted.median_ms, exact_within.median_ms),
                "short_lists": short,
            }));
        }
    }
    Ok(serde_json::json!({
        "n": n,
        "nlist": nlist_for(n as u64),
        "build_s": {"exact": exact_build, "ivf_flat": flat_build, "ivf_sq8": sq8_build},
        "memory": memory,
        "exact": exact_all.json(),
        "exact_restricted": exact_within.json(),
        "agency_union": union.json(),
        "restricted_casings": exact.agencies.permitted(within).count(),
        "ivf": sweep,
    }))
}
