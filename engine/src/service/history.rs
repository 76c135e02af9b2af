//! Reading what a firearm's or a case's history needs from the store, for
//! the rules in [`crate::traces::history`] to put together. Unfiltered:
//! the callers in `traces.rs` cut the result to what the caller sees.

use std::collections::BTreeSet;

use crate::error::{EngineError, Result};
use crate::store::Database;
use crate::traces::history::{case_numbers, time_to_crime};
use crate::traces::{CaseHistory, FirearmHistory, LeadRecord, LinkedGroup};

/// The linked group of `start` under hits: its casings and the hits.
async fn linked_group(db: &Database, start: &[i64]) -> Result<(BTreeSet<i64>, Vec<LeadRecord>)> {
    let mut group = LinkedGroup::new(start);
    while !group.frontier().is_empty() {
        let leads = db.leads_of_casings(group.frontier()).await?;
        group.absorb(leads);
    }
    Ok(group.finish())
}

/// Everything known about a firearm, in time order.
pub(super) async fn firearm_history(db: &Database, firearm_id: i64) -> Result<FirearmHistory> {
    let firearm = db.firearm(firearm_id).await?;
    let events = db.trace_events(firearm_id).await?;
    let time_to_crime = time_to_crime(&events);
    let test_fires: Vec<i64> = events.iter().filter_map(|e| e.casing_pk).collect();
    let (group, hits) = linked_group(db, &test_fires).await?;
    let mut linked_casings = db
        .casings_by_pks(&group.into_iter().collect::<Vec<_>>())
        .await?;
    linked_casings.sort_by_key(|c| c.id);
    let linked_cases = case_numbers(&linked_casings);
    Ok(FirearmHistory {
        firearm,
        events,
        time_to_crime,
        linked_casings,
        hits,
        linked_cases,
    })
}

