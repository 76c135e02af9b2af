//! The descriptor shortlist on its own, without the fine comparison: the
//! casings the index would hand on for a casing on file. Evaluation uses it
//! to measure the shortlist's recall deeper than the fine comparison can
//! afford to go, and benchmarks to time the first stage alone.

use super::Engine;
use crate::access::{Principal, Scope};
use crate::casing::{CasingFeatures, CasingRecord};
use crate::error::{EngineError, Result};

/// One shortlisted casing and its descriptor's cosine similarity to the
/// query's.
#[derive(Debug, Clone)]
pub struct ShortlistEntry {
    pub casing: CasingRecord,
    pub similarity: f32,
}

impl Engine {
    /// The `k` casings whose descriptors are nearest the stored casing's,
    /// best first; never the casing itself, and only casings of its surface
    /// kind (as [`Engine::candidates`] filters them), among the casings
    /// `caller` may correlate with. Nothing is compared.
    pub async fn descriptor_shortlist(
        &self,
        caller: &Principal,
        agency: &str,
        casing_id: &str,
        k: usize,
    ) -> Result<Vec<ShortlistEntry>> {
        crate::access::policy::require(caller, crate::access::Action::Candidates)?;
        let sight = self.sight(caller).await?;
        self.viewable_casing(&sight, agency, casing_id).await?;
        let (record, features) = self.stored_query(agency, casing_id).await?;
        // One more than asked: the casing itself is on file and is dropped.
        let found: Vec<(i64, f32)> = self
            .search_index(
                features.descriptor,
                k + 1,
                0,
                sight.agencies(Scope::Correlate),
            )
            .await?
            .into_iter()
            .filter(|(id, _)| *id != record.id)
            .collect();
        let ids: Vec<i64> = found.iter().map(|f| f.0).collect();
        let mut records: std::collections::HashMap<i64, CasingRecord> = self
            .db
            .casings_by_pks(&ids)
            .await?
            .into_iter()
            .map(|r| (r.id, r))
            .collect();
        Ok(found
            .into_iter()
            .filter_map(|(id, similarity)| {
                let casing = records.remove(&id)?;
                (casing.surface_kind == record.surface_kind)
                    .then_some(ShortlistEntry { casing, similarity })
            })
            .take(k)
            .collect())
    }

    /// A casing on file and its stored features, or a clear not-found.
    pub(super) async fn stored_query(
        &self,
        agency: &str,
        casing_id: &str,
    ) -> Result<(CasingRecord, CasingFeatures)> {
        let record = self
            .db
            .casing_by_casing_id(agency, casing_id)
            .await?
            .ok_or_else(|| EngineError::CasingNotFound(casing_id.to_string()))?;
        let features = self
            .db
            .features_by_pks(&[record.id])
            .await?
            .pop()
            .ok_or_else(|| {
                EngineError::Internal(format!("casing {casing_id} has no stored features"))
            })?
            .1;
        Ok((record, features))
    }
}
