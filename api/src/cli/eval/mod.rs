//! `casetrace eval LABELS.csv`: accuracy and speed on a labelled set.
//!
//! Imports the set into a scratch data directory, asks for every casing's
//! candidates (leave-one-out: a casing is never its own candidate) and
//! reports top-1 and top-10 hit rates, the pair AUC of the fine score (and
//! of its two parts), the descriptor shortlist's recall, error rates at the
//! operating threshold (LR = 1), the calibration cross-validated over
//! firearms, and seconds per stage. `--plots DIR` draws the ROC and
//! cumulative-match curves; `--write-calibration FILE` fits the
//! likelihood-ratio calibration on all the set's pairs and writes it.
//!
//! Sets too big for every pair take pipeline mode (`pipeline.rs`):
//! `--shortlist K`, `--distractors N`, `--baseline-fine-only` and
//! `--queries N`; see docs/evaluation.md.

mod crossval;
mod curves;
mod distractors;
mod pipeline;
mod pipeline_report;
mod plots;
mod png;
mod queries;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context};
use casetrace_engine::calibration::{Calibration, FitSource};
use casetrace_engine::EngineConfig;

use crossval::{cross_validate, CrossValidation, ScoredPair};
use curves::{cumulative_match, error_rates, roc};
use plots::{Plot, Series};

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
    /// Write ROC and cumulative-match curves (SVG and PNG) into this folder.
    #[arg(long)]
    pub plots: Option<PathBuf>,
    /// Fit the likelihood-ratio calibration on every scored pair of the set
    /// and write it here (e.g. models/calibration/fine-score.json).
    #[arg(long)]
    pub write_calibration: Option<PathBuf>,
    /// Folds of the cross-validation over firearms.
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
    /// Write every scored pair (the parts of its score too) as CSV here,
    /// for analysis outside casetrace.
    #[arg(long)]
    pub pairs_out: Option<PathBuf>,
    /// Pipeline mode: each query takes the engine's normal path (a
    /// descriptor shortlist of K, fine-compared) instead of every pair.
    #[arg(long)]
    pub shortlist: Option<usize>,
    /// Pad the database with N synthetic casings of guns outside the set
    /// (nobody's mate, never queried) before the queries; pipeline mode.
    #[arg(long, default_value_t = 0)]
    pub distractors: usize,
    /// Seed of the distractors.
    #[arg(long, default_value_t = 9001)]
    pub distractor_seed: u64,
    /// Resolution of the distractors' scans, µm per pixel (default: the
    /// labelled set's median).
    #[arg(long)]
    pub distractor_um_per_px: Option<f64>,
    /// Also rank each query by the fine comparison alone, in a seeded
    /// random order, for the pipeline's wall time; pipeline mode.
    #[arg(long)]
    pub baseline_fine_only: bool,
    /// Seed of the baseline's random orders.
    #[arg(long, default_value_t = 1)]
    pub baseline_seed: u64,
    /// Query at most N casings, one per firearm in turn; pipeline mode.
    #[arg(long)]
    pub queries: Option<usize>,
}

