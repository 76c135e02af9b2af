//! What pipeline mode reports, and how it prints: the pipeline's ranking
//! and the fine-comparison-alone baseline side by side.

use std::collections::HashMap;

use super::distractors::Padding;
use super::marks::{MarkFigures, PinLogOddsFit};
use super::queries::Labels;
use super::separation::Separation;

/// The figures of pipeline mode.
#[derive(Debug, serde::Serialize)]
pub struct PipelineReport {
    /// Labelled casings and their firearms.
    pub casings: usize,
    pub firearms: usize,
    /// Casings on file when the queries ran (labelled + distractors).
    pub database_casings: usize,
    pub distractors: Option<Padding>,
    pub queries: usize,
    pub queries_with_mates: usize,
    pub query_selection: String,
    /// Casings the descriptor hands to the fine comparison per query.
    pub shortlist: usize,
    /// The descriptor's order alone, against the whole (padded) database.
    pub descriptor: DescriptorRecall,
    /// The full pipeline: the shortlist ranked by fine score.
    pub pipeline: Ranking,
    /// AUC of the fine score over the scored (shortlisted) pairs.
    pub pair_auc: f64,
    /// The same pairs' AUC and margin (weakest known match − strongest
    /// known non-match, also in known-non-match SDs).
    pub separation: Separation,
    pub known_match_pairs: usize,
    pub known_non_match_pairs: usize,
    /// Per mark (breech face, firing pin, combined) over the shortlisted
    /// pairs and the queries where that mark exists; `pair_auc` above is
    /// the breech face's, the pipeline's top-1 the marks combined.
    pub marks: Vec<MarkFigures>,
    /// The firing-pin score's log-odds refitted on the shortlisted pairs.
    pub firing_pin_log_odds: Option<PinLogOddsFit>,
    pub baseline_fine_only: Option<Baseline>,
    pub seconds_per_casing: HashMap<&'static str, f64>,
    pub seconds_per_query: HashMap<&'static str, f64>,
}

/// Share of queries with a mate among the descriptor's first k.
#[derive(Debug, serde::Serialize)]
pub struct DescriptorRecall {
    pub recall_at_10: f64,
    pub recall_at_50: f64,
    pub recall_at_100: f64,
    /// Mean places of the first 50 taken by unlabelled (distractor) casings.
    pub mean_distractors_in_top_50: f64,
}

/// A ranked list's hit rates over the queries with a mate.
#[derive(Debug, serde::Serialize)]
pub struct Ranking {
    pub top1: f64,
    pub top10: f64,
    /// A mate among the list's first 50.
    pub recall_at_50: f64,
}

/// The fine comparison alone, for the pipeline's wall time per query.
#[derive(Debug, serde::Serialize)]
pub struct Baseline {
    pub ranking: Ranking,
    /// Seed of the random orders.
    pub seed: u64,
    /// Casings compared per query on average.
    pub mean_compared: f64,
    pub mean_budget_s: f64,
    pub mean_elapsed_s: f64,
}

/// Counts behind a [`Ranking`].
#[derive(Debug, Default)]
pub struct Tally {
    pub queries: usize,
    top1: usize,
    top10: usize,
    top50: usize,
}

impl Tally {
    /// Count one query's ranked list (best first).
    pub fn add(&mut self, labels: &Labels, query: &str, ranked: &[&str]) {
        let first_mate = ranked.iter().position(|c| labels.is_mate(query, c));
        self.queries += 1;
        self.top1 += usize::from(first_mate == Some(0));
        self.top10 += usize::from(first_mate.is_some_and(|r| r < 10));
        self.top50 += usize::from(first_mate.is_some_and(|r| r < 50));
    }

    pub fn figures(&self) -> Ranking {
        let q = self.queries.max(1) as f64;
        Ranking {
            top1: self.top1 as f64 / q,
            top10: self.top10 as f64 / q,
            recall_at_50: self.top50 as f64 / q,
        }
    }
}

pub fn print_report(r: &PipelineReport, json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(r).unwrap_or_default());
        return;
    }
    println!(
        "labelled casings {}  firearms {}  on file {}  queries {} ({}; {} with a mate)  shortlist {}",
        r.casings,
        r.firearms,
        r.database_casings,
        r.queries,
        r.query_selection,
        r.queries_with_mates,
        r.shortlist
    );
    if let Some(d) = &r.distractors {
        println!(
            "distractors {} from {} synthetic guns (seed {}, {} µm/px): generated in {:.0} s, imported in {:.0} s ({:.1} casings/s)",
            d.casings, d.guns, d.seed, d.um_per_px, d.generate_s, d.import_s, d.import_per_s
        );
    }
    let s = &r.descriptor;
    println!(
        "descriptor shortlist recall@10 {:.4}  recall@50 {:.4}  recall@100 {:.4}  (distractors in the first 50: {:.1} on average)",
        s.recall_at_10, s.recall_at_50, s.recall_at_100, s.mean_distractors_in_top_50
    );
    println!(
        "pair AUC over scored pairs {:.4}  ({} known-match, {} known-non-match)",
        r.pair_auc, r.known_match_pairs, r.known_non_match_pairs
    );
    println!("  {}", r.separation.margin_text());
    super::report::print_marks(&r.marks, r.firing_pin_log_odds);
    println!(
        "{:<34} {:>7} {:>7} {:>9}",
        "", "top-1", "top-10", "recall@50"
    );
    let line = |name: &str, k: &Ranking| {
        println!(
            "{name:<34} {:>7.4} {:>7.4} {:>9.4}",
            k.top1, k.top10, k.recall_at_50
        );
    };
    line(
        &format!("pipeline (shortlist {})", r.shortlist),
        &r.pipeline,
    );
    if let Some(b) = &r.baseline_fine_only {
        line("fine comparison alone, same time", &b.ranking);
        println!(
            "  baseline: {:.1} casings compared per query in {:.0} ms (budget {:.0} ms), random order seed {}",
            b.mean_compared,
            b.mean_elapsed_s * 1e3,
            b.mean_budget_s * 1e3,
            b.seed
        );
    }
    let mut stages: Vec<_> = r.seconds_per_casing.iter().collect();
    stages.sort_by_key(|(k, _)| **k);
    for (k, v) in stages {
        println!("per casing  {k:<26} {:>9.1} ms", v * 1e3);
    }
    let mut stages: Vec<_> = r.seconds_per_query.iter().collect();
    stages.sort_by_key(|(k, _)| **k);
    for (k, v) in stages {
        println!("per query   {k:<26} {:>9.1} ms", v * 1e3);
    }
}
