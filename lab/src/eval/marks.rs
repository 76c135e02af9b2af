//! Per-mark figures: how well each mark alone (breech face, firing pin)
//! and the marks combined rank and separate, each over the pairs and
//! queries where that mark exists. A firing-pin score exists only when
//! both casings have a pin mark, so its figures speak for those pairs
//! only, and they say how many.

use casetrace_engine::calibration::{Calibration, FitSource};

use super::scored::PairRecord;
use super::separation::Separation;

/// The marks reported, in order: each is a component name of
/// `scored::component_scores`.
pub const MARKS: [&str; 3] = ["breech_face", "firing_pin", "combined"];

/// One query's list, as the marks see it: for each candidate, whether it
/// is a mate and its component scores.
#[derive(Debug, Clone, Default)]
pub struct QueryMarks {
    pub candidates: Vec<(bool, Vec<(String, f64)>)>,
}

/// One mark's figures.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MarkFigures {
    pub mark: String,
    /// Queries with at least one mate scored on this mark; top-1 is over
    /// them, ranking only the candidates scored on it.
    pub queries: usize,
    pub top1: f64,
    /// AUC, margin and the known-match / known-non-match pair counts.
    pub pairs: Separation,
}

/// The figures of every mark in [`MARKS`].
pub fn mark_figures(queries: &[QueryMarks], pairs: &[PairRecord]) -> Vec<MarkFigures> {
    MARKS
        .iter()
        .map(|mark| {
            let (mut n, mut top1) = (0usize, 0usize);
            for q in queries {
                let scored: Vec<(bool, f64)> = q
                    .candidates
                    .iter()
                    .filter_map(|(mate, parts)| value(parts, mark).map(|v| (*mate, v)))
                    .collect();
                if !scored.iter().any(|(mate, _)| *mate) {
                    continue;
                }
                n += 1;
                let best = scored.iter().max_by(|a, b| a.1.total_cmp(&b.1));
                top1 += usize::from(best.is_some_and(|(mate, _)| *mate));
            }
            let (km, knm) = super::scored::split_component(pairs, mark);
            MarkFigures {
                mark: (*mark).to_string(),
                queries: n,
                top1: top1 as f64 / n.max(1) as f64,
                pairs: Separation::of(&km, &knm),
            }
        })
        .collect()
}

fn value(parts: &[(String, f64)], name: &str) -> Option<f64> {
    parts.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
}

/// A 1-D logistic of "same firearm" on the firing-pin score, classes
/// weighted equally: the log-odds (natural log) `intercept + slope · pin`
/// that `comparison::PIN_LOG_ODDS` ships, refitted on this set.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct PinLogOddsFit {
    pub intercept: f64,
    pub slope: f64,
}

/// The fit on the set's firing-pin scores; `None` with fewer than two of
/// either class.
pub fn fit_pin_log_odds(pairs: &[PairRecord], labels: &str) -> Option<PinLogOddsFit> {
    let (km, knm) = super::scored::split_component(pairs, "firing_pin");
    let source = FitSource {
        fitted_on: labels.to_string(),
        casings: 0,
        firearms: 0,
    };
    // The calibration's fit is that logistic, in log10 units.
    let fit = Calibration::fit(&km, &knm, source).ok()?;
    let ln10 = std::f64::consts::LN_10;
    Some(PinLogOddsFit {
        intercept: fit.intercept * ln10,
        slope: fit.slope * ln10,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(bf: f64, pin: Option<f64>) -> Vec<(String, f64)> {
        let mut p = vec![
            ("breech_face".to_string(), bf),
            ("combined".to_string(), bf),
        ];
        if let Some(v) = pin {
            p.push(("firing_pin".to_string(), v));
        }
        p
    }

    #[test]
    fn a_mark_is_judged_only_where_it_exists() {
        // Query 1: its mate has no pin mark; the breech face ranks it
        // second. Query 2: the pin ranks the mate first.
        let queries = vec![
            QueryMarks {
                candidates: vec![(false, parts(0.6, Some(0.9))), (true, parts(0.5, None))],
            },
            QueryMarks {
                candidates: vec![
                    (false, parts(0.7, Some(0.1))),
                    (true, parts(0.4, Some(0.8))),
                ],
            },
        ];
        let figures = mark_figures(&queries, &[]);
        let by = |m: &str| figures.iter().find(|f| f.mark == m).unwrap().clone();
        assert_eq!(by("breech_face").queries, 2);
        assert_eq!(by("breech_face").top1, 0.0);
        assert_eq!(by("firing_pin").queries, 1);
        assert_eq!(by("firing_pin").top1, 1.0);
    }
}