impl EvalArgs {
    /// Any of the big-set options asks for pipeline mode.
    fn pipeline_mode(&self) -> bool {
        self.shortlist.is_some()
            || self.distractors > 0
            || self.baseline_fine_only
            || self.queries.is_some()
    }
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
    /// AUC of the two parts of the score alone.
    pub pair_auc_registration_ncc: f64,
    pub pair_auc_cell_score: f64,
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
    if args.pipeline_mode() {
        if args.plots.is_some() || args.write_calibration.is_some() || args.pairs_out.is_some() {
            bail!("--plots, --write-calibration and --pairs-out need every pair scored: not in pipeline mode");
        }
        return pipeline::run(cfg, &args, &rows, firearm_of).await;
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

    let per_casing = import_labelled(&engine, &rows).await?;

    let mut per_query: HashMap<&'static str, f64> = HashMap::new();
    let (mut top1, mut top10, mut with_mates, mut recall10, mut recall50) = (0, 0, 0, 0, 0);
    let (mut km, mut knm) = (Vec::new(), Vec::new());
    let (mut km_ncc, mut knm_ncc, mut km_cell, mut knm_cell) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut km_congruent, mut knm_congruent, mut valid_cells) = (Vec::new(), Vec::new(), 0.0);
    let mut scored_pairs = Vec::new();
    let mut first_mate_rank: Vec<Option<usize>> = Vec::new();
    let mut pairs_out = match &args.pairs_out {
        Some(path) => Some(PairsCsv::create(path)?),
        None => None,
    };
    for row in &rows {
        let agency = row.extra.get("agency").map_or("local", String::as_str);
        let list = engine
            .candidates(
                &super::operator(agency),
                Some(agency),
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
            let cells = &c.comparison.cells;
            valid_cells += cells.valid_cells as f64;
            let candidate_gun = firearm_of
                .get(&c.casing.casing_id)
                .cloned()
                .unwrap_or_default();
            if let Some(out) = pairs_out.as_mut() {
                out.write(&row.casing_id, c, gun == &candidate_gun)?;
            }
            scored_pairs.push(ScoredPair {
                query_gun: gun.clone(),
                candidate_gun,
                score: c.score,
            });
            if is_mate(&c.casing.casing_id) {
                km.push(c.score);
                km_ncc.push(c.comparison.registration_ncc);
                km_cell.push(cells.cell_score);
                km_congruent.push(cells.congruent_cells as f64);
            } else {
                knm.push(c.score);
                knm_ncc.push(c.comparison.registration_ncc);
                knm_cell.push(cells.cell_score);
                knm_congruent.push(cells.congruent_cells as f64);
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
        first_mate_rank.push(ranked.iter().position(|id| is_mate(id)).map(|r| r + 1));
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
    let calibration = Calibration::fit(
        &km,
        &knm,
        FitSource {
            fitted_on: args.labels.display().to_string(),
            casings: rows.len(),
            firearms: firearm_count(&firearm_of),
        },
    )?;
    let threshold = calibration.neutral_score();
    let (fpr, fnr) = error_rates(&km, &knm, threshold);
    let cross_validation = match cross_validate(&scored_pairs, args.folds) {
        Ok(cv) => Some(cv),
        Err(e) => {
            eprintln!("cross-validation skipped: {e}");
            None
        }
    };
    if let Some(path) = &args.write_calibration {
        calibration.save(path)?;
        eprintln!("calibration written to {}", path.display());
    }
    if let Some(dir) = &args.plots {
        write_plots(dir, &km, &knm, &km_ncc, &knm_ncc, &first_mate_rank)?;
        eprintln!("plots written to {}", dir.display());
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let report = EvalReport {
        casings: rows.len(),
        firearms: firearm_count(&firearm_of),
        queries_with_mates: with_mates,
        top1: top1 as f64 / q,
        top10: top10 as f64 / q,
        pair_auc: auc(&km, &knm),
        pair_auc_registration_ncc: auc(&km_ncc, &knm_ncc),
        pair_auc_cell_score: auc(&km_cell, &knm_cell),
        mean_congruent_cells_match: mean(&km_congruent),
        mean_congruent_cells_non_match: mean(&knm_congruent),
        mean_valid_cells: valid_cells / (km.len() + knm.len()).max(1) as f64,
        operating_threshold: threshold,
        false_positive_rate: fpr,
        false_negative_rate: fnr,
        cross_validation,
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

/// The `--pairs-out` file: one row per scored pair.
struct PairsCsv {
    path: PathBuf,
    out: std::io::BufWriter<std::fs::File>,
}

impl PairsCsv {
    fn create(path: &std::path::Path) -> anyhow::Result<Self> {
        use std::io::Write;
        let file =
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let mut out = std::io::BufWriter::new(file);
        writeln!(
            out,
            "query,candidate,same_firearm,score,registration_ncc,cell_score,congruent_cells,valid_cells,overlap_fraction,descriptor_similarity"
        )?;
        Ok(PairsCsv {
            path: path.to_path_buf(),
            out,
        })
    }

    fn write(
        &mut self,
        query: &str,
        c: &casetrace_engine::service::Candidate,
        same_firearm: bool,
    ) -> anyhow::Result<()> {
        use std::io::Write;
        let cmp = &c.comparison;
        writeln!(
            self.out,
            "{query},{},{same_firearm},{:.6},{:.6},{:.6},{},{},{:.4},{:.6}",
            c.casing.casing_id,
            c.score,
            cmp.registration_ncc,
            cmp.cells.cell_score,
            cmp.cells.congruent_cells,
            cmp.cells.valid_cells,
            cmp.overlap_fraction,
            c.descriptor_similarity
        )
        .with_context(|| format!("writing {}", self.path.display()))
    }
}

/// Import the labelled set, refusing the run if any row fails, and return
/// the seconds each stage took per casing, with `import_wall` the wall time
/// per casing with every worker busy (what ingest throughput is).
async fn import_labelled(
    engine: &casetrace_engine::Engine,
    rows: &[super::manifest::ManifestRow],
) -> anyhow::Result<HashMap<&'static str, f64>> {
    let started = Instant::now();
    let outcomes = import_rows(engine, rows).await;
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
    let n = rows.len().max(1) as f64;
    per_casing.values_mut().for_each(|v| *v /= n);
    per_casing.insert("import_wall", import_s / n);
    Ok(per_casing)
}

fn firearm_count(firearm_of: &HashMap<String, String>) -> usize {
    firearm_of
        .values()
        .collect::<std::collections::HashSet<_>>()
        .len()
}

/// ROC of the final score and of the whole-surface correlation alone, and
/// the cumulative-match curve of the ranked lists.
fn write_plots(
    dir: &std::path::Path,
    km: &[f64],
    knm: &[f64],
    km_ncc: &[f64],
    knm_ncc: &[f64],
    first_mate_rank: &[Option<usize>],
) -> anyhow::Result<()> {
    Plot {
        title: format!(
            "ROC of scored pairs ({} known-match, {} known-non-match)",
            km.len(),
            knm.len()
        ),
        x_label: "false positive rate".into(),
        y_label: "true positive rate".into(),
        x_range: (0.0, 1.0),
        y_range: (0.0, 1.0),
        series: vec![
            Series {
                name: format!("fine score (AUC {:.4})", auc(km, knm)),
                points: roc(km, knm),
            },
            Series {
                name: format!("whole-surface NCC only (AUC {:.4})", auc(km_ncc, knm_ncc)),
                points: roc(km_ncc, knm_ncc),
            },
        ],
    }
    .write(dir, "roc")?;
    let max_k = 20;
    let cmc = cumulative_match(first_mate_rank, max_k);
    Plot {
        title: format!(
            "Cumulative match ({} queries with a mate)",
            first_mate_rank.len()
        ),
        x_label: "rank k".into(),
        y_label: "share of queries with a mate in the first k".into(),
        x_range: (1.0, max_k as f64),
        y_range: (0.0, 1.0),
        series: vec![Series {
            name: "full pipeline".into(),
            points: cmc.iter().map(|(k, r)| (*k as f64, *r)).collect(),
        }],
    }
    .write(dir, "cmc")
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
        "  parts: whole-surface NCC AUC {:.4}, cell score AUC {:.4}; congruent cells {:.1} (matches) vs {:.1} (non-matches) of {:.1} scored",
        r.pair_auc_registration_ncc,
        r.pair_auc_cell_score,
        r.mean_congruent_cells_match,
        r.mean_congruent_cells_non_match,
        r.mean_valid_cells
    );
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
