//! Bulk loading synthetic casings from a zip as an import job (read, hash,
//! decode, prepare, describe in ONNX batches, store in transactions, index
//! in batches), against two baselines in the same process: descriptor
//! inference alone on the same casings' model inputs, and the same zip read
//! and decoded alone on as many threads as the pipeline's analysers.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use casetrace_engine::bulk::ImportSource;
use casetrace_engine::description::DescriptorModel;
use casetrace_engine::preprocessing::{prepare, PolarImage};
use casetrace_engine::reading::{read_surface, write_x3p};
use casetrace_engine::synth::{fire, make_gun, SynthConfig};
use casetrace_engine::{Engine, EngineConfig};

use crate::report::{ratio, Report};

#[derive(Debug, clap::Args)]
pub struct BulkArgs {
    #[arg(long, default_value_t = 10_000)]
    casings: usize,
    /// Casings fired from each synthetic gun.
    #[arg(long, default_value_t = 4)]
    per_gun: usize,
    #[arg(long, default_value_t = 11)]
    seed: u64,
    /// Where the zip is kept between runs (written once if missing).
    #[arg(long)]
    zip: Option<PathBuf>,
    /// Rows per database transaction and index save.
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Casings per ONNX run, in the pipeline and in the baseline.
    #[arg(long, default_value_t = 32)]
    describe_batch: usize,
    /// Distinct casings whose model inputs the baseline cycles through.
    #[arg(long, default_value_t = 512)]
    baseline_inputs: usize,
    /// Load these real X3P scans (every `.x3p` file of the folder, each
    /// once, at most `--casings`) instead of synthetic ones: real scans are
    /// larger and finer than the synthetic ones, so decoding weighs more.
    #[arg(long)]
    scans: Option<PathBuf>,
    /// Also load into a second engine whose correlation workers (this
    /// many) run during the load, as `casetrace serve` runs them, and
    /// report its rate against the plain load's and the time until every
    /// job is done; 0: only the plain load (jobs queued, none worked).
    #[arg(long, default_value_t = 0)]
    correlation_workers: usize,
}

/// Scan resolution of the synthetic casings, µm per pixel (as `ingest`).
const UM_PER_PX: f64 = 12.5;

