//! The firing-pin impression as a mark of its own: raw scans get a pin
//! mark at submission, in the same rows as the casing; candidates carry
//! per-mark scores (engine, REST and CLI JSON); a mate's pin scores above
//! another gun's; processed scans have none and rank by the breech face
//! alone; and `redescribe` gives stored casings their marks.

use actix_web::test;
use casetrace_api::app::create_app;
use casetrace_engine::casing::CasingKind;
use casetrace_engine::preprocessing::MARKS_VERSION;
use casetrace_engine::reading::write_x3p;
use casetrace_engine::service::{Candidate, RedescribeOptions, Submission};
use casetrace_engine::synth::{labelled_set_with_raw, RawShare, SynthConfig};
use casetrace_engine::Engine;

use crate::audit::owner_sql;
use crate::common::{backends, casetrace, get, operator, send, weller_submission, TestEngine};

/// Two guns, three raw pin-marked scans each, at a coarse 12.5 µm/px so
/// that the test stays quick.
fn raw_scans() -> Vec<(String, Vec<u8>)> {
    let cfg = SynthConfig {
        um_per_px: 12.5,
        ..SynthConfig::default()
    };
    let share = RawShare::pin_marked(3);
    labelled_set_with_raw(41, 2, 3, 1, &cfg, Some(share))
        .map(|shot| {
            assert!(shot.raw);
            (
                format!("P{}-{}", shot.gun + 1, shot.casing + 1),
                write_x3p(&shot.scan),
            )
        })
        .collect()
}

async fn submit(engine: &Engine, casing_id: &str, bytes: Vec<u8>) {
    let sub = Submission {
        agency: "local".into(),
        casing_id: casing_id.into(),
        file_name: format!("{casing_id}.x3p"),
        bytes,
        kind: CasingKind::TestFire,
        case_number: None,
        calibre: None,
        metadata: serde_json::json!({}),
        um_per_px: None,
        submitted_by: "tester".into(),
    };
    engine
        .submit(&operator(), sub)
        .await
        .unwrap_or_else(|e| panic!("submit {casing_id}: {e}"));
}

async fn candidates(engine: &Engine, casing_id: &str) -> Vec<Candidate> {
    engine
        .candidates(&operator(), Some("local"), casing_id, 10)
        .await
        .unwrap_or_else(|e| panic!("candidates of {casing_id}: {e}"))
        .candidates
}

/// Each stored casing's (has a pin mark, marks version).
async fn stored_marks(engine: &Engine, ids: &[&str]) -> Vec<(bool, Option<String>)> {
    let db = engine.database();
    let mut out = Vec::new();
    for id in ids {
        let record = db.casing_by_casing_id("local", id).await.unwrap().unwrap();
        let (_, f) = db
            .features_by_pks(&[record.id])
            .await
            .unwrap()
            .pop()
            .unwrap();
        out.push((f.pin_mark.is_some(), f.marks_version));
    }
    out
}

#[actix_web::test]
async fn raw_scans_are_ranked_by_breech_face_and_pin_and_processed_ones_by_breech_face() {
    for backend in backends() {
        let t = TestEngine::open(&backend).await;
        let raw = raw_scans();
        for (id, bytes) in &raw {
            submit(&t.engine, id, bytes.clone()).await;
        }
        for id in ["TW01-01", "TW01-02"] {
            t.engine
                .submit(&operator(), weller_submission(id))
                .await
                .unwrap();
        }
        let version = Some(MARKS_VERSION.to_string());
        assert_eq!(
            stored_marks(&t.engine, &["P1-1", "P2-3", "TW01-01"]).await,
            [
                (true, version.clone()),
                (true, version.clone()),
                (false, version.clone())
            ]
        );

        // Raw: every raw candidate has a pin score; the mates' are higher.
        for query in ["P1-1", "P2-2"] {
            let gun = &query[..2];
            let list = candidates(&t.engine, query).await;
            let raw_candidates: Vec<&Candidate> = list
                .iter()
                .filter(|c| c.casing.casing_id.starts_with('P'))
                .collect();
            assert_eq!(raw_candidates.len(), 5, "{query}");
            let pin = |c: &&Candidate| c.marks.firing_pin.expect("both raw: a pin score");
            let worst_mate = raw_candidates
                .iter()
                .filter(|c| c.casing.casing_id.starts_with(gun))
                .map(pin)
                .fold(f64::MAX, f64::min);
            let best_other = raw_candidates
                .iter()
                .filter(|c| !c.casing.casing_id.starts_with(gun))
                .map(pin)
                .fold(f64::MIN, f64::max);
            assert!(
                worst_mate > best_other + 0.1,
                "{query}: mates' pin {worst_mate} vs others' {best_other}"
            );
            for c in &list {
                assert_eq!(c.marks.breech_face, c.score);
            }
            assert!(list[0].casing.casing_id.starts_with(gun), "{query}");
        }

        // Processed: no pin mark, so combined is the breech-face score.
        let weller = candidates(&t.engine, "TW01-01").await;
        assert_eq!(weller[0].casing.casing_id, "TW01-02");
        for c in weller
            .iter()
            .filter(|c| c.casing.casing_id.starts_with("TW"))
        {
            assert_eq!(c.marks.firing_pin, None);
            assert_eq!(c.marks.combined.to_bits(), c.score.to_bits());
        }

        // REST and CLI JSON carry the marks.
        let app = test::init_service(create_app(t.state())).await;
        let r = send(
            &app,
            get("/v1/casings/P1-1/candidates?limit=3").to_request(),
        )
        .await;
        assert_eq!(r.status, actix_web::http::StatusCode::OK, "{:#}", r.json);
        let best = &r.json["candidates"][0];
        assert_eq!(best["marks"]["breech_face"], best["score"], "{best:#}");
        assert!(best["marks"]["firing_pin"].is_number(), "{best:#}");
        assert!(best["marks"]["combined"].is_number(), "{best:#}");
        let r = send(
            &app,
            get("/v1/casings/TW01-01/candidates?limit=1").to_request(),
        )
        .await;
        let best = &r.json["candidates"][0];
        assert!(best["marks"]["firing_pin"].is_null(), "{best:#}");
        assert_eq!(best["marks"]["combined"], best["score"], "{best:#}");
        let out = casetrace(&t, &["candidates", "P2-1", "--json", "--limit", "2"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("candidates --json is JSON");
        let best = &line["candidates"][0];
        assert!(best["marks"]["firing_pin"].is_number(), "{line:#}");
        assert!(best["marks"]["combined"].is_number(), "{line:#}");

        // Rows stored before the marks existed get them from redescribe.
        owner_sql(
            &t,
            "UPDATE casing_features SET pin_mark = NULL, marks_version = NULL",
        )
        .await;
        assert_eq!(t.engine.count_to_redescribe().await.unwrap(), 8);
        assert_eq!(
            candidates(&t.engine, "P1-1").await[0].marks.firing_pin,
            None
        );
        let opts = RedescribeOptions {
            batch: 3,
            agency: "local".into(),
            actor: "cli:local-admin".into(),
        };
        let report = t
            .engine
            .redescribe(&opts, &|_| {})
            .await
            .expect("redescribe");
        assert_eq!((report.redescribed, report.remaining), (8, 0), "{report:?}");
        assert_eq!(
            stored_marks(&t.engine, &["P1-1", "TW01-01"]).await,
            [(true, version.clone()), (false, version)]
        );
        assert!(candidates(&t.engine, "P1-1").await[0]
            .marks
            .firing_pin
            .is_some());
        t.close().await;
    }
}
