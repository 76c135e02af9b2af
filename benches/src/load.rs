//! Load from a second process over loopback: a real `casetrace serve` on a
//! fresh data directory, hit by several client threads mixing submissions
//! of new casings, candidate queries, reads and malformed requests for a
//! fixed time. It fails if a valid request ever gets a 5xx, if a malformed
//! one gets anything but a 4xx, or if the casings on file afterwards are
//! not exactly those before plus the submissions answered 201. It samples
//! the server's resident memory throughout.
//!
//! The baseline is `GET /healthz` (no key, no database write) timed in the
//! same run: the ratio says what authentication, the audit record and the
//! work itself add to a bare round trip.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use casetrace_engine::reading::write_x3p;
use casetrace_engine::synth::{fire, make_gun, SynthConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::report::{ratio, Report};
use crate::stats::Summary;

#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// The casetrace binary to serve with.
    #[arg(long, default_value = "target/debug/casetrace")]
    casetrace: PathBuf,
    /// How long to load the server.
    #[arg(long, default_value_t = 180)]
    seconds: u64,
    /// Client threads.
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// Synthetic casings generated up front (each submitted once).
    #[arg(long, default_value_t = 600)]
    casings: usize,
    #[arg(long, default_value_t = 5)]
    seed: u64,
}

/// What one request was meant to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Submit,
    Candidates,
    Read,
    Malformed,
    Baseline,
}

/// Baseline first: the other kinds' ratios are taken against it.
const KINDS: [Kind; 5] = [
    Kind::Baseline,
    Kind::Submit,
    Kind::Candidates,
    Kind::Read,
    Kind::Malformed,
];

struct Reply {
    status: u16,
    body: String,
}

/// One HTTP/1.1 request on a fresh loopback connection.
fn request(port: u16, head: &str, body: &[u8]) -> std::io::Result<Reply> {
    let mut sock = TcpStream::connect(("127.0.0.1", port))?;
    sock.set_read_timeout(Some(Duration::from_secs(300)))?;
    sock.write_all(head.as_bytes())?;
    sock.write_all(body)?;
    let mut raw = Vec::new();
    sock.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok(Reply { status, body })
}

fn get(port: u16, path: &str, key: Option<&str>) -> std::io::Result<Reply> {
    let auth = key.map_or(String::new(), |k| format!("Authorization: Bearer {k}\r\n"));
    request(
        port,
        &format!("GET {path} HTTP/1.1\r\nHost: l\r\n{auth}Connection: close\r\n\r\n"),
        b"",
    )
}

