//! Isolation at the engine's door, HTTP bypassed: for a principal of an
//! agency that shares nothing with another, every read path returns
//! nothing of the other agency's records, and every hidden record answers
//! exactly as an absent one. Also the import-job holes of issue #15 that
//! need a job held unfinished, which only the engine can do.

use casetrace_engine::access::{Principal, Scope};
use casetrace_engine::bulk::ImportSource;
use casetrace_engine::casing::CasingKind;
use casetrace_engine::service::Submission;
use casetrace_engine::store::AuditQuery;
use casetrace_engine::traces::{
    LeadStatus, NewFirearm, NewTraceEvent, SerialFilters, SerialQuery, TraceEventKind,
    TraceSubmission,
};
use casetrace_engine::{Engine, EngineError};
use chrono::NaiveDate;

use crate::common::{backends, register_test_agency, weller, TestEngine};
use crate::one_door::{DE_KEY, FR_KEY};

fn scan(agency: &str, casing_id: &str, case: &str) -> Submission {
    Submission {
        agency: agency.into(),
        casing_id: casing_id.into(),
        file_name: format!("{casing_id}.x3p"),
        bytes: weller(casing_id),
        kind: CasingKind::Evidence,
        case_number: Some(case.into()),
        calibre: None,
        metadata: serde_json::json!({}),
        um_per_px: None,
        submitted_by: "test".into(),
    }
}

fn trace(agency: &str, serial: &str, number: &str) -> TraceSubmission {
    let mut event = NewTraceEvent::new(
        agency,
        0,
        TraceEventKind::Recovery,
        NaiveDate::from_ymd_opt(2024, 1, 5).unwrap(),
        "test",
    );
    event.trace_number = Some(number.into());
    TraceSubmission {
        firearm: NewFirearm {
            agency: agency.into(),
            serial: serial.into(),
            make: Some("Walther".into()),
            submitted_by: "test".into(),
            ..NewFirearm::default()
        },
        event,
        test_fire_casing: None,
    }
}

/// A hidden record: the error is `Hidden` around the absent record's own.
fn assert_hidden<T: std::fmt::Debug>(what: &str, result: Result<T, EngineError>) {
    match result {
        Err(EngineError::Hidden(_)) => {}
        other => panic!("{what}: expected a hidden record, got {other:?}"),
    }
}

async fn principals(engine: &Engine) -> (Principal, Principal) {
    (
        engine.authenticate(DE_KEY).await.unwrap(),
        engine.authenticate(FR_KEY).await.unwrap(),
    )
}

