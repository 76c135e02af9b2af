//! Access over the REST API: every call authenticates; roles decide what a
//! key may do; sharing agreements decide whose casings an agency's
//! searches see and whose records it may read; every denial is audited.

use actix_web::http::{header, StatusCode};
use actix_web::test::{self, TestRequest};
use casetrace_api::app::create_app;
use casetrace_engine::access::{hash_secret, ApiKeyRecord, Role};
use casetrace_engine::store::AuditQuery;
use serde_json::{json, Value};

use crate::common::{
    backends, bearer, get_as, multipart, post_as, register_test_agency, send, weller, Part,
    TestEngine,
};

fn submit_as(key: &str, casing_id: &str, extra: Value) -> TestRequest {
    let mut metadata = json!({"casing_id": casing_id, "calibre": "9mm Luger"});
    metadata
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().cloned().unwrap_or_default());
    let bytes = weller(casing_id);
    let (content_type, body) = multipart(&[
        Part::file("image", &format!("{casing_id}.x3p"), &bytes),
        Part::text("metadata", &metadata.to_string()),
    ]);
    TestRequest::post()
        .uri("/v1/casings?limit=0")
        .insert_header(bearer(key))
        .insert_header((header::CONTENT_TYPE, content_type))
        .set_payload(body)
}

/// The audit records of `agency` with this outcome.
async fn audited(t: &TestEngine, agency: &str, outcome: &str) -> Vec<(String, String)> {
    t.engine
        .database()
        .audit_records(&AuditQuery {
            agency: Some(agency.into()),
            limit: 10_000,
            ..AuditQuery::default()
        })
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.outcome == outcome)
        .map(|r| (r.action, r.resource))
        .collect()
}

#[actix_web::test]
async fn every_call_needs_a_valid_key_and_refusals_are_audited() {
    for backend in backends() {
        let t = TestEngine::open(&backend).await;
        let app = test::init_service(create_app(t.state())).await;
        let db = t.engine.database();
        // Expired and revoked keys of the local agency.
        let expired_secret = "22".repeat(32);
        db.insert_api_key(&ApiKeyRecord {
            id: "00000000000000e1".into(),
            agency: "local".into(),
            holder: "old".into(),
            roles: vec![Role::Examiner],
            secret_sha256: hash_secret(&expired_secret),
            expires_at: "2020-01-01T00:00:00.000Z".into(),
            revoked_at: None,
        })
        .await
        .unwrap();
        let revoked = t
            .engine
            .issue_key(
                &crate::common::operator(),
                "leaver",
                vec![Role::Examiner],
                30,
            )
            .await
            .unwrap();
        t.engine
            .revoke_key(&crate::common::operator(), &revoked.record.id)
            .await
            .unwrap();
        let wrong_secret = format!("ct_00000000000000a1_{}", "33".repeat(32));
        for header in [
            None,
            Some("Bearer nonsense".to_string()),
            Some("Basic dXNlcjpwYXNz".to_string()),
            Some(format!("Bearer ct_00000000000000e1_{expired_secret}")),
            Some(format!("Bearer {}", revoked.key)),
            Some(format!("Bearer {wrong_secret}")),
        ] {
            let mut req = TestRequest::get().uri("/v1/casings/X");
            if let Some(h) = &header {
                req = req.insert_header((header::AUTHORIZATION, h.clone()));
            }
            let res = test::call_service(&app, req.to_request()).await;
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{header:?}");
            assert_eq!(
                res.headers().get(header::WWW_AUTHENTICATE).unwrap(),
                "Bearer"
            );
            assert!(res.headers().contains_key("x-request-id"));
            let body: Value = test::read_body_json(res).await;
            assert_eq!(body["code"], "unauthenticated", "{body}");
        }
        // Liveness and the API's description need no key.
        for uri in ["/healthz", "/v1/openapi.json"] {
            let res = test::call_service(&app, TestRequest::get().uri(uri).to_request()).await;
            assert_eq!(res.status(), StatusCode::OK, "{uri}");
        }
        // Refusals without a valid key attribute nothing to anyone: they
        // are counted per minute, not chained one by one.
        let denied = audited(&t, "-", "denied").await;
        assert!(denied.is_empty(), "{denied:?}");
        let counts = db.refusal_counts(10).await.unwrap();
        let refused: i64 = counts
            .iter()
            .filter(|c| c.status == 401)
            .map(|c| c.count)
            .sum();
        assert_eq!(refused, 6, "{counts:?}");
        assert!(counts.iter().all(|c| c.sample_path == "/v1/casings/X"));
        t.close().await;
    }
}

