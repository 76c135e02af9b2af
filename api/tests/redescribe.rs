//! Re-description after a descriptor model upgrade (`casetrace redescribe`):
//! casings described by the old model are not searchable under the new
//! one until re-described from their evidence files; then all are, the
//! writes are in the audit log, a casing whose evidence is gone is named
//! and left as it was, and a second run does nothing.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use casetrace_engine::casing::CasingFeatures;
use casetrace_engine::description::ModelPaths;
use casetrace_engine::service::{RedescribeOptions, REDESCRIBE_ACTION};
use casetrace_engine::Engine;

use crate::common::{backends, casetrace, stderr, stdout, weller, weller_submission, TestEngine};

/// The scans put on file under the old model.
const CASINGS: [&str; 4] = ["TW01-01", "TW01-02", "TW02-01", "TW02-02"];
/// The one whose evidence file goes missing before the first run.
const LOST: &str = "TW02-02";
const NEW_MODEL: &str = "upgrade-test-v2";

/// The shipped model under a new `model_version` (the same ONNX file: the
/// engine tells models apart by version only).
pub(crate) fn upgraded_model(dir: &Path) -> std::path::PathBuf {
    let model = dir.join("model-v2");
    std::fs::create_dir_all(&model).expect("model folder");
    let shipped = ModelPaths::default_location();
    std::fs::copy(&shipped.onnx, model.join("descriptor.onnx")).expect("copy the ONNX model");
    let mut spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&shipped.spec).expect("read descriptor.json"))
            .expect("descriptor.json is JSON");
    assert_ne!(spec["model_version"], NEW_MODEL);
    spec["model_version"] = NEW_MODEL.into();
    std::fs::write(model.join("descriptor.json"), spec.to_string()).expect("write the spec");
    model
}

/// Put the Weller scan `id` on file under casing id `id`.
async fn submit(engine: &Engine, id: &str) {
    engine
        .submit(&crate::common::operator(), weller_submission(id))
        .await
        .unwrap_or_else(|e| panic!("submit {id}: {e}"));
}

/// Restart `t`'s engine with the model in `model_dir`.
async fn restart_with_model(t: &mut TestEngine, model_dir: &Path) {
    let mut cfg = t.engine.config().clone();
    cfg.model = ModelPaths::in_dir(model_dir);
    t.engine.database().close().await;
    let engine = Engine::open(cfg)
        .await
        .unwrap_or_else(|e| panic!("open the engine with the new model on {}: {e}", t.backend));
    t.engine = Arc::new(engine);
}

/// The casing ids the index offers as `casing_id`'s nearest neighbours.
async fn shortlist(engine: &Engine, casing_id: &str) -> BTreeSet<String> {
    engine
        .descriptor_shortlist(&crate::common::operator(), "local", casing_id, 10)
        .await
        .unwrap_or_else(|e| panic!("shortlist of {casing_id}: {e}"))
        .into_iter()
        .map(|e| e.casing.casing_id)
        .collect()
}

async fn features_of(engine: &Engine, casing_id: &str) -> CasingFeatures {
    let db = engine.database();
    let record = db
        .casing_by_casing_id("local", casing_id)
        .await
        .expect("read casing")
        .unwrap_or_else(|| panic!("{casing_id} is on file"));
    db.features_by_pks(&[record.id])
        .await
        .expect("read features")
        .pop()
        .expect("features row")
        .1
}

