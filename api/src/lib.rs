//! # casetrace api
//!
//! The only crate that knows HTTP and the command line. Handlers extract,
//! call the engine, convert engine types into wire types ([`dto`]) and
//! respond; engine errors become HTTP statuses in one place ([`error`]).

pub mod app;
pub mod audit_trail;
pub mod auth;
pub mod cli;
pub mod dto;
pub mod error;
pub mod panics;
pub mod routes;
pub mod state;