/// What each role may call: one request per kind of resource, tried with a
/// key of each single role.
#[actix_web::test]
async fn roles_decide_what_a_key_may_do() {
    for backend in backends() {
        let t = TestEngine::open(&backend).await;
        let app = test::init_service(create_app(t.state())).await;
        let mut keys = Vec::new();
        for role in Role::ALL {
            let issued = t
                .engine
                .issue_key(
                    &crate::common::operator(),
                    &format!("{role} holder"),
                    vec![role],
                    30,
                )
                .await
                .unwrap();
            keys.push((role, issued.key, issued.record.id));
        }
        use Role::*;
        let trace = json!({"serial": "AB123", "recovery_date": "2024-01-01"});
        let lead = json!({"query": {"agency": "local", "casing_id": "A"},
                          "candidate": {"agency": "local", "casing_id": "B"}});
        type Request = Box<dyn Fn(&str) -> TestRequest>;
        let cases: Vec<(&str, Vec<Role>, Request)> = vec![
            (
                "submit casing",
                vec![Examiner],
                Box::new(|k| submit_as(k, "TW01-01", json!({}))),
            ),
            (
                "read casing",
                vec![Examiner, Investigator],
                Box::new(|k| get_as(k, "/v1/casings/TW01-01")),
            ),
            (
                "candidates",
                vec![Examiner],
                Box::new(|k| get_as(k, "/v1/casings/TW01-01/candidates")),
            ),
            (
                "trace request",
                vec![Investigator],
                Box::new(move |k| post_as(k, "/v1/traces", &trace)),
            ),
            (
                "serial search",
                vec![Investigator],
                Box::new(|k| get_as(k, "/v1/firearms?serial=AB123")),
            ),
            (
                "case history",
                vec![Investigator, Examiner],
                Box::new(|k| get_as(k, "/v1/cases/C/history")),
            ),
            (
                "mark lead",
                vec![Examiner],
                Box::new(move |k| post_as(k, "/v1/leads", &lead)),
            ),
            (
                "trace file",
                vec![Importer],
                Box::new(|k| {
                    TestRequest::post()
                        .uri("/v1/traces/imports")
                        .insert_header(bearer(k))
                        .insert_header((header::CONTENT_TYPE, "text/csv"))
                        .set_payload("trace_number,serial,date\n")
                }),
            ),
            (
                "import job",
                vec![Importer],
                Box::new(|k| post_as(k, "/v1/imports", &json!({"path": "/nowhere"}))),
            ),
            (
                "audit log",
                vec![Auditor],
                Box::new(|k| get_as(k, "/v1/audit")),
            ),
            (
                "list agreements",
                vec![Admin, Auditor],
                Box::new(|k| get_as(k, "/v1/agreements")),
            ),
            (
                "issue key",
                vec![Admin],
                Box::new(|k| {
                    post_as(
                        k,
                        "/v1/keys",
                        &json!({"holder": "n", "roles": ["examiner"]}),
                    )
                }),
            ),
        ];
        for (name, allowed, request) in &cases {
            for (role, key, key_id) in &keys {
                let r = send(&app, request(key).to_request()).await;
                if allowed.contains(role) {
                    assert_ne!(
                        r.status,
                        StatusCode::FORBIDDEN,
                        "{name} as {role}: {:#}",
                        r.json
                    );
                    assert_ne!(r.status, StatusCode::UNAUTHORIZED, "{name} as {role}");
                } else {
                    r.assert_error(StatusCode::FORBIDDEN, "forbidden");
                    assert!(
                        r.json["message"]
                            .as_str()
                            .unwrap()
                            .contains(allowed[0].as_str()),
                        "{name}: {:#}",
                        r.json
                    );
                    // The denial is on record, under the key that tried.
                    let last = t
                        .engine
                        .database()
                        .audit_records(&AuditQuery {
                            agency: Some("local".into()),
                            limit: 10_000,
                            ..AuditQuery::default()
                        })
                        .await
                        .unwrap()
                        .pop()
                        .unwrap();
                    assert_eq!(last.outcome, "denied", "{name} as {role}");
                    assert_eq!(last.key_id.as_deref(), Some(key_id.as_str()));
                    assert_eq!(last.actor, format!("{role} holder"));
                }
            }
        }
        t.close().await;
    }
}

