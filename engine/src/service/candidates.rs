//! Ranked candidate lists: descriptor shortlist from the index, then every
//! shortlisted casing re-scored by the fine comparison.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use super::analysis::analyse;
use super::{blocking, Engine};
use crate::comparison::{decode_canvas, Comparison, ComparisonInput, FineComparer};
use crate::error::{EngineError, Result};
use crate::store::{CasingFeatures, CasingRecord};
use crate::surface::Surface;

/// One entry of a candidate list.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub casing: CasingRecord,
    /// The fine comparison score (`Comparison::score`); comparable across
    /// lists, higher = more likely the same firearm.
    pub score: f64,
    /// log10 of the calibrated likelihood ratio of the score (same firearm
    /// vs different firearms); `None` without a calibration.
    pub log10_lr: Option<f64>,
    /// Cosine similarity of the descriptors (the shortlist's ranking).
    pub descriptor_similarity: f32,
    pub comparison: Comparison,
}

/// Candidates best first, with where the time went.
#[derive(Debug, Clone)]
pub struct CandidateList {
    pub candidates: Vec<Candidate>,
    pub timings: QueryTimings,
}

/// Seconds per stage of one query.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct QueryTimings {
    pub search_s: f64,
    pub load_s: f64,
    pub compare_s: f64,
}

impl Engine {
    /// Candidates for a casing on file (never itself), among the casings
    /// of the `within` agencies when given (all when `None`).
    pub async fn candidates(
        &self,
        agency: &str,
        casing_id: &str,
        limit: usize,
        within: Option<&[String]>,
    ) -> Result<CandidateList> {
        let (record, features) = self.stored_query(agency, casing_id).await?;
        let canvas = decode_canvas(&features.comparison_surface)?;
        self.rank(canvas, features.descriptor, Some(record.id), limit, within)
            .await
    }

    /// Candidates for an image not on file; nothing is stored.
    pub async fn search(
        &self,
        bytes: Vec<u8>,
        source_name: String,
        um_per_px: Option<f64>,
        limit: usize,
        within: Option<&[String]>,
    ) -> Result<CandidateList> {
        let (model, limits, pre) = (self.model.clone(), self.cfg.limits, self.cfg.preprocess);
        let analysis =
            blocking(move || analyse(&bytes, &source_name, um_per_px, &limits, &pre, &model))
                .await?;
        self.rank(analysis.canvas, analysis.descriptor, None, limit, within)
            .await
    }

    async fn rank(
        &self,
        canvas: Surface,
        descriptor: Vec<f32>,
        exclude: Option<i64>,
        limit: usize,
        within: Option<&[String]>,
    ) -> Result<CandidateList> {
        let t0 = Instant::now();
        let k = self.cfg.shortlist.max(limit) + usize::from(exclude.is_some());
        // The agencies' casings are selected before the index is searched,
        // so what a caller may not see never takes a shortlist place.
        let allowed = match within {
            Some(agencies) => Some(self.db.casing_pks_of_agencies(agencies).await?),
            None => None,
        };
        let shortlist: Vec<(i64, f32)> = self
            .search_index(descriptor, k, allowed)
            .await?
            .into_iter()
            .filter(|(id, _)| Some(*id) != exclude)
            .collect();
        let t1 = Instant::now();
        let ids: Vec<i64> = shortlist.iter().map(|s| s.0).collect();
        let records: HashMap<i64, CasingRecord> = self
            .db
            .casings_by_pks(&ids)
            .await?
            .into_iter()
            .map(|r| (r.id, r))
            .collect();
        // Heights and grey levels are different quantities: a photograph is
        // only compared with photographs, a topography with topographies.
        let kind = canvas.kind.as_str();
        let ids: Vec<i64> = ids
            .into_iter()
            .filter(|id| records.get(id).is_some_and(|r| r.surface_kind == kind))
            .collect();
        let stored = self.db.features_by_pks(&ids).await?;
        let t2 = Instant::now();
        let comparer = self.comparer.clone();
        let threads = self.cfg.threads;
        let scored = blocking(move || {
            let query = comparer.input(canvas);
            Ok(compare_stored(&comparer, &query, &stored, threads, None)?.1)
        })
        .await?;
        let t3 = Instant::now();
        let similarity: HashMap<i64, f32> = shortlist.into_iter().collect();
        let calibration = self.calibration.clone();
        let mut candidates: Vec<Candidate> = scored
            .into_iter()
            .filter_map(|(id, comparison)| {
                Some(Candidate {
                    casing: records.get(&id)?.clone(),
                    score: comparison.score,
                    log10_lr: calibration.as_ref().map(|c| c.log10_lr(comparison.score)),
                    descriptor_similarity: similarity.get(&id).copied().unwrap_or(0.0),
                    comparison,
                })
            })
            .collect();
        candidates.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then(a.casing.id.cmp(&b.casing.id))
        });
        candidates.truncate(limit);
        Ok(CandidateList {
            candidates,
            timings: QueryTimings {
                search_s: (t1 - t0).as_secs_f64(),
                load_s: (t2 - t1).as_secs_f64(),
                compare_s: (t3 - t2).as_secs_f64(),
            },
        })
    }
}

/// Fine-compare `query` with `stored` on `threads` threads, each taking the
/// next casing in order, and only while `deadline` (if any) has not passed.
/// Returns how many comparisons were started and the scored pairs; pairs
/// that cannot be registered (too little overlap) are left out.
pub(super) fn compare_stored(
    comparer: &FineComparer,
    query: &ComparisonInput,
    stored: &[(i64, CasingFeatures)],
    threads: usize,
    deadline: Option<Instant>,
) -> Result<(usize, Vec<(i64, Comparison)>)> {
    let next = AtomicUsize::new(0);
    let started = AtomicUsize::new(0);
    let results = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                scope.spawn(|| -> Result<Vec<(i64, Comparison)>> {
                    let mut out = Vec::new();
                    while deadline.is_none_or(|d| Instant::now() < d) {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some((id, features)) = stored.get(i) else {
                            break;
                        };
                        started.fetch_add(1, Ordering::Relaxed);
                        let canvas = decode_canvas(&features.comparison_surface)?;
                        if let Some(c) = comparer.compare(query, &comparer.input(canvas)) {
                            out.push((*id, c));
                        }
                    }
                    Ok(out)
                })
            })
            .collect();
        let mut all = Vec::new();
        for w in workers {
            all.extend(
                w.join()
                    .map_err(|_| EngineError::Index("comparison worker panicked".into()))??,
            );
        }
        Ok::<_, EngineError>(all)
    })?;
    Ok((started.into_inner(), results))
}
