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

/// One table of every error code: the variant, the stable text clients
/// branch on and the HTTP status it answers with. Written once so a code
/// cannot be misspelt at a call site or answer two statuses.
macro_rules! error_codes {
    ($($(#[doc = $doc:literal])* $variant:ident = $code:literal => $status:ident,)*) => {
        /// The `code` of an error body ([`ErrorDto`]).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[doc = $doc])* $variant,)*
        }

        impl ErrorCode {
            /// Every code, in table order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The code as clients see it, e.g. `casing_not_found`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)*
                }
            }

            /// The HTTP status every error of this code answers with.
            pub fn status(self) -> StatusCode {
                match self {
                    $(ErrorCode::$variant => StatusCode::$status,)*
                }
            }
        }
    };
}

error_codes! {
    /// The image or scan cannot be read.
    InvalidInput = "invalid_input" => UNPROCESSABLE_ENTITY,
    /// The image is readable but holds too little surface to compare.
    UnusableSurface = "unusable_surface" => UNPROCESSABLE_ENTITY,
    /// The request's description of itself (metadata, a body field) is wrong.
    InvalidMetadata = "invalid_metadata" => BAD_REQUEST,
    /// The input's declared size or scale is over the engine's limits.
    TooLarge = "too_large" => PAYLOAD_TOO_LARGE,
    /// The upload is over the server's byte limit.
    PayloadTooLarge = "payload_too_large" => PAYLOAD_TOO_LARGE,
    /// A multipart body lacks a part the route needs.
    MissingPart = "missing_part" => BAD_REQUEST,
    /// A multipart body that cannot be parsed.
    InvalidMultipart = "invalid_multipart" => BAD_REQUEST,
    /// A JSON body that cannot be parsed.
    InvalidJson = "invalid_json" => BAD_REQUEST,
    /// A query string that cannot be parsed.
    InvalidQuery = "invalid_query" => BAD_REQUEST,
    /// A path parameter that cannot be parsed.
    InvalidPath = "invalid_path" => BAD_REQUEST,
    /// The body could not be read.
    InvalidBody = "invalid_body" => BAD_REQUEST,
    /// An import named by path outside the server's import roots.
    ImportPathNotAllowed = "import_path_not_allowed" => BAD_REQUEST,
    /// No casing with this id that the caller may see.
    CasingNotFound = "casing_not_found" => NOT_FOUND,
    /// No firearm, lead, case, key or agreement that the caller may see.
    NotFound = "not_found" => NOT_FOUND,
    /// No import job that the caller may see.
    ImportNotFound = "import_not_found" => NOT_FOUND,
    /// No route for this path.
    RouteNotFound = "route_not_found" => NOT_FOUND,
    /// The route does not take this method.
    MethodNotAllowed = "method_not_allowed" => METHOD_NOT_ALLOWED,
    /// The casing id is taken by other content.
    CasingIdConflict = "casing_id_conflict" => CONFLICT,
    /// The same manifest is being loaded already.
    ImportRunning = "import_running" => CONFLICT,
    /// No valid key.
    Unauthenticated = "unauthenticated" => UNAUTHORIZED,
    /// The key lacks the role.
    Forbidden = "forbidden" => FORBIDDEN,
    /// The casing's agency lets the caller correlate, not see its images.
    ImageNotShared = "image_not_shared" => FORBIDDEN,
    /// The request contradicts what is on file (e.g. a second conclusion
    /// by the same key).
    Conflict = "conflict" => CONFLICT,
    /// The body is not of a media type the route takes.
    UnsupportedMediaType = "unsupported_media_type" => UNSUPPORTED_MEDIA_TYPE,
    /// Too many uploads held at once; retry later.
    Busy = "busy" => TOO_MANY_REQUESTS,
    /// A fault of the server; the body carries a request id only.
    Internal = "internal" => INTERNAL_SERVER_ERROR,
}

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
        /// A code of status 400, e.g. [`ErrorCode::MissingPart`].
        code: ErrorCode,
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
    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }

    pub fn missing_part(name: &str) -> Self {
        Self::bad_request(
            ErrorCode::MissingPart,
            format!("the multipart body has no {name:?} part"),
        )
    }

    pub fn invalid_metadata(message: impl Into<String>) -> Self {
        Self::bad_request(ErrorCode::InvalidMetadata, message)
    }

    pub fn invalid_query(message: impl Into<String>) -> Self {
        Self::bad_request(ErrorCode::InvalidQuery, message)
    }

    /// Whether this answer hides a record from the caller (audited as a
    /// denial although the client sees a 404).
    pub fn is_hidden(&self) -> bool {
        matches!(
            self,
            ApiError::Hidden(_) | ApiError::Engine(EngineError::Hidden(_))
        )
    }

    /// The error's code, which decides its status ([`ErrorCode::status`]).
    /// The engine half is one exhaustive match with no `_` arm: a new
    /// engine error must be given a code here before the crate compiles
    /// again, instead of silently becoming a 500.
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::Engine(e) => engine_code(e),
            ApiError::BadRequest { code, .. } => *code,
            ApiError::Busy(_) => ErrorCode::Busy,
            ApiError::PayloadTooLarge { .. } => ErrorCode::PayloadTooLarge,
            ApiError::UnsupportedMediaType(_) => ErrorCode::UnsupportedMediaType,
            ApiError::RouteNotFound { .. } => ErrorCode::RouteNotFound,
            ApiError::Hidden(_) => ErrorCode::NotFound,
            ApiError::MethodNotAllowed { .. } => ErrorCode::MethodNotAllowed,
            ApiError::Panicked { .. } => ErrorCode::Internal,
        }
    }

    /// Status and stable code text, as the response carries them.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        let code = self.code();
        (code.status(), code.as_str())
    }
}

