//! `GET /v1/leads`: the agency's lead list, its filters and counts.

use casetrace_engine::traces::{LeadCounts, LeadFilter, LeadPage, LeadSort, LeadStatus};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::LeadDto;
use crate::error::ApiError;

/// Longest page of a lead list, and its default.
pub const MAX_LEADS_PAGE: usize = 500;
pub const DEFAULT_LEADS_PAGE: usize = 100;

/// Which leads by status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LeadStatusFilterDto {
    /// Open leads (the default).
    #[default]
    Lead,
    Hit,
    Excluded,
    Any,
}

/// How a lead list is ordered, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LeadSortDto {
    /// By log10 LR, then by score (the default).
    #[default]
    Lr,
    Score,
}

/// `GET /v1/leads?...`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LeadsQuery {
    /// `lead` (open, the default), `hit`, `excluded` or `any`.
    #[param(inline)]
    pub status: Option<LeadStatusFilterDto>,
    /// The query casing's case number, exactly.
    pub case_number: Option<String>,
    /// The query casing's calibre, exactly.
    pub calibre: Option<String>,
    /// Leads taken up at or after this time: RFC 3339, or a date (its
    /// start, UTC).
    pub since: Option<String>,
    /// Leads taken up at or before this time: RFC 3339, or a date (its
    /// end, UTC).
    pub until: Option<String>,
    /// `lr` (log10 LR then score, the default) or `score`; best first.
    #[param(inline)]
    pub sort: Option<LeadSortDto>,
    /// Page length, 1-500 (default 100).
    pub limit: Option<usize>,
    /// Leads to skip (default 0).
    pub offset: Option<usize>,
}

impl LeadsQuery {
    /// The engine's filter, or what is wrong with the query.
    pub fn into_filter(self) -> Result<LeadFilter, ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_LEADS_PAGE);
        if !(1..=MAX_LEADS_PAGE).contains(&limit) {
            return Err(ApiError::invalid_query(format!(
                "limit must be between 1 and {MAX_LEADS_PAGE}, got {limit}"
            )));
        }
        let status = match self.status.unwrap_or_default() {
            LeadStatusFilterDto::Lead => Some(LeadStatus::Lead),
            LeadStatusFilterDto::Hit => Some(LeadStatus::Hit),
            LeadStatusFilterDto::Excluded => Some(LeadStatus::Excluded),
            LeadStatusFilterDto::Any => None,
        };
        Ok(LeadFilter {
            status,
            case_number: self.case_number,
            calibre: self.calibre,
            since: self
                .since
                .as_deref()
                .map(|t| parse_time("since", t, start_of_day()))
                .transpose()?,
            until: self
                .until
                .as_deref()
                .map(|t| parse_time("until", t, end_of_day()))
                .transpose()?,
            sort: match self.sort.unwrap_or_default() {
                LeadSortDto::Lr => LeadSort::Lr,
                LeadSortDto::Score => LeadSort::Score,
            },
            limit,
            offset: self.offset.unwrap_or(0),
        })
    }
}

fn start_of_day() -> NaiveTime {
    NaiveTime::from_hms_opt(0, 0, 0).unwrap_or_default()
}

fn end_of_day() -> NaiveTime {
    NaiveTime::from_hms_milli_opt(23, 59, 59, 999).unwrap_or_default()
}

/// An RFC 3339 time, or a date taken at `time_of_day` UTC.
fn parse_time(name: &str, text: &str, time_of_day: NaiveTime) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map(|d| d.and_time(time_of_day).and_utc())
        .map_err(|_| {
            ApiError::invalid_query(format!(
                "{name} must be an RFC 3339 time or a date (YYYY-MM-DD), got {text:?}"
            ))
        })
}

/// How many leads match the filter without its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LeadCountsDto {
    pub lead: usize,
    pub hit: usize,
    pub excluded: usize,
    /// Open leads whose primary conclusion awaits verification.
    pub needs_verification: usize,
    /// Open leads whose conclusions disagree.
    pub disagreement: usize,
}

impl From<LeadCounts> for LeadCountsDto {
    fn from(c: LeadCounts) -> Self {
        LeadCountsDto {
            lead: c.lead,
            hit: c.hit,
            excluded: c.excluded,
            needs_verification: c.needs_verification,
            disagreement: c.disagreement,
        }
    }
}

/// One page of the agency's leads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LeadListDto {
    pub leads: Vec<LeadDto>,
    pub counts: LeadCountsDto,
    /// Leads matching the whole filter, over every page.
    pub total: usize,
}

impl From<LeadPage> for LeadListDto {
    fn from(p: LeadPage) -> Self {
        LeadListDto {
            leads: p.leads.into_iter().map(Into::into).collect(),
            counts: p.counts.into(),
            total: p.total,
        }
    }
}
