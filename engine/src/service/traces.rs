//! Traces, leads and histories through the engine: the calls the REST API
//! and the command line share. The records and rules live in
//! [`crate::traces`], storage in [`crate::store`], the history reads in
//! `history.rs`; this layer resolves what callers
//! name (casing ids, serials, trace numbers) into rows and decides when a
//! trace lands on a firearm already on file.

use crate::access::policy::{self, hidden, Action};
use crate::access::{Principal, Scope, Sight};
use crate::bulk::TableFormat;
use crate::casing::CasingRecord;
use crate::error::{EngineError, Result};
use crate::store::LeadScores;
use crate::traces::{
    normalise_serial, parse_trace_rows, CaseHistory, FirearmHistory, FirearmRecord, LeadStatus,
    LeadView, NewFirearm, NewTraceEvent, SerialFilters, SerialMatch, SerialQuery, TraceEventKind,
    TraceEventRecord, TraceFirearm, TraceImportReport, TraceOutcome, TraceRowError,
    TraceSubmission,
};

use super::history::{case_history, firearm_history};
use super::Engine;

impl Engine {
    /// Record every row of a trace file (CSV or JSON lines) for `caller`'s
    /// agency. Each row is its own transaction: a bad row is reported and
    /// recorded nothing, the rows around it still load, and a re-run
    /// records only what is new (rows are keyed by the agency's trace
    /// number). A file that cannot be read as a whole is refused before
    /// any row is written. Rows that name no agency are the caller's; a
    /// row naming an agency the caller may not write fails.
    pub async fn import_traces(
        &self,
        caller: &Principal,
        name: &str,
        bytes: &[u8],
        format: TableFormat,
    ) -> Result<TraceImportReport> {
        policy::require(caller, Action::ImportTraces)?;
        let rows = parse_trace_rows(name, bytes, format, &caller.agency, &caller.holder)?;
        let sight = self.sight(caller).await?;
        let mut report = TraceImportReport {
            rows: rows.len(),
            ..TraceImportReport::default()
        };
        for row in rows {
            let reason = match row.submission {
                Err(problem) => problem,
                Ok(sub) if policy::write_agency(caller, Some(&sub.event.agency)).is_err() => {
                    format!(
                        "agency {:?} is not the importer's agency {:?}",
                        sub.event.agency, caller.agency
                    )
                }
                Ok(sub) => match self.record_trace(&sight, sub).await {
                    Ok(o) => {
                        report.recorded += usize::from(o.created);
                        report.duplicates += usize::from(!o.created);
                        report.firearms_created += usize::from(o.created_firearm);
                        continue;
                    }
                    // Server-side failures stop the run: carrying on would
                    // report every later row as failed for the same cause.
                    Err(e @ (EngineError::Database(_) | EngineError::Io { .. })) => return Err(e),
                    Err(e) => e.to_string(),
                },
            };
            report.failed.push(TraceRowError {
                row: row.row_number,
                trace_number: row.trace_number,
                reason,
            });
        }
        Ok(report)
    }

    /// Record a trace for `caller`'s agency. The firearm is the one on
    /// file with the same normalised serial and make among the firearms
    /// the caller sees traces of (its own agency's, and those of agencies
    /// that share traces with it), or a new firearm of the caller's own
    /// when none matches or the serial was obliterated and only partly
    /// restored: another agency's gun is neither shown nor extended
    /// without a `traces` agreement. A trace number already used by the
    /// agency returns the trace recorded then, unchanged.
    pub async fn submit_trace(
        &self,
        caller: &Principal,
        sub: TraceSubmission,
    ) -> Result<TraceOutcome> {
        policy::require(caller, Action::TraceRequest)?;
        policy::write_agency(caller, Some(&sub.event.agency))?;
        let sight = self.sight(caller).await?;
        self.record_trace(&sight, sub).await
    }

