//! `casetrace correlate`: queue correlation for casings on file that have
//! no job (stored before the queue existed, or whose finished job was
//! pruned), or with `--again` for every casing, and optionally work the
//! queue from this process until it is empty. Leads are made once per
//! agency and pair, so running it again duplicates nothing.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use casetrace_engine::service::QueueCorrelationOptions;
use casetrace_engine::EngineConfig;

use super::open_engine;

/// How often progress is printed while working the queue.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug, clap::Args)]
pub struct CorrelateArgs {
    /// Also queue casings whose correlation is done or failed, e.g. after
    /// `redescribe` gave them descriptors of a new model.
    #[arg(long)]
    pub again: bool,
    /// Work the queue from this process until no job is left to claim
    /// (otherwise the correlation workers of `casetrace serve` nodes do).
    #[arg(long)]
    pub work: bool,
}

pub async fn run(cfg: EngineConfig, args: CorrelateArgs) -> anyhow::Result<ExitCode> {
    let engine = open_engine(cfg).await?;
    let opts = QueueCorrelationOptions {
        again: args.again,
        agency: super::CLI_AGENCY.into(),
        actor: super::CLI_ACTOR.into(),
    };
    let queued = engine
        .queue_correlation(&opts)
        .await
        .map_err(|e| anyhow::anyhow!("queueing correlation: {e}"))?;
    println!("{queued} casings queued for correlation");
    if !args.work {
        return Ok(ExitCode::SUCCESS);
    }
    let failed_before = engine.correlation_queue().await?.failed;
    let (started, mut last_report) = (Instant::now(), Instant::now());
    let mut worked = 0u64;
    while engine
        .work_one_correlation_job()
        .await
        .map_err(|e| anyhow::anyhow!("working the correlation queue: {e}"))?
    {
        worked += 1;
        if last_report.elapsed() >= PROGRESS_EVERY {
            eprintln!(
                "{worked} jobs worked, {:.0} s",
                started.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
    }
    let depth = engine.correlation_queue().await?;
    println!(
        "{worked} jobs worked in {:.1} s; {} still running on other nodes",
        started.elapsed().as_secs_f64(),
        depth.running
    );
    let newly_failed = depth.failed.saturating_sub(failed_before);
    if newly_failed > 0 {
        eprintln!(
            "{newly_failed} jobs failed for good during this run; `casetrace check` names them and their errors"
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
