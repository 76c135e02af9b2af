//! A small W3C WebDriver client for Debian's `chromium-driver`: start
//! chromedriver on a free port, open a headless Chromium session, and the
//! handful of commands the workspace's tests use. Outside CI a machine
//! without Chromium skips the browser tests with a note; under `CI=1` a
//! missing browser fails them (`scripts/setup` installs both).

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

use crate::common::http1;
use crate::common::server::free_port;

/// The W3C element reference key.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
    _profile: tempfile::TempDir,
}

fn which(names: &[&str]) -> Option<String> {
    let path = std::env::var("PATH").unwrap_or_default();
    names.iter().find_map(|n| {
        std::env::split_paths(&path)
            .map(|d| d.join(n))
            .find(|p| p.is_file())
            .map(|p| p.display().to_string())
    })
}

impl Browser {
    /// A fresh headless Chromium of `width` x `height` CSS pixels, or None
    /// (with a note) when Chromium is not installed and this is not CI.
    pub fn start(width: u32, height: u32) -> Option<Browser> {
        let driver = which(&["chromedriver"]);
        let chromium = which(&["chromium", "chromium-browser"]);
        let (Some(driver), Some(chromium)) = (driver, chromium) else {
            if std::env::var_os("CI").is_some() {
                panic!("chromium and chromedriver must be installed in CI (scripts/setup installs them)");
            }
            // Past the harness's capture, so a skip is never taken for a pass.
            let _ = writeln!(
                std::io::stderr(),
                "note: browser tests not run: chromium or chromedriver is not installed (scripts/setup installs them)"
            );
            return None;
        };
        let port = free_port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let profile = tempfile::tempdir().expect("a browser profile directory");
        let mut browser = Browser {
            driver: child,
            port,
            session: String::new(),
            _profile: profile,
        };
        let started = Instant::now();
        while http1::request(port, "GET", "/status", &[], None).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "chromedriver did not answer on port {port} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        // The networking flags keep Chromium from calling home, which on a
        // closed network stalls or refuses its own connections.
        let args = vec![
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-dev-shm-usage".into(),
            "--force-device-scale-factor=1".into(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", browser._profile.path().display()),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
        }}});
        let session = browser.call("POST", "/session", caps);
        browser.session = session["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session id in {session}"))
            .to_string();
        Some(browser)
    }

    /// One WebDriver command; its `value`, or a panic naming the error.
    fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let payload = body.to_string();
        let body = (method == "POST").then_some(("application/json", payload.as_bytes()));
        let res = http1::request(self.port, method, path, &[], body)
            .unwrap_or_else(|e| panic!("chromedriver {method} {path}: {e}"));
        let json = res.json();
        if res.status != 200 {
            panic!(
                "chromedriver {method} {path}: {} {}",
                res.status, json["value"]
            );
        }
        json["value"].clone()
    }

    fn session_call(&self, method: &str, path: &str, body: Value) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body)
    }

    pub fn goto(&self, url: &str) {
        self.session_call("POST", "/url", json!({ "url": url }));
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the page.
    pub fn run(&self, script: &str, args: Value) -> Value {
        self.session_call(
            "POST",
            "/execute/sync",
            json!({"script": script, "args": args}),
        )
    }

    /// Waits until `script` returns something truthy; returns it.
    pub fn wait_until(&self, what: &str, script: &str) -> Value {
        let started = Instant::now();
        loop {
            let v = self.run(script, json!([]));
            let truthy = !(v.is_null() || v == json!(false) || v == json!("") || v == json!(0));
            if truthy {
                return v;
            }
            if started.elapsed() > Duration::from_secs(60) {
                let page = self.run(
                    "return document.getElementById('view').innerText",
                    json!([]),
                );
                panic!("timed out waiting for {what}; the page shows: {page}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits for an element matching `css` and returns its reference.
    pub fn wait_for(&self, css: &str) -> Value {
        self.wait_until(
            css,
            &format!(
                "return document.querySelector({})",
                serde_json::to_string(css).unwrap()
            ),
        );
        self.find(css)
    }

    pub fn find(&self, css: &str) -> Value {
        self.session_call(
            "POST",
            "/element",
            json!({"using": "css selector", "value": css}),
        )
    }

    pub fn click(&self, el: &Value) {
        self.session_call("POST", &format!("/element/{}/click", id(el)), json!({}));
    }

    pub fn type_into(&self, el: &Value, text: &str) {
        self.session_call(
            "POST",
            &format!("/element/{}/value", id(el)),
            json!({ "text": text }),
        );
    }

    pub fn text(&self, el: &Value) -> String {
        self.session_call("GET", &format!("/element/{}/text", id(el)), json!({}))
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Moves the mouse to (`dx`, `dy`) CSS pixels from the element's centre.
    pub fn hover(&self, el: &Value, dx: i64, dy: i64) {
        let origin = json!({ ELEMENT: id(el) });
        self.session_call(
            "POST",
            "/actions",
            json!({"actions": [{"type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
                "actions": [{"type": "pointerMove", "duration": 0, "origin": origin, "x": dx, "y": dy}]}]}),
        );
    }

    /// A PNG of the viewport.
    pub fn screenshot(&self) -> Vec<u8> {
        let b64 = self.session_call("GET", "/screenshot", json!({}));
        base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().expect("base64 screenshot"))
            .expect("decode the screenshot")
    }
}

fn id(el: &Value) -> &str {
    el[ELEMENT]
        .as_str()
        .unwrap_or_else(|| panic!("not an element reference: {el}"))
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let path = format!("/session/{}", self.session);
            let _ = http1::request(self.port, "DELETE", &path, &[], None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
