//! Proving that descriptors, index and database agree (`casetrace check`).
//!
//! The database is the source of truth; the check reports every way the
//! derived and stored pieces can disagree with it: a casing without a
//! descriptor of the current model, an index file whose stamp or size does
//! not match, an indexed vector that does not find its own casing, an
//! evidence file missing or no longer matching its hash, an import row
//! claiming a casing that is not on file, and a correlation job that lost
//! its casing, was completed more than once, or failed.

use std::collections::HashSet;

use super::Engine;
use crate::error::Result;
use crate::index::VectorIndex;

/// Nearest neighbours looked at when checking that a stored descriptor
/// finds its own casing in the index (ties between identical descriptors
/// may put another casing first).
const SELF_SEARCH_K: usize = 5;
/// A descriptor's similarity with itself, allowing for f32 rounding.
const SELF_SCORE: f32 = 0.999;

/// What `check` looked at and every disagreement found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CheckReport {
    pub casings: u64,
    /// Casings with a descriptor of the current model.
    pub described: u64,
    /// Vectors in the engine's index.
    pub indexed: u64,
    /// Casings without a descriptor of the current model (not searchable
    /// until `casetrace redescribe` runs).
    pub needs_redescribe: u64,
    /// Evidence files re-hashed.
    pub evidence_checked: u64,
    /// One line per disagreement; empty when everything agrees.
    pub problems: Vec<String>,
}

impl CheckReport {
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

impl Engine {
    /// Compare the database with the descriptors, the index (in memory and
    /// its file) and the evidence files.
    pub async fn check(&self) -> Result<CheckReport> {
        let mut report = CheckReport::default();
        let spec = self.model.spec().clone();
        let casings = self.db.list_casings().await?;
        let descriptors: Vec<(i64, Vec<f32>)> = self
            .db
            .all_index_entries(&spec.model_version)
            .await?
            .into_iter()
            .map(|e| (e.id, e.descriptor))
            .collect();
        report.casings = casings.len() as u64;
        report.described = descriptors.len() as u64;
        let described: HashSet<i64> = descriptors.iter().map(|(id, _)| *id).collect();
        for c in &casings {
            if !described.contains(&c.id) {
                report.problems.push(format!(
                    "casing {} ({}) has no descriptor of model {}",
                    c.casing_id, c.agency, spec.model_version
                ));
            }
        }
        report.needs_redescribe = report.casings.saturating_sub(report.described);
        if report.needs_redescribe > 0 {
            // First, so it is seen before the list of casings it explains.
            report.problems.insert(
                0,
                format!(
                    "{} casings need re-describing for model {}: run `casetrace redescribe`",
                    report.needs_redescribe, spec.model_version
                ),
            );
        }
        for (id, d) in &descriptors {
            if d.len() != spec.dim {
                report.problems.push(format!(
                    "casing row {id}: descriptor has {} numbers, the model makes {}",
                    d.len(),
                    spec.dim
                ));
            }
        }

        let head = self.db.feed_head().await?;
        let (index, path) = (self.index.clone(), self.index_path.clone());
        let (model_version, dim) = (spec.model_version.clone(), spec.dim);
        let (indexed, file_ok, misplaced) = super::blocking(move || {
            // Loadable, of this model, and not ahead of the database's feed.
            let file_ok = VectorIndex::load_saved(&path, &model_version, dim)
                .is_some_and(|(_, stamp)| stamp.feed_seq.is_some_and(|seq| seq <= head));
            let mut index = index
                .lock()
                .map_err(|_| crate::EngineError::poisoned_index_lock())?;
            let mut misplaced = Vec::new();
            for (id, d) in &descriptors {
                let hits = index.search(d, SELF_SEARCH_K, None)?;
                if !hits
                    .iter()
                    .any(|(hit, score)| hit == id && *score >= SELF_SCORE)
                {
                    misplaced.push(*id);
                }
            }
            Ok((index.len(), file_ok, misplaced))
        })
        .await?;
        report.indexed = indexed;
        if indexed != report.described {
            report.problems.push(format!(
                "the index holds {indexed} vectors, the database {} descriptors",
                report.described
            ));
        }
        if !file_ok {
            report.problems.push(format!(
                "the index file {} does not match the database (stamp or size)",
                self.index_path.display()
            ));
        }
        for id in misplaced {
            report.problems.push(format!(
                "casing row {id}: its descriptor does not find it in the index"
            ));
        }

        for c in &casings {
            match self.evidence.get(&c.sha256).await {
                Ok(_) => report.evidence_checked += 1,
                Err(e) => report.problems.push(format!(
                    "casing {} ({}): evidence file: {e}",
                    c.casing_id, c.agency
                )),
            }
        }
        let orphans = self.db.import_rows_without_casing().await?;
        if orphans > 0 {
            report.problems.push(format!(
                "{orphans} import rows record a loaded casing that is not on file"
            ));
        }
        self.check_correlation_jobs(&casings, &mut report).await?;
        Ok(report)
    }

    /// The correlation queue against the casings: a job of a casing not on
    /// file was never committed with it; a done job was completed exactly
    /// once; a failed job is reported with its error for the operator.
    async fn check_correlation_jobs(
        &self,
        casings: &[crate::casing::CasingRecord],
        report: &mut CheckReport,
    ) -> Result<()> {
        use crate::store::CorrelationState;
        let on_file: HashSet<i64> = casings.iter().map(|c| c.id).collect();
        for job in self.db.correlation_jobs().await? {
            let done = job.state == CorrelationState::Done;
            if !done && !on_file.contains(&job.casing_pk) {
                report.problems.push(format!(
                    "correlation job {} is of casing row {}, which is not on file",
                    job.id, job.casing_pk
                ));
            }
            if done && job.completions != 1 {
                report.problems.push(format!(
                    "correlation job {} was completed {} times",
                    job.id, job.completions
                ));
            }
            if job.state == CorrelationState::Failed {
                report.problems.push(format!(
                    "correlation job {} (casing row {}) failed after {} attempts: {}",
                    job.id,
                    job.casing_pk,
                    job.attempts,
                    job.last_error.as_deref().unwrap_or("no error kept")
                ));
            }
        }
        Ok(())
    }
}
