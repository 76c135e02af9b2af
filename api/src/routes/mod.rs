//! HTTP routes, one file per resource. Each handler extracts, calls the
//! engine, converts the result into a wire type and responds; each file
//! ends with a `config_*` function registering its routes.

pub mod access;
pub mod casings;
pub mod firearms;
pub mod health;
pub mod imports;
pub mod leads;
pub mod openapi;
pub mod search;
pub mod surfaces;
pub mod traces;
mod upload;
pub mod whoami;
pub mod workspace;

pub use access::config_access;
pub use casings::config_casings;
pub use firearms::config_firearms;
pub use health::config_health;
pub use imports::config_imports;
pub use leads::config_leads;
pub use openapi::{config_openapi, ApiDoc};
pub use search::config_search;
pub use surfaces::config_surfaces;
pub use traces::config_traces;
pub use whoami::config_whoami;
pub use workspace::config_workspace;

use actix_web::{web, HttpRequest, HttpResponse, Resource};

use crate::dto::{DEFAULT_LIMIT, MAX_LIMIT};
use crate::error::ApiError;

/// A resource whose wrong-method requests get a JSON 405 like every other
/// error, instead of actix's empty one.
fn resource(path: &str) -> Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

async fn method_not_allowed(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed {
        method: req.method().to_string(),
        path: req.path().to_string(),
    })
}

/// The candidate list length a request asked for, checked against
/// `min..=MAX_LIMIT`. Out of range is refused rather than clamped: a
/// client asking for 1000 should learn it gets at most 100.
fn resolve_limit(limit: Option<usize>, min: usize) -> Result<usize, ApiError> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if (min..=MAX_LIMIT).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::invalid_query(format!(
            "limit must be between {min} and {MAX_LIMIT}, got {limit}"
        )))
    }
}
