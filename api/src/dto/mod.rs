//! Wire types: what the REST API sends and receives, apart from the
//! engine's own types so either can change without silently changing the
//! other. Each is converted from its engine type with `From`, and carries a
//! `utoipa::ToSchema` derive for the OpenAPI document.

mod candidate;
mod casing;
mod error;
mod health;
mod import;
mod query;
mod submission;

pub use candidate::{CandidateDto, CandidateListDto, CellDto, RegistrationDto};
pub use casing::{CasingDto, CasingKindDto};
pub use error::ErrorDto;
pub use health::HealthDto;
pub use import::{ImportCountsDto, ImportForm, ImportJobDto, ImportPathDto, ImportRowErrorDto};
pub use query::{
    CandidatesQuery, CasingQuery, SearchQuery, SubmitQuery, DEFAULT_AGENCY, DEFAULT_LIMIT,
    MAX_LIMIT,
};
pub use submission::{
    SearchForm, SearchMetadataDto, SubmissionMetadataDto, SubmitForm, SubmitResponseDto,
};
