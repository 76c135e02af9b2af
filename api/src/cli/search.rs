//! `casetrace search FILE`: candidates for an image that is not on file.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use casetrace_engine::EngineConfig;

use super::candidates::print_list;
use super::open_engine;

#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    /// X3P scan or PNG/TIFF/JPEG image.
    pub file: PathBuf,
    #[arg(long, default_value_t = 10)]
    pub limit: usize,
    /// Scale of a 2D image that does not carry one, µm per pixel.
    #[arg(long)]
    pub um_per_px: Option<f64>,
    #[arg(long)]
    pub json: bool,
}

pub async fn run(cfg: EngineConfig, args: SearchArgs) -> anyhow::Result<ExitCode> {
    let bytes =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let engine = open_engine(cfg).await?;
    let name = args.file.display().to_string();
    let list = engine
        .search(
            &super::operator(super::CLI_AGENCY),
            bytes,
            name,
            args.um_per_px,
            args.limit,
        )
        .await?;
    print_list(&mut std::io::stdout().lock(), None, &list, args.json)?;
    Ok(ExitCode::SUCCESS)
}
