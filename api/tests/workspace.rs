//! The examiner's workspace (`/`, `api/web/`) in a real headless Chromium,
//! driven over WebDriver against a real server on a loopback port: sign-in
//! with a key, the lead inbox, the comparison view's pixels and cells, a
//! conclusion recorded and visible through the REST API and the audit log,
//! blind verification, a correlate-only partner who sees ranks but no
//! image, and an agency sharing nothing that sees nothing.
//!
//! With `CASETRACE_SCREENSHOTS=DIR` the test also writes the README's
//! screenshots (inbox, comparison, firearm timeline) into DIR.

mod webdriver;

use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::HttpServer;
use casetrace_api::app::create_app;
use casetrace_engine::access::Role;
use serde_json::{json, Value};

use crate::common::{
    http1, multipart, operator, register_test_agency, weller, Backend, Part, TestEngine, TEST_KEY,
};
use webdriver::Browser;

/// A partner agency that `local` lets correlate with its casings, no more.
const PARTNER_KEY: &str =
    "ct_00000000000000b2_2222222222222222222222222222222222222222222222222222222222222222";
/// An agency nobody shares anything with.
const STRANGER_KEY: &str =
    "ct_00000000000000c3_3333333333333333333333333333333333333333333333333333333333333333";

/// `casetrace serve`'s application on a loopback port, on its own actix
/// system thread (the test's thread stays synchronous for WebDriver).
struct Served {
    port: u16,
    handle: ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
    /// A second examiner of `local`, for blind verification.
    verifier_key: String,
}

