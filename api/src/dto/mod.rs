//! Wire types: what the REST API sends and receives, apart from the
//! engine's own types so either can change without silently changing the
//! other. Each is converted from its engine type with `From`, and carries a
//! `utoipa::ToSchema` derive for the OpenAPI document.

mod access;
mod candidate;
mod casing;
mod error;
mod firearm;
mod health;
mod import;
mod lead;
mod query;
mod submission;
mod trace;

pub use access::{
    AgreementDto, AuditQueryDto, AuditRecordDto, IssuedKeyDto, KeyDto, NewAgreementDto, NewKeyDto,
};
pub use candidate::{CandidateDto, CandidateListDto, CellDto, MarksDto, RegistrationDto};
pub use casing::{CasingDto, CasingKindDto};
pub use error::ErrorDto;
pub use firearm::{
    CasingRefDto, FirearmDto, NewFirearmDto, NewTraceEventDto, SerialMatchDto, SerialSearchDto,
    TraceEventDto, TraceEventKindDto,
};
pub use health::{HealthDto, IndexLagDto};
pub use import::{ImportCountsDto, ImportForm, ImportJobDto, ImportPathDto, ImportRowErrorDto};
pub use lead::{
    CaseHistoryDto, DecisionDto, FirearmHistoryDto, LeadDecisionDto, LeadDto, LeadStatusDto,
    NewLeadDto, TimeToCrimeDto,
};
pub use query::{
    CandidatesQuery, CasingQuery, SearchQuery, SerialModeDto, SerialSearchQuery, SubmitQuery,
    DEFAULT_AGENCY, DEFAULT_LIMIT, MAX_LIMIT,
};
pub use submission::{
    SearchForm, SearchMetadataDto, SubmissionMetadataDto, SubmitForm, SubmitResponseDto,
};
pub use trace::{TraceImportDto, TraceOutcomeDto, TraceRequestDto, TraceRowErrorDto};
