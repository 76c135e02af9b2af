//! Examiners' AFTE conclusions on leads. The verification rules that read
//! them live in [`crate::traces::verify`]; here they are only kept.

use sqlx::{AssertSqlSafe, FromRow};

use super::db::{on_pool, Database, DbTimestamp};
use crate::error::{EngineError, Result};
use crate::traces::{ConclusionRecord, NewConclusion};

#[derive(FromRow)]
struct ConclusionRow {
    id: i64,
    lead_id: i64,
    agency: String,
    examiner: String,
    key_id: String,
    role: String,
    conclusion: String,
    notes: Option<String>,
    recorded_at: DbTimestamp,
}

impl TryFrom<ConclusionRow> for ConclusionRecord {
    type Error = EngineError;

    fn try_from(r: ConclusionRow) -> Result<Self> {
        Ok(ConclusionRecord {
            id: r.id,
            lead_id: r.lead_id,
            agency: r.agency,
            examiner: r.examiner,
            key_id: r.key_id,
            role: r.role.parse()?,
            // A stored name this code does not know is the store's fault.
            conclusion: r.conclusion.parse().map_err(|_| {
                EngineError::internal(format!("stored conclusion {:?}", r.conclusion))
            })?,
            notes: r.notes,
            recorded_at: r.recorded_at.0,
        })
    }
}

const SELECT: &str = "SELECT id, lead_id, agency, examiner, key_id, role, conclusion, notes, \
     recorded_at FROM lead_conclusions";

const INSERT: &str = "INSERT INTO lead_conclusions (lead_id, agency, examiner, key_id, role, \
     conclusion, notes) VALUES ($1, $2, $3, $4, $5, $6, $7)";

impl Database {
    /// Record a conclusion. A second one by the same key on the lead, or a
    /// second primary (two examiners racing to be first), is refused by
    /// the database and answered as a conflict.
    pub async fn insert_conclusion(&self, c: &NewConclusion) -> Result<()> {
        let outcome = on_pool!(self, pool =>
            sqlx::query(INSERT)
                .bind(c.lead_id)
                .bind(&c.agency)
                .bind(&c.examiner)
                .bind(&c.key_id)
                .bind(c.role.as_str())
                .bind(c.conclusion.as_str())
                .bind(c.notes.as_deref())
                .execute(pool)
                .await
                .map(|_| ()));
        match outcome {
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(EngineError::Conflict(
                "a conclusion by this key, or a primary conclusion, is already on file for the lead"
                    .into(),
            )),
            other => Ok(other?),
        }
    }

    /// The conclusions on these leads, in the order recorded.
    pub async fn conclusions_of_leads(&self, lead_ids: &[i64]) -> Result<Vec<ConclusionRecord>> {
        let mut out = Vec::new();
        for chunk in lead_ids.chunks(250) {
            let list = (1..=chunk.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!("{SELECT} WHERE lead_id IN ({list}) ORDER BY id");
            let rows: Vec<ConclusionRow> = on_pool!(self, pool => {
                let mut q = sqlx::query_as(AssertSqlSafe(sql.clone()));
                for id in chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(pool).await?
            });
            for row in rows {
                out.push(ConclusionRecord::try_from(row)?);
            }
        }
        out.sort_by_key(|c| c.id);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{casing_fixture, on_both_backends};
    use super::*;
    use crate::traces::{AfteConclusion, ConclusionRole};

    async fn conclusions_are_kept_once_per_key_with_one_primary(db: &Database) {
        let a = casing_fixture(db, "lab", "A", None, None).await;
        let b = casing_fixture(db, "lab", "B", None, None).await;
        let (lead, _) = db
            .mark_lead("lab", a, b, "ex", None, Default::default())
            .await
            .unwrap();
        let new = |key: &str, role| NewConclusion {
            lead_id: lead.id,
            agency: "lab".into(),
            examiner: format!("examiner {key}"),
            key_id: key.into(),
            role,
            conclusion: AfteConclusion::InconclusiveB,
            notes: Some("notes".into()),
        };
        db.insert_conclusion(&new("k1", ConclusionRole::Primary))
            .await
            .unwrap();
        let again = db
            .insert_conclusion(&new("k1", ConclusionRole::Verification))
            .await;
        assert!(matches!(again, Err(EngineError::Conflict(_))), "{again:?}");
        let second_primary = db
            .insert_conclusion(&new("k2", ConclusionRole::Primary))
            .await;
        assert!(
            matches!(second_primary, Err(EngineError::Conflict(_))),
            "{second_primary:?}"
        );
        db.insert_conclusion(&new("k2", ConclusionRole::Verification))
            .await
            .unwrap();
        let on_file = db.conclusions_of_leads(&[lead.id]).await.unwrap();
        let keys: Vec<(&str, ConclusionRole)> = on_file
            .iter()
            .map(|c| (c.key_id.as_str(), c.role))
            .collect();
        assert_eq!(
            keys,
            [
                ("k1", ConclusionRole::Primary),
                ("k2", ConclusionRole::Verification)
            ]
        );
        assert_eq!(on_file[0].conclusion, AfteConclusion::InconclusiveB);
        assert_eq!(on_file[0].notes.as_deref(), Some("notes"));
    }

    on_both_backends!(conclusions_are_kept_once_per_key_with_one_primary);
}
