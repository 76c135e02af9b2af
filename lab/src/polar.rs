//! `casetrace polar LABELS.csv --out DIR`: the descriptor model's training
//! input, computed by the engine's own reading and preprocessing so that
//! the model is trained on exactly what it will see.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use casetrace_engine::description::{polar_input, PolarInputSpec};
use casetrace_engine::preprocessing::prepare;
use casetrace_engine::reading::read_surface;
use casetrace_engine::EngineConfig;

use crate::manifest::read_manifest;

#[derive(Debug, clap::Args)]
pub struct PolarArgs {
    /// CSV with columns casing_id,firearm_id,file.
    pub labels: PathBuf,
    /// Output folder: polar.npy (casings x rings x angles, float32),
    /// labels.txt (one firearm id per line) and grid.json.
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(cfg: EngineConfig, args: PolarArgs) -> anyhow::Result<ExitCode> {
    let rows = read_manifest(&args.labels)?;
    let spec = PolarInputSpec::for_canvas(&cfg.preprocess);
    let mut values = Vec::with_capacity(rows.len() * spec.rings * spec.angles);
    let mut labels = Vec::with_capacity(rows.len());
    for row in &rows {
        let name = row.file.display().to_string();
        let bytes = std::fs::read(&row.file).with_context(|| format!("reading {name}"))?;
        let (_, surface) = read_surface(&bytes, &name, None, &cfg.limits)?;
        let prepared = prepare(&surface, &name, &cfg.preprocess)?;
        values.extend(polar_input(&prepared.surface, &spec).values);
        labels.push(
            row.extra
                .get("firearm_id")
                .cloned()
                .with_context(|| format!("row {}: no firearm_id", row.line))?,
        );
    }
    std::fs::create_dir_all(&args.out)?;
    write_npy(
        &args.out.join("polar.npy"),
        &[rows.len(), spec.rings, spec.angles],
        &values,
    )?;
    std::fs::write(args.out.join("labels.txt"), labels.join("\n") + "\n")?;
    std::fs::write(
        args.out.join("grid.json"),
        serde_json::to_string_pretty(&spec)?,
    )?;
    println!("{} casings written to {}", rows.len(), args.out.display());
    Ok(ExitCode::SUCCESS)
}

/// NumPy's .npy format, version 1.0, little-endian float32, C order.
fn write_npy(path: &std::path::Path, shape: &[usize], values: &[f32]) -> anyhow::Result<()> {
    let dims = shape
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({dims},), }}");
    // Magic (6) + version (2) + length (2) + header, padded to 64 bytes, ending in '\n'.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    file.write_all(b"\x93NUMPY\x01\x00")?;
    file.write_all(&(header.len() as u16).to_le_bytes())?;
    file.write_all(header.as_bytes())?;
    for v in values {
        file.write_all(&v.to_le_bytes())?;
    }
    file.flush()?;
    Ok(())
}
