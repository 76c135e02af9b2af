//! The examiner's workspace: a page of plain HTML, CSS and JavaScript
//! modules under `api/web/`, compiled into the binary so the server works
//! offline with nothing beside it (no CDN, no second server, no build
//! step). `/` is the page; `/web/{file}` its assets.
//!
//! The page holds no rights of its own: it calls the same REST API with
//! the key the user typed, and the engine decides what each call may see.
//! These routes need no key (they serve the same bytes to everyone) and are
//! not audited (they read no record).
//!
//! Headers: a strict Content-Security-Policy (only this origin's scripts,
//! styles and connections; no inline script, no framing), `nosniff`, and
//! `no-cache` with an ETag, so a browser revalidates cheaply and never runs
//! the assets of an older binary.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};

use super::resource;
use crate::error::ApiError;

/// One embedded file: where it is served and what it is.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

/// Embeds `api/web/<name>` under `/web/<name>`.
macro_rules! asset {
    ($name:literal, $type:expr) => {
        Asset {
            path: concat!("/web/", $name),
            content_type: $type,
            body: include_bytes!(concat!("../../web/", $name)),
        }
    };
}

/// Every file of the page. A file missing here is a 404, so the page can
/// load nothing that was not compiled in.
const ASSETS: &[Asset] = &[
    asset!("index.html", HTML),
    asset!("style.css", CSS),
    asset!("js/main.js", JS),
    asset!("js/api.js", JS),
    asset!("js/dom.js", JS),
    asset!("js/signin.js", JS),
    asset!("js/inbox.js", JS),
    asset!("js/casing.js", JS),
    asset!("js/compare.js", JS),
    asset!("js/shading.js", JS),
    asset!("js/surface.js", JS),
    asset!("js/conclusion.js", JS),
    asset!("js/investigate.js", JS),
    asset!("favicon.svg", "image/svg+xml"),
];

/// Only this origin, no inline script or style elements, no plugins, no
/// framing, no `<base>` tricks. Canvas drawing needs nothing more.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; \
                   frame-ancestors 'none'";

/// The page itself.
async fn index(req: HttpRequest) -> HttpResponse {
    respond(&req, &ASSETS[0])
}

/// One of the page's files, by its path under `/web/`.
async fn web_asset(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    match ASSETS.iter().find(|a| a.path == req.path()) {
        Some(asset) => Ok(respond(&req, asset)),
        None => Err(ApiError::RouteNotFound {
            method: req.method().to_string(),
            path: req.path().to_string(),
        }),
    }
}

fn respond(req: &HttpRequest, asset: &Asset) -> HttpResponse {
    let etag = etag(asset.body);
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut res = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::CONTENT_TYPE, asset.content_type))
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((
            header::ETAG,
            HeaderValue::from_str(&etag).expect("hex digits are a valid header"),
        ));
    if fresh {
        res.finish()
    } else {
        res.body(asset.body)
    }
}

/// A strong validator from the bytes (FNV-1a, 64 bits): it changes when the
/// binary ships other assets, which is all a cache needs to know.
fn etag(body: &[u8]) -> String {
    let hash = body.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("\"{hash:016x}\"")
}

pub fn config_workspace(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/").route(web::get().to(index)))
        .service(resource("/web/{file:.*}").route(web::get().to(web_asset)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_served_under_web_and_the_page_first() {
        assert_eq!(ASSETS[0].path, "/web/index.html");
        for a in ASSETS {
            assert!(
                a.path.starts_with("/web/") && !a.body.is_empty(),
                "{}",
                a.path
            );
        }
    }

    #[test]
    fn the_etag_follows_the_bytes() {
        assert_eq!(etag(b"a"), etag(b"a"));
        assert_ne!(etag(b"a"), etag(b"b"));
    }
}