    async fn record_trace(&self, sight: &Sight, sub: TraceSubmission) -> Result<TraceOutcome> {
        let db = &self.db;
        let mut event = sub.event;
        if let Some(number) = &event.trace_number {
            if let Some(existing) = db.event_by_trace_number(&event.agency, number).await? {
                let firearm = db.firearm(existing.firearm_id).await?;
                return Ok(TraceOutcome {
                    firearm,
                    event: existing,
                    created_firearm: false,
                    created: false,
                });
            }
        }
        event.casing_pk = self
            .test_fire_casing_pk(&event, sub.test_fire_casing.as_deref())
            .await?;
        let target = match self.firearm_on_file(sight, &sub.firearm).await? {
            Some(id) => TraceFirearm::OnFile(id),
            None => TraceFirearm::New(Box::new(sub.firearm)),
        };
        let created_firearm = matches!(target, TraceFirearm::New(_));
        let (firearm, event) = db.insert_trace(&target, &event).await?;
        Ok(TraceOutcome {
            firearm,
            event,
            created_firearm,
            created: true,
        })
    }

    /// Record an event of `caller`'s agency on a firearm the caller sees
    /// traces of. Examiners record test fires only; investigators any
    /// event.
    pub async fn add_trace_event(
        &self,
        caller: &Principal,
        firearm_id: i64,
        mut event: NewTraceEvent,
        test_fire_casing: Option<&str>,
    ) -> Result<TraceEventRecord> {
        let test_fire = event.kind == TraceEventKind::TestFire;
        policy::require(caller, Action::RecordEvent { test_fire })?;
        policy::write_agency(caller, Some(&event.agency))?;
        let sight = self.sight(caller).await?;
        self.visible_firearm(&sight, firearm_id).await?;
        event.firearm_id = firearm_id;
        event.casing_pk = self.test_fire_casing_pk(&event, test_fire_casing).await?;
        let (_, event) = self
            .db
            .insert_trace(&TraceFirearm::OnFile(firearm_id), &event)
            .await?;
        Ok(event)
    }

    /// Register a firearm of `caller`'s agency with no event yet (e.g. a
    /// lab's reference collection).
    pub async fn register_firearm(
        &self,
        caller: &Principal,
        firearm: &NewFirearm,
    ) -> Result<FirearmRecord> {
        policy::require(caller, Action::RegisterFirearm)?;
        policy::write_agency(caller, Some(&firearm.agency))?;
        self.db.insert_firearm(firearm).await
    }

    /// A firearm on file the caller sees traces of; any other answers as
    /// absent.
    pub async fn firearm(&self, caller: &Principal, id: i64) -> Result<FirearmRecord> {
        policy::require(caller, Action::ReadFirearm)?;
        let sight = self.sight(caller).await?;
        self.visible_firearm(&sight, id).await
    }

    /// Serial search among the firearms the caller sees traces of; the
    /// others are left out by the query, before the result limit.
    pub async fn search_serials(
        &self,
        caller: &Principal,
        query: &SerialQuery,
        filters: &SerialFilters,
    ) -> Result<Vec<SerialMatch>> {
        policy::require(caller, Action::SerialSearch)?;
        let sight = self.sight(caller).await?;
        self.db
            .search_serials(query, filters, sight.agencies(Scope::Traces))
            .await
    }

    /// A firearm's history, cut to what the caller sees.
    pub async fn firearm_history(
        &self,
        caller: &Principal,
        firearm_id: i64,
    ) -> Result<FirearmHistory> {
        policy::require(caller, Action::FirearmHistory)?;
        let sight = self.sight(caller).await?;
        self.visible_firearm(&sight, firearm_id).await?;
        let history = firearm_history(&self.db, firearm_id).await?;
        sight
            .firearm_history(history)
            .ok_or_else(|| hidden(firearm_absent(firearm_id)))
    }

    /// The history of every firearm the caller sees traces of whose
    /// normalised serial equals this one's (usually one; several makes may
    /// share a serial), each cut to what the caller sees.
    pub async fn serial_history(
        &self,
        caller: &Principal,
        serial: &str,
    ) -> Result<Vec<FirearmHistory>> {
        policy::require(caller, Action::FirearmHistory)?;
        let sight = self.sight(caller).await?;
        let query = SerialQuery::Exact {
            serial: serial.to_string(),
        };
        let matches = self
            .db
            .search_serials(
                &query,
                &SerialFilters::default(),
                sight.agencies(Scope::Traces),
            )
            .await?;
        if matches.is_empty() {
            return Err(EngineError::NotFound(format!(
                "firearm with serial {serial:?} (normalised {:?})",
                normalise_serial(serial)
            )));
        }
        let mut out = Vec::with_capacity(matches.len());
        for m in matches {
            let history = firearm_history(&self.db, m.firearm.id).await?;
            out.extend(sight.firearm_history(history));
        }
        Ok(out)
    }

