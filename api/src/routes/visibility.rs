//! What of a history a caller may see: trace details of the agencies that
//! share traces with it, casings of those that let it correlate. Applied
//! to the engine's histories before they become wire types.

use casetrace_engine::store::CasingRecord;
use casetrace_engine::traces::{CaseHistory, FirearmHistory};

/// The agencies a caller sees, by what it sees of them.
#[derive(Debug, Clone)]
pub struct Sight {
    /// Trace details (own agency and `traces` grantors).
    pub traces: Vec<String>,
    /// Casing details (own agency and `view` grantors).
    pub view: Vec<String>,
    /// Casings by agency and id (own agency and `correlate`/`view` grantors).
    pub correlate: Vec<String>,
}

fn has(list: &[String], agency: &str) -> bool {
    list.iter().any(|a| a == agency)
}

fn case_numbers(casings: &[CasingRecord]) -> Vec<String> {
    let mut cases: Vec<String> = casings
        .iter()
        .filter_map(|c| c.case_number.clone())
        .collect();
    cases.sort();
    cases.dedup();
    cases
}

impl Sight {
    pub fn sees_traces_of(&self, agency: &str) -> bool {
        has(&self.traces, agency)
    }

    pub fn views(&self, agency: &str) -> bool {
        has(&self.view, agency)
    }

    /// A firearm's history with only what the caller may see; `None` when
    /// the firearm itself is not the caller's to see.
    pub fn firearm_history(&self, mut h: FirearmHistory) -> Option<FirearmHistory> {
        if !self.sees_traces_of(&h.firearm.agency) {
            return None;
        }
        h.events.retain(|e| self.sees_traces_of(&e.agency));
        h.time_to_crime
            .retain(|t| h.events.iter().any(|e| e.id == t.recovery_event_id));
        h.linked_casings.retain(|c| self.views(&c.agency));
        h.hits.retain(|l| {
            self.views(&l.query_casing.agency) && self.views(&l.candidate_casing.agency)
        });
        h.linked_cases = case_numbers(&h.linked_casings);
        Some(h)
    }

    /// A case's history with only what the caller may see; `None` when
    /// none of the case's casings is the caller's to see.
    pub fn case_history(&self, mut h: CaseHistory) -> Option<CaseHistory> {
        h.casings.retain(|c| self.views(&c.agency));
        if h.casings.is_empty() {
            return None;
        }
        h.leads.retain(|l| {
            self.views(&l.query_casing.agency) && self.views(&l.candidate_casing.agency)
        });
        h.firearms.retain(|f| self.sees_traces_of(&f.agency));
        h.linked_casings.retain(|c| self.views(&c.agency));
        h.linked_cases = case_numbers(&h.linked_casings);
        Some(h)
    }
}

/// What `caller` sees, from the agreements on file (read once for all
/// three scopes).
pub async fn sight_of(
    state: &crate::app::AppState,
    caller: &crate::auth::Caller,
) -> Result<Sight, crate::error::ApiError> {
    use casetrace_engine::access::Scope;
    use casetrace_engine::store::visible_to;
    let agency = caller.agency();
    let agreements = state.engine.database().agreements(agency).await?;
    Ok(Sight {
        traces: visible_to(agency, &agreements, Scope::Traces),
        view: visible_to(agency, &agreements, Scope::View),
        correlate: visible_to(agency, &agreements, Scope::Correlate),
    })
}
