//! The access rules, in one place: what each role may do, what agreements
//! let an agency see of another's records, and how a record the caller
//! may not see is answered (exactly as an absent one). Every engine call
//! that reads or writes records asks here with the caller's
//! [`Principal`]; the REST layer only forwards who is calling. The tests
//! at the bottom are the rules of `docs/access.md`.

use crate::access::{AgreementRecord, Principal, Role, Scope};
use crate::error::{EngineError, Result};
use crate::traces::history::case_numbers;
use crate::traces::{CaseHistory, ConclusionRecord, FirearmHistory, LeadRecord};

/// A set of agencies a query is restricted to. `All` only ever comes from
/// a principal given full access by name: there is no default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Agencies {
    All,
    /// Sorted, without repeats.
    Only(Vec<String>),
}

impl Agencies {
    pub fn contains(&self, agency: &str) -> bool {
        match self {
            Agencies::All => true,
            Agencies::Only(list) => list.iter().any(|a| a == agency),
        }
    }
}

/// The agencies whose records `grantee` may use under `scope`, from the
/// agreements it is party to: itself and every owner whose grant includes
/// the scope, sorted.
pub fn visible_to(grantee: &str, agreements: &[AgreementRecord], scope: Scope) -> Vec<String> {
    let mut owners: Vec<String> = agreements
        .iter()
        .filter(|a| a.grantee == grantee && scope.granted_by().contains(&a.scope))
        .map(|a| a.owner.clone())
        .collect();
    owners.push(grantee.to_string());
    owners.sort();
    owners.dedup();
    owners
}

/// What one principal sees of every agency's records, by scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sight {
    agency: String,
    /// Trace details: firearms, events (own agency and `traces` grantors).
    traces: Agencies,
    /// Casing details and leads (own agency and `view` grantors).
    view: Agencies,
    /// Casings by agency and id (own agency, `correlate` and `view` grantors).
    correlate: Agencies,
}

impl Sight {
    /// What `principal` sees, given the agreements its agency is party to.
    pub fn new(principal: &Principal, agreements: &[AgreementRecord]) -> Sight {
        let of = |scope| match principal.full_access() {
            Some(_) => Agencies::All,
            None => Agencies::Only(visible_to(&principal.agency, agreements, scope)),
        };
        Sight {
            agency: principal.agency.clone(),
            traces: of(Scope::Traces),
            view: of(Scope::View),
            correlate: of(Scope::Correlate),
        }
    }

    /// The agencies seen under `scope`.
    pub fn agencies(&self, scope: Scope) -> &Agencies {
        match scope {
            Scope::Traces => &self.traces,
            Scope::View => &self.view,
            Scope::Correlate => &self.correlate,
        }
    }

    pub fn sees(&self, scope: Scope, agency: &str) -> bool {
        self.agencies(scope).contains(agency)
    }

    /// A lead is its taker's record: seen by the agencies that view the
    /// taker's casings, and only when both of its casings are ones the
    /// caller may know of (a lead must not name a third agency's casing
    /// the caller could not find itself).
    pub fn sees_lead(&self, lead: &LeadRecord) -> bool {
        self.sees(Scope::View, &lead.agency)
            && self.sees(Scope::Correlate, &lead.query_casing.agency)
            && self.sees(Scope::Correlate, &lead.candidate_casing.agency)
    }

    /// Only the agency that took up a lead decides it.
    pub fn decides_lead(&self, lead: &LeadRecord) -> bool {
        lead.agency == self.agency && self.sees_lead(lead)
    }

    /// Whether the caller may see the images (prepared surfaces) of
    /// `agency`'s casings. Decided on the agency alone, before any lookup,
    /// so a `correlate`-only partner learns nothing of which casing ids
    /// exist from the refusal.
    pub fn image_rights(&self, agency: &str) -> ImageRights {
        if self.sees(Scope::View, agency) {
            ImageRights::Granted
        } else if self.sees(Scope::Correlate, agency) {
            ImageRights::NotShared
        } else {
            ImageRights::Hidden
        }
    }

    /// A firearm's history with only what the caller may see; `None` when
    /// the firearm itself is not the caller's to see.
    pub fn firearm_history(&self, mut h: FirearmHistory) -> Option<FirearmHistory> {
        if !self.sees(Scope::Traces, &h.firearm.agency) {
            return None;
        }
        h.events.retain(|e| self.sees(Scope::Traces, &e.agency));
        h.time_to_crime
            .retain(|t| h.events.iter().any(|e| e.id == t.recovery_event_id));
        h.linked_casings
            .retain(|c| self.sees(Scope::View, &c.agency));
        h.hits.retain(|l| self.sees_lead(l));
        h.linked_cases = case_numbers(&h.linked_casings);
        Some(h)
    }

