//! Re-describing stored casings when the descriptor model changes, and
//! giving them their marks when the mark extraction is new or changes
//! (`casetrace redescribe`).
//!
//! The index holds descriptors of the current model only, so a casing
//! described by an older model drops out of every search after an
//! upgrade; and a casing stored before its firing-pin mark was extracted
//! (or by another version of the extraction) is compared on its breech
//! face only. This finds every casing whose descriptor is missing or of
//! another model version, or whose marks are not of [`MARKS_VERSION`],
//! re-reads its evidence file (re-hashed on read)
//! and runs it through exactly the submission's read → prepare → describe
//! step ([`analyse`]), on blocking threads. Each batch of new descriptors
//! and marks
//! commits in one transaction together with its audit record, then joins
//! the index. A run stopped at any point leaves every row old or new, and
//! the next run carries on with the old ones. A casing whose evidence file
//! is missing, corrupt or no longer decodes is reported and left as it was.
//! Last, canvases stored in the old codec are re-encoded (`recode.rs`).

use std::time::Instant;

use tokio::task::JoinSet;

use super::analysis::{analyse, Analysis};
use super::Engine;
use crate::audit::{AuditEvent, AuditOutcome};
use crate::comparison::encode_canvas;
use crate::error::{EngineError, Result};
use crate::preprocessing::{MARKS_VERSION, PIPELINE_VERSION};
use crate::store::{NewDescription, StaleCasing};

/// The audit action of one committed batch.
pub const REDESCRIBE_ACTION: &str = "redescribe";

/// Who runs a re-description and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedescribeOptions {
    /// Casings per transaction and per index save.
    pub batch: usize,
    /// Recorded in the audit log as the acting agency and actor.
    pub agency: String,
    pub actor: String,
}

/// Where a run stands, after each batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RedescribeProgress {
    /// Casings that needed re-describing when the run started.
    pub total: u64,
    pub redescribed: u64,
    pub failed: u64,
    pub elapsed_s: f64,
}

/// A casing that could not be re-described, and why; it is left as it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedescribeFailure {
    pub casing_pk: i64,
    pub agency: String,
    pub casing_id: String,
    pub sha256: String,
    pub reason: String,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct RedescribeReport {
    /// The model version descriptors now carry.
    pub model_version: String,
    /// Casings that needed re-describing when the run started.
    pub total: u64,
    pub redescribed: u64,
    /// Of those, how many also got a new comparison surface (their
    /// pipeline version differed).
    pub surfaces_rederived: u64,
    pub failures: Vec<RedescribeFailure>,
    /// Casings still without a descriptor of this model after the run.
    pub remaining: u64,
    /// Casings whose stored canvases were re-encoded from the old codec
    /// (`CTC1`) in the current, compact one.
    pub canvases_recoded: u64,
    pub wall_s: f64,
}

impl Engine {
    /// Casings with no descriptor of the current model (not searchable
    /// until `redescribe` runs) or no marks of the current extraction
    /// (compared on the breech face only until then).
    pub async fn count_to_redescribe(&self) -> Result<u64> {
        Ok(self
            .db
            .count_to_redescribe(self.model_version(), MARKS_VERSION)
            .await? as u64)
    }

