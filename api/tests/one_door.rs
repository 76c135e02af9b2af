//! Issue #15, "one door": the access holes an outside test found on a live
//! server with several agencies, each as a regression test over HTTP named
//! after the bug. Each failed on the code before the engine decided access
//! itself (the rules: `engine/src/access/policy.rs`, docs/access.md).

use actix_web::http::{header, StatusCode};
use actix_web::test::{self, TestRequest};
use casetrace_api::app::create_app;
use casetrace_engine::access::Role;
use casetrace_engine::traces::NewFirearm;
use serde_json::{json, Value};

use crate::common::{
    backends, bearer, get_as, multipart, post_as, register_test_agency, send, weller, Part, Reply,
    TestEngine, NBIDE_PHOTOS,
};

pub const DE_KEY: &str =
    "ct_00000000000000de_dededededededededededededededededededededededededededededededede";
pub const FR_KEY: &str =
    "ct_00000000000000f7_f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7";
pub const NL_KEY: &str =
    "ct_000000000000001a_1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a";

/// A multipart casing submission by `key` (`limit=0`: no candidates).
fn submit_as(key: &str, casing_id: &str, file: &str, bytes: &[u8], extra: Value) -> TestRequest {
    let mut metadata = json!({"casing_id": casing_id});
    metadata
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().cloned().unwrap_or_default());
    let (content_type, body) = multipart(&[
        Part::file("image", file, bytes),
        Part::text("metadata", &metadata.to_string()),
    ]);
    TestRequest::post()
        .uri("/v1/casings?limit=0")
        .insert_header(bearer(key))
        .insert_header((header::CONTENT_TYPE, content_type))
        .set_payload(body)
}

/// A Weller scan submitted by `key`'s agency.
fn weller_as(key: &str, casing_id: &str, extra: Value) -> TestRequest {
    let bytes = weller(casing_id);
    submit_as(key, casing_id, &format!("{casing_id}.x3p"), &bytes, extra)
}

/// The reply, asserted to be a 201.
fn created(r: Reply) -> Reply {
    assert_eq!(r.status, StatusCode::CREATED, "{:#}", r.json);
    r
}

/// Three agencies with a key each (every role): de-bka, fr-pts, nl-nfi.
async fn three_agencies(t: &TestEngine) {
    register_test_agency(&t.engine, "de-bka", DE_KEY).await;
    register_test_agency(&t.engine, "fr-pts", FR_KEY).await;
    register_test_agency(&t.engine, "nl-nfi", NL_KEY).await;
}

/// `owner_key`'s agency grants `grantee` a scope.
fn grant_as(owner_key: &str, grantee: &str, scope: &str) -> TestRequest {
    post_as(
        owner_key,
        "/v1/agreements",
        &json!({"grantee": grantee, "scope": scope}),
    )
}

fn lead_body(query: (&str, &str), candidate: (&str, &str), comment: &str) -> Value {
    json!({
        "query": {"agency": query.0, "casing_id": query.1},
        "candidate": {"agency": candidate.0, "casing_id": candidate.1},
        "comment": comment,
    })
}

/// An error reply with its identifier masked, to compare two answers'
/// shapes: status, code, and message with `id` and digits replaced.
fn shape(r: &Reply, id: &str) -> (StatusCode, Value, String) {
    let message = r.json["message"].as_str().unwrap_or_default();
    let masked: String = message
        .replace(id, "<id>")
        .chars()
        .map(|c| if c.is_ascii_digit() { '#' } else { c })
        .collect();
    (r.status, r.json["code"].clone(), masked)
}

