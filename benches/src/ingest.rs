//! Submitting synthetic X3P scans end to end (read, hash, decode, prepare,
//! describe, store, index), one at a time, against only reading and hashing
//! the same files.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use casetrace_engine::casing::CasingKind;
use casetrace_engine::reading::{read_surface, write_x3p, ReadLimits};
use casetrace_engine::service::Submission;
use casetrace_engine::store::sha256_hex;
use casetrace_engine::synth::{fire, make_gun, SynthConfig};
use casetrace_engine::{Engine, EngineConfig};

use crate::report::{ratio, Report};
use crate::stats::{timed, Summary};

#[derive(Debug, clap::Args)]
pub struct IngestArgs {
    #[arg(long, default_value_t = 200)]
    casings: usize,
    /// Casings fired from each synthetic gun.
    #[arg(long, default_value_t = 4)]
    per_gun: usize,
    /// Seed of the synthetic guns and firings.
    #[arg(long, default_value_t = 11)]
    seed: u64,
}

/// Scan resolution of the synthetic casings, µm per pixel.
const UM_PER_PX: f64 = 12.5;

/// Per-casing timings of the engine's stages.
#[derive(Default)]
struct Stages {
    decode: Vec<Duration>,
    preprocess: Vec<Duration>,
    describe: Vec<Duration>,
    /// Everything in a submission outside the three analysis stages:
    /// hashing, the duplicate check, the evidence file, the rows, the index
    /// update and its save, and handing work to the blocking pool.
    rest: Vec<Duration>,
}

