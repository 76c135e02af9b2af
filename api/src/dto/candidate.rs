//! Ranked candidate lists.

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
}

/// One candidate, best first in its list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CandidateDto {
    #[schema(example = "TW01-02")]
    pub casing_id: String,
    pub agency: String,
    /// Fine comparison score (masked NCC at the best registration) in
    /// [-1, 1], comparable across lists; higher = more likely same firearm.
    #[schema(example = 0.87)]
    pub score: f64,
    /// Cosine similarity of the descriptors (the shortlist's ranking).
    pub descriptor_similarity: f32,
    pub registration: RegistrationDto,
}

impl From<Candidate> for CandidateDto {
    fn from(c: Candidate) -> Self {
        CandidateDto {
            casing_id: c.casing.casing_id,
            agency: c.casing.agency,
            score: c.comparison.score,
            descriptor_similarity: c.descriptor_similarity,
            registration: RegistrationDto {
                rotation_deg: c.comparison.rotation_deg,
                dx_um: c.comparison.dx_um,
                dy_um: c.comparison.dy_um,
                overlap_fraction: c.comparison.overlap_fraction,
            },
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
}

impl CandidateListDto {
    pub fn new(casing_id: Option<String>, list: CandidateList) -> Self {
        CandidateListDto {
            casing_id,
            candidates: list
                .candidates
                .into_iter()
                .map(CandidateDto::from)
                .collect(),
        }
    }
}
