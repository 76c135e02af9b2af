//! `/v1/openapi.json`: the API's OpenAPI document, generated from the
//! handlers' `#[utoipa::path]` annotations and the DTOs' schemas, so it
//! cannot drift from the code.

use actix_web::{web, HttpResponse};
use utoipa::OpenApi;

use super::{
    access, casings, firearms, health, imports, leads, resource, search, surfaces, traces, whoami,
};
use crate::dto::SerialModeDto;

/// Every route of the API. A handler missing from `paths` is caught by the
/// integration test that lists the document's paths.
#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "casetrace", description = "Cartridge-case matching and firearm traces: submit casings, rank candidates, link hits to firearms and their histories."),
    paths(
        casings::submit_casing,
        casings::get_casing,
        casings::get_candidates,
        search::search,
        health::healthz,
        openapi_json,
        imports::start_import,
        imports::get_import,
        traces::submit_trace,
        traces::import_traces,
        firearms::create_firearm,
        firearms::search_firearms,
        firearms::get_firearm,
        firearms::firearm_history,
        firearms::add_event,
        firearms::serial_history,
        leads::create_lead,
        leads::list_leads,
        leads::get_lead,
        leads::record_conclusion,
        leads::decide_lead,
        leads::case_history,
        access::issue_key,
        access::list_keys,
        access::revoke_key,
        access::grant,
        access::revoke_agreement,
        access::list_agreements,
        access::audit_records,
        surfaces::get_surface,
        surfaces::get_comparison,
        whoami::whoami,
    ),
    // Schemas reached only through a query parameter (`IntoParams`) are
    // referenced by `$ref` but not collected by utoipa: name them here, or
    // the document has a dangling reference (issue #15). The test
    // `every_schema_reference_resolves` catches a new one.
    components(schemas(SerialModeDto)),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags(
        (name = "casings", description = "Casings on file and their candidates"),
        (name = "search", description = "Candidates for an image not on file"),
        (name = "health", description = "Liveness"),
        (name = "imports", description = "Bulk import jobs"),
        (name = "access", description = "API keys, sharing agreements and the audit log of the caller's agency"),
        (name = "traces", description = "Firearms, trace requests, serial search, leads and histories"),
    )
)]
pub struct ApiDoc;

/// Every route but `/healthz` and this document needs
/// `Authorization: Bearer ct_...`.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An agency's API key, ct_<id>_<secret>"))
                    .build(),
            ),
        );
    }
}

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