pub fn run(args: &BulkArgs, json_mode: bool) -> anyhow::Result<serde_json::Value> {
    anyhow::ensure!(
        args.casings > 0 && args.per_gun > 0,
        "casings and per-gun must be positive"
    );
    let real = match &args.scans {
        Some(folder) => Some(real_scans(folder, args.casings)?),
        None => None,
    };
    let args = &BulkArgs {
        casings: real.as_ref().map_or(args.casings, Vec::len),
        scans: args.scans.clone(),
        zip: args.zip.clone(),
        ..*args
    };
    let zip_path = args.zip.clone().unwrap_or_else(|| {
        let kind = if real.is_some() { "scans" } else { "synth" };
        std::env::temp_dir().join(format!(
            "casetrace-bulk-{kind}-{}-{}.zip",
            args.casings, args.seed
        ))
    });
    if let Some(files) = &real {
        // Rewritten every run: the folder may have changed.
        eprintln!(
            "writing {} real scans to {}",
            files.len(),
            zip_path.display()
        );
        write_real_archive(&zip_path, files)?;
    } else if !zip_path.exists() {
        eprintln!(
            "writing {} synthetic casings to {}",
            args.casings,
            zip_path.display()
        );
        write_archive(&zip_path, args)?;
    }
    let zip_bytes = std::fs::metadata(&zip_path)?.len();
    let mut report = Report::new("bulk", json_mode);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;

    // Each load gets a fresh data directory (`load`); this one is only the
    // configuration's starting point.
    let mut cfg = EngineConfig::new(std::env::temp_dir());
    cfg.imports.batch_size = args.batch_size;
    cfg.imports.describe_batch = args.describe_batch;

    // Baseline: the model alone, on polar inputs computed beforehand
    // (untimed) from the first casings of the same zip.
    let polars = baseline_inputs(&zip_path, args.baseline_inputs.min(args.casings), &cfg)?;
    let mut baselines = Vec::new();
    for threads in [1, cfg.threads] {
        let model = DescriptorModel::load(&cfg.model, &cfg.runtime_library, threads)?;
        model.describe_polar(&polars[..args.describe_batch.min(polars.len())])?; // warm-up
        let started = Instant::now();
        let mut done = 0usize;
        while done < args.casings {
            let at = done % polars.len();
            let n = args
                .describe_batch
                .min(args.casings - done)
                .min(polars.len() - at);
            model.describe_polar(&polars[at..at + n])?;
            done += n;
        }
        let rate = done as f64 / started.elapsed().as_secs_f64();
        report.push(
            format!("inference alone ({threads} ONNX thread(s), batch {}): {rate:.1} casings/s", args.describe_batch),
            serde_json::json!({"name": "inference_alone", "onnx_threads": threads, "casings_per_s": rate}),
        );
        baselines.push((threads, rate));
    }

    // Second baseline: the same zip read and decoded only, by one reader
    // and as many decoding threads as the pipeline has analysers: what an
    // import could reach if everything after decoding cost nothing.
    let decode_rate = decode_only(&zip_path, args.casings, cfg.threads, &cfg)?;
    report.push(
        format!(
            "read and decode alone ({} thread(s)): {decode_rate:.1} casings/s",
            cfg.threads
        ),
        serde_json::json!({"name": "decode_alone", "threads": cfg.threads, "casings_per_s": decode_rate}),
    );

    // The load itself, with no correlation worker: jobs are queued in the
    // same transactions, none is worked.
    let plain = load(&runtime, &zip_path, cfg.clone(), args.casings, 0)?;
    let (rate, wall, open_s) = (plain.rate, plain.wall_s, plain.open_s);
    report.push(
        format!(
            "pipeline end to end (zip → stored and indexed, jobs queued): {rate:.1} casings/s, {wall:.1} s for {} casings",
            args.casings
        ),
        serde_json::json!({"name": "pipeline", "casings_per_s": rate, "wall_s": wall, "correlation_workers": 0}),
    );
    if args.correlation_workers > 0 {
        // Again into a fresh engine whose workers correlate while the load
        // goes on (as `casetrace serve` runs them): what the load costs
        // with correlation on, and when every casing is correlated too.
        let on = load(
            &runtime,
            &zip_path,
            cfg.clone(),
            args.casings,
            args.correlation_workers,
        )?;
        let drained = on.drained_s.unwrap_or(f64::NAN);
        report.push(
            format!(
                "pipeline with {} correlation worker(s) running: {:.1} casings/s stored, {:.1} s; every job done after {drained:.1} s ({:.1} casings/s correlated)",
                args.correlation_workers,
                on.rate,
                on.wall_s,
                args.casings as f64 / drained
            ),
            serde_json::json!({"name": "pipeline_correlating", "casings_per_s": on.rate, "wall_s": on.wall_s, "correlation_workers": args.correlation_workers, "correlated_wall_s": drained, "correlated_casings_per_s": args.casings as f64 / drained}),
        );
        report.note(format!(
            "ratio load with correlation on / without: {:.2}",
            ratio(on.rate, rate)
        ));
    }
    for (threads, base) in &baselines {
        report.note(format!(
            "ratio pipeline / inference alone ({threads} ONNX thread(s)): {:.2}",
            ratio(rate, *base)
        ));
    }
    report.note(format!(
        "ratio pipeline / decode alone: {:.2}",
        ratio(rate, decode_rate)
    ));
    let s = plain.stages;
    // Evidence writes run concurrently beside the analysers and mostly wait
    // on the disk, so their summed time is not time a core was busy.
    let busy = s.read + s.decode + s.prepare + s.polar + s.describe + s.store + s.index;
    report.note(format!(
        "stage seconds (summed over threads, {busy:.1} s busy in {wall:.1} s wall): read+hash {:.1}, decode {:.1}, prepare {:.1}, polar {:.1}, describe {:.1}, store {:.1}, index {:.1}; evidence writes beside them {:.1} (summed over concurrent writes)",
        s.read, s.decode, s.prepare, s.polar, s.describe, s.store, s.index, s.evidence
    ));
    report.note(format!(
        "engine open {open_s:.2} s (not counted); zip {zip_bytes} bytes"
    ));
    Ok(report.to_json(serde_json::json!({
        "casings": args.casings,
        "per_gun": args.per_gun,
        "seed": args.seed,
        "zip": zip_path.display().to_string(),
        "zip_bytes": zip_bytes,
        "batch_size": args.batch_size,
        "describe_batch": args.describe_batch,
        "stages_s": s,
        "pipeline_over_decode": ratio(rate, decode_rate),
        "ratios": baselines.iter().map(|(t, b)| serde_json::json!({"onnx_threads": t, "pipeline_over_inference": ratio(rate, *b)})).collect::<Vec<_>>(),
    })))
}

