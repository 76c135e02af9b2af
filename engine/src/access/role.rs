//! Roles a key holds and scopes an agreement grants.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};

/// What a key's holder does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Submits casings, reads candidate lists, marks and decides leads.
    Examiner,
    /// Traces, serial search, firearm and case histories.
    Investigator,
    /// Bulk loads of casings and traces.
    Importer,
    /// Reads the audit log.
    Auditor,
    /// Keys and agreements of its agency.
    Admin,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Examiner,
        Role::Investigator,
        Role::Importer,
        Role::Auditor,
        Role::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Examiner => "examiner",
            Role::Investigator => "investigator",
            Role::Importer => "importer",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }

    /// Roles written comma-separated, e.g. `examiner,investigator`;
    /// sorted and without repeats.
    pub fn parse_list(text: &str) -> Result<Vec<Role>> {
        let mut roles = text
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::parse)
            .collect::<Result<Vec<Role>>>()?;
        roles.sort();
        roles.dedup();
        if roles.is_empty() {
            return Err(invalid("roles", "a key needs at least one role".into()));
        }
        Ok(roles)
    }

    pub fn join(roles: &[Role]) -> String {
        roles
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = EngineError;

    fn from_str(s: &str) -> Result<Self> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                invalid(
                    "roles",
                    format!(
                        "{s:?} is not a role; expected one of: {}",
                        Role::join(&Role::ALL)
                    ),
                )
            })
    }
}

/// What an agreement lets the grantee do with the owner's records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// The owner's casings are candidates for the grantee's submissions and
    /// searches, shown by agency and casing id only.
    Correlate,
    /// Casing details and evidence files; includes correlate.
    View,
    /// Trace details: firearms, events, histories.
    Traces,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Correlate, Scope::View, Scope::Traces];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Correlate => "correlate",
            Scope::View => "view",
            Scope::Traces => "traces",
        }
    }

    /// The stored scopes that grant this one (view includes correlate).
    pub fn granted_by(self) -> &'static [Scope] {
        match self {
            Scope::Correlate => &[Scope::Correlate, Scope::View],
            Scope::View => &[Scope::View],
            Scope::Traces => &[Scope::Traces],
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = EngineError;

    fn from_str(s: &str) -> Result<Self> {
        Scope::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| {
                invalid(
                    "scope",
                    format!("{s:?} is not a scope; expected correlate, view or traces"),
                )
            })
    }
}

fn invalid(field: &str, reason: String) -> EngineError {
    EngineError::InvalidMetadata {
        field: field.into(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_lists_parse_sorted_without_repeats_and_name_bad_roles() {
        assert_eq!(
            Role::parse_list(" investigator,examiner,examiner ").unwrap(),
            [Role::Examiner, Role::Investigator]
        );
        let err = Role::parse_list("examiner,god").unwrap_err().to_string();
        assert!(err.contains("\"god\" is not a role"), "{err}");
        assert!(Role::parse_list(" , ").is_err());
    }

    #[test]
    fn view_includes_correlate_but_not_traces() {
        assert!(Scope::Correlate.granted_by().contains(&Scope::View));
        assert!(!Scope::Traces.granted_by().contains(&Scope::View));
    }
}
