//! History: everything known about a firearm or a case, assembled from the
//! trace events, the leads and the casings on file. The rules only: the
//! engine reads the rows (`service/history.rs`) and hands them here.
//!
//! Hits are edges between casings; the connected component of a casing
//! under hits is its linked-case group. A test-fire event ties a casing to
//! a firearm, so every casing in a group holding a test fire links its case
//! to that firearm.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::timeline::time_to_crime_days;
use super::{FirearmRecord, LeadRecord, LeadStatus, TraceEventKind, TraceEventRecord};
use crate::casing::CasingRecord;

/// Most casings one linked group is followed to; a bound so a runaway
/// chain of hits cannot make one request unbounded.
const MAX_GROUP: usize = 10_000;

/// Days from the last retail sale to one recovery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeToCrime {
    pub recovery_event_id: i64,
    pub recovered_on: NaiveDate,
    /// `None` when no retail sale before the recovery is on file.
    pub days: Option<i64>,
}

/// A firearm's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FirearmHistory {
    pub firearm: FirearmRecord,
    /// Oldest first.
    pub events: Vec<TraceEventRecord>,
    pub time_to_crime: Vec<TimeToCrime>,
    /// The lab's test-fire casings and every casing linked to them by hits.
    pub linked_casings: Vec<CasingRecord>,
    /// The hits that link them.
    pub hits: Vec<LeadRecord>,
    /// Case numbers of the linked casings, sorted.
    pub linked_cases: Vec<String>,
}

/// A case's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseHistory {
    pub case_number: String,
    pub casings: Vec<CasingRecord>,
    /// Every lead touching the case's casings, whatever its status.
    pub leads: Vec<LeadRecord>,
    /// Other cases in the linked-case group, sorted.
    pub linked_cases: Vec<String>,
    /// The casings of the group outside this case (what `linked_cases`
    /// is made of), so a caller can be shown only those it may see.
    pub linked_casings: Vec<CasingRecord>,
    /// Firearms the group links to through test fires.
    pub firearms: Vec<FirearmRecord>,
}

/// The linked group of some casings under hits, grown one step at a
/// time: the caller reads the leads of [`LinkedGroup::frontier`] and hands
/// them to [`LinkedGroup::absorb`] until the frontier is empty. Kept apart
/// from the reading so the rule (hits are edges, the group is bounded)
/// needs no database.
#[derive(Debug, Clone, Default)]
pub struct LinkedGroup {
    seen: BTreeSet<i64>,
    frontier: Vec<i64>,
    hits: BTreeMap<i64, LeadRecord>,
}

impl LinkedGroup {
    /// The group of `start` before any lead is read.
    pub fn new(start: &[i64]) -> Self {
        LinkedGroup {
            seen: start.iter().copied().collect(),
            frontier: start.to_vec(),
            hits: BTreeMap::new(),
        }
    }

    /// The casings whose leads are still to be read; empty once the group
    /// is complete or has reached its bound.
    pub fn frontier(&self) -> &[i64] {
        if self.seen.len() < MAX_GROUP {
            &self.frontier
        } else {
            &[]
        }
    }

    /// Take in the leads of the current frontier: each hit joins its two
    /// casings to the group, and the casings new to it are the next
    /// frontier. Leads that are not hits link nothing.
    pub fn absorb(&mut self, leads: Vec<LeadRecord>) {
        let mut next = Vec::new();
        for lead in leads {
            if lead.status != LeadStatus::Hit {
                continue;
            }
            for pk in [lead.query_casing_pk, lead.candidate_casing_pk] {
                if self.seen.insert(pk) {
                    next.push(pk);
                }
            }
            self.hits.insert(lead.id, lead);
        }
        self.frontier = next;
    }

    /// The group's casings (database ids) and the hits that link them.
    pub fn finish(self) -> (BTreeSet<i64>, Vec<LeadRecord>) {
        (self.seen, self.hits.into_values().collect())
    }
}

/// The sorted, distinct case numbers of `casings`.
pub fn case_numbers(casings: &[CasingRecord]) -> Vec<String> {
    let set: BTreeSet<String> = casings
        .iter()
        .filter_map(|c| c.case_number.clone())
        .collect();
    set.into_iter().collect()
}

/// Days from the last retail sale to each recovery among `events`.
pub fn time_to_crime(events: &[TraceEventRecord]) -> Vec<TimeToCrime> {
    let sales: Vec<NaiveDate> = events
        .iter()
        .filter(|e| e.kind == TraceEventKind::DealerSale)
        .map(|e| e.occurred_on)
        .collect();
    events
        .iter()
        .filter(|e| e.kind == TraceEventKind::Recovery)
        .map(|e| TimeToCrime {
            recovery_event_id: e.id,
            recovered_on: e.occurred_on,
            days: time_to_crime_days(&sales, e.occurred_on),
        })
        .collect()
}
