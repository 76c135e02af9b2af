//! Which agency each indexed casing belongs to, as one compressed id set
//! (a roaring bitmap) per agency kept beside the vectors, so a restricted
//! search costs the union of the caller's few agencies' sets instead of a
//! database scan of their casings on every query.
//!
//! Like the index, these sets are derived: rebuilt from the database at
//! start-up and kept in step by the same follower that applies the change
//! feed to the vectors (a casing's agency never changes, so an insert adds
//! its id and a removal takes it out of whichever set holds it).

use std::collections::HashMap;

use roaring::RoaringTreemap;

/// The indexed casing ids of each agency.
#[derive(Debug, Clone, Default)]
pub struct AgencyBitmaps {
    by_agency: HashMap<String, RoaringTreemap>,
}

/// The ids a restricted search may return, as faiss's `IDSelectorBitmap`
/// reads them: bit `id % 8` of byte `id / 8`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permitted {
    bits: Vec<u8>,
    count: u64,
}

impl Permitted {
    /// How many ids are permitted.
    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn contains(&self, id: i64) -> bool {
        u64::try_from(id).is_ok_and(|id| {
            let byte = (id / 8) as usize;
            byte < self.bits.len() && self.bits[byte] & (1 << (id % 8)) != 0
        })
    }

    pub(super) fn bits(&self) -> &[u8] {
        &self.bits
    }
}

impl AgencyBitmaps {
    /// Note that casing `id` of `agency` is indexed (again: idempotent).
    pub fn insert(&mut self, id: i64, agency: &str) {
        let Ok(id) = u64::try_from(id) else { return };
        match self.by_agency.get_mut(agency) {
            Some(set) => {
                set.insert(id);
            }
            None => {
                let mut set = RoaringTreemap::new();
                set.insert(id);
                self.by_agency.insert(agency.to_string(), set);
            }
        }
    }

    /// Take `ids` out of whichever agency's set holds them: a removal's
    /// casing row is gone, so its agency is no longer known. One probe per
    /// agency and id; agencies are few next to casings.
    pub fn remove(&mut self, ids: &[i64]) {
        for set in self.by_agency.values_mut() {
            for id in ids {
                if let Ok(id) = u64::try_from(*id) {
                    set.remove(id);
                }
            }
        }
        self.by_agency.retain(|_, set| !set.is_empty());
    }

    /// Every id of `agencies` (unknown agencies have none), as a bitmap as
    /// long as the highest of them needs.
    pub fn permitted(&self, agencies: &[String]) -> Permitted {
        let sets: Vec<&RoaringTreemap> = agencies
            .iter()
            .filter_map(|a| self.by_agency.get(a))
            .collect();
        let top = sets.iter().filter_map(|s| s.max()).max();
        let mut bits = vec![0u8; top.map_or(0, |top| (top / 8 + 1) as usize)];
        let mut count = 0;
        for set in sets {
            count += set.len();
            for id in set {
                bits[(id / 8) as usize] |= 1 << (id % 8);
            }
        }
        Permitted { bits, count }
    }

    /// How many ids the sets hold together.
    pub fn len(&self) -> u64 {
        self.by_agency.values().map(RoaringTreemap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The agency holding `id`, if any (for tests and checks).
    pub fn agency_of(&self, id: i64) -> Option<&str> {
        let id = u64::try_from(id).ok()?;
        self.by_agency
            .iter()
            .find(|(_, set)| set.contains(id))
            .map(|(agency, _)| agency.as_str())
    }

    /// Bytes the sets take in memory, about (their serialized size).
    pub fn memory_bytes(&self) -> u64 {
        self.by_agency
            .iter()
            .map(|(a, s)| (a.len() + s.serialized_size()) as u64)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_union_of_a_callers_agencies_holds_exactly_their_ids() {
        let mut sets = AgencyBitmaps::default();
        for (id, agency) in [(1, "a"), (2, "b"), (9, "a"), (17, "c"), (2, "b")] {
            sets.insert(id, agency);
        }
        assert_eq!(sets.len(), 4);
        let ab = sets.permitted(&["a".into(), "b".into(), "zz".into()]);
        assert_eq!(ab.count(), 3);
        assert_eq!(
            (0..20).filter(|id| ab.contains(*id)).collect::<Vec<_>>(),
            [1, 2, 9]
        );
        assert_eq!(sets.permitted(&[]).count(), 0);
        assert!(!sets.permitted(&["c".into()]).contains(9));

        sets.remove(&[9, 17, 100]);
        assert_eq!(sets.agency_of(9), None);
        assert_eq!(sets.agency_of(1), Some("a"));
        assert_eq!(sets.permitted(&["c".into()]).count(), 0);
        assert_eq!(sets.len(), 2);
    }
}
