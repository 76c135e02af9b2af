//! The examiner workspace's leads: the agency's lead list and the AFTE
//! conclusions that verify a lead. The rules are in [`crate::traces`]
//! (verification, list order and counts) and [`crate::access::policy`]
//! (who may read whose conclusions); this layer applies them.

use super::Engine;
use crate::access::policy::{self, hidden, sees_conclusions, Action};
use crate::access::Principal;
use crate::error::{EngineError, Result};
use crate::traces::{
    lead_page, next_role, verify, AfteConclusion, ConclusionRecord, LeadFilter, LeadPage,
    LeadRecord, LeadStatus, LeadView, NewConclusion, VerificationState,
};

impl Engine {
    /// The caller's agency's leads the caller may see, filtered, counted
    /// and ordered (see [`crate::traces::LeadFilter`]).
    pub async fn leads(&self, caller: &Principal, filter: &LeadFilter) -> Result<LeadPage> {
        policy::require(caller, Action::ListLeads)?;
        let sight = self.sight(caller).await?;
        let mut leads = self.db.leads_of_agency(&caller.agency, filter).await?;
        leads.retain(|l| sight.sees_lead(l));
        let views = self.views_of(caller, leads).await?;
        Ok(lead_page(views, filter))
    }

    /// Record `caller`'s AFTE conclusion on a lead of its agency. The
    /// first conclusion is the primary examination, later ones
    /// verifications; a key concludes once per lead. When two agree in
    /// family an identification makes the lead a hit and an elimination
    /// excludes it, decided by the verifier; inconclusive and unsuitable
    /// leave it open, marked concluded.
    pub async fn record_conclusion(
        &self,
        caller: &Principal,
        lead_id: i64,
        conclusion: AfteConclusion,
        notes: Option<&str>,
    ) -> Result<LeadView> {
        policy::require(caller, Action::RecordConclusion)?;
        let sight = self.sight(caller).await?;
        let lead = self.db.lead(lead_id).await?;
        if !sight.decides_lead(&lead) {
            return Err(hidden(EngineError::NotFound(format!("lead {lead_id}"))));
        }
        if lead.status != LeadStatus::Lead {
            return Err(EngineError::Conflict(format!(
                "lead {lead_id} was decided ({}) already",
                lead.status
            )));
        }
        let key = examiner_key(caller);
        let existing = self.db.conclusions_of_leads(&[lead_id]).await?;
        let role = next_role(&existing, &key)?;
        self.db
            .insert_conclusion(&NewConclusion {
                lead_id,
                agency: caller.agency.clone(),
                examiner: caller.holder.clone(),
                key_id: key,
                role,
                conclusion,
                notes: notes.map(str::to_string),
            })
            .await?;
        let all = self.db.conclusions_of_leads(&[lead_id]).await?;
        let verification = verify(&all);
        if let (VerificationState::Agree, Some(family), Some(by)) = (
            verification.state,
            verification.concluded,
            verification.decided_by.as_deref(),
        ) {
            let status = family.lead_status();
            if status != LeadStatus::Lead {
                self.db.decide_lead(lead_id, status, by, None).await?;
            }
        }
        let lead = self.db.lead(lead_id).await?;
        Ok(view(caller, lead, all))
    }

    /// Each lead as `caller` is shown it, with its conclusions.
    pub(super) async fn views_of(
        &self,
        caller: &Principal,
        leads: Vec<LeadRecord>,
    ) -> Result<Vec<LeadView>> {
        let ids: Vec<i64> = leads.iter().map(|l| l.id).collect();
        let mut conclusions = self.db.conclusions_of_leads(&ids).await?;
        Ok(leads
            .into_iter()
            .map(|lead| {
                let (mine, rest): (Vec<_>, Vec<_>) =
                    conclusions.drain(..).partition(|c| c.lead_id == lead.id);
                conclusions = rest;
                view(caller, lead, mine)
            })
            .collect())
    }

    /// One lead as `caller` is shown it.
    pub(super) async fn view_of(&self, caller: &Principal, lead: LeadRecord) -> Result<LeadView> {
        self.views_of(caller, vec![lead])
            .await?
            .pop()
            .ok_or_else(|| EngineError::internal("a lead lost its view"))
    }
}

/// The lead with its verification, and its conclusions when the caller may
/// read them (blind verification: not before it has recorded its own).
fn view(caller: &Principal, lead: LeadRecord, conclusions: Vec<ConclusionRecord>) -> LeadView {
    let verification = verify(&conclusions);
    if sees_conclusions(caller, &conclusions) {
        LeadView {
            lead,
            verification,
            conclusions,
            conclusions_hidden: 0,
        }
    } else {
        LeadView {
            lead,
            verification,
            conclusions_hidden: conclusions.len(),
            conclusions: Vec::new(),
        }
    }
}

/// What a conclusion is keyed by: the API key, or for the operator at the
/// command line (no key) its holder name.
fn examiner_key(caller: &Principal) -> String {
    caller
        .key_id
        .clone()
        .unwrap_or_else(|| format!("holder:{}", caller.holder))
}
