//! An agency's lead list: the filters, the sort orders and the counts the
//! examiner workspace shows. The store narrows by agency, case, calibre and
//! dates; the status, the counts (for the filter without the status), the
//! order and the page are worked out here, after each lead's verification
//! is known.

use chrono::{DateTime, Utc};

use super::{LeadStatus, LeadView, VerificationState};

/// How a lead list is ordered, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LeadSort {
    /// By log10 LR, then by score; leads without either last.
    #[default]
    Lr,
    /// By score alone.
    Score,
}

/// What a lead list asks for.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LeadFilter {
    /// `None`: every status.
    pub status: Option<LeadStatus>,
    /// The query casing's case number and calibre, exactly.
    pub case_number: Option<String>,
    pub calibre: Option<String>,
    /// On the lead's creation time, inclusive.
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub sort: LeadSort,
    pub limit: usize,
    pub offset: usize,
}

/// How many leads match the filter without its status, by status and by
/// verification state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LeadCounts {
    pub lead: usize,
    pub hit: usize,
    pub excluded: usize,
    /// Open leads whose primary conclusion awaits its verification.
    pub needs_verification: usize,
    /// Open leads whose conclusions disagree.
    pub disagreement: usize,
}

/// One page of a lead list.
#[derive(Debug, Clone, PartialEq)]
pub struct LeadPage {
    pub leads: Vec<LeadView>,
    pub counts: LeadCounts,
    /// How many leads match the whole filter (all pages).
    pub total: usize,
}

/// Count, keep the filter's status, order and cut one page out of `views`
/// (already narrowed by everything but the status).
pub fn lead_page(mut views: Vec<LeadView>, filter: &LeadFilter) -> LeadPage {
    let mut counts = LeadCounts::default();
    for v in &views {
        match v.lead.status {
            LeadStatus::Lead => counts.lead += 1,
            LeadStatus::Hit => counts.hit += 1,
            LeadStatus::Excluded => counts.excluded += 1,
        }
        if v.lead.status == LeadStatus::Lead {
            match v.verification.state {
                VerificationState::Awaiting => counts.needs_verification += 1,
                VerificationState::Disagree => counts.disagreement += 1,
                VerificationState::None | VerificationState::Agree => {}
            }
        }
    }
    if let Some(status) = filter.status {
        views.retain(|v| v.lead.status == status);
    }
    // Missing values sort last: a lead without an LR is not evidence
    // against the pair, only a pair nobody could weigh.
    let key = |x: Option<f64>| x.unwrap_or(f64::NEG_INFINITY);
    views.sort_by(|a, b| {
        let (a, b) = (&a.lead, &b.lead);
        let by_score = key(b.score).total_cmp(&key(a.score));
        let first = match filter.sort {
            LeadSort::Lr => key(b.log10_lr).total_cmp(&key(a.log10_lr)).then(by_score),
            LeadSort::Score => by_score,
        };
        first.then(a.id.cmp(&b.id))
    });
    let total = views.len();
    let leads = views
        .into_iter()
        .skip(filter.offset)
        .take(filter.limit)
        .collect();
    LeadPage {
        leads,
        counts,
        total,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::casing::CasingRef;
    use crate::traces::{LeadRecord, Verification};

    fn view(id: i64, status: LeadStatus, score: Option<f64>, lr: Option<f64>) -> LeadView {
        let casing = |c: &str| CasingRef {
            agency: "a".into(),
            casing_id: c.into(),
        };
        LeadView {
            lead: LeadRecord {
                id,
                agency: "a".into(),
                query_casing_pk: 1,
                candidate_casing_pk: id + 1,
                query_casing: casing("q"),
                candidate_casing: casing("c"),
                status,
                comment: None,
                marked_by: "x".into(),
                marked_at: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
                decided_by: None,
                decided_at: None,
                score,
                log10_lr: lr,
                case_number: None,
                calibre: None,
                automatic: false,
            },
            verification: Verification {
                state: if id == 3 {
                    VerificationState::Awaiting
                } else {
                    VerificationState::None
                },
                needs_third: false,
                concluded: None,
                decided_by: None,
                decided_at: None,
            },
            conclusions: Vec::new(),
            conclusions_hidden: 0,
        }
    }

    fn ids(p: &LeadPage) -> Vec<i64> {
        p.leads.iter().map(|v| v.lead.id).collect()
    }

    #[test]
    fn leads_are_counted_without_the_status_and_ordered_best_first() {
        let views = vec![
            view(1, LeadStatus::Lead, Some(0.4), None),
            view(2, LeadStatus::Lead, Some(0.3), Some(1.0)),
            view(3, LeadStatus::Lead, Some(0.9), Some(2.0)),
            view(4, LeadStatus::Hit, None, None),
            view(5, LeadStatus::Excluded, Some(0.1), Some(-1.0)),
        ];
        let filter = LeadFilter {
            status: Some(LeadStatus::Lead),
            limit: 100,
            ..LeadFilter::default()
        };
        let p = lead_page(views.clone(), &filter);
        assert_eq!(ids(&p), [3, 2, 1]);
        assert_eq!(p.total, 3);
        assert_eq!(
            p.counts,
            LeadCounts {
                lead: 3,
                hit: 1,
                excluded: 1,
                needs_verification: 1,
                disagreement: 0
            }
        );
        let by_score = LeadFilter {
            sort: LeadSort::Score,
            limit: 100,
            ..LeadFilter::default()
        };
        assert_eq!(ids(&lead_page(views.clone(), &by_score)), [3, 1, 2, 5, 4]);
        let second_page = LeadFilter {
            limit: 2,
            offset: 2,
            ..LeadFilter::default()
        };
        let p = lead_page(views, &second_page);
        assert_eq!(ids(&p), [5, 1]);
        assert_eq!(p.total, 5);
    }
}
