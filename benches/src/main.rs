//! `casetrace-bench`: speed of casetrace's stages, each next to a plain
//! baseline measured in the same process (machines here are noisy, so the
//! ratio is the figure to compare across runs).

mod compare;
mod index;
mod ingest;
mod stats;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "casetrace-bench", about = "casetrace speed workloads")]
struct Cli {
    #[command(subcommand)]
    workload: Workload,
}

#[derive(Subcommand)]
enum Workload {
    /// Descriptor index: add throughput and top-k latency vs a brute-force scan.
    Index(index::IndexArgs),
    /// Fine comparison per pair vs trying every angle at full resolution.
    Compare(compare::CompareArgs),
    /// End-to-end submission of synthetic scans vs decoding alone.
    Ingest(ingest::IngestArgs),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().workload {
        Workload::Index(args) => index::run(&args),
        Workload::Compare(args) => compare::run(&args),
        Workload::Ingest(args) => ingest::run(&args),
    }
}
