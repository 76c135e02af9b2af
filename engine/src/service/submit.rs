//! Submitting a casing: all or nothing. The file is analysed before
//! anything is written; the evidence file, the rows and the index entry are
//! each undone if a later step fails, so a failed submission leaves nothing.

use std::sync::Arc;

use super::analysis::{analyse, AnalysisTimings};
use super::{blocking, Engine};
use crate::access::policy::{self, Action};
use crate::access::Principal;
use crate::casing::{CasingFeatures, CasingKind, CasingRecord, NewCasing};
use crate::comparison::encode_canvas;
use crate::error::{EngineError, Result};
use crate::preprocessing::{MARKS_VERSION, PIPELINE_VERSION};
use crate::store::{sha256_hex, EvidencePut, InsertOutcome};

/// A casing file and what the submitter says about it.
#[derive(Debug, Clone)]
pub struct Submission {
    pub agency: String,
    pub casing_id: String,
    pub file_name: String,
    pub bytes: Vec<u8>,
    pub kind: CasingKind,
    pub case_number: Option<String>,
    pub calibre: Option<String>,
    /// Further metadata kept as given.
    pub metadata: serde_json::Value,
    /// Scale of a 2D image when the file does not carry one.
    pub um_per_px: Option<f64>,
    pub submitted_by: String,
}

/// The stored casing and whether this call created it.
#[derive(Debug, Clone)]
pub struct SubmitOutcome {
    pub casing: CasingRecord,
    /// False when the same casing (same id and bytes) was already on file.
    pub created: bool,
    pub timings: AnalysisTimings,
}

impl Engine {
    /// Store a casing and index it. Resubmitting the same bytes under the
    /// same id returns the casing on file and writes nothing. The casing
    /// goes into `caller`'s agency; naming another is refused.
    pub async fn submit(&self, caller: &Principal, sub: Submission) -> Result<SubmitOutcome> {
        policy::require(caller, Action::SubmitCasing)?;
        policy::write_agency(caller, Some(&sub.agency))?;
        validate_id(&sub.casing_id)?;
        let sha256 = sha256_hex(&sub.bytes);
        if let Some(existing) = self
            .db
            .casing_by_casing_id(&sub.agency, &sub.casing_id)
            .await?
        {
            return if existing.sha256 == sha256 {
                Ok(SubmitOutcome {
                    casing: existing,
                    created: false,
                    timings: AnalysisTimings::default(),
                })
            } else {
                Err(EngineError::CasingIdConflict {
                    casing_id: sub.casing_id,
                    existing_sha256: existing.sha256,
                })
            };
        }
        let sub = Arc::new(sub);
        let (model, limits, pre) = (self.model.clone(), self.cfg.limits, self.cfg.preprocess);
        let analysis = {
            let sub = sub.clone();
            blocking(move || {
                analyse(
                    &sub.bytes,
                    &sub.file_name,
                    sub.um_per_px,
                    &limits,
                    &pre,
                    &model,
                )
            })
            .await?
        };
        let new = NewCasing {
            agency: sub.agency.clone(),
            casing_id: sub.casing_id.clone(),
            sha256: sha256.clone(),
            file_name: sub.file_name.clone(),
            format: analysis.format,
            surface_kind: analysis.surface_kind,
            kind: sub.kind,
            case_number: sub.case_number.clone(),
            calibre: sub.calibre.clone(),
            metadata: sub.metadata.clone(),
            um_per_px: analysis.um_per_px,
            width: analysis.width as i64,
            height: analysis.height as i64,
            submitted_by: sub.submitted_by.clone(),
        };
        let features = CasingFeatures {
            model_version: self.model_version().to_string(),
            descriptor: analysis.descriptor.clone(),
            comparison_surface: encode_canvas(&analysis.canvas),
            pipeline_version: PIPELINE_VERSION.to_string(),
            // In the same transaction as the casing row: a failed
            // submission leaves no mark behind either.
            pin_mark: analysis.pin_mark.as_ref().map(encode_canvas),
            marks_version: Some(MARKS_VERSION.to_string()),
        };
        let blob = self.evidence.put(sub.bytes.clone()).await?;
        let inserted = match self
            .db
            .insert_casing_by(&new, &features, caller.key_id.as_deref())
            .await
        {
            Ok(InsertOutcome::Inserted(record)) => record,
            // The same bytes are on file, so the evidence file is theirs too.
            Ok(InsertOutcome::Existing(record)) => {
                return Ok(SubmitOutcome {
                    casing: record,
                    created: false,
                    timings: analysis.timings,
                });
            }
            Err(e) => {
                self.undo_evidence(&blob).await?;
                return Err(e);
            }
        };
        if let Err(e) = self
            .add_to_index(vec![inserted.id], analysis.descriptor.clone())
            .await
        {
            // If the undo is refused (a person already worked on a lead on
            // this casing), that refusal is the answer and the casing stays;
            // the cause is kept here.
            tracing::error!(casing = %inserted.casing_id, id = inserted.id, error = %e, "indexing failed; undoing the submission");
            self.db.delete_casing(inserted.id).await?;
            self.undo_evidence(&blob).await?;
            return Err(e);
        }
        tracing::info!(casing = %inserted.casing_id, id = inserted.id, sha256 = %sha256, "casing stored");
        Ok(SubmitOutcome {
            casing: inserted,
            created: true,
            timings: analysis.timings,
        })
    }

    /// Remove an evidence file a submission or an import wrote for a casing
    /// that was not stored, unless a casing stored meanwhile with the same
    /// bytes (under another id) refers to it. A file that was on file
    /// before the write is never removed.
    pub(super) async fn undo_evidence(&self, put: &EvidencePut) -> Result<()> {
        if !put.newly_written || self.db.sha256_on_file(&put.sha256).await? {
            return Ok(());
        }
        self.evidence.remove_if_new(put).await
    }
}

/// Casing ids appear in URLs, file listings and court reports: printable,
/// no separators that would make them ambiguous, bounded length.
fn validate_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
    if ok {
        Ok(())
    } else {
        Err(EngineError::InvalidMetadata {
            field: "casing_id".into(),
            reason: format!("{id:?} must be 1-128 characters of A-Z, a-z, 0-9, '-', '_', '.', ':'"),
        })
    }
}