    /// A case's history with only what the caller may see; `None` when
    /// none of the case's casings is the caller's to see.
    pub fn case_history(&self, mut h: CaseHistory) -> Option<CaseHistory> {
        h.casings.retain(|c| self.sees(Scope::View, &c.agency));
        if h.casings.is_empty() {
            return None;
        }
        h.leads.retain(|l| self.sees_lead(l));
        h.firearms.retain(|f| self.sees(Scope::Traces, &f.agency));
        h.linked_casings
            .retain(|c| self.sees(Scope::View, &c.agency));
        h.linked_cases = case_numbers(&h.linked_casings);
        Some(h)
    }
}

/// What a caller may do with a casing's images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageRights {
    /// Own agency or a `view` agreement: surfaces and comparisons.
    Granted,
    /// A `correlate`-only agreement: ranks and scores, no image (403).
    NotShared,
    /// No agreement: the casing answers as absent (404).
    Hidden,
}

/// Whether `principal` may read the conclusions on a lead: only once it
/// has recorded its own (so a verifier is blind to the primary examiner's
/// conclusion until then), or as an auditor.
pub fn sees_conclusions(principal: &Principal, conclusions: &[ConclusionRecord]) -> bool {
    principal.has(Role::Auditor)
        || principal
            .key_id
            .as_deref()
            .is_some_and(|k| conclusions.iter().any(|c| c.key_id == k))
}

/// Everything a caller can ask the engine to do, by the role it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    SubmitCasing,
    ReadCasing,
    Candidates,
    SearchImage,
    MarkLead,
    DecideLead,
    ReadLead,
    /// The agency's lead list (the examiner workspace).
    ListLeads,
    /// Recording an AFTE conclusion on a lead.
    RecordConclusion,
    /// A casing's prepared surface, or a registered pair of them.
    ReadImage,
    CaseHistory,
    TraceRequest,
    RegisterFirearm,
    ReadFirearm,
    SerialSearch,
    FirearmHistory,
    /// Recording an event on a firearm: labs record their test fires,
    /// investigators everything else.
    RecordEvent {
        test_fire: bool,
    },
    ImportCasings,
    ImportTraces,
    ReadImport,
    ReadAudit,
    ReadAgreements,
    ManageKeys,
    ManageAgreements,
}

impl Action {
    /// The roles of which a key needs one (the table of docs/access.md).
    pub fn roles(self) -> &'static [Role] {
        use Role::*;
        match self {
            Action::SubmitCasing
            | Action::Candidates
            | Action::SearchImage
            | Action::MarkLead
            | Action::DecideLead
            | Action::ListLeads
            | Action::RecordConclusion
            | Action::ReadImage => &[Examiner],
            Action::ReadCasing | Action::ReadLead | Action::CaseHistory => {
                &[Examiner, Investigator]
            }
            Action::TraceRequest
            | Action::RegisterFirearm
            | Action::ReadFirearm
            | Action::SerialSearch
            | Action::FirearmHistory
            | Action::RecordEvent { test_fire: false } => &[Investigator],
            Action::RecordEvent { test_fire: true } => &[Investigator, Examiner],
            Action::ImportCasings | Action::ImportTraces | Action::ReadImport => &[Importer],
            Action::ReadAudit => &[Auditor],
            Action::ReadAgreements => &[Auditor, Admin],
            Action::ManageKeys | Action::ManageAgreements => &[Admin],
        }
    }
}

/// Refuse unless `principal` holds one of `roles` (403, naming them).
pub fn require_any(principal: &Principal, roles: &[Role]) -> Result<()> {
    if roles.iter().any(|r| principal.has(*r)) {
        return Ok(());
    }
    let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    Err(EngineError::Forbidden(format!(
        "this needs the role {} (the key has {})",
        names.join(" or "),
        Role::join(&principal.roles)
    )))
}

/// Refuse unless `principal` may do `action`.
pub fn require(principal: &Principal, action: Action) -> Result<()> {
    require_any(principal, action.roles())
}

/// Refuse unless `principal` is the machine's operator (full access asked
/// for by name): registering agencies and the upkeep of the whole audit
/// log are not any agency's to do. `what` names the refused call.
pub fn require_operator(principal: &Principal, what: &str) -> Result<()> {
    match principal.full_access() {
        Some(_) => Ok(()),
        None => Err(EngineError::Forbidden(format!(
            "{what} is for the machine's operator at the command line only"
        ))),
    }
}

