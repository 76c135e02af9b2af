//! Who is calling: the `Caller` extractor authenticates the request's API
//! key (`Authorization: Bearer ct_...`) through the engine; handlers hand
//! its principal to the engine, which decides what the caller may do and
//! see. Every route that takes a `Caller` is authenticated; the only
//! routes without one are `/healthz` and the OpenAPI document.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use casetrace_engine::access::policy::{self, Action};
use casetrace_engine::access::Principal;
use casetrace_engine::EngineError;

use crate::audit_trail::CallerSlot;
use crate::error::ApiError;
use crate::state::AppState;

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

impl Caller {
    pub fn agency(&self) -> &str {
        &self.0.agency
    }

    /// Holder, as recorded on what the caller writes.
    pub fn holder(&self) -> &str {
        &self.0.holder
    }

    /// Who the engine is asked for: every engine call takes it and
    /// decides there what the caller may do and see.
    pub fn principal(&self) -> &Principal {
        &self.0
    }

    /// Refuse early, before a body is read, unless the key may do
    /// `action`. The engine checks again: this only saves the upload.
    pub fn may(&self, action: Action) -> Result<(), ApiError> {
        Ok(policy::require(&self.0, action)?)
    }

    /// The agency a write goes to: the caller's own. Naming another is
    /// refused: agencies write only their own records.
    pub fn own_agency(&self, named: Option<&str>) -> Result<String, ApiError> {
        Ok(policy::write_agency(&self.0, named)?)
    }
}

/// The key a request presents, if any: `Authorization: Bearer KEY`.
fn presented_key(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, key) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| key.trim().to_string())
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<AppState>>()
                .cloned()
                .ok_or_else(|| EngineError::Config("application state missing".into()))?;
            let key = presented_key(&req).ok_or_else(|| {
                EngineError::Unauthenticated(
                    "send an API key as `Authorization: Bearer ct_...`".into(),
                )
            })?;
            let principal = state.engine.authenticate(&key).await?;
            // The audit layer reads who called from here.
            if let Some(slot) = req.extensions().get::<CallerSlot>() {
                slot.fill(&principal);
            }
            Ok(Caller(principal))
        })
    }
}
