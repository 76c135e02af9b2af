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
use crate::traces::{LeadRecord, LeadStatus};

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
        })
    }
}

/// A lead row with both casings named as clients name them.
macro_rules! select_leads {
    () => {
        "SELECT l.id, l.agency, l.query_casing_pk, l.candidate_casing_pk, l.status, l.comment, \
         l.marked_by, l.marked_at, l.decided_by, l.decided_at, \
         q.agency AS query_agency, q.casing_id AS query_casing_id, \
         k.agency AS candidate_agency, k.casing_id AS candidate_casing_id \
         FROM leads l JOIN casings q ON q.id = l.query_casing_pk \
         JOIN casings k ON k.id = l.candidate_casing_pk"
    };
}

const INSERT_LEAD: &str = "INSERT INTO leads (agency, query_casing_pk, candidate_casing_pk, \
     status, comment, marked_by) VALUES ($1, $2, $3, 'lead', $4, $5) RETURNING id";
const SELECT_LEAD: &str = concat!(select_leads!(), " WHERE l.id = $1");
const SELECT_PAIR: &str = concat!(
    select_leads!(),
    " WHERE l.agency = $3 AND ((l.query_casing_pk = $1 AND l.candidate_casing_pk = $2) \
     OR (l.query_casing_pk = $2 AND l.candidate_casing_pk = $1))"
);

impl Database {
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
        let existing: Option<LeadRow> = on_pool!(self, pool =>
            sqlx::query_as(SELECT_PAIR)
                .bind(query_casing_pk)
                .bind(candidate_casing_pk)
                .bind(agency)
                .fetch_optional(pool)
                .await?);
        if let Some(row) = existing {
            return Ok((row.try_into()?, false));
        }
        let (id,): (i64,) = on_pool!(self, pool =>
            sqlx::query_as(INSERT_LEAD)
                .bind(agency)
                .bind(query_casing_pk)
                .bind(candidate_casing_pk)
                .bind(comment)
                .bind(marked_by)
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