pub fn run(args: &IngestArgs, json_mode: bool) -> anyhow::Result<serde_json::Value> {
    anyhow::ensure!(
        args.casings > 0 && args.per_gun > 0,
        "casings and per-gun must be positive"
    );
    let synth = SynthConfig {
        um_per_px: UM_PER_PX,
        ..SynthConfig::default()
    };
    // The scans are written as files first, so both sides read from disk
    // (the page cache, in practice) the same way.
    let inputs = tempfile::tempdir()?;
    let mut files = Vec::<PathBuf>::with_capacity(args.casings);
    let mut total_bytes = 0usize;
    let mut gun = None;
    for i in 0..args.casings {
        let g = (i / args.per_gun) as u64;
        if gun.as_ref().is_none_or(|(seen, _)| *seen != g) {
            gun = Some((g, make_gun(args.seed.wrapping_add(g), None, &synth)));
        }
        let (_, gun) = gun.as_ref().expect("set above");
        let shot = args.seed.wrapping_mul(100_003).wrapping_add(i as u64);
        let bytes = write_x3p(&fire(gun, shot, &synth));
        total_bytes += bytes.len();
        let path = inputs.path().join(format!("c{i:06}.x3p"));
        std::fs::write(&path, bytes)?;
        files.push(path);
    }

    // Reference only (not the baseline): decoding alone.
    let mut decode_alone = Vec::<Duration>::new();
    for path in &files {
        let bytes = std::fs::read(path)?;
        timed(&mut decode_alone, || {
            read_surface(&bytes, "c.x3p", None, &ReadLimits::default())
        })?;
    }

    let data = tempfile::tempdir()?;
    let runtime = tokio::runtime::Runtime::new()?;
    let (open_s, engine_t, baseline_t, stages) = runtime.block_on(async {
        let started = Instant::now();
        let engine = Engine::open(EngineConfig::new(data.path())).await?;
        let open_s = started.elapsed().as_secs_f64();
        let (mut engine_t, mut baseline_t) = (Vec::new(), Vec::new());
        let mut stages = Stages::default();
        for (i, path) in files.iter().enumerate() {
            // Baseline: read the file and hash it, nothing else.
            timed(&mut baseline_t, || {
                std::fs::read(path).map(|bytes| sha256_hex(&bytes))
            })?;

            let started = Instant::now();
            let bytes = std::fs::read(path)?;
            let bench = casetrace_engine::access::Principal::local_admin("bench", "benchmark");
            let outcome = engine
                .submit(
                    &bench,
                    Submission {
                        agency: "bench".into(),
                        casing_id: format!("C{i:06}"),
                        file_name: format!("c{i:06}.x3p"),
                        bytes,
                        kind: CasingKind::Evidence,
                        case_number: None,
                        calibre: None,
                        metadata: serde_json::json!({}),
                        um_per_px: None,
                        submitted_by: "bench".into(),
                    },
                )
                .await?;
            let wall = started.elapsed();
            engine_t.push(wall);
            anyhow::ensure!(outcome.created, "casing {i} was not created");
            let t = outcome.timings;
            let secs = Duration::from_secs_f64;
            stages.decode.push(secs(t.decode_s));
            stages.preprocess.push(secs(t.preprocess_s));
            stages.describe.push(secs(t.describe_s));
            let analysed = secs(t.decode_s + t.preprocess_s + t.describe_s);
            stages.rest.push(wall.saturating_sub(analysed));
        }
        anyhow::ensure!(
            engine.indexed_count()? == files.len() as u64,
            "index holds {} casings, {} submitted",
            engine.indexed_count()?,
            files.len()
        );
        anyhow::Ok((open_s, engine_t, baseline_t, stages))
    })?;

    let n = args.casings as f64;
    let total = |v: &[Duration]| v.iter().sum::<Duration>().as_secs_f64();
    let (engine_s, baseline_s, decode_s) =
        (total(&engine_t), total(&baseline_t), total(&decode_alone));
    let r = ratio(engine_s, baseline_s);
    let (mut engine_t, mut baseline_t, mut decode_alone) = (engine_t, baseline_t, decode_alone);
    let e = Summary::of(&mut engine_t);
    let b = Summary::of(&mut baseline_t);
    let d = Summary::of(&mut decode_alone);
    let Stages {
        mut decode,
        mut preprocess,
        mut describe,
        mut rest,
    } = stages;
    let stage_totals = [
        ("decode", total(&decode), Summary::of(&mut decode)),
        (
            "preprocess",
            total(&preprocess),
            Summary::of(&mut preprocess),
        ),
        ("describe", total(&describe), Summary::of(&mut describe)),
        ("store_and_index", total(&rest), Summary::of(&mut rest)),
    ];
    let stage_text = stage_totals
        .iter()
        .map(|(name, sum, s)| {
            format!(
                "{name} {:.2} ms ({:.0}%)",
                s.median_ms,
                100.0 * sum / engine_s.max(f64::MIN_POSITIVE)
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let mut report = Report::new("ingest", json_mode);
    report.push(
        format!(
            "ingest {} synthetic X3P casings ({:.0} KiB each, {UM_PER_PX} µm/px), one at a time, SQLite: \
             {:.1} casings/s (median {:.2} ms p95 {:.2} ms per casing; engine open {open_s:.2} s not counted); \
             baseline read+SHA-256 {:.0} casings/s (median {:.3} ms); ratio engine/baseline {r:.1}; \
             decoding alone {:.1} casings/s",
            args.casings,
            total_bytes as f64 / n / 1024.0,
            n / engine_s,
            e.median_ms,
            e.p95_ms,
            n / baseline_s,
            b.median_ms,
            n / decode_s,
        ),
        serde_json::json!({
            "casings": args.casings,
            "mean_file_bytes": total_bytes as f64 / n,
            "engine_open_s": open_s,
            "engine_submit": e.json(),
            "engine_casings_per_s": n / engine_s,
            "baseline_read_hash": b.json(),
            "baseline_casings_per_s": n / baseline_s,
            "ratio_total_time": r,
            "decode_alone": d.json(),
            "decode_alone_casings_per_s": n / decode_s,
            "stages": stage_totals
                .iter()
                .map(|(name, sum, s)| (name.to_string(), serde_json::json!({
                    "total_s": sum,
                    "share_of_submit": sum / engine_s.max(f64::MIN_POSITIVE),
                    "per_casing": s.json(),
                })))
                .collect::<serde_json::Map<_, _>>(),
        }),
    );
    report.note(format!(
        "ingest stages, median per casing (share of submit time): {stage_text}"
    ));
    Ok(report.to_json(serde_json::json!({
        "casings": args.casings,
        "per_gun": args.per_gun,
        "um_per_px": UM_PER_PX,
        "seed": args.seed,
    })))
}
