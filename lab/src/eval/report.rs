//! What every-pair mode reports, and how it prints.

use std::collections::{BTreeMap, HashMap};

use super::crossval::CrossValidation;
use super::marks::{MarkFigures, PinLogOddsFit};
use super::separation::Separation;
use super::strata::Stratum;

/// The figures `eval` reports.
#[derive(Debug, serde::Serialize)]
pub struct EvalReport {
    pub casings: usize,
    pub firearms: usize,
    /// Queries that have at least one mate in the set.
    pub queries_with_mates: usize,
    pub top1: f64,
    pub top10: f64,
    pub pair_auc: f64,
    /// The combined score's AUC again, with the margin between the weakest
    /// known match and the strongest known non-match (AUC saturates at 1;
    /// the margin does not).
    pub separation: Separation,
    /// Each named component of the score alone, by name (today
    /// `registration_ncc` and `cell_score`; see `scored::component_scores`).
    pub components: BTreeMap<String, Separation>,
    /// AUC of the two original parts of the score alone (kept for readers
    /// of earlier reports; the same as in `components`).
    pub pair_auc_registration_ncc: f64,
    pub pair_auc_cell_score: f64,
    /// Per mark (breech face, firing pin, combined), over the queries and
    /// pairs where that mark exists. `score`, the AUC above and the
    /// calibration are the breech face's; top-1 is the list's order, the
    /// marks combined.
    pub marks: Vec<MarkFigures>,
    /// The firing-pin score's log-odds refitted on this set (what
    /// `comparison::PIN_LOG_ODDS` ships); absent without pin pairs.
    pub firing_pin_log_odds: Option<PinLogOddsFit>,
    /// One entry per value of each extra column of the labels file.
    pub strata: Vec<Stratum>,
    /// Mean congruent cells (of the scored cells) for known matches and
    /// known non-matches.
    pub mean_congruent_cells_match: f64,
    pub mean_congruent_cells_non_match: f64,
    pub mean_valid_cells: f64,
    /// The operating threshold: the score where the calibration fitted on
    /// the whole set gives LR = 1, and the pair error rates there.
    pub operating_threshold: f64,
    pub false_positive_rate: f64,
    pub false_negative_rate: f64,
    /// The calibration scored on held-out firearms.
    pub cross_validation: Option<CrossValidation>,
    pub known_match_pairs: usize,
    pub known_non_match_pairs: usize,
    /// Share of queries with a mate among the descriptor's first k.
    pub shortlist_recall_at_10: f64,
    pub shortlist_recall_at_50: f64,
    pub seconds_per_casing: HashMap<&'static str, f64>,
    pub seconds_per_query: HashMap<&'static str, f64>,
}

pub fn print_report(r: &EvalReport, json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(r).unwrap_or_default());
        return;
    }
    println!(
        "casings {}  firearms {}  queries with a mate {}",
        r.casings, r.firearms, r.queries_with_mates
    );
    println!("top-1 {:.4}  top-10 {:.4}", r.top1, r.top10);
    println!(
        "pair AUC {:.4}  ({} known-match, {} known-non-match scored pairs)",
        r.pair_auc, r.known_match_pairs, r.known_non_match_pairs
    );
    print_separation_line("score", &r.separation);
    for (name, s) in &r.components {
        print_separation_line(name, s);
    }
    print_marks(&r.marks, r.firing_pin_log_odds);
    println!(
        "  congruent cells a pair {:.1} (matches) vs {:.1} (non-matches); valid cells a pair {:.1} (all scored pairs)",
        r.mean_congruent_cells_match, r.mean_congruent_cells_non_match, r.mean_valid_cells
    );
    print_strata(&r.strata);
    println!(
        "operating threshold (LR = 1) score {:.4}: false positive rate {:.5}, false negative rate {:.5}",
        r.operating_threshold, r.false_positive_rate, r.false_negative_rate
    );
    if let Some(cv) = &r.cross_validation {
        println!(
            "calibration cross-validated over firearms ({} folds): Cllr {:.4}, FPR {:.5}, FNR {:.5} at LR > 1 on {} known-match / {} known-non-match held-out pairs; log10 LR in [{:.2}, {:.2}]",
            cv.folds,
            cv.cllr,
            cv.false_positive_rate,
            cv.false_negative_rate,
            cv.known_match_pairs,
            cv.known_non_match_pairs,
            cv.min_log10_lr,
            cv.max_log10_lr
        );
    }
    println!(
        "descriptor shortlist recall@10 {:.4}  recall@50 {:.4}",
        r.shortlist_recall_at_10, r.shortlist_recall_at_50
    );
    print_seconds("per casing", &r.seconds_per_casing);
    print_seconds("per query ", &r.seconds_per_query);
}

