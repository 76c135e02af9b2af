//! `eval --pairs-out FILE`: every scored pair, with the parts of its
//! score and its per-mark scores (`firing_pin` empty where a casing
//! has no pin mark), as CSV for analysis outside casetrace.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// The `--pairs-out` file: one row per scored pair.
pub struct PairsCsv {
    path: PathBuf,
    out: std::io::BufWriter<std::fs::File>,
}

impl PairsCsv {
    pub fn create(path: &Path) -> anyhow::Result<Self> {
        use std::io::Write;
        let file =
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let mut out = std::io::BufWriter::new(file);
        writeln!(
            out,
            "query,candidate,same_firearm,score,firing_pin,combined,registration_ncc,cell_score,congruent_cells,valid_cells,overlap_fraction,descriptor_similarity,legacy_score,{}",
            casetrace_engine::comparison::FEATURE_NAMES.join(",")
        )?;
        Ok(PairsCsv {
            path: path.to_path_buf(),
            out,
        })
    }

    pub fn write(
        &mut self,
        query: &str,
        c: &casetrace_engine::service::Candidate,
        same_firearm: bool,
    ) -> anyhow::Result<()> {
        use std::io::Write;
        let cmp = &c.comparison;
        writeln!(
            self.out,
            "{query},{},{same_firearm},{:.6},{},{:.6},{:.6},{:.6},{},{},{:.4},{:.6},{:.6},{}",
            c.casing.casing_id,
            c.score,
            // Empty where either casing has no firing-pin mark.
            c.marks
                .firing_pin
                .map(|p| format!("{p:.6}"))
                .unwrap_or_default(),
            c.marks.combined,
            cmp.registration_ncc,
            cmp.cells.cell_score,
            cmp.cells.congruent_cells,
            cmp.cells.valid_cells,
            cmp.overlap_fraction,
            c.descriptor_similarity,
            cmp.legacy_score,
            cmp.features
                .iter()
                .map(|f| format!("{f:.6}"))
                .collect::<Vec<_>>()
                .join(",")
        )
        .with_context(|| format!("writing {}", self.path.display()))
    }
}
