//! A sharing agreement between two agencies. What it lets the grantee see
//! is decided in [`super::policy`]; [`crate::store`] keeps the rows.

use serde::{Deserialize, Serialize};

use super::Scope;
use crate::error::{EngineError, Result};

/// One agreement: `owner` lets `grantee` use its records under `scope`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgreementRecord {
    pub owner: String,
    pub grantee: String,
    pub scope: Scope,
}

impl AgreementRecord {
    /// Refuse an agreement of an agency with itself: it sees its own
    /// records always, and a row saying so would only mislead.
    pub fn check(&self) -> Result<()> {
        if self.owner == self.grantee {
            return Err(EngineError::InvalidMetadata {
                field: "grantee".into(),
                reason: "an agency always sees its own records".into(),
            });
        }
        Ok(())
    }
}
