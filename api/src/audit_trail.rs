//! One audit record per API call: who (agency, holder, key), what (method
//! and route), which resource, when, the request id and the outcome. It is
//! a middleware so that no route can forget it, and it runs after the
//! handler so it sees the outcome; denied calls (401, 403 and hidden 404s)
//! are recorded too. `/healthz` and the OpenAPI document touch no records
//! and are not recorded.
//!
//! Three bounds keep the log useful and its growth proportional to real
//! work: the request's path and query are stored truncated to
//! [`MAX_REQUEST_TEXT`] bytes (with a marker); refusals of calls without a
//! valid key are counted per minute ([`Engine::count_refusal`]), not
//! stored one by one; and a handler says *what* it did through an
//! [`AuditDetail`] (ids, roles, scopes, never secrets) rather than the
//! record repeating the request.
//!
//! [`Engine::count_refusal`]: casetrace_engine::Engine::count_refusal

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use std::sync::{Arc, Mutex};

use actix_web::{web, HttpMessage};
use casetrace_engine::access::Principal;
use casetrace_engine::audit::{AuditEvent, AuditOutcome};

use crate::error::ApiError;
use crate::state::AppState;

/// A handler's note for the audit record: the SHA-256 of the evidence file
/// the call stored or served. Put in the response's extensions.
#[derive(Debug, Clone)]
pub struct AuditEvidence(pub String);

/// A handler's account of what it did, for the audit record: facts (ids,
/// roles, scopes; never a secret) merged into the record's detail, and the
/// agency owning the resource when it is not the caller's. Put in the
/// response's extensions with [`note`].
#[derive(Debug, Clone, Default)]
pub struct AuditDetail {
    pub facts: serde_json::Map<String, serde_json::Value>,
    pub owner_agency: Option<String>,
}

impl AuditDetail {
    /// Add one fact.
    pub fn with(mut self, name: &str, value: impl Into<serde_json::Value>) -> Self {
        self.facts.insert(name.to_string(), value.into());
        self
    }

    /// The resource belongs to `owner`; recorded when it is not the caller's.
    pub fn owned_by(mut self, owner: impl Into<String>) -> Self {
        self.owner_agency = Some(owner.into());
        self
    }
}

/// Attach `detail` to `response` for its audit record (merged with any
/// detail attached before).
pub fn note(response: &mut actix_web::HttpResponse, detail: AuditDetail) {
    let mut extensions = response.extensions_mut();
    match extensions.get_mut::<AuditDetail>() {
        Some(existing) => {
            existing.facts.extend(detail.facts);
            if detail.owner_agency.is_some() {
                existing.owner_agency = detail.owner_agency;
            }
        }
        None => {
            extensions.insert(detail);
        }
    }
}

/// Most bytes of a request's path, and of its query, that a record keeps.
pub const MAX_REQUEST_TEXT: usize = 512;

/// `text` cut to [`MAX_REQUEST_TEXT`] bytes (at a character boundary),
/// with a marker saying how much was dropped.
pub fn bounded(text: &str) -> String {
    if text.len() <= MAX_REQUEST_TEXT {
        return text.to_string();
    }
    let cut = text.floor_char_boundary(MAX_REQUEST_TEXT);
    format!("{}…[{} bytes truncated]", &text[..cut], text.len() - cut)
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Whether calls to `path` are recorded.
pub fn is_audited(path: &str) -> bool {
    path.starts_with("/v1/") && path != "/v1/openapi.json"
}

/// What the audit record of a call needs from its request, taken before
/// the handler runs: a call that ends in a service error (a panic) has no
/// response to read it from, and the request itself cannot be kept across
/// the call (actix's router needs its only reference; see `panics`).
#[derive(Debug, Clone)]
pub struct CallFacts {
    request_id: String,
    method: String,
    path: String,
    query: String,
    /// Filled by the `Caller` extractor once the key checks out.
    caller: CallerSlot,
}

/// Where the `Caller` extractor leaves the principal for the audit record.
#[derive(Debug, Clone, Default)]
pub struct CallerSlot(Arc<Mutex<Option<Principal>>>);

impl CallerSlot {
    pub fn fill(&self, principal: &Principal) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(principal.clone());
        }
    }

    fn get(&self) -> Option<Principal> {
        self.0.lock().ok().and_then(|slot| slot.clone())
    }
}

