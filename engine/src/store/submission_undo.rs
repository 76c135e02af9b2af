//! Undoing a submission whose last step failed: the casing's rows go, and
//! so do the automatic leads another node's correlator may already have
//! made on it.
//!
//! Between a casing's commit and the end of its submission (adding it to
//! this node's index) other nodes already see it through the change feed,
//! and their correlation workers may rank it and make leads on it. Those
//! leads would keep the casing's row from being deleted (foreign keys), so
//! the undo withdraws them in the same transaction, with an audit record
//! for each. A lead a person has touched (made by hand, decided, or with a
//! conclusion) is never withdrawn: the undo is refused instead and the
//! casing stays on file, which is the safe side for evidence.

use sqlx::FromRow;

use super::audit::append_audit_in;
use super::changes::record_changes_in;
use super::db::{on_pool, BeginWrite, Database};
use crate::audit::{AuditEvent, AuditOutcome};
use crate::error::{EngineError, Result};

/// Who the audit log says withdrew a lead when a submission was undone.
const ENGINE_ACTOR: &str = "engine";
/// Tries of an undo that raced a lead being made on the casing (PostgreSQL
/// only: the lead's insert committed between our read and our delete).
const UNDO_ATTEMPTS: usize = 3;

/// A lead on the casing being removed, with what decides whether the
/// engine may withdraw it.
#[derive(FromRow)]
struct LeadOnCasing {
    id: i64,
    agency: String,
    origin: String,
    status: String,
    conclusions: i64,
}

impl LeadOnCasing {
    /// Made by the correlator and untouched by anyone since.
    fn withdrawable(&self) -> bool {
        self.origin == "automatic" && self.status == "lead" && self.conclusions == 0
    }
}

