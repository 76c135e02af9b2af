//! Traces, leads and histories through the engine: the calls the REST API
//! and the command line share. Storage and the history queries live in
//! [`crate::store`] and [`crate::traces`]; this layer resolves what callers
//! name (casing ids, serials, trace numbers) into rows and decides when a
//! trace lands on a firearm already on file.

use crate::bulk::TableFormat;
use crate::error::{EngineError, Result};
use crate::store::{
    FirearmRecord, LeadRecord, LeadStatus, NewFirearm, NewTraceEvent, SerialFilters, SerialMatch,
    SerialQuery, TraceEventKind, TraceEventRecord, TraceFirearm,
};
use crate::traces::{
    case_history, firearm_history, normalise_serial, parse_trace_rows, CaseHistory, FirearmHistory,
};

use super::Engine;

/// A trace as it arrives: from a field trace request (a recovery) or an
/// imported row (any kind of event). The event's `firearm_id` and
/// `casing_pk` are filled in by the engine.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceSubmission {
    pub firearm: NewFirearm,
    pub event: NewTraceEvent,
    /// Test fires: the lab's test-fire casing, by its casing id within the
    /// event's agency.
    pub test_fire_casing: Option<String>,
}

/// What a trace submission did.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceOutcome {
    pub firearm: FirearmRecord,
    pub event: TraceEventRecord,
    /// The firearm was not on file before this trace.
    pub created_firearm: bool,
    /// False when the agency's trace number was already on file: nothing
    /// was written and `event` is the one recorded then.
    pub created: bool,
}

/// What a trace import did, row by row.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct TraceImportReport {
    pub rows: usize,
    /// Traces recorded by this run.
    pub recorded: usize,
    /// Rows whose trace number was already on file: nothing written.
    pub duplicates: usize,
    /// Firearms this run created (the rest were on file).
    pub firearms_created: usize,
    pub failed: Vec<TraceRowError>,
}

/// A row that was not recorded, and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TraceRowError {
    pub row: u64,
    pub trace_number: Option<String>,
    pub reason: String,
}

