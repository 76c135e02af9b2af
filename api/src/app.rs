//! The actix-web application: error handling for the extractors, panics
//! answered as 500s, the audit trail, request logging and every route
//! (the state handlers share is [`crate::state`]). [`create_app`] is used by
//! both [`serve`] and the integration tests, so the tests exercise exactly
//! what runs in production.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};

use crate::audit_trail;
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;
use crate::{panics, routes};

/// The application with all routes, for `HttpServer` and for tests.
pub fn create_app(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(state)
        // Extractor failures answer in the API's JSON error shape too, not
        // actix's plain-text defaults.
        .app_data(web::JsonConfig::default().error_handler(json_error))
        .app_data(web::QueryConfig::default().error_handler(query_error))
        .app_data(web::PathConfig::default().error_handler(path_error))
        .configure(routes::config_casings)
        .configure(routes::config_search)
        .configure(routes::config_health)
        .configure(routes::config_openapi)
        .configure(routes::config_imports)
        .configure(routes::config_firearms)
        .configure(routes::config_traces)
        .configure(routes::config_leads)
        .configure(routes::config_access)
        .configure(routes::config_surfaces)
        .configure(routes::config_whoami)
        .configure(routes::config_workspace)
        .default_service(web::to(route_not_found))
        // Inside the request log, so a panic is logged as the 500 it became.
        .wrap_fn(panics::catch_panics)
        .wrap_fn(|req, srv| {
            // Inside the logging below, so the log line shows the status
            // the client got, including a 500 for an unwritable record.
            let facts = audit_trail::is_audited(req.path()).then(|| audit_trail::tag_request(&req));
            let state = req.app_data::<web::Data<AppState>>().cloned();
            let call = srv.call(req);
            async move {
                match (call.await, facts) {
                    (Ok(res), Some(facts)) => audit_trail::record(facts, res).await,
                    (Ok(res), None) => Ok(res.map_into_boxed_body()),
                    (Err(e), Some(facts)) => audit_trail::record_error(state, facts, e).await,
                    (Err(e), None) => Err(e),
                }
            }
        })
        .wrap_fn(|req, srv| {
            // One structured line per request, after the response is known.
            let started = Instant::now();
            let method = req.method().clone();
            let path = req.path().to_string();
            let call = srv.call(req);
            async move {
                let res = call.await;
                // An error here (a panic, see `panics`) is answered by
                // actix's dispatcher with its error_response.
                let status = match &res {
                    Ok(res) => res.status(),
                    Err(e) => e.as_response_error().status_code(),
                };
                tracing::info!(
                    %method,
                    %path,
                    status = status.as_u16(),
                    ms = started.elapsed().as_secs_f64() * 1e3,
                    "request"
                );
                res
            }
        })
}

/// Serve the API on `listen` (e.g. `127.0.0.1:8080`) until stopped, over
/// TLS when a configuration is given.
pub async fn serve(
    state: web::Data<AppState>,
    listen: &str,
    tls: Option<rustls::ServerConfig>,
) -> std::io::Result<()> {
    let server = HttpServer::new(move || create_app(state.clone()));
    match tls {
        Some(config) => server.bind_rustls_0_23(listen, config)?.run().await,
        None => server.bind(listen)?.run().await,
    }
}

async fn route_not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::RouteNotFound {
        method: req.method().to_string(),
        path: req.path().to_string(),
    })
}

fn json_error(err: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    match err {
        JsonPayloadError::Overflow { limit }
        | JsonPayloadError::OverflowKnownLength { limit, .. } => ApiError::PayloadTooLarge {
            what: "the JSON body".into(),
            limit,
        },
        JsonPayloadError::ContentType => {
            ApiError::UnsupportedMediaType("expected a Content-Type of application/json".into())
        }
        other => ApiError::bad_request(
            ErrorCode::InvalidJson,
            format!("the JSON body is not valid: {other}"),
        ),
    }
    .into()
}

fn query_error(err: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::invalid_query(format!("the query string is not valid: {err}")).into()
}

fn path_error(err: PathError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::bad_request(
        ErrorCode::InvalidPath,
        format!("the path is not valid: {err}"),
    )
    .into()
}