impl Database {
    /// Remove a casing, its features, its correlation job and the
    /// automatic leads on it: only to undo a submission whose later step
    /// failed (evidence on file is otherwise never deleted). Deleting an
    /// id not on file is not an error, so an undo can be repeated safely.
    /// Refused with [`EngineError::Conflict`], nothing removed, when a lead
    /// on the casing has been made, decided or concluded by a person.
    pub async fn delete_casing(&self, id: i64) -> Result<()> {
        let mut attempt = 1;
        loop {
            match self.delete_casing_once(id).await {
                Err(EngineError::Database(sqlx::Error::Database(e)))
                    if e.is_foreign_key_violation() && attempt < UNDO_ATTEMPTS =>
                {
                    tracing::warn!(
                        casing_pk = id,
                        attempt,
                        "a lead was made on a casing being undone; trying again"
                    );
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn delete_casing_once(&self, id: i64) -> Result<()> {
        let backend = self.backend();
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let leads: Vec<LeadOnCasing> = sqlx::query_as(
                "SELECT l.id, l.agency, l.origin, l.status, \
                 (SELECT count(*) FROM lead_conclusions c WHERE c.lead_id = l.id) AS conclusions \
                 FROM leads l WHERE l.query_casing_pk = $1 OR l.candidate_casing_pk = $1 \
                 ORDER BY l.id",
            )
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
            let kept: Vec<i64> = leads.iter().filter(|l| !l.withdrawable()).map(|l| l.id).collect();
            if !kept.is_empty() {
                tx.rollback().await?;
                return Err(EngineError::Conflict(format!(
                    "the submission of casing {id} cannot be undone: lead(s) {kept:?} on it \
                     have been worked on by a person, so the casing stays on file"
                )));
            }
            for lead in &leads {
                sqlx::query("DELETE FROM leads WHERE id = $1")
                    .bind(lead.id)
                    .execute(&mut *tx)
                    .await?;
                let mut event = AuditEvent::new(
                    lead.agency.clone(),
                    ENGINE_ACTOR,
                    "lead.withdraw",
                    format!("lead/{}", lead.id),
                    AuditOutcome::Ok,
                );
                event.detail.insert("casing_pk".into(), id.into());
                event.detail.insert(
                    "reason".into(),
                    "the submission of one of its casings failed after the casing was \
                     committed and was undone"
                        .into(),
                );
                append_audit_in!(tx, backend, &event);
            }
            // Features first: the foreign key cascades too, but this does
            // not depend on SQLite's foreign_keys pragma being on.
            sqlx::query("DELETE FROM casing_features WHERE casing_pk = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            // Its correlation job goes with it: an undone submission
            // leaves no job behind (a worker holding it finds it gone and
            // writes nothing).
            sqlx::query("DELETE FROM correlation_jobs WHERE casing_pk = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM casings WHERE id = $1").bind(id).execute(&mut *tx).await?;
            // Announced even when the id was not on file: a follower that
            // re-reads the casing finds nothing, as it should.
            record_changes_in!(tx, backend, crate::store::ChangeKind::Remove, &[id]);
            tx.commit().await?;
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::test_support::{
        audit_records_of, auto_lead, casing_fixture, completion_event, on_both_backends,
    };
    use super::*;
    use crate::traces::{AfteConclusion, ConclusionRole, LeadFilter, NewConclusion};

    const LONG: Duration = Duration::from_secs(60);

    /// A's job, worked on another node, makes leads on B and C; then B's
    /// and C's submissions are undone. Returns (a, b, c, lead ids).
    async fn leads_from_a_job(db: &Database) -> (i64, i64, i64, Vec<i64>) {
        let a = casing_fixture(db, "lab", "A", None, None).await;
        let b = casing_fixture(db, "lab", "B", None, None).await;
        let c = casing_fixture(db, "lab", "C", None, None).await;
        let job = db
            .claim_correlation_jobs("other-node", 1, LONG, 3)
            .await
            .unwrap()[0]
            .clone();
        assert_eq!(job.casing_pk, a);
        let made = db
            .complete_correlation_job(
                &job,
                &[auto_lead(a, b), auto_lead(a, c)],
                &completion_event(),
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(made.len(), 2);
        (a, b, c, made)
    }

    /// The race the undo exists for: an automatic lead on the casing no
    /// longer blocks its removal; the lead is withdrawn with an audit
    /// record, and the other casings and leads stay.
    async fn an_undo_withdraws_automatic_leads_on_the_casing(db: &Database) {
        let (a, b, c, made) = leads_from_a_job(db).await;
        db.delete_casing(b).await.unwrap();
        assert!(db.casing_by_pk(b).await.unwrap().is_none());
        let left = db
            .leads_of_agency("lab", &LeadFilter::default())
            .await
            .unwrap();
        assert_eq!(
            left.iter()
                .map(|l| (l.query_casing_pk, l.candidate_casing_pk))
                .collect::<Vec<_>>(),
            vec![(a, c)]
        );
        let withdrawn = audit_records_of(db, "lead.withdraw").await;
        assert_eq!(withdrawn.len(), 1);
        assert_eq!(withdrawn[0].resource, format!("lead/{}", made[0]));
        assert_eq!(
            (withdrawn[0].agency.as_str(), withdrawn[0].actor.as_str()),
            ("lab", ENGINE_ACTOR)
        );
        assert!(withdrawn[0].detail.contains(&format!("\"casing_pk\":{b}")));
        // Repeating the undo is harmless.
        db.delete_casing(b).await.unwrap();
    }

    /// A lead a person has worked on keeps its casings: the undo is
    /// refused and removes nothing.
    async fn an_undo_never_removes_a_lead_a_person_touched(db: &Database) {
        let (a, b, c, made) = leads_from_a_job(db).await;
        db.insert_conclusion(&NewConclusion {
            lead_id: made[0],
            agency: "lab".into(),
            examiner: "examiner".into(),
            key_id: "k1".into(),
            role: ConclusionRole::Primary,
            conclusion: AfteConclusion::Identification,
            notes: None,
        })
        .await
        .unwrap();
        let refused = db.delete_casing(b).await.unwrap_err();
        assert!(
            matches!(&refused, EngineError::Conflict(m) if m.contains(&made[0].to_string())),
            "{refused}"
        );
        assert!(db.casing_by_pk(b).await.unwrap().is_some());
        // A lead made by hand counts the same.
        let d = casing_fixture(db, "lab", "D", None, None).await;
        db.mark_lead("lab", d, c, "examiner", None, Default::default())
            .await
            .unwrap();
        assert!(matches!(
            db.delete_casing(c).await,
            Err(EngineError::Conflict(_))
        ));
        assert!(db.casing_by_pk(c).await.unwrap().is_some());
        assert_eq!(
            db.leads_of_agency("lab", &LeadFilter::default())
                .await
                .unwrap()
                .len(),
            3
        );
        let _ = a;
    }

    /// The other side of the race: a job that ranked a casing since
    /// removed completes, without a lead on it.
    async fn a_job_completes_without_leads_on_a_removed_casing(db: &Database) {
        let a = casing_fixture(db, "lab", "A", None, None).await;
        let b = casing_fixture(db, "lab", "B", None, None).await;
        let c = casing_fixture(db, "lab", "C", None, None).await;
        let job = db.claim_correlation_jobs("n", 1, LONG, 3).await.unwrap()[0].clone();
        db.delete_casing(b).await.unwrap();
        let made = db
            .complete_correlation_job(
                &job,
                &[auto_lead(a, b), auto_lead(a, c)],
                &completion_event(),
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(made.len(), 1);
        let job = db.correlation_job_of(a).await.unwrap().unwrap();
        assert_eq!((job.completions, job.leads_made), (1, 1));
    }

    on_both_backends!(
        an_undo_withdraws_automatic_leads_on_the_casing,
        an_undo_never_removes_a_lead_a_person_touched,
        a_job_completes_without_leads_on_a_removed_casing
    );
}
