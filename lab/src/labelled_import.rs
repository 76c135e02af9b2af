//! Loading a labelled set into a scratch engine, one submission per row
//! (`eval` and its distractors' labelled casings). The `casetrace import`
//! command takes the engine's bulk import job instead; this path is the
//! simple one a scratch directory needs, with each row's timings.

use casetrace_engine::casing::CasingKind;
use casetrace_engine::service::{AnalysisTimings, Submission};
use casetrace_engine::Engine;
use futures_util::stream::{self, StreamExt};

use crate::manifest::ManifestRow;
use crate::OPERATOR;

/// What happened to one row.
#[derive(Debug)]
pub enum RowOutcome {
    /// Stored now; where the analysis spent its time.
    Imported(AnalysisTimings),
    AlreadyOnFile,
    Failed(String),
}

/// Submit every row, as many at a time as there are worker threads; the
/// outcomes come back in row order.
pub async fn import_rows(engine: &Engine, rows: &[ManifestRow]) -> Vec<RowOutcome> {
    let parallel = engine.config().threads.max(1);
    let mut outcomes: Vec<(usize, RowOutcome)> = stream::iter(rows.iter().enumerate())
        .map(|(i, row)| async move { (i, import_row(engine, row).await) })
        .buffer_unordered(parallel)
        .collect()
        .await;
    outcomes.sort_by_key(|(i, _)| *i);
    outcomes.into_iter().map(|(_, o)| o).collect()
}

async fn import_row(engine: &Engine, row: &ManifestRow) -> RowOutcome {
    let submission = match submission_from_row(row) {
        Ok(s) => s,
        Err(reason) => return RowOutcome::Failed(reason),
    };
    let operator = crate::operator(&submission.agency);
    match engine.submit(&operator, submission).await {
        Ok(outcome) if outcome.created => RowOutcome::Imported(outcome.timings),
        Ok(_) => RowOutcome::AlreadyOnFile,
        Err(e) => RowOutcome::Failed(e.to_string()),
    }
}

/// Read the row's file and turn its columns into a submission.
pub fn submission_from_row(row: &ManifestRow) -> Result<Submission, String> {
    let bytes =
        std::fs::read(&row.file).map_err(|e| format!("cannot read {}: {e}", row.file.display()))?;
    let mut extra = row.extra.clone();
    let kind = match extra.remove("kind") {
        Some(k) => k.parse::<CasingKind>().map_err(|e| e.to_string())?,
        None => CasingKind::Evidence,
    };
    let um_per_px = match extra.remove("um_per_px") {
        Some(v) => Some(
            v.parse::<f64>()
                .map_err(|_| format!("um_per_px {v:?} is not a number"))?,
        ),
        None => None,
    };
    let metadata = extra
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "agency" | "case_number" | "calibre"))
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect::<serde_json::Map<_, _>>();
    Ok(Submission {
        agency: extra
            .get("agency")
            .cloned()
            .unwrap_or_else(|| "local".into()),
        casing_id: row.casing_id.clone(),
        file_name: row
            .file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        bytes,
        kind,
        case_number: extra.get("case_number").cloned(),
        calibre: extra.get("calibre").cloned(),
        metadata: serde_json::Value::Object(metadata),
        um_per_px,
        submitted_by: OPERATOR.into(),
    })
}
