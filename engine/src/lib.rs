//! # casetrace engine
//!
//! Everything casetrace does with a cartridge case except speak HTTP:
//! read a scan or photograph ([`reading`]), bring it to a canonical form
//! ([`preprocessing`]), describe it with an ONNX model ([`description`]),
//! shortlist look-alikes with faiss ([`index`]), re-score the shortlist by
//! registration ([`comparison`]) and keep everything in a database with the
//! original evidence files stored content-addressed ([`store`]).
//! [`Engine`] ties the stages together.

pub mod access;
pub mod audit;
pub mod bulk;
pub mod calibration;
pub mod casing;
pub mod comparison;
pub mod description;
pub mod error;
pub mod index;
mod json_file;
pub mod preprocessing;
pub mod reading;
pub mod service;
pub mod store;
pub mod surface;
pub mod synth;
pub mod traces;

pub use error::{EngineError, Result};
pub use service::{Engine, EngineConfig, EvidenceLocation, Operator, S3Credentials, S3Location};
pub use surface::{Surface, SurfaceKind};
