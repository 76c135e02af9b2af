//! Nearest-neighbour shortlist over casing descriptors with faiss.
//!
//! The index is derived data: the database holds every descriptor, and the
//! index file under the data directory can be deleted at any time; it is
//! rebuilt when it is missing or does not match the database
//! ([`IndexStamp`]).

use std::path::{Path, PathBuf};

use faiss::cluster::{Clustering, ClusteringParameters};
use faiss::index::ivf_flat::IVFFlatIndex;
use faiss::index::scalar_quantizer::{IVFScalarQuantizerIndex, QuantizerType};
use faiss::index::IndexImpl;
use faiss::index::SearchWithParamsMut;
use faiss::index::UpcastIndex;
use faiss::search_params::{SearchParameters, SearchParametersIVF};
use faiss::selector::IdSelector;
use faiss::{index_factory, read_index, write_index, FlatIndex, Idx, Index, MetricType};
use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};

mod agencies;
mod casing_index;
mod kind;

pub use agencies::{AgencyBitmaps, Permitted};
pub use casing_index::{CasingIndex, IndexEntry};
pub use kind::{nlist_for, spread_sample, IndexKind, IndexPlan, IvfCodec};

/// What an index file was built from; compared with the database at start-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexStamp {
    pub model_version: String,
    pub dim: usize,
    pub count: u64,
    /// The highest casing id of the rebuild that wrote the file; `None`
    /// once the file was changed since (informational).
    pub max_id: Option<i64>,
    /// The database change feed's position the file holds every change up
    /// to (`casing_changes.seq`); a loaded file catches up from here.
    /// `None` in files written before the feed existed: they are rebuilt.
    #[serde(default)]
    pub feed_seq: Option<i64>,
    /// What kind of index the file holds (files from before IVF: exact).
    #[serde(default)]
    pub kind: IndexKind,
}

/// Inner-product index of L2-normalised descriptors keyed by casing row id:
/// exact, or IVF past a size ([`IndexPlan`]).
#[derive(Debug)]
pub struct VectorIndex {
    inner: IndexImpl,
    dim: usize,
    kind: IndexKind,
    /// Inverted lists an IVF search probes first (unused when exact).
    nprobe: usize,
}

impl VectorIndex {
    /// An empty exact index. Exact search is the honest baseline, and what
    /// a collection below [`IndexPlan::exact_below`] keeps.
    pub fn new(dim: usize) -> Result<Self> {
        let inner = index_factory(dim as u32, "IDMap,Flat", MetricType::InnerProduct)
            .map_err(|e| EngineError::Index(format!("creating index: {e}")))?;
        Ok(VectorIndex {
            inner,
            dim,
            kind: IndexKind::Exact,
            nprobe: IndexPlan::default().nprobe,
        })
    }

