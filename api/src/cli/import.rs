//! `casetrace import SOURCE`: load the casings of a manifest, folder or
//! archive as a resumable import job.

use std::path::PathBuf;
use std::process::ExitCode;

use casetrace_engine::bulk::ImportSource;
use casetrace_engine::service::ImportProgress;
use casetrace_engine::EngineConfig;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::open_engine;

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// A manifest (CSV with columns file,casing_id and optionally agency,
    /// kind (evidence|test_fire), case_number, calibre, um_per_px and any
    /// others; or JSON lines with the same keys), or a folder, zip, tar or
    /// tar.gz holding scans and a manifest.csv / manifest.jsonl.
    pub manifest: PathBuf,
    /// Rows per database transaction and per index save.
    #[arg(long)]
    pub batch_size: Option<usize>,
}

/// Run the load as an import job (resuming an unfinished one of the same
/// manifest), with a progress bar on a terminal, then print the summary and
/// every failed row.
pub async fn run(mut cfg: EngineConfig, args: ImportArgs) -> anyhow::Result<ExitCode> {
    if let Some(n) = args.batch_size {
        cfg.imports.batch_size = n.max(1);
    }
    let label = args.manifest.display().to_string();
    let source = ImportSource::open(&args.manifest).map_err(|e| anyhow::anyhow!("{e}"))?;
    let engine = open_engine(cfg).await?;
    let prepared = engine
        .prepare_import(&super::operator(super::CLI_AGENCY), source, &label)
        .await
        .map_err(|e| anyhow::anyhow!("{label}: {e}"))?;
    let job_id = prepared.job.id.clone();
    if prepared.resumed {
        eprintln!(
            "resuming import job {job_id}: {} of {} rows already settled",
            prepared.job.counts.settled(),
            prepared.job.total_rows
        );
    }
    let bar = progress_bar(prepared.job.total_rows, prepared.job.counts.settled());
    let report = {
        let bar = bar.clone();
        engine
            .run_import(prepared, &move |p: ImportProgress| {
                bar.set_position(p.counts.settled());
                bar.set_message(format!(
                    "{} loaded, {} already on file, {} failed",
                    p.counts.done, p.counts.duplicate, p.counts.failed
                ));
            })
            .await
    };
    bar.finish_and_clear();
    let report = report.map_err(|e| anyhow::anyhow!("import job {job_id}: {e}"))?;
    for f in &report.failures {
        eprintln!(
            "row {} ({}, {}): {}",
            f.row_number, f.casing_id, f.file, f.reason
        );
    }
    let counts = report.job.counts;
    println!(
        "{label}: {} rows, {} imported, {} already on file, {} failed",
        report.job.total_rows, counts.done, counts.duplicate, counts.failed
    );
    let rate = report.settled_this_run as f64 / report.wall_s.max(1e-9);
    println!(
        "import job {job_id}: {} rows this run in {:.1} s ({rate:.1} rows/s)",
        report.settled_this_run, report.wall_s
    );
    Ok(if counts.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A bar on stderr; indicatif draws nothing when stderr is not a terminal,
/// so scripts and tests see only the summary.
fn progress_bar(total: u64, settled: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {pos}/{len} rows  {per_sec}  eta {eta}  {msg}")
    {
        bar.set_style(style);
    }
    bar.set_position(settled);
    bar
}
