//! Bulk loading: the parts of an import job that know nothing of the
//! engine's state. [`source`] hands out a folder's or archive's files one
//! at a time, [`manifest`] parses the list of casings with limits, and
//! [`pipeline`] analyses files in parallel and describes them in batches.
//! The job itself (resuming, de-duplicating, writing in transactions,
//! updating the index) is `service/import.rs`.

pub mod manifest;
pub mod pipeline;
pub mod source;

pub use manifest::{confined_path, parse_manifest, ManifestFormat, ManifestRow};
pub use pipeline::{Analysed, DescribedCasing, PipelineConfig, StageClock, StageSeconds, Work};
pub use source::{FileRead, ImportSource, ManifestFile};