/// `  score             AUC 1.0000  margin 0.1750 (4.21 KNM SD): weakest
/// known match 0.3530, strongest known non-match 0.1780`
fn print_separation_line(name: &str, s: &Separation) {
    let extremes = match (s.weakest_known_match, s.strongest_known_non_match) {
        (Some(km), Some(knm)) => {
            format!(": weakest known match {km:.4}, strongest known non-match {knm:.4}")
        }
        _ => String::new(),
    };
    println!(
        "  {name:<18} AUC {:.4}  {}{extremes}",
        s.auc,
        s.margin_text()
    );
}

/// `per mark (where both casings carry it):` then one line a mark.
pub(super) fn print_marks(marks: &[MarkFigures], fit: Option<PinLogOddsFit>) {
    println!("per mark (queries and pairs where both casings carry the mark):");
    for m in marks {
        // A mark no pair carries (Weller's firing pin) has no figures; a
        // 0.0000 there would read as a measured failure.
        if m.queries == 0 && m.pairs.known_match_pairs + m.pairs.known_non_match_pairs == 0 {
            println!("  {:<12} not carried by any pair of this set", m.mark);
            continue;
        }
        println!(
            "  {:<12} queries {:>5}  top-1 {:.4}  pair AUC {:.4}  ({} KM / {} KNM pairs)  {}",
            m.mark,
            m.queries,
            m.top1,
            m.pairs.auc,
            m.pairs.known_match_pairs,
            m.pairs.known_non_match_pairs,
            m.pairs.margin_text()
        );
    }
    if let Some(f) = fit {
        println!(
            "  firing_pin log-odds refitted on this set: {:.3} + {:.3} · pin (shipped: comparison::PIN_LOG_ODDS)",
            f.intercept, f.slope
        );
    }
}

fn print_strata(strata: &[Stratum]) {
    if strata.is_empty() {
        return;
    }
    println!(
        "per stratum (queries: their own casing's value, ranked against the whole set; pairs: both casings share the value):"
    );
    println!(
        "  {:<24} {:>7} {:>7} {:>7} {:>7} {:>8} {:>12}  margin",
        "column = value", "casings", "queries", "top-1", "top-10", "pair AUC", "KM/KNM pairs"
    );
    for s in strata {
        println!(
            "  {:<24} {:>7} {:>7} {:>7.4} {:>7.4} {:>8.4} {:>12}  {}",
            format!("{} = {}", s.column, s.value),
            s.casings,
            s.queries_with_mates,
            s.top1,
            s.top10,
            s.pairs.auc,
            format!(
                "{}/{}",
                s.pairs.known_match_pairs, s.pairs.known_non_match_pairs
            ),
            s.pairs.margin_text()
        );
    }
}

fn print_seconds(label: &str, seconds: &HashMap<&'static str, f64>) {
    let mut stages: Vec<_> = seconds.iter().collect();
    stages.sort_by_key(|(k, _)| **k);
    for (k, v) in stages {
        println!("{label}  {k:<20} {:>9.1} ms", v * 1e3);
    }
}