    /// A case's history, cut to what the caller sees. A case none of whose
    /// casings the caller may view answers as absent, after the same
    /// lookup.
    pub async fn case_history(&self, caller: &Principal, case_number: &str) -> Result<CaseHistory> {
        policy::require(caller, Action::CaseHistory)?;
        let sight = self.sight(caller).await?;
        let absent = || EngineError::NotFound(format!("case {case_number:?}"));
        let casings = self.db.casings_of_case(case_number).await?;
        if casings.is_empty() {
            return Err(absent());
        }
        if !casings.iter().any(|c| sight.sees(Scope::View, &c.agency)) {
            return Err(hidden(absent()));
        }
        let history = case_history(&self.db, case_number).await?;
        sight.case_history(history).ok_or_else(|| hidden(absent()))
    }

    /// Take up a candidate as a lead of `caller`'s agency: `query` is the
    /// casing searched with (one the caller may view), `candidate` the one
    /// the engine offered, each as (agency, casing id). A candidate of an
    /// agency that only lets the caller correlate must be one the engine
    /// would offer for the query (in its shortlist), so a lead cannot
    /// probe which casing ids a partner holds. The flag says whether the
    /// lead is new (false: the agency already took up the pair, which is
    /// returned unchanged).
    pub async fn mark_lead(
        &self,
        caller: &Principal,
        query: (&str, &str),
        candidate: (&str, &str),
        comment: Option<&str>,
    ) -> Result<(LeadView, bool)> {
        policy::require(caller, Action::MarkLead)?;
        let sight = self.sight(caller).await?;
        let query = self.viewable_casing(&sight, query.0, query.1).await?;
        let candidate = if sight.sees(Scope::View, candidate.0) {
            self.viewable_casing(&sight, candidate.0, candidate.1)
                .await?
        } else {
            self.offered_candidate(&sight, &query, candidate).await?
        };
        if let Some(lead) = self
            .db
            .lead_of_pair(&caller.agency, query.id, candidate.id)
            .await?
        {
            return Ok((self.view_of(caller, lead).await?, false));
        }
        // The pair's comparison, as the candidate list scored it, is kept
        // with the lead so the lead list can be ordered by it. A pair that
        // cannot be registered (or of two surface kinds) keeps none.
        let scores = match query.id == candidate.id {
            true => LeadScores::default(),
            false => match self
                .compare_records(query.clone(), candidate.clone())
                .await?
            {
                Ok(pair) => LeadScores {
                    score: Some(pair.comparison.score),
                    log10_lr: pair.log10_lr,
                },
                Err(_) => LeadScores::default(),
            },
        };
        let (lead, created) = self
            .db
            .mark_lead(
                &caller.agency,
                query.id,
                candidate.id,
                &caller.holder,
                comment,
                scores,
            )
            .await?;
        Ok((self.view_of(caller, lead).await?, created))
    }

    /// A lead the caller may see: its agency's casings are viewed by the
    /// caller and both its casings are ones the caller may know of.
    pub async fn lead(&self, caller: &Principal, id: i64) -> Result<LeadView> {
        policy::require(caller, Action::ReadLead)?;
        let sight = self.sight(caller).await?;
        let lead = self.db.lead(id).await?;
        if sight.sees_lead(&lead) {
            self.view_of(caller, lead).await
        } else {
            Err(hidden(lead_absent(id)))
        }
    }

    /// Confirm (hit) or exclude a lead; only the agency that took it up
    /// decides it.
    pub async fn decide_lead(
        &self,
        caller: &Principal,
        id: i64,
        status: LeadStatus,
        comment: Option<&str>,
    ) -> Result<LeadView> {
        policy::require(caller, Action::DecideLead)?;
        let sight = self.sight(caller).await?;
        let lead = self.db.lead(id).await?;
        if !sight.decides_lead(&lead) {
            return Err(hidden(lead_absent(id)));
        }
        let lead = self
            .db
            .decide_lead(id, status, &caller.holder, comment)
            .await?;
        self.view_of(caller, lead).await
    }

    /// The firearm, if `sight` sees its agency's traces; else as absent.
    async fn visible_firearm(&self, sight: &Sight, id: i64) -> Result<FirearmRecord> {
        let firearm = self.db.firearm(id).await?;
        if sight.sees(Scope::Traces, &firearm.agency) {
            Ok(firearm)
        } else {
            Err(hidden(firearm_absent(id)))
        }
    }