/// Everything known about a case: its casings, their leads and hits, the
/// cases and firearms they link to.
pub(super) async fn case_history(db: &Database, case_number: &str) -> Result<CaseHistory> {
    let casings = db.casings_of_case(case_number).await?;
    if casings.is_empty() {
        return Err(EngineError::NotFound(format!("case {case_number:?}")));
    }
    let pks: Vec<i64> = casings.iter().map(|c| c.id).collect();
    let leads = db.leads_of_casings(&pks).await?;
    let (group, _) = linked_group(db, &pks).await?;
    let group: Vec<i64> = group.into_iter().collect();
    let linked_casings: Vec<_> = db
        .casings_by_pks(&group)
        .await?
        .into_iter()
        .filter(|c| c.case_number.as_deref() != Some(case_number))
        .collect();
    let linked_cases = case_numbers(&linked_casings);
    let mut firearm_ids = BTreeSet::new();
    for pk in &group {
        for event in db.test_fires_of_casing(*pk).await? {
            firearm_ids.insert(event.firearm_id);
        }
    }
    let mut firearms = Vec::new();
    for id in firearm_ids {
        firearms.push(db.firearm(id).await?);
    }
    Ok(CaseHistory {
        case_number: case_number.into(),
        casings,
        leads,
        linked_cases,
        linked_casings,
        firearms,
    })
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::casing::{CasingFeatures, CasingKind, NewCasing};
    use crate::store::sha256_hex;
    use crate::store::test_support::on_both_backends;
    use crate::traces::{LeadStatus, NewFirearm, NewTraceEvent, TraceEventKind};

    async fn casing(db: &Database, id: &str, kind: CasingKind, case: &str) -> i64 {
        let new = NewCasing {
            agency: "lab-a".into(),
            casing_id: id.into(),
            sha256: sha256_hex(id.as_bytes()),
            file_name: format!("{id}.x3p"),
            format: crate::reading::InputFormat::X3p,
            surface_kind: crate::surface::SurfaceKind::Topography,
            kind,
            case_number: Some(case.into()),
            calibre: Some("9mm Luger".into()),
            metadata: serde_json::json!({}),
            um_per_px: 3.125,
            width: 8,
            height: 8,
            submitted_by: "examiner".into(),
        };
        let features = CasingFeatures {
            model_version: "m".into(),
            descriptor: vec![0.0; 4],
            comparison_surface: vec![0],
            pipeline_version: "p".into(),
            pin_mark: None,
            marks_version: None,
        };
        db.insert_casing(&new, &features).await.unwrap().record().id
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    async fn hits_link_cases_to_the_firearm(db: &Database) {
        let gun = db
            .insert_firearm(&NewFirearm {
                agency: "lab-a".into(),
                make: Some("Glock".into()),
                serial: "KX10234".into(),
                submitted_by: "examiner".into(),
                ..NewFirearm::default()
            })
            .await
            .unwrap();
        let test_fire = casing(db, "TF-1", CasingKind::TestFire, "LAB-9").await;
        let scene_a = casing(db, "E-A", CasingKind::Evidence, "CASE-A").await;
        let scene_b = casing(db, "E-B", CasingKind::Evidence, "CASE-B").await;
        let unrelated = casing(db, "E-C", CasingKind::Evidence, "CASE-C").await;

        // Recorded out of order: the history sorts by date.
        let mut recovery = NewTraceEvent::new(
            "lab-a",
            gun.id,
            TraceEventKind::Recovery,
            day("2024-05-20"),
            "officer",
        );
        recovery.acting_agency = Some("City PD".into());
        recovery.place = Some("5th & Main".into());
        recovery.crime_code = Some("5299".into());
        db.insert_trace_event(&recovery).await.unwrap();
        let mut sale = NewTraceEvent::new(
            "lab-a",
            gun.id,
            TraceEventKind::DealerSale,
            day("2024-01-01"),
            "atf",
        );
        sale.licensee_id = Some("9-99-999-01-2A-12345".into());
        db.insert_trace_event(&sale).await.unwrap();
        let mut fire = NewTraceEvent::new(
            "lab-a",
            gun.id,
            TraceEventKind::TestFire,
            day("2024-05-22"),
            "lab",
        );
        fire.casing_pk = Some(test_fire);
        db.insert_trace_event(&fire).await.unwrap();
        // A test fire without its casing is refused.
        let bad = NewTraceEvent::new(
            "lab-a",
            gun.id,
            TraceEventKind::TestFire,
            day("2024-05-22"),
            "lab",
        );
        assert!(db.insert_trace_event(&bad).await.is_err());

        let a = db
            .mark_lead("lab-a", scene_a, test_fire, "ex1", None, Default::default())
            .await
            .unwrap()
            .0;
        let b = db
            .mark_lead("lab-a", scene_b, test_fire, "ex1", None, Default::default())
            .await
            .unwrap()
            .0;
        let c = db
            .mark_lead(
                "lab-a",
                unrelated,
                test_fire,
                "ex1",
                None,
                Default::default(),
            )
            .await
            .unwrap()
            .0;
        // Taking up the same pair again (reversed) returns the lead on file.
        assert_eq!(
            db.mark_lead("lab-a", test_fire, scene_a, "ex2", None, Default::default())
                .await
                .unwrap()
                .0
                .id,
            a.id
        );
        db.decide_lead(a.id, LeadStatus::Hit, "ex2", Some("agree"))
            .await
            .unwrap();
        let b = db
            .decide_lead(b.id, LeadStatus::Hit, "ex2", None)
            .await
            .unwrap();
        assert_eq!(b.decided_by.as_deref(), Some("ex2"));
        assert!(b.decided_at.is_some());
        let c = db
            .decide_lead(
                c.id,
                LeadStatus::Excluded,
                "ex2",
                Some("firing pin differs"),
            )
            .await
            .unwrap();
        assert_eq!(c.comment.as_deref(), Some("firing pin differs"));

        let history = firearm_history(db, gun.id).await.unwrap();
        let kinds: Vec<_> = history.events.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            vec![
                TraceEventKind::DealerSale,
                TraceEventKind::Recovery,
                TraceEventKind::TestFire
            ]
        );
        assert_eq!(history.time_to_crime.len(), 1);
        assert_eq!(history.time_to_crime[0].days, Some(140));
        assert_eq!(history.linked_cases, vec!["CASE-A", "CASE-B", "LAB-9"]);
        assert_eq!(history.hits.len(), 2);

        let case = case_history(db, "CASE-A").await.unwrap();
        assert_eq!(case.casings.len(), 1);
        assert_eq!(case.linked_cases, vec!["CASE-B", "LAB-9"]);
        assert_eq!(
            case.firearms.iter().map(|f| f.id).collect::<Vec<_>>(),
            vec![gun.id]
        );
        let excluded = case_history(db, "CASE-C").await.unwrap();
        assert!(excluded.linked_cases.is_empty());
        assert!(excluded.firearms.is_empty());
        assert_eq!(excluded.leads.len(), 1);
        assert!(case_history(db, "NOPE").await.is_err());
    }

    on_both_backends!(hits_link_cases_to_the_firearm);
}
