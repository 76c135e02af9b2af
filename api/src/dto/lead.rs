//! Leads and histories on the wire.

use casetrace_engine::traces::{CaseHistory, FirearmHistory, TimeToCrime};
use casetrace_engine::traces::{LeadRecord, LeadStatus, LeadView};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    CasingDto, CasingRefDto, ConcludedDto, ConclusionDto, FirearmDto, TraceEventDto,
    VerificationDto,
};

/// Where an examiner's review of a candidate stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LeadStatusDto {
    /// Taken up, not yet decided.
    Lead,
    /// Confirmed: fired by the same firearm.
    Hit,
    /// Ruled out.
    Excluded,
}

impl From<LeadStatus> for LeadStatusDto {
    fn from(s: LeadStatus) -> Self {
        match s {
            LeadStatus::Lead => Self::Lead,
            LeadStatus::Hit => Self::Hit,
            LeadStatus::Excluded => Self::Excluded,
        }
    }
}

/// `POST /v1/leads`: take up a candidate the engine offered.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLeadDto {
    /// The examiner's agency: the key's own (the default).
    pub agency: Option<String>,
    /// The casing searched with.
    pub query: CasingRefDto,
    /// The candidate it was offered.
    pub candidate: CasingRefDto,
    pub comment: Option<String>,
}

/// What an examiner decided about a lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecisionDto {
    Hit,
    Excluded,
}

/// `POST /v1/leads/{id}/decision`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeadDecisionDto {
    pub decision: DecisionDto,
    pub comment: Option<String>,
}

impl From<DecisionDto> for LeadStatus {
    fn from(d: DecisionDto) -> Self {
        match d {
            DecisionDto::Hit => LeadStatus::Hit,
            DecisionDto::Excluded => LeadStatus::Excluded,
        }
    }
}

/// A lead on file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LeadDto {
    pub id: i64,
    pub agency: String,
    pub query: CasingRefDto,
    pub candidate: CasingRefDto,
    pub status: LeadStatusDto,
    pub comment: Option<String>,
    pub marked_by: String,
    pub marked_at: DateTime<Utc>,
    /// When the lead was taken up (the same as `marked_at`).
    pub created_at: DateTime<Utc>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    /// The pair's breech-face score when the lead was taken up, as its
    /// candidate list scored it; null when the pair could not be
    /// registered or the lead predates scores on leads.
    pub score: Option<f64>,
    /// Its calibrated log10 likelihood ratio; null when no calibration
    /// covered the pair.
    pub log10_lr: Option<f64>,
    /// The query casing's case number and calibre.
    pub case_number: Option<String>,
    pub calibre: Option<String>,
    /// True when the correlation queue made the lead (a candidate whose
    /// calibrated log10 LR reached the threshold; `marked_by` is then
    /// `correlator`), false when an examiner took it up by hand.
    pub automatic: bool,
    /// Where the lead's verification stands; null in histories, which do
    /// not report it.
    pub verification: Option<VerificationDto>,
    /// The verified conclusion's family, once two conclusions agree (an
    /// inconclusive or unsuitable lead stays `lead`, concluded here).
    pub conclusion: Option<ConcludedDto>,
    /// The conclusions on the lead: only for a caller who has recorded one
    /// itself (or an auditor); empty for anyone else, so a verifier is
    /// blind to the primary examiner's conclusion.
    pub conclusions: Vec<ConclusionDto>,
    /// How many conclusions are withheld from the caller.
    pub conclusions_hidden: usize,
}

impl From<LeadRecord> for LeadDto {
    /// A lead as histories show it: without its conclusions.
    fn from(r: LeadRecord) -> Self {
        LeadDto {
            id: r.id,
            agency: r.agency,
            query: r.query_casing.into(),
            candidate: r.candidate_casing.into(),
            status: r.status.into(),
            comment: r.comment,
            marked_by: r.marked_by,
            marked_at: r.marked_at,
            created_at: r.marked_at,
            decided_by: r.decided_by,
            decided_at: r.decided_at,
            score: r.score,
            log10_lr: r.log10_lr,
            case_number: r.case_number,
            calibre: r.calibre,
            automatic: r.automatic,
            verification: None,
            conclusion: None,
            conclusions: Vec::new(),
            conclusions_hidden: 0,
        }
    }
}

impl From<LeadView> for LeadDto {
    fn from(v: LeadView) -> Self {
        let verification = VerificationDto::from(&v.verification);
        LeadDto {
            verification: Some(verification),
            conclusion: v.verification.concluded.map(Into::into),
            conclusions: v.conclusions.into_iter().map(Into::into).collect(),
            conclusions_hidden: v.conclusions_hidden,
            ..LeadDto::from(v.lead)
        }
    }
}

/// Days from the last retail sale before a recovery to that recovery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TimeToCrimeDto {
    pub recovery_event_id: i64,
    #[schema(value_type = String, format = Date)]
    pub recovered_on: NaiveDate,
    /// Null when no retail sale before the recovery is on file.
    pub days: Option<i64>,
}

impl From<TimeToCrime> for TimeToCrimeDto {
    fn from(t: TimeToCrime) -> Self {
        TimeToCrimeDto {
            recovery_event_id: t.recovery_event_id,
            recovered_on: t.recovered_on,
            days: t.days,
        }
    }
}

/// Everything known about a firearm, in time order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FirearmHistoryDto {
    pub firearm: FirearmDto,
    /// Oldest first.
    pub events: Vec<TraceEventDto>,
    pub time_to_crime: Vec<TimeToCrimeDto>,
    /// Its test-fire casings and every casing linked to them by hits.
    pub linked_casings: Vec<CasingDto>,
    /// The confirmed hits that link them.
    pub hits: Vec<LeadDto>,
    /// Cases of the linked casings, sorted.
    pub linked_cases: Vec<String>,
}

impl From<FirearmHistory> for FirearmHistoryDto {
    fn from(h: FirearmHistory) -> Self {
        FirearmHistoryDto {
            firearm: h.firearm.into(),
            events: h.events.into_iter().map(Into::into).collect(),
            time_to_crime: h.time_to_crime.into_iter().map(Into::into).collect(),
            linked_casings: h.linked_casings.into_iter().map(Into::into).collect(),
            hits: h.hits.into_iter().map(Into::into).collect(),
            linked_cases: h.linked_cases,
        }
    }
}

/// Everything known about a case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CaseHistoryDto {
    pub case_number: String,
    pub casings: Vec<CasingDto>,
    /// Every lead touching the case's casings, whatever its status.
    pub leads: Vec<LeadDto>,
    /// Other cases linked to this one by hits, sorted.
    pub linked_cases: Vec<String>,
    /// Firearms the linked casings lead to through test fires.
    pub firearms: Vec<FirearmDto>,
}

impl From<CaseHistory> for CaseHistoryDto {
    fn from(h: CaseHistory) -> Self {
        CaseHistoryDto {
            case_number: h.case_number,
            casings: h.casings.into_iter().map(Into::into).collect(),
            leads: h.leads.into_iter().map(Into::into).collect(),
            linked_cases: h.linked_cases,
            firearms: h.firearms.into_iter().map(Into::into).collect(),
        }
    }
}
