//! The health check's answer.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `GET /healthz`: the server is up and its database answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HealthDto {
    #[schema(example = "ok")]
    pub status: String,
    /// Casings in the database.
    pub casings: u64,
    /// Casings the descriptor index can return; equal to `casings` unless
    /// a submission is in flight.
    pub indexed: u64,
    /// Version of the descriptor model in use.
    pub model_version: String,
}
