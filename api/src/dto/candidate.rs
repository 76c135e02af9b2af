//! Ranked candidate lists.

use casetrace_engine::comparison::{CellResult, MarkScores};
use casetrace_engine::service::{Candidate, CandidateList};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How the candidate was brought onto the query casing.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RegistrationDto {
    /// Counter-clockwise rotation of the candidate, degrees in [0, 360).
    pub rotation_deg: f64,
    /// Shift of the candidate after rotation, micrometres (x right, y down).
    pub dx_um: f64,
    pub dy_um: f64,
    /// Overlapping valid area, as a fraction of the query's.
    pub overlap_fraction: f64,
    /// Masked NCC of the whole surface at this registration, in [-1, 1].
    pub registration_ncc: f64,
}

/// The candidate's score on each mark both casings carry, and the marks
/// combined (see docs/comparison.md, "Marks").
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MarksDto {
    /// The breech face's fine comparison score (the same as `score`).
    #[schema(example = 0.62)]
    pub breech_face: f64,
    /// Best normalised cross-correlation of the two firing-pin marks over
    /// every turn, floored at 0, in [0, 1]; null unless both casings have a
    /// firing-pin mark (raw scans with the impression; processed scans
    /// whose hole is cut out have none).
    #[schema(example = 0.48)]
    pub firing_pin: Option<f64>,
    /// Both marks' evidence added on the log-odds scale; equal to
    /// `breech_face` when `firing_pin` is null. The list is ranked by it.
    #[schema(example = 0.91)]
    pub combined: f64,
}

impl From<MarkScores> for MarksDto {
    fn from(m: MarkScores) -> Self {
        MarksDto {
            breech_face: m.breech_face,
            firing_pin: m.firing_pin,
            combined: m.combined,
        }
    }
}

/// One cell of the query's breech face, registered on its own against the
/// candidate (congruent matching cells).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CellDto {
    /// Grid position, row from the top and column from the left.
    pub row: u32,
    pub col: u32,
    /// Cell centre in the query canvas, micrometres from its centre (x right, y down).
    pub x_um: f64,
    pub y_um: f64,
    /// Highest correlation the cell reached in its search window.
    pub ccf: f64,
    /// The cell's own registration, as for the whole surface.
    pub rotation_deg: f64,
    pub dx_um: f64,
    pub dy_um: f64,
    /// Agrees with the consensus registration and correlates above the threshold.
    pub congruent: bool,
}

impl From<CellResult> for CellDto {
    fn from(c: CellResult) -> Self {
        CellDto {
            row: c.row,
            col: c.col,
            x_um: c.x_um,
            y_um: c.y_um,
            ccf: c.ccf,
            rotation_deg: c.rotation_deg,
            dx_um: c.dx_um,
            dy_um: c.dy_um,
            congruent: c.congruent,
        }
    }
}

/// One candidate, best first in its list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CandidateDto {
    #[schema(example = "TW01-02")]
    pub casing_id: String,
    pub agency: String,
    /// The breech face's fine comparison score in [0, 1], comparable
    /// across lists; higher = more likely same firearm. See
    /// docs/comparison.md.
    #[schema(example = 0.62)]
    pub score: f64,
    /// Per-mark scores and the marks combined, which ranks the list.
    pub marks: MarksDto,
    /// log10 of the calibrated likelihood ratio (same firearm vs different
    /// firearms) of `score`, the breech face alone, bounded by the calibration's sample sizes;
    /// null when no calibration covers the pair (see `lr_withheld`).
    #[schema(example = 2.1)]
    pub log10_lr: Option<f64>,
    /// The calibration that gave `log10_lr` (null when there is none).
    #[schema(example = "fine-score")]
    pub calibration: Option<String>,
    /// Why there is no LR: the pair (surface kind, resolution, cells
    /// scored) is outside every calibration's coverage, or none is loaded.
    /// Null when `log10_lr` is given.
    pub lr_withheld: Option<String>,
    /// Cosine similarity of the descriptors (the shortlist's ranking).
    pub descriptor_similarity: f32,
    pub registration: RegistrationDto,
    /// Query cells congruent with the registration, of `valid_cells` scored.
    pub congruent_cells: usize,
    pub valid_cells: usize,
    /// Every scored cell, so a reviewer can see where the surfaces agree.
    pub cells: Vec<CellDto>,
    /// The other direction: the candidate's cells congruent on the query,
    /// of `reverse_valid_cells` scored (the learned score averages both).
    pub reverse_congruent_cells: usize,
    pub reverse_valid_cells: usize,
}

impl From<Candidate> for CandidateDto {
    fn from(c: Candidate) -> Self {
        CandidateDto {
            casing_id: c.casing.casing_id,
            agency: c.casing.agency,
            score: c.comparison.score,
            marks: c.marks.into(),
            log10_lr: c.log10_lr,
            calibration: c.calibration,
            lr_withheld: c.lr_withheld,
            descriptor_similarity: c.descriptor_similarity,
            registration: RegistrationDto {
                rotation_deg: c.comparison.rotation_deg,
                dx_um: c.comparison.dx_um,
                dy_um: c.comparison.dy_um,
                overlap_fraction: c.comparison.overlap_fraction,
                registration_ncc: c.comparison.registration_ncc,
            },
            congruent_cells: c.comparison.cells.congruent_cells,
            valid_cells: c.comparison.cells.valid_cells,
            reverse_congruent_cells: c.comparison.reverse_cells.congruent_cells,
            reverse_valid_cells: c.comparison.reverse_cells.valid_cells,
            cells: c
                .comparison
                .cells
                .cells
                .into_iter()
                .map(CellDto::from)
                .collect(),
        }
    }
}

/// `{"casing_id": ..., "candidates": [...]}`, the shape `casetrace
/// candidates --json` prints too. `casing_id` is null for a search by an
/// image that is not on file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CandidateListDto {
    pub casing_id: Option<String>,
    pub candidates: Vec<CandidateDto>,
    /// How many casings were fine-compared for the list: every casing of
    /// the surface kind the caller may see while the collection is small,
    /// else the descriptor index's shortlist.
    pub compared: usize,
}

impl CandidateListDto {
    pub fn new(casing_id: Option<String>, list: CandidateList) -> Self {
        CandidateListDto {
            casing_id,
            compared: list.compared,
            candidates: list
                .candidates
                .into_iter()
                .map(CandidateDto::from)
                .collect(),
        }
    }
}
