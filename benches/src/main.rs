//! `casetrace-bench`: speed of casetrace's stages, each next to a plain
//! baseline measured in the same process (machines here are noisy, so the
//! ratio engine/baseline is the figure to compare across runs). Every input
//! is generated from a seed, so runs differ only in timing.

mod bulk;
mod compare;
mod evidence;
mod index;
mod ingest;
mod load;
mod pin;
mod report;
mod scale;
mod scale_db;
mod scan;
mod serials;
mod shortlist;
mod stats;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "casetrace-bench", about = "casetrace speed workloads")]
struct Cli {
    /// Print one JSON document on stdout (the human lines go to stderr).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    workload: Workload,
}

#[derive(Debug, Subcommand)]
enum Workload {
    /// Evidence store: put and get of real scans in a folder and, when
    /// CASETRACE_EVIDENCE_S3_BUCKET names one, an S3 bucket.
    Evidence(evidence::EvidenceArgs),
    /// Descriptor index: add throughput and top-k latency vs a brute-force scan.
    Index(index::IndexArgs),
    /// Fine comparison per pair vs trying every angle at full resolution.
    Compare(compare::CompareArgs),
    /// End-to-end submission of synthetic X3P scans vs reading and hashing them.
    Ingest(ingest::IngestArgs),
    /// Serial search (exact, wildcard, fuzzy) on many firearms vs a full scan.
    Serials(serials::SerialsArgs),
    /// Bulk loading a zip of synthetic casings vs descriptor inference alone.
    Bulk(bulk::BulkArgs),
    /// A served casetrace under mixed load from client threads on loopback.
    Load(load::LoadArgs),
    /// A real query's descriptor plus the top-K shortlist over N stored
    /// descriptors vs describing plus a brute-force scan.
    Shortlist(shortlist::ShortlistArgs),
    /// The index from 10k to 1M casings: exact vs IVF, restricted vs not,
    /// recall@100, memory; with --database, bytes per casing and
    /// end-to-end queries through the engine.
    Scale(scale::ScaleArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let doc = match &cli.workload {
        Workload::Evidence(args) => evidence::run(args, cli.json)?,
        Workload::Index(args) => index::run(args, cli.json)?,
        Workload::Compare(args) => compare::run(args, cli.json)?,
        Workload::Ingest(args) => ingest::run(args, cli.json)?,
        Workload::Serials(args) => serials::run(args, cli.json)?,
        Workload::Bulk(args) => bulk::run(args, cli.json)?,
        Workload::Load(args) => load::run(args, cli.json)?,
        Workload::Shortlist(args) => shortlist::run(args, cli.json)?,
        Workload::Scale(args) => scale::run(args, cli.json)?,
    };
    if cli.json {
        println!("{}", serde_json::to_string_pretty(&doc)?);
    }
    Ok(())
}