#[actix_web::test]
async fn an_agency_sharing_nothing_sees_nothing_of_another_on_any_read_path() {
    for backend in backends() {
        let t = TestEngine::open(&backend).await;
        register_test_agency(&t.engine, "de-bka", DE_KEY).await;
        register_test_agency(&t.engine, "fr-pts", FR_KEY).await;
        let engine = &t.engine;
        let (de, fr) = principals(engine).await;
        // The German records: two casings of one gun in a case, a lead
        // between them, a traced firearm with a test fire, an import job
        // and audit records.
        for id in ["TW01-01", "TW01-03"] {
            engine
                .submit(&de, scan("de-bka", id, "DE-1"))
                .await
                .unwrap();
        }
        let (lead, _) = engine
            .mark_lead(&de, ("de-bka", "TW01-01"), ("de-bka", "TW01-03"), None)
            .await
            .unwrap();
        engine
            .decide_lead(&de, lead.lead.id, LeadStatus::Hit, None)
            .await
            .unwrap();
        let outcome = engine
            .submit_trace(&de, trace("de-bka", "WX-4711", "DE-T-1"))
            .await
            .unwrap();
        let gun = outcome.firearm.id;
        let mut fire = NewTraceEvent::new(
            "de-bka",
            gun,
            TraceEventKind::TestFire,
            NaiveDate::from_ymd_opt(2024, 2, 1).unwrap(),
            "test",
        );
        fire.comment = Some("lab".into());
        engine
            .add_trace_event(&de, gun, fire, Some("TW01-01"))
            .await
            .unwrap();
        let folder = t.dir.path().join("de-import");
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(
            folder.join("manifest.csv"),
            "file,casing_id\nx.x3p,TW01-06\n",
        )
        .unwrap();
        std::fs::write(folder.join("x.x3p"), weller("TW01-06")).unwrap();
        let job = engine
            .prepare_import(&de, ImportSource::open(&folder).unwrap(), "de-import")
            .await
            .unwrap();
        let de_job = job.job.id.clone();
        engine.run_import(job, &|_| {}).await.unwrap();
        engine
            .database()
            .append_audit(&casetrace_engine::audit::AuditEvent::new(
                "de-bka",
                "someone",
                "GET /v1/casings/{casing_id}",
                "/v1/casings/TW01-01",
                casetrace_engine::audit::AuditOutcome::Ok,
            ))
            .await
            .unwrap();

        // The French agency's own casing, searched with.
        engine
            .submit(&fr, scan("fr-pts", "TW01-02", "FR-1"))
            .await
            .unwrap();

        // Casings, candidates, image search.
        assert_hidden(
            "casing",
            engine.casing(&fr, Some("de-bka"), "TW01-01").await,
        );
        assert!(engine
            .casings(&fr)
            .await
            .unwrap()
            .iter()
            .all(|c| c.agency == "fr-pts"));
        assert_hidden(
            "candidates of a German casing",
            engine.candidates(&fr, Some("de-bka"), "TW01-01", 10).await,
        );
        let list = engine.candidates(&fr, None, "TW01-02", 10).await.unwrap();
        assert!(list.candidates.is_empty(), "{:?}", list.candidates);
        let list = engine
            .search(&fr, weller("TW01-01"), "q.x3p".into(), None, 10)
            .await
            .unwrap();
        assert!(
            list.candidates.iter().all(|c| c.casing.agency == "fr-pts"),
            "{:?}",
            list.candidates
        );
        let shortlist = engine
            .descriptor_shortlist(&fr, "fr-pts", "TW01-02", 50)
            .await
            .unwrap();
        assert!(shortlist.is_empty(), "{shortlist:?}");

        // Leads and case histories.
        assert_hidden("lead", engine.lead(&fr, lead.lead.id).await);
        assert_hidden(
            "decision",
            engine
                .decide_lead(&fr, lead.lead.id, LeadStatus::Excluded, None)
                .await,
        );
        assert_hidden("case history", engine.case_history(&fr, "DE-1").await);

        // Firearms, serial search and histories.
        assert_hidden("firearm", engine.firearm(&fr, gun).await);
        assert_hidden("firearm history", engine.firearm_history(&fr, gun).await);
        for query in [
            SerialQuery::Exact {
                serial: "WX4711".into(),
            },
            SerialQuery::Pattern {
                pattern: "WX47?1".into(),
            },
            SerialQuery::Fuzzy {
                serial: "WX4712".into(),
                max_edits: 1,
            },
        ] {
            let found = engine
                .search_serials(&fr, &query, &SerialFilters::default())
                .await
                .unwrap();
            assert!(found.is_empty(), "{query:?}: {found:?}");
        }
        assert!(matches!(
            engine.serial_history(&fr, "WX-4711").await,
            Err(EngineError::NotFound(_))
        ));

        // Imports and the audit log.
        assert_hidden("import job", engine.import_status(&fr, &de_job).await);
        let records = engine
            .audit_records(
                &fr,
                AuditQuery {
                    agency: Some("de-bka".into()),
                    limit: 1000,
                    ..AuditQuery::default()
                },
            )
            .await
            .unwrap();
        assert!(records.iter().all(|r| r.agency == "fr-pts"), "{records:?}");

        // Writes into the German records are refused too.
        let theft = NewTraceEvent::new(
            "fr-pts",
            gun,
            TraceEventKind::Theft,
            NaiveDate::from_ymd_opt(2024, 3, 1).unwrap(),
            "fr",
        );
        assert_hidden(
            "event on a German firearm",
            engine.add_trace_event(&fr, gun, theft, None).await,
        );
        assert_hidden(
            "lead on German casings",
            engine
                .mark_lead(&fr, ("de-bka", "TW01-01"), ("fr-pts", "TW01-02"), None)
                .await,
        );

        // The owner still sees all of it: the restriction is the caller's.
        assert_eq!(
            engine.firearm_history(&de, gun).await.unwrap().events.len(),
            2
        );
        assert!(!engine.sight(&fr).await.unwrap().sees(Scope::View, "de-bka"));
        t.close().await;
    }
}

