//! Traces over the REST API: the worked scenario of issue #4 (a recovered
//! pistol's test fire found from two crime scenes, confirmed, and its
//! history), serial search among many firearms, and trace files.

use actix_web::http::{header, StatusCode};
use actix_web::test::{self, TestRequest};
use casetrace_api::app::create_app;
use casetrace_engine::traces::{NewFirearm, SerialPattern};
use chrono::NaiveDate;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::common::{backends, get, multipart, post_json, send, weller, Part, TestEngine};

/// A casing submission with its kind and case number.
fn casing(casing_id: &str, kind: &str, case: &str) -> TestRequest {
    let bytes = weller(casing_id);
    let metadata =
        json!({"casing_id": casing_id, "kind": kind, "case_number": case, "calibre": "9mm Luger"});
    let (content_type, body) = multipart(&[
        Part::file("image", &format!("{casing_id}.x3p"), &bytes),
        Part::text("metadata", &metadata.to_string()),
    ]);
    TestRequest::post()
        .uri("/v1/casings?limit=0")
        .insert_header(crate::common::auth())
        .insert_header((header::CONTENT_TYPE, content_type))
        .set_payload(body)
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .expect("an array")
        .iter()
        .map(|s| s.as_str().expect("a string"))
        .collect()
}

/// The requested serial with two characters unreadable, as a lab restores
/// an obliterated serial.
const SERIAL: &str = "RP-004-217";
const PARTIAL: &str = "RP0?4-21?";

