//! Every way a request can fail, and the one place failures become HTTP.
//!
//! The body is always `{"code": "...", "message": "..."}` ([`ErrorDto`]);
//! `code` is a stable snake_case name clients may branch on, `message` is
//! for people. Server errors (5xx) never leak their detail: it is logged
//! with a fresh request id, which the body and the `x-request-id` header
//! carry so a report can be matched to the log line.
//!
//! Status choices worth knowing:
//! - the image is the request's *content*: well-formed requests whose image
//!   cannot be read or used are 422 (`invalid_input`, `unusable_surface`);
//! - the metadata is the request's *description* of itself: whether it fails
//!   to parse here or fails the engine's checks (a casing id like `../x`),
//!   it is 400 `invalid_metadata`, so a client fixes both the same way.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use casetrace_engine::EngineError;

use crate::dto::ErrorDto;

/// Seconds a client told it is [`ApiError::Busy`] should wait.
const RETRY_AFTER_SECONDS: &str = "30";

/// A failed request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// An engine call failed; its variant decides the status.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The request itself is malformed: a missing or unexpected multipart
    /// part, metadata that is not the expected JSON, a bad query or path.
    #[error("{message}")]
    BadRequest {
        /// Stable code, e.g. `missing_part`, `invalid_metadata`.
        code: &'static str,
        message: String,
    },
    /// The upload is over the server's byte limit; nothing was stored.
    #[error("{what} is larger than the limit of {limit} bytes")]
    PayloadTooLarge { what: String, limit: usize },
    /// The server already holds as many uploads of this kind as it allows;
    /// the client should retry later (429 with `Retry-After`).
    #[error("{0}")]
    Busy(String),
    /// The body is not of a media type the route accepts.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// No route matches the path.
    #[error("no route for {method} {path}")]
    RouteNotFound { method: String, path: String },
    /// A record the caller may not know exists: answered exactly like a
    /// missing one (404), and audited as denied.
    #[error("{0} not found")]
    Hidden(String),
    /// The path exists but not with this method.
    #[error("{path} does not accept {method}")]
    MethodNotAllowed { method: String, path: String },
    /// A handler panicked: a bug, answered as a 500 (see `crate::panics`).
    #[error("the handler for {method} {path} panicked: {message}")]
    Panicked {
        method: String,
        path: String,
        message: String,
    },
}

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }

    pub fn missing_part(name: &str) -> Self {
        Self::bad_request(
            "missing_part",
            format!("the multipart body has no {name:?} part"),
        )
    }

    pub fn invalid_metadata(message: impl Into<String>) -> Self {
        Self::bad_request("invalid_metadata", message)
    }

    pub fn invalid_query(message: impl Into<String>) -> Self {
        Self::bad_request("invalid_query", message)
    }

    /// Whether this answer hides a record from the caller (audited as a
    /// denial although the client sees a 404).
    pub fn is_hidden(&self) -> bool {
        matches!(
            self,
            ApiError::Hidden(_) | ApiError::Engine(EngineError::Hidden(_))
        )
    }

    /// Status and stable code. The engine half is one exhaustive match
    /// with no `_` arm: a new engine error must be given a status here
    /// before the crate compiles again, instead of silently becoming a 500.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Engine(e) => engine_status_and_code(e),
            ApiError::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
            ApiError::Busy(_) => (StatusCode::TOO_MANY_REQUESTS, "busy"),
            ApiError::PayloadTooLarge { .. } => {
                (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
            }
            ApiError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::RouteNotFound { .. } => (StatusCode::NOT_FOUND, "route_not_found"),
            ApiError::Hidden(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::MethodNotAllowed { .. } => {
                (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
            }
            ApiError::Panicked { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

/// The engine half of [`ApiError::status_and_code`]: one exhaustive match
/// with no `_` arm. A hidden record answers exactly as its absent twin.
fn engine_status_and_code(e: &EngineError) -> (StatusCode, &'static str) {
    match e {
        EngineError::InvalidInput { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"),
        EngineError::Unusable { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "unusable_surface"),
        EngineError::InvalidMetadata { .. } => (StatusCode::BAD_REQUEST, "invalid_metadata"),
        EngineError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
        EngineError::CasingNotFound(_) => (StatusCode::NOT_FOUND, "casing_not_found"),
        EngineError::CasingIdConflict { .. } => (StatusCode::CONFLICT, "casing_id_conflict"),
        EngineError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
        EngineError::ImportNotFound(_) => (StatusCode::NOT_FOUND, "import_not_found"),
        EngineError::ImportRunning { .. } => (StatusCode::CONFLICT, "import_running"),
        EngineError::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "unauthenticated"),
        EngineError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
        EngineError::Model(_)
        | EngineError::Index(_)
        | EngineError::Database(_)
        | EngineError::Migration(_)
        | EngineError::Io { .. }
        | EngineError::Config(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        EngineError::Hidden(absent) => engine_status_and_code(absent),
    }
}

impl From<actix_multipart::MultipartError> for ApiError {
    fn from(e: actix_multipart::MultipartError) -> Self {
        use actix_multipart::MultipartError as M;
        // The multipart errors' own messages are terse ("Payload error");
        // their source says what actually went wrong.
        let message = match std::error::Error::source(&e) {
            Some(source) => format!("malformed multipart body: {e}: {source}"),
            None => format!("malformed multipart body: {e}"),
        };
        match e {
            M::ContentTypeMissing | M::ContentTypeParse | M::ContentTypeIncompatible => {
                ApiError::UnsupportedMediaType(format!(
                    "{e}; send multipart/form-data with an \"image\" file part"
                ))
            }
            _ => ApiError::bad_request("invalid_multipart", message),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status_and_code().0
    }

    fn error_response(&self) -> HttpResponse {
        let (status, code) = self.status_and_code();
        let mut response = HttpResponse::build(status);
        if status.is_server_error() {
            // The detail (paths, SQL errors) is for operators, not clients.
            let request_id = uuid::Uuid::new_v4().simple().to_string();
            tracing::error!(%request_id, error = %self, "request failed");
            if let Ok(value) = HeaderValue::from_str(&request_id) {
                response.insert_header((header::HeaderName::from_static("x-request-id"), value));
            }
            return response.json(ErrorDto {
                code: code.to_string(),
                message: format!("internal error; quote request id {request_id} when reporting it"),
                request_id: Some(request_id),
            });
        }
        tracing::debug!(code, error = %self, "request rejected");
        if status == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            response.insert_header((header::RETRY_AFTER, RETRY_AFTER_SECONDS));
        }
        response.json(ErrorDto {
            code: code.to_string(),
            message: self.to_string(),
            request_id: None,
        })
    }
}
