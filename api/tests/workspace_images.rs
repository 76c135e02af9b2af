//! The examiner workspace's evidence images over HTTP (issue #16): a
//! casing's prepared canvas as heights or a hill-shaded PNG, and a
//! registered pair; both follow image rights (own and `view` partners,
//! not `correlate`-only ones) and every image served is audited.

use actix_web::http::{header, StatusCode};
use actix_web::test::{self, TestRequest};
use base64::Engine as _;
use casetrace_api::app::create_app;
use casetrace_engine::access::{Principal, Scope};
use serde_json::{json, Value};

use crate::common::{
    backends, get_as, multipart, register_test_agency, send, weller, Part, TestEngine,
};

const DE_KEY: &str =
    "ct_00000000000000d1_d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1";
const FR_KEY: &str =
    "ct_00000000000000f2_f2f2f2f2f2f2f2f2f2f2f2f2f2f2f2f2f2f2f2f2f2f2f2f2f2f2f2f2f2f2f2f2";
const NL_KEY: &str =
    "ct_00000000000000e3_e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3";
const BE_KEY: &str =
    "ct_00000000000000b4_b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4";

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

/// A `HeightsDto` decoded: (width, height, values with `None` for no data).
fn heights(h: &Value) -> (usize, usize, Vec<Option<f64>>) {
    let (w, hh) = (
        h["width"].as_u64().unwrap() as usize,
        h["height"].as_u64().unwrap() as usize,
    );
    let (min, max) = (h["min"].as_f64().unwrap(), h["max"].as_f64().unwrap());
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(h["heights"].as_str().unwrap())
        .unwrap();
    assert_eq!(bytes.len(), 2 * w * hh);
    let values = bytes
        .chunks_exact(2)
        .map(|c| match u16::from_le_bytes([c[0], c[1]]) {
            u16::MAX => None,
            v => Some(min + (max - min) * f64::from(v) / 65534.0),
        })
        .collect();
    (w, hh, values)
}

