//! An agency, the owner of records, and the rules its registration
//! follows. [`crate::store`] keeps the rows.

use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};

/// An agency, the owner of records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgencyRecord {
    pub id: String,
    pub name: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// The agency's own identifier, e.g. an ORI.
    pub identifier: Option<String>,
}

impl AgencyRecord {
    /// Refuse an id or country a registration may not carry. Ids end up
    /// in paths, audit records and agreements, so they are kept to a plain
    /// lowercase alphabet.
    pub fn check(&self) -> Result<()> {
        check_agency_id(&self.id)?;
        let country_ok =
            self.country.len() == 2 && self.country.bytes().all(|b| b.is_ascii_uppercase());
        if !country_ok {
            return Err(EngineError::InvalidMetadata {
                field: "country".into(),
                reason: format!(
                    "{:?} is not an ISO 3166-1 alpha-2 code such as DE",
                    self.country
                ),
            });
        }
        Ok(())
    }
}

/// Refuse what is not an agency id: 1-64 of a-z, 0-9, `-` and `_`.
fn check_agency_id(id: &str) -> Result<()> {
    let ok = (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(EngineError::InvalidMetadata {
            field: "agency".into(),
            reason: format!("{id:?} is not an agency id: 1-64 of a-z, 0-9, -, _"),
        })
    }
}