/// Issue #15, hole 3: a 409 on a byte-identical manifest handed another
/// agency the job id, one agency could block another's import of the same
/// manifest, and a job still queued could be resumed by another agency
/// under the first one's name. Jobs are now looked up within the agency:
/// the owner resumes its queued job, another agency gets a job of its own.
#[actix_web::test]
async fn an_import_job_is_never_resumed_blocked_or_named_across_agencies() {
    for backend in backends() {
        let t = TestEngine::open(&backend).await;
        register_test_agency(&t.engine, "de-bka", DE_KEY).await;
        register_test_agency(&t.engine, "fr-pts", FR_KEY).await;
        let engine = &t.engine;
        let (de, fr) = principals(engine).await;
        let folder = t.dir.path().join("same");
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join("manifest.csv"), "file,casing_id\nx.x3p,K-1\n").unwrap();
        std::fs::write(folder.join("x.x3p"), weller("TW01-01")).unwrap();
        let open = || ImportSource::open(&folder).unwrap();
        // The German job stays queued: its own agency may resume it.
        let de_job = engine.prepare_import(&de, open(), "same").await.unwrap();
        assert_eq!(de_job.job.agency, "de-bka");
        let again = engine.prepare_import(&de, open(), "same").await.unwrap();
        assert!(again.resumed);
        assert_eq!(again.job.id, de_job.job.id);
        // The French importer neither learns the German job id, nor is
        // blocked, nor resumes the German job: it gets a job of its own.
        let fr_job = engine.prepare_import(&fr, open(), "same").await.unwrap();
        assert!(!fr_job.resumed);
        assert_ne!(fr_job.job.id, de_job.job.id);
        assert_eq!(fr_job.job.agency, "fr-pts");
        assert_eq!(fr_job.job.submitted_by, "fr-pts-tester");
        let report = engine.run_import(fr_job, &|_| {}).await.unwrap();
        assert_eq!(report.job.counts.done, 1);
        let fr_casing = engine.casing(&fr, None, "K-1").await.unwrap();
        assert_eq!(fr_casing.agency, "fr-pts");
        assert_hidden(
            "the German job's status",
            engine.import_status(&fr, &de_job.job.id).await,
        );
        t.close().await;
    }
}

/// Issue #15, hole 9: a lone manifest under an import root could name
/// files anywhere on the server. Named by an agency's key, its rows are
/// held to its own folder; only the operator's command line reads beyond.
#[actix_web::test]
async fn a_lone_manifest_named_by_a_key_cannot_read_files_outside_its_folder() {
    for backend in backends() {
        let t = TestEngine::open(&backend).await;
        register_test_agency(&t.engine, "fr-pts", FR_KEY).await;
        let engine = &t.engine;
        let fr = engine.authenticate(FR_KEY).await.unwrap();
        let root = t.dir.path().join("root");
        let outside = t.dir.path().join("outside");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("secret.x3p"), weller("TW01-01")).unwrap();
        std::fs::write(root.join("inside.x3p"), weller("TW01-02")).unwrap();
        let absolute = outside.join("secret.x3p");
        let manifest = root.join("lone.csv");
        std::fs::write(
            &manifest,
            format!(
                "file,casing_id\n{},ABS\n../outside/secret.x3p,DOTS\ninside.x3p,IN\n",
                absolute.display()
            ),
        )
        .unwrap();
        let source = ImportSource::open(&manifest).unwrap();
        let job = engine
            .prepare_import(&fr, source, "lone.csv")
            .await
            .unwrap();
        let report = engine.run_import(job, &|_| {}).await.unwrap();
        assert_eq!(report.job.counts.done, 1, "{:?}", report.failures);
        assert_eq!(report.job.counts.failed, 2, "{:?}", report.failures);
        for f in &report.failures {
            assert!(f.reason.contains("escapes"), "{f:?}");
        }
        assert!(engine.casing(&fr, None, "IN").await.is_ok());
        assert!(engine.casing(&fr, None, "ABS").await.is_err());
        t.close().await;
    }
}