/// Give the request its id and a caller slot; returns what the record
/// will need.
pub fn tag_request(req: &ServiceRequest) -> CallFacts {
    let facts = CallFacts {
        request_id: uuid::Uuid::new_v4().simple().to_string(),
        method: req.method().to_string(),
        path: req.path().to_string(),
        query: req.query_string().to_string(),
        caller: CallerSlot::default(),
    };
    req.extensions_mut().insert(facts.caller.clone());
    facts
}

/// Append the record of a call that failed inside the service (a panic
/// turned into an error by `panics`); the error is passed on unchanged.
pub async fn record_error(
    state: Option<web::Data<AppState>>,
    facts: CallFacts,
    error: actix_web::Error,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if let Some(state) = state {
        let status = error.as_response_error().status_code();
        let event = event_of(
            &facts,
            format!("{} {}", facts.method, bounded(&facts.path)),
            AuditOutcome::Failed,
            status.as_u16(),
            None,
            None,
        );
        if let Err(e) = state.engine.record_audit(&event).await {
            tracing::error!(request_id = %facts.request_id, error = %e, "audit record not written");
        }
    }
    Err(error)
}

/// Append `event` and write a checkpoint when one is due. A checkpoint
/// that cannot be written is logged, not failed: the record is stored and
/// chained, and the next checkpoint covers it.
fn event_of(
    facts: &CallFacts,
    action: String,
    outcome: AuditOutcome,
    status: u16,
    evidence: Option<String>,
    detail: Option<AuditDetail>,
) -> AuditEvent {
    let (agency, holder, key_id) = match facts.caller.get() {
        Some(p) => (p.agency, p.holder, p.key_id),
        None => ("-".to_string(), "anonymous".to_string(), None),
    };
    let mut event = AuditEvent::new(agency, holder, action, bounded(&facts.path), outcome);
    event.key_id = key_id;
    event.request_id = Some(facts.request_id.clone());
    event.evidence_sha256 = evidence;
    if let Some(detail) = detail {
        event.detail = detail.facts;
        event.owner_agency = detail.owner_agency.filter(|owner| *owner != event.agency);
    }
    event.detail.insert("status".into(), status.into());
    if !facts.query.is_empty() {
        event
            .detail
            .insert("query".into(), bounded(&facts.query).into());
    }
    event
}

/// Append the call's record, and give the response its request id. A
/// record that cannot be written turns the answer into a 500: an action
/// that cannot be attributed must not look like it succeeded quietly.
pub async fn record<B: MessageBody + 'static>(
    facts: CallFacts,
    res: ServiceResponse<B>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let req = res.request().clone();
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(res.map_into_boxed_body());
    };
    let status = res.status();
    // A 5xx already carries the id its error body quotes; keep that one.
    let mut facts = facts;
    if let Some(id) = res.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()) {
        facts.request_id = id.to_string();
    }
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
    let request_id = facts.request_id.clone();
    // A refusal of a call without a valid key attributes nothing to anyone:
    // counted, so that a flood of them cannot fill the log.
    if facts.caller.get().is_none() && status.is_client_error() {
        if let Err(e) = state
            .engine
            .count_refusal(status.as_u16(), &bounded(&facts.path))
            .await
        {
            tracing::error!(%request_id, error = %e, "refusal not counted");
            return Err(ApiError::from(e).into());
        }
        return Ok(with_request_id(res.map_into_boxed_body(), &request_id));
    }
    let pattern = req.match_pattern().unwrap_or_else(|| "unrouted".into());
    let evidence = res
        .response()
        .extensions()
        .get::<AuditEvidence>()
        .map(|e| e.0.clone());
    let detail = res.response().extensions().get::<AuditDetail>().cloned();
    let event = event_of(
        &facts,
        format!("{} {pattern}", facts.method),
        outcome,
        status.as_u16(),
        evidence,
        detail,
    );
    if let Err(e) = state.engine.record_audit(&event).await {
        tracing::error!(%request_id, error = %e, status = status.as_u16(), "audit record not written");
        return Err(ApiError::from(e).into());
    }
    Ok(with_request_id(res.map_into_boxed_body(), &request_id))
}

/// The response with its request id in `x-request-id`, for the logs.
fn with_request_id(
    mut res: ServiceResponse<BoxBody>,
    request_id: &str,
) -> ServiceResponse<BoxBody> {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        res.headers_mut().insert(REQUEST_ID, value);
    }
    res
}
