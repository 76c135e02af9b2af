//! Wire types: what the REST API sends and receives, apart from the
//! engine's own types so either can change without silently changing the
//! other. Each is converted from its engine type with `From`, and carries a
//! `utoipa::ToSchema` derive for the OpenAPI document.

mod access;
mod candidate;
mod casing;
mod conclusion;
mod error;
mod firearm;
mod health;
mod import;
mod lead;
mod lead_list;
mod query;
mod submission;
mod surface;
mod trace;
mod whoami;

pub use access::{
    AgreementDto, AuditQueryDto, AuditRecordDto, IssuedKeyDto, KeyDto, NewAgreementDto, NewKeyDto,
};
pub use candidate::{CandidateDto, CandidateListDto, CellDto, MarksDto, RegistrationDto};
pub use casing::{CasingDto, CasingKindDto};
pub use conclusion::{
    AfteConclusionDto, ConcludedDto, ConclusionDto, ConclusionRoleDto, NewConclusionDto,
    VerificationDto, VerificationStateDto,
};
pub use error::ErrorDto;
pub use firearm::{
    CasingRefDto, FirearmDto, NewFirearmDto, NewTraceEventDto, SerialMatchDto, SerialSearchDto,
    TraceEventDto, TraceEventKindDto,
};
pub use health::{HealthDto, IndexLagDto, QueueDepthDto};
pub use import::{ImportCountsDto, ImportForm, ImportJobDto, ImportPathDto, ImportRowErrorDto};
pub use lead::{
    CaseHistoryDto, DecisionDto, FirearmHistoryDto, LeadDecisionDto, LeadDto, LeadStatusDto,
    NewLeadDto, TimeToCrimeDto,
};
pub use lead_list::{
    LeadCountsDto, LeadListDto, LeadSortDto, LeadStatusFilterDto, LeadsQuery, DEFAULT_LEADS_PAGE,
    MAX_LEADS_PAGE,
};
pub use query::{
    CandidatesQuery, CasingQuery, SearchQuery, SerialModeDto, SerialSearchQuery, SubmitQuery,
    DEFAULT_AGENCY, DEFAULT_LIMIT, MAX_LIMIT,
};
pub use submission::{
    SearchForm, SearchMetadataDto, SubmissionMetadataDto, SubmitForm, SubmitResponseDto,
};
pub use surface::{
    ComparisonDto, ComparisonQuery, HeightsDto, PairCellDto, SurfaceFormatDto, SurfaceKindDto,
    SurfaceQuery,
};
pub use trace::{TraceImportDto, TraceOutcomeDto, TraceRequestDto, TraceRowErrorDto};
pub use whoami::WhoamiDto;
