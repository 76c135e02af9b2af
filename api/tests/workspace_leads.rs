//! The examiner workspace's leads over HTTP (issue #16): who a key is, the
//! agency's lead list with its scores, filters and counts, and AFTE
//! conclusions with blind verification.

use actix_web::http::{header, StatusCode};
use actix_web::test::{self, TestRequest};
use casetrace_api::app::create_app;
use casetrace_engine::access::Role;
use casetrace_engine::store::AuditQuery;
use serde_json::{json, Value};

use crate::common::{
    backends, bearer, get_as, multipart, operator, post_as, register_test_agency, send, weller,
    Part, TestEngine, TEST_KEY,
};

fn submit_as(key: &str, casing_id: &str, metadata: Value) -> TestRequest {
    let mut m = json!({"casing_id": casing_id});
    m.as_object_mut()
        .unwrap()
        .extend(metadata.as_object().cloned().unwrap_or_default());
    let (content_type, body) = multipart(&[
        Part::file("image", &format!("{casing_id}.x3p"), &weller(casing_id)),
        Part::text("metadata", &m.to_string()),
    ]);
    TestRequest::post()
        .uri("/v1/casings?limit=0")
        .insert_header(bearer(key))
        .insert_header((header::CONTENT_TYPE, content_type))
        .set_payload(body)
}

fn lead_body(query: &str, candidate: &str) -> Value {
    json!({"query": {"agency": "local", "casing_id": query},
           "candidate": {"agency": "local", "casing_id": candidate}})
}

/// A key of the `local` agency with these roles, as issued by the operator.
async fn key_with(t: &TestEngine, holder: &str, roles: Vec<Role>) -> String {
    t.engine
        .issue_key(&operator(), holder, roles, 30)
        .await
        .unwrap()
        .key
}

