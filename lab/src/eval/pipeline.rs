//! Pipeline mode of `casetrace eval`, for sets too big to compare every
//! pair: each query takes the engine's normal path (descriptor shortlist of
//! K, fine comparison of those K). Optionally the database is first padded
//! with synthetic distractors (`--distractors N`), and each query is also
//! given to the fine comparison alone for the same wall time
//! (`--baseline-fine-only`), so the two can be put side by side. The
//! per-mark figures (breech face, firing pin, combined) are those of
//! every-pair mode, over the shortlisted pairs; `--pairs-out` writes them.

use std::collections::{HashMap, HashSet};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use casetrace_engine::{Engine, EngineConfig};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::distractors;
use super::marks::{fit_pin_log_odds, mark_figures, QueryMarks};
use super::pairs_csv::PairsCsv;
use super::pipeline_report::{print_report, Baseline, DescriptorRecall, PipelineReport, Tally};
use super::queries::{select_queries, Labels};
use super::scored::{component_scores, PairRecord};
use super::separation::Separation;
use super::{import_labelled, EvalArgs};
use crate::manifest::ManifestRow;
use crate::open_engine;

/// Depths at which the descriptor shortlist's recall is reported.
const RECALL_DEPTHS: [usize; 3] = [10, 50, 100];

pub async fn run(
    cfg: EngineConfig,
    args: &EvalArgs,
    rows: &[ManifestRow],
    firearm_of: HashMap<String, String>,
) -> anyhow::Result<ExitCode> {
    distractors::check_labels(rows.iter().map(|r| &r.casing_id))?;
    let scratch = tempfile::tempdir().context("creating a scratch data directory")?;
    let mut cfg = cfg;
    cfg.data_dir = args
        .keep
        .clone()
        .unwrap_or_else(|| scratch.path().to_path_buf());
    cfg.database_url = None;
    if let Some(k) = args.shortlist {
        cfg.shortlist = k.max(1);
    }
    // This mode measures the shortlist path, also on sets small enough for
    // the engine to compare every casing (what the every-pair mode
    // measures).
    cfg.compare_all_up_to = 0;
    let shortlist = cfg.shortlist;
    let engine = open_engine(cfg).await?;

    let per_casing = import_labelled(&engine, rows).await?;

    let padding = if args.distractors > 0 {
        let um = match args.distractor_um_per_px {
            Some(um) => um,
            None => median_resolution(&engine).await?,
        };
        Some(distractors::pad(&engine, args.distractors, args.distractor_seed, um).await?)
    } else {
        None
    };
    let database_casings = engine.casing_count().await? as usize;

    let labels = Labels::new(firearm_of.clone());
    let queries = select_queries(rows, &firearm_of, args.queries);
    // The baseline draws from every casing on file, distractors included.
    let everyone: Vec<i64> = engine
        .casings(&crate::operator("local"))
        .await?
        .into_iter()
        .map(|r| r.id)
        .collect();
    // A new query would be described before its search; the baseline gets
    // that time too, so it is never short-changed.
    let describe_s = per_casing.get("describe").copied().unwrap_or(0.0);
    let depth = shortlist.max(*RECALL_DEPTHS.last().unwrap_or(&100));

    let mut descriptor = DescriptorTally::default();
    let (mut pipeline, mut baseline) = (Tally::default(), Tally::default());
    let mut stages: HashMap<&'static str, f64> = HashMap::new();
    let (mut km, mut knm) = (Vec::new(), Vec::new());
    let mut pairs: Vec<PairRecord> = Vec::new();
    let mut query_marks: Vec<QueryMarks> = Vec::new();
    let mut pairs_out = match &args.pairs_out {
        Some(path) => Some(PairsCsv::create(path)?),
        None => None,
    };
    let (mut compared, mut budget_s, mut baseline_s) = (0usize, 0.0, 0.0);
    let run_started = Instant::now();
    for (qi, row) in queries.iter().enumerate() {
        let agency = row.extra.get("agency").map_or("local", String::as_str);
        let id = row.casing_id.as_str();
        let has_mates = labels.has_mates(id);

        let t = Instant::now();
        let operator = crate::operator(agency);
        let short = engine
            .descriptor_shortlist(&operator, agency, id, depth)
            .await?;
        *stages.entry("descriptor_shortlist_only").or_default() += t.elapsed().as_secs_f64();
        if has_mates {
            let ids: Vec<&str> = short.iter().map(|e| e.casing.casing_id.as_str()).collect();
            descriptor.add(&labels, id, &ids);
        }

        let t = Instant::now();
        let list = engine
            .candidates(&operator, Some(agency), id, shortlist)
            .await?;
        let wall = t.elapsed();
        *stages.entry("pipeline_wall").or_default() += wall.as_secs_f64();
        *stages.entry("search").or_default() += list.timings.search_s;
        *stages.entry("load").or_default() += list.timings.load_s;
        *stages.entry("compare").or_default() += list.timings.compare_s;
        let mut marks = QueryMarks::default();
        for c in &list.candidates {
            let same_firearm = labels.is_mate(id, &c.casing.casing_id);
            if same_firearm {
                km.push(c.score);
            } else {
                knm.push(c.score);
            }
            if let Some(out) = pairs_out.as_mut() {
                out.write(id, c, same_firearm)?;
            }
            let components = component_scores(c);
            marks.candidates.push((same_firearm, components.clone()));
            pairs.push(PairRecord {
                query: id.to_string(),
                candidate: c.casing.casing_id.clone(),
                same_firearm,
                score: c.score,
                components,
            });
        }
        query_marks.push(marks);
        let ranked: Vec<&str> = list
            .candidates
            .iter()
            .map(|c| c.casing.casing_id.as_str())
            .collect();
        if has_mates {
            pipeline.add(&labels, id, &ranked);
        }

        if args.baseline_fine_only {
            let order = shuffled(&everyone, args.baseline_seed, qi as u64);
            let budget = wall + Duration::from_secs_f64(describe_s);
            let ranking = engine
                .fine_compare_within(&operator, agency, id, &order, budget)
                .await?;
            compared += ranking.compared;
            budget_s += budget.as_secs_f64();
            baseline_s += ranking.elapsed_s;
            if has_mates {
                let ids: Vec<&str> = ranking
                    .ranked
                    .iter()
                    .map(|m| m.casing.casing_id.as_str())
                    .collect();
                baseline.add(&labels, id, &ids);
            }
        }
        if (qi + 1) % 10 == 0 || qi + 1 == queries.len() {
            eprintln!(
                "queries: {} of {} ({:.0} s)",
                qi + 1,
                queries.len(),
                run_started.elapsed().as_secs_f64()
            );
        }
    }
    let q = queries.len().max(1) as f64;
    stages.values_mut().for_each(|v| *v /= q);
    let report = PipelineReport {
        casings: rows.len(),
        firearms: firearm_of.values().collect::<HashSet<_>>().len(),
        database_casings,
        distractors: padding,
        queries: queries.len(),
        queries_with_mates: pipeline.queries,
        query_selection: match args.queries {
            Some(n) => format!("at most {n}, one per firearm in turn"),
            None => "every casing".into(),
        },
        shortlist,
        descriptor: descriptor.figures(),
        pipeline: pipeline.figures(),
        pair_auc: super::auc(&km, &knm),
        separation: Separation::of(&km, &knm),
        known_match_pairs: km.len(),
        known_non_match_pairs: knm.len(),
        marks: mark_figures(&query_marks, &pairs),
        firing_pin_log_odds: fit_pin_log_odds(&pairs, &args.labels.display().to_string()),
        baseline_fine_only: args.baseline_fine_only.then(|| Baseline {
            ranking: baseline.figures(),
            seed: args.baseline_seed,
            mean_compared: compared as f64 / q,
            mean_budget_s: budget_s / q,
            mean_elapsed_s: baseline_s / q,
        }),
        seconds_per_casing: per_casing,
        seconds_per_query: stages,
    };
    print_report(&report, args.json);
    Ok(ExitCode::SUCCESS)
}