impl Served {
    fn start() -> Served {
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let t = TestEngine::open(&Backend::Sqlite).await;
                register_test_agency(&t.engine, "partner", PARTNER_KEY).await;
                register_test_agency(&t.engine, "stranger", STRANGER_KEY).await;
                let verifier = t
                    .engine
                    .issue_key(&operator(), "examiner B", vec![Role::Examiner], 30)
                    .await
                    .expect("issue the verifier's key");
                let state = t.state();
                let server = HttpServer::new(move || create_app(state.clone()))
                    .workers(2)
                    .bind(("127.0.0.1", 0))
                    .expect("bind a loopback port");
                let port = server.addrs()[0].port();
                let server = server.run();
                tx.send((port, server.handle(), verifier.key))
                    .expect("hand the port over");
                server.await.expect("serve");
                t.close().await;
            });
        });
        let (port, handle, verifier_key) = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("the server starts");
        Served {
            port,
            handle,
            thread: Some(thread),
            verifier_key,
        }
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn call(&self, key: &str, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let auth = format!("Bearer {key}");
        let payload = body.map(|b| b.to_string());
        let res = http1::request(
            self.port,
            method,
            path,
            &[("Authorization", &auth)],
            payload
                .as_deref()
                .map(|p| ("application/json", p.as_bytes())),
        )
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        (res.status, res.json())
    }

    /// A call that must succeed; its JSON.
    fn ok(&self, key: &str, method: &str, path: &str, body: Option<&Value>) -> Value {
        let (status, json) = self.call(key, method, path, body);
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {json:#}"
        );
        json
    }

    fn submit(&self, key: &str, casing_id: &str, case_number: &str) {
        let meta =
            json!({"casing_id": casing_id, "calibre": "9mm Luger", "case_number": case_number});
        let (content_type, body) = multipart(&[
            Part::file("image", &format!("{casing_id}.x3p"), &weller(casing_id)),
            Part::text("metadata", &meta.to_string()),
        ]);
        let auth = format!("Bearer {key}");
        let res = http1::request(
            self.port,
            "POST",
            "/v1/casings",
            &[("Authorization", &auth)],
            Some((&content_type, &body)),
        )
        .expect("submit a casing");
        assert_eq!(res.status, 201, "{}", String::from_utf8_lossy(&res.body));
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime to stop the server");
        rt.block_on(self.handle.stop(true));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What the test puts on file before the browser opens.
struct Fixture {
    lead: i64,
    firearm: i64,
}

fn lead(s: &Served, query: &str, candidate: &str) -> i64 {
    let body = json!({"query": {"agency": "local", "casing_id": query},
                      "candidate": {"agency": "local", "casing_id": candidate}});
    s.ok(TEST_KEY, "POST", "/v1/leads", Some(&body))["id"]
        .as_i64()
        .expect("a lead id")
}

fn put_on_file(s: &Served) -> Fixture {
    for (id, case) in [
        ("TW01-01", "2024-0117"),
        ("TW01-02", "2024-0342"),
        ("TW01-04", "2024-0409"),
        ("TW02-01", "2024-0233"),
    ] {
        s.submit(TEST_KEY, id, case);
    }
    s.submit(PARTNER_KEY, "TW01-03", "P-77");
    s.ok(
        TEST_KEY,
        "POST",
        "/v1/agreements",
        Some(&json!({"grantee": "partner", "scope": "correlate"})),
    );
    let first = lead(s, "TW01-01", "TW01-02");
    lead(s, "TW01-01", "TW01-04");
    lead(s, "TW01-01", "TW02-01");

    let trace = json!({"serial": "RP-0012345", "make": "Ruger", "model": "SR9", "type": "pistol",
        "calibre": "9mm Luger", "recovery_date": "2024-01-17", "recovery_place": "Springfield",
        "crime_code": "1302", "trace_number": "T-24-0117", "country": "US"});
    let t = s.ok(TEST_KEY, "POST", "/v1/traces", Some(&trace));
    let firearm = t["firearm"]["id"].as_i64().expect("a firearm id");
    for event in [
        json!({"kind": "manufacture", "date": "2016-05-10", "place": "Newport NH"}),
        json!({"kind": "dealer_sale", "date": "2019-08-14", "licensee_id": "FFL-5-43-01234", "place": "Concord"}),
        json!({"kind": "theft", "date": "2023-06-02", "place": "Springfield", "comment": "reported by owner"}),
        json!({"kind": "test_fire", "date": "2024-02-01", "casing_id": "TW01-02", "comment": "lab test fire"}),
    ] {
        s.ok(
            TEST_KEY,
            "POST",
            &format!("/v1/firearms/{firearm}/events"),
            Some(&event),
        );
    }
    Fixture {
        lead: first,
        firearm,
    }
}

/// Writes a screenshot into `CASETRACE_SCREENSHOTS`, when set.
fn keep_screenshot(b: &Browser, name: &str) {
    let Some(dir) = std::env::var_os("CASETRACE_SCREENSHOTS") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    std::fs::create_dir_all(&dir).expect("screenshot directory");
    // Let the last frame settle (fonts, canvas) before the picture.
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(dir.join(format!("{name}.png")), b.screenshot()).expect("write screenshot");
}

fn sign_in(b: &Browser, s: &Served, key: &str, agency: &str) {
    b.goto(&format!("{}/#/", s.base()));
    let state = b.wait_until(
        "the sign-in form or the signed-in bar",
        "return document.querySelector('#signin') ? 'form' : (document.getElementById('signout').hidden ? '' : 'bar')",
    );
    if state == "bar" {
        b.click(&b.find("#signout"));
    }
    let field = b.wait_for("#signin input[type=password]");
    b.type_into(&field, key);
    b.click(&b.find("#signin button[type=submit]"));
    b.wait_until(
        "the signed-in bar",
        &format!(
            "return document.getElementById('who').textContent.includes({})",
            serde_json::to_string(&format!("· {agency}")).unwrap()
        ),
    );
    // The key went to sessionStorage only, and into no URL.
    let facts = b.run(
        "return [location.href, sessionStorage.getItem('casetrace.key'), localStorage.length, document.cookie]",
        json!([]),
    );
    assert!(!facts[0].as_str().unwrap().contains(key), "{facts}");
    assert_eq!(facts[1], key);
    assert_eq!(facts[2], 0, "nothing in localStorage: {facts}");
    assert_eq!(facts[3], "", "no cookie: {facts}");
}

/// Opens a hash route of the page and waits for `ready` (a CSS selector).
fn open(b: &Browser, s: &Served, hash: &str, ready: &str) -> Value {
    // Emptied first, so the wait below cannot be met by the previous view.
    b.run(
        "document.getElementById('view').replaceChildren(); return true",
        json!([]),
    );
    b.goto(&format!("{}/{hash}", s.base()));
    b.wait_for(ready)
}

/// Non-transparent pixels, distinct grey levels and a hash of a canvas.
const CANVAS_FACTS: &str = r#"
const c = document.querySelector(arguments[0]);
const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
let opaque = 0, hash = 2166136261, congruent = 0, other = 0;
const levels = new Set();
const near = (i, r, g, b) => Math.abs(d[i]-r) < 12 && Math.abs(d[i+1]-g) < 12 && Math.abs(d[i+2]-b) < 12;
for (let i = 0; i < d.length; i += 4) {
  if (d[i+3] > 0) { opaque++; levels.add(d[i]); }
  if (near(i, 57, 217, 138)) congruent++;
  if (near(i, 240, 166, 64)) other++;
  hash = Math.imul(hash ^ d[i] ^ (d[i+1] << 8) ^ (d[i+2] << 16), 16777619) >>> 0;
}
return {opaque, total: c.width * c.height, levels: levels.size, hash, congruent, other};
"#;

fn canvas(b: &Browser, css: &str) -> Value {
    b.run(CANVAS_FACTS, json!([css]))
}

#[test]
fn the_workspace_works_in_a_real_browser() {
    let Some(b) = Browser::start(1000, 700) else {
        return;
    };
    let s = Served::start();
    let f = put_on_file(&s);

    // The page and its assets come from the binary, with strict headers.
    let page = http1::request(s.port, "GET", "/", &[], None).expect("GET /");
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let csp = page.header("content-security-policy").expect("a CSP");
    assert!(
        csp.starts_with("default-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    let js = http1::request(s.port, "GET", "/web/js/main.js", &[], None).expect("GET main.js");
    assert_eq!(
        js.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    let etag = js.header("etag").expect("an ETag").to_string();
    let again = http1::request(
        s.port,
        "GET",
        "/web/js/main.js",
        &[("If-None-Match", &etag)],
        None,
    )
    .expect("revalidate");
    assert_eq!(again.status, 304);
    let missing = http1::request(s.port, "GET", "/web/nothing.js", &[], None).expect("GET");
    assert_eq!(missing.status, 404);

    examiner_signs_in_and_works_a_lead(&b, &s, &f);
    investigator_follows_a_firearm(&b, &s, &f);
    verifier_concludes_blind(&b, &s, &f);
    correlate_only_partner_sees_ranks_but_no_image(&b, &s);
    stranger_sees_nothing(&b, &s, &f);
}

fn examiner_signs_in_and_works_a_lead(b: &Browser, s: &Served, f: &Fixture) {
    sign_in(b, s, TEST_KEY, "local");
    // The inbox is the examiner's home: it lists the open leads.
    let row = b.wait_for(&format!("#leads tr[data-lead='{}']", f.lead));
    assert!(b.text(&row).contains("TW01-02"), "{}", b.text(&row));
    let counts = b.text(&b.find("#lead-counts"));
    assert!(counts.contains("3 open"), "{counts}");
    keep_screenshot(b, "inbox");

    // The comparison view of the lead, reached by its row's link.
    b.click(&b.find(&format!("#leads tr[data-lead='{}'] a.button", f.lead)));
    let ready = b.wait_until(
        "the comparison",
        "return document.body.dataset.compareReadyMs",
    );
    let a = canvas(b, "#canvas-a");
    let bb = canvas(b, "#canvas-b");
    for (name, c) in [("a", &a), ("b", &bb)] {
        let opaque = c["opaque"].as_f64().unwrap() / c["total"].as_f64().unwrap();
        assert!(opaque > 0.1, "surface {name} is mostly blank: {c}");
        assert!(
            c["levels"].as_u64().unwrap() > 40,
            "surface {name} is flat: {c}"
        );
        assert!(
            c["congruent"].as_u64().unwrap() > 0 || c["other"].as_u64().unwrap() > 0,
            "no cell drawn on {name}: {c}"
        );
    }
    assert_ne!(a["hash"], bb["hash"], "the two surfaces look the same");
    let cells: usize = b
        .run("return document.body.dataset.cellsDrawn", json!([]))
        .as_str()
        .and_then(|n| n.parse().ok())
        .expect("cells drawn");
    assert!(cells > 0);
    // The light moves: the same surface under another azimuth is another picture.
    b.run(
        "const i = document.getElementById('azimuth'); i.value = 135; i.dispatchEvent(new Event('input')); return true",
        json!([]),
    );
    assert_ne!(
        canvas(b, "#canvas-a")["hash"],
        a["hash"],
        "the light did not move"
    );
    b.run(
        "const i = document.getElementById('azimuth'); i.value = 315; i.dispatchEvent(new Event('input')); return true",
        json!([]),
    );
    // Hovering a cell shows its registration.
    let pair = s.ok(
        TEST_KEY,
        "GET",
        "/v1/casings/TW01-01/comparison?with=TW01-02",
        None,
    );
    let cell = &pair["cells"][0];
    let um = pair["a"]["um_per_px"].as_f64().unwrap();
    let side = pair["a"]["width"].as_f64().unwrap();
    let pane = b
        .run(
            "return document.getElementById('canvas-a').getBoundingClientRect().width",
            json!([]),
        )
        .as_f64()
        .unwrap();
    // The cell's centre, from the pane's centre, in CSS pixels.
    let px = pane / side / um;
    let centre = |at: &str, size: &str| {
        (cell[at].as_f64().unwrap() + cell[size].as_f64().unwrap_or(0.0) / 2.0) * px - pane / 2.0
    };
    let (cx, cy) = (centre("x_um", "width_um"), centre("y_um", "height_um"));
    b.hover(&b.find("#canvas-a"), cx as i64, cy as i64);
    let tip = b.wait_until(
        "the cell's tooltip",
        "const t = document.getElementById('cell-tip'); return !t.hidden && t.textContent",
    );
    assert!(tip.as_str().unwrap().contains("ccf"), "{tip}");
    keep_screenshot(b, "comparison");
    let _ = writeln_stderr(&format!(
        "workspace: comparison view of TW01-01 vs TW01-02 ready in {} ms (browser-measured)",
        ready.as_str().unwrap_or("?")
    ));

    // A conclusion, recorded from the page.
    b.click(&b.find("#conclusion-form input[value=identification]"));
    b.type_into(
        &b.find("#conclusion-form textarea"),
        "agreement of breech-face marks in 9 cells",
    );
    b.click(&b.find("#conclusion-form button[type=submit]"));
    b.wait_for("#conclusions li[data-conclusion=identification]");
    let l = s.ok(TEST_KEY, "GET", &format!("/v1/leads/{}", f.lead), None);
    assert_eq!(l["conclusions"][0]["conclusion"], "identification", "{l:#}");
    assert_eq!(l["conclusions"][0]["role"], "primary", "{l:#}");
    assert_eq!(
        l["status"], "lead",
        "one conclusion is not yet reported: {l:#}"
    );
    let audit = s.ok(
        TEST_KEY,
        "GET",
        &format!("/v1/audit?resource=/v1/leads/{}/conclusions", f.lead),
        None,
    );
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["outcome"] == "ok" && r["key_id"] == "00000000000000a1"),
        "{audit:#}"
    );
}

fn investigator_follows_a_firearm(b: &Browser, s: &Served, f: &Fixture) {
    open(b, s, "#/serials?serial=RP0012*", "#serial-matches");
    b.click(&b.find(&format!(
        "#serial-matches a[href='#/firearm/{}']",
        f.firearm
    )));
    b.wait_for("#timeline circle");
    let dots = b.run(
        "return document.querySelectorAll('#timeline circle').length",
        json!([]),
    );
    let events = s.ok(
        TEST_KEY,
        "GET",
        &format!("/v1/firearms/{}/history", f.firearm),
        None,
    );
    assert_eq!(dots, json!(events["events"].as_array().unwrap().len()));
    keep_screenshot(b, "firearm-timeline");
}

fn verifier_concludes_blind(b: &Browser, s: &Served, f: &Fixture) {
    sign_in(b, s, &s.verifier_key, "local");
    open(
        b,
        s,
        &format!("#/compare/local/TW01-01/local/TW01-02?lead={}", f.lead),
        "#conclusion-form",
    );
    let panel = b.text(&b.find("#lead-panel"));
    assert!(panel.contains("1 conclusion recorded by others"), "{panel}");
    assert!(
        !panel.contains("9 cells"),
        "the first examiner's notes leaked: {panel}"
    );
    let shown = b.run(
        "return document.querySelectorAll('#conclusions li').length",
        json!([]),
    );
    assert_eq!(shown, 0, "the first conclusion is shown to the verifier");
    b.click(&b.find("#conclusion-form input[value=identification]"));
    b.click(&b.find("#conclusion-form button[type=submit]"));
    b.wait_until(
        "both conclusions",
        "return document.querySelectorAll('#conclusions li').length === 2",
    );
    let l = s.ok(TEST_KEY, "GET", &format!("/v1/leads/{}", f.lead), None);
    assert_eq!(l["status"], "hit", "two agreeing identifications: {l:#}");
    assert_eq!(l["verification"]["state"], "agree", "{l:#}");
}

fn correlate_only_partner_sees_ranks_but_no_image(b: &Browser, s: &Served) {
    sign_in(b, s, PARTNER_KEY, "partner");
    open(
        b,
        s,
        "#/casing/partner/TW01-03",
        "#candidates tr[data-agency=local]",
    );
    let rank = b.run(
        "return document.querySelector('#candidates tr[data-agency=local]').dataset.rank",
        json!([]),
    );
    assert_eq!(rank, "1", "the partner's best candidate is one of local's");
    b.click(&b.find("#candidates tr[data-agency=local] a.button"));
    let code = b.wait_until(
        "the refusal",
        "const e = document.querySelector('.compare .error'); return e && e.dataset.code",
    );
    assert_eq!(code, "image_not_shared");
    let drawn = b.run(
        "return document.querySelectorAll('canvas').length",
        json!([]),
    );
    assert_eq!(drawn, 0, "an image was drawn for a correlate-only partner");
}

fn stranger_sees_nothing(b: &Browser, s: &Served, f: &Fixture) {
    sign_in(b, s, STRANGER_KEY, "stranger");
    b.wait_for("#no-leads");
    // Another agency's casing, its pair and its firearm are answered as if
    // they did not exist (404), and nothing is drawn.
    for hash in [
        "#/casing/local/TW01-01",
        "#/compare/local/TW01-01/local/TW01-02",
    ] {
        open(b, s, hash, ".error");
        let shown = b.run(
            "return [...document.querySelectorAll('.error')].map(e => e.dataset.status)",
            json!([]),
        );
        assert!(
            shown.as_array().unwrap().iter().all(|c| c == "404"),
            "{hash}: {shown}"
        );
        assert_eq!(
            b.run(
                "return document.querySelectorAll('canvas').length",
                json!([])
            ),
            0
        );
    }
    open(
        b,
        s,
        &format!("#/firearm/{}", f.firearm),
        ".error[data-status='404']",
    );
    open(b, s, "#/serials?serial=RP-0012345", "#serial-form");
    b.wait_until(
        "the empty search",
        "return document.getElementById('view').innerText.includes('0 match')",
    );
}

fn writeln_stderr(line: &str) -> std::io::Result<()> {
    use std::io::Write;
    writeln!(std::io::stderr(), "{line}")
}
