//! `casetrace redescribe`: after the descriptor model changes, give every
//! casing a descriptor of the current model from its stored evidence file,
//! so none drops out of search. Resumable: stop it at any point and run it
//! again. Exit code 0 only when every casing is described by the current
//! model; casings that could not be re-described are named with the reason
//! and left as they were.

use std::process::ExitCode;

use casetrace_engine::service::{RedescribeOptions, RedescribeProgress};
use casetrace_engine::EngineConfig;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::open_engine;

/// Casings per transaction and per index save, unless `--batch` says.
const DEFAULT_BATCH: u64 = 64;

#[derive(Debug, clap::Args)]
pub struct RedescribeArgs {
    /// Casings per database transaction and per index save.
    #[arg(long, default_value_t = DEFAULT_BATCH, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub batch: u64,
}

pub async fn run(cfg: EngineConfig, args: RedescribeArgs) -> anyhow::Result<ExitCode> {
    let engine = open_engine(cfg).await?;
    let model = engine.model_version().to_string();
    let todo = engine
        .count_to_redescribe()
        .await
        .map_err(|e| anyhow::anyhow!("counting casings to re-describe: {e}"))?;
    eprintln!("{todo} casings to re-describe with model {model}");
    let bar = progress_bar(todo);
    let opts = RedescribeOptions {
        batch: args.batch as usize,
        agency: super::CLI_AGENCY.into(),
        actor: super::CLI_ACTOR.into(),
    };
    let report = {
        let bar = bar.clone();
        engine
            .redescribe(&opts, &move |p: RedescribeProgress| {
                bar.set_position(p.redescribed + p.failed);
                let line = format!(
                    "{} re-described, {} failed of {}, {:.0} s",
                    p.redescribed, p.failed, p.total, p.elapsed_s
                );
                // Off a terminal the bar draws nothing: a line per batch.
                if bar.is_hidden() {
                    eprintln!("{line}");
                }
                bar.set_message(line);
            })
            .await
    };
    bar.finish_and_clear();
    let report = report.map_err(|e| anyhow::anyhow!("redescribe: {e}"))?;
    for f in &report.failures {
        eprintln!(
            "casing {} ({}, row {}, evidence {}): not re-described: {}",
            f.casing_id, f.agency, f.casing_pk, f.sha256, f.reason
        );
    }
    let rate = report.redescribed as f64 / report.wall_s.max(1e-9);
    println!(
        "model {}: {} casings re-described ({} with a new comparison surface), {} skipped, in {:.1} s ({rate:.2} casings/s); {} casings still need re-describing",
        report.model_version,
        report.redescribed,
        report.surfaces_rederived,
        report.failures.len(),
        report.wall_s,
        report.remaining
    );
    if report.canvases_recoded > 0 {
        println!(
            "{} casings' comparison canvases rewritten in the compact codec",
            report.canvases_recoded
        );
    }
    if !report.failures.is_empty() {
        let ids: Vec<String> = report
            .failures
            .iter()
            .map(|f| format!("{}/{}", f.agency, f.casing_id))
            .collect();
        eprintln!(
            "{} casings could not be re-described and are not searchable: {}",
            ids.len(),
            ids.join(", ")
        );
    }
    Ok(if report.remaining == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A bar on stderr; drawn only on a terminal, so scripts see the summary.
fn progress_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {pos}/{len} casings  {per_sec}  eta {eta}  {msg}")
    {
        bar.set_style(style);
    }
    bar
}