const DE_KEY: &str =
    "ct_00000000000000de_dededededededededededededededededededededededededededededededede";
const FR_KEY: &str =
    "ct_00000000000000f7_f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7";

fn candidate_ids(r: &Value) -> Vec<(String, String)> {
    r["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["agency"].as_str().unwrap().to_string(),
                c["casing_id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[actix_web::test]
async fn agreements_decide_whose_casings_an_agency_correlates_with_and_sees() {
    for backend in backends() {
        let t = TestEngine::open(&backend).await;
        register_test_agency(&t.engine, "de-bka", DE_KEY).await;
        register_test_agency(&t.engine, "fr-pts", FR_KEY).await;
        let app = test::init_service(create_app(t.state())).await;
        // The German agency holds two casings of gun 1 and one of gun 2;
        // the French one submits a third casing of gun 1.
        for id in ["TW01-01", "TW01-03", "TW02-01"] {
            let r = send(
                &app,
                submit_as(DE_KEY, id, json!({"case_number": "DE-1"})).to_request(),
            )
            .await;
            assert_eq!(r.status, StatusCode::CREATED, "{:#}", r.json);
            assert_eq!(r.json["casing"]["agency"], "de-bka");
        }
        let r = send(&app, submit_as(FR_KEY, "TW01-06", json!({})).to_request()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:#}", r.json);
        // Writing into another agency's records is refused.
        let r = send(
            &app,
            submit_as(FR_KEY, "TW01-02", json!({"agency": "de-bka"})).to_request(),
        )
        .await;
        r.assert_error(StatusCode::FORBIDDEN, "forbidden");

        // No agreement: the French search sees only French casings, and a
        // German casing is answered as if it did not exist.
        let fr_candidates = "/v1/casings/TW01-06/candidates?limit=10";
        let r = send(&app, get_as(FR_KEY, fr_candidates).to_request()).await;
        assert_eq!(r.status, StatusCode::OK, "{:#}", r.json);
        assert!(candidate_ids(&r.json).is_empty(), "{:#}", r.json);
        let de_casing = "/v1/casings/TW01-01?agency=de-bka";
        let r = send(&app, get_as(FR_KEY, de_casing).to_request()).await;
        r.assert_error(StatusCode::NOT_FOUND, "casing_not_found");
        assert!(audited(&t, "fr-pts", "denied").await.contains(&(
            "GET /v1/casings/{casing_id}".into(),
            "/v1/casings/TW01-01".into()
        )));

        // Correlate: German casings become candidates, named by agency and
        // id only; their details stay hidden.
        let r = send(
            &app,
            post_as(
                DE_KEY,
                "/v1/agreements",
                &json!({"grantee": "fr-pts", "scope": "correlate"}),
            )
            .to_request(),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:#}", r.json);
        let r = send(&app, get_as(FR_KEY, fr_candidates).to_request()).await;
        let ids = candidate_ids(&r.json);
        assert_eq!(ids.len(), 3, "{:#}", r.json);
        assert_eq!(ids[0].0, "de-bka");
        assert!(ids[0].1.starts_with("TW01"), "{ids:?}");
        for c in r.json["candidates"].as_array().unwrap() {
            assert!(
                c.get("case_number").is_none() && c.get("sha256").is_none(),
                "{c}"
            );
        }
        let r = send(&app, get_as(FR_KEY, de_casing).to_request()).await;
        r.assert_error(StatusCode::NOT_FOUND, "casing_not_found");
        // The other way round nothing was granted.
        let r = send(
            &app,
            get_as(DE_KEY, "/v1/casings/TW01-01/candidates").to_request(),
        )
        .await;
        assert!(
            candidate_ids(&r.json).iter().all(|(a, _)| a == "de-bka"),
            "{:#}",
            r.json
        );

        // View: details too.
        send(
            &app,
            post_as(
                DE_KEY,
                "/v1/agreements",
                &json!({"grantee": "fr-pts", "scope": "view"}),
            )
            .to_request(),
        )
        .await;
        let r = send(&app, get_as(FR_KEY, de_casing).to_request()).await;
        assert_eq!(r.status, StatusCode::OK, "{:#}", r.json);
        assert_eq!(r.json["case_number"], "DE-1");

        // Traces: a German trace is invisible to French investigators until
        // shared.
        let trace =
            json!({"serial": "DE-77-123", "make": "Walther", "recovery_date": "2024-02-02"});
        let r = send(&app, post_as(DE_KEY, "/v1/traces", &trace).to_request()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:#}", r.json);
        let gun = r.json["firearm"]["id"].as_i64().unwrap();
        let search = "/v1/firearms?serial=DE77123";
        let r = send(&app, get_as(FR_KEY, search).to_request()).await;
        assert_eq!(
            r.json["matches"].as_array().unwrap().len(),
            0,
            "{:#}",
            r.json
        );
        let r = send(
            &app,
            get_as(FR_KEY, &format!("/v1/firearms/{gun}/history")).to_request(),
        )
        .await;
        r.assert_error(StatusCode::NOT_FOUND, "not_found");
        send(
            &app,
            post_as(
                DE_KEY,
                "/v1/agreements",
                &json!({"grantee": "fr-pts", "scope": "traces"}),
            )
            .to_request(),
        )
        .await;
        let r = send(&app, get_as(FR_KEY, search).to_request()).await;
        assert_eq!(r.json["matches"][0]["firearm"]["id"], gun, "{:#}", r.json);
        let r = send(
            &app,
            get_as(FR_KEY, &format!("/v1/firearms/{gun}/history")).to_request(),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{:#}", r.json);

        // Ending the agreement ends the sight.
        let r = send(
            &app,
            TestRequest::delete()
                .uri("/v1/agreements/fr-pts/correlate")
                .insert_header(bearer(DE_KEY))
                .to_request(),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{:#}", r.json);
        let r = send(&app, get_as(FR_KEY, fr_candidates).to_request()).await;
        // View still includes correlate.
        assert_eq!(candidate_ids(&r.json).len(), 3);

        // Each agency's auditor sees its own records only.
        let r = send(&app, get_as(FR_KEY, "/v1/audit?limit=1000").to_request()).await;
        assert_eq!(r.status, StatusCode::OK);
        let records = r.json.as_array().unwrap();
        assert!(!records.is_empty());
        assert!(
            records.iter().all(|x| x["agency"] == "fr-pts"),
            "{:#}",
            r.json
        );
        t.close().await;
    }
}

#[actix_web::test]
async fn admins_issue_and_revoke_keys_of_their_own_agency_only() {
    for backend in backends() {
        let t = TestEngine::open(&backend).await;
        register_test_agency(&t.engine, "de-bka", DE_KEY).await;
        let app = test::init_service(create_app(t.state())).await;
        let r = send(
            &app,
            post_as(
                DE_KEY,
                "/v1/keys",
                &json!({"holder": "examiner 7", "roles": ["examiner"], "days": 10}),
            )
            .to_request(),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:#}", r.json);
        let key = r.json["key"].as_str().unwrap().to_string();
        let id = r.json["id"].as_str().unwrap().to_string();
        assert_eq!(r.json["agency"], "de-bka");
        // The key works, and the list never shows a secret.
        let r = send(&app, get_as(&key, "/v1/casings/NOPE").to_request()).await;
        r.assert_error(StatusCode::NOT_FOUND, "casing_not_found");
        let r = send(&app, get_as(DE_KEY, "/v1/keys").to_request()).await;
        assert!(!r.json.to_string().contains(&key[20..]), "{:#}", r.json);
        // Another agency's admin cannot revoke it, or learn that it exists.
        let r = send(
            &app,
            TestRequest::delete()
                .uri(&format!("/v1/keys/{id}"))
                .insert_header(crate::common::auth())
                .to_request(),
        )
        .await;
        r.assert_error(StatusCode::NOT_FOUND, "not_found");
        let r = send(
            &app,
            TestRequest::delete()
                .uri(&format!("/v1/keys/{id}"))
                .insert_header(bearer(DE_KEY))
                .to_request(),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{:#}", r.json);
        assert!(r.json["revoked_at"].is_string());
        let r = send(&app, get_as(&key, "/v1/casings/NOPE").to_request()).await;
        r.assert_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        // Bad requests name the problem.
        for (body, code) in [
            (json!({"holder": "x", "roles": ["god"]}), "invalid_metadata"),
            (
                json!({"holder": "x", "roles": ["examiner"], "days": 9999}),
                "invalid_metadata",
            ),
            (json!({"holder": "x", "roles": []}), "invalid_metadata"),
        ] {
            let r = send(&app, post_as(DE_KEY, "/v1/keys", &body).to_request()).await;
            r.assert_error(StatusCode::BAD_REQUEST, code);
        }
        t.close().await;
    }
}
