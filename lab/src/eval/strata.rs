//! Figures per stratum: when the labels file has columns beyond
//! `casing_id`, `firearm_id` and `file` (e.g. `make`, `resolution`,
//! `kind`), each value of each such column is a stratum and gets its own
//! top-1, top-10, pair AUC and margin.
//!
//! - A **query** belongs to the stratum of its own casing's value. Its rank
//!   is the one it got in the whole set (its list is not cut to the
//!   stratum), so a stratum's top-1 says how its casings fare in real use.
//! - A **pair** belongs to a stratum when both casings have that value; a
//!   pair across two values (a 3D scan against a photograph, one make
//!   against another) is in no stratum of that column.
//!
//! A casing with an empty cell is in no stratum of that column. A column
//! whose values are all different (an id, a note) is skipped: no pair
//! could share a value.

use std::collections::{BTreeMap, HashMap};

use super::scored::{hit_rates, split_scores, PairRecord, QueryRecord};
use super::separation::Separation;
use crate::manifest::ManifestRow;

/// Columns of a labels file that are never strata: the firearm is what is
/// being predicted, and `casing_id`/`file` are not in `extra`.
const NOT_STRATA: [&str; 1] = ["firearm_id"];

/// The figures of one value of one extra column.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Stratum {
    pub column: String,
    pub value: String,
    /// Labelled casings with this value.
    pub casings: usize,
    /// Of those, the queries that have a mate anywhere in the set.
    pub queries_with_mates: usize,
    pub top1: f64,
    pub top10: f64,
    /// The combined score over the pairs whose two casings both have this
    /// value.
    pub pairs: Separation,
}

/// One [`Stratum`] per value of every extra column, columns and values in
/// alphabetical order.
pub fn by_stratum(
    rows: &[ManifestRow],
    queries: &[QueryRecord],
    pairs: &[PairRecord],
) -> Vec<Stratum> {
    let mut columns: BTreeMap<&str, HashMap<&str, &str>> = BTreeMap::new();
    for row in rows {
        for (column, value) in &row.extra {
            if !NOT_STRATA.contains(&column.as_str()) {
                columns
                    .entry(column)
                    .or_default()
                    .insert(&row.casing_id, value);
            }
        }
    }
    let mut out = Vec::new();
    for (column, value_of) in columns {
        let mut members: BTreeMap<&str, usize> = BTreeMap::new();
        for value in value_of.values() {
            *members.entry(value).or_default() += 1;
        }
        if members.values().all(|n| *n < 2) {
            continue;
        }
        for (value, casings) in members {
            let has = |id: &str| value_of.get(id) == Some(&value);
            let (top1, top10) = hit_rates(queries.iter().filter(|q| has(&q.casing_id)));
            let (km, knm) =
                split_scores(pairs.iter().filter(|p| has(&p.query) && has(&p.candidate)));
            out.push(Stratum {
                column: column.to_string(),
                value: value.to_string(),
                casings,
                queries_with_mates: queries.iter().filter(|q| has(&q.casing_id)).count(),
                top1,
                top10,
                pairs: Separation::of(&km, &knm),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn row(id: &str, columns: &[(&str, &str)]) -> ManifestRow {
        ManifestRow {
            line: 0,
            file: PathBuf::from(format!("{id}.x3p")),
            casing_id: id.into(),
            extra: columns
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn pair(query: &str, candidate: &str, same: bool, score: f64) -> PairRecord {
        PairRecord {
            query: query.into(),
            candidate: candidate.into(),
            same_firearm: same,
            score,
            components: Vec::new(),
        }
    }

    #[test]
    fn a_pair_counts_in_a_stratum_only_when_both_casings_share_the_value() {
        // Gun A: a1 scan, a2 photo. Gun B: b1 scan, b2 scan.
        let rows = [
            row(
                "a1",
                &[("firearm_id", "A"), ("kind", "scan"), ("note", "x")],
            ),
            row(
                "a2",
                &[("firearm_id", "A"), ("kind", "photo"), ("note", "y")],
            ),
            row(
                "b1",
                &[("firearm_id", "B"), ("kind", "scan"), ("note", "z")],
            ),
            row("b2", &[("firearm_id", "B"), ("kind", "scan")]),
        ];
        let queries = [
            QueryRecord {
                casing_id: "a1".into(),
                first_mate_rank: Some(2),
            },
            QueryRecord {
                casing_id: "a2".into(),
                first_mate_rank: Some(1),
            },
            QueryRecord {
                casing_id: "b1".into(),
                first_mate_rank: Some(1),
            },
            QueryRecord {
                casing_id: "b2".into(),
                first_mate_rank: Some(1),
            },
        ];
        let pairs = [
            pair("a1", "a2", true, 0.3), // scan-photo: in no `kind` stratum
            pair("a1", "b1", false, 0.4),
            pair("b1", "b2", true, 0.9),
            pair("b2", "a1", false, 0.2),
            pair("a2", "b2", false, 0.1), // photo-scan
        ];
        let strata = by_stratum(&rows, &queries, &pairs);
        // `note` is all different: skipped; `firearm_id` is never a stratum.
        let names: Vec<(&str, &str)> = strata
            .iter()
            .map(|s| (s.column.as_str(), s.value.as_str()))
            .collect();
        assert_eq!(names, [("kind", "photo"), ("kind", "scan")]);

        let photo = &strata[0];
        assert_eq!((photo.casings, photo.queries_with_mates), (1, 1));
        assert_eq!((photo.top1, photo.top10), (1.0, 1.0));
        assert_eq!(
            photo.pairs.known_match_pairs + photo.pairs.known_non_match_pairs,
            0
        );
        assert!(photo.pairs.auc.is_nan());

        let scan = &strata[1];
        assert_eq!((scan.casings, scan.queries_with_mates), (3, 3));
        assert!(
            (scan.top1 - 2.0 / 3.0).abs() < 1e-12,
            "a1's mate ranked 2nd"
        );
        assert_eq!(scan.top10, 1.0);
        assert_eq!(scan.pairs.known_match_pairs, 1, "only b1-b2");
        assert_eq!(scan.pairs.known_non_match_pairs, 2, "a1-b1 and b2-a1");
        assert_eq!(scan.pairs.auc, 1.0);
        assert!((scan.pairs.margin.unwrap() - 0.5).abs() < 1e-12);
    }

    #[test]
    fn a_labels_file_without_extra_columns_has_no_strata() {
        let rows = [
            row("a1", &[("firearm_id", "A")]),
            row("a2", &[("firearm_id", "A")]),
        ];
        assert!(by_stratum(&rows, &[], &[]).is_empty());
    }
}
