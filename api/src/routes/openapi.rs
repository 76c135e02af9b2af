//! `/v1/openapi.json`: the API's OpenAPI document, generated from the
//! handlers' `#[utoipa::path]` annotations and the DTOs' schemas, so it
//! cannot drift from the code.

use actix_web::{web, HttpResponse};
use utoipa::OpenApi;

use super::{casings, health, imports, resource, search};

/// Every route of the API. A handler missing from `paths` is caught by the
/// integration test that lists the document's paths.
#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "casetrace", description = "Cartridge-case matching: submit casings, rank candidates."),
    paths(
        casings::submit_casing,
        casings::get_casing,
        casings::get_candidates,
        search::search,
        health::healthz,
        openapi_json,
        imports::start_import,
        imports::get_import,
    ),
    tags(
        (name = "casings", description = "Casings on file and their candidates"),
        (name = "search", description = "Candidates for an image not on file"),
        (name = "health", description = "Liveness"),
        (name = "imports", description = "Bulk import jobs"),
    )
)]
pub struct ApiDoc;

/// This document.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "health",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json", body = Object))
)]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

pub fn config_openapi(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v1/openapi.json").route(web::get().to(openapi_json)));
}
