//! What every-pair mode keeps from the candidate lists: each scored pair
//! with its combined score and its named component scores, and each query
//! with a mate with the rank of its first mate. The report's figures (over
//! the whole set, per component, per stratum) are all computed from these.

use std::collections::BTreeMap;

use casetrace_engine::service::Candidate;

use super::separation::Separation;

/// The named component scores of a comparison, reported next to the
/// combined score. This is the one place that knows which parts a
/// comparison has: the report, the JSON and the text take whatever names
/// it returns, so a new part (e.g. a per-mark score) is one line here.
pub fn component_scores(c: &Candidate) -> Vec<(String, f64)> {
    let mut parts = vec![
        ("registration_ncc".into(), c.comparison.registration_ncc),
        ("cell_score".into(), c.comparison.cells.cell_score),
        // The hand-weighted score the learned one replaced, so one run
        // measures both on the same pairs.
        ("legacy_score".into(), c.comparison.legacy_score),
        // Per mark: the breech face (the score), the firing pin where
        // both casings have one, and the marks combined (the list's order).
        ("breech_face".into(), c.marks.breech_face),
        ("combined".into(), c.marks.combined),
    ];
    if let Some(pin) = c.marks.firing_pin {
        parts.push(("firing_pin".into(), pin));
    }
    parts
}

/// One ordered pair (query, candidate) the fine comparison scored.
#[derive(Debug, Clone)]
pub struct PairRecord {
    pub query: String,
    pub candidate: String,
    /// Both casings are labelled with the same firearm.
    pub same_firearm: bool,
    pub score: f64,
    pub components: Vec<(String, f64)>,
}

/// One query that has a mate in the set.
#[derive(Debug, Clone)]
pub struct QueryRecord {
    pub casing_id: String,
    /// 1-based rank of the first mate in its list; `None` when no mate was
    /// listed (too little overlap to be scored).
    pub first_mate_rank: Option<usize>,
}

/// Top-1 and top-10 hit rates of some queries (0 when there are none).
pub fn hit_rates<'a>(queries: impl IntoIterator<Item = &'a QueryRecord>) -> (f64, f64) {
    let (mut n, mut top1, mut top10) = (0usize, 0usize, 0usize);
    for q in queries {
        n += 1;
        top1 += usize::from(q.first_mate_rank == Some(1));
        top10 += usize::from(q.first_mate_rank.is_some_and(|r| r <= 10));
    }
    let n = n.max(1) as f64;
    (top1 as f64 / n, top10 as f64 / n)
}

/// The combined score's known-match and known-non-match values.
pub fn split_scores<'a>(pairs: impl IntoIterator<Item = &'a PairRecord>) -> (Vec<f64>, Vec<f64>) {
    split(pairs, |p| Some(p.score))
}

/// One component's known-match and known-non-match values (pairs that do
/// not report it are left out).
pub fn split_component<'a>(
    pairs: impl IntoIterator<Item = &'a PairRecord>,
    name: &str,
) -> (Vec<f64>, Vec<f64>) {
    split(pairs, |p| {
        p.components
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
    })
}

fn split<'a>(
    pairs: impl IntoIterator<Item = &'a PairRecord>,
    value: impl Fn(&PairRecord) -> Option<f64>,
) -> (Vec<f64>, Vec<f64>) {
    let (mut km, mut knm) = (Vec::new(), Vec::new());
    for p in pairs {
        if let Some(v) = value(p) {
            if p.same_firearm {
                km.push(v);
            } else {
                knm.push(v);
            }
        }
    }
    (km, knm)
}

/// The separation of every component any pair reports, by name.
pub fn component_separations(pairs: &[PairRecord]) -> BTreeMap<String, Separation> {
    let mut names: Vec<&str> = Vec::new();
    for (name, _) in pairs.iter().flat_map(|p| &p.components) {
        if !names.contains(&name.as_str()) {
            names.push(name);
        }
    }
    names
        .into_iter()
        .map(|name| {
            let (km, knm) = split_component(pairs, name);
            (name.to_string(), Separation::of(&km, &knm))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(same: bool, score: f64, parts: &[(&str, f64)]) -> PairRecord {
        PairRecord {
            query: "q".into(),
            candidate: "c".into(),
            same_firearm: same,
            score,
            components: parts.iter().map(|(n, v)| (n.to_string(), *v)).collect(),
        }
    }

    #[test]
    fn every_named_component_gets_its_own_separation() {
        let pairs = [
            pair(true, 0.8, &[("a", 0.9), ("b", 0.1)]),
            pair(false, 0.2, &[("a", 0.1), ("b", 0.9)]),
            // A part only some comparisons report (e.g. a firing pin that
            // was not found on every casing) is judged on those pairs only.
            pair(true, 0.7, &[("a", 0.8), ("b", 0.2), ("firing_pin", 0.6)]),
            pair(false, 0.3, &[("a", 0.2), ("b", 0.8), ("firing_pin", 0.1)]),
        ];
        let by_name = component_separations(&pairs);
        assert_eq!(by_name.keys().collect::<Vec<_>>(), ["a", "b", "firing_pin"]);
        assert_eq!(by_name["a"].auc, 1.0);
        assert_eq!(by_name["b"].auc, 0.0, "a part that points the wrong way");
        assert_eq!(by_name["firing_pin"].known_match_pairs, 1);
        assert_eq!(by_name["firing_pin"].known_non_match_pairs, 1);
        let (km, knm) = split_scores(&pairs);
        assert_eq!((km, knm), (vec![0.8, 0.7], vec![0.2, 0.3]));
    }

    #[test]
    fn hit_rates_count_unlisted_mates_as_misses() {
        let q = |r| QueryRecord {
            casing_id: "x".into(),
            first_mate_rank: r,
        };
        let queries = [q(Some(1)), q(Some(4)), q(Some(11)), q(None)];
        assert_eq!(hit_rates(&queries), (0.25, 0.5));
        assert_eq!(hit_rates(&[]), (0.0, 0.0));
    }
}