    /// Give every casing a descriptor of the current model, from its
    /// stored evidence file, and add it to the index. `progress` is called
    /// after each batch.
    pub async fn redescribe(
        &self,
        opts: &RedescribeOptions,
        progress: &(dyn Fn(RedescribeProgress) + Send + Sync),
    ) -> Result<RedescribeReport> {
        let started = Instant::now();
        let model_version = self.model_version().to_string();
        let batch = opts.batch.max(1);
        let total = self.count_to_redescribe().await?;
        let mut report = RedescribeReport {
            model_version: model_version.clone(),
            total,
            redescribed: 0,
            surfaces_rederived: 0,
            failures: Vec::new(),
            remaining: 0,
            canvases_recoded: 0,
            wall_s: 0.0,
        };
        // Keyset paging: a casing that fails stays behind the cursor, so a
        // run visits each casing once.
        let mut after = i64::MIN;
        loop {
            let page = self
                .db
                .casings_to_redescribe(&model_version, MARKS_VERSION, after, batch as i64)
                .await?;
            let Some(last) = page.last() else { break };
            after = last.casing.id;
            let analysed = self.analyse_stored(&page).await?;
            let mut descriptions = Vec::with_capacity(page.len());
            for (stale, outcome) in page.iter().zip(analysed) {
                match outcome {
                    Ok(analysis) => {
                        descriptions.push(new_description(stale, &analysis, &model_version))
                    }
                    Err(reason) => {
                        tracing::warn!(casing = %stale.casing.casing_id, agency = %stale.casing.agency, %reason, "casing not re-described");
                        report.failures.push(RedescribeFailure {
                            casing_pk: stale.casing.id,
                            agency: stale.casing.agency.clone(),
                            casing_id: stale.casing.casing_id.clone(),
                            sha256: stale.casing.sha256.clone(),
                            reason,
                        });
                    }
                }
            }
            if !descriptions.is_empty() {
                self.store_batch(opts, &model_version, &descriptions, &mut report)
                    .await?;
            }
            progress(RedescribeProgress {
                total,
                redescribed: report.redescribed,
                failed: report.failures.len() as u64,
                elapsed_s: started.elapsed().as_secs_f64(),
            });
        }
        self.save_index_now().await?;
        report.remaining = self.count_to_redescribe().await?;
        // Last: rows re-described above already carry the new codec.
        report.canvases_recoded = self.recode_canvases(opts).await?;
        report.wall_s = started.elapsed().as_secs_f64();
        tracing::info!(
            model = %model_version,
            redescribed = report.redescribed,
            failed = report.failures.len(),
            seconds = report.wall_s,
            "re-description finished"
        );
        Ok(report)
    }

    /// Commit one batch with its audit record, then index what was written.
    async fn store_batch(
        &self,
        opts: &RedescribeOptions,
        model_version: &str,
        descriptions: &[NewDescription],
        report: &mut RedescribeReport,
    ) -> Result<()> {
        let event = AuditEvent::new(
            opts.agency.clone(),
            opts.actor.clone(),
            REDESCRIBE_ACTION,
            format!("casing_features/{model_version}"),
            AuditOutcome::Ok,
        );
        let written = self.db.write_redescribed(descriptions, &event).await?;
        let mut flat = Vec::with_capacity(written.len() * self.model.spec().dim);
        for d in descriptions
            .iter()
            .filter(|d| written.contains(&d.casing_pk))
        {
            flat.extend_from_slice(&d.descriptor);
            report.surfaces_rederived += u64::from(d.surface.is_some());
        }
        report.redescribed += written.len() as u64;
        if !written.is_empty() {
            // Committed rows are the truth; the index file is written at
            // the end of the run (and meanwhile as scheduled).
            self.add_to_index(written, flat).await?;
        }
        Ok(())
    }

    /// Each casing's evidence file read (from the engine's evidence store)
    /// and analysed as a submission is, on blocking threads, `threads` at
    /// a time; in `page`'s order, a reason for each that failed.
    async fn analyse_stored(
        &self,
        page: &[StaleCasing],
    ) -> Result<Vec<std::result::Result<Analysis, String>>> {
        let parallel = self.cfg.threads.max(1);
        let mut results: Vec<Option<std::result::Result<Analysis, String>>> =
            (0..page.len()).map(|_| None).collect();
        let mut running = JoinSet::new();
        let mut next = 0;
        loop {
            while running.len() < parallel && next < page.len() {
                let casing = page[next].casing.clone();
                let (evidence, model, limits, pre) = (
                    self.evidence.clone(),
                    self.model.clone(),
                    self.cfg.limits,
                    self.cfg.preprocess,
                );
                let slot = next;
                running.spawn(async move {
                    let bytes = match evidence.get(&casing.sha256).await {
                        Ok(bytes) => bytes,
                        Err(e) => return (slot, Err(format!("evidence file: {e}"))),
                    };
                    let analysed = super::blocking(move || {
                        // The scale as stored: what the file said, or what
                        // the submitter gave for a plain image (an X3P's
                        // own increments win over it anyway).
                        analyse(
                            &bytes,
                            &casing.file_name,
                            Some(casing.um_per_px),
                            &limits,
                            &pre,
                            &model,
                        )
                    })
                    .await;
                    (slot, analysed.map_err(|e| e.to_string()))
                });
                next += 1;
            }
            match running.join_next().await {
                None => break,
                Some(Ok((slot, outcome))) => results[slot] = Some(outcome),
                Some(Err(e)) => {
                    return Err(EngineError::Internal(format!("worker thread failed: {e}")))
                }
            }
        }
        Ok(results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err("not analysed".into())))
            .collect())
    }
}

