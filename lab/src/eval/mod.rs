//! `casetrace eval LABELS.csv`: accuracy and speed on a labelled set.
//!
//! Imports the set into a scratch data directory, asks for every casing's
//! candidates (leave-one-out: a casing is never its own candidate) and
//! reports top-1 and top-10 hit rates, the pair AUC of the fine score and
//! its margin (`separation.rs`), the same for each named component of the
//! score (`scored.rs`), the figures per stratum of any extra labels column
//! (`strata.rs`), the descriptor shortlist's recall, error rates at the
//! operating threshold (LR = 1), the calibration cross-validated over
//! firearms, and seconds per stage (`report.rs`). `--plots DIR` draws the ROC and
//! cumulative-match curves; `--write-calibration FILE` fits the
//! likelihood-ratio calibration on all the set's pairs and writes it.
//!
//! Sets too big for every pair take pipeline mode (`pipeline.rs`):
//! `--shortlist K`, `--distractors N`, `--baseline-fine-only` and
//! `--queries N`; see docs/evaluation.md.

mod crossval;
mod curves;
mod distractors;
mod marks;
mod pairs_csv;
mod pipeline;
mod pipeline_report;
mod plots;
mod png;
mod queries;
mod report;
mod scored;
mod separation;
mod strata;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context};
use casetrace_engine::calibration::{Calibration, Coverage, FitSource};
use casetrace_engine::EngineConfig;

use crossval::{cross_validate, ScoredPair};
use curves::{cumulative_match, error_rates, roc};
use marks::{fit_pin_log_odds, mark_figures, QueryMarks};
use pairs_csv::PairsCsv;
use plots::{Plot, Series};
use report::{print_report, EvalReport};
use scored::{
    component_scores, component_separations, hit_rates, split_component, split_scores, PairRecord,
    QueryRecord,
};
pub use separation::auc;
use separation::Separation;
use strata::by_stratum;

use crate::labelled_import::{import_rows, RowOutcome};
use crate::manifest::{read_manifest, ManifestRow};
use crate::open_engine;

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
    /// for analysis outside casetrace. In pipeline mode: the shortlisted
    /// pairs, each query's whole list.
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
    /// Which fine score ranks: `model` (the learned score, when one is
    /// installed) or `legacy` (the hand-weighted mean of NCC and cell
    /// score), so both can be measured on one set.
    #[arg(long, value_enum, default_value_t = Scorer::Model)]
    pub scorer: Scorer,
}

/// The fine score `eval` ranks by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scorer {
    Model,
    Legacy,
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

