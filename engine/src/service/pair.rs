//! The fine comparison of one pair of casings on file, as a candidate list
//! would score it (the first casing as the query): for the score and LR a
//! lead keeps, and for the registered pair the workspace shows.

use super::{blocking, Engine};
use crate::calibration::{LrAssessment, PairConditions};
use crate::casing::{CasingFeatures, CasingRecord};
use crate::comparison::{
    decode_canvas, registered_onto, Comparison, MarkScores, PinQuery, PIN_LOG_ODDS,
};
use crate::error::{EngineError, Result};
use crate::surface::{Surface, SurfaceKind};

/// A pair registered and scored: `b`'s canvas resampled into `a`'s frame
/// at the registration found, so the two overlay pixel for pixel.
#[derive(Debug, Clone)]
pub struct PairComparison {
    pub a: CasingRecord,
    pub b: CasingRecord,
    pub a_canvas: Surface,
    pub b_registered: Surface,
    pub comparison: Comparison,
    /// The side of the comparison's cells, canvas pixels.
    pub cell_px: usize,
    pub marks: MarkScores,
    /// As in a candidate list: the breech-face score's log10 LR, the
    /// calibration that gave it, or why there is none.
    pub log10_lr: Option<f64>,
    pub calibration: Option<String>,
    pub lr_withheld: Option<String>,
}

/// Why a pair has no comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NoComparison {
    /// A photograph and a topography: different quantities.
    KindsDiffer,
    /// The two overlap too little to be registered.
    NoOverlap,
}

/// The LR of a breech-face score, or why it is withheld.
pub(super) struct LrOutcome {
    pub log10_lr: Option<f64>,
    pub calibration: Option<String>,
    pub withheld: Option<String>,
}

impl Engine {
    /// Calibrate a comparison's breech-face score for a pair of this
    /// surface kind and these native resolutions (query, candidate).
    pub(super) fn lr_of(
        &self,
        kind: SurfaceKind,
        query_um_per_px: f64,
        candidate_um_per_px: f64,
        c: &Comparison,
    ) -> LrOutcome {
        let pair = PairConditions {
            surface_kind: kind.as_str(),
            query_um_per_px,
            candidate_um_per_px,
            cells_possible: c.cells_possible,
        };
        match self.calibrations.assess(&pair, c.score) {
            LrAssessment::Covered {
                log10_lr,
                calibration,
            } => LrOutcome {
                log10_lr: Some(log10_lr),
                calibration: Some(calibration),
                withheld: None,
            },
            LrAssessment::Withheld { reason } => LrOutcome {
                log10_lr: None,
                calibration: None,
                withheld: Some(reason),
            },
        }
    }

    /// Compare two casings on file, `a` as the query, off the async
    /// executor. The caller has checked that it may.
    pub(super) async fn compare_records(
        &self,
        a: CasingRecord,
        b: CasingRecord,
    ) -> Result<std::result::Result<PairComparison, NoComparison>> {
        if a.surface_kind != b.surface_kind {
            return Ok(Err(NoComparison::KindsDiffer));
        }
        let features = self.db.features_by_pks(&[a.id, b.id]).await?;
        let of = |id: i64| -> Result<CasingFeatures> {
            features
                .iter()
                .find(|(pk, _)| *pk == id)
                .map(|(_, f)| f.clone())
                .ok_or_else(|| {
                    EngineError::internal(format!("casing #{id} has no stored features"))
                })
        };
        let (fa, fb) = (of(a.id)?, of(b.id)?);
        let comparer = self.comparer.clone();
        let found = blocking(move || {
            let a_canvas = decode_canvas(&fa.comparison_surface)?;
            let b_canvas = decode_canvas(&fb.comparison_surface)?;
            let query = comparer.input(a_canvas.clone());
            let Some(comparison) = comparer.compare(&query, &comparer.input(b_canvas.clone()))
            else {
                return Ok(None);
            };
            let pin = match (&fa.pin_mark, &fb.pin_mark) {
                (Some(pa), Some(pb)) => {
                    PinQuery::new(&decode_canvas(pa)?).score(&decode_canvas(pb)?)
                }
                _ => None,
            };
            let um = a_canvas.um_per_px;
            let b_registered = registered_onto(
                &b_canvas,
                comparison.rotation_deg,
                (comparison.dx_um / um).round() as i64,
                (comparison.dy_um / um).round() as i64,
            );
            Ok(Some((a_canvas, b_registered, comparison, pin)))
        })
        .await?;
        let Some((a_canvas, b_registered, comparison, pin)) = found else {
            return Ok(Err(NoComparison::NoOverlap));
        };
        let lr = self.lr_of(a.surface_kind, a.um_per_px, b.um_per_px, &comparison);
        Ok(Ok(PairComparison {
            marks: MarkScores::new(comparison.score, pin, &PIN_LOG_ODDS),
            cell_px: self.comparer.config().cells.cell_px,
            a,
            b,
            a_canvas,
            b_registered,
            comparison,
            log10_lr: lr.log10_lr,
            calibration: lr.calibration,
            lr_withheld: lr.withheld,
        }))
    }
}