/// The labelled set's median resolution, µm per pixel (distractors are
/// rendered at it so they take the same resampling as the real scans).
async fn median_resolution(engine: &Engine) -> anyhow::Result<f64> {
    let mut um: Vec<f64> = engine
        .casings(&crate::operator("local"))
        .await?
        .iter()
        .map(|r| r.um_per_px)
        .collect();
    um.sort_by(f64::total_cmp);
    match um.get(um.len() / 2) {
        Some(v) => Ok(*v),
        None => bail!("no casing loaded: cannot choose the distractors' resolution"),
    }
}

/// Every casing on file in a random order fixed by `seed` and the query.
fn shuffled(ids: &[i64], seed: u64, query: u64) -> Vec<i64> {
    let mut order = ids.to_vec();
    let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_mul(1_000_003).wrapping_add(query));
    order.shuffle(&mut rng);
    order
}

/// Mates among the descriptor's first k, for each depth, and how many of
/// the first 50 places distractors took.
#[derive(Debug, Default)]
struct DescriptorTally {
    queries: usize,
    hits: [usize; RECALL_DEPTHS.len()],
    unlabelled_in_top_50: usize,
}

impl DescriptorTally {
    fn add(&mut self, labels: &Labels, query: &str, ranked: &[&str]) {
        self.queries += 1;
        for (hits, k) in self.hits.iter_mut().zip(RECALL_DEPTHS) {
            *hits += usize::from(ranked.iter().take(k).any(|c| labels.is_mate(query, c)));
        }
        self.unlabelled_in_top_50 += ranked
            .iter()
            .take(50)
            .filter(|c| !labels.is_labelled(c))
            .count();
    }

    fn figures(&self) -> DescriptorRecall {
        let q = self.queries.max(1) as f64;
        DescriptorRecall {
            recall_at_10: self.hits[0] as f64 / q,
            recall_at_50: self.hits[1] as f64 / q,
            recall_at_100: self.hits[2] as f64 / q,
            mean_distractors_in_top_50: self.unlabelled_in_top_50 as f64 / q,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::shuffled;

    #[test]
    fn the_baseline_order_is_fixed_by_seed_and_query() {
        let ids: Vec<i64> = (1..=50).collect();
        assert_eq!(shuffled(&ids, 1, 7), shuffled(&ids, 1, 7));
        assert_ne!(shuffled(&ids, 1, 7), shuffled(&ids, 1, 8));
        let mut sorted = shuffled(&ids, 2, 0);
        sorted.sort();
        assert_eq!(sorted, ids, "a permutation: every casing once");
    }
}