/// One load of the zip into a fresh engine.
struct Loaded {
    rate: f64,
    wall_s: f64,
    open_s: f64,
    stages: casetrace_engine::bulk::StageSeconds,
    /// With workers: seconds from the load's start until every
    /// correlation job was done.
    drained_s: Option<f64>,
}

fn load(
    runtime: &tokio::runtime::Runtime,
    zip_path: &Path,
    mut cfg: EngineConfig,
    casings: usize,
    workers: usize,
) -> anyhow::Result<Loaded> {
    let data = tempfile::tempdir()?;
    cfg.data_dir = data.path().to_path_buf();
    cfg.correlation.workers = workers;
    let opened = Instant::now();
    let engine = std::sync::Arc::new(runtime.block_on(Engine::open(cfg))?);
    let open_s = opened.elapsed().as_secs_f64();
    // As `casetrace serve` does: the workers run on the engine's runtime.
    let started_workers = runtime.block_on(async { engine.start_correlating() });
    anyhow::ensure!(
        started_workers == workers,
        "{started_workers} correlation workers started, {workers} asked for"
    );
    let source = ImportSource::open(zip_path)?;
    let label = zip_path.display().to_string();
    let started = Instant::now();
    let result = runtime.block_on(async {
        let bench = casetrace_engine::access::Principal::local_admin("local", "benchmark");
        let prepared = engine.prepare_import(&bench, source, &label).await?;
        engine.run_import(prepared, &|_| {}).await
    })?;
    let wall_s = started.elapsed().as_secs_f64();
    let counts = result.job.counts;
    anyhow::ensure!(
        counts.done as usize == casings && counts.failed == 0,
        "the load did not store every casing: {counts:?} {:?}",
        result.failures.first()
    );
    let drained_s = if workers > 0 {
        Some(runtime.block_on(async {
            loop {
                let q = engine.correlation_queue().await?;
                anyhow::ensure!(q.failed == 0, "{} correlation jobs failed", q.failed);
                if q.queued == 0 && q.running == 0 {
                    return anyhow::Ok(started.elapsed().as_secs_f64());
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        })?)
    } else {
        None
    };
    runtime.block_on(engine.close());
    Ok(Loaded {
        rate: casings as f64 / wall_s,
        wall_s,
        open_s,
        stages: result.stages,
        drained_s,
    })
}

fn synth_cfg() -> SynthConfig {
    SynthConfig {
        um_per_px: UM_PER_PX,
        ..SynthConfig::default()
    }
}

/// The `.x3p` files of `folder`, sorted by name, at most `max`.
fn real_scans(folder: &Path, max: usize) -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("x3p")))
        .collect();
    files.sort();
    files.truncate(max);
    anyhow::ensure!(!files.is_empty(), "no .x3p file in {}", folder.display());
    Ok(files)
}

