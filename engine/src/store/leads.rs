//! Leads: a candidate an examiner takes up, then confirms (hit) or
//! excludes, with who, when and why.
//!
//! A lead joins two casings: the one searched with and the candidate the
//! engine offered. Hits are the edges of the linked-case graph
//! ([`crate::traces::history`]).

use sqlx::{AssertSqlSafe, FromRow};

use super::db::{on_pool, Database, DbTimestamp};
use crate::casing::CasingRef;
use crate::error::{EngineError, Result};
use crate::traces::{LeadFilter, LeadRecord, LeadStatus};
use chrono::{DateTime, SecondsFormat, Utc};

#[derive(FromRow)]
struct LeadRow {
    id: i64,
    agency: String,
    query_casing_pk: i64,
    candidate_casing_pk: i64,
    status: String,
    comment: Option<String>,
    marked_by: String,
    marked_at: DbTimestamp,
    decided_by: Option<String>,
    decided_at: Option<DbTimestamp>,
    query_agency: String,
    query_casing_id: String,
    candidate_agency: String,
    candidate_casing_id: String,
    score: Option<f64>,
    log10_lr: Option<f64>,
    case_number: Option<String>,
    calibre: Option<String>,
    origin: String,
}

impl TryFrom<LeadRow> for LeadRecord {
    type Error = EngineError;

    fn try_from(r: LeadRow) -> Result<Self> {
        Ok(LeadRecord {
            id: r.id,
            agency: r.agency,
            query_casing_pk: r.query_casing_pk,
            candidate_casing_pk: r.candidate_casing_pk,
            query_casing: CasingRef {
                agency: r.query_agency,
                casing_id: r.query_casing_id,
            },
            candidate_casing: CasingRef {
                agency: r.candidate_agency,
                casing_id: r.candidate_casing_id,
            },
            status: r.status.parse()?,
            comment: r.comment,
            marked_by: r.marked_by,
            marked_at: r.marked_at.0,
            decided_by: r.decided_by,
            decided_at: r.decided_at.map(|t| t.0),
            score: r.score,
            log10_lr: r.log10_lr,
            case_number: r.case_number,
            calibre: r.calibre,
            automatic: r.origin == "automatic",
        })
    }
}

/// A lead row with both casings named as clients name them.
macro_rules! select_leads {
    () => {
        "SELECT l.id, l.agency, l.query_casing_pk, l.candidate_casing_pk, l.status, l.comment, \
         l.marked_by, l.marked_at, l.decided_by, l.decided_at, \
         q.agency AS query_agency, q.casing_id AS query_casing_id, \
         k.agency AS candidate_agency, k.casing_id AS candidate_casing_id, \
         l.score, l.log10_lr, q.case_number, q.calibre, l.origin \
         FROM leads l JOIN casings q ON q.id = l.query_casing_pk \
         JOIN casings k ON k.id = l.candidate_casing_pk"
    };
}

const INSERT_LEAD: &str = "INSERT INTO leads (agency, query_casing_pk, candidate_casing_pk, \
     status, comment, marked_by, score, log10_lr) VALUES ($1, $2, $3, 'lead', $4, $5, $6, $7) \
     RETURNING id";
const SELECT_LEAD: &str = concat!(select_leads!(), " WHERE l.id = $1");
const SELECT_PAIR: &str = concat!(
    select_leads!(),
    " WHERE l.agency = $3 AND ((l.query_casing_pk = $1 AND l.candidate_casing_pk = $2) \
     OR (l.query_casing_pk = $2 AND l.candidate_casing_pk = $1))"
);

/// The pair's fine comparison when a lead is taken up.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LeadScores {
    pub score: Option<f64>,
    pub log10_lr: Option<f64>,
}

impl Database {
    /// `agency`'s lead on this pair (in either order), if it took it up.
    pub async fn lead_of_pair(
        &self,
        agency: &str,
        query_casing_pk: i64,
        candidate_casing_pk: i64,
    ) -> Result<Option<LeadRecord>> {
        let row: Option<LeadRow> = on_pool!(self, pool =>
            sqlx::query_as(SELECT_PAIR)
                .bind(query_casing_pk)
                .bind(candidate_casing_pk)
                .bind(agency)
                .fetch_optional(pool)
                .await?);
        row.map(LeadRecord::try_from).transpose()
    }

