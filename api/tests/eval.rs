//! Issue #3's evaluation harness: the engine's fine-comparison-alone
//! baseline and descriptor-only shortlist on real scans, and `casetrace
//! eval`'s pipeline mode with synthetic distractors.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::common::{backends, weller_submission, TestEngine};

/// Two casings of pistol TW01 and one each of three others.
const SCANS: [&str; 5] = ["TW01-01", "TW01-02", "TW02-01", "TW03-01", "TW04-01"];

async fn submit_scans(t: &TestEngine) -> Vec<i64> {
    let mut ids = Vec::new();
    for name in SCANS {
        let outcome = t
            .engine
            .submit(&crate::common::operator(), weller_submission(name))
            .await
            .unwrap_or_else(|e| panic!("{}: submit {name}: {e}", t.backend));
        ids.push(outcome.casing.id);
    }
    ids
}

/// The baseline starts no comparison once its budget is spent, compares
/// only what it is given (never the query), and ranks by fine score.
#[actix_web::test]
async fn fine_comparison_alone_stops_at_its_budget_and_ranks_by_score() {
    for backend in backends() {
        let t = TestEngine::open(&backend).await;
        let ids = submit_scans(&t).await;
        let engine = &t.engine;

        let none = engine
            .fine_compare_within(
                &crate::common::operator(),
                "local",
                "TW01-01",
                &ids,
                Duration::ZERO,
            )
            .await
            .expect("zero budget");
        assert_eq!(
            none.compared, 0,
            "{}: a spent budget compares nothing",
            t.backend
        );
        assert!(none.ranked.is_empty());

        // Ample time: every casing named but the query itself, best first.
        let all = engine
            .fine_compare_within(
                &crate::common::operator(),
                "local",
                "TW01-01",
                &ids,
                Duration::from_secs(3600),
            )
            .await
            .expect("ample budget");
        assert_eq!(all.compared, SCANS.len() - 1, "{}", t.backend);
        let ranked: Vec<&str> = all
            .ranked
            .iter()
            .map(|m| m.casing.casing_id.as_str())
            .collect();
        assert!(!ranked.contains(&"TW01-01"), "{}: {ranked:?}", t.backend);
        assert_eq!(
            ranked.first(),
            Some(&"TW01-02"),
            "{}: the mate first",
            t.backend
        );
        let scores: Vec<f64> = all.ranked.iter().map(|m| m.comparison.score).collect();
        assert!(
            scores.windows(2).all(|w| w[0] >= w[1]),
            "{}: by fine score {scores:?}",
            t.backend
        );

        // Only the casings named, whatever the budget.
        let two = engine
            .fine_compare_within(
                &crate::common::operator(),
                "local",
                "TW01-01",
                &ids[3..],
                Duration::from_secs(3600),
            )
            .await
            .expect("two casings");
        assert_eq!(two.compared, 2, "{}", t.backend);
        let named: Vec<&str> = two
            .ranked
            .iter()
            .map(|m| m.casing.casing_id.as_str())
            .collect();
        assert!(
            named.iter().all(|id| ["TW03-01", "TW04-01"].contains(id)),
            "{named:?}"
        );
        t.close().await;
    }
}

/// A small collection is fine-compared whole: the descriptor's shortlist
/// only decides what is compared once the collection outgrows
/// `compare_all_up_to`.
#[actix_web::test]
async fn a_small_collection_is_compared_whole_and_a_large_one_by_shortlist() {
    for backend in backends() {
        let mut t = TestEngine::open(&backend).await;
        submit_scans(&t).await;
        let list = |t: &TestEngine| {
            let engine = t.engine.clone();
            async move {
                engine
                    .candidates(&crate::common::operator(), Some("local"), "TW01-01", 1)
                    .await
                    .expect("candidates")
            }
        };
        // Five casings on file, a shortlist of one.
        t.restart_with(|cfg| {
            cfg.shortlist = 1;
            cfg.compare_all_up_to = 5;
        })
        .await;
        let whole = list(&t).await;
        assert_eq!(whole.compared, SCANS.len() - 1, "{}", t.backend);
        assert_eq!(whole.candidates.len(), 1, "{}", t.backend);
        assert_eq!(
            whole.candidates[0].casing.casing_id, "TW01-02",
            "{}: the mate, by fine score among all",
            t.backend
        );
        // One casing over the bound: the shortlist of one is all compared.
        t.restart_with(|cfg| cfg.compare_all_up_to = 4).await;
        let short = list(&t).await;
        assert_eq!(short.compared, 1, "{}", t.backend);
        t.close().await;
    }
}

