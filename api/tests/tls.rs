//! `casetrace serve --tls-cert --tls-key`: HTTPS with a certificate from
//! the operator, checked by a TLS client that trusts only that certificate.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::server::{free_port, Server};
use crate::common::TestEngine;

/// One HTTPS GET, trusting `ca` only; the raw response.
fn https_get(port: u16, ca: &[u8], path: &str) -> std::io::Result<String> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(ca) {
        roots
            .add(cert.expect("test certificate"))
            .expect("trust it");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = "localhost".try_into().expect("server name");
    let conn = rustls::ClientConnection::new(Arc::new(config), name).expect("client");
    let sock = TcpStream::connect(("127.0.0.1", port))?;
    let mut tls = rustls::StreamOwned::new(conn, sock);
    write!(
        tls,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )?;
    let mut out = String::new();
    // A close without close_notify is the server's business, not ours.
    match tls.read_to_string(&mut out) {
        Ok(_) => Ok(out),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !out.is_empty() => Ok(out),
        Err(e) => Err(e),
    }
}

#[test]
fn serve_speaks_https_with_the_operators_certificate() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let t = rt.block_on(TestEngine::open(&crate::common::Backend::Sqlite));
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])
        .expect("self-signed certificate");
    let dir = t.dir.path();
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();

    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let server = Server(
        Command::new(env!("CARGO_BIN_EXE_casetrace"))
            .args(t.cli_args())
            .args(["serve", "--listen", &listen, "--tls-cert"])
            .arg(&cert_path)
            .arg("--tls-key")
            .arg(&key_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the server"),
    );
    let started = Instant::now();
    let response = loop {
        match https_get(port, cert.cert.pem().as_bytes(), "/healthz") {
            Ok(r) => break r,
            Err(e) if started.elapsed() < Duration::from_secs(60) => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(e) => panic!("no HTTPS answer within 60 s: {e}"),
        }
    };
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"status\":\"ok\""), "{response}");
    // The same port refuses plain HTTP: it is TLS only.
    let mut plain = TcpStream::connect(("127.0.0.1", port)).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let _ = plain.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut buf = String::new();
    let _ = plain.read_to_string(&mut buf);
    assert!(!buf.contains("\"status\":\"ok\""), "{buf}");
    drop(server);

    // A key that is not PEM fails before the server starts, naming it.
    std::fs::write(&key_path, "not a key").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_casetrace"))
        .args(t.cli_args())
        .args(["serve", "--listen", &listen, "--tls-cert"])
        .arg(&cert_path)
        .arg("--tls-key")
        .arg(&key_path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("key.pem"), "{stderr}");
    rt.block_on(t.close());
}
