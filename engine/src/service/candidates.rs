//! Ranked candidate lists: descriptor shortlist from the index, then every
//! shortlisted casing re-scored by the fine comparison of the breech face
//! and, when both casings have one, of the firing-pin mark; ranked by the
//! marks combined (`comparison::MarkScores`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use super::analysis::analyse;
use super::{blocking, Engine};
use crate::access::policy::{self, hidden, Action, Agencies};
use crate::access::{Principal, Scope, Sight};
use crate::casing::{CasingFeatures, CasingRecord};
use crate::comparison::{
    decode_canvas, Comparison, ComparisonInput, FineComparer, MarkScores, PinQuery, PIN_LOG_ODDS,
};
use crate::error::{EngineError, Result};
use crate::surface::Surface;

/// One entry of a candidate list.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub casing: CasingRecord,
    /// The fine comparison score of the breech face (`Comparison::score`);
    /// comparable across lists, higher = more likely the same firearm.
    pub score: f64,
    /// The score of each mark both casings carry, and the marks combined
    /// (which ranks the list); `marks.breech_face` is `score`.
    pub marks: MarkScores,
    /// log10 of the calibrated likelihood ratio of the breech-face score
    /// (same firearm vs different firearms; the pin mark is not part of
    /// it); `None` when no calibration covers the pair.
    pub log10_lr: Option<f64>,
    /// The calibration that gave `log10_lr`.
    pub calibration: Option<String>,
    /// Why there is no LR (the pair is outside every calibration's
    /// coverage, or none is loaded); `None` when there is one.
    pub lr_withheld: Option<String>,
    /// Cosine similarity of the descriptors (the shortlist's ranking).
    pub descriptor_similarity: f32,
    pub comparison: Comparison,
}

/// What a candidate list is for: the prepared canvas and descriptor, the
/// file's native resolution (for the calibrations' coverage) and the row
/// to leave out when the query is itself on file.
struct Query {
    canvas: Surface,
    /// Its firing-pin mark, when it has one.
    pin_mark: Option<Surface>,
    descriptor: Vec<f32>,
    um_per_px: f64,
    exclude: Option<i64>,
    /// Casings the descriptor index hands the fine comparison (at least
    /// the list's length).
    shortlist: usize,
}

/// Candidates best first, with where the time went.
#[derive(Debug, Clone)]
pub struct CandidateList {
    pub candidates: Vec<Candidate>,
    /// How many casings were fine-compared to make the list: the index's
    /// shortlist, or every casing of the surface kind the caller may see
    /// while those are few (`EngineConfig::compare_all_up_to`).
    pub compared: usize,
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
    /// A casing on file of `agency` (the caller's own when `None`), if the
    /// caller may view that agency's casings. Otherwise it is answered as
    /// missing, after the same lookup: whether another agency holds a
    /// casing id is itself not the caller's to know.
    pub async fn casing(
        &self,
        caller: &Principal,
        agency: Option<&str>,
        casing_id: &str,
    ) -> Result<CasingRecord> {
        policy::require(caller, Action::ReadCasing)?;
        let sight = self.sight(caller).await?;
        let agency = agency.unwrap_or(caller.agency.as_str());
        self.viewable_casing(&sight, agency, casing_id).await
    }

    /// Every casing the caller may view, in id order.
    pub async fn casings(&self, caller: &Principal) -> Result<Vec<CasingRecord>> {
        policy::require(caller, Action::ReadCasing)?;
        let sight = self.sight(caller).await?;
        let mut all = self.db.list_casings().await?;
        all.retain(|c| sight.sees(Scope::View, &c.agency));
        Ok(all)
    }

    /// The casing, if `sight` views its agency; else answered as absent.
    pub(super) async fn viewable_casing(
        &self,
        sight: &Sight,
        agency: &str,
        casing_id: &str,
    ) -> Result<CasingRecord> {
        let found = self.db.casing_by_casing_id(agency, casing_id).await?;
        let absent = || EngineError::CasingNotFound(casing_id.to_string());
        match found {
            Some(record) if sight.sees(Scope::View, &record.agency) => Ok(record),
            Some(_) => Err(hidden(absent())),
            None if sight.sees(Scope::View, agency) => Err(absent()),
            None => Err(hidden(absent())),
        }
    }

    /// Candidates for a casing on file (never itself) of `agency` (the
    /// caller's own when `None`), which the caller must be able to view,
    /// among the casings of the agencies that let it correlate.
    pub async fn candidates(
        &self,
        caller: &Principal,
        agency: Option<&str>,
        casing_id: &str,
        limit: usize,
    ) -> Result<CandidateList> {
        policy::require(caller, Action::Candidates)?;
        let sight = self.sight(caller).await?;
        let agency = agency.unwrap_or(caller.agency.as_str());
        let record = self.viewable_casing(&sight, agency, casing_id).await?;
        let within = sight.agencies(Scope::Correlate).clone();
        self.rank_stored(&record, limit, self.cfg.shortlist, &within)
            .await
    }

