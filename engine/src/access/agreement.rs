//! A sharing agreement between two agencies. What it lets the grantee see
//! is decided in [`super::policy`]; [`crate::store`] keeps the rows.

use serde::{Deserialize, Serialize};

use super::{Principal, Scope};
use crate::error::{EngineError, Result};

/// One agreement: `owner` lets `grantee` use its records under `scope`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgreementRecord {
    pub owner: String,
    pub grantee: String,
    pub scope: Scope,
}

impl AgreementRecord {
    /// The agreement `caller`'s agency grants, or ends, with `grantee`:
    /// an agency only ever gives away sight of its own records, so the
    /// owner is always the caller's agency.
    pub fn granted_by(caller: &Principal, grantee: &str, scope: Scope) -> Self {
        AgreementRecord {
            owner: caller.agency.clone(),
            grantee: grantee.to_string(),
            scope,
        }
    }

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