    /// Take up a candidate as a lead for `agency`. The pair (in either
    /// order) may be taken up once per agency; a second attempt returns
    /// that agency's lead on file, never another agency's. The flag says
    /// whether this call created the lead.
    pub async fn mark_lead(
        &self,
        agency: &str,
        query_casing_pk: i64,
        candidate_casing_pk: i64,
        marked_by: &str,
        comment: Option<&str>,
        scores: LeadScores,
    ) -> Result<(LeadRecord, bool)> {
        if query_casing_pk == candidate_casing_pk {
            return Err(EngineError::InvalidMetadata {
                field: "candidate".into(),
                reason: "a casing cannot be a lead for itself".into(),
            });
        }
        for pk in [query_casing_pk, candidate_casing_pk] {
            self.casing_by_pk(pk)
                .await?
                .ok_or_else(|| EngineError::CasingNotFound(format!("#{pk}")))?;
        }
        if let Some(lead) = self
            .lead_of_pair(agency, query_casing_pk, candidate_casing_pk)
            .await?
        {
            return Ok((lead, false));
        }
        let (id,): (i64,) = on_pool!(self, pool =>
            sqlx::query_as(INSERT_LEAD)
                .bind(agency)
                .bind(query_casing_pk)
                .bind(candidate_casing_pk)
                .bind(comment)
                .bind(marked_by)
                .bind(scores.score)
                .bind(scores.log10_lr)
                .fetch_one(pool)
                .await?);
        Ok((self.lead(id).await?, true))
    }

    pub async fn lead(&self, id: i64) -> Result<LeadRecord> {
        let row: Option<LeadRow> = on_pool!(self, pool =>
            sqlx::query_as(SELECT_LEAD).bind(id).fetch_optional(pool).await?);
        row.ok_or_else(|| EngineError::NotFound(format!("lead {id}")))?
            .try_into()
    }

    /// Confirm (hit) or exclude a lead, recording who decided and why.
    /// The decision time is set by the database.
    pub async fn decide_lead(
        &self,
        id: i64,
        status: LeadStatus,
        decided_by: &str,
        comment: Option<&str>,
    ) -> Result<LeadRecord> {
        if status == LeadStatus::Lead {
            return Err(EngineError::InvalidMetadata {
                field: "status".into(),
                reason: "a decision is hit or excluded".into(),
            });
        }
        self.lead(id).await?;
        let now = match self.backend() {
            super::Backend::Sqlite => "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
            super::Backend::Postgres => "now()",
        };
        let sql = format!(
            "UPDATE leads SET status = $1, decided_by = $2, decided_at = {now}, \
             comment = COALESCE($3, comment) WHERE id = $4"
        );
        on_pool!(self, pool => {
            sqlx::query(AssertSqlSafe(sql.clone()))
                .bind(status.as_str())
                .bind(decided_by)
                .bind(comment)
                .bind(id)
                .execute(pool)
                .await?;
        });
        self.lead(id).await
    }

