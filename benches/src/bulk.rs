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
    /// Correlation workers running in the engine during the load (as
    /// `casetrace serve` runs them); 0: jobs are queued, none worked. With
    /// workers, the time until the queue is empty is reported too.
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
    let zip_path = args.zip.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("casetrace-bulk-{}-{}.zip", args.casings, args.seed))
    });
    if !zip_path.exists() {
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

    let data = tempfile::tempdir()?;
    let mut cfg = EngineConfig::new(data.path());
    cfg.imports.batch_size = args.batch_size;
    cfg.imports.describe_batch = args.describe_batch;
    cfg.correlation.workers = args.correlation_workers;

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

    let opened = Instant::now();
    let engine = runtime.block_on(Engine::open(cfg))?;
    let open_s = opened.elapsed().as_secs_f64();
    let source = ImportSource::open(&zip_path)?;
    let label = zip_path.display().to_string();
    let started = Instant::now();
    let result = runtime.block_on(async {
        let bench = casetrace_engine::access::Principal::local_admin("local", "benchmark");
        let prepared = engine.prepare_import(&bench, source, &label).await?;
        engine.run_import(prepared, &|_| {}).await
    })?;
    let wall = started.elapsed().as_secs_f64();
    let counts = result.job.counts;
    anyhow::ensure!(
        counts.done as usize == args.casings && counts.failed == 0,
        "the load did not store every casing: {counts:?} {:?}",
        result.failures.first()
    );
    let rate = args.casings as f64 / wall;
    report.push(
        format!(
            "pipeline end to end (zip → stored and indexed, {} correlation worker(s)): {rate:.1} casings/s, {wall:.1} s for {} casings",
            args.correlation_workers, args.casings
        ),
        serde_json::json!({"name": "pipeline", "casings_per_s": rate, "wall_s": wall, "correlation_workers": args.correlation_workers}),
    );
    if args.correlation_workers > 0 {
        // Every job worked: the load's casings are correlated, not only
        // stored.
        let drained = runtime.block_on(async {
            loop {
                let q = engine.correlation_queue().await?;
                anyhow::ensure!(q.failed == 0, "{} correlation jobs failed", q.failed);
                if q.queued == 0 && q.running == 0 {
                    return anyhow::Ok(started.elapsed().as_secs_f64());
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        })?;
        report.push(
            format!(
                "stored and correlated (every job done): {:.1} casings/s, {drained:.1} s",
                args.casings as f64 / drained
            ),
            serde_json::json!({"name": "correlated", "casings_per_s": args.casings as f64 / drained, "wall_s": drained}),
        );
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
    let s = result.stages;
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
        "zip": label,
        "zip_bytes": zip_bytes,
        "batch_size": args.batch_size,
        "describe_batch": args.describe_batch,
        "stages_s": s,
        "pipeline_over_decode": ratio(rate, decode_rate),
        "ratios": baselines.iter().map(|(t, b)| serde_json::json!({"onnx_threads": t, "pipeline_over_inference": ratio(rate, *b)})).collect::<Vec<_>>(),
    })))
}

fn synth_cfg() -> SynthConfig {
    SynthConfig {
        um_per_px: UM_PER_PX,
        ..SynthConfig::default()
    }
}

/// The zip: `manifest.csv` and one X3P per casing, deflated as archiving
/// tools do by default. Written to a temporary name, then renamed.
fn write_archive(path: &Path, args: &BulkArgs) -> anyhow::Result<()> {
    let tmp = path.with_extension("zip.tmp");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&tmp)?);
    let options = zip::write::SimpleFileOptions::default();
    let synth = synth_cfg();
    let mut manifest = String::from("file,casing_id,kind,calibre\n");
    for i in 0..args.casings {
        manifest += &format!("scans/c{i:06}.x3p,S-{i:06},evidence,9mm Luger\n");
    }
    zip.start_file("manifest.csv", options)?;
    zip.write_all(manifest.as_bytes())?;
    let mut gun = None;
    for i in 0..args.casings {
        let g = (i / args.per_gun) as u64;
        if gun.as_ref().is_none_or(|(seen, _)| *seen != g) {
            gun = Some((g, make_gun(args.seed.wrapping_add(g), None, &synth)));
        }
        let (_, gun) = gun.as_ref().expect("set above");
        let shot = args.seed.wrapping_mul(100_003).wrapping_add(i as u64);
        zip.start_file(format!("scans/c{i:06}.x3p"), options)?;
        zip.write_all(&write_x3p(&fire(gun, shot, &synth)))?;
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
