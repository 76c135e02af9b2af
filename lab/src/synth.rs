//! `casetrace synth`: a synthetic labelled set of X3P scans, for scale
//! tests, training and the hard cases real sets lack.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use casetrace_engine::reading::write_x3p;
use casetrace_engine::synth::{labelled_set, SynthConfig};

#[derive(Debug, clap::Args)]
pub struct SynthArgs {
    /// Output folder (created); gets the scans and labels.csv.
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value_t = 20)]
    pub guns: usize,
    #[arg(long, default_value_t = 5)]
    pub casings: usize,
    /// Guns per family of consecutively made siblings.
    #[arg(long, default_value_t = 1)]
    pub family_size: usize,
    /// Share of texture siblings have in common (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    pub sibling_share: f64,
    /// Casing noise relative to the gun's marks.
    #[arg(long, default_value_t = 0.5)]
    pub noise: f64,
    /// Resolution of the scans, µm per pixel.
    #[arg(long, default_value_t = 6.25)]
    pub um_per_px: f64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Prefix of casing and firearm ids.
    #[arg(long, default_value = "S")]
    pub prefix: String,
}

pub fn run(args: SynthArgs) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let cfg = SynthConfig {
        um_per_px: args.um_per_px,
        sibling_share: args.sibling_share,
        noise: args.noise,
        ..SynthConfig::default()
    };
    let labels_path = args.out.join("labels.csv");
    let mut labels = std::fs::File::create(&labels_path)
        .with_context(|| format!("creating {}", labels_path.display()))?;
    writeln!(labels, "casing_id,firearm_id,file")?;
    let mut written = 0;
    for (gun, casing, scan) in
        labelled_set(args.seed, args.guns, args.casings, args.family_size, &cfg)
    {
        let casing_id = format!("{}{:05}-{:02}", args.prefix, gun + 1, casing + 1);
        let file = format!("{casing_id}.x3p");
        let path = args.out.join(&file);
        std::fs::write(&path, write_x3p(&scan))
            .with_context(|| format!("writing {}", path.display()))?;
        writeln!(labels, "{casing_id},{}G{:05},{file}", args.prefix, gun + 1)?;
        written += 1;
    }
    println!(
        "{written} synthetic casings from {} guns in {}",
        args.guns,
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
