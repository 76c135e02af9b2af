//! The api crate's one integration-test binary (one binary links once).
//! Each module is a group of tests; `common` holds their fixtures.

mod access;
mod audit;
mod cli;
mod common;
mod eval;
mod http;
mod imports;
mod layering;
mod openapi;
mod panics;
mod redescribe;
mod tls;
mod traces;