    /// A correlate-only candidate: the casing, when it is among the casings
    /// the index shortlists for `query` within the caller's sight (as deep
    /// as the longest candidate list goes) and of the query's surface kind,
    /// as a candidate list would offer it. Absent and not offered answer
    /// alike, after the same index search.
    async fn offered_candidate(
        &self,
        sight: &Sight,
        query: &CasingRecord,
        candidate: (&str, &str),
    ) -> Result<CasingRecord> {
        let absent = || hidden(EngineError::CasingNotFound(candidate.1.to_string()));
        let depth = self.cfg.shortlist.max(MAX_CANDIDATE_LIST) + 1;
        let (_, features) = self.stored_query(&query.agency, &query.casing_id).await?;
        let shortlist = self
            .search_index(
                features.descriptor,
                depth,
                0,
                sight.agencies(Scope::Correlate),
            )
            .await?;
        let found = self
            .db
            .casing_by_casing_id(candidate.0, candidate.1)
            .await?;
        match found {
            Some(c)
                if sight.sees(Scope::Correlate, &c.agency)
                    && c.surface_kind == query.surface_kind
                    && shortlist.iter().any(|(id, _)| *id == c.id) =>
            {
                Ok(c)
            }
            _ => Err(absent()),
        }
    }

    async fn casing_pk(&self, agency: &str, casing_id: &str) -> Result<i64> {
        self.db
            .casing_by_casing_id(agency, casing_id)
            .await?
            .map(|c| c.id)
            .ok_or_else(|| EngineError::CasingNotFound(format!("{agency}/{casing_id}")))
    }

    /// The row id of a test fire's casing; `None` for other events. A test
    /// fire without a casing, or another event with one, is refused.
    async fn test_fire_casing_pk(
        &self,
        event: &NewTraceEvent,
        casing: Option<&str>,
    ) -> Result<Option<i64>> {
        match (event.kind, casing) {
            (TraceEventKind::TestFire, Some(id)) => {
                Ok(Some(self.casing_pk(&event.agency, id).await?))
            }
            (TraceEventKind::TestFire, None) => Err(EngineError::InvalidMetadata {
                field: "casing_id".into(),
                reason: "a test fire names the lab's test-fire casing".into(),
            }),
            (_, Some(_)) => Err(EngineError::InvalidMetadata {
                field: "casing_id".into(),
                reason: format!("only a test fire names a casing, not a {}", event.kind),
            }),
            (_, None) => Ok(None),
        }
    }

    /// The firearm on file a trace of `firearm` belongs to, if any, among
    /// the firearms `sight` sees traces of: same normalised serial, and
    /// same make when both name one. A serial that was obliterated always
    /// makes a new firearm, since its restored reading may be wrong; an
    /// examiner links it by test fire instead.
    async fn firearm_on_file(&self, sight: &Sight, firearm: &NewFirearm) -> Result<Option<i64>> {
        if firearm.obliterated {
            return Ok(None);
        }
        let query = SerialQuery::Exact {
            serial: firearm.serial.clone(),
        };
        let matches = self
            .db
            .search_serials(
                &query,
                &SerialFilters::default(),
                sight.agencies(Scope::Traces),
            )
            .await?;
        let same_make = |m: &&SerialMatch| match (&firearm.make, &m.firearm.make) {
            (Some(a), Some(b)) => a.trim().eq_ignore_ascii_case(b.trim()),
            _ => true,
        };
        let mut candidates = matches
            .iter()
            .filter(|m| !m.firearm.obliterated)
            .filter(same_make);
        // Ambiguous (two firearms fit) counts as none: a new record is
        // safer than attaching a crime gun's history to the wrong gun.
        match (candidates.next(), candidates.next()) {
            (Some(only), None) => Ok(Some(only.firearm.id)),
            _ => Ok(None),
        }
    }
}

/// The deepest a candidate list goes (the API's `limit` bound): a
/// correlate-only casing may be taken up as a lead when it is this near
/// the query.
pub const MAX_CANDIDATE_LIST: usize = 100;

fn firearm_absent(id: i64) -> EngineError {
    EngineError::NotFound(format!("firearm {id}"))
}

fn lead_absent(id: i64) -> EngineError {
    EngineError::NotFound(format!("lead {id}"))
}
