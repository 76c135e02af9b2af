//! Who is queried and who is whose mate. Mates are decided by the labels
//! alone: a casing not in the labels (a distractor) is nobody's mate.

use std::collections::{BTreeMap, HashMap};

use crate::manifest::ManifestRow;

/// Casing id → firearm id, from the labels file.
#[derive(Debug, Clone)]
pub struct Labels {
    firearm_of: HashMap<String, String>,
}

impl Labels {
    pub fn new(firearm_of: HashMap<String, String>) -> Self {
        Labels { firearm_of }
    }

    /// True when `candidate` is a labelled casing of the query's firearm
    /// (and not the query itself). Unlabelled casings are never mates.
    pub fn is_mate(&self, query: &str, candidate: &str) -> bool {
        query != candidate
            && match (self.firearm_of.get(query), self.firearm_of.get(candidate)) {
                (Some(a), Some(b)) => a == b,
                _ => false,
            }
    }

    /// True when the set holds another casing of the query's firearm.
    pub fn has_mates(&self, query: &str) -> bool {
        self.firearm_of
            .keys()
            .any(|other| self.is_mate(query, other))
    }

    pub fn is_labelled(&self, casing_id: &str) -> bool {
        self.firearm_of.contains_key(casing_id)
    }
}

/// Every row, or `limit` rows taken one per firearm in turn (each
/// firearm's first casing in file order, then each one's second, …), so a
/// subset of queries still spans every gun.
pub fn select_queries<'a>(
    rows: &'a [ManifestRow],
    firearm_of: &HashMap<String, String>,
    limit: Option<usize>,
) -> Vec<&'a ManifestRow> {
    let Some(limit) = limit else {
        return rows.iter().collect();
    };
    // Firearms in order of first appearance, each with its rows in order.
    let mut order: Vec<&str> = Vec::new();
    let mut by_gun: BTreeMap<&str, Vec<&ManifestRow>> = BTreeMap::new();
    for row in rows {
        let gun = firearm_of.get(&row.casing_id).map_or("", String::as_str);
        let list = by_gun.entry(gun).or_default();
        if list.is_empty() {
            order.push(gun);
        }
        list.push(row);
    }
    let mut out = Vec::new();
    for round in 0.. {
        let before = out.len();
        for gun in &order {
            if out.len() == limit {
                return out;
            }
            if let Some(row) = by_gun[gun].get(round) {
                out.push(*row);
            }
        }
        if out.len() == before {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn row(id: &str) -> ManifestRow {
        ManifestRow {
            line: 0,
            file: PathBuf::from(format!("{id}.x3p")),
            casing_id: id.into(),
            extra: Default::default(),
        }
    }

    fn labels() -> HashMap<String, String> {
        [
            ("a1", "A"),
            ("a2", "A"),
            ("a3", "A"),
            ("b1", "B"),
            ("b2", "B"),
        ]
        .into_iter()
        .map(|(c, g)| (c.to_string(), g.to_string()))
        .collect()
    }

    #[test]
    fn an_unlabelled_casing_is_nobodys_mate() {
        let l = Labels::new(labels());
        assert!(l.is_mate("a1", "a2"));
        assert!(!l.is_mate("a1", "a1"), "a casing is not its own mate");
        assert!(!l.is_mate("a1", "b1"));
        assert!(!l.is_mate("a1", "DISTRACTOR-00001-01"));
        assert!(!l.is_mate("DISTRACTOR-00001-01", "DISTRACTOR-00001-02"));
        assert!(l.has_mates("b2"));
        assert!(!l.is_labelled("DISTRACTOR-00001-01"));
    }

    #[test]
    fn a_query_subset_takes_one_casing_per_firearm_in_turn() {
        let rows: Vec<ManifestRow> = ["a1", "a2", "a3", "b1", "b2"].map(row).into();
        let ids = |limit| -> Vec<String> {
            select_queries(&rows, &labels(), limit)
                .iter()
                .map(|r| r.casing_id.clone())
                .collect()
        };
        assert_eq!(ids(Some(2)), ["a1", "b1"]);
        assert_eq!(ids(Some(3)), ["a1", "b1", "a2"]);
        assert_eq!(ids(Some(99)), ["a1", "b1", "a2", "b2", "a3"]);
        assert_eq!(ids(None), ["a1", "a2", "a3", "b1", "b2"]);
    }
}
