//! `casetrace eval LABELS.csv`: accuracy and speed on a labelled set.
//!
//! Imports the set into a scratch data directory, asks for every casing's
//! candidates (leave-one-out: a casing is never its own candidate) and
//! reports top-1 and top-10 hit rates, the pair AUC of the fine score, the
//! descriptor shortlist's recall, and seconds per stage.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context};
use casetrace_engine::EngineConfig;

use super::import::{import_rows, RowOutcome};
use super::manifest::read_manifest;
use super::open_engine;

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// CSV with columns casing_id,firearm_id,file.
    pub labels: PathBuf,
    /// Keep the scratch data directory here instead of a temporary one.
    #[arg(long)]
    pub keep: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

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
    pub known_match_pairs: usize,
    pub known_non_match_pairs: usize,
    /// Share of queries with a mate among the descriptor's first k.
    pub shortlist_recall_at_10: f64,
    pub shortlist_recall_at_50: f64,
    pub seconds_per_casing: HashMap<&'static str, f64>,
    pub seconds_per_query: HashMap<&'static str, f64>,
}

pub async fn run(cfg: EngineConfig, args: EvalArgs) -> anyhow::Result<ExitCode> {
    let rows = read_manifest(&args.labels)?;
    let firearm_of: HashMap<String, String> = rows
        .iter()
        .map(|r| {
            let gun = r.extra.get("firearm_id").cloned().unwrap_or_default();
            (r.casing_id.clone(), gun)
        })
        .collect();
    if firearm_of.values().any(String::is_empty) {
        bail!("{}: every row needs a firearm_id", args.labels.display());
    }
    let scratch = tempfile::tempdir().context("creating a scratch data directory")?;
    let dir = args
        .keep
        .clone()
        .unwrap_or_else(|| scratch.path().to_path_buf());
    let mut cfg = cfg;
    cfg.data_dir = dir;
    cfg.database_url = None;
    // Every casing must be fine-compared with every other for the pair AUC.
    cfg.shortlist = cfg.shortlist.max(rows.len());
    let engine = open_engine(cfg).await?;

    let started = Instant::now();
    let outcomes = import_rows(&engine, &rows).await;
    let import_s = started.elapsed().as_secs_f64();
    let mut per_casing: HashMap<&'static str, f64> = HashMap::new();
    for (row, outcome) in rows.iter().zip(&outcomes) {
        match outcome {
            RowOutcome::Failed(reason) => bail!("row {} ({}): {reason}", row.line, row.casing_id),
            RowOutcome::Imported(t) => {
                *per_casing.entry("decode").or_default() += t.decode_s;
                *per_casing.entry("preprocess").or_default() += t.preprocess_s;
                *per_casing.entry("describe").or_default() += t.describe_s;
            }
            RowOutcome::AlreadyOnFile => {}
        }
    }

    let mut per_query: HashMap<&'static str, f64> = HashMap::new();
    let (mut top1, mut top10, mut with_mates, mut recall10, mut recall50) = (0, 0, 0, 0, 0);
    let (mut km, mut knm) = (Vec::new(), Vec::new());
    for row in &rows {
        let list = engine
            .candidates(
                row.extra.get("agency").map_or("local", String::as_str),
                &row.casing_id,
                rows.len(),
            )
            .await?;
        *per_query.entry("search").or_default() += list.timings.search_s;
        *per_query.entry("load").or_default() += list.timings.load_s;
        *per_query.entry("compare").or_default() += list.timings.compare_s;
        let gun = &firearm_of[&row.casing_id];
        let is_mate = |id: &str| firearm_of.get(id) == Some(gun);
        for c in &list.candidates {
            if is_mate(&c.casing.casing_id) {
                km.push(c.score)
            } else {
                knm.push(c.score)
            }
        }
        let has_mates = firearm_of
            .iter()
            .any(|(id, g)| g == gun && *id != row.casing_id);
        if !has_mates {
            continue;
        }
        with_mates += 1;
        let ranked: Vec<&str> = list
            .candidates
            .iter()
            .map(|c| c.casing.casing_id.as_str())
            .collect();
        top1 += usize::from(ranked.first().is_some_and(|id| is_mate(id)));
        top10 += usize::from(ranked.iter().take(10).any(|id| is_mate(id)));
        let mut by_descriptor = list.candidates.clone();
        by_descriptor.sort_by(|a, b| b.descriptor_similarity.total_cmp(&a.descriptor_similarity));
        recall10 += usize::from(
            by_descriptor
                .iter()
                .take(10)
                .any(|c| is_mate(&c.casing.casing_id)),
        );
        recall50 += usize::from(
            by_descriptor
                .iter()
                .take(50)
                .any(|c| is_mate(&c.casing.casing_id)),
        );
    }
    let n = rows.len().max(1) as f64;
    per_query.values_mut().for_each(|v| *v /= n);
    let q = with_mates.max(1) as f64;
    per_casing.values_mut().for_each(|v| *v /= n);
    // Wall time per casing with every worker busy: what ingest throughput is.
    per_casing.insert("import_wall", import_s / n);
    let report = EvalReport {
        casings: rows.len(),
        firearms: firearm_of
            .values()
            .collect::<std::collections::HashSet<_>>()
            .len(),
        queries_with_mates: with_mates,
        top1: top1 as f64 / q,
        top10: top10 as f64 / q,
        pair_auc: auc(&km, &knm),
        known_match_pairs: km.len(),
        known_non_match_pairs: knm.len(),
        shortlist_recall_at_10: recall10 as f64 / q,
        shortlist_recall_at_50: recall50 as f64 / q,
        seconds_per_casing: per_casing,
        seconds_per_query: per_query,
    };
    print_report(&report, args.json);
    Ok(ExitCode::SUCCESS)
}