    /// `agency`'s leads, narrowed by the query casing's case number and
    /// calibre and by creation time (inclusive), in id order.
    pub async fn leads_of_agency(
        &self,
        agency: &str,
        filter: &LeadFilter,
    ) -> Result<Vec<LeadRecord>> {
        // Each optional filter is a bound value or NULL, so the text of the
        // query depends on the backend only. Times are bound as RFC 3339
        // text with milliseconds and `Z`: SQLite stores them so (text order
        // is time order), PostgreSQL casts them.
        let time = match self.backend() {
            super::Backend::Sqlite => "",
            super::Backend::Postgres => "::timestamptz",
        };
        let sql = format!(
            "{} WHERE l.agency = $1 AND ($2 IS NULL OR q.case_number = $2) \
             AND ($3 IS NULL OR q.calibre = $3) AND ($4 IS NULL OR l.marked_at >= $4{time}) \
             AND ($5 IS NULL OR l.marked_at <= $5{time}) ORDER BY l.id",
            select_leads!()
        );
        let text =
            |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true));
        let rows: Vec<LeadRow> = on_pool!(self, pool =>
            sqlx::query_as(AssertSqlSafe(sql.clone()))
                .bind(agency)
                .bind(filter.case_number.as_deref())
                .bind(filter.calibre.as_deref())
                .bind(text(filter.since))
                .bind(text(filter.until))
                .fetch_all(pool)
                .await?);
        rows.into_iter().map(LeadRecord::try_from).collect()
    }

    /// Every lead touching one of these casings, on either side.
    pub async fn leads_of_casings(&self, pks: &[i64]) -> Result<Vec<LeadRecord>> {
        let mut out: Vec<LeadRecord> = Vec::new();
        for chunk in pks.chunks(250) {
            let list = (1..=chunk.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "{} WHERE l.query_casing_pk IN ({list}) OR l.candidate_casing_pk IN ({list}) ORDER BY l.id",
                select_leads!()
            );
            let rows: Vec<LeadRow> = on_pool!(self, pool => {
                let mut q = sqlx::query_as(AssertSqlSafe(sql.clone()));
                for pk in chunk {
                    q = q.bind(*pk);
                }
                q.fetch_all(pool).await?
            });
            for row in rows {
                let lead = LeadRecord::try_from(row)?;
                if !out.iter().any(|l| l.id == lead.id) {
                    out.push(lead);
                }
            }
        }
        out.sort_by_key(|l| l.id);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{casing_fixture, on_both_backends};
    use super::*;

    async fn agency_lead_lists_narrow_by_case_calibre_and_time(db: &Database) {
        let q1 = casing_fixture(db, "lab", "Q1", Some("C-1"), Some("9mm")).await;
        let q2 = casing_fixture(db, "lab", "Q2", Some("C-2"), Some(".40")).await;
        let k = casing_fixture(db, "lab", "K", None, None).await;
        let scores = LeadScores {
            score: Some(0.7),
            log10_lr: Some(1.5),
        };
        let (first, _) = db
            .mark_lead("lab", q1, k, "ex", None, scores)
            .await
            .unwrap();
        assert_eq!((first.score, first.log10_lr), (Some(0.7), Some(1.5)));
        assert_eq!(first.case_number.as_deref(), Some("C-1"));
        db.mark_lead("lab", q2, k, "ex", None, LeadScores::default())
            .await
            .unwrap();
        db.mark_lead("other", q1, k, "ex", None, LeadScores::default())
            .await
            .unwrap();
        let ids = |leads: Vec<LeadRecord>| leads.into_iter().map(|l| l.id).collect::<Vec<_>>();
        let all = db
            .leads_of_agency("lab", &LeadFilter::default())
            .await
            .unwrap();
        assert_eq!(all.len(), 2);
        let case = LeadFilter {
            case_number: Some("C-1".into()),
            ..LeadFilter::default()
        };
        assert_eq!(
            ids(db.leads_of_agency("lab", &case).await.unwrap()),
            [first.id]
        );
        let calibre = LeadFilter {
            calibre: Some(".40".into()),
            ..LeadFilter::default()
        };
        assert_eq!(db.leads_of_agency("lab", &calibre).await.unwrap().len(), 1);
        let hour = chrono::Duration::hours(1);
        let window = LeadFilter {
            since: Some(first.marked_at - hour),
            until: Some(first.marked_at + hour),
            ..LeadFilter::default()
        };
        assert_eq!(db.leads_of_agency("lab", &window).await.unwrap().len(), 2);
        let later = LeadFilter {
            since: Some(first.marked_at + hour),
            ..LeadFilter::default()
        };
        assert!(db.leads_of_agency("lab", &later).await.unwrap().is_empty());
        let earlier = LeadFilter {
            until: Some(first.marked_at - hour),
            ..LeadFilter::default()
        };
        assert!(db
            .leads_of_agency("lab", &earlier)
            .await
            .unwrap()
            .is_empty());
    }

    on_both_backends!(agency_lead_lists_narrow_by_case_calibre_and_time);
}