#[actix_web::test]
async fn a_recovered_pistols_test_fire_links_two_crime_scenes_to_its_history() {
    for backend in backends() {
        let t = TestEngine::open(&backend).await;
        let app = test::init_service(create_app(t.state())).await;
        // The lab's test fire from the recovered pistol (Weller gun 1), two
        // casings from two shootings fired by it, and casings from five
        // other guns on file. The two scene casings also match each other;
        // these two rank the test fire above each other (see
        // `casetrace candidates --all` on TW01-*), as the scenario needs.
        for (id, kind, case) in [
            ("TW01-01", "test_fire", "LAB-2024-77"),
            ("TW01-03", "evidence", "CASE-A"),
            ("TW01-06", "evidence", "CASE-B"),
            ("TW02-01", "evidence", "CASE-C"),
            ("TW03-01", "evidence", "CASE-D"),
            ("TW04-01", "evidence", "CASE-E"),
            ("TW05-01", "evidence", "CASE-F"),
            ("TW06-01", "evidence", "CASE-G"),
        ] {
            let r = send(&app, casing(id, kind, case).to_request()).await;
            assert_eq!(r.status, StatusCode::CREATED, "{id}: {:#}", r.json);
        }

        // The field trace request for the recovered pistol.
        let trace = json!({
            "trace_number": "T-2024-000123", "serial": SERIAL, "make": "Ruger",
            "type": "pistol", "calibre": "9mm Luger", "model": "SR9", "country": "US",
            "possessor": "J. Doe", "recovery_place": "4th and Main",
            "recovery_date": "2024-03-01", "latitude": 39.95, "longitude": -75.16,
            "crime_code": "1300", "recovering_agency": "Metro PD"
        });
        let r = send(&app, post_json("/v1/traces", &trace).to_request()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:#}", r.json);
        assert_eq!(r.json["created_firearm"], true);
        assert_eq!(r.json["firearm"]["serial_normalised"], "RP004217");
        assert_eq!(r.json["event"]["kind"], "recovery");
        let gun = r.json["firearm"]["id"].as_i64().expect("firearm id");
        assert_eq!(
            r.location.as_deref(),
            Some(format!("/v1/firearms/{gun}/history").as_str())
        );
        // The same request again records nothing.
        let again = send(&app, post_json("/v1/traces", &trace).to_request()).await;
        assert_eq!(again.status, StatusCode::OK, "{:#}", again.json);
        assert_eq!(again.json["created"], false);
        assert_eq!(again.json["event"]["id"], r.json["event"]["id"]);

        // Its retail sale, from the dealer's records, and the lab's test fire.
        let events = format!("/v1/firearms/{gun}/events");
        for event in [
            json!({"kind": "dealer_sale", "date": "2021-06-14", "licensee_id": "9-12-345-01-2A-01234"}),
            json!({"kind": "test_fire", "date": "2024-03-04", "casing_id": "TW01-01", "acting_agency": "State Lab"}),
        ] {
            let r = send(&app, post_json(&events, &event).to_request()).await;
            assert_eq!(r.status, StatusCode::CREATED, "{event}: {:#}", r.json);
        }

        // Each scene casing's top candidate is the test fire; the examiner
        // takes it up and confirms it.
        for scene in ["TW01-03", "TW01-06"] {
            let r = send(
                &app,
                get(&format!("/v1/casings/{scene}/candidates?limit=5")).to_request(),
            )
            .await;
            assert_eq!(r.status, StatusCode::OK, "{:#}", r.json);
            let top = &r.json["candidates"][0];
            assert_eq!(top["casing_id"], "TW01-01", "{}: {:#}", t.backend, r.json);
            let lead = json!({
                "query": {"agency": "local", "casing_id": scene},
                "candidate": {"agency": "local", "casing_id": "TW01-01"},
                "comment": "top candidate"
            });
            let r = send(&app, post_json("/v1/leads", &lead).to_request()).await;
            assert_eq!(r.status, StatusCode::CREATED, "{:#}", r.json);
            assert_eq!(r.json["status"], "lead");
            let id = r.json["id"].as_i64().expect("lead id");
            let decision = json!({"decision": "hit", "comment": "breech face agrees"});
            let r = send(
                &app,
                post_json(&format!("/v1/leads/{id}/decision"), &decision).to_request(),
            )
            .await;
            assert_eq!(r.status, StatusCode::OK, "{:#}", r.json);
            assert_eq!(r.json["status"], "hit");
            assert_eq!(r.json["decided_by"], "local-tester");
            assert_eq!(r.json["candidate"]["casing_id"], "TW01-01");
        }

        // The firearm's history: recovery, sale, test fire in time order,
        // time-to-crime from the sale, and both linked cases.
        let r = send(
            &app,
            get(&format!("/v1/firearms/{gun}/history")).to_request(),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{:#}", r.json);
        let kinds: Vec<&str> = r.json["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["dealer_sale", "recovery", "test_fire"]);
        let recovery = &r.json["events"][1];
        assert_eq!(recovery["possessor"], "J. Doe");
        assert_eq!(recovery["place"], "4th and Main");
        assert_eq!(recovery["crime_code"], "1300");
        assert_eq!(r.json["events"][2]["casing"]["casing_id"], "TW01-01");
        let days = (NaiveDate::from_ymd_opt(2024, 3, 1).unwrap()
            - NaiveDate::from_ymd_opt(2021, 6, 14).unwrap())
        .num_days();
        assert_eq!(r.json["time_to_crime"][0]["days"], days);
        assert_eq!(
            strings(&r.json["linked_cases"]),
            ["CASE-A", "CASE-B", "LAB-2024-77"]
        );
        assert_eq!(r.json["hits"].as_array().unwrap().len(), 2);

        // A case's history leads to the firearm and the other case.
        let r = send(&app, get("/v1/cases/CASE-A/history").to_request()).await;
        assert_eq!(r.status, StatusCode::OK, "{:#}", r.json);
        assert_eq!(r.json["firearms"][0]["id"], gun);
        assert!(strings(&r.json["linked_cases"]).contains(&"CASE-B"));
        assert_eq!(r.json["leads"][0]["status"], "hit");
        // A serial written with look-alikes finds the same history.
        let r = send(&app, get("/v1/serials/rp%20OO4%20217/history").to_request()).await;
        assert_eq!(r.status, StatusCode::OK, "{:#}", r.json);
        assert_eq!(r.json[0]["firearm"]["id"], gun);

        // A partial serial with two unreadable characters finds the pistol
        // among 100,000 other firearms, and only firearms that fit.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        let others: Vec<NewFirearm> = (0..100_000)
            .map(|_| {
                // Half share the pistol's "RP" prefix, so the pattern's
                // known prefix alone does not single it out.
                let prefix = if rng.random_bool(0.5) { "RP" } else { "KX" };
                NewFirearm {
                    agency: "local".into(),
                    make: Some("Make".into()),
                    serial: format!("{prefix}{:06}", rng.random_range(0..1_000_000)),
                    submitted_by: "test".into(),
                    ..NewFirearm::default()
                }
            })
            .collect();
        for chunk in others.chunks(20_000) {
            t.engine
                .database()
                .insert_firearms_bulk(chunk)
                .await
                .unwrap();
        }
        let pattern = SerialPattern::parse(PARTIAL).unwrap();
        let expected = 1 + others.iter().filter(|f| pattern.matches(&f.serial)).count();
        let r = send(
            &app,
            get(&format!(
                "/v1/firearms?serial={}",
                PARTIAL.replace('?', "%3F")
            ))
            .to_request(),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{:#}", r.json);
        assert_eq!(r.json["mode"], "pattern");
        let matches = r.json["matches"].as_array().unwrap();
        assert_eq!(matches.len(), expected, "{:#}", r.json);
        assert!(matches.iter().any(|m| m["firearm"]["id"] == gun));
        // Narrowed by make, the pistol is the only one left.
        let r = send(
            &app,
            get(&format!(
                "/v1/firearms?serial={}&make=ruger",
                PARTIAL.replace('?', "%3F")
            ))
            .to_request(),
        )
        .await;
        let matches = r.json["matches"].as_array().unwrap();
        assert_eq!(matches.len(), 1, "{:#}", r.json);
        assert_eq!(matches[0]["firearm"]["id"], gun);
        // A misread character is found by fuzzy search.
        let r = send(
            &app,
            get("/v1/firearms?serial=RP004211&mode=fuzzy&make=Ruger").to_request(),
        )
        .await;
        assert_eq!(r.json["matches"][0]["firearm"]["id"], gun, "{:#}", r.json);
        assert_eq!(r.json["matches"][0]["distance"], 1);
        t.close().await;
    }
}

#[actix_web::test]
async fn trace_files_load_row_by_row_and_refuse_what_they_cannot_read() {
    for backend in backends() {
        let t = TestEngine::open(&backend).await;
        let app = test::init_service(create_app(t.state())).await;
        let csv = "trace_number,serial,date,event,make,calibre,place,crime_code,licensee_id\n\
                   T-1,AB 123,2024-01-05,recovery,Glock,9mm,Elm St,1300,\n\
                   T-2,AB-123,2020-02-01,dealer_sale,glock,9mm,,,FFL-1\n\
                   T-3,CD 456,2024-13-40,recovery,Colt,45,,,\n\
                   T-4,EF 789,2024-02-02,sold,Colt,45,,,\n";
        let post = |body: &str, content_type: &str| {
            TestRequest::post()
                .uri("/v1/traces/imports")
                .insert_header(crate::common::auth())
                .insert_header((header::CONTENT_TYPE, content_type.to_string()))
                .set_payload(body.to_string())
                .to_request()
        };
        let r = send(&app, post(csv, "text/csv")).await;
        assert_eq!(r.status, StatusCode::OK, "{:#}", r.json);
        assert_eq!(r.json["rows"], 4);
        assert_eq!(r.json["recorded"], 2);
        // Rows 2 and 3 name one Glock (serials fold to AB123).
        assert_eq!(r.json["firearms_created"], 1);
        let failed = r.json["failed"].as_array().unwrap();
        assert_eq!(failed.len(), 2, "{:#}", r.json);
        assert_eq!(failed[0]["row"], 4);
        assert_eq!(failed[0]["trace_number"], "T-3");
        assert!(failed[0]["reason"].as_str().unwrap().contains("date"));
        assert_eq!(failed[1]["row"], 5);
        assert!(failed[1]["reason"].as_str().unwrap().contains("\"sold\""));

        // Posting the file again records nothing new.
        let r = send(&app, post(csv, "text/csv")).await;
        assert_eq!(
            (r.json["recorded"].as_u64(), r.json["duplicates"].as_u64()),
            (Some(0), Some(2))
        );
        assert_eq!(t.engine.database().count_firearms().await.unwrap(), 1);

        // JSON lines work the same way.
        let jsonl = "{\"trace_number\":\"T-9\",\"serial\":\"ZZ9\",\"date\":\"2023-03-03\"}\n";
        let r = send(&app, post(jsonl, "application/x-ndjson")).await;
        assert_eq!(r.json["recorded"], 1, "{:#}", r.json);

        // Whole-file problems record nothing and say why.
        let r = send(&app, post("serial,date\nA,2024-01-01\n", "text/csv")).await;
        r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
        assert!(r.json["message"].as_str().unwrap().contains("trace_number"));
        let r = send(
            &app,
            post(
                "trace_number,serial,date,crime_cod\nT-7,Q1,2024-01-01,1\n",
                "text/csv",
            ),
        )
        .await;
        r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
        assert!(r.json["message"].as_str().unwrap().contains("crime_cod"));
        let r = send(&app, post(csv, "application/pdf")).await;
        r.assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
        assert_eq!(t.engine.database().count_firearms().await.unwrap(), 2);
        t.close().await;
    }
}

#[actix_web::test]
async fn bad_trace_requests_are_refused_with_json_and_leave_nothing() {
    for backend in backends() {
        let t = TestEngine::open(&backend).await;
        let app = test::init_service(create_app(t.state())).await;
        let good = json!({"serial": "AB123", "recovery_date": "2024-03-01"});
        let cases = [
            (
                json!({"serial": "AB123"}),
                StatusCode::BAD_REQUEST,
                "invalid_json",
            ),
            (
                json!({"serial": "AB123", "recovery_date": "2024-03-01", "crime": "x"}),
                StatusCode::BAD_REQUEST,
                "invalid_json",
            ),
            (
                json!({"serial": "--", "recovery_date": "2024-03-01"}),
                StatusCode::BAD_REQUEST,
                "invalid_metadata",
            ),
            (
                json!({"serial": "AB123", "recovery_date": "2024-03-01", "latitude": 95.0, "longitude": 1.0}),
                StatusCode::BAD_REQUEST,
                "invalid_metadata",
            ),
            (
                json!({"serial": "AB123", "recovery_date": "2024-03-01", "latitude": 45.0}),
                StatusCode::BAD_REQUEST,
                "invalid_metadata",
            ),
        ];
        for (body, status, code) in cases {
            let r = send(&app, post_json("/v1/traces", &body).to_request()).await;
            r.assert_error(status, code);
        }
        assert_eq!(t.engine.database().count_firearms().await.unwrap(), 0);
        let r = send(&app, post_json("/v1/traces", &good).to_request()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:#}", r.json);
        let gun = r.json["firearm"]["id"].as_i64().unwrap();

        // A test fire must name a casing on file; other events must not.
        let events = format!("/v1/firearms/{gun}/events");
        let r = send(
            &app,
            post_json(&events, &json!({"kind": "test_fire", "date": "2024-03-02"})).to_request(),
        )
        .await;
        r.assert_error(StatusCode::BAD_REQUEST, "invalid_metadata");
        let r = send(
            &app,
            post_json(
                &events,
                &json!({"kind": "test_fire", "date": "2024-03-02", "casing_id": "NOPE"}),
            )
            .to_request(),
        )
        .await;
        r.assert_error(StatusCode::NOT_FOUND, "casing_not_found");
        let r = send(
            &app,
            post_json(
                "/v1/firearms/999999/events",
                &json!({"kind": "theft", "date": "2024-03-02"}),
            )
            .to_request(),
        )
        .await;
        r.assert_error(StatusCode::NOT_FOUND, "not_found");
        let r = send(&app, get("/v1/firearms/999999/history").to_request()).await;
        r.assert_error(StatusCode::NOT_FOUND, "not_found");
        let r = send(&app, get("/v1/cases/NO-SUCH-CASE/history").to_request()).await;
        r.assert_error(StatusCode::NOT_FOUND, "not_found");
        let r = send(&app, get("/v1/leads/12345").to_request()).await;
        r.assert_error(StatusCode::NOT_FOUND, "not_found");
        let r = send(
            &app,
            get("/v1/firearms?serial=AB123&max_edits=2").to_request(),
        )
        .await;
        r.assert_error(StatusCode::BAD_REQUEST, "invalid_query");
        let r = send(&app, get("/v1/firearms?serial=*").to_request()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:#}", r.json);
        let lead = json!({
            "query": {"agency": "local", "casing_id": "X"},
            "candidate": {"agency": "local", "casing_id": "Y"}
        });
        let r = send(&app, post_json("/v1/leads", &lead).to_request()).await;
        r.assert_error(StatusCode::NOT_FOUND, "casing_not_found");
        assert_eq!(
            t.engine.database().trace_events(gun).await.unwrap().len(),
            1
        );
        t.close().await;
    }
}
