//! Keeping the faiss index in step with the database, its source of truth.

use std::path::Path;

use crate::description::ModelSpec;
use crate::error::Result;
use crate::index::{IndexStamp, VectorIndex};
use crate::store::Database;

/// What the index should hold, according to the database.
pub async fn expected_stamp(db: &Database, spec: &ModelSpec) -> Result<IndexStamp> {
    // Casings without a descriptor of this model are not searchable (they
    // need re-describing); counting them would make every start a rebuild.
    let (count, max_id) = db.descriptor_stats(&spec.model_version).await?;
    Ok(IndexStamp {
        model_version: spec.model_version.clone(),
        dim: spec.dim,
        count: count as u64,
        max_id,
    })
}

/// The index file when it matches the database, else a fresh index built
/// from every stored descriptor (and saved for next time).
pub async fn load_or_rebuild(db: &Database, path: &Path, spec: &ModelSpec) -> Result<VectorIndex> {
    let stamp = expected_stamp(db, spec).await?;
    if let Some(index) = VectorIndex::load_if_current(path, &stamp) {
        tracing::info!(count = stamp.count, "index loaded");
        return Ok(index);
    }
    let started = std::time::Instant::now();
    let rows = db.all_descriptors(&spec.model_version).await?;
    let mut index = VectorIndex::new(spec.dim)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let flat: Vec<f32> = rows.iter().flat_map(|r| r.1.iter().copied()).collect();
    index.add(&ids, &flat)?;
    // Casings left out (no descriptor of this model) are counted and
    // named by `Engine::open`, which tells the operator to re-describe.
    let stamp = IndexStamp {
        count: index.len(),
        ..stamp
    };
    index.save(path, &stamp)?;
    tracing::info!(
        count = stamp.count,
        seconds = started.elapsed().as_secs_f64(),
        "index rebuilt from the database"
    );
    Ok(index)
}
