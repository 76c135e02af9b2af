//! AFTE conclusions on leads and the verification they add up to, on the
//! wire.

use casetrace_engine::traces::{
    AfteConclusion, ConclusionFamily, ConclusionRecord, ConclusionRole, Verification,
    VerificationState,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One step of the AFTE range of conclusions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AfteConclusionDto {
    Identification,
    /// Some agreement of individual characteristics.
    InconclusiveA,
    /// No significant agreement or disagreement.
    InconclusiveB,
    /// Some disagreement.
    InconclusiveC,
    Elimination,
    /// Unsuitable for comparison.
    Unsuitable,
}

impl From<AfteConclusionDto> for AfteConclusion {
    fn from(c: AfteConclusionDto) -> Self {
        match c {
            AfteConclusionDto::Identification => AfteConclusion::Identification,
            AfteConclusionDto::InconclusiveA => AfteConclusion::InconclusiveA,
            AfteConclusionDto::InconclusiveB => AfteConclusion::InconclusiveB,
            AfteConclusionDto::InconclusiveC => AfteConclusion::InconclusiveC,
            AfteConclusionDto::Elimination => AfteConclusion::Elimination,
            AfteConclusionDto::Unsuitable => AfteConclusion::Unsuitable,
        }
    }
}

impl From<AfteConclusion> for AfteConclusionDto {
    fn from(c: AfteConclusion) -> Self {
        match c {
            AfteConclusion::Identification => AfteConclusionDto::Identification,
            AfteConclusion::InconclusiveA => AfteConclusionDto::InconclusiveA,
            AfteConclusion::InconclusiveB => AfteConclusionDto::InconclusiveB,
            AfteConclusion::InconclusiveC => AfteConclusionDto::InconclusiveC,
            AfteConclusion::Elimination => AfteConclusionDto::Elimination,
            AfteConclusion::Unsuitable => AfteConclusionDto::Unsuitable,
        }
    }
}

/// `POST /v1/leads/{id}/conclusions`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewConclusionDto {
    pub conclusion: AfteConclusionDto,
    pub notes: Option<String>,
}

/// Whether a conclusion is the first examination or a verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConclusionRoleDto {
    Primary,
    Verification,
}

impl From<ConclusionRole> for ConclusionRoleDto {
    fn from(r: ConclusionRole) -> Self {
        match r {
            ConclusionRole::Primary => ConclusionRoleDto::Primary,
            ConclusionRole::Verification => ConclusionRoleDto::Verification,
        }
    }
}

/// A conclusion on file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ConclusionDto {
    pub role: ConclusionRoleDto,
    pub conclusion: AfteConclusionDto,
    pub notes: Option<String>,
    /// Who recorded it (the key's holder) and for which agency.
    pub examiner: String,
    pub agency: String,
    pub at: DateTime<Utc>,
}

impl From<ConclusionRecord> for ConclusionDto {
    fn from(c: ConclusionRecord) -> Self {
        ConclusionDto {
            role: c.role.into(),
            conclusion: c.conclusion.into(),
            notes: c.notes,
            examiner: c.examiner,
            agency: c.agency,
            at: c.recorded_at,
        }
    }
}

/// Where a lead's verification stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VerificationStateDto {
    /// No conclusion yet.
    None,
    /// The primary conclusion awaits its verification.
    Awaiting,
    /// Two conclusions (or a majority) agree in family.
    Agree,
    /// The conclusions disagree: another examiner is needed.
    Disagree,
}

/// A lead's verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VerificationDto {
    pub state: VerificationStateDto,
    pub needs_third: bool,
}

impl From<&Verification> for VerificationDto {
    fn from(v: &Verification) -> Self {
        VerificationDto {
            state: match v.state {
                VerificationState::None => VerificationStateDto::None,
                VerificationState::Awaiting => VerificationStateDto::Awaiting,
                VerificationState::Agree => VerificationStateDto::Agree,
                VerificationState::Disagree => VerificationStateDto::Disagree,
            },
            needs_third: v.needs_third,
        }
    }
}

/// The family a verified lead was concluded in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConcludedDto {
    Identification,
    Inconclusive,
    Elimination,
    Unsuitable,
}

impl From<ConclusionFamily> for ConcludedDto {
    fn from(f: ConclusionFamily) -> Self {
        match f {
            ConclusionFamily::Identification => ConcludedDto::Identification,
            ConclusionFamily::Inconclusive => ConcludedDto::Inconclusive,
            ConclusionFamily::Elimination => ConcludedDto::Elimination,
            ConclusionFamily::Unsuitable => ConcludedDto::Unsuitable,
        }
    }
}