/// Hole 2: `POST /v1/leads` by agency B on the reversed pair of agency
/// A's lead answered 200 with A's lead and its comment.
#[actix_web::test]
async fn a_lead_on_the_reversed_pair_of_another_agencys_lead_never_answers_that_lead() {
    for backend in backends() {
        let t = TestEngine::open(&backend).await;
        three_agencies(&t).await;
        let app = test::init_service(create_app(t.state())).await;
        created(send(&app, weller_as(DE_KEY, "TW01-01", json!({})).to_request()).await);
        created(send(&app, weller_as(FR_KEY, "TW01-02", json!({})).to_request()).await);
        created(send(&app, grant_as(DE_KEY, "fr-pts", "view").to_request()).await);
        created(send(&app, grant_as(FR_KEY, "de-bka", "view").to_request()).await);
        let de_lead = lead_body(
            ("de-bka", "TW01-01"),
            ("fr-pts", "TW01-02"),
            "informant says same pistol",
        );
        let r = send(&app, post_as(DE_KEY, "/v1/leads", &de_lead).to_request()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:#}", r.json);
        let de_id = r.json["id"].clone();
        let fr_lead = lead_body(("fr-pts", "TW01-02"), ("de-bka", "TW01-01"), "ours");
        let r = send(&app, post_as(FR_KEY, "/v1/leads", &fr_lead).to_request()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}: {:#}", t.backend, r.json);
        assert_eq!(r.json["agency"], "fr-pts", "{:#}", r.json);
        assert_eq!(r.json["comment"], "ours", "{:#}", r.json);
        assert_ne!(r.json["id"], de_id);
        assert!(!r.json.to_string().contains("informant"), "{:#}", r.json);
        // Each agency asking again gets its own lead back.
        let r = send(&app, post_as(DE_KEY, "/v1/leads", &de_lead).to_request()).await;
        assert_eq!(r.status, StatusCode::OK, "{:#}", r.json);
        assert_eq!(r.json["id"], de_id);
        t.close().await;
    }
}

/// Hole 3: any importer read any import job, and a job recorded no
/// agency. Import jobs are now their agency's: another agency's job id
/// answers as an absent one.
#[actix_web::test]
async fn an_import_job_is_answered_only_to_the_agency_that_started_it() {
    for backend in backends() {
        let t = TestEngine::open(&backend).await;
        three_agencies(&t).await;
        let app = test::init_service(create_app(t.state())).await;
        let archive = import_zip(&t, "one.zip", &["TW01-01"]);
        let (content_type, body) = multipart(&[Part::file(
            "archive",
            "one.zip",
            &std::fs::read(&archive).unwrap(),
        )]);
        let req = TestRequest::post()
            .uri("/v1/imports")
            .insert_header(bearer(DE_KEY))
            .insert_header((header::CONTENT_TYPE, content_type))
            .set_payload(body)
            .to_request();
        let r = send(&app, req).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{:#}", r.json);
        let id = r.json["id"].as_str().unwrap().to_string();
        let uri = format!("/v1/imports/{id}");
        let r = send(&app, get_as(DE_KEY, &uri).to_request()).await;
        assert_eq!(r.status, StatusCode::OK, "{:#}", r.json);
        let hidden = send(&app, get_as(FR_KEY, &uri).to_request()).await;
        hidden.assert_error(StatusCode::NOT_FOUND, "import_not_found");
        let other = "00000000-0000-4000-8000-000000000000";
        let absent = send(
            &app,
            get_as(FR_KEY, &format!("/v1/imports/{other}")).to_request(),
        )
        .await;
        assert_eq!(shape(&hidden, &id), shape(&absent, other));
        t.close().await;
    }
}

/// A zip with a manifest naming these Weller scans, in `t`'s directory.
pub fn import_zip(t: &TestEngine, name: &str, scans: &[&str]) -> std::path::PathBuf {
    use std::io::Write;
    let path = t.dir.path().join(name);
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let options = zip::write::SimpleFileOptions::default();
    let mut manifest = String::from("file,casing_id\n");
    for id in scans {
        manifest += &format!("{id}.x3p,{id}\n");
    }
    zip.start_file("manifest.csv", options).unwrap();
    zip.write_all(manifest.as_bytes()).unwrap();
    for id in scans {
        zip.start_file(format!("{id}.x3p"), options).unwrap();
        zip.write_all(&weller(id)).unwrap();
    }
    zip.finish().unwrap();
    path
}

/// Hole 4: a trace submitted by B with a serial A holds answered with A's
/// firearm record (make, importer, who submitted it) and attached B's
/// event to A's gun, with no agreement between them.
#[actix_web::test]
async fn a_trace_matching_another_agencys_serial_neither_shows_nor_extends_its_firearm() {
    for backend in backends() {
        let t = TestEngine::open(&backend).await;
        three_agencies(&t).await;
        let app = test::init_service(create_app(t.state())).await;
        let de_trace = json!({
            "serial": "WX-4711", "make": "Walther", "importer": "Geheim Import GmbH",
            "recovery_date": "2024-01-05"
        });
        let r = send(&app, post_as(DE_KEY, "/v1/traces", &de_trace).to_request()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:#}", r.json);
        let de_gun = r.json["firearm"]["id"].as_i64().unwrap();
        let fr_trace =
            json!({"serial": "WX4711", "make": "Walther", "recovery_date": "2024-03-01"});
        let r = send(&app, post_as(FR_KEY, "/v1/traces", &fr_trace).to_request()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}: {:#}", t.backend, r.json);
        assert_ne!(r.json["firearm"]["id"], de_gun, "{:#}", r.json);
        assert_eq!(r.json["firearm"]["agency"], "fr-pts", "{:#}", r.json);
        assert!(!r.json.to_string().contains("Geheim"), "{:#}", r.json);
        assert!(!r.json.to_string().contains("de-bka"), "{:#}", r.json);
        let r = send(
            &app,
            get_as(DE_KEY, &format!("/v1/firearms/{de_gun}/history")).to_request(),
        )
        .await;
        assert_eq!(
            r.json["events"].as_array().unwrap().len(),
            1,
            "{:#}",
            r.json
        );

        // With a traces agreement the gun is one gun: the Dutch trace lands
        // on the German record (docs/traces.md).
        created(send(&app, grant_as(DE_KEY, "nl-nfi", "traces").to_request()).await);
        let nl_trace =
            json!({"serial": "WX-4711", "make": "walther", "recovery_date": "2024-04-01"});
        let r = send(&app, post_as(NL_KEY, "/v1/traces", &nl_trace).to_request()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:#}", r.json);
        assert_eq!(r.json["firearm"]["id"], de_gun, "{:#}", r.json);
        assert_eq!(r.json["event"]["agency"], "nl-nfi", "{:#}", r.json);
        t.close().await;
    }
}

/// Hole 5: 404s differed for hidden and absent records (serial and case
/// histories worded them differently, one printing `Path("…")`; a hidden
/// casing answered `not_found`, an absent one `casing_not_found`). Every
/// route now answers both alike: status, code and message shape.
#[actix_web::test]
async fn hidden_and_absent_records_answer_alike_on_every_route() {
    for backend in backends() {
        let t = TestEngine::open(&backend).await;
        three_agencies(&t).await;
        let app = test::init_service(create_app(t.state())).await;
        created(
            send(
                &app,
                weller_as(DE_KEY, "TW01-01", json!({"case_number": "DE-1"})).to_request(),
            )
            .await,
        );
        created(
            send(
                &app,
                weller_as(DE_KEY, "TW01-03", json!({"case_number": "DE-1"})).to_request(),
            )
            .await,
        );
        let lead = lead_body(("de-bka", "TW01-01"), ("de-bka", "TW01-03"), "x");
        let r = send(&app, post_as(DE_KEY, "/v1/leads", &lead).to_request()).await;
        let de_lead = r.json["id"].as_i64().unwrap();
        let trace = json!({"serial": "WX-4711", "make": "Walther", "recovery_date": "2024-01-05"});
        let r = send(&app, post_as(DE_KEY, "/v1/traces", &trace).to_request()).await;
        let de_gun = r.json["firearm"]["id"].as_i64().unwrap();
        let (gun, no_gun) = (de_gun.to_string(), (de_gun + 9000).to_string());
        let (lead, no_lead) = (de_lead.to_string(), (de_lead + 9000).to_string());
        let theft = json!({"kind": "theft", "date": "2024-02-02"});
        let decision = json!({"decision": "hit"});
        // (method body, hidden uri, hidden id, absent uri, absent id)
        let pairs: Vec<(Option<&Value>, String, &str, String, &str)> = vec![
            (
                None,
                "/v1/casings/TW01-01?agency=de-bka".into(),
                "TW01-01",
                "/v1/casings/TW09-09".into(),
                "TW09-09",
            ),
            (
                None,
                "/v1/casings/TW01-01/candidates?agency=de-bka".into(),
                "TW01-01",
                "/v1/casings/TW09-09/candidates".into(),
                "TW09-09",
            ),
            (
                None,
                format!("/v1/firearms/{gun}"),
                &gun,
                format!("/v1/firearms/{no_gun}"),
                &no_gun,
            ),
            (
                None,
                format!("/v1/firearms/{gun}/history"),
                &gun,
                format!("/v1/firearms/{no_gun}/history"),
                &no_gun,
            ),
            (
                Some(&theft),
                format!("/v1/firearms/{gun}/events"),
                &gun,
                format!("/v1/firearms/{no_gun}/events"),
                &no_gun,
            ),
            (
                None,
                "/v1/serials/WX-4711/history".into(),
                "WX-4711",
                "/v1/serials/WX-4799/history".into(),
                "WX-4799",
            ),
            (
                None,
                "/v1/cases/DE-1/history".into(),
                "DE-1",
                "/v1/cases/DE-9/history".into(),
                "DE-9",
            ),
            (
                None,
                format!("/v1/leads/{lead}"),
                &lead,
                format!("/v1/leads/{no_lead}"),
                &no_lead,
            ),
            (
                Some(&decision),
                format!("/v1/leads/{lead}/decision"),
                &lead,
                format!("/v1/leads/{no_lead}/decision"),
                &no_lead,
            ),
        ];
        for (body, hidden_uri, hidden_id, absent_uri, absent_id) in &pairs {
            let request = |uri: &str| match body {
                Some(b) => post_as(FR_KEY, uri, b).to_request(),
                None => get_as(FR_KEY, uri).to_request(),
            };
            let hidden = send(&app, request(hidden_uri)).await;
            let absent = send(&app, request(absent_uri)).await;
            assert_eq!(
                hidden.status,
                StatusCode::NOT_FOUND,
                "{hidden_uri}: {:#}",
                hidden.json
            );
            assert_eq!(
                shape(&hidden, hidden_id),
                shape(&absent, absent_id),
                "{}: {hidden_uri} vs {absent_uri}",
                t.backend
            );
            let keys: Vec<&String> = hidden.json.as_object().unwrap().keys().collect();
            assert_eq!(keys, ["code", "message"], "{hidden_uri}");
        }
        t.close().await;
    }
}

/// Hole 8: serial search kept 200 matches before hiding other agencies'
/// firearms, so the caller's own match vanished behind them and the number
/// of hidden matches showed.
#[actix_web::test]
async fn serial_search_hides_other_agencies_before_keeping_its_200_matches() {
    for backend in backends() {
        let t = TestEngine::open(&backend).await;
        three_agencies(&t).await;
        let app = test::init_service(create_app(t.state())).await;
        let de = t.engine.authenticate(DE_KEY).await.unwrap();
        for _ in 0..205 {
            let gun = NewFirearm {
                agency: "de-bka".into(),
                serial: "SAME-4711".into(),
                make: Some("Glock".into()),
                submitted_by: "de".into(),
                ..NewFirearm::default()
            };
            t.engine.register_firearm(&de, &gun).await.unwrap();
        }
        let own = json!({"serial": "SAME-4711", "make": "Glock"});
        let r = send(&app, post_as(FR_KEY, "/v1/firearms", &own).to_request()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:#}", r.json);
        let own_id = r.json["id"].clone();
        for query in ["SAME4711", "SAME47?1", "SAME4712&mode=fuzzy"] {
            let r = send(
                &app,
                get_as(FR_KEY, &format!("/v1/firearms?serial={query}")).to_request(),
            )
            .await;
            assert_eq!(r.status, StatusCode::OK, "{query}: {:#}", r.json);
            let matches = r.json["matches"].as_array().unwrap();
            assert_eq!(matches.len(), 1, "{}: {query}: {:#}", t.backend, r.json);
            assert_eq!(matches[0]["firearm"]["id"], own_id);
        }
        t.close().await;
    }
}

/// Hole 9: `GET /v1/leads/{id}` showed a third agency's casing the caller
/// may not know of (the caller views the lead's agency, not the third).
#[actix_web::test]
async fn a_lead_naming_a_third_agencys_casing_stays_hidden_from_the_caller() {
    for backend in backends() {
        let t = TestEngine::open(&backend).await;
        three_agencies(&t).await;
        let app = test::init_service(create_app(t.state())).await;
        created(send(&app, weller_as(DE_KEY, "TW01-01", json!({})).to_request()).await);
        created(send(&app, weller_as(NL_KEY, "TW01-03", json!({})).to_request()).await);
        created(send(&app, grant_as(NL_KEY, "de-bka", "correlate").to_request()).await);
        created(send(&app, grant_as(DE_KEY, "fr-pts", "view").to_request()).await);
        let lead = lead_body(("de-bka", "TW01-01"), ("nl-nfi", "TW01-03"), "x");
        let r = send(&app, post_as(DE_KEY, "/v1/leads", &lead).to_request()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:#}", r.json);
        let uri = format!("/v1/leads/{}", r.json["id"]);
        let r = send(&app, get_as(DE_KEY, &uri).to_request()).await;
        assert_eq!(r.status, StatusCode::OK, "{:#}", r.json);
        let r = send(&app, get_as(FR_KEY, &uri).to_request()).await;
        r.assert_error(StatusCode::NOT_FOUND, "not_found");
        assert!(!r.json.to_string().contains("nl-nfi"), "{:#}", r.json);
        t.close().await;
    }
}

/// Hole 9: an examiner could record any firearm event, although
/// docs/access.md lets examiners record test fires only.
#[actix_web::test]
async fn an_examiner_records_test_fires_but_no_other_firearm_event() {
    for backend in backends() {
        let t = TestEngine::open(&backend).await;
        let app = test::init_service(create_app(t.state())).await;
        let admin = crate::common::operator();
        let examiner = t
            .engine
            .issue_key(&admin, "examiner", vec![Role::Examiner], 30)
            .await
            .unwrap()
            .key;
        created(
            send(
                &app,
                weller_as(crate::common::TEST_KEY, "TW01-01", json!({})).to_request(),
            )
            .await,
        );
        let gun = json!({"serial": "EX-100", "make": "Glock"});
        let r = send(
            &app,
            post_as(crate::common::TEST_KEY, "/v1/firearms", &gun).to_request(),
        )
        .await;
        let events = format!("/v1/firearms/{}/events", r.json["id"]);
        let theft = json!({"kind": "theft", "date": "2024-02-02"});
        let r = send(&app, post_as(&examiner, &events, &theft).to_request()).await;
        r.assert_error(StatusCode::FORBIDDEN, "forbidden");
        let test_fire = json!({"kind": "test_fire", "date": "2024-02-03", "casing_id": "TW01-01"});
        let r = send(&app, post_as(&examiner, &events, &test_fire).to_request()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:#}", r.json);
        t.close().await;
    }
}

/// Hole 9: `POST /v1/leads` answered 201 or 404 for any casing id of a
/// partner that only lets the caller correlate, so it probed which casing
/// ids the partner holds. Such a candidate must be one the engine offers
/// for the query; one it would not offer answers as an absent one.
#[actix_web::test]
async fn a_lead_cannot_probe_the_casing_ids_of_a_correlate_only_partner() {
    for backend in backends() {
        let t = TestEngine::open(&backend).await;
        three_agencies(&t).await;
        let app = test::init_service(create_app(t.state())).await;
        created(send(&app, weller_as(FR_KEY, "TW01-02", json!({})).to_request()).await);
        created(send(&app, weller_as(NL_KEY, "TW01-03", json!({})).to_request()).await);
        // A photograph is never offered for a scan.
        let photo = std::fs::read(NBIDE_PHOTOS[0]).unwrap();
        let r = send(
            &app,
            submit_as(NL_KEY, "N118", "photo.png", &photo, json!({})).to_request(),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:#}", r.json);
        created(send(&app, grant_as(NL_KEY, "fr-pts", "correlate").to_request()).await);
        let on_file_not_offered = lead_body(("fr-pts", "TW01-02"), ("nl-nfi", "N118"), "x");
        let absent = lead_body(("fr-pts", "TW01-02"), ("nl-nfi", "N999"), "x");
        let r1 = send(
            &app,
            post_as(FR_KEY, "/v1/leads", &on_file_not_offered).to_request(),
        )
        .await;
        let r2 = send(&app, post_as(FR_KEY, "/v1/leads", &absent).to_request()).await;
        r1.assert_error(StatusCode::NOT_FOUND, "casing_not_found");
        assert_eq!(shape(&r1, "N118"), shape(&r2, "N999"), "{}", t.backend);
        // What the engine does offer may be taken up.
        let offered = lead_body(("fr-pts", "TW01-02"), ("nl-nfi", "TW01-03"), "x");
        let r = send(&app, post_as(FR_KEY, "/v1/leads", &offered).to_request()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:#}", r.json);
        t.close().await;
    }
}
