//! A panic in a handler answers 500 like any other server error, and the
//! worker goes on serving.
//!
//! Without this, actix drops the connection of a request whose handler
//! panics: tokio catches the panic at the connection's task, so the worker
//! survives, but the client sees a reset with no status and no request id,
//! and nothing is logged through `tracing`. [`catch_panics`] catches the
//! panic around the rest of the service instead and fails the call with
//! [`ApiError::Panicked`]; actix's dispatcher answers a service error with
//! its `error_response`, which logs the detail under a fresh request id and
//! sends only that id (body and `x-request-id`) to the client.
//!
//! The panic becomes an error rather than a response because a response
//! needs the `HttpRequest`, and a clone of it kept across the call would
//! make actix's router panic (it mutates the request's single `Rc`).
//!
//! Unwind safety: the request's own state is dropped with the unwinding
//! future. State shared between requests is behind `Mutex`es, which a panic
//! poisons rather than leaving half-changed (the engine reports a poisoned
//! index lock as an error), so `AssertUnwindSafe` asserts nothing the types
//! do not already guard.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use futures_util::FutureExt;

use crate::error::ApiError;

/// Middleware for `App::wrap_fn`: call the rest of the service and turn a
/// panic, while building the call or while running it, into a 500.
pub fn catch_panics<S, B>(
    req: ServiceRequest,
    srv: &S,
) -> impl Future<Output = Result<ServiceResponse<B>, actix_web::Error>>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    let method = req.method().to_string();
    let path = req.path().to_string();
    let call = std::panic::catch_unwind(AssertUnwindSafe(|| srv.call(req)));
    async move {
        let outcome = match call {
            Ok(call) => AssertUnwindSafe(call).catch_unwind().await,
            Err(payload) => Err(payload),
        };
        outcome.unwrap_or_else(|payload| {
            Err(ApiError::Panicked {
                method,
                path,
                message: panic_message(payload.as_ref()),
            }
            .into())
        })
    }
}

/// The text `panic!` was given; other payloads (`panic_any`) have none.
fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-text payload".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::panic_message;

    #[test]
    fn panic_messages_are_read_from_both_text_payloads() {
        let fixed = std::panic::catch_unwind(|| panic!("fixed")).unwrap_err();
        assert_eq!(panic_message(fixed.as_ref()), "fixed");
        let n = 3;
        let formatted = std::panic::catch_unwind(|| panic!("formatted {n}")).unwrap_err();
        assert_eq!(panic_message(formatted.as_ref()), "formatted 3");
        let other = std::panic::catch_unwind(|| std::panic::panic_any(7_u8)).unwrap_err();
        assert!(panic_message(other.as_ref()).contains("non-text"));
    }
}