pub async fn run(cfg: EngineConfig, args: EvalArgs) -> anyhow::Result<ExitCode> {
    let mut cfg = cfg;
    if args.scorer == Scorer::Legacy {
        cfg.score_model = None;
    }
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
        if args.plots.is_some() || args.write_calibration.is_some() {
            bail!("--plots and --write-calibration need every pair scored: not in pipeline mode");
        }
        return pipeline::run(cfg, &args, &rows, firearm_of).await;
    }
    let scratch = tempfile::tempdir().context("creating a scratch data directory")?;
    let dir = args
        .keep
        .clone()
        .unwrap_or_else(|| scratch.path().to_path_buf());
    cfg.data_dir = dir;
    cfg.database_url = None;
    // Every casing must be fine-compared with every other for the pair AUC.
    cfg.shortlist = cfg.shortlist.max(rows.len());
    let engine = open_engine(cfg).await?;

    let per_casing = import_labelled(&engine, &rows).await?;

    let mut per_query: HashMap<&'static str, f64> = HashMap::new();
    let (mut recall10, mut recall50) = (0, 0);
    let (mut km_congruent, mut knm_congruent, mut valid_cells) = (Vec::new(), Vec::new(), 0.0);
    let mut scored_pairs = Vec::new();
    let mut pairs: Vec<PairRecord> = Vec::new();
    let mut queries: Vec<QueryRecord> = Vec::new();
    let mut query_marks: Vec<QueryMarks> = Vec::new();
    let mut conditions = CoverageSeen::default();
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
        query_marks.push(QueryMarks {
            candidates: list
                .candidates
                .iter()
                .map(|c| (is_mate(&c.casing.casing_id), component_scores(c)))
                .collect(),
        });
        for c in &list.candidates {
            let cells = &c.comparison.cells;
            valid_cells += cells.valid_cells as f64;
            let candidate_gun = firearm_of
                .get(&c.casing.casing_id)
                .cloned()
                .unwrap_or_default();
            let same_firearm = is_mate(&c.casing.casing_id);
            if let Some(out) = pairs_out.as_mut() {
                out.write(&row.casing_id, c, gun == &candidate_gun)?;
            }
            conditions.add(c);
            scored_pairs.push(ScoredPair {
                query_gun: gun.clone(),
                candidate_gun,
                score: c.score,
            });
            pairs.push(PairRecord {
                query: row.casing_id.clone(),
                candidate: c.casing.casing_id.clone(),
                same_firearm,
                score: c.score,
                components: component_scores(c),
            });
            if same_firearm {
                km_congruent.push(cells.congruent_cells as f64);
            } else {
                knm_congruent.push(cells.congruent_cells as f64);
            }
        }
        let has_mates = firearm_of
            .iter()
            .any(|(id, g)| g == gun && *id != row.casing_id);
        if !has_mates {
            continue;
        }
        queries.push(QueryRecord {
            casing_id: row.casing_id.clone(),
            first_mate_rank: list
                .candidates
                .iter()
                .position(|c| is_mate(&c.casing.casing_id))
                .map(|r| r + 1),
        });
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
    let q = queries.len().max(1) as f64;
    let (km, knm) = split_scores(&pairs);
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
        let name = path
            .file_stem()
            .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
        calibration
            .clone()
            .with_coverage(&name, conditions.coverage()?)
            .save(path)?;
        eprintln!("calibration written to {}", path.display());
    }
    if let Some(dir) = &args.plots {
        let first_mate_rank: Vec<Option<usize>> =
            queries.iter().map(|q| q.first_mate_rank).collect();
        let (km_ncc, knm_ncc) = split_component(&pairs, "registration_ncc");
        write_plots(dir, &km, &knm, &km_ncc, &knm_ncc, &first_mate_rank)?;
        eprintln!("plots written to {}", dir.display());
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let components = component_separations(&pairs);
    let component_auc = |name: &str| components.get(name).map_or(f64::NAN, |s| s.auc);
    let (top1, top10) = hit_rates(&queries);
    let report = EvalReport {
        casings: rows.len(),
        firearms: firearm_count(&firearm_of),
        queries_with_mates: queries.len(),
        top1,
        top10,
        pair_auc: auc(&km, &knm),
        separation: Separation::of(&km, &knm),
        pair_auc_registration_ncc: component_auc("registration_ncc"),
        pair_auc_cell_score: component_auc("cell_score"),
        components,
        marks: mark_figures(&query_marks, &pairs),
        firing_pin_log_odds: fit_pin_log_odds(&pairs, &args.labels.display().to_string()),
        strata: by_stratum(&rows, &queries, &pairs),
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

/// The conditions of the scored pairs, which a calibration fitted on them
/// covers: their surface kind, their files' resolutions, their cells.
#[derive(Default)]
struct CoverageSeen {
    kinds: std::collections::BTreeSet<String>,
    um_per_px: Vec<f64>,
    cells_possible: Vec<usize>,
}

impl CoverageSeen {
    fn add(&mut self, c: &casetrace_engine::service::Candidate) {
        self.kinds
            .insert(c.casing.surface_kind.as_str().to_string());
        self.um_per_px.push(c.casing.um_per_px);
        self.cells_possible.push(c.comparison.cells_possible);
    }

    fn coverage(&self) -> anyhow::Result<Coverage> {
        let kind = match self.kinds.iter().collect::<Vec<_>>()[..] {
            [one] => one,
            _ => bail!(
                "a calibration covers one surface kind; the set has {:?}",
                self.kinds
            ),
        };
        Coverage::of_pairs(kind, &self.um_per_px, &self.cells_possible)
            .context("no scored pairs to state a calibration's coverage")
    }
}

/// Import the labelled set, refusing the run if any row fails, and return
/// the seconds each stage took per casing, with `import_wall` the wall time
/// per casing with every worker busy (what ingest throughput is).
async fn import_labelled(
    engine: &casetrace_engine::Engine,
    rows: &[ManifestRow],
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
