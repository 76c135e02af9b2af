//! What the audit middleware stores: what each call did (not only its
//! status), request text within a bound, anonymous refusals as counts, a
//! checkpoint every few records, and reads of an agency's records by a
//! partner shown to that agency's auditors.

use actix_web::http::{header, StatusCode};
use actix_web::test::{self, TestRequest};
use casetrace_api::app::create_app;
use casetrace_engine::audit::AuditRecord;
use casetrace_engine::store::AuditQuery;
use serde_json::{json, Value};

use crate::common::{
    auth, backends, multipart, register_test_agency, send, weller, Part, TestEngine,
};

const DE_KEY: &str =
    "ct_00000000000000d1_4444444444444444444444444444444444444444444444444444444444444444";
const FR_KEY: &str =
    "ct_00000000000000f1_5555555555555555555555555555555555555555555555555555555555555555";

/// Every record, oldest first.
async fn all_records(t: &TestEngine) -> Vec<AuditRecord> {
    t.engine
        .database()
        .audit_page(0, 10_000)
        .await
        .expect("read the chain")
}

/// The newest record of `action`, its detail parsed.
async fn last_of(t: &TestEngine, action: &str) -> (AuditRecord, Value) {
    let record = all_records(t)
        .await
        .into_iter()
        .rev()
        .find(|r| r.action == action)
        .unwrap_or_else(|| panic!("no {action} record"));
    let detail = serde_json::from_str(&record.detail).expect("detail JSON");
    (record, detail)
}

