//! Who is calling: the `Caller` extractor authenticates the request's API
//! key (`Authorization: Bearer ct_...`) through the engine, and handlers
//! ask it for roles and agencies. Every route that takes a `Caller` is
//! authenticated; the only routes without one are `/healthz` and the
//! OpenAPI document.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use casetrace_engine::access::{Principal, Role, Scope};
use casetrace_engine::EngineError;

use crate::app::AppState;
use crate::audit_trail::CallerSlot;
use crate::error::ApiError;

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

    /// Refuse unless the key holds one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.iter().any(|r| self.0.has(*r)) {
            Ok(())
        } else {
            let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
            Err(EngineError::Forbidden(format!(
                "this needs the role {} (the key has {})",
                names.join(" or "),
                Role::join(&self.0.roles)
            ))
            .into())
        }
    }

    /// The agency a write goes to: the caller's own. Naming another is
    /// refused: agencies write only their own records.
    pub fn own_agency(&self, named: Option<&str>) -> Result<String, ApiError> {
        match named {
            None => Ok(self.0.agency.clone()),
            Some(a) if a == self.0.agency => Ok(a.to_string()),
            Some(a) => Err(EngineError::Forbidden(format!(
                "a key of agency {:?} cannot write records of agency {a:?}",
                self.0.agency
            ))
            .into()),
        }
    }

    /// The agencies whose records the caller may use under `scope`.
    pub async fn visible(&self, state: &AppState, scope: Scope) -> Result<Vec<String>, ApiError> {
        Ok(state.engine.visible_agencies(&self.0, scope).await?)
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
