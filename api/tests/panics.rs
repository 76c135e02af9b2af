//! A handler that panics answers 500 with a request id, and the server
//! goes on answering. The panicking route exists only here, added to the
//! production `create_app`, and the requests go over a real socket to a
//! real `HttpServer`: the 500 is written by actix's dispatcher, which the
//! in-process test service does not run.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use actix_web::{web, HttpResponse, HttpServer};
use casetrace_api::app::create_app;
use serde_json::Value;

use crate::common::{Backend, TestEngine};

async fn panics() -> HttpResponse {
    panic!("a handler bug, on purpose")
}

/// An authenticated API route with the same bug: its call must still be
/// in the audit log, under the key that made it.
async fn panics_authenticated(_caller: casetrace_api::auth::Caller) -> HttpResponse {
    panic!("an API handler bug, on purpose")
}

/// One HTTP/1.1 GET on a fresh connection: status, headers (lower-cased
/// text) and body.
async fn get(addr: SocketAddr, path: &str) -> (u16, String, String) {
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        crate::common::TEST_KEY
    );
    let raw = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream.write_all(request.as_bytes()).expect("send");
        let mut raw = String::new();
        stream.read_to_string(&mut raw).expect("a full response");
        raw
    })
    .await
    .expect("client thread");
    let (head, body) = raw.split_once("\r\n\r\n").expect("head and body");
    let status = head[9..12].parse().expect("a status code");
    (status, head.to_ascii_lowercase(), body.to_string())
}

#[actix_web::test]
async fn a_panicking_handler_answers_500_with_a_request_id_and_the_server_keeps_serving() {
    let t = TestEngine::open(&Backend::Sqlite).await;
    let state = t.state();
    let server = HttpServer::new(move || {
        create_app(state.clone())
            .route("/test/panic", web::get().to(panics))
            .route("/v1/test-panic", web::get().to(panics_authenticated))
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .expect("bind");
    let addr = server.addrs()[0];
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);

    let (status, head, body) = get(addr, "/test/panic").await;
    assert_eq!(status, 500, "{head}{body}");
    let header = head
        .lines()
        .find_map(|l| l.strip_prefix("x-request-id: "))
        .expect("an x-request-id header")
        .to_string();
    let body: Value = serde_json::from_str(&body).expect("a JSON body");
    assert_eq!(body["code"], "internal", "{body:#}");
    assert_eq!(body["request_id"], header.as_str(), "{body:#}");
    let message = body["message"].as_str().expect("a message");
    assert!(message.contains(&header), "{message}");
    // The panic's own text is for the log, not the client.
    assert!(!message.contains("on purpose"), "{message}");

    // The same server and its one worker, after the panic: other routes,
    // and the panicking one again, still answer.
    let (status, _, body) = get(addr, "/healthz").await;
    assert_eq!(status, 200, "{body}");
    let (status, again, _) = get(addr, "/test/panic").await;
    assert_eq!(status, 500);
    assert!(!again.contains(&header), "request ids are fresh");

    // A panic in an API call is audited as failed, attributed to its key.
    let (status, _, _) = get(addr, "/v1/test-panic").await;
    assert_eq!(status, 500);
    let records = t
        .engine
        .database()
        .audit_records(&casetrace_engine::store::AuditQuery {
            resource: Some("/v1/test-panic".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].outcome, "failed");
    assert_eq!(records[0].actor, "local-tester");
    assert!(records[0].detail.contains("500"), "{:?}", records[0].detail);

    handle.stop(true).await;
    t.close().await;
}