/// The engine half of [`ApiError::code`]: one exhaustive match with no
/// `_` arm. A hidden record answers exactly as its absent twin.
fn engine_code(e: &EngineError) -> ErrorCode {
    match e {
        EngineError::InvalidInput { .. } => ErrorCode::InvalidInput,
        EngineError::Unusable { .. } => ErrorCode::UnusableSurface,
        EngineError::InvalidMetadata { .. } => ErrorCode::InvalidMetadata,
        EngineError::TooLarge { .. } => ErrorCode::TooLarge,
        EngineError::CasingNotFound(_) => ErrorCode::CasingNotFound,
        EngineError::CasingIdConflict { .. } => ErrorCode::CasingIdConflict,
        EngineError::NotFound(_) => ErrorCode::NotFound,
        EngineError::ImportNotFound(_) => ErrorCode::ImportNotFound,
        EngineError::ImportRunning { .. } => ErrorCode::ImportRunning,
        EngineError::Unauthenticated(_) => ErrorCode::Unauthenticated,
        EngineError::Forbidden(_) => ErrorCode::Forbidden,
        EngineError::ImageNotShared(_) => ErrorCode::ImageNotShared,
        EngineError::Conflict(_) => ErrorCode::Conflict,
        EngineError::Model(_)
        | EngineError::Index(_)
        | EngineError::Internal(_)
        | EngineError::Database(_)
        | EngineError::Migration(_)
        | EngineError::Io { .. }
        | EngineError::Evidence { .. }
        | EngineError::Config(_) => ErrorCode::Internal,
        EngineError::Hidden(absent) => engine_code(absent),
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
            _ => ApiError::bad_request(ErrorCode::InvalidMultipart, message),
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

#[cfg(test)]
mod tests {
    use actix_web::body::to_bytes;

    use super::*;

    #[test]
    fn every_code_is_distinct_snake_case_and_bad_requests_are_400() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let text = code.as_str();
            assert!(seen.insert(text), "{text} twice");
            assert!(text.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
        }
        for code in [
            ErrorCode::MissingPart,
            ErrorCode::InvalidMultipart,
            ErrorCode::InvalidJson,
            ErrorCode::InvalidQuery,
            ErrorCode::InvalidPath,
            ErrorCode::InvalidBody,
            ErrorCode::ImportPathNotAllowed,
        ] {
            let error = ApiError::bad_request(code, "x");
            assert_eq!(
                error.status_and_code(),
                (StatusCode::BAD_REQUEST, code.as_str())
            );
        }
    }

    #[actix_web::test]
    async fn an_internal_fault_is_a_500_with_a_json_body_and_no_detail() {
        let error = ApiError::from(EngineError::internal("unknown stored job state \"weird\""));
        let response = error.error_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = to_bytes(response.into_body()).await.unwrap();
        let dto: ErrorDto = serde_json::from_slice(&body).unwrap();
        assert_eq!(dto.code, "internal");
        assert!(dto.request_id.is_some());
        assert!(!dto.message.contains("weird"), "{}", dto.message);
    }
}