/// Normalised cross-correlation of two decoded canvases where both hold data.
fn ncc(a: &[Option<f64>], b: &[Option<f64>]) -> (f64, usize) {
    let both: Vec<(f64, f64)> = a
        .iter()
        .zip(b)
        .filter_map(|(x, y)| Some(((*x)?, (*y)?)))
        .collect();
    let n = both.len() as f64;
    let (ma, mb) = both
        .iter()
        .fold((0.0, 0.0), |(s, t), (x, y)| (s + x, t + y));
    let (ma, mb) = (ma / n, mb / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in &both {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    (sab / (saa * sbb).sqrt(), both.len())
}

#[actix_web::test]
async fn surfaces_and_registered_pairs_follow_image_rights_and_are_audited() {
    for backend in backends() {
        let t = TestEngine::open(&backend).await;
        for (agency, key) in [
            ("de-bka", DE_KEY),
            ("fr-pts", FR_KEY),
            ("nl-nfi", NL_KEY),
            ("be-inc", BE_KEY),
        ] {
            register_test_agency(&t.engine, agency, key).await;
        }
        let de = Principal::local_admin("de-bka", "test fixture");
        t.engine.grant(&de, "fr-pts", Scope::View).await.unwrap();
        t.engine
            .grant(&de, "nl-nfi", Scope::Correlate)
            .await
            .unwrap();
        let app = test::init_service(create_app(t.state())).await;
        for id in ["TW01-01", "TW01-03", "TW02-01"] {
            let r = send(&app, submit_as(DE_KEY, id).to_request()).await;
            assert_eq!(r.status, StatusCode::CREATED, "{:#}", r.json);
        }

        // The owner's canvas as heights: 160 x 160 at 25 µm/px, with data
        // on the breech face and none around it.
        let r = send(
            &app,
            get_as(DE_KEY, "/v1/casings/TW01-01/surface").to_request(),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{:#}", r.json);
        assert_eq!(r.json["um_per_px"], 25.0);
        assert_eq!(r.json["kind"], "topography");
        let (w, h, values) = heights(&r.json);
        assert_eq!((w, h), (160, 160));
        let valid = values.iter().flatten().count();
        assert!(valid > 5_000 && valid < w * h, "{valid} samples with data");
        assert!(r.json["min"].as_f64() < r.json["max"].as_f64());

        // As a hill-shaded PNG, transparent where there is no data.
        let req = get_as(DE_KEY, "/v1/casings/TW01-01/surface?format=png&azimuth=90").to_request();
        let res = test::call_service(&app, req).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(
            res.headers().get(header::CONTENT_TYPE).unwrap(),
            "image/png"
        );
        let png = test::read_body(res).await;
        let image = image::load_from_memory(&png).unwrap().to_luma_alpha8();
        assert_eq!(image.dimensions(), (160, 160));
        let opaque = image.pixels().filter(|p| p.0[1] == 255).count();
        assert_eq!(opaque, valid);
        let r = send(
            &app,
            get_as(
                DE_KEY,
                "/v1/casings/TW01-01/surface?format=png&elevation=120",
            )
            .to_request(),
        )
        .await;
        r.assert_error(StatusCode::BAD_REQUEST, "invalid_query");

        // A `view` partner sees it; a `correlate`-only one is refused,
        // whether the casing exists or not; a stranger finds nothing.
        let uri = "/v1/casings/TW01-01/surface?agency=de-bka";
        let r = send(&app, get_as(FR_KEY, uri).to_request()).await;
        assert_eq!(r.status, StatusCode::OK, "{:#}", r.json);
        for uri in [uri, "/v1/casings/NO-SUCH/surface?agency=de-bka"] {
            let r = send(&app, get_as(NL_KEY, uri).to_request()).await;
            r.assert_error(StatusCode::FORBIDDEN, "image_not_shared");
        }
        let r = send(&app, get_as(BE_KEY, uri).to_request()).await;
        r.assert_error(StatusCode::NOT_FOUND, "casing_not_found");

        // The registered pair: b lies on a pixel for pixel, as well as the
        // registration found says, and the mate fits better than the other
        // pistol's casing.
        let pair = |with: &str| {
            get_as(
                FR_KEY,
                &format!(
                    "/v1/casings/TW01-01/comparison?agency=de-bka&with={with}&with_agency=de-bka"
                ),
            )
            .to_request()
        };
        let mate = send(&app, pair("TW01-03")).await;
        assert_eq!(mate.status, StatusCode::OK, "{:#}", mate.json);
        let (_, _, a) = heights(&mate.json["a"]);
        let (bw, bh, b) = heights(&mate.json["b_registered"]);
        assert_eq!((bw, bh), (160, 160));
        let (fit, overlap) = ncc(&a, &b);
        let ncc_found = mate.json["registration"]["registration_ncc"]
            .as_f64()
            .unwrap();
        assert!(
            (fit - ncc_found).abs() < 0.02,
            "overlay {fit} vs registration {ncc_found}"
        );
        assert!(overlap > 1_000, "{overlap}");
        let other = send(&app, pair("TW02-01")).await;
        assert_eq!(other.status, StatusCode::OK, "{:#}", other.json);
        assert!(mate.json["score"].as_f64() > other.json["score"].as_f64());
        // The same score as the candidate list gives the pair.
        let list = send(
            &app,
            get_as(DE_KEY, "/v1/casings/TW01-01/candidates?limit=5").to_request(),
        )
        .await;
        let listed = list.json["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["casing_id"] == "TW01-03")
            .unwrap();
        assert!(
            (listed["score"].as_f64().unwrap() - mate.json["score"].as_f64().unwrap()).abs() < 1e-9
        );
        // Cells are 500 µm boxes inside a's 4 mm canvas, by their corner.
        let cells = mate.json["cells"].as_array().unwrap();
        assert_eq!(
            cells.len(),
            mate.json["valid_cells"].as_u64().unwrap() as usize
        );
        assert!(mate.json["congruent_cells"].as_u64().unwrap() > 0);
        for c in cells {
            assert_eq!(c["width_um"], 500.0);
            let (x, y) = (c["x_um"].as_f64().unwrap(), c["y_um"].as_f64().unwrap());
            assert!(
                (0.0..=3500.0).contains(&x) && (0.0..=3500.0).contains(&y),
                "{c}"
            );
            assert!((x % 500.0).abs() < 1e-6, "{c}");
        }
        // Both casings need image rights.
        let r = send(
            &app,
            get_as(
                NL_KEY,
                "/v1/casings/TW01-01/comparison?agency=de-bka&with=TW01-03&with_agency=de-bka",
            )
            .to_request(),
        )
        .await;
        r.assert_error(StatusCode::FORBIDDEN, "image_not_shared");
        let r = send(
            &app,
            get_as(DE_KEY, "/v1/casings/TW01-01/comparison?with=TW01-01").to_request(),
        )
        .await;
        r.assert_error(StatusCode::BAD_REQUEST, "invalid_metadata");

        // Each image served is on record, naming its casing(s) and caller;
        // the refusal too.
        let records = t.engine.database().audit_page(0, 10_000).await.unwrap();
        let surface = records
            .iter()
            .find(|r| r.agency == "fr-pts" && r.resource == "/v1/casings/TW01-01/surface")
            .expect("the partner's read is recorded");
        let detail: Value = serde_json::from_str(&surface.detail).unwrap();
        assert_eq!(detail["casings"], json!(["de-bka/TW01-01"]));
        assert_eq!(surface.owner_agency.as_deref(), Some("de-bka"));
        let compared: Vec<Value> = records
            .iter()
            .filter(|r| r.agency == "fr-pts" && r.resource == "/v1/casings/TW01-01/comparison")
            .map(|r| serde_json::from_str(&r.detail).unwrap())
            .collect();
        assert_eq!(compared.len(), 2);
        assert_eq!(
            compared[0]["casings"],
            json!(["de-bka/TW01-01", "de-bka/TW01-03"])
        );
        assert!(records
            .iter()
            .any(|r| r.agency == "nl-nfi" && r.outcome == "denied"));
        t.close().await;
    }
}
