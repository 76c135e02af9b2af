//! A plain HTTP/1.1 client over `std::net`, one connection per request:
//! enough to speak to chromedriver and to the test server without an async
//! runtime on the test's thread or another dependency.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{}: not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// One request to `127.0.0.1:port`; `body` is `(content type, bytes)`.
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, &[u8])>,
) -> std::io::Result<Response> {
    let mut sock = TcpStream::connect(("127.0.0.1", port))?;
    // Generous: a casing submission runs the whole pipeline in a debug build.
    sock.set_read_timeout(Some(Duration::from_secs(300)))?;
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    let bytes = body.map(|(_, b)| b).unwrap_or_default();
    if let Some((content_type, b)) = body {
        head.push_str(&format!(
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
            b.len()
        ));
    } else if method != "GET" && method != "DELETE" {
        head.push_str("Content-Length: 0\r\n");
    }
    head.push_str("\r\n");
    sock.write_all(head.as_bytes())?;
    sock.write_all(bytes)?;
    read_response(BufReader::new(sock))
}

fn read_response(mut r: impl BufRead) -> std::io::Result<Response> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    let mut line = String::new();
    r.read_line(&mut line)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(&format!("status line {line:?}")))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':').ok_or_else(|| bad("header line"))?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let mut res = Response {
        status,
        headers,
        body: Vec::new(),
    };
    if res
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        loop {
            line.clear();
            r.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| bad("chunk size"))?;
            let mut chunk = vec![0; size + 2];
            r.read_exact(&mut chunk)?;
            if size == 0 {
                break;
            }
            res.body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(n) = res.header("content-length") {
        let n: usize = n.parse().map_err(|_| bad("content length"))?;
        res.body.resize(n, 0);
        r.read_exact(&mut res.body)?;
    } else {
        r.read_to_end(&mut res.body)?;
    }
    Ok(res)
}