/// The new features of a stale casing: the new descriptor, and the new
/// comparison surface only when the stored one came from another pipeline
/// version (or there is none).
fn new_description(
    stale: &StaleCasing,
    analysis: &Analysis,
    model_version: &str,
) -> NewDescription {
    let surface = (stale.pipeline_version.as_deref() != Some(PIPELINE_VERSION)).then(|| {
        (
            encode_canvas(&analysis.canvas),
            PIPELINE_VERSION.to_string(),
        )
    });
    NewDescription {
        casing_pk: stale.casing.id,
        previous_model: stale.model_version.clone(),
        model_version: model_version.to_string(),
        descriptor: analysis.descriptor.clone(),
        surface,
        pin_mark: analysis.pin_mark.as_ref().map(encode_canvas),
        marks_version: MARKS_VERSION.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::casing::{CasingKind, CasingRecord};
    use crate::reading::InputFormat;
    use crate::service::AnalysisTimings;
    use crate::surface::{Surface, SurfaceKind};

    fn stale(model: Option<&str>, pipeline: Option<&str>) -> StaleCasing {
        StaleCasing {
            casing: CasingRecord {
                id: 7,
                agency: "local".into(),
                casing_id: "C-7".into(),
                sha256: "0".repeat(64),
                file_name: "c7.x3p".into(),
                format: crate::reading::InputFormat::X3p,
                surface_kind: crate::surface::SurfaceKind::Topography,
                kind: CasingKind::Evidence,
                case_number: None,
                calibre: None,
                metadata: serde_json::json!({}),
                um_per_px: 1.5,
                width: 8,
                height: 8,
                submitted_at: chrono::Utc::now(),
                submitted_by: "tester".into(),
            },
            model_version: model.map(str::to_string),
            pipeline_version: pipeline.map(str::to_string),
        }
    }

    fn analysis() -> Analysis {
        let mut canvas = Surface::empty(8, 8, 25.0, SurfaceKind::Topography);
        canvas.valid.fill(true);
        canvas.values[3] = 1.0;
        Analysis {
            format: InputFormat::X3p,
            width: 8,
            height: 8,
            um_per_px: 1.5,
            surface_kind: SurfaceKind::Topography,
            canvas,
            pin_mark: None,
            descriptor: vec![0.6, 0.8],
            timings: AnalysisTimings::default(),
        }
    }

    #[test]
    fn the_surface_is_kept_when_the_pipeline_is_unchanged() {
        let d = new_description(
            &stale(Some("v1"), Some(PIPELINE_VERSION)),
            &analysis(),
            "v2",
        );
        assert_eq!(d.casing_pk, 7);
        assert_eq!(d.previous_model.as_deref(), Some("v1"));
        assert_eq!(d.model_version, "v2");
        assert_eq!(d.descriptor, vec![0.6, 0.8]);
        assert_eq!(d.surface, None);
    }

    #[test]
    fn the_surface_is_re_derived_for_another_pipeline_or_none() {
        let a = analysis();
        let expected = Some((encode_canvas(&a.canvas), PIPELINE_VERSION.to_string()));
        let old_pipeline = new_description(&stale(Some("v1"), Some("pre-v0")), &a, "v2");
        assert_eq!(old_pipeline.surface, expected);
        let no_features = new_description(&stale(None, None), &a, "v2");
        assert_eq!(no_features.previous_model, None);
        assert_eq!(no_features.surface, expected);
    }
}