/// Sum of the `count`s of every `redescribe` audit record, checking each
/// names the operator and the upgrade.
async fn audited_redescriptions(engine: &Engine, old_model: &str) -> u64 {
    let db = engine.database();
    assert!(db.verify_audit_chain().await.expect("verify").is_intact());
    let mut total = 0;
    for r in db.audit_page(0, 1_000).await.expect("audit records") {
        if r.action != REDESCRIBE_ACTION {
            continue;
        }
        assert_eq!(r.actor, "cli:local-admin", "{r:?}");
        assert_eq!(r.outcome, "ok", "{r:?}");
        let detail: serde_json::Value = serde_json::from_str(&r.detail).expect("detail JSON");
        assert_eq!(detail["to"], NEW_MODEL, "{detail}");
        let count = detail["count"].as_u64().expect("count");
        assert_eq!(detail["from"][old_model], count, "{detail}");
        assert_eq!(
            detail["casing_pks"].as_array().map(Vec::len),
            Some(count as usize)
        );
        total += count;
    }
    total
}

#[actix_web::test]
async fn casings_of_an_old_model_are_re_described_from_their_evidence() {
    for backend in backends() {
        let mut t = TestEngine::open(&backend).await;
        let old_model = t.engine.model_version().to_string();
        for id in CASINGS {
            submit(&t.engine, id).await;
        }
        let lost_before = features_of(&t.engine, LOST).await;

        // The new model: nothing is searchable, and check says why.
        let model_dir = upgraded_model(t.dir.path());
        restart_with_model(&mut t, &model_dir).await;
        let model_arg = model_dir.display().to_string();
        assert_eq!(t.engine.count_to_redescribe().await.unwrap(), 4);
        assert_eq!(t.engine.indexed_count().unwrap(), 0);
        for id in CASINGS {
            assert!(
                shortlist(&t.engine, id).await.is_empty(),
                "{id} found before"
            );
        }
        let check = casetrace(&t, &["--model-dir", &model_arg, "check"]);
        assert!(!check.status.success());
        assert!(
            stderr(&check).contains(&format!(
                "4 casings need re-describing for model {NEW_MODEL}: run `casetrace redescribe`"
            )),
            "{}",
            stderr(&check)
        );

        // One evidence file gone: that casing is named and left as it was.
        let lost_sha = t
            .engine
            .database()
            .casing_by_casing_id("local", LOST)
            .await
            .unwrap()
            .unwrap()
            .sha256;
        let lost_path = t
            .engine
            .evidence()
            .local_path(&lost_sha)
            .unwrap()
            .expect("evidence in the data directory");
        std::fs::remove_file(&lost_path).expect("remove one evidence file");
        let run = casetrace(
            &t,
            &["--model-dir", &model_arg, "redescribe", "--batch", "2"],
        );
        assert!(!run.status.success(), "{}", stdout(&run));
        assert!(
            stdout(&run).contains("3 casings re-described")
                && stdout(&run).contains("1 skipped")
                && stdout(&run).contains("1 casings still need re-describing"),
            "{}",
            stdout(&run)
        );
        let err = stderr(&run);
        assert!(
            err.contains(&format!("casing {LOST} (local"))
                && err.contains("not re-described: evidence file")
                && err.contains(&lost_path.display().to_string()),
            "{err}"
        );
        assert!(err.contains(&format!("local/{LOST}")), "{err}");

        // Every other casing is found by the others, by the new model.
        restart_with_model(&mut t, &model_dir).await;
        assert_eq!(t.engine.indexed_count().unwrap(), 3);
        let described: BTreeSet<String> = CASINGS
            .iter()
            .filter(|id| **id != LOST)
            .map(|id| id.to_string())
            .collect();
        for id in &described {
            let mut expected = described.clone();
            expected.remove(id);
            assert_eq!(shortlist(&t.engine, id).await, expected, "{id}");
            assert_eq!(features_of(&t.engine, id).await.model_version, NEW_MODEL);
        }
        assert_eq!(features_of(&t.engine, LOST).await, lost_before);
        assert_eq!(audited_redescriptions(&t.engine, &old_model).await, 3);

        // Nothing left to do but the lost casing: a run writes nothing.
        let again = casetrace(&t, &["--model-dir", &model_arg, "redescribe"]);
        assert!(!again.status.success());
        assert!(
            stdout(&again).contains("0 casings re-described"),
            "{}",
            stdout(&again)
        );
        assert_eq!(audited_redescriptions(&t.engine, &old_model).await, 3);

        // The evidence file back (same bytes, same name): an in-process run
        // re-describes it and the running engine finds it at once.
        t.engine
            .evidence()
            .put(weller(LOST))
            .await
            .expect("restore the evidence file");
        let opts = RedescribeOptions {
            batch: 8,
            agency: "local".into(),
            actor: "cli:local-admin".into(),
        };
        let report = t
            .engine
            .redescribe(&opts, &|_| {})
            .await
            .expect("redescribe");
        assert_eq!((report.redescribed, report.remaining), (1, 0), "{report:?}");
        assert!(report.failures.is_empty(), "{report:?}");
        assert_eq!(t.engine.indexed_count().unwrap(), 4);
        assert!(shortlist(&t.engine, "TW01-01").await.contains(LOST));
        assert_eq!(features_of(&t.engine, LOST).await.model_version, NEW_MODEL);
        assert_eq!(audited_redescriptions(&t.engine, &old_model).await, 4);

        let last = casetrace(&t, &["--model-dir", &model_arg, "redescribe"]);
        assert!(last.status.success(), "{}", stderr(&last));
        assert!(
            stdout(&last).contains("0 casings re-described"),
            "{}",
            stdout(&last)
        );
        assert_eq!(audited_redescriptions(&t.engine, &old_model).await, 4);
        let check = casetrace(&t, &["--model-dir", &model_arg, "check"]);
        assert!(check.status.success(), "{}", stderr(&check));
        t.close().await;
    }
}

