//! Several engines on one database (issue #17): each keeps its own index,
//! and follows the database's change feed, so a casing committed through
//! one node (or re-described by the command line, or removed) reaches the
//! others' rankings without a restart. On PostgreSQL the nodes share a
//! schema; on SQLite they share the file, each with a data directory of
//! its own.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::{test, web};
use casetrace_api::app::create_app;
use casetrace_api::state::AppState;
use casetrace_engine::Engine;

use crate::common::{
    backends, casetrace, get, operator, second_node, send, weller_submission, TestEngine,
};

/// Long enough for any machine; the nodes poll every 500 ms. How long it
/// took is not what is tested, only that it happens without a restart.
const PATIENCE: Duration = Duration::from_secs(60);

/// Wait until `node`'s index holds `count` casings, failing after
/// [`PATIENCE`].
async fn until_indexed(node: &Engine, count: u64, what: &str) {
    let started = Instant::now();
    while node.indexed_count().unwrap() != count {
        assert!(
            started.elapsed() < PATIENCE,
            "{what}: the node's index holds {} casings, expected {count}",
            node.indexed_count().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The casing ids `node` ranks as `casing_id`'s candidates.
async fn ranked(node: &Engine, casing_id: &str) -> Vec<String> {
    node.candidates(&operator(), None, casing_id, 10)
        .await
        .unwrap_or_else(|e| panic!("candidates of {casing_id}: {e}"))
        .candidates
        .into_iter()
        .map(|c| c.casing.casing_id)
        .collect()
}

#[actix_web::test]
async fn a_casing_stored_through_one_node_is_ranked_by_the_other() {
    for backend in backends() {
        let t = TestEngine::open(&backend).await;
        let a = &t.engine;
        let b = second_node(&t, &backend, |_| {}).await;
        assert_eq!(b.indexed_count().unwrap(), 0);

        a.submit(&operator(), weller_submission("TW01-01"))
            .await
            .unwrap();
        let second = a
            .submit(&operator(), weller_submission("TW01-02"))
            .await
            .unwrap()
            .casing;
        // Node A indexed its own at once; B hears of them from the feed.
        assert_eq!(a.indexed_count().unwrap(), 2);
        until_indexed(&b, 2, "after two submissions through A").await;
        assert_eq!(ranked(&b, "TW01-01").await, ["TW01-02"], "{}", t.backend);
        let lag = b.index_lag().await.unwrap();
        assert_eq!(lag.changes_behind, 0, "{}: {lag:?}", t.backend);
        assert_eq!(lag.seconds_behind, 0.0);

        // The other way round, through B.
        b.submit(&operator(), weller_submission("TW02-01"))
            .await
            .unwrap();
        until_indexed(a, 3, "after a submission through B").await;
        assert!(ranked(a, "TW01-01").await.contains(&"TW02-01".to_string()));

        // A removal (a submission undone) leaves every node's index.
        a.database().delete_casing(second.id).await.unwrap();
        until_indexed(&b, 2, "after a removal through A").await;
        assert!(!ranked(&b, "TW01-01").await.contains(&"TW01-02".to_string()));

        // Restarted, B loads its file and stands where the feed does.
        let head = b.database().feed_head().await.unwrap();
        let cfg = b.config().clone();
        b.close().await;
        drop(b);
        let b = Engine::open(cfg).await.unwrap();
        assert_eq!(b.indexed_count().unwrap(), 2);
        let lag = b.index_lag().await.unwrap();
        assert_eq!(
            (lag.position, lag.changes_behind),
            (head, 0),
            "{}",
            t.backend
        );
        b.close().await;
        t.close().await;
    }
}

/// A node running a new model finds nothing until the command line
/// re-describes the casings; then it finds them, without a restart.
#[actix_web::test]
async fn a_running_node_picks_up_a_redescribe_by_the_command_line() {
    for backend in backends() {
        let t = TestEngine::open(&backend).await;
        for id in ["TW01-01", "TW01-02"] {
            t.engine
                .submit(&operator(), weller_submission(id))
                .await
                .unwrap();
        }
        let model_dir = crate::redescribe::upgraded_model(t.dir.path());
        let b = second_node(&t, &backend, |cfg| {
            cfg.model = casetrace_engine::description::ModelPaths::in_dir(&model_dir);
        })
        .await;
        assert_eq!(b.indexed_count().unwrap(), 0);
        assert!(ranked(&b, "TW01-01").await.is_empty());

        let model_arg = model_dir.display().to_string();
        let run = casetrace(&t, &["--model-dir", &model_arg, "redescribe"]);
        assert!(
            run.status.success(),
            "{}{}",
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        );
        until_indexed(&b, 2, "after the command line's redescribe").await;
        assert_eq!(ranked(&b, "TW01-01").await, ["TW01-02"], "{}", t.backend);
        // Node A, on the old model, no longer has them to offer.
        until_indexed(&t.engine, 0, "the old model's node after the redescribe").await;
        b.close().await;
        t.close().await;
    }
}

/// `/healthz` says how many changes a node has not applied yet and for
/// how long the oldest has waited; after it catches up, none.
#[actix_web::test]
async fn healthz_reports_how_far_the_index_is_behind() {
    for backend in backends() {
        let t = TestEngine::open(&backend).await;
        // B does not poll during the test: it stays behind until told.
        let b = Arc::new(
            second_node(&t, &backend, |cfg| {
                cfg.follow_every = Duration::from_secs(3600)
            })
            .await,
        );
        let app = test::init_service(create_app(web::Data::new(AppState::new(b.clone())))).await;
        t.engine
            .submit(&operator(), weller_submission("TW01-01"))
            .await
            .unwrap();

        let r = send(&app, get("/healthz").to_request()).await;
        assert_eq!(r.status, StatusCode::OK, "{:#}", r.json);
        assert_eq!(
            (r.json["casings"].as_u64(), r.json["indexed"].as_u64()),
            (Some(1), Some(0))
        );
        let lag = &r.json["index_lag"];
        assert_eq!(lag["changes_behind"].as_u64(), Some(1), "{lag:#}");
        assert!(
            lag["seconds_behind"].as_f64().is_some_and(|s| s >= 0.0),
            "{lag:#}"
        );
        assert_eq!(lag["position"].as_i64(), Some(0), "{lag:#}");

        assert_eq!(b.catch_up_index().await.unwrap(), 1);
        let head = b.database().feed_head().await.unwrap();
        let r = send(&app, get("/healthz").to_request()).await;
        assert_eq!(r.json["indexed"].as_u64(), Some(1));
        let lag = &r.json["index_lag"];
        assert_eq!(lag["changes_behind"].as_u64(), Some(0), "{lag:#}");
        assert_eq!(lag["seconds_behind"].as_f64(), Some(0.0), "{lag:#}");
        assert_eq!(lag["position"].as_i64(), Some(head), "{lag:#}");
        b.close().await;
        t.close().await;
    }
}
