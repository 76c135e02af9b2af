//! The descriptor index together with the agency id sets that restrict its
//! searches: one value, under one lock, changed by one set of calls, so
//! the vectors and the sets never disagree about which casings are in.

use super::{AgencyBitmaps, IndexKind, Permitted, VectorIndex};
use crate::error::Result;

/// One casing as the index holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexEntry {
    /// The casing's row id (never reused).
    pub id: i64,
    pub agency: String,
    pub descriptor: Vec<f32>,
}

/// Vectors and the agencies they belong to.
#[derive(Debug)]
pub struct CasingIndex {
    pub vectors: VectorIndex,
    pub agencies: AgencyBitmaps,
}

impl CasingIndex {
    /// An index of `kind` over `entries` (an IVF index is trained on them).
    pub fn build(dim: usize, kind: IndexKind, entries: &[IndexEntry]) -> Result<Self> {
        let ids: Vec<i64> = entries.iter().map(|e| e.id).collect();
        let flat: Vec<f32> = entries
            .iter()
            .flat_map(|e| e.descriptor.iter().copied())
            .collect();
        let vectors = VectorIndex::build(dim, kind, &ids, &flat)?;
        let mut agencies = AgencyBitmaps::default();
        for e in entries {
            agencies.insert(e.id, &e.agency);
        }
        Ok(CasingIndex { vectors, agencies })
    }

    /// Put `entries` in, replacing what their ids held.
    pub fn upsert(&mut self, entries: &[IndexEntry]) -> Result<()> {
        let ids: Vec<i64> = entries.iter().map(|e| e.id).collect();
        self.apply(&ids, entries)
    }

    /// Bring the casings `changed` to what the database holds now:
    /// `current`, the ones of them that still have a descriptor of the
    /// index's model (the others go).
    pub fn apply(&mut self, changed: &[i64], current: &[IndexEntry]) -> Result<()> {
        self.vectors.remove(changed)?;
        self.agencies.remove(changed);
        let ids: Vec<i64> = current.iter().map(|e| e.id).collect();
        let flat: Vec<f32> = current
            .iter()
            .flat_map(|e| e.descriptor.iter().copied())
            .collect();
        self.vectors.add(&ids, &flat)?;
        for e in current {
            self.agencies.insert(e.id, &e.agency);
        }
        Ok(())
    }

    /// The `k` nearest casings to `query`, best first, among the casings of
    /// `within` when given (else every casing). Only permitted casings are
    /// scored, so each of the `k` places goes to one the caller may see.
    pub fn search(
        &mut self,
        query: &[f32],
        k: usize,
        within: Option<&[String]>,
    ) -> Result<Vec<(i64, f32)>> {
        self.search_or_all(query, k, 0, within)
    }

    /// As [`CasingIndex::search`], but every casing of `within` (at least
    /// `k`) while they number at most `whole_up_to`: what a caller may see
    /// is what is counted, so an agency seeing 300 of 600 casings gets all
    /// 300 under a bound of 500.
    pub fn search_or_all(
        &mut self,
        query: &[f32],
        k: usize,
        whole_up_to: u64,
        within: Option<&[String]>,
    ) -> Result<Vec<(i64, f32)>> {
        let permitted = within.map(|agencies| self.agencies.permitted(agencies));
        let visible = permitted.as_ref().map_or(self.len(), Permitted::count);
        let k = if visible <= whole_up_to {
            k.max(usize::try_from(visible).unwrap_or(usize::MAX))
        } else {
            k
        };
        self.vectors.search_among(query, k, permitted.as_ref())
    }

    pub fn len(&self) -> u64 {
        self.vectors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.vectors.is_empty()
    }