/// A run that dies after its first batch (here: its progress report
/// panics) leaves that batch new and the rest old, all consistent; the
/// next run re-describes only the rest.
#[actix_web::test]
async fn an_interrupted_run_is_resumed_by_the_next() {
    for backend in backends() {
        let mut t = TestEngine::open(&backend).await;
        let old_model = t.engine.model_version().to_string();
        for id in CASINGS {
            submit(&t.engine, id).await;
        }
        let model_dir = upgraded_model(t.dir.path());
        restart_with_model(&mut t, &model_dir).await;
        let opts = RedescribeOptions {
            batch: 2,
            agency: "local".into(),
            actor: "cli:local-admin".into(),
        };

        let engine = t.engine.clone();
        let run = opts.clone();
        let crashed = tokio::spawn(async move {
            engine
                .redescribe(&run, &|_| panic!("the process dies after a batch"))
                .await
        })
        .await;
        assert!(crashed.is_err_and(|e| e.is_panic()));
        assert_eq!(t.engine.count_to_redescribe().await.unwrap(), 2);
        assert_eq!(t.engine.indexed_count().unwrap(), 2);
        let mut versions = Vec::new();
        for id in CASINGS {
            versions.push(features_of(&t.engine, id).await.model_version);
        }
        assert_eq!(
            versions,
            [NEW_MODEL, NEW_MODEL, old_model.as_str(), old_model.as_str()]
        );
        assert_eq!(audited_redescriptions(&t.engine, &old_model).await, 2);

        // The index file was saved with the batch: a restart loads it.
        restart_with_model(&mut t, &model_dir).await;
        assert_eq!(t.engine.indexed_count().unwrap(), 2);
        let report = t.engine.redescribe(&opts, &|_| {}).await.expect("resume");
        assert_eq!(
            (report.total, report.redescribed, report.remaining),
            (2, 2, 0)
        );
        assert_eq!(t.engine.indexed_count().unwrap(), 4);
        assert_eq!(audited_redescriptions(&t.engine, &old_model).await, 4);
        let check = t.engine.check().await.expect("check");
        assert!(check.is_clean(), "{:?}", check.problems);
        t.close().await;
    }
}

