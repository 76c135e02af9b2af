//! `casetrace import SOURCE`: load the casings of a manifest, folder or
//! archive as a resumable import job. `import_rows` is the one-by-one
//! submission `eval` uses for its scratch engine.

use std::path::PathBuf;
use std::process::ExitCode;

use casetrace_engine::bulk::ImportSource;
use casetrace_engine::service::{AnalysisTimings, ImportProgress, Submission};
use casetrace_engine::store::CasingKind;
use casetrace_engine::{Engine, EngineConfig};
use futures_util::stream::{self, StreamExt};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::manifest::ManifestRow;
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

/// What happened to one row.
#[derive(Debug)]
pub enum RowOutcome {
    /// Stored now; where the analysis spent its time.
    Imported(AnalysisTimings),
    AlreadyOnFile,
    Failed(String),
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

/// Submit every row, as many at a time as there are worker threads; the
/// outcomes come back in row order.
pub async fn import_rows(engine: &Engine, rows: &[ManifestRow]) -> Vec<RowOutcome> {
    let parallel = engine.config().threads.max(1);
    let mut outcomes: Vec<(usize, RowOutcome)> = stream::iter(rows.iter().enumerate())
        .map(|(i, row)| async move { (i, import_row(engine, row).await) })
        .buffer_unordered(parallel)
        .collect()
        .await;
    outcomes.sort_by_key(|(i, _)| *i);
    outcomes.into_iter().map(|(_, o)| o).collect()
}

async fn import_row(engine: &Engine, row: &ManifestRow) -> RowOutcome {
    let submission = match submission_from_row(row) {
        Ok(s) => s,
        Err(reason) => return RowOutcome::Failed(reason),
    };
    let operator = super::operator(&submission.agency);
    match engine.submit(&operator, submission).await {
        Ok(outcome) if outcome.created => RowOutcome::Imported(outcome.timings),
        Ok(_) => RowOutcome::AlreadyOnFile,
        Err(e) => RowOutcome::Failed(e.to_string()),
    }
}

/// Read the row's file and turn its columns into a submission.
pub fn submission_from_row(row: &ManifestRow) -> Result<Submission, String> {
    let bytes =
        std::fs::read(&row.file).map_err(|e| format!("cannot read {}: {e}", row.file.display()))?;
    let mut extra = row.extra.clone();
    let kind = match extra.remove("kind") {
        Some(k) => k.parse::<CasingKind>().map_err(|e| e.to_string())?,
        None => CasingKind::Evidence,
    };
    let um_per_px = match extra.remove("um_per_px") {
        Some(v) => Some(
            v.parse::<f64>()
                .map_err(|_| format!("um_per_px {v:?} is not a number"))?,
        ),
        None => None,
    };
    let metadata = extra
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "agency" | "case_number" | "calibre"))
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect::<serde_json::Map<_, _>>();
    Ok(Submission {
        agency: extra
            .get("agency")
            .cloned()
            .unwrap_or_else(|| "local".into()),
        casing_id: row.casing_id.clone(),
        file_name: row
            .file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        bytes,
        kind,
        case_number: extra.get("case_number").cloned(),
        calibre: extra.get("calibre").cloned(),
        metadata: serde_json::Value::Object(metadata),
        um_per_px,
        submitted_by: super::CLI_ACTOR.into(),
    })
}
