//! One audit record per API call: who (agency, holder, key), what (method
//! and route), which resource, when, the request id and the outcome. It is
//! a middleware so that no route can forget it, and it runs after the
//! handler so it sees the outcome; denied calls (401, 403 and hidden 404s)
//! are recorded too. `/healthz` and the OpenAPI document touch no records
//! and are not recorded.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{web, HttpMessage};
use casetrace_engine::access::Principal;
use casetrace_engine::audit::{AuditEvent, AuditOutcome};

use crate::app::AppState;
use crate::error::ApiError;

/// A handler's note for the audit record: the SHA-256 of the evidence file
/// the call stored or served. Put in the response's extensions.
#[derive(Debug, Clone)]
pub struct AuditEvidence(pub String);

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Whether calls to `path` are recorded.
pub fn is_audited(path: &str) -> bool {
    path.starts_with("/v1/") && path != "/v1/openapi.json"
}

/// A fresh request id, given to the request before its handler runs.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

pub fn tag_request(req: &ServiceRequest) {
    let id = uuid::Uuid::new_v4().simple().to_string();
    req.extensions_mut().insert(RequestId(id));
}

/// Append the call's record, and give the response its request id. A
/// record that cannot be written turns the answer into a 500: an action
/// that cannot be attributed must not look like it succeeded quietly.
pub async fn record<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let req = res.request().clone();
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(res.map_into_boxed_body());
    };
    let status = res.status();
    // A 5xx already carries the id its error body quotes; keep that one.
    let request_id = match res.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()) {
        Some(id) => id.to_string(),
        None => req
            .extensions()
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_default(),
    };
    let hidden = res
        .response()
        .error()
        .and_then(|e| e.as_error::<ApiError>())
        .is_some_and(ApiError::is_hidden);
    let outcome = if status.is_success() || status.is_redirection() {
        AuditOutcome::Ok
    } else if status.as_u16() == 401 || status.as_u16() == 403 || hidden {
        AuditOutcome::Denied
    } else {
        AuditOutcome::Failed
    };
    let principal = req.extensions().get::<Principal>().cloned();
    let (agency, holder, key_id) = match principal {
        Some(p) => (p.agency, p.holder, p.key_id),
        None => ("-".to_string(), "anonymous".to_string(), None),
    };
    let pattern = req.match_pattern().unwrap_or_else(|| "unrouted".into());
    let mut event = AuditEvent::new(
        agency,
        holder,
        format!("{} {pattern}", req.method()),
        req.path(),
        outcome,
    );
    event.key_id = key_id;
    event.request_id = Some(request_id.clone());
    event.evidence_sha256 = res
        .response()
        .extensions()
        .get::<AuditEvidence>()
        .map(|e| e.0.clone());
    event.detail.insert("status".into(), status.as_u16().into());
    if !req.query_string().is_empty() {
        event
            .detail
            .insert("query".into(), req.query_string().to_string().into());
    }
    if let Err(e) = state.engine.database().append_audit(&event).await {
        tracing::error!(%request_id, error = %e, status = status.as_u16(), "audit record not written");
        return Err(ApiError::from(e).into());
    }
    let mut res = res.map_into_boxed_body();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        res.headers_mut().insert(REQUEST_ID, value);
    }
    Ok(res)
}
