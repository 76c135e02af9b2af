//! The REST API end to end: `create_app` as `serve` builds it, on a real
//! engine and the real Weller scans, through actix's test service.

use actix_web::http::{header, StatusCode};
use actix_web::test::{self, TestRequest};
use casetrace_api::app::create_app;
use casetrace_engine::store::sha256_hex;
use serde_json::Value;

use crate::common::{
    backends, get, post_multipart, send, submission, weller, Counts, Part, TestEngine, NBIDE_PHOTOS,
};

fn candidate_ids(list: &Value) -> Vec<&str> {
    list.as_array()
        .expect("a candidate array")
        .iter()
        .map(|c| c["casing_id"].as_str().expect("candidate casing_id"))
        .collect()
}

#[actix_web::test]
async fn submissions_are_stored_and_rank_the_same_gun_first() {
    for backend in backends() {
        let t = TestEngine::open(&backend).await;
        let app = test::init_service(create_app(t.state())).await;
        for (n, id) in ["TW01-01", "TW01-02", "TW02-01"].into_iter().enumerate() {
            let bytes = weller(id);
            let r = send(
                &app,
                post_multipart("/v1/casings", &submission(id, &bytes)).to_request(),
            )
            .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}: {:#}", t.backend, r.json);
            assert_eq!(
                r.location.as_deref(),
                Some(format!("/v1/casings/{id}").as_str())
            );
            assert_eq!(r.json["created"], true);
            assert_eq!(r.json["casing"]["casing_id"], id);
            assert_eq!(r.json["casing"]["sha256"], sha256_hex(&bytes));
            assert_eq!(r.json["casing"]["format"], "x3p");
            assert_eq!(r.json["casing"]["kind"], "evidence");
            assert_eq!(r.json["casing"]["calibre"], "9mm Luger");
            assert!(
                r.json["casing"].get("id").is_none(),
                "internal row id leaked"
            );
            // Every casing before it is a candidate (at most), never itself.
            let candidates = candidate_ids(&r.json["candidates"]);
            assert!(
                candidates.len() <= n && !candidates.contains(&id),
                "{candidates:?}"
            );
        }

        let r = send(&app, get("/v1/casings/TW01-01").to_request()).await;
        assert_eq!(r.status, StatusCode::OK, "{:#}", r.json);
        assert_eq!(r.json["sha256"], sha256_hex(&weller("TW01-01")));
        assert_eq!(r.json["agency"], "local");
        assert_eq!(r.json["file_name"], "TW01-01.x3p");

        let r = send(
            &app,
            get("/v1/casings/TW01-01/candidates?limit=5").to_request(),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{:#}", r.json);
        assert_eq!(r.json["casing_id"], "TW01-01");
        // Three on file: both others were fine-compared.
        assert_eq!(r.json["compared"], 2, "{:#}", r.json);
        let ids = candidate_ids(&r.json["candidates"]);
        assert_eq!(ids.first(), Some(&"TW01-02"), "{}: {:#}", t.backend, r.json);
        assert!(!ids.contains(&"TW01-01"), "{ids:?}");
        let best = &r.json["candidates"][0];
        for field in ["score", "descriptor_similarity"] {
            assert!(best[field].is_number(), "{field}: {best:#}");
        }
        for field in ["rotation_deg", "dx_um", "dy_um", "overlap_fraction"] {
            assert!(best["registration"][field].is_number(), "{field}: {best:#}");
        }
        // Processed scans have no firing-pin mark: the breech face alone
        // ranks them, unchanged.
        assert!(best["marks"]["firing_pin"].is_null(), "{best:#}");
        assert_eq!(best["marks"]["breech_face"], best["score"], "{best:#}");
        assert_eq!(best["marks"]["combined"], best["score"], "{best:#}");
        // A Weller pair is inside the shipped calibration's coverage: it
        // gets an LR and names the calibration that gave it.
        assert!(best["log10_lr"].is_number(), "{best:#}");
        assert_eq!(best["calibration"], "fine-score", "{best:#}");
        assert!(best["lr_withheld"].is_null(), "{best:#}");

        let r = send(&app, get("/healthz").to_request()).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(
            (r.json["casings"].as_u64(), r.json["indexed"].as_u64()),
            (Some(3), Some(3))
        );
        t.close().await;
    }
}

#[actix_web::test]
async fn resubmitting_the_same_file_is_idempotent() {
    for backend in backends() {
        let t = TestEngine::open(&backend).await;
        let app = test::init_service(create_app(t.state())).await;
        let bytes = weller("TW01-01");
        let first = send(
            &app,
            post_multipart("/v1/casings", &submission("A-1", &bytes)).to_request(),
        )
        .await;
        assert_eq!(first.status, StatusCode::CREATED, "{:#}", first.json);
        let after_first = t.counts().await;
        assert_eq!(
            after_first,
            Counts {
                rows: 1,
                evidence_files: 1,
                indexed: 1
            }
        );

        let again = send(
            &app,
            post_multipart("/v1/casings", &submission("A-1", &bytes)).to_request(),
        )
        .await;
        assert_eq!(again.status, StatusCode::OK, "{:#}", again.json);
        assert_eq!(again.json["created"], false);
        assert_eq!(again.json["casing"], first.json["casing"]);
        assert_eq!(again.location, None);
        assert_eq!(t.counts().await, after_first, "{}", t.backend);
        t.close().await;
    }
}

#[actix_web::test]
async fn reusing_a_casing_id_for_another_file_conflicts() {
    for backend in backends() {
        let t = TestEngine::open(&backend).await;
        let app = test::init_service(create_app(t.state())).await;
        let first = send(
            &app,
            post_multipart("/v1/casings", &submission("A-1", &weller("TW01-01"))).to_request(),
        )
        .await;
        assert_eq!(first.status, StatusCode::CREATED, "{:#}", first.json);
        let before = t.counts().await;

        let other = weller("TW02-01");
        let r = send(
            &app,
            post_multipart("/v1/casings", &submission("A-1", &other)).to_request(),
        )
        .await;
        r.assert_error(StatusCode::CONFLICT, "casing_id_conflict");
        assert_eq!(t.counts().await, before, "{}", t.backend);
        // The casing on file is untouched.
        let r = send(&app, get("/v1/casings/A-1").to_request()).await;
        assert_eq!(r.json["sha256"], sha256_hex(&weller("TW01-01")));
        t.close().await;
    }
}

#[actix_web::test]
async fn bad_submissions_are_refused_with_json_and_leave_nothing() {
    let real = weller("TW01-01");
    let noise: Vec<u8> = (0..64 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let image = |bytes: &[u8]| Part::file("image", "scan.x3p", bytes);
    let meta = |json: &str| Part::text("metadata", json);
    let good_meta = r#"{"casing_id": "B-1"}"#;
    let cases: Vec<(&str, &str, Vec<Part>, StatusCode, &str)> = vec![
        (
            "not an image",
            "",
            vec![image(&noise), meta(good_meta)],
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        (
            "truncated X3P",
            "",
            vec![image(&real[..real.len() / 2]), meta(good_meta)],
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        (
            "missing image part",
            "",
            vec![meta(good_meta)],
            StatusCode::BAD_REQUEST,
            "missing_part",
        ),
        (
            "missing metadata part",
            "",
            vec![image(&real)],
            StatusCode::BAD_REQUEST,
            "missing_part",
        ),
        (
            "malformed metadata JSON",
            "",
            vec![image(&real), meta(r#"{"casing_id": "B-1",,"#)],
            StatusCode::BAD_REQUEST,
            "invalid_metadata",
        ),
        (
            "metadata of the wrong type",
            "",
            vec![
                image(&real),
                meta(r#"{"casing_id": "B-1", "um_per_px": "fine"}"#),
            ],
            StatusCode::BAD_REQUEST,
            "invalid_metadata",
        ),
        (
            "unknown casing kind",
            "",
            vec![
                image(&real),
                meta(r#"{"casing_id": "B-1", "kind": "suspect"}"#),
            ],
            StatusCode::BAD_REQUEST,
            "invalid_metadata",
        ),
        (
            "no casing id",
            "",
            vec![image(&real), meta("{}")],
            StatusCode::BAD_REQUEST,
            "invalid_metadata",
        ),
        (
            "casing id with a path",
            "",
            vec![image(&real), meta(r#"{"casing_id": "../x"}"#)],
            StatusCode::BAD_REQUEST,
            "invalid_metadata",
        ),
        (
            "unexpected part",
            "",
            vec![Part::file("file", "scan.x3p", &real), meta(good_meta)],
            StatusCode::BAD_REQUEST,
            "invalid_multipart",
        ),
        (
            "limit over the maximum",
            "?limit=1000",
            vec![image(&real), meta(good_meta)],
            StatusCode::BAD_REQUEST,
            "invalid_query",
        ),
        (
            "limit not a number",
            "?limit=ten",
            vec![image(&real), meta(good_meta)],
            StatusCode::BAD_REQUEST,
            "invalid_query",
        ),
    ];
    for backend in backends() {
        let t = TestEngine::open(&backend).await;
        let app = test::init_service(create_app(t.state())).await;
        for (what, query, parts, status, code) in &cases {
            let r = send(
                &app,
                post_multipart(&format!("/v1/casings{query}"), parts).to_request(),
            )
            .await;
            assert_eq!(r.status, *status, "{} / {what}: {:#}", t.backend, r.json);
            r.assert_error(*status, code);
            assert_eq!(
                t.counts().await,
                Counts::EMPTY,
                "{} / {what} left something behind",
                t.backend
            );
        }

        // Not multipart at all.
        let req = TestRequest::post()
            .uri("/v1/casings")
            .insert_header(crate::common::auth())
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .set_payload(r#"{"casing_id": "B-1"}"#)
            .to_request();
        send(&app, req)
            .await
            .assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
        assert_eq!(t.counts().await, Counts::EMPTY);
        t.close().await;
    }
}

#[actix_web::test]
async fn oversize_uploads_are_refused_with_413_and_leave_nothing() {
    let real = weller("TW01-01");
    for backend in backends() {
        let t = TestEngine::open(&backend).await;
        // Far over: refused from Content-Length, before reading the body.
        let app = test::init_service(create_app(t.state_with_limit(1024))).await;
        let r = send(
            &app,
            post_multipart("/v1/casings", &submission("C-1", &real)).to_request(),
        )
        .await;
        r.assert_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
        assert_eq!(t.counts().await, Counts::EMPTY, "{}", t.backend);

        // Just over: the body's length passes, the image part's count stops it.
        let app = test::init_service(create_app(t.state_with_limit(real.len() - 1))).await;
        let r = send(
            &app,
            post_multipart("/v1/casings", &submission("C-1", &real)).to_request(),
        )
        .await;
        r.assert_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
        assert_eq!(t.counts().await, Counts::EMPTY, "{}", t.backend);

        // Exactly at the limit is fine.
        let app = test::init_service(create_app(t.state_with_limit(real.len()))).await;
        let r = send(
            &app,
            post_multipart("/v1/casings?limit=0", &submission("C-1", &real)).to_request(),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:#}", r.json);
        assert_eq!(r.json["candidates"], serde_json::json!([]));
        t.close().await;
    }
}

#[actix_web::test]
async fn search_ranks_an_image_without_storing_it() {
    for backend in backends() {
        let t = TestEngine::open(&backend).await;
        let app = test::init_service(create_app(t.state())).await;
        for id in ["TW01-01", "TW02-01"] {
            let r = send(
                &app,
                post_multipart("/v1/casings?limit=0", &submission(id, &weller(id))).to_request(),
            )
            .await;
            assert_eq!(r.status, StatusCode::CREATED, "{:#}", r.json);
        }
        let before = t.counts().await;
        let query = [Part::file("image", "query.x3p", &weller("TW01-02"))];
        let r = send(
            &app,
            post_multipart("/v1/search?limit=5", &query).to_request(),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{:#}", r.json);
        assert_eq!(r.json["casing_id"], Value::Null);
        assert_eq!(
            candidate_ids(&r.json["candidates"]).first(),
            Some(&"TW01-01"),
            "{:#}",
            r.json
        );
        assert_eq!(
            t.counts().await,
            before,
            "{}: a search stored something",
            t.backend
        );

        // A misspelt field is refused, not ignored.
        let query = [
            Part::file("image", "query.x3p", &weller("TW01-02")),
            Part::text("metadata", r#"{"um_per_pixel": 3.5}"#),
        ];
        let r = send(&app, post_multipart("/v1/search", &query).to_request()).await;
        r.assert_error(StatusCode::BAD_REQUEST, "invalid_metadata");
        t.close().await;
    }
}

#[actix_web::test]
async fn unknown_casings_routes_and_methods_answer_json() {
    let t = TestEngine::open(&crate::common::Backend::Sqlite).await;
    let app = test::init_service(create_app(t.state())).await;
    send(&app, get("/v1/casings/NOPE-1").to_request())
        .await
        .assert_error(StatusCode::NOT_FOUND, "casing_not_found");
    send(&app, get("/v1/casings/NOPE-1/candidates").to_request())
        .await
        .assert_error(StatusCode::NOT_FOUND, "casing_not_found");
    send(
        &app,
        get("/v1/casings/NOPE-1/candidates?limit=0").to_request(),
    )
    .await
    .assert_error(StatusCode::BAD_REQUEST, "invalid_query");
    send(&app, get("/v1/nothing-here").to_request())
        .await
        .assert_error(StatusCode::NOT_FOUND, "route_not_found");
    send(
        &app,
        TestRequest::delete()
            .uri("/v1/casings/NOPE-1")
            .insert_header(crate::common::auth())
            .to_request(),
    )
    .await
    .assert_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    t.close().await;
}

#[actix_web::test]
async fn openapi_document_lists_every_route() {
    let t = TestEngine::open(&crate::common::Backend::Sqlite).await;
    let app = test::init_service(create_app(t.state())).await;
    let r = send(&app, get("/v1/openapi.json").to_request()).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.json["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.")),
        "{:#}",
        r.json["openapi"]
    );
    let paths = r.json["paths"].as_object().expect("paths");
    for path in [
        "/v1/casings",
        "/v1/casings/{casing_id}",
        "/v1/casings/{casing_id}/candidates",
        "/v1/search",
        "/healthz",
        "/v1/openapi.json",
        "/v1/imports",
        "/v1/imports/{id}",
        "/v1/traces",
        "/v1/traces/imports",
        "/v1/firearms",
        "/v1/firearms/{id}",
        "/v1/firearms/{id}/history",
        "/v1/firearms/{id}/events",
        "/v1/serials/{serial}/history",
        "/v1/leads",
        "/v1/leads/{id}",
        "/v1/leads/{id}/decision",
        "/v1/cases/{case_number}/history",
    ] {
        assert!(
            paths.contains_key(path),
            "{path} missing from {:?}",
            paths.keys().collect::<Vec<_>>()
        );
    }
    let schemas = r.json["components"]["schemas"]
        .as_object()
        .expect("schemas");
    for schema in [
        "CasingDto",
        "CandidateListDto",
        "SubmitResponseDto",
        "ErrorDto",
        "HealthDto",
        "TraceRequestDto",
        "FirearmHistoryDto",
        "CaseHistoryDto",
        "LeadDto",
        "SerialSearchDto",
    ] {
        assert!(schemas.contains_key(schema), "{schema} missing");
    }
    t.close().await;
}

#[actix_web::test]
async fn healthz_reports_counts_and_model() {
    for backend in backends() {
        let t = TestEngine::open(&backend).await;
        let app = test::init_service(create_app(t.state())).await;
        let r = send(&app, get("/healthz").to_request()).await;
        assert_eq!(r.status, StatusCode::OK, "{:#}", r.json);
        assert_eq!(r.json["status"], "ok");
        assert_eq!(
            (r.json["casings"].as_u64(), r.json["indexed"].as_u64()),
            (Some(0), Some(0))
        );
        assert_eq!(r.json["model_version"], t.engine.model_version());
        // Below the threshold (100,000 by default) the index is exact.
        assert_eq!(r.json["index_kind"], "exact");
        t.close().await;
    }
}

#[actix_web::test]
async fn a_restart_keeps_every_casing_searchable_even_without_the_index_file() {
    for backend in backends() {
        let mut t = TestEngine::open(&backend).await;
        let app = test::init_service(create_app(t.state())).await;
        for id in ["TW01-01", "TW01-02", "TW02-01"] {
            let r = send(
                &app,
                post_multipart("/v1/casings", &submission(id, &weller(id))).to_request(),
            )
            .await;
            assert_eq!(r.status, StatusCode::CREATED, "{:#}", r.json);
        }
        let uri = "/v1/casings/TW01-01/candidates?limit=5";
        let before = send(&app, get(uri).to_request()).await;
        assert_eq!(
            candidate_ids(&before.json["candidates"]),
            ["TW01-02", "TW02-01"]
        );
        drop(app);

        // A plain restart loads the saved index.
        t.restart().await;
        assert_eq!(t.counts().await.indexed, 3, "{}", t.backend);
        let app = test::init_service(create_app(t.state())).await;
        let after = send(&app, get(uri).to_request()).await;
        assert_eq!(after.json, before.json, "{}", t.backend);
        drop(app);

        // Without the index file the engine rebuilds it from the database.
        let index_file = t.engine.index_path().to_path_buf();
        std::fs::remove_file(&index_file).expect("remove the index file");
        t.restart().await;
        assert!(index_file.exists(), "the rebuilt index is saved again");
        assert_eq!(t.counts().await.indexed, 3, "{}", t.backend);
        let app = test::init_service(create_app(t.state())).await;
        let rebuilt = send(&app, get(uri).to_request()).await;
        assert_eq!(rebuilt.json, before.json, "{}", t.backend);

        // A stale index file (fewer casings than the database) is rebuilt too.
        let stale = t.engine.index_path().to_path_buf();
        let saved = std::fs::read(&stale).expect("index file");
        let r = send(
            &app,
            post_multipart("/v1/casings", &submission("TW01-05", &weller("TW01-05"))).to_request(),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:#}", r.json);
        drop(app);
        std::fs::write(&stale, saved).expect("put back the older index file");
        t.restart().await;
        assert_eq!(t.counts().await.indexed, 4, "{}", t.backend);
        t.close().await;
    }
}

#[actix_web::test]
async fn photographs_take_their_scale_from_the_png_and_match_each_other_only() {
    for backend in backends() {
        let t = TestEngine::open(&backend).await;
        let app = test::init_service(create_app(t.state())).await;
        let r = send(
            &app,
            post_multipart("/v1/casings", &submission("TW01-01", &weller("TW01-01"))).to_request(),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:#}", r.json);
        let mut last = Value::Null;
        for (id, path) in ["N118", "N129"].into_iter().zip(NBIDE_PHOTOS) {
            let bytes = std::fs::read(path).expect("NBIDE photograph");
            let parts = [
                Part::file("image", "photo.png", &bytes),
                Part::text("metadata", &format!(r#"{{"casing_id": "{id}"}}"#)),
            ];
            let r = send(&app, post_multipart("/v1/casings", &parts).to_request()).await;
            assert_eq!(r.status, StatusCode::CREATED, "{}: {:#}", t.backend, r.json);
            assert_eq!(r.json["casing"]["format"], "png");
            assert_eq!(r.json["casing"]["surface_kind"], "photograph");
            let um = r.json["casing"]["um_per_px"].as_f64().expect("scale");
            assert!((um - 2.53).abs() < 0.01, "pHYs says 2.53 µm/px: {um}");
            last = r.json;
        }
        // Only the other photograph is comparable; it is the same gun: its
        // registration correlates far above the ~0.1-0.2 of different-gun
        // scans. Its cells are scored and reported, but how many agree is
        // not asserted: lighting dominates these photographs, so their
        // correlation is 0.5-0.65 at every rotation and the consensus angle
        // (hence which cells agree) is not pinned by the marks (issue #3's
        // closing note: photographs need their illumination normalised).
        assert_eq!(candidate_ids(&last["candidates"]), ["N118"], "{last:#}");
        let best = &last["candidates"][0];
        let ncc = best["registration"]["registration_ncc"]
            .as_f64()
            .expect("registration_ncc");
        assert!(ncc > 0.4, "{best:#}");
        // No calibration was fitted on photographs: the pair keeps its
        // score and rank but gets no LR, and the response says why.
        assert!(best["log10_lr"].is_null(), "{best:#}");
        assert!(best["calibration"].is_null(), "{best:#}");
        let why = best["lr_withheld"].as_str().expect("a reason");
        assert!(why.contains("photograph"), "{why}");
        assert!(
            best["valid_cells"].as_u64().expect("valid_cells") >= 1,
            "{best:#}"
        );
        assert_eq!(
            best["cells"].as_array().expect("cells").len() as u64,
            best["valid_cells"].as_u64().expect("valid_cells"),
            "every scored cell is reported: {best:#}"
        );
        // The other direction's cells (the candidate's, on the query) are
        // scored and counted too.
        let reverse = |k: &str| best[k].as_u64().unwrap_or_else(|| panic!("{k}: {best:#}"));
        assert!(reverse("reverse_valid_cells") >= 1, "{best:#}");
        assert!(
            reverse("reverse_congruent_cells") <= reverse("reverse_valid_cells"),
            "{best:#}"
        );

        // Without pHYs and without um_per_px a photograph is refused.
        let unscaled = {
            let img = image::GrayImage::from_pixel(64, 64, image::Luma([7u8]));
            let mut out = std::io::Cursor::new(Vec::new());
            img.write_to(&mut out, image::ImageFormat::Png)
                .expect("encode");
            out.into_inner()
        };
        let parts = [
            Part::file("image", "plain.png", &unscaled),
            Part::text("metadata", r#"{"casing_id": "NO-SCALE"}"#),
        ];
        let before = t.counts().await;
        let r = send(&app, post_multipart("/v1/casings", &parts).to_request()).await;
        r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
        assert!(
            r.json["message"]
                .as_str()
                .unwrap_or("")
                .contains("um_per_px"),
            "{:#}",
            r.json
        );
        assert_eq!(t.counts().await, before);
        t.close().await;
    }
}

#[actix_web::test]
async fn concurrent_submissions_of_one_file_store_it_once_and_keep_its_evidence() {
    use casetrace_engine::casing::CasingKind;
    use casetrace_engine::service::Submission;

    for backend in backends() {
        let t = TestEngine::open(&backend).await;
        let bytes = weller("TW01-01");
        let submit = |casing_id: String| {
            let engine = t.engine.clone();
            let bytes = bytes.clone();
            async move {
                engine
                    .submit(
                        &crate::common::operator(),
                        Submission {
                            agency: "local".into(),
                            casing_id,
                            file_name: "TW01-01.x3p".into(),
                            bytes,
                            kind: CasingKind::Evidence,
                            case_number: None,
                            calibre: None,
                            metadata: serde_json::json!({}),
                            um_per_px: None,
                            submitted_by: "test".into(),
                        },
                    )
                    .await
            }
        };
        // The same bytes under one id and under other ids, all at once.
        let ids = ["R-1", "R-1", "R-2", "R-3", "R-1", "R-4"];
        let outcomes =
            futures_util::future::join_all(ids.iter().map(|id| submit(id.to_string()))).await;
        let created = outcomes
            .iter()
            .map(|o| o.as_ref().unwrap_or_else(|e| panic!("{}: {e}", t.backend)))
            .filter(|o| o.created)
            .count();
        assert_eq!(created, 1, "{}", t.backend);
        let counts = t.counts().await;
        assert_eq!(
            counts,
            Counts {
                rows: 1,
                evidence_files: 1,
                indexed: 1
            },
            "{}",
            t.backend
        );
        // The losers' undo must not have taken the winner's evidence file.
        let on_file = outcomes[0].as_ref().expect("outcome").casing.sha256.clone();
        assert_eq!(
            t.engine
                .evidence()
                .get(&on_file)
                .await
                .expect("evidence file"),
            bytes
        );
        t.close().await;
    }
}