    /// An index of `kind` holding `ids` and their `vectors` (row after row):
    /// an IVF index is trained first on a sample spread over the rows.
    pub fn build(dim: usize, kind: IndexKind, ids: &[i64], vectors: &[f32]) -> Result<Self> {
        let mut index = match kind {
            IndexKind::Exact => VectorIndex::new(dim)?,
            IndexKind::Ivf { nlist, codec, .. } => {
                check_len(vectors, ids.len(), dim)?;
                let rows = spread_sample(ids.len(), IndexPlan::training_size(nlist));
                let sample: Vec<f32> = rows
                    .iter()
                    .flat_map(|r| vectors[r * dim..(r + 1) * dim].iter().copied())
                    .collect();
                VectorIndex {
                    inner: train_ivf(dim, nlist, codec, &sample)?,
                    dim,
                    kind,
                    nprobe: IndexPlan::default().nprobe,
                }
            }
        };
        index.add(ids, vectors)?;
        Ok(index)
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn kind(&self) -> IndexKind {
        self.kind
    }

    /// Inverted lists an IVF search probes first.
    pub fn set_nprobe(&mut self, nprobe: usize) {
        self.nprobe = nprobe.max(1);
    }

    pub fn len(&self) -> u64 {
        self.inner.ntotal()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Add descriptors (`ids.len() * dim` values, row after row).
    pub fn add(&mut self, ids: &[i64], vectors: &[f32]) -> Result<()> {
        check_len(vectors, ids.len(), self.dim)?;
        if ids.is_empty() {
            return Ok(());
        }
        let ids: Vec<Idx> = ids.iter().map(|id| Idx::new(*id as u64)).collect();
        self.inner
            .add_with_ids(vectors, &ids)
            .map_err(|e| EngineError::Index(format!("adding vectors: {e}")))
    }

    pub fn remove(&mut self, ids: &[i64]) -> Result<usize> {
        if ids.is_empty() {
            return Ok(0);
        }
        let ids: Vec<Idx> = ids.iter().map(|id| Idx::new(*id as u64)).collect();
        let selector = IdSelector::batch(&ids).map_err(|e| EngineError::Index(e.to_string()))?;
        self.inner
            .remove_ids(&selector)
            .map_err(|e| EngineError::Index(format!("removing vectors: {e}")))
    }

    /// Put these ids' descriptors in the index, replacing any they had:
    /// faiss would otherwise keep two vectors under one id.
    /// Applying the same upsert twice leaves the index as once.
    pub fn upsert(&mut self, ids: &[i64], vectors: &[f32]) -> Result<()> {
        if !ids.is_empty() {
            self.remove(ids)?;
        }
        self.add(ids, vectors)
    }

    /// The `k` most similar ids with their inner products, best first.
    pub fn search(&mut self, query: &[f32], k: usize) -> Result<Vec<(i64, f32)>> {
        self.search_among(query, k, None)
    }

    /// As [`VectorIndex::search`], but only among `allowed` ids when given:
    /// faiss skips every other vector during the search itself, so the
    /// caller never pays for, or hears of, what it may not see, and what it
    /// may not see never takes a place in the list.
    ///
    /// An IVF search restricted to a share of the casings probes that many
    /// times more lists; one that still finds fewer than `k` (or than
    /// `allowed` holds, when fewer) probes four times as many, up to all
    /// of them: a caller whose casings are rare in the probed lists still
    /// gets a full list, at the cost of a wider search.
    pub fn search_among(
        &mut self,
        query: &[f32],
        k: usize,
        allowed: Option<&Permitted>,
    ) -> Result<Vec<(i64, f32)>> {
        if query.len() != self.dim {
            return Err(EngineError::Index(format!(
                "query of dimension {} against an index of {}",
                query.len(),
                self.dim
            )));
        }
        let available = allowed.map_or(self.len(), |a| a.count().min(self.len()));
        if k == 0 || available == 0 {
            return Ok(Vec::new());
        }
        let k = k.min(self.len() as usize);
        let wanted = k.min(available as usize);
        let nlist = match self.kind {
            IndexKind::Exact => return self.search_once(query, k, allowed, None),
            IndexKind::Ivf { nlist, .. } => nlist,
        };
        // A caller who may see a fraction of the casings finds that
        // fraction of candidates in each list: probing as many more lists
        // keeps the permitted vectors examined, and so recall, about as an
        // unrestricted search's. Bitmap checks of the others cost little
        // next to a distance.
        let share = available as f64 / self.len().max(1) as f64;
        let mut nprobe = ((self.nprobe as f64 / share).ceil() as usize).clamp(1, nlist);
        loop {
            let found = self.search_once(query, k, allowed, Some(nprobe))?;
            if found.len() >= wanted || nprobe >= nlist {
                return Ok(found);
            }
            nprobe = (nprobe * 4).min(nlist);
        }
    }

    fn search_once(
        &mut self,
        query: &[f32],
        k: usize,
        allowed: Option<&Permitted>,
        nprobe: Option<usize>,
    ) -> Result<Vec<(i64, f32)>> {
        // faiss reads the bitmap during the search: it lives to the end of
        // this function. (faiss-rs hands the selector object itself to the
        // parameters and never frees it: a few bytes a restricted query.)
        let selector = allowed
            .map(|a| IdSelector::bitmap(a.bits()))
            .transpose()
            .map_err(|e| EngineError::Index(e.to_string()))?;
        let index_error = |e: faiss::error::Error| EngineError::Index(e.to_string());
        let params = match (nprobe, selector) {
            (None, None) => None,
            (None, Some(selector)) => Some(SearchParameters::new(selector).map_err(index_error)?),
            (Some(nprobe), None) => {
                let mut params = SearchParametersIVF::new().map_err(index_error)?;
                params.set_nprobe(nprobe);
                Some(params.upcast())
            }
            // max_codes 0: no cap on the vectors scanned in the probed lists.
            (Some(nprobe), Some(selector)) => Some(
                SearchParametersIVF::new_with(selector, nprobe, 0)
                    .map_err(index_error)?
                    .upcast(),
            ),
        };
        let found = match &params {
            None => self.inner.search(query, k),
            Some(params) => self.inner.search_with_params(query, k, params),
        }
        .map_err(|e| EngineError::Index(format!("searching: {e}")))?;
        Ok(found
            .labels
            .iter()
            .zip(&found.distances)
            .filter_map(|(id, d)| id.get().map(|id| (id as i64, *d)))
            .collect())
    }

    /// Write the index and its stamp next to each other, each through a
    /// temporary file and a rename so a crash leaves the old pair or the new.
    pub fn save(&self, path: &Path, stamp: &IndexStamp) -> Result<()> {
        // Temporary names of this process's own: another engine (the
        // command line beside a server) may be saving the same file.
        let tmp = path.with_extension(format!("faiss.{}.tmp", std::process::id()));
        let tmp_str = tmp.to_str().ok_or_else(|| {
            EngineError::Config(format!("index path {} is not UTF-8", tmp.display()))
        })?;
        write_index(&self.inner, tmp_str)
            .map_err(|e| EngineError::Index(format!("writing {}: {e}", tmp.display())))?;
        // Stamp first: a stamp that claims more than the file holds is
        // caught by the count check, never trusted blindly.
        let stamp_path = stamp_path(path);
        let stamp_tmp = stamp_path.with_extension(format!("json.{}.tmp", std::process::id()));
        let json =
            serde_json::to_vec_pretty(stamp).map_err(|e| EngineError::Index(e.to_string()))?;
        std::fs::write(&stamp_tmp, json).map_err(|e| EngineError::io(&stamp_tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| EngineError::io(path, e))?;
        std::fs::rename(&stamp_tmp, &stamp_path).map_err(|e| EngineError::io(&stamp_path, e))?;
        Ok(())
    }

    /// Load an index file if it exists, reads, and carries `expected`'s
    /// stamp; `None` otherwise (the caller rebuilds from the database).
    pub fn load_if_current(path: &Path, expected: &IndexStamp) -> Option<Self> {
        let stamp: IndexStamp = std::fs::read(stamp_path(path))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())?;
        if &stamp != expected {
            return None;
        }
        let inner = read_index(path.to_str()?).ok()?;
        if inner.ntotal() != expected.count || inner.d() as usize != expected.dim {
            return None;
        }
        Some(VectorIndex {
            inner,
            dim: expected.dim,
            kind: expected.kind,
            nprobe: IndexPlan::default().nprobe,
        })
    }

    /// Load an index file and its stamp if they read, are of
    /// `model_version` and `dim`, agree on the count and carry a feed
    /// position; `None` otherwise (the caller rebuilds from the database).
    /// The caller then brings the index up to date from the stamp's
    /// `feed_seq`.
    pub fn load_saved(path: &Path, model_version: &str, dim: usize) -> Option<(Self, IndexStamp)> {
        let stamp: IndexStamp = std::fs::read(stamp_path(path))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())?;
        if stamp.model_version != model_version || stamp.dim != dim || stamp.feed_seq.is_none() {
            return None;
        }
        let inner = read_index(path.to_str()?).ok()?;
        if inner.ntotal() != stamp.count || inner.d() as usize != dim {
            return None;
        }
        let index = VectorIndex {
            inner,
            dim,
            kind: stamp.kind,
            nprobe: IndexPlan::default().nprobe,
        };
        Some((index, stamp))
    }
}

/// Passes of k-means over the training sample: faiss's default is 25; the
/// centroids barely move after 10, and training is most of a rebuild's
/// time at a million casings.
const KMEANS_ITERATIONS: u32 = 10;

/// An empty IVF index of `nlist` lists whose centroids are k-means
/// (spherical: the vectors are unit length and compared by inner product)
/// of `sample`, the same for the same sample.
fn train_ivf(dim: usize, nlist: usize, codec: IvfCodec, sample: &[f32]) -> Result<IndexImpl> {
    let failed = |what: &str, e: faiss::error::Error| {
        EngineError::Index(format!(
            "training IVF{nlist} on {} vectors: {what}: {e}",
            sample.len() / dim.max(1)
        ))
    };
    let mut params = ClusteringParameters::new();
    params.set_niter(KMEANS_ITERATIONS);
    params.set_spherical(true);
    params.set_seed(1234);
    params.set_max_points_per_centroid(IndexPlan::training_size(1) as u32);
    let mut clustering = Clustering::new_with_params(dim as u32, nlist as u32, &params)
        .map_err(|e| failed("clustering", e))?;
    let mut quantizer = FlatIndex::new_ip(dim as u32).map_err(|e| failed("quantizer", e))?;
    clustering
        .train(sample, &mut quantizer)
        .map_err(|e| failed("k-means", e))?;
    // The quantizer holds the centroids: faiss's own training of the IVF
    // index then skips clustering and trains only the codec (SQ8's ranges).
    let mut index = match codec {
        IvfCodec::Flat => IVFFlatIndex::new(
            quantizer,
            dim as u32,
            nlist as u32,
            MetricType::InnerProduct,
        )
        .map_err(|e| failed("index", e))?
        .upcast(),
        IvfCodec::Sq8 => IVFScalarQuantizerIndex::new_ip(
            quantizer,
            dim as u32,
            QuantizerType::QT_8bit,
            nlist as u32,
        )
        .map_err(|e| failed("index", e))?
        .upcast(),
    };
    index.train(sample).map_err(|e| failed("codec", e))?;
    Ok(index)
}

fn check_len(vectors: &[f32], rows: usize, dim: usize) -> Result<()> {
    if vectors.len() != rows * dim {
        return Err(EngineError::Index(format!(
            "{} values for {rows} vectors of dimension {dim}",
            vectors.len(),
        )));
    }
    Ok(())
}

fn stamp_path(index_path: &Path) -> PathBuf {
    index_path.with_extension("stamp.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: &[f32]) -> Vec<f32> {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / n).collect()
    }

    #[test]
    fn finds_nearest_by_inner_product_and_survives_a_save_and_load() {
        let mut index = VectorIndex::new(3).unwrap();
        let rows = [
            unit(&[1.0, 0.0, 0.0]),
            unit(&[0.0, 1.0, 0.0]),
            unit(&[1.0, 1.0, 0.0]),
        ];
        index.add(&[10, 20, 30], &rows.concat()).unwrap();
        let hits = index.search(&unit(&[1.0, 0.2, 0.0]), 2).unwrap();
        assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>(), vec![10, 30]);

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("descriptors.faiss");
        let stamp = IndexStamp {
            model_version: "m1".into(),
            dim: 3,
            count: 3,
            max_id: Some(30),
            feed_seq: Some(7),
            kind: IndexKind::Exact,
        };
        index.save(&path, &stamp).unwrap();
        let mut loaded = VectorIndex::load_if_current(&path, &stamp).expect("current");
        assert_eq!(loaded.search(&unit(&[0.0, 1.0, 0.1]), 1).unwrap()[0].0, 20);
        // Restricted to other ids, the best match is skipped, not filtered
        // out of a list that then comes back short.
        let mut agencies = AgencyBitmaps::default();
        agencies.insert(10, "a");
        let among = loaded
            .search_among(
                &unit(&[0.0, 1.0, 0.1]),
                5,
                Some(&agencies.permitted(&["a".into()])),
            )
            .unwrap();
        assert_eq!(among.iter().map(|r| r.0).collect::<Vec<_>>(), [10]);
        assert!(loaded
            .search_among(&unit(&[0.0, 1.0, 0.1]), 5, Some(&agencies.permitted(&[])))
            .unwrap()
            .is_empty());
        let (_, saved) = VectorIndex::load_saved(&path, "m1", 3).expect("saved");
        assert_eq!(saved, stamp);
        assert!(VectorIndex::load_saved(&path, "m2", 3).is_none());
        let stale = IndexStamp { count: 4, ..stamp };
        assert!(VectorIndex::load_if_current(&path, &stale).is_none());
        // A stamp without a feed position (written before the feed) is not
        // followed from anywhere: rebuilt.
        index
            .save(
                &path,
                &IndexStamp {
                    feed_seq: None,
                    count: 3,
                    ..stale.clone()
                },
            )
            .unwrap();
        assert!(VectorIndex::load_saved(&path, "m1", 3).is_none());
    }

    #[test]
    fn upsert_replaces_instead_of_adding_twice() {
        let mut index = VectorIndex::new(2).unwrap();
        index
            .upsert(&[1, 2], &[unit(&[1.0, 0.0]), unit(&[0.0, 1.0])].concat())
            .unwrap();
        index.upsert(&[1], &unit(&[0.0, 1.0])).unwrap();
        index.upsert(&[1], &unit(&[0.0, 1.0])).unwrap();
        assert_eq!(index.len(), 2);
        let hits = index.search(&unit(&[0.0, 1.0]), 5).unwrap();
        assert_eq!(hits.len(), 2);
        assert!(hits.iter().all(|(_, score)| *score > 0.99));
    }

    #[test]
    fn asking_for_more_than_it_holds_returns_what_there_is() {
        let mut index = VectorIndex::new(2).unwrap();
        index.add(&[1], &unit(&[1.0, 1.0])).unwrap();
        assert_eq!(index.search(&unit(&[1.0, 0.0]), 10).unwrap().len(), 1);
        index.remove(&[1]).unwrap();
        assert!(index.search(&unit(&[1.0, 0.0]), 10).unwrap().is_empty());
    }
}