#[actix_web::test]
async fn records_say_what_was_done_within_bounds_and_anonymous_floods_are_counted() {
    for backend in backends() {
        let mut t = TestEngine::open(&backend).await;
        t.restart_with(|cfg| cfg.audit.checkpoint_every = 3).await;
        register_test_agency(&t.engine, "de-bka", DE_KEY).await;
        let app = test::init_service(create_app(t.state())).await;

        // Key issuance: the key id and roles, never the secret.
        let req = TestRequest::post()
            .uri("/v1/keys")
            .insert_header(auth())
            .set_json(json!({"holder": "examiner.new", "roles": ["examiner"], "days": 30}));
        let r = send(&app, req.to_request()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:#}", r.json);
        let secret = r.json["key"].as_str().expect("the key, once");
        let (record, detail) = last_of(&t, "POST /v1/keys").await;
        assert_eq!(detail["key_id"], r.json["id"], "{detail}");
        assert_eq!(detail["roles"], json!(["examiner"]), "{detail}");
        assert_eq!(detail["holder"], "examiner.new");
        assert!(!record.detail.contains(&secret[20..]), "the secret leaked");

        // An agreement: grantee and scope.
        let req = TestRequest::post()
            .uri("/v1/agreements")
            .insert_header(auth())
            .set_json(json!({"grantee": "de-bka", "scope": "view"}));
        let r = send(&app, req.to_request()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:#}", r.json);
        let (_, detail) = last_of(&t, "POST /v1/agreements").await;
        assert_eq!(
            (&detail["grantee"], &detail["scope"]),
            (&json!("de-bka"), &json!("view"))
        );

        // A 14 KB path and query are stored cut to the bound, marked.
        let long = "x".repeat(14_000);
        let req = TestRequest::get()
            .uri(&format!("/v1/casings/{long}?limit={long}"))
            .insert_header(auth());
        let _ = send(&app, req.to_request()).await;
        let (record, detail) = last_of(&t, "GET /v1/casings/{casing_id}").await;
        let bound = casetrace_api::audit_trail::MAX_REQUEST_TEXT + 40;
        assert!(record.resource.len() < bound, "{}", record.resource.len());
        assert!(
            record.resource.ends_with("bytes truncated]"),
            "{}",
            record.resource
        );
        let query = detail["query"].as_str().expect("query kept");
        assert!(
            query.len() < bound && query.contains("truncated"),
            "{query}"
        );

        // 300 anonymous 14 KB calls: counted, none chained.
        let head = t.engine.database().audit_head().await.unwrap();
        for _ in 0..300 {
            let req = TestRequest::get().uri(&format!("/v1/casings/{long}"));
            let res = test::call_service(&app, req.to_request()).await;
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        }
        assert_eq!(t.engine.database().audit_head().await.unwrap(), head);
        let counts = t.engine.database().refusal_counts(10).await.unwrap();
        assert_eq!(
            counts.iter().map(|c| c.count).sum::<i64>(),
            300,
            "{counts:?}"
        );
        assert!(counts.iter().all(|c| c.sample_path.len() <= 512));

        // A checkpoint at least every 3 records, written by the server.
        let log = std::fs::read_to_string(t.engine.config().audit_checkpoint_path())
            .expect("checkpoints written");
        let last: Value =
            serde_json::from_str(log.lines().last().expect("a checkpoint")).expect("JSON");
        let head_seq = head.expect("records").0;
        assert!(head_seq - last["seq"].as_i64().unwrap() < 3, "{log}");
        t.close().await;
    }
}

fn submit_as(key: &str, casing_id: &str) -> TestRequest {
    let (content_type, body) = multipart(&[
        Part::file("image", &format!("{casing_id}.x3p"), &weller(casing_id)),
        Part::text("metadata", &json!({"casing_id": casing_id}).to_string()),
    ]);
    TestRequest::post()
        .uri("/v1/casings?limit=0")
        .insert_header((header::AUTHORIZATION, format!("Bearer {key}")))
        .insert_header((header::CONTENT_TYPE, content_type))
        .set_payload(body)
}

#[actix_web::test]
async fn owners_auditors_see_partners_reading_their_records() {
    for backend in backends() {
        let t = TestEngine::open(&backend).await;
        register_test_agency(&t.engine, "de-bka", DE_KEY).await;
        register_test_agency(&t.engine, "fr-pts", FR_KEY).await;
        let app = test::init_service(create_app(t.state())).await;
        let r = send(&app, submit_as(DE_KEY, "TW01-01").to_request()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:#}", r.json);
        // The submission's record names the casing and its evidence.
        let (record, detail) = last_of(&t, "POST /v1/casings").await;
        assert_eq!(detail["casing_id"], "TW01-01");
        assert_eq!(detail["evidence_sha256"], r.json["casing"]["sha256"]);
        assert_eq!(
            record.evidence_sha256.as_deref(),
            r.json["casing"]["sha256"].as_str()
        );

        let grant = TestRequest::post()
            .uri("/v1/agreements")
            .insert_header((header::AUTHORIZATION, format!("Bearer {DE_KEY}")))
            .set_json(json!({"grantee": "fr-pts", "scope": "view"}));
        assert_eq!(
            send(&app, grant.to_request()).await.status,
            StatusCode::CREATED
        );
        let read = TestRequest::get()
            .uri("/v1/casings/TW01-01?agency=de-bka")
            .insert_header((header::AUTHORIZATION, format!("Bearer {FR_KEY}")));
        assert_eq!(send(&app, read.to_request()).await.status, StatusCode::OK);
        // The German reading its own casing is not marked as a partner read.
        let own = TestRequest::get()
            .uri("/v1/casings/TW01-01")
            .insert_header((header::AUTHORIZATION, format!("Bearer {DE_KEY}")));
        assert_eq!(send(&app, own.to_request()).await.status, StatusCode::OK);

        // The German auditor sees the French read; the French one sees
        // it as its own call.
        let audit = |key: &str| {
            TestRequest::get()
                .uri("/v1/audit?resource=/v1/casings/TW01-01")
                .insert_header((header::AUTHORIZATION, format!("Bearer {key}")))
                .to_request()
        };
        let r = send(&app, audit(DE_KEY)).await;
        assert_eq!(r.status, StatusCode::OK, "{:#}", r.json);
        let seen: Vec<(String, Option<String>)> = r
            .json
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                (
                    v["agency"].as_str().unwrap().to_string(),
                    v["owner_agency"].as_str().map(str::to_string),
                )
            })
            .collect();
        assert!(
            seen.contains(&("fr-pts".into(), Some("de-bka".into()))),
            "{seen:?}"
        );
        assert!(seen.contains(&("de-bka".into(), None)), "{seen:?}");
        let r = send(&app, audit(FR_KEY)).await;
        assert_eq!(r.json.as_array().unwrap().len(), 1, "{:#}", r.json);
        // The owner query only widens an auditor's view to its own records.
        let others = t
            .engine
            .database()
            .audit_records(&AuditQuery {
                agency: Some("local".into()),
                include_owned: true,
                resource: Some("/v1/casings/TW01-01".into()),
                limit: 100,
                ..AuditQuery::default()
            })
            .await
            .unwrap();
        assert!(others.is_empty(), "{others:?}");
        t.close().await;
    }
}