    /// Candidates for a casing on file (never itself) among the casings
    /// of `within`, from a shortlist of `shortlist`: for callers that have
    /// decided what the list may hold (a candidate list, a correlation
    /// job).
    pub(super) async fn rank_stored(
        &self,
        record: &CasingRecord,
        limit: usize,
        shortlist: usize,
        within: &Agencies,
    ) -> Result<CandidateList> {
        let (record, features) = self.stored_query(&record.agency, &record.casing_id).await?;
        let canvas = decode_canvas(&features.comparison_surface)?;
        let pin_mark = features
            .pin_mark
            .as_deref()
            .map(decode_canvas)
            .transpose()?;
        let query = Query {
            canvas,
            pin_mark,
            descriptor: features.descriptor,
            um_per_px: record.um_per_px,
            exclude: Some(record.id),
            shortlist,
        };
        self.rank(query, limit, within).await
    }

    /// Candidates for an image not on file, among the casings of the
    /// agencies that let the caller correlate; nothing is stored.
    pub async fn search(
        &self,
        caller: &Principal,
        bytes: Vec<u8>,
        source_name: String,
        um_per_px: Option<f64>,
        limit: usize,
    ) -> Result<CandidateList> {
        policy::require(caller, Action::SearchImage)?;
        let within = self.sight(caller).await?.agencies(Scope::Correlate).clone();
        let (model, limits, pre) = (self.model.clone(), self.cfg.limits, self.cfg.preprocess);
        let analysis =
            blocking(move || analyse(&bytes, &source_name, um_per_px, &limits, &pre, &model))
                .await?;
        let query = Query {
            canvas: analysis.canvas,
            pin_mark: analysis.pin_mark,
            descriptor: analysis.descriptor,
            um_per_px: analysis.um_per_px,
            exclude: None,
            shortlist: self.cfg.shortlist,
        };
        self.rank(query, limit, &within).await
    }

    async fn rank(&self, query: Query, limit: usize, within: &Agencies) -> Result<CandidateList> {
        let Query {
            canvas,
            pin_mark,
            descriptor,
            um_per_px: query_um_per_px,
            exclude,
            shortlist,
        } = query;
        let t0 = Instant::now();
        let k = shortlist.max(limit) + usize::from(exclude.is_some());
        // The agencies' casings are selected before the index is searched,
        // so what a caller may not see never takes a shortlist place. A
        // small collection is compared whole (`compare_all_up_to`): the
        // shortlist is there for scale.
        let shortlist: Vec<(i64, f32)> = self
            .search_index(descriptor, k, self.cfg.compare_all_up_to, within)
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
        let kind = canvas.kind;
        let ids: Vec<i64> = ids
            .into_iter()
            .filter(|id| records.get(id).is_some_and(|r| r.surface_kind == kind))
            .collect();
        let stored = self.db.features_by_pks(&ids).await?;
        let compared = stored.len();
        let t2 = Instant::now();
        let comparer = self.comparer.clone();
        let threads = self.cfg.threads;
        let (scored, pins) = blocking(move || {
            let query = comparer.input(canvas);
            let scored = compare_stored(&comparer, &query, &stored, threads, None)?.1;
            let pins = match &pin_mark {
                Some(mark) => pin_scores(&PinQuery::new(mark), &stored)?,
                None => HashMap::new(),
            };
            Ok((scored, pins))
        })
        .await?;
        let t3 = Instant::now();
        let similarity: HashMap<i64, f32> = shortlist.into_iter().collect();
        let mut candidates: Vec<Candidate> = scored
            .into_iter()
            .filter_map(|(id, comparison)| {
                let casing = records.get(&id)?.clone();
                let lr = self.lr_of(kind, query_um_per_px, casing.um_per_px, &comparison);
                let marks = MarkScores::new(
                    comparison.score,
                    pins.get(&id).copied().flatten(),
                    &PIN_LOG_ODDS,
                );
                Some(Candidate {
                    casing,
                    score: comparison.score,
                    marks,
                    log10_lr: lr.log10_lr,
                    calibration: lr.calibration,
                    lr_withheld: lr.withheld,
                    descriptor_similarity: similarity.get(&id).copied().unwrap_or(0.0),
                    comparison,
                })
            })
            .collect();
        // By the marks combined: the breech-face score itself wherever a
        // pin mark is missing, so such lists keep their order.
        candidates.sort_by(|a, b| {
            b.marks
                .combined
                .total_cmp(&a.marks.combined)
                .then(a.casing.id.cmp(&b.casing.id))
        });
        candidates.truncate(limit);
        Ok(CandidateList {
            candidates,
            compared,
            timings: QueryTimings {
                search_s: (t1 - t0).as_secs_f64(),
                load_s: (t2 - t1).as_secs_f64(),
                compare_s: (t3 - t2).as_secs_f64(),
            },
        })
    }
}

/// The pin score of every stored casing that has a firing-pin mark, by
/// row id (`None` where the marks share no usable ring). About a
/// millisecond a casing, next to the breech face's tens.
fn pin_scores(
    query: &PinQuery,
    stored: &[(i64, CasingFeatures)],
) -> Result<HashMap<i64, Option<f64>>> {
    let mut out = HashMap::new();
    for (id, features) in stored {
        if let Some(bytes) = &features.pin_mark {
            out.insert(*id, query.score(&decode_canvas(bytes)?));
        }
    }
    Ok(out)
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
                    .map_err(|_| EngineError::internal("comparison worker panicked"))??,
            );
        }
        Ok::<_, EngineError>(all)
    })?;
    Ok((started.into_inner(), results))
}