impl Engine {
    /// Record every row of a trace file (CSV or JSON lines). Each row is
    /// its own transaction: a bad row is reported and recorded nothing, the
    /// rows around it still load, and a re-run records only what is new
    /// (rows are keyed by the agency's trace number). A file that cannot be
    /// read as a whole is refused before any row is written. With
    /// `only_agency`, a row naming another agency fails.
    pub async fn import_traces(
        &self,
        name: &str,
        bytes: &[u8],
        format: TableFormat,
        default_agency: &str,
        submitted_by: &str,
        only_agency: Option<&str>,
    ) -> Result<TraceImportReport> {
        let rows = parse_trace_rows(name, bytes, format, default_agency, submitted_by)?;
        let mut report = TraceImportReport {
            rows: rows.len(),
            ..TraceImportReport::default()
        };
        for row in rows {
            let reason = match row.submission {
                Err(problem) => problem,
                Ok(sub) if only_agency.is_some_and(|a| a != sub.event.agency) => format!(
                    "agency {:?} is not the importer's agency {:?}",
                    sub.event.agency,
                    only_agency.unwrap_or_default()
                ),
                Ok(sub) => match self.submit_trace(sub).await {
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

    /// Record a trace. The firearm is the one on file with the same
    /// normalised serial and make (any agency: a gun is one gun whoever
    /// traces it), or a new one when none matches or the serial was
    /// obliterated and only partly restored. A trace number already used by
    /// the agency returns the trace recorded then, unchanged.
    pub async fn submit_trace(&self, sub: TraceSubmission) -> Result<TraceOutcome> {
        let db = self.database();
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
        let target = match self.firearm_on_file(&sub.firearm).await? {
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

    /// Record an event on a firearm on file.
    pub async fn add_trace_event(
        &self,
        firearm_id: i64,
        mut event: NewTraceEvent,
        test_fire_casing: Option<&str>,
    ) -> Result<TraceEventRecord> {
        event.firearm_id = firearm_id;
        event.casing_pk = self.test_fire_casing_pk(&event, test_fire_casing).await?;
        let (_, event) = self
            .database()
            .insert_trace(&TraceFirearm::OnFile(firearm_id), &event)
            .await?;
        Ok(event)
    }

    /// Register a firearm with no event yet (e.g. a lab's reference
    /// collection).
    pub async fn register_firearm(&self, firearm: &NewFirearm) -> Result<FirearmRecord> {
        self.database().insert_firearm(firearm).await
    }

    pub async fn firearm(&self, id: i64) -> Result<FirearmRecord> {
        self.database().firearm(id).await
    }

    pub async fn search_serials(
        &self,
        query: &SerialQuery,
        filters: &SerialFilters,
    ) -> Result<Vec<SerialMatch>> {
        self.database().search_serials(query, filters).await
    }

    pub async fn firearm_history(&self, firearm_id: i64) -> Result<FirearmHistory> {
        firearm_history(self.database(), firearm_id).await
    }

    /// The history of every firearm whose normalised serial equals this
    /// one's (usually one; several makes may share a serial).
    pub async fn serial_history(&self, serial: &str) -> Result<Vec<FirearmHistory>> {
        let query = SerialQuery::Exact {
            serial: serial.to_string(),
        };
        let matches = self
            .database()
            .search_serials(&query, &SerialFilters::default())
            .await?;
        if matches.is_empty() {
            return Err(EngineError::NotFound(format!(
                "firearm with serial {serial:?} (normalised {:?})",
                normalise_serial(serial)
            )));
        }
        let mut out = Vec::with_capacity(matches.len());
        for m in matches {
            out.push(firearm_history(self.database(), m.firearm.id).await?);
        }
        Ok(out)
    }

    pub async fn case_history(&self, case_number: &str) -> Result<CaseHistory> {
        case_history(self.database(), case_number).await
    }

    /// Take up a candidate as a lead: `query` is the casing searched with,
    /// `candidate` the one the engine offered, each as (agency, casing id).
    /// The flag says whether the lead is new (false: the pair was already
    /// a lead, which is returned unchanged).
    pub async fn mark_lead(
        &self,
        agency: &str,
        query: (&str, &str),
        candidate: (&str, &str),
        marked_by: &str,
        comment: Option<&str>,
    ) -> Result<(LeadRecord, bool)> {
        let db = self.database();
        let query_pk = self.casing_pk(query.0, query.1).await?;
        let candidate_pk = self.casing_pk(candidate.0, candidate.1).await?;
        db.mark_lead(agency, query_pk, candidate_pk, marked_by, comment)
            .await
    }

    pub async fn lead(&self, id: i64) -> Result<LeadRecord> {
        self.database().lead(id).await
    }

    /// Confirm (hit) or exclude a lead.
    pub async fn decide_lead(
        &self,
        id: i64,
        status: LeadStatus,
        decided_by: &str,
        comment: Option<&str>,
    ) -> Result<LeadRecord> {
        self.database()
            .decide_lead(id, status, decided_by, comment)
            .await
    }

    async fn casing_pk(&self, agency: &str, casing_id: &str) -> Result<i64> {
        self.database()
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

    /// The firearm on file a trace of `firearm` belongs to, if any: same
    /// normalised serial, and same make when both name one. A serial that
    /// was obliterated always makes a new firearm, since its restored
    /// reading may be wrong; an examiner links it by test fire instead.
    async fn firearm_on_file(&self, firearm: &NewFirearm) -> Result<Option<i64>> {
        if firearm.obliterated {
            return Ok(None);
        }
        let query = SerialQuery::Exact {
            serial: firearm.serial.clone(),
        };
        let matches = self
            .database()
            .search_serials(&query, &SerialFilters::default())
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
