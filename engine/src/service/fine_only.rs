//! The fine comparison alone under a time budget: a stored casing compared
//! with casings on file in an order the caller chooses (no descriptor, no
//! index), until the budget is spent, then ranked by fine score. It is the
//! baseline the two-stage pipeline must beat at equal cost: what an
//! examiner's machine gets through when it has no shortlist.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::candidates::compare_stored;
use super::{blocking, Engine};
use crate::access::{Principal, Scope};
use crate::casing::CasingRecord;
use crate::comparison::{decode_canvas, Comparison};
use crate::error::Result;

/// Casings loaded from the database per step: small enough that the budget
/// is checked often, large enough to keep every thread busy.
const STEP: usize = 32;

/// One compared casing.
#[derive(Debug, Clone)]
pub struct FineMatch {
    pub casing: CasingRecord,
    pub comparison: Comparison,
}

/// What the budget bought.
#[derive(Debug, Clone)]
pub struct BudgetedRanking {
    /// The compared casings that could be registered, best fine score first.
    pub ranked: Vec<FineMatch>,
    /// Comparisons started (including pairs too little overlapping to score).
    pub compared: usize,
    /// Wall time used, from the call to the last comparison's end.
    pub elapsed_s: f64,
}

impl Engine {
    /// Fine-compare the stored casing with the casings `order` names
    /// (database ids), in that order, starting no comparison once `budget`
    /// has passed since the call; the clock includes loading the query and
    /// the candidates' canvases, as the pipeline's does. Casings of another
    /// surface kind, unknown ids and the casing itself are skipped
    /// uncounted. A comparison already running when the budget ends is
    /// finished, so the overrun is at most one comparison per thread.
    /// Casings `caller` may not correlate with are skipped like unknown ids.
    pub async fn fine_compare_within(
        &self,
        caller: &Principal,
        agency: &str,
        casing_id: &str,
        order: &[i64],
        budget: Duration,
    ) -> Result<BudgetedRanking> {
        let started = Instant::now();
        let deadline = started + budget;
        crate::access::policy::require(caller, crate::access::Action::Candidates)?;
        let sight = self.sight(caller).await?;
        self.viewable_casing(&sight, agency, casing_id).await?;
        let (record, features) = self.stored_query(agency, casing_id).await?;
        let comparer = self.comparer.clone();
        let query = {
            let comparer = comparer.clone();
            let bytes = features.comparison_surface;
            Arc::new(blocking(move || Ok(comparer.input(decode_canvas(&bytes)?))).await?)
        };
        let (mut ranked, mut compared) = (Vec::new(), 0);
        for step in order.chunks(STEP) {
            if Instant::now() >= deadline {
                break;
            }
            let records: std::collections::HashMap<i64, CasingRecord> = self
                .db
                .casings_by_pks(step)
                .await?
                .into_iter()
                .filter(|r| r.id != record.id && r.surface_kind == record.surface_kind)
                .filter(|r| sight.sees(Scope::Correlate, &r.agency))
                .map(|r| (r.id, r))
                .collect();
            // Keep the caller's order: the database returns rows its own way.
            let mut stored = self.db.features_by_pks(step).await?;
            stored.retain(|(id, _)| records.contains_key(id));
            let position = |id: i64| step.iter().position(|s| *s == id);
            stored.sort_by_key(|(id, _)| position(*id));
            let (comparer, query, threads) = (comparer.clone(), query.clone(), self.cfg.threads);
            let (done, results) = blocking(move || {
                compare_stored(&comparer, &query, &stored, threads, Some(deadline))
            })
            .await?;
            compared += done;
            let mut records = records;
            ranked.extend(results.into_iter().filter_map(|(id, comparison)| {
                Some(FineMatch {
                    casing: records.remove(&id)?,
                    comparison,
                })
            }));
        }
        ranked.sort_by(|a, b| {
            b.comparison
                .score
                .total_cmp(&a.comparison.score)
                .then(a.casing.id.cmp(&b.casing.id))
        });
        Ok(BudgetedRanking {
            ranked,
            compared,
            elapsed_s: started.elapsed().as_secs_f64(),
        })
    }
}
