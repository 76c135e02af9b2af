//! `casetrace synth`: a synthetic labelled set of X3P scans, for scale
//! tests, training and the hard cases real sets lack.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use casetrace_engine::reading::{write_x3p, write_x3p_micrometres};
use casetrace_engine::synth::{labelled_set_with_raw, RawConfig, RawShare, SynthConfig};

#[derive(Debug, clap::Args)]
pub struct SynthArgs {
    /// Output folder (created); gets the scans and labels.csv.
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value_t = 20)]
    pub guns: usize,
    #[arg(long, default_value_t = 5)]
    pub casings: usize,
    /// Guns per family of consecutively made siblings. A family as large
    /// as the set, with a small `--sibling-share`, gives guns of one model
    /// that share class marks without being consecutively made.
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
    /// The hard case of issue #14: the breech face survives only as a
    /// 0.4-0.8 mm ring around a large, nearly centred firing-pin aperture.
    #[arg(long)]
    pub thin_ring: bool,
    /// The last N casings of every gun are raw scans of the whole casing
    /// head (unmarked inside the aperture) instead of processed ones.
    #[arg(long, default_value_t = 0)]
    pub raw_per_gun: usize,
    /// Raw scans carry the gun's firing-pin mark: the crater sits where
    /// the gun's pin strikes (its aperture's centre, plus the pin's play)
    /// and its floor holds the gun's own pin-tip texture, turned with the
    /// casing. Without it a raw scan's crater is a smooth hemisphere at a
    /// random offset, with nothing of the gun in it. Acts on the raw scans
    /// of `--raw-per-gun` only (processed scans have no crater).
    #[arg(long)]
    pub pin_marks: bool,
    /// Every Nth file (0: none) stores its increments and heights in
    /// micrometres where X3P says metres, as some instruments write them.
    #[arg(long, default_value_t = 0)]
    pub micrometre_every: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Prefix of casing and firearm ids.
    #[arg(long, default_value = "S")]
    pub prefix: String,
}

impl SynthArgs {
    fn config(&self) -> SynthConfig {
        let base = if self.thin_ring {
            SynthConfig::thin_ring(self.um_per_px)
        } else {
            SynthConfig::default()
        };
        SynthConfig {
            um_per_px: self.um_per_px,
            sibling_share: self.sibling_share,
            noise: self.noise,
            ..base
        }
    }

    fn raw_share(&self) -> Option<RawShare> {
        (self.raw_per_gun > 0).then(|| RawShare {
            raw: RawConfig {
                unmarked_aperture: true,
                pin_marks: self.pin_marks,
                ..RawConfig::default()
            },
            per_gun: self.raw_per_gun,
        })
    }
}

pub fn run(args: SynthArgs) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let cfg = args.config();
    let labels_path = args.out.join("labels.csv");
    let mut labels = std::fs::File::create(&labels_path)
        .with_context(|| format!("creating {}", labels_path.display()))?;
    // The scan column is written only when some scans are raw, so the
    // labels of sets made before it keep their bytes.
    let raw = args.raw_share();
    if raw.is_some() {
        writeln!(labels, "casing_id,firearm_id,file,scan")?;
    } else {
        writeln!(labels, "casing_id,firearm_id,file")?;
    }
    let mut written = 0;
    for shot in labelled_set_with_raw(
        args.seed,
        args.guns,
        args.casings,
        args.family_size,
        &cfg,
        raw,
    ) {
        let casing_id = format!("{}{:05}-{:02}", args.prefix, shot.gun + 1, shot.casing + 1);
        let file = format!("{casing_id}.x3p");
        let path = args.out.join(&file);
        let in_micrometres = args.micrometre_every > 0 && written % args.micrometre_every == 0;
        let bytes = if in_micrometres {
            write_x3p_micrometres(&shot.scan)
        } else {
            write_x3p(&shot.scan)
        };
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
        let firearm = format!("{}G{:05}", args.prefix, shot.gun + 1);
        if raw.is_some() {
            let kind = if shot.raw { "raw" } else { "processed" };
            writeln!(labels, "{casing_id},{firearm},{file},{kind}")?;
        } else {
            writeln!(labels, "{casing_id},{firearm},{file}")?;
        }
        written += 1;
    }
    println!(
        "{written} synthetic casings from {} guns in {}",
        args.guns,
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