/// Area under the ROC curve: the probability that a known-match pair
/// outscores a known-non-match pair (ties count half), by ranks.
pub fn auc(positives: &[f64], negatives: &[f64]) -> f64 {
    if positives.is_empty() || negatives.is_empty() {
        return f64::NAN;
    }
    let mut all: Vec<(f64, bool)> = positives
        .iter()
        .map(|s| (*s, true))
        .chain(negatives.iter().map(|s| (*s, false)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j < all.len() && all[j].0 == all[i].0 {
            j += 1;
        }
        let mid_rank = (i + j + 1) as f64 / 2.0;
        rank_sum += mid_rank * all[i..j].iter().filter(|x| x.1).count() as f64;
        i = j;
    }
    let (p, n) = (positives.len() as f64, negatives.len() as f64);
    (rank_sum - p * (p + 1.0) / 2.0) / (p * n)
}

fn print_report(r: &EvalReport, json: bool) {
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
    println!(
        "descriptor shortlist recall@10 {:.4}  recall@50 {:.4}",
        r.shortlist_recall_at_10, r.shortlist_recall_at_50
    );
    let mut stages: Vec<_> = r.seconds_per_casing.iter().collect();
    stages.sort_by_key(|(k, _)| **k);
    for (k, v) in stages {
        println!("per casing  {k:<20} {:>9.1} ms", v * 1e3);
    }
    let mut stages: Vec<_> = r.seconds_per_query.iter().collect();
    stages.sort_by_key(|(k, _)| **k);
    for (k, v) in stages {
        println!("per query   {k:<20} {:>9.1} ms", v * 1e3);
    }
}

#[cfg(test)]
mod tests {
    use super::auc;

    #[test]
    fn auc_of_separated_tied_and_reversed_scores() {
        assert_eq!(auc(&[0.9, 0.8], &[0.1, 0.2, 0.3]), 1.0);
        assert_eq!(auc(&[0.5], &[0.5]), 0.5);
        assert_eq!(auc(&[0.1], &[0.9]), 0.0);
    }
}
