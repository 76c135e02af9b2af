//! Bulk loading: the parts of an import job that know nothing of the
//! engine's state. [`source`] hands out a folder's or archive's files one
//! at a time, [`table`] reads CSV and JSON-lines tables with limits,
//! [`manifest`] turns one into the list of casings, and
//! [`pipeline`] analyses files in parallel and describes them in batches.
//! The job itself (resuming, de-duplicating, writing in transactions,
//! updating the index) is `service/import.rs`.

pub mod manifest;
pub mod pipeline;
pub mod source;
pub mod table;

pub use manifest::{confined_path, parse_manifest, ManifestFormat, ManifestRow};
pub use pipeline::{
    Analysed, DescribedCasing, EvidenceWriter, PendingEvidence, PipelineConfig, StageClock,
    StageSeconds, Work,
};
pub use source::{FileRead, ImportSource, ManifestFile};
pub use table::{read_table, take_text, TableFormat, TableRow};