/// The descriptor shortlist alone: at most k casings, never the query,
/// best cosine similarity first.
#[actix_web::test]
async fn descriptor_shortlist_leaves_out_the_query_and_is_ordered() {
    for backend in backends() {
        let t = TestEngine::open(&backend).await;
        submit_scans(&t).await;
        let short = t
            .engine
            .descriptor_shortlist(&crate::common::operator(), "local", "TW01-01", 3)
            .await
            .expect("shortlist");
        assert_eq!(short.len(), 3, "{}", t.backend);
        assert!(short.iter().all(|e| e.casing.casing_id != "TW01-01"));
        assert!(short.windows(2).all(|w| w[0].similarity >= w[1].similarity));
        let all = t
            .engine
            .descriptor_shortlist(&crate::common::operator(), "local", "TW01-01", 100)
            .await
            .expect("shortlist");
        assert_eq!(all.len(), SCANS.len() - 1, "{}", t.backend);
        t.close().await;
    }
}

/// `eval --distractors`: distractors are stored and searched (they fill the
/// descriptor's first 50), are never queried, and every pair they are in
/// counts as a known non-match.
#[test]
fn eval_pads_the_database_with_distractors_that_are_nobodys_mate() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let set = dir.path().join("set");
    let casetrace = || Command::new(env!("CARGO_BIN_EXE_casetrace"));
    let o = casetrace()
        .args(["synth", "--out", set.to_str().expect("utf-8")])
        .args(["--guns", "4", "--casings", "3", "--seed", "11"])
        .output()
        .expect("run casetrace synth");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let labels = set.join("labels.csv");
    let kept = dir.path().join("kept");
    // A shortlist of every other casing: all pairs are scored and counted.
    let o = casetrace()
        .args([
            "--data-dir",
            dir.path().join("unused").to_str().expect("utf-8"),
        ])
        .args(["eval", labels.to_str().expect("utf-8"), "--json"])
        .args(["--distractors", "20", "--shortlist", "31"])
        .args(["--keep", kept.to_str().expect("utf-8")])
        .output()
        .expect("run casetrace eval");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: Value = serde_json::from_slice(&o.stdout).expect("JSON report");
    assert_eq!(r["casings"], 12, "{r:#}");
    assert_eq!(r["database_casings"], 32, "{r:#}");
    assert_eq!(r["distractors"]["casings"], 20, "{r:#}");
    assert_eq!(r["queries"], 12, "distractors are never queried: {r:#}");
    // Recall is measured against the padded database: every distractor is
    // among each query's first 50 (31 others on file).
    assert_eq!(r["descriptor"]["mean_distractors_in_top_50"], 20.0, "{r:#}");
    assert_eq!(r["descriptor"]["recall_at_100"], 1.0, "{r:#}");
    // Each query has exactly 2 mates; its 9 labelled non-mates and the 20
    // distractors are known non-matches.
    assert_eq!(r["known_match_pairs"], 12 * 2, "{r:#}");
    assert_eq!(r["known_non_match_pairs"], 12 * (9 + 20), "{r:#}");
    assert!(r["baseline_fine_only"].is_null(), "not asked for: {r:#}");
    let evidence = walk_files(&kept.join("evidence"));
    assert_eq!(evidence, 32, "the distractors' evidence is stored too");
    assert!(!dir.path().join("unused").exists());
}

/// `--baseline-fine-only` reports the baseline beside the pipeline, with
/// the budget it was given and how far it got.
#[test]
fn eval_puts_the_fine_only_baseline_beside_the_pipeline() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let set = dir.path().join("set");
    let casetrace = || Command::new(env!("CARGO_BIN_EXE_casetrace"));
    let o = casetrace()
        .args(["synth", "--out", set.to_str().expect("utf-8")])
        .args(["--guns", "4", "--casings", "2", "--seed", "12"])
        .output()
        .expect("run casetrace synth");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = casetrace()
        .args([
            "--data-dir",
            dir.path().join("unused").to_str().expect("utf-8"),
        ])
        .args(["eval", set.join("labels.csv").to_str().expect("utf-8")])
        .args([
            "--shortlist",
            "3",
            "--baseline-fine-only",
            "--queries",
            "4",
            "--json",
        ])
        .output()
        .expect("run casetrace eval");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: Value = serde_json::from_slice(&o.stdout).expect("JSON report");
    assert_eq!(r["queries"], 4, "one per firearm: {r:#}");
    let b = &r["baseline_fine_only"];
    let compared = b["mean_compared"].as_f64().expect("mean_compared");
    assert!(
        compared > 0.0 && compared <= 7.0,
        "at most every other casing: {r:#}"
    );
    assert!(b["mean_budget_s"].as_f64().expect("budget") > 0.0, "{r:#}");
    for k in ["top1", "top10", "recall_at_50"] {
        let v = b["ranking"][k].as_f64().expect("figure");
        assert!((0.0..=1.0).contains(&v), "{k}: {r:#}");
        assert!(r["pipeline"][k].as_f64().is_some(), "{k}: {r:#}");
    }
}

fn walk_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    let p = e.path();
                    if p.is_dir() {
                        walk_files(&p)
                    } else {
                        1
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}