/// The zip of real scans, laid out as the synthetic one (the baselines
/// read entries by those names).
fn write_real_archive(path: &Path, files: &[PathBuf]) -> anyhow::Result<()> {
    write_zip(path, files.len(), "", |i| Ok(std::fs::read(&files[i])?))
}

/// The zip of synthetic casings, `per_gun` fired from each gun.
fn write_archive(path: &Path, args: &BulkArgs) -> anyhow::Result<()> {
    let synth = synth_cfg();
    let mut gun = None;
    write_zip(path, args.casings, "9mm Luger", |i| {
        let g = (i / args.per_gun) as u64;
        if gun.as_ref().is_none_or(|(seen, _)| *seen != g) {
            gun = Some((g, make_gun(args.seed.wrapping_add(g), None, &synth)));
        }
        let (_, gun) = gun.as_ref().expect("set above");
        let shot = args.seed.wrapping_mul(100_003).wrapping_add(i as u64);
        Ok(write_x3p(&fire(gun, shot, &synth)))
    })
}

/// A zip of `manifest.csv` and `n` X3P files `scans/c000000.x3p`, …
/// (entry `i` from `scan(i)`), deflated as archiving tools do by default.
/// Written to a temporary name, then renamed.
fn write_zip(
    path: &Path,
    n: usize,
    calibre: &str,
    mut scan: impl FnMut(usize) -> anyhow::Result<Vec<u8>>,
) -> anyhow::Result<()> {
    let tmp = path.with_extension("zip.tmp");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&tmp)?);
    let options = zip::write::SimpleFileOptions::default();
    let mut manifest = String::from("file,casing_id,kind,calibre\n");
    for i in 0..n {
        manifest += &format!("scans/c{i:06}.x3p,S-{i:06},evidence,{calibre}\n");
    }
    zip.start_file("manifest.csv", options)?;
    zip.write_all(manifest.as_bytes())?;
    for i in 0..n {
        zip.start_file(format!("scans/c{i:06}.x3p"), options)?;
        zip.write_all(&scan(i)?)?;
    }
    zip.finish()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// Casings per second read from the zip by one thread and decoded by
/// `threads` (every scan decoded, nothing kept).
fn decode_only(
    zip_path: &Path,
    n: usize,
    threads: usize,
    cfg: &EngineConfig,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    let (send, receive) = std::sync::mpsc::sync_channel::<Vec<u8>>(2 * threads);
    let receive = std::sync::Mutex::new(receive);
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| -> anyhow::Result<()> {
                    loop {
                        let next = receive.lock().expect("queue lock").recv();
                        let Ok(bytes) = next else { return Ok(()) };
                        read_surface(&bytes, "c.x3p", None, &cfg.limits)?;
                    }
                })
            })
            .collect();
        let mut zip = zip::ZipArchive::new(std::fs::File::open(zip_path)?)?;
        for i in 0..n {
            let mut entry = zip.by_name(&format!("scans/c{i:06}.x3p"))?;
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut bytes)?;
            if send.send(bytes).is_err() {
                break; // a worker failed: its error is reported below
            }
        }
        drop(send);
        for worker in workers {
            worker.join().expect("decoder thread")?;
        }
        Ok(())
    })?;
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

/// Model inputs of the first `n` casings of the zip.
fn baseline_inputs(
    zip_path: &Path,
    n: usize,
    cfg: &EngineConfig,
) -> anyhow::Result<Vec<PolarImage>> {
    let model = DescriptorModel::load(&cfg.model, &cfg.runtime_library, 1)?;
    let mut zip = zip::ZipArchive::new(std::fs::File::open(zip_path)?)?;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let mut entry = zip.by_name(&format!("scans/c{i:06}.x3p"))?;
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut bytes)?;
        let (_, surface) = read_surface(&bytes, "c.x3p", None, &cfg.limits)?;
        let prepared = prepare(&surface, "c.x3p", &cfg.preprocess)?;
        out.push(model.polar_input(&prepared.surface));
    }
    Ok(out)
}