fn post_multipart(
    port: u16,
    path: &str,
    key: &str,
    parts: &[(&str, &str, &[u8])],
) -> std::io::Result<Reply> {
    let boundary = "casetraceloadboundary";
    let mut body = Vec::new();
    for (name, file_name, bytes) in parts {
        write!(
            body,
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\""
        )?;
        if !file_name.is_empty() {
            write!(body, "; filename=\"{file_name}\"")?;
        }
        body.extend_from_slice(b"\r\n\r\n");
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    write!(body, "--{boundary}--\r\n")?;
    request(
        port,
        &format!(
            "POST {path} HTTP/1.1\r\nHost: l\r\nAuthorization: Bearer {key}\r\n\
             Content-Type: multipart/form-data; boundary={boundary}\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        ),
        &body,
    )
}

/// The number of casings on file, from `/healthz`.
fn casings_on_file(port: u16) -> anyhow::Result<u64> {
    let r = get(port, "/healthz", None)?;
    let v: serde_json::Value = serde_json::from_str(&r.body)?;
    v["casings"]
        .as_u64()
        .ok_or_else(|| anyhow::anyhow!("/healthz without a casing count: {}", r.body))
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The server, killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start `casetrace serve` on a fresh data directory and read the first
/// admin key it prints.
fn start_server(
    args: &LoadArgs,
    dir: &std::path::Path,
    port: u16,
) -> anyhow::Result<(Server, String)> {
    let mut child = Command::new(&args.casetrace)
        .arg("--data-dir")
        .arg(dir)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| anyhow::anyhow!("starting {}: {e}", args.casetrace.display()))?;
    let stderr = child.stderr.take().expect("piped stderr");
    let server = Server(child);
    let mut key = None;
    for line in BufReader::new(stderr).lines() {
        let line = line?;
        if let Some(k) = line.trim().strip_prefix("ct_") {
            key = Some(format!("ct_{k}"));
        }
        if line.contains("listening on") {
            break;
        }
    }
    let key = key.ok_or_else(|| anyhow::anyhow!("the server printed no first key"))?;
    let started = Instant::now();
    while get(port, "/healthz", None).is_err() {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(60),
            "server not up in 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok((server, key))
}

/// When the last scan was submitted (ms since the Unix epoch), so memory
/// after it, with no data being added, shows whether the server leaks.
static SUBMISSIONS_ENDED: AtomicU64 = AtomicU64::new(0);

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[derive(Default)]
struct Tally {
    latencies: Vec<(Kind, Duration)>,
    statuses: Vec<(Kind, u16)>,
    created: u64,
    problems: Vec<String>,
}

pub fn run(args: &LoadArgs, json_mode: bool) -> anyhow::Result<serde_json::Value> {
    anyhow::ensure!(
        args.clients > 0 && args.seconds > 0,
        "clients and seconds must be positive"
    );
    let mut report = Report::new("load", json_mode);
    let cfg = SynthConfig {
        um_per_px: 12.5,
        ..SynthConfig::default()
    };
    let scans: Vec<Vec<u8>> = (0..args.casings)
        .map(|i| {
            let gun = make_gun(args.seed * 10_000 + (i / 4) as u64, None, &cfg);
            write_x3p(&fire(&gun, args.seed * 100_000 + i as u64, &cfg))
        })
        .collect();
    report.note(format!("generated {} synthetic X3P scans", scans.len()));

    let dir = tempfile::tempdir()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let (server, key) = start_server(args, dir.path(), port)?;
    let pid = server.0.id();
    // A few casings on file first, so candidate queries have something.
    for (i, scan) in scans.iter().take(8).enumerate() {
        let meta = format!(r#"{{"casing_id":"seed-{i}"}}"#);
        let r = post_multipart(
            port,
            "/v1/casings?limit=0",
            &key,
            &[("image", "s.x3p", scan), ("metadata", "", meta.as_bytes())],
        )?;
        anyhow::ensure!(r.status == 201, "seeding: {} {}", r.status, r.body);
    }
    let before = casings_on_file(port)?;
    let next_scan = Arc::new(AtomicU64::new(8));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let scans = Arc::new(scans);
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let rss = Arc::new(Mutex::new(Vec::new()));
    std::thread::scope(|scope| -> anyhow::Result<()> {
        {
            let rss = rss.clone();
            scope.spawn(move || {
                while Instant::now() < deadline {
                    if let Some(kib) = rss_kib(pid) {
                        rss.lock().unwrap().push((now_ms(), kib));
                    }
                    std::thread::sleep(Duration::from_secs(2));
                }
            });
        }
        for client in 0..args.clients {
            let (tally, scans, next_scan, key) =
                (tally.clone(), scans.clone(), next_scan.clone(), key.clone());
            scope.spawn(move || {
                let mut rng = ChaCha8Rng::seed_from_u64(args.seed + client as u64);
                while Instant::now() < deadline {
                    let kind = match rng.random_range(0..100) {
                        0..20 => Kind::Submit,
                        20..30 => Kind::Candidates,
                        30..55 => Kind::Read,
                        55..85 => Kind::Malformed,
                        _ => Kind::Baseline,
                    };
                    let t = Instant::now();
                    let outcome = one(kind, port, &key, &scans, &next_scan, &mut rng);
                    let took = t.elapsed();
                    let mut tally = tally.lock().unwrap();
                    match outcome {
                        Ok(Some((status, created))) => {
                            tally.latencies.push((kind, took));
                            tally.statuses.push((kind, status));
                            tally.created += u64::from(created);
                            let bad = match kind {
                                Kind::Malformed => !(400..500).contains(&status),
                                _ => status >= 500 || status == 0,
                            };
                            if bad {
                                tally.problems.push(format!("{kind:?} answered {status}"));
                            }
                        }
                        Ok(None) => {}
                        Err(e) => tally.problems.push(format!("{kind:?}: {e}")),
                    }
                }
            });
        }
        Ok(())
    })?;
    let after = casings_on_file(port)?;
    let tally = Arc::try_unwrap(tally)
        .ok()
        .expect("threads joined")
        .into_inner()?;
    let rss = rss.lock().unwrap().clone();
    drop(server);

    let mut baseline_ms = 0.0;
    for kind in KINDS {
        let mut times: Vec<Duration> = tally
            .latencies
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, d)| *d)
            .collect();
        if times.is_empty() {
            continue;
        }
        let n = times.len();
        let mut statuses: Vec<u16> = tally
            .statuses
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, s)| *s)
            .collect();
        statuses.sort();
        statuses.dedup();
        let s = Summary::of(&mut times);
        if kind == Kind::Baseline {
            baseline_ms = s.median_ms;
        }
        report.push(
            format!(
                "{kind:?}: {n} requests, median {:.1} ms, p95 {:.1} ms, statuses {statuses:?}, median/healthz {:.1}",
                s.median_ms, s.p95_ms, ratio(s.median_ms, baseline_ms.max(1e-9))
            ),
            serde_json::json!({"kind": format!("{kind:?}"), "requests": n, "latency": s.json(),
                               "statuses": statuses}),
        );
    }
    let total = tally.latencies.len();
    report.push(
        format!(
            "{total} requests in {} s ({:.1}/s) from {} clients; casings before {before}, created {}, after {after}",
            args.seconds,
            total as f64 / args.seconds as f64,
            args.clients,
            tally.created
        ),
        serde_json::json!({"requests": total, "before": before, "created": tally.created, "after": after}),
    );
    let mib = |k: u64| k as f64 / 1024.0;
    let ended = SUBMISSIONS_ENDED.load(Ordering::Relaxed);
    let first = rss.first().map_or(0, |r| r.1);
    let last = rss.last().map_or(0, |r| r.1);
    let peak = rss.iter().map(|r| r.1).max().unwrap_or(0);
    // Memory once no more casings were being added: flat means no leak.
    let steady: Vec<u64> = rss
        .iter()
        .filter(|r| ended > 0 && r.0 > ended + 5_000)
        .map(|r| r.1)
        .collect();
    let steady_text = match (steady.first(), steady.last()) {
        (Some(a), Some(b)) => format!(
            "; after the last submission {:.0} -> {:.0} MiB over {} samples",
            mib(*a),
            mib(*b),
            steady.len()
        ),
        _ => "; submissions never ran out (raise --casings' ratio to --seconds to see a steady state)".into(),
    };
    report.push(
        format!(
            "server RSS: first {:.0} MiB, peak {:.0} MiB, last {:.0} MiB{steady_text}",
            mib(first),
            mib(peak),
            mib(last)
        ),
        serde_json::json!({"rss_kib": rss.iter().map(|r| r.1).collect::<Vec<_>>(), "steady_kib": steady}),
    );
    anyhow::ensure!(
        tally.problems.is_empty(),
        "{} bad answers, e.g. {:?}",
        tally.problems.len(),
        &tally.problems[..tally.problems.len().min(5)]
    );
    anyhow::ensure!(
        after == before + tally.created,
        "casings lost or invented: before {before} + created {} != after {after}",
        tally.created
    );
    Ok(report.to_json(serde_json::json!({
        "seconds": args.seconds, "clients": args.clients, "casings": args.casings, "seed": args.seed,
    })))
}

