//! Which index a collection of a given size gets: exact search while it is
//! small enough to scan, an inverted-file (IVF) index trained from the
//! stored descriptors past that, retrained as the collection grows.
//!
//! Why IVF and not HNSW: faiss's HNSW cannot remove a vector, and every
//! engine applies removals and re-descriptions from the change feed; an
//! IVF index adds and removes by id after training, and filters by id
//! during the search (a restricted caller's casings are the only ones
//! scored). Its recall at a given `nprobe` is measured by
//! `casetrace-bench scale` (docs/evaluation.md).

use serde::{Deserialize, Serialize};

/// What an index file holds, recorded in its stamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum IndexKind {
    /// Every descriptor scanned (faiss `IDMap,Flat`): exact, linear cost.
    #[default]
    Exact,
    /// `nlist` inverted lists (faiss `IVF{nlist},{codec}`) whose centroids
    /// were trained on a sample of `trained_on` stored descriptors.
    Ivf {
        nlist: usize,
        codec: IvfCodec,
        trained_on: u64,
    },
}

/// How an IVF index stores each vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IvfCodec {
    /// The f32 vector itself: exact distances within the probed lists.
    Flat,
    /// One byte a dimension (faiss `SQ8`): a quarter of the memory, at a
    /// small cost in recall.
    Sq8,
}

impl IvfCodec {
    pub(super) fn factory_name(self) -> &'static str {
        match self {
            IvfCodec::Flat => "Flat",
            IvfCodec::Sq8 => "SQ8",
        }
    }
}

impl std::fmt::Display for IndexKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IndexKind::Exact => write!(f, "exact"),
            IndexKind::Ivf {
                nlist,
                codec,
                trained_on,
            } => write!(
                f,
                "ivf{nlist},{} (trained on {trained_on})",
                codec.factory_name()
            ),
        }
    }
}

/// When the engine changes index kind, and how it searches an IVF index.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IndexPlan {
    /// Below this many descriptors the index is exact; at or above it, IVF.
    pub exact_below: u64,
    /// Inverted lists probed per query (more: better recall, slower).
    pub nprobe: usize,
    /// An IVF index is retrained once the collection holds this many times
    /// what its centroids were trained with (the right `nlist` grows with
    /// the square root of the count, and old centroids fit new data worse).
    pub retrain_growth: f64,
    pub codec: IvfCodec,
}

impl Default for IndexPlan {
    fn default() -> Self {
        IndexPlan {
            // An exact scan of 100k 128-float descriptors is a few
            // milliseconds; past that it grows linearly.
            exact_below: 100_000,
            // Recall@100 ≥ 0.95 on clustered descriptors at 1M with the
            // nlist below (docs/evaluation.md, `casetrace-bench scale`).
            nprobe: 32,
            retrain_growth: 2.0,
            codec: IvfCodec::Flat,
        }
    }
}

/// Training points per centroid: faiss's k-means warns below 39 and gains
/// little above a few hundred.
const TRAIN_PER_LIST: usize = 64;

impl IndexPlan {
    /// The kind a fresh build over `count` descriptors gets.
    pub fn kind_for(&self, count: u64) -> IndexKind {
        if count < self.exact_below.max(1) {
            IndexKind::Exact
        } else {
            IndexKind::Ivf {
                nlist: nlist_for(count),
                codec: self.codec,
                trained_on: count,
            }
        }
    }

    /// Whether an index of `kind` holding `count` descriptors should be
    /// rebuilt: exact past the threshold, IVF of another codec, grown by
    /// `retrain_growth` since training, or shrunk below half the threshold
    /// (the margins keep a count near the threshold from flapping).
    pub fn needs_rebuild(&self, kind: IndexKind, count: u64) -> bool {
        match kind {
            IndexKind::Exact => count >= self.exact_below.max(1),
            IndexKind::Ivf {
                codec, trained_on, ..
            } => {
                codec != self.codec
                    || (count as f64) >= (trained_on.max(1) as f64) * self.retrain_growth
                    || count < self.exact_below / 2
            }
        }
    }

    /// How many descriptors to train `nlist` centroids on.
    pub fn training_size(nlist: usize) -> usize {
        nlist * TRAIN_PER_LIST
    }
}

/// Inverted lists for `count` descriptors: about 4·√count (faiss's rule of
/// thumb), at least one.
pub fn nlist_for(count: u64) -> usize {
    ((4.0 * (count as f64).sqrt()).round() as usize).max(1)
}

/// `take` row numbers out of `0..total` spread evenly over it: a sample
/// for training that is the same every time for the same rows.
pub fn spread_sample(total: usize, take: usize) -> Vec<usize> {
    if take >= total {
        return (0..total).collect();
    }
    (0..take).map(|i| i * total / take).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_below_the_threshold_and_ivf_at_it() {
        let plan = IndexPlan {
            exact_below: 1_000,
            ..IndexPlan::default()
        };
        assert_eq!(plan.kind_for(999), IndexKind::Exact);
        let ivf = plan.kind_for(1_000);
        assert!(matches!(
            ivf,
            IndexKind::Ivf {
                nlist: 126,
                trained_on: 1_000,
                ..
            }
        ));
        assert!(!plan.needs_rebuild(IndexKind::Exact, 999));
        assert!(plan.needs_rebuild(IndexKind::Exact, 1_000));
        // Retrained once grown by the factor, not before; back to exact
        // only well below the threshold.
        assert!(!plan.needs_rebuild(ivf, 1_999));
        assert!(plan.needs_rebuild(ivf, 2_000));
        assert!(!plan.needs_rebuild(ivf, 500));
        assert!(plan.needs_rebuild(ivf, 499));
        let sq8 = IndexPlan {
            codec: IvfCodec::Sq8,
            ..plan
        };
        assert!(sq8.needs_rebuild(ivf, 1_000));
    }

    #[test]
    fn the_training_sample_is_spread_and_repeatable() {
        assert_eq!(spread_sample(10, 5), vec![0, 2, 4, 6, 8]);
        assert_eq!(spread_sample(3, 5), vec![0, 1, 2]);
        assert_eq!(nlist_for(1_000_000), 4_000);
    }

    #[test]
    fn the_kind_reads_back_from_a_stamp_as_written() {
        let kind = IndexPlan::default().kind_for(250_000);
        let json = serde_json::to_string(&kind).unwrap();
        assert_eq!(serde_json::from_str::<IndexKind>(&json).unwrap(), kind);
        assert_eq!(kind.to_string(), "ivf2000,Flat (trained on 250000)");
    }
}
