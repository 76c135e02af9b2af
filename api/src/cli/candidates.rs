//! `casetrace candidates`: ranked candidate lists for casings on file.

use std::io::Write;
use std::process::ExitCode;

use casetrace_engine::service::CandidateList;
use casetrace_engine::EngineConfig;

use super::open_engine;

#[derive(Debug, clap::Args)]
pub struct CandidatesArgs {
    /// The casing to find candidates for.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub casing_id: Option<String>,
    /// Every casing on file, one line each.
    #[arg(long)]
    pub all: bool,
    /// Longest list.
    #[arg(long, default_value_t = 10)]
    pub limit: usize,
    /// Agency owning the casing.
    #[arg(long, default_value = "local")]
    pub agency: String,
    /// One JSON object per line (the default output is a table); each
    /// candidate carries `marks`: `breech_face` (= `score`, the one the LR
    /// is calibrated on), `firing_pin` (null unless both casings have a
    /// pin mark) and `combined` (the list's order).
    #[arg(long)]
    pub json: bool,
}

pub async fn run(cfg: EngineConfig, args: CandidatesArgs) -> anyhow::Result<ExitCode> {
    let engine = open_engine(cfg).await?;
    let operator = super::operator(&args.agency);
    let ids: Vec<String> = match &args.casing_id {
        Some(id) => vec![id.clone()],
        None => {
            let mut all = engine.casings(&operator).await?;
            all.retain(|c| c.agency == args.agency);
            all.into_iter().map(|c| c.casing_id).collect()
        }
    };
    let mut out = std::io::stdout().lock();
    for id in ids {
        let list = engine
            .candidates(&operator, Some(&args.agency), &id, args.limit)
            .await?;
        print_list(&mut out, Some(&id), &list, args.json)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `{"casing_id": ..., "candidates": [{"casing_id", "score", ...}]}` per line,
/// or a small table for people.
pub fn print_list(
    out: &mut impl Write,
    query: Option<&str>,
    list: &CandidateList,
    json: bool,
) -> anyhow::Result<()> {
    if json {
        let candidates: Vec<serde_json::Value> = list
            .candidates
            .iter()
            .map(|c| {
                serde_json::json!({
                    "casing_id": c.casing.casing_id,
                    "agency": c.casing.agency,
                    "score": round4(c.score),
                    "marks": {
                        "breech_face": round4(c.marks.breech_face),
                        "firing_pin": c.marks.firing_pin.map(round4),
                        "combined": round4(c.marks.combined),
                    },
                    "log10_lr": c.log10_lr.map(round4),
                    "calibration": c.calibration,
                    "lr_withheld": c.lr_withheld,
                    "descriptor_similarity": round4(f64::from(c.descriptor_similarity)),
                    "rotation_deg": round4(c.comparison.rotation_deg),
                    "dx_um": c.comparison.dx_um,
                    "dy_um": c.comparison.dy_um,
                    "registration_ncc": round4(c.comparison.registration_ncc),
                    "congruent_cells": c.comparison.cells.congruent_cells,
                    "valid_cells": c.comparison.cells.valid_cells,
                    "reverse_congruent_cells": c.comparison.reverse_cells.congruent_cells,
                    "reverse_valid_cells": c.comparison.reverse_cells.valid_cells,
                    "cells": c.comparison.cells.cells,
                })
            })
            .collect();
        let line = serde_json::json!({
            "casing_id": query,
            "candidates": candidates,
            "compared": list.compared,
        });
        writeln!(out, "{line}")?;
        return Ok(());
    }
    writeln!(out, "candidates for {}", query.unwrap_or("(search image)"))?;
    writeln!(
        out,
        "{:>4}  {:<24} {:>7} {:>7} {:>7} {:>7} {:>9} {:>8}",
        "rank", "casing", "score", "pin", "log10LR", "cells", "rotation", "shift µm"
    )?;
    for (i, c) in list.candidates.iter().enumerate() {
        writeln!(
            out,
            "{:>4}  {:<24} {:>7.4} {:>7} {:>7} {:>7} {:>8.1}° {:>8.0}",
            i + 1,
            c.casing.casing_id,
            c.score,
            c.marks
                .firing_pin
                .map_or("-".to_string(), |p| format!("{p:.4}")),
            c.log10_lr.map_or("-".to_string(), |l| format!("{l:.2}")),
            format!(
                "{}/{}",
                c.comparison.cells.congruent_cells, c.comparison.cells.valid_cells
            ),
            c.comparison.rotation_deg,
            c.comparison.dx_um.hypot(c.comparison.dy_um)
        )?;
    }
    Ok(())
}

fn round4(v: f64) -> f64 {
    (v * 1e4).round() / 1e4
}
