//! The api crate's one integration-test binary (one binary links once).
//! Each module is a group of tests; `common` holds their fixtures.

mod access;
mod audit;
mod audit_anchor;
mod audit_trail;
mod cli;
mod common;
mod correlation;
mod correlation_nodes;
mod eval;
mod evidence_store;
mod http;
mod imports;
mod isolation;
mod layering;
mod limits;
mod one_door;
mod openapi;
mod panics;
mod pin_marks;
mod redescribe;
mod shared_nodes;
mod tls;
mod traces;
mod workspace;
mod workspace_images;
mod workspace_leads;
