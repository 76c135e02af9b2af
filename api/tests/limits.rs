//! Issue #15's critical case against the real server: a 2 KB image whose
//! metadata declares 500 µm per pixel once made preprocessing resample it
//! 20x per side (256 x 256 took 22 s and 4.2 GB) and a server under a
//! memory cap abort. Here `casetrace serve` runs under an address-space cap
//! on loopback; the image (and an X3P with the same coarse increment) must
//! be refused with a 4xx naming the scale, and the server's peak resident
//! memory must stay small.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use casetrace_engine::reading::write_x3p;
use casetrace_engine::surface::{Surface, SurfaceKind};
use image::{DynamicImage, GrayImage, ImageFormat};
use serde_json::Value;

use crate::common::{multipart, Backend, Part, TestEngine, TEST_KEY};

/// The server's address-space cap. The old code needed 4.2 GB for the
/// 256 x 256 image and aborted under this; the model, ONNX Runtime and
/// faiss need well under it.
const ADDRESS_SPACE_CAP: u64 = 3 * 1024 * 1024 * 1024;
/// Largest peak resident memory allowed to the server, bytes.
const MAX_PEAK_RSS: u64 = 300 * 1024 * 1024;

/// Kills the server when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// One HTTP/1.1 request on loopback; the status and the JSON body.
fn request(port: u16, method: &str, path: &str, content_type: &str, body: &[u8]) -> (u16, Value) {
    let mut sock = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    sock.set_read_timeout(Some(Duration::from_secs(120)))
        .expect("timeout");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Authorization: Bearer {TEST_KEY}\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    sock.write_all(head.as_bytes()).expect("send head");
    sock.write_all(body).expect("send body");
    let mut raw = Vec::new();
    sock.read_to_end(&mut raw).expect("read the answer");
    let text = String::from_utf8_lossy(&raw);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {text}"));
    let json = text
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b.trim()).ok())
        .unwrap_or(Value::Null);
    (status, json)
}

/// `VmHWM` (peak resident set) and `VmRSS` of `pid`, bytes.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|kb| kb.parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .unwrap_or_else(|| panic!("{name} missing from {status}"))
    };
    (field("VmHWM:"), field("VmRSS:"))
}

fn tiny_png() -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    DynamicImage::ImageLuma8(GrayImage::from_fn(256, 256, |x, y| {
        image::Luma([((x / 32 + y / 32) % 2 * 200) as u8])
    }))
    .write_to(&mut out, ImageFormat::Png)
    .expect("encodes");
    out.into_inner()
}

fn coarse_x3p() -> Vec<u8> {
    let mut scan = Surface::empty(256, 256, 500.0, SurfaceKind::Topography);
    scan.valid.iter_mut().for_each(|v| *v = true);
    write_x3p(&scan)
}

#[test]
fn a_tiny_image_declaring_500_um_per_px_is_refused_by_a_capped_server() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let t = rt.block_on(TestEngine::open(&Backend::Sqlite));
    let port = free_port();
    let server = Server(
        Command::new("prlimit")
            .arg(format!("--as={ADDRESS_SPACE_CAP}"))
            .arg("--")
            .arg(env!("CARGO_BIN_EXE_casetrace"))
            .args(t.cli_args())
            .args(["--threads", "1", "serve", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the capped server"),
    );
    let pid = server.0.id();
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the server did not listen within 120 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (_, rss_ready) = memory(pid);

    let png = tiny_png();
    assert!(png.len() < 4096, "a small file: {} bytes", png.len());
    let meta = Part::text("metadata", r#"{"casing_id": "COARSE-1", "um_per_px": 500}"#);
    let search_meta = Part::text("metadata", r#"{"um_per_px": 500}"#);
    let cases = [
        (
            "/v1/search",
            vec![Part::file("image", "tiny.png", &png), search_meta],
            "um_per_px",
        ),
        (
            "/v1/casings",
            vec![Part::file("image", "tiny.png", &png), meta],
            "um_per_px",
        ),
        (
            "/v1/casings",
            vec![
                Part::file("image", "coarse.x3p", &coarse_x3p()),
                Part::text("metadata", r#"{"casing_id": "COARSE-2"}"#),
            ],
            "Record1/Axes/CX/Increment",
        ),
    ];
    for (path, parts, field) in cases {
        let (content_type, body) = multipart(&parts);
        let sent = Instant::now();
        let (status, json) = request(port, "POST", path, &content_type, &body);
        let took = sent.elapsed();
        let (peak, rss) = memory(pid);
        eprintln!(
            "{path} ({field}): {status} in {:.1} ms; server RSS {} MB (ready {} MB), peak {} MB",
            took.as_secs_f64() * 1e3,
            rss >> 20,
            rss_ready >> 20,
            peak >> 20
        );
        assert_eq!(status, 422, "{path}: {json}");
        assert_eq!(json["code"], "invalid_input", "{json}");
        let message = json["message"].as_str().unwrap_or_default();
        assert!(message.contains(field), "{message}");
        assert!(message.contains("128.0 x 128.0 mm"), "{message}");
        assert!(
            peak < MAX_PEAK_RSS,
            "{path}: server peak RSS {} MB",
            peak >> 20
        );
    }
    // Still alive and answering: nothing aborted.
    let (status, _) = request(port, "GET", "/healthz", "text/plain", b"");
    assert_eq!(status, 200);
    drop(server);
    rt.block_on(t.close());
}