/// One request of `kind`; `Some((status, created))`, or `None` when there
/// was nothing left to submit.
fn one(
    kind: Kind,
    port: u16,
    key: &str,
    scans: &[Vec<u8>],
    next_scan: &AtomicU64,
    rng: &mut ChaCha8Rng,
) -> std::io::Result<Option<(u16, bool)>> {
    let known = format!("seed-{}", rng.random_range(0..8));
    let r = match kind {
        Kind::Submit => {
            let i = next_scan.fetch_add(1, Ordering::Relaxed) as usize;
            let Some(scan) = scans.get(i) else {
                return Ok(None);
            };
            if i + 1 == scans.len() {
                SUBMISSIONS_ENDED.store(now_ms(), Ordering::Relaxed);
            }
            let meta = format!(r#"{{"casing_id":"load-{i}","case_number":"L-{}"}}"#, i % 17);
            let r = post_multipart(port, "/v1/casings?limit=0", key, &[
                ("image", "c.x3p", scan),
                ("metadata", "", meta.as_bytes()),
            ])?;
            return Ok(Some((r.status, r.status == 201)));
        }
        Kind::Candidates => get(port, &format!("/v1/casings/{known}/candidates?limit=5"), Some(key))?,
        Kind::Read => match rng.random_range(0..3) {
            0 => get(port, &format!("/v1/casings/{known}"), Some(key))?,
            1 => get(port, "/v1/firearms?serial=AB%3F12", Some(key))?,
            _ => get(port, "/v1/audit?limit=5", Some(key))?,
        },
        Kind::Baseline => get(port, "/healthz", None)?,
        Kind::Malformed => match rng.random_range(0..7) {
            0 => post_multipart(port, "/v1/casings", key, &[
                ("image", "x.x3p", b"PK\x03\x04 not really a zip"),
                ("metadata", "", br#"{"casing_id":"junk"}"#),
            ])?,
            1 => post_multipart(port, "/v1/casings", key, &[("metadata", "", b"{not json")])?,
            2 => post_multipart(port, "/v1/casings", key, &[
                ("image", "y.png", &[0x89, b'P', b'N', b'G', 0, 0, 0, 0]),
                ("metadata", "", br#"{"casing_id":"../../etc/passwd"}"#),
            ])?,
            3 => get(port, &format!("/v1/casings/{known}"), Some("ct_0000000000000000_00"))?,
            4 => get(port, "/v1/casings/x/candidates?limit=100000", Some(key))?,
            5 => request(
                port,
                &format!(
                    "POST /v1/traces HTTP/1.1\r\nHost: l\r\nAuthorization: Bearer {key}\r\n\
                     Content-Type: application/json\r\nContent-Length: 9\r\nConnection: close\r\n\r\n"
                ),
                b"{\"serial\"",
            )?,
            _ => get(port, "/v1/nowhere", Some(key))?,
        },
    };
    Ok(Some((r.status, false)))
}