/// Canvases stored before the compact codec (`CTC1`, f32) are rewritten
/// by `redescribe` as `CTC2` at half the size, without touching the
/// evidence, and the rankings stay as they were.
#[actix_web::test]
async fn redescribe_rewrites_old_canvases_in_the_compact_codec() {
    use casetrace_engine::audit::{AuditEvent, AuditOutcome};
    use casetrace_engine::comparison::{
        decode_canvas, encode_canvas_v1, CANVAS_CODEC, CANVAS_CODEC_V1,
    };
    use casetrace_engine::service::RECODE_ACTION;
    use casetrace_engine::store::RecodedCanvases;

    let ranking = |engine: Arc<Engine>| async move {
        engine
            .candidates(&crate::common::operator(), None, "TW01-01", 10)
            .await
            .unwrap()
            .candidates
            .into_iter()
            .map(|c| (c.casing.casing_id, c.score))
            .collect::<Vec<_>>()
    };
    for backend in backends() {
        let t = TestEngine::open(&backend).await;
        for id in ["TW01-01", "TW01-02", "TW02-01"] {
            submit(&t.engine, id).await;
        }
        let db = t.engine.database();
        // New submissions are stored compact.
        let compact = db
            .canvases_in_codec(CANVAS_CODEC, i64::MIN, 100)
            .await
            .unwrap();
        assert_eq!(compact.len(), 3);
        // Stand for rows stored before the compact codec.
        let old: Vec<RecodedCanvases> = compact
            .iter()
            .map(|c| RecodedCanvases {
                read: c.clone(),
                surface: encode_canvas_v1(&decode_canvas(&c.surface).unwrap()),
                pin_mark: c
                    .pin_mark
                    .as_deref()
                    .map(|p| encode_canvas_v1(&decode_canvas(p).unwrap())),
            })
            .collect();
        let event = AuditEvent::new("local", "test", "fixture", "x", AuditOutcome::Ok);
        assert_eq!(db.write_recoded(&old, &event).await.unwrap().len(), 3);
        assert_eq!(t.engine.count_old_canvases().await.unwrap(), 3);
        let before = ranking(t.engine.clone()).await;

        let opts = RedescribeOptions {
            batch: 2,
            agency: "local".into(),
            actor: "test".into(),
        };
        let report = t.engine.redescribe(&opts, &|_| {}).await.unwrap();
        assert_eq!((report.redescribed, report.canvases_recoded), (0, 3));
        assert_eq!(t.engine.count_old_canvases().await.unwrap(), 0);
        let now = db
            .canvases_in_codec(CANVAS_CODEC, i64::MIN, 100)
            .await
            .unwrap();
        assert_eq!(now.len(), 3);
        for (new, old) in now.iter().zip(&old) {
            assert!(
                new.surface.len() * 2 < old.surface.len() + 100,
                "{} bytes from {}",
                new.surface.len(),
                old.surface.len()
            );
        }
        assert!(db
            .canvases_in_codec(CANVAS_CODEC_V1, i64::MIN, 100)
            .await
            .unwrap()
            .is_empty());

        // The same candidates in the same order, the scores within what
        // the 16-bit codes can move them.
        let after = ranking(t.engine.clone()).await;
        assert_eq!(
            before.iter().map(|c| &c.0).collect::<Vec<_>>(),
            after.iter().map(|c| &c.0).collect::<Vec<_>>()
        );
        for ((id, a), (_, b)) in before.iter().zip(&after) {
            assert!((a - b).abs() < 1e-3, "{id}: {a} then {b}");
        }
        let recorded = db
            .audit_records(&casetrace_engine::store::AuditQuery {
                action: Some(RECODE_ACTION.into()),
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(recorded.len(), 2, "one record per batch of 2");
        // A second run finds nothing to rewrite.
        let again = t.engine.redescribe(&opts, &|_| {}).await.unwrap();
        assert_eq!(again.canvases_recoded, 0);
        t.close().await;
    }
}