    pub fn kind(&self) -> IndexKind {
        self.vectors.kind()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;
    use crate::index::IndexPlan;
    use crate::synth::{DescriptorSet, DescriptorShape};

    const DIM: usize = 64;
    const AGENCIES: usize = 10;

    /// 10,000 clustered casings of 20 makes (so a query's 100 nearest are
    /// of its make, not the noise between makes); gun `g`'s casings belong
    /// to agency `g % 10`.
    fn clustered() -> (DescriptorSet, Vec<IndexEntry>) {
        let shape = DescriptorShape {
            makes: 20,
            ..DescriptorShape::default()
        };
        let set = DescriptorSet::generate(2_500, DIM, shape, 11);
        let entries = (0..set.len())
            .map(|i| IndexEntry {
                id: i as i64 + 1,
                agency: format!("agency-{}", set.gun_of(i) % AGENCIES),
                descriptor: set.casing(i).to_vec(),
            })
            .collect();
        (set, entries)
    }

    /// The IVF kind the default plan gives 10,000 casings when its
    /// threshold is below that.
    fn ivf_kind() -> IndexKind {
        let plan = IndexPlan {
            exact_below: 5_000,
            ..IndexPlan::default()
        };
        let kind = plan.kind_for(10_000);
        assert!(matches!(kind, IndexKind::Ivf { nlist: 400, .. }));
        kind
    }

    #[test]
    fn ivf_finds_most_of_the_exact_top_100() {
        let (set, entries) = clustered();
        let mut exact = CasingIndex::build(DIM, IndexKind::Exact, &entries).unwrap();
        let mut ivf = CasingIndex::build(DIM, ivf_kind(), &entries).unwrap();
        assert_eq!(ivf.len(), exact.len());
        let queries = 50;
        let mut recall = 0.0;
        for q in 0..queries {
            let query = set.fresh_casing(q * 37 % 2_500, q as u64);
            let truth: HashSet<i64> = exact
                .search(&query, 100, None)
                .unwrap()
                .iter()
                .map(|h| h.0)
                .collect();
            let found = ivf.search(&query, 100, None).unwrap();
            assert_eq!(found.len(), 100);
            recall += found.iter().filter(|h| truth.contains(&h.0)).count() as f64 / 100.0;
        }
        let recall = recall / queries as f64;
        assert!(recall >= 0.9, "recall@100 {recall}");
    }

    #[test]
    fn a_small_visible_share_is_returned_whole_and_a_large_one_by_k() {
        let (set, entries) = clustered();
        let mut index = CasingIndex::build(DIM, IndexKind::Exact, &entries).unwrap();
        let query = set.fresh_casing(3, 9);
        let one = ["agency-3".to_string()];
        // 10,000 on file, 1,000 of them agency 3's: the bound counts what
        // the caller sees, not the whole index.
        let whole = index.search_or_all(&query, 10, 1_000, Some(&one)).unwrap();
        assert_eq!(whole.len(), 1_000);
        let short = index.search_or_all(&query, 10, 999, Some(&one)).unwrap();
        assert_eq!(short.len(), 10);
        assert_eq!(
            index.search_or_all(&query, 10, 9_999, None).unwrap().len(),
            10
        );
        assert_eq!(
            index.search_or_all(&query, 10, 10_000, None).unwrap().len(),
            10_000
        );
    }

    #[test]
    fn a_restricted_search_gives_every_place_to_a_permitted_casing() {
        let (set, mut entries) = clustered();
        // An agency of three casings, far fewer than a probed list holds.
        for (n, gun) in [(0, 5usize), (1, 905), (2, 1_805)] {
            entries.push(IndexEntry {
                id: 20_000 + n,
                agency: "tiny".into(),
                descriptor: set.fresh_casing(gun, 100 + n as u64),
            });
        }
        let owner: HashMap<i64, String> =
            entries.iter().map(|e| (e.id, e.agency.clone())).collect();
        for kind in [IndexKind::Exact, ivf_kind()] {
            let mut index = CasingIndex::build(DIM, kind, &entries).unwrap();
            for q in 0..10 {
                let query = set.fresh_casing(q * 101, 500 + q as u64);
                let within = ["agency-3".to_string(), "agency-7".to_string()];
                let found = index.search(&query, 100, Some(&within)).unwrap();
                assert_eq!(found.len(), 100, "{kind}: a full list");
                assert!(
                    found.iter().all(|h| within.contains(&owner[&h.0])),
                    "{kind}: only agencies 3 and 7"
                );
                let tiny = index.search(&query, 100, Some(&["tiny".into()])).unwrap();
                let mut ids: Vec<i64> = tiny.iter().map(|h| h.0).collect();
                ids.sort();
                assert_eq!(
                    ids,
                    [20_000, 20_001, 20_002],
                    "{kind}: all of the tiny agency"
                );
                assert!(index
                    .search(&query, 100, Some(&["nobody".into()]))
                    .unwrap()
                    .is_empty());
            }
            // Exact and restricted: the same list as a scan of the
            // permitted casings alone.
            if kind == IndexKind::Exact {
                let query = set.fresh_casing(42, 7);
                let only: Vec<IndexEntry> = entries
                    .iter()
                    .filter(|e| e.agency == "agency-2")
                    .cloned()
                    .collect();
                let mut alone = CasingIndex::build(DIM, IndexKind::Exact, &only).unwrap();
                let ids = |hits: Vec<(i64, f32)>| hits.iter().map(|h| h.0).collect::<Vec<_>>();
                assert_eq!(
                    ids(index
                        .search(&query, 50, Some(&["agency-2".into()]))
                        .unwrap()),
                    ids(alone.search(&query, 50, None).unwrap())
                );
            }
        }
    }

    #[test]
    fn an_ivf_index_keeps_its_kind_and_answers_through_a_save_and_load() {
        let (set, entries) = clustered();
        let kind = ivf_kind();
        let mut index = CasingIndex::build(DIM, kind, &entries).unwrap();
        // Removing and re-adding after training: the feed's changes.
        index.apply(&[1, 2], &entries[1..2]).unwrap();
        assert_eq!(index.len(), entries.len() as u64 - 1);
        assert_eq!(index.agencies.agency_of(1), None);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("descriptors.faiss");
        let stamp = crate::index::IndexStamp {
            model_version: "m".into(),
            dim: DIM,
            count: index.len(),
            max_id: None,
            feed_seq: Some(3),
            kind,
        };
        index.vectors.save(&path, &stamp).unwrap();
        let (mut loaded, read) = VectorIndex::load_saved(&path, "m", DIM).unwrap();
        assert_eq!(read.kind, kind);
        assert_eq!(loaded.kind(), kind);
        let query = set.fresh_casing(0, 1);
        assert_eq!(
            loaded.search(&query, 20).unwrap(),
            index.vectors.search(&query, 20).unwrap()
        );
        assert!(loaded
            .search(set.casing(0), 100)
            .unwrap()
            .iter()
            .all(|h| h.0 != 1));
    }
}