fn ids(list: &Value) -> Vec<i64> {
    list["leads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_i64().unwrap())
        .collect()
}

#[actix_web::test]
async fn whoami_names_the_keys_agency_holder_and_roles() {
    let t = TestEngine::open(&crate::common::Backend::Sqlite).await;
    let app = test::init_service(create_app(t.state())).await;
    let r = send(&app, get_as(TEST_KEY, "/v1/whoami").to_request()).await;
    assert_eq!(r.status, StatusCode::OK, "{:#}", r.json);
    assert_eq!(r.json["agency"], "local");
    assert_eq!(r.json["key_id"], "00000000000000a1");
    assert_eq!(r.json["key_name"], "local-tester");
    let roles: Vec<&str> = r.json["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert_eq!(roles.len(), Role::ALL.len(), "{roles:?}");
    let examiner = key_with(&t, "only examines", vec![Role::Examiner]).await;
    let r = send(&app, get_as(&examiner, "/v1/whoami").to_request()).await;
    assert_eq!(r.json["roles"], json!(["examiner"]));
    assert_eq!(r.json["key_name"], "only examines");
    let r = send(&app, TestRequest::get().uri("/v1/whoami").to_request()).await;
    r.assert_error(StatusCode::UNAUTHORIZED, "unauthenticated");
    t.close().await;
}

#[actix_web::test]
async fn the_lead_list_keeps_the_pairs_scores_filters_counts_and_orders_best_first() {
    for backend in backends() {
        let t = TestEngine::open(&backend).await;
        let app = test::init_service(create_app(t.state())).await;
        for (id, case, calibre) in [
            ("TW01-01", "C-1", "9mm Luger"),
            ("TW01-03", "C-2", "9mm Luger"),
            ("TW02-01", "C-3", ".40 S&W"),
        ] {
            let meta = json!({"case_number": case, "calibre": calibre});
            let r = send(&app, submit_as(TEST_KEY, id, meta).to_request()).await;
            assert_eq!(r.status, StatusCode::CREATED, "{:#}", r.json);
        }
        // A mate and a casing of another pistol, both taken up from TW01-01,
        // and one lead from TW02-01.
        let mut lead_ids = Vec::new();
        for (q, c) in [
            ("TW01-01", "TW02-01"),
            ("TW01-01", "TW01-03"),
            ("TW02-01", "TW01-03"),
        ] {
            let r = send(
                &app,
                post_as(TEST_KEY, "/v1/leads", &lead_body(q, c)).to_request(),
            )
            .await;
            assert_eq!(r.status, StatusCode::CREATED, "{:#}", r.json);
            lead_ids.push(r.json["id"].as_i64().unwrap());
            assert_eq!(r.json["verification"]["state"], "none");
            assert_eq!(r.json["created_at"], r.json["marked_at"]);
        }
        let (other_gun, mate, third) = (lead_ids[0], lead_ids[1], lead_ids[2]);
        // The pair's comparison was kept with the lead: the mate scores
        // above the other pistol's casing, as in the candidate list.
        let r = send(
            &app,
            get_as(TEST_KEY, &format!("/v1/leads/{mate}")).to_request(),
        )
        .await;
        let mate_score = r.json["score"].as_f64().expect("the mate has a score");
        assert_eq!(r.json["case_number"], "C-1");
        assert_eq!(r.json["calibre"], "9mm Luger");
        let candidates = send(
            &app,
            get_as(TEST_KEY, "/v1/casings/TW01-01/candidates?limit=5").to_request(),
        )
        .await;
        let listed = candidates.json["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["casing_id"] == "TW01-03")
            .expect("the mate is a candidate");
        assert!((listed["score"].as_f64().unwrap() - mate_score).abs() < 1e-9);
        assert_eq!(listed["log10_lr"], r.json["log10_lr"]);
        let r = send(
            &app,
            get_as(TEST_KEY, &format!("/v1/leads/{other_gun}")).to_request(),
        )
        .await;
        let other_score = r.json["score"].as_f64().unwrap_or(f64::NEG_INFINITY);
        assert!(mate_score > other_score, "{mate_score} vs {other_score}");

        // Default: open leads, best first (by LR then score).
        let r = send(&app, get_as(TEST_KEY, "/v1/leads").to_request()).await;
        assert_eq!(r.status, StatusCode::OK, "{:#}", r.json);
        assert_eq!(r.json["total"], 3);
        assert_eq!(ids(&r.json)[0], mate, "{:#}", r.json);
        assert_eq!(
            r.json["counts"],
            json!({"lead": 3, "hit": 0, "excluded": 0, "needs_verification": 0, "disagreement": 0})
        );
        let r = send(&app, get_as(TEST_KEY, "/v1/leads?sort=score").to_request()).await;
        assert_eq!(ids(&r.json)[0], mate);

        // Deciding one moves it out of the open list; the counts follow.
        let r = send(
            &app,
            post_as(
                TEST_KEY,
                &format!("/v1/leads/{other_gun}/decision"),
                &json!({"decision": "excluded"}),
            )
            .to_request(),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{:#}", r.json);
        let r = send(&app, get_as(TEST_KEY, "/v1/leads").to_request()).await;
        assert_eq!(r.json["total"], 2);
        assert_eq!(r.json["counts"]["excluded"], 1);
        let r = send(
            &app,
            get_as(TEST_KEY, "/v1/leads?status=excluded").to_request(),
        )
        .await;
        assert_eq!(ids(&r.json), [other_gun]);
        let r = send(
            &app,
            get_as(TEST_KEY, "/v1/leads?status=any&limit=1&offset=1").to_request(),
        )
        .await;
        assert_eq!((r.json["total"].as_i64(), ids(&r.json).len()), (Some(3), 1));

        // Filters on the query casing and the time taken up.
        let r = send(
            &app,
            get_as(TEST_KEY, "/v1/leads?case_number=C-3").to_request(),
        )
        .await;
        assert_eq!(ids(&r.json), [third]);
        let r = send(
            &app,
            get_as(TEST_KEY, "/v1/leads?calibre=.40%20S%26W").to_request(),
        )
        .await;
        assert_eq!(ids(&r.json), [third]);
        assert_eq!(r.json["counts"]["lead"], 1);
        let r = send(
            &app,
            get_as(TEST_KEY, "/v1/leads?since=2999-01-01").to_request(),
        )
        .await;
        assert_eq!(r.json["total"], 0);
        let r = send(
            &app,
            get_as(
                TEST_KEY,
                "/v1/leads?since=2000-01-01T00:00:00Z&until=2999-12-31&status=any",
            )
            .to_request(),
        )
        .await;
        assert_eq!(r.json["total"], 3);

        // Bad queries are refused; the list is an examiner's.
        for bad in [
            "/v1/leads?limit=0",
            "/v1/leads?limit=501",
            "/v1/leads?status=open",
            "/v1/leads?sort=date",
            "/v1/leads?since=yesterday",
        ] {
            let r = send(&app, get_as(TEST_KEY, bad).to_request()).await;
            r.assert_error(StatusCode::BAD_REQUEST, "invalid_query");
        }
        let investigator = key_with(&t, "investigates", vec![Role::Investigator]).await;
        let r = send(&app, get_as(&investigator, "/v1/leads").to_request()).await;
        r.assert_error(StatusCode::FORBIDDEN, "forbidden");
        // Another agency sees none of these leads.
        const OTHER: &str =
            "ct_00000000000000b2_2222222222222222222222222222222222222222222222222222222222222222";
        register_test_agency(&t.engine, "other", OTHER).await;
        let r = send(&app, get_as(OTHER, "/v1/leads?status=any").to_request()).await;
        assert_eq!(r.json["total"], 0, "{:#}", r.json);
        t.close().await;
    }
}

#[actix_web::test]
async fn conclusions_are_blind_until_recorded_and_decide_the_lead_once_verified() {
    for backend in backends() {
        let t = TestEngine::open(&backend).await;
        let app = test::init_service(create_app(t.state())).await;
        for id in ["TW01-01", "TW01-03", "TW01-06"] {
            let r = send(&app, submit_as(TEST_KEY, id, json!({})).to_request()).await;
            assert_eq!(r.status, StatusCode::CREATED, "{:#}", r.json);
        }
        let mut leads = Vec::new();
        for (q, c) in [("TW01-01", "TW01-03"), ("TW01-01", "TW01-06")] {
            let r = send(
                &app,
                post_as(TEST_KEY, "/v1/leads", &lead_body(q, c)).to_request(),
            )
            .await;
            assert_eq!(r.status, StatusCode::CREATED, "{:#}", r.json);
            leads.push(r.json["id"].as_i64().unwrap());
        }
        let (lead, other) = (leads[0], leads[1]);
        let first = key_with(&t, "first examiner", vec![Role::Examiner]).await;
        let second = key_with(&t, "second examiner", vec![Role::Examiner]).await;
        let third = key_with(&t, "third examiner", vec![Role::Examiner]).await;
        let auditor = key_with(&t, "reviews", vec![Role::Investigator, Role::Auditor]).await;
        let conclude = |key: &str, id: i64, conclusion: &str| {
            post_as(
                key,
                &format!("/v1/leads/{id}/conclusions"),
                &json!({"conclusion": conclusion, "notes": format!("{conclusion} by me")}),
            )
            .to_request()
        };
        let uri = format!("/v1/leads/{lead}");

        // The primary examination: recorded, not yet reported.
        let r = send(&app, conclude(&first, lead, "identification")).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:#}", r.json);
        assert_eq!(r.json["status"], "lead");
        assert_eq!(
            r.json["verification"],
            json!({"state": "awaiting", "needs_third": false})
        );
        assert_eq!(r.json["conclusions"][0]["role"], "primary");
        assert_eq!(r.json["conclusions"][0]["examiner"], "first examiner");
        assert_eq!(r.json["conclusions"][0]["notes"], "identification by me");
        // One conclusion per key.
        let r = send(&app, conclude(&first, lead, "elimination")).await;
        r.assert_error(StatusCode::CONFLICT, "conflict");
        // The verifier is blind to it, in the lead and in the list.
        let r = send(&app, get_as(&second, &uri).to_request()).await;
        assert_eq!(r.json["conclusions"], json!([]), "{:#}", r.json);
        assert_eq!(r.json["conclusions_hidden"], 1);
        assert_eq!(r.json["status"], "lead");
        let r = send(&app, get_as(&second, "/v1/leads").to_request()).await;
        assert_eq!(r.json["counts"]["needs_verification"], 1, "{:#}", r.json);
        let listed = &r.json["leads"].as_array().unwrap();
        let listed = listed.iter().find(|l| l["id"] == lead).unwrap();
        assert_eq!(listed["conclusions"], json!([]));
        // An auditor reads them.
        let r = send(&app, get_as(&auditor, &uri).to_request()).await;
        assert_eq!(
            r.json["conclusions"].as_array().unwrap().len(),
            1,
            "{:#}",
            r.json
        );

        // A disagreement needs a third examiner, whose family decides.
        let r = send(&app, conclude(&second, lead, "elimination")).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:#}", r.json);
        assert_eq!(r.json["status"], "lead");
        assert_eq!(
            r.json["verification"],
            json!({"state": "disagree", "needs_third": true})
        );
        assert_eq!(r.json["conclusions"][1]["role"], "verification");
        let r = send(&app, get_as(&third, "/v1/leads").to_request()).await;
        assert_eq!(r.json["counts"]["disagreement"], 1);
        assert_eq!(r.json["counts"]["needs_verification"], 0);
        let r = send(&app, get_as(&third, &uri).to_request()).await;
        assert_eq!(r.json["conclusions_hidden"], 2);
        let r = send(&app, conclude(&third, lead, "identification")).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:#}", r.json);
        assert_eq!(r.json["status"], "hit");
        assert_eq!(r.json["conclusion"], "identification");
        assert_eq!(r.json["decided_by"], "third examiner");
        assert_eq!(
            r.json["verification"],
            json!({"state": "agree", "needs_third": false})
        );
        // Concluded: no more conclusions.
        let r = send(&app, conclude(TEST_KEY, lead, "identification")).await;
        r.assert_error(StatusCode::CONFLICT, "conflict");

        // Agreeing inconclusives leave the lead open, marked concluded.
        send(&app, conclude(&first, other, "inconclusive_a")).await;
        let r = send(&app, conclude(&second, other, "inconclusive_c")).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:#}", r.json);
        assert_eq!(r.json["status"], "lead");
        assert_eq!(r.json["conclusion"], "inconclusive");
        assert_eq!(r.json["verification"]["state"], "agree");
        assert!(r.json["decided_by"].is_null());

        // Bad bodies, unknown leads, other agencies and other roles.
        let r = send(&app, conclude(&third, other, "probable")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:#}", r.json);
        let r = send(&app, conclude(&third, 999_999, "elimination")).await;
        r.assert_error(StatusCode::NOT_FOUND, "not_found");
        const OTHER: &str =
            "ct_00000000000000b3_3333333333333333333333333333333333333333333333333333333333333333";
        register_test_agency(&t.engine, "other", OTHER).await;
        let r = send(&app, conclude(OTHER, other, "elimination")).await;
        r.assert_error(StatusCode::NOT_FOUND, "not_found");
        let r = send(&app, conclude(&auditor, other, "elimination")).await;
        r.assert_error(StatusCode::FORBIDDEN, "forbidden");

        // Each conclusion is on record, with what was concluded.
        let records = t
            .engine
            .database()
            .audit_records(&AuditQuery {
                agency: Some("local".into()),
                limit: 10_000,
                ..AuditQuery::default()
            })
            .await
            .unwrap();
        let concluded: Vec<Value> = records
            .iter()
            .filter(|r| r.resource == format!("/v1/leads/{lead}/conclusions") && r.outcome == "ok")
            .map(|r| serde_json::from_str(&r.detail).unwrap())
            .collect();
        assert_eq!(concluded.len(), 3, "{concluded:?}");
        assert_eq!(concluded[2]["conclusion"], "identification");
        assert_eq!(concluded[2]["lead_status"], "hit");
        t.close().await;
    }
}