/// The agency a write goes to: the principal's own. Naming another is
/// refused, whoever asks: agencies write only their own records (the
/// local administrator acts for the agency it was opened for).
pub fn write_agency(principal: &Principal, named: Option<&str>) -> Result<String> {
    match named {
        None => Ok(principal.agency.clone()),
        Some(a) if a == principal.agency => Ok(a.to_string()),
        Some(a) => Err(EngineError::Forbidden(format!(
            "a key of agency {:?} cannot write records of agency {a:?}",
            principal.agency
        ))),
    }
}

/// A record the caller may not see, answered exactly as `absent` (the
/// error an absent record gives) and recorded as a denial.
pub fn hidden(absent: EngineError) -> EngineError {
    EngineError::Hidden(Box::new(absent))
}

/// Whether a lone manifest's rows may name files anywhere on the machine
/// (the operator's own command line), rather than only under its folder.
pub fn may_read_outside_source(principal: &Principal) -> bool {
    principal.full_access().is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(agency: &str, roles: &[Role]) -> Principal {
        Principal::key_holder(agency, "someone", Some("k".into()), roles.to_vec())
    }

    fn grant(owner: &str, grantee: &str, scope: Scope) -> AgreementRecord {
        AgreementRecord {
            owner: owner.into(),
            grantee: grantee.into(),
            scope,
        }
    }

    #[test]
    fn each_role_may_do_what_the_role_table_says_and_nothing_else() {
        let may = |role: Role, action: Action| require(&key("a", &[role]), action).is_ok();
        use Action::*;
        for action in [
            SubmitCasing,
            Candidates,
            SearchImage,
            MarkLead,
            DecideLead,
            ListLeads,
            RecordConclusion,
            ReadImage,
        ] {
            assert!(may(Role::Examiner, action), "{action:?}");
            assert!(!may(Role::Investigator, action), "{action:?}");
        }
        for action in [ReadCasing, ReadLead, CaseHistory] {
            assert!(may(Role::Examiner, action) && may(Role::Investigator, action));
        }
        for action in [
            TraceRequest,
            RegisterFirearm,
            ReadFirearm,
            SerialSearch,
            FirearmHistory,
        ] {
            assert!(may(Role::Investigator, action), "{action:?}");
            assert!(!may(Role::Examiner, action), "{action:?}");
        }
        for action in [ImportCasings, ImportTraces, ReadImport] {
            assert!(may(Role::Importer, action));
            assert!(!may(Role::Examiner, action) && !may(Role::Admin, action));
        }
        assert!(may(Role::Auditor, ReadAudit) && !may(Role::Admin, ReadAudit));
        assert!(may(Role::Admin, ManageKeys) && !may(Role::Auditor, ManageKeys));
        assert!(may(Role::Auditor, ReadAgreements) && may(Role::Admin, ReadAgreements));
        let err = require(&key("a", &[Role::Auditor]), SubmitCasing).unwrap_err();
        assert!(err.to_string().contains("examiner"), "{err}");
    }

    #[test]
    fn examiners_record_test_fires_only_investigators_any_event() {
        let examiner = key("a", &[Role::Examiner]);
        let investigator = key("a", &[Role::Investigator]);
        assert!(require(&examiner, Action::RecordEvent { test_fire: true }).is_ok());
        assert!(require(&examiner, Action::RecordEvent { test_fire: false }).is_err());
        assert!(require(&investigator, Action::RecordEvent { test_fire: false }).is_ok());
        assert!(require(&investigator, Action::RecordEvent { test_fire: true }).is_ok());
    }

    #[test]
    fn writes_go_to_the_callers_own_agency_only() {
        let p = key("fr-pts", &[Role::Examiner]);
        assert_eq!(write_agency(&p, None).unwrap(), "fr-pts");
        assert_eq!(write_agency(&p, Some("fr-pts")).unwrap(), "fr-pts");
        assert!(matches!(
            write_agency(&p, Some("de-bka")),
            Err(EngineError::Forbidden(_))
        ));
        let admin = Principal::local_admin("local", "test");
        assert!(write_agency(&admin, Some("de-bka")).is_err());
    }

    #[test]
    fn agreements_decide_sight_view_includes_correlate_not_traces() {
        let agreements = [
            grant("de-bka", "fr-pts", Scope::View),
            grant("nl-nfi", "fr-pts", Scope::Correlate),
            grant("be-inc", "fr-pts", Scope::Traces),
            grant("fr-pts", "de-bka", Scope::Traces),
        ];
        let sight = Sight::new(&key("fr-pts", &[Role::Examiner]), &agreements);
        assert!(sight.sees(Scope::View, "fr-pts") && sight.sees(Scope::View, "de-bka"));
        assert!(!sight.sees(Scope::View, "nl-nfi"));
        assert!(sight.sees(Scope::Correlate, "de-bka") && sight.sees(Scope::Correlate, "nl-nfi"));
        assert!(!sight.sees(Scope::Correlate, "be-inc"));
        assert!(sight.sees(Scope::Traces, "be-inc") && !sight.sees(Scope::Traces, "de-bka"));
        // A grant the other way round gives nothing.
        let de = Sight::new(&key("de-bka", &[Role::Examiner]), &agreements);
        assert!(!de.sees(Scope::View, "fr-pts") && de.sees(Scope::Traces, "fr-pts"));
        assert_eq!(
            sight.agencies(Scope::Correlate),
            &Agencies::Only(vec!["de-bka".into(), "fr-pts".into(), "nl-nfi".into()])
        );
    }

    #[test]
    fn only_a_principal_given_full_access_by_name_sees_everything() {
        let admin = Principal::local_admin("local", "command line");
        assert_eq!(admin.full_access(), Some("command line"));
        let sight = Sight::new(&admin, &[]);
        assert_eq!(sight.agencies(Scope::Traces), &Agencies::All);
        let with_every_role = key("local", &Role::ALL);
        assert_eq!(with_every_role.full_access(), None);
        assert_eq!(
            Sight::new(&with_every_role, &[]).agencies(Scope::View),
            &Agencies::Only(vec!["local".into()])
        );
        // A principal read back from JSON never carries full access.
        let json = serde_json::to_string(&admin).unwrap();
        let back: Principal = serde_json::from_str(&json).unwrap();
        assert_eq!(back.full_access(), None);
        assert!(may_read_outside_source(&admin) && !may_read_outside_source(&back));
        assert!(require_operator(&admin, "registering an agency").is_ok());
        let err = require_operator(&with_every_role, "registering an agency").unwrap_err();
        assert!(matches!(err, EngineError::Forbidden(_)), "{err}");
        assert!(require_operator(&back, "listing every agency").is_err());
    }

    #[test]
    fn images_go_to_own_and_view_partners_correlate_only_is_refused_others_hidden() {
        let agreements = [
            grant("de-bka", "fr-pts", Scope::View),
            grant("nl-nfi", "fr-pts", Scope::Correlate),
            grant("be-inc", "fr-pts", Scope::Traces),
        ];
        let sight = Sight::new(&key("fr-pts", &[Role::Examiner]), &agreements);
        assert_eq!(sight.image_rights("fr-pts"), ImageRights::Granted);
        assert_eq!(sight.image_rights("de-bka"), ImageRights::Granted);
        assert_eq!(sight.image_rights("nl-nfi"), ImageRights::NotShared);
        assert_eq!(sight.image_rights("be-inc"), ImageRights::Hidden);
        assert_eq!(sight.image_rights("xx-none"), ImageRights::Hidden);
        let admin = Sight::new(&Principal::local_admin("local", "test"), &[]);
        assert_eq!(admin.image_rights("nl-nfi"), ImageRights::Granted);
    }

    #[test]
    fn conclusions_are_shown_to_who_recorded_one_and_to_auditors_only() {
        use crate::traces::{AfteConclusion, ConclusionRole};
        let primary = ConclusionRecord {
            id: 1,
            lead_id: 1,
            agency: "a".into(),
            examiner: "first".into(),
            key_id: "k1".into(),
            role: ConclusionRole::Primary,
            conclusion: AfteConclusion::Identification,
            notes: None,
            recorded_at: chrono::Utc::now(),
        };
        let holder = |k: &str, roles: &[Role]| {
            Principal::key_holder("a", "someone", Some(k.into()), roles.to_vec())
        };
        let on_file = std::slice::from_ref(&primary);
        assert!(sees_conclusions(&holder("k1", &[Role::Examiner]), on_file));
        assert!(!sees_conclusions(&holder("k2", &[Role::Examiner]), on_file));
        assert!(sees_conclusions(
            &holder("k3", &[Role::Examiner, Role::Auditor]),
            on_file
        ));
        assert!(!sees_conclusions(&holder("k2", &[Role::Examiner]), &[]));
    }

    #[test]
    fn hidden_records_answer_exactly_as_absent_ones() {
        let absent = EngineError::NotFound("firearm 7".into());
        let hid = hidden(EngineError::NotFound("firearm 7".into()));
        assert_eq!(hid.to_string(), absent.to_string());
        assert!(hid.is_user_error());
    }
}
