//! Keeping the faiss index in step with the database, its source of truth:
//! built from the database at start-up ([`load_or_rebuild`]), then grown
//! through one door ([`Engine::add_to_index`]) as casings are committed.

use std::path::Path;

use super::{blocking, Engine};
use crate::description::ModelSpec;
use crate::error::{EngineError, Result};
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

impl Engine {
    /// Add descriptors whose rows are committed to the live index and
    /// save the index file once. The one way casings enter the index after
    /// start-up: a submission (one id), an import batch and a
    /// re-description batch all come here, so the stamp and the save
    /// policy cannot drift apart. `flat` holds `ids.len()` descriptors,
    /// row after row.
    pub(super) async fn add_to_index(&self, ids: Vec<i64>, flat: Vec<f32>) -> Result<()> {
        let stamp = expected_stamp(&self.db, self.model.spec()).await?;
        let (index, path) = (self.index.clone(), self.index_path.clone());
        // Adding and saving touch faiss and the disk: off the async executor.
        blocking(move || {
            let mut index = index
                .lock()
                .map_err(|_| EngineError::poisoned_index_lock())?;
            index.add(&ids, &flat)?;
            // The file is a cache: failing to save it costs a rebuild at
            // the next start, not the committed casings.
            if let Err(e) = index.save(&path, &stamp) {
                tracing::warn!(error = %e, "could not save the index; it will be rebuilt at start-up");
            }
            Ok(())
        })
        .await
    }
}
