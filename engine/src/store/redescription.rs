//! Re-describing casings after a model upgrade: finding the casings whose
//! stored descriptor is not of the current model (or whose marks are not
//! of the current extraction), and replacing their descriptors and marks
//! a batch at a time, each batch in one transaction together
//! with the audit record that attributes it.

use std::collections::{BTreeMap, BTreeSet};

use super::audit::append_audit_in;
use super::casings::{encode_descriptor, CasingRow};
use super::changes::record_changes_in;
use super::db::{on_pool, BeginWrite, Database};
use crate::audit::AuditEvent;
use crate::casing::CasingRecord;
use crate::error::Result;

/// Casings whose features are missing, of another model version or
/// without marks of the current extraction (`$4`), after a given id, in
/// id order (keyset paging).
const SELECT_STALE_PAGE: &str = "SELECT c.id, c.agency, c.casing_id, c.sha256, c.file_name, \
     c.format, c.surface_kind, c.kind, c.case_number, c.calibre, c.metadata, c.um_per_px, \
     c.width, c.height, c.submitted_at, c.submitted_by, \
     f.model_version AS features_model, f.pipeline_version AS features_pipeline \
     FROM casings c LEFT JOIN casing_features f ON f.casing_pk = c.id \
     WHERE (f.casing_pk IS NULL OR f.model_version <> $1 \
            OR f.marks_version IS NULL OR f.marks_version <> $4) AND c.id > $2 \
     ORDER BY c.id LIMIT $3";

/// Only the row still holding the version it was read with is replaced, so
/// a casing re-described meanwhile by another run is not written twice.
const UPDATE_DESCRIPTOR: &str = "UPDATE casing_features SET model_version = $2, descriptor = $3, \
     pin_mark = $5, marks_version = $6 \
     WHERE casing_pk = $1 AND model_version = $4";
const UPDATE_DESCRIPTOR_AND_SURFACE: &str = "UPDATE casing_features SET model_version = $2, \
     descriptor = $3, comparison_surface = $5, pipeline_version = $6, pin_mark = $7, \
     marks_version = $8 \
     WHERE casing_pk = $1 AND model_version = $4";
const INSERT_MISSING_FEATURES: &str = "INSERT INTO casing_features \
     (casing_pk, model_version, descriptor, comparison_surface, pipeline_version, pin_mark, \
     marks_version) \
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (casing_pk) DO NOTHING";

/// A casing that needs a descriptor of the current model.
#[derive(Debug, Clone, PartialEq)]
pub struct StaleCasing {
    pub casing: CasingRecord,
    /// The model version of its stored descriptor; `None` when it has no
    /// features row at all.
    pub model_version: Option<String>,
    /// The pipeline version of its stored comparison surface.
    pub pipeline_version: Option<String>,
}

/// A casing's new descriptor, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDescription {
    pub casing_pk: i64,
    /// The version the row held when it was read (`None`: no row); the
    /// write applies only if it still does.
    pub previous_model: Option<String>,
    pub model_version: String,
    pub descriptor: Vec<f32>,
    /// A re-derived comparison surface and its pipeline version; `None`
    /// keeps the stored one. Required when there is no features row.
    pub surface: Option<(Vec<u8>, String)>,
    /// The casing's firing-pin mark (encoded; `None`: it has none) and the
    /// extraction's version, always written.
    pub pin_mark: Option<Vec<u8>>,
    pub marks_version: String,
}

#[derive(sqlx::FromRow)]
struct StaleRow {
    #[sqlx(flatten)]
    casing: CasingRow,
    features_model: Option<String>,
    features_pipeline: Option<String>,
}

impl Database {
    /// Up to `limit` casings after row id `after` (exclusive) whose
    /// descriptor is missing or not of `model_version`, or whose marks are
    /// not of `marks_version`, in id order.
    pub async fn casings_to_redescribe(
        &self,
        model_version: &str,
        marks_version: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<StaleCasing>> {
        let rows: Vec<StaleRow> = on_pool!(self, pool => {
            sqlx::query_as(SELECT_STALE_PAGE)
                .bind(model_version)
                .bind(after)
                .bind(limit)
                .bind(marks_version)
                .fetch_all(pool)
                .await?
        });
        rows.into_iter()
            .map(|r| {
                Ok(StaleCasing {
                    casing: r.casing.try_into()?,
                    model_version: r.features_model,
                    pipeline_version: r.features_pipeline,
                })
            })
            .collect()
    }

    /// How many casings have no descriptor of `model_version` (they are
    /// not searchable until re-described) or no marks of `marks_version`
    /// (they are compared on the breech face only until then).
    pub async fn count_to_redescribe(
        &self,
        model_version: &str,
        marks_version: &str,
    ) -> Result<i64> {
        Ok(on_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT count(*) FROM casings c LEFT JOIN casing_features f ON f.casing_pk = c.id \
                 WHERE f.casing_pk IS NULL OR f.model_version <> $1 \
                 OR f.marks_version IS NULL OR f.marks_version <> $2",
            )
            .bind(model_version)
            .bind(marks_version)
            .fetch_one(pool)
            .await?
        }))
    }

    /// Store a batch of new descriptors and the audit record `event` in
    /// one transaction: after a crash every row is either as it was or
    /// new, and no new row is unattributed. The record's detail gains what
    /// was written: `count`, `from` (each previous model version, or
    /// `none`, with its number of rows), `to`, `surfaces_rederived` and the
    /// `casing_pks`. Returns the ids actually
    /// written (a row changed meanwhile by another run is left alone).
    pub async fn write_redescribed(
        &self,
        batch: &[NewDescription],
        event: &AuditEvent,
    ) -> Result<Vec<i64>> {
        let backend = self.backend();
        let mut event = event.clone();
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let mut written = Vec::with_capacity(batch.len());
            let mut written_rows = Vec::with_capacity(batch.len());
            for d in batch {
                let descriptor = encode_descriptor(&d.descriptor);
                let result = match (&d.previous_model, &d.surface) {
                    (Some(previous), None) => {
                        sqlx::query(UPDATE_DESCRIPTOR)
                            .bind(d.casing_pk)
                            .bind(&d.model_version)
                            .bind(&descriptor)
                            .bind(previous)
                            .bind(&d.pin_mark)
                            .bind(&d.marks_version)
                            .execute(&mut *tx)
                            .await?
                    }
                    (Some(previous), Some((surface, pipeline))) => {
                        sqlx::query(UPDATE_DESCRIPTOR_AND_SURFACE)
                            .bind(d.casing_pk)
                            .bind(&d.model_version)
                            .bind(&descriptor)
                            .bind(previous)
                            .bind(surface)
                            .bind(pipeline)
                            .bind(&d.pin_mark)
                            .bind(&d.marks_version)
                            .execute(&mut *tx)
                            .await?
                    }
                    (None, Some((surface, pipeline))) => {
                        sqlx::query(INSERT_MISSING_FEATURES)
                            .bind(d.casing_pk)
                            .bind(&d.model_version)
                            .bind(&descriptor)
                            .bind(surface)
                            .bind(pipeline)
                            .bind(&d.pin_mark)
                            .bind(&d.marks_version)
                            .execute(&mut *tx)
                            .await?
                    }
                    (None, None) => {
                        tx.rollback().await?;
                        return Err(crate::EngineError::Internal(format!(
                            "casing row {}: no stored features and no comparison surface to store",
                            d.casing_pk
                        )));
                    }
                };
                if result.rows_affected() == 1 {
                    written.push(d.casing_pk);
                    written_rows.push(d);
                }
            }
            event.detail.extend(written_detail(&written_rows));
            append_audit_in!(tx, backend, &event);
            // Last, after the audit lock (see `changes`' docs on the order).
            record_changes_in!(tx, backend, crate::store::ChangeKind::Describe, &written);
            tx.commit().await?;
            Ok(written)
        })
    }
}

/// What an audit record of a batch says was written: `count`, `from`
/// (previous model version, or `none`, to the number of rows), `to`,
/// `surfaces_rederived` and the `casing_pks` (row ids, in the order
/// written).
fn written_detail(rows: &[&NewDescription]) -> serde_json::Map<String, serde_json::Value> {
    let mut from = BTreeMap::<&str, u64>::new();
    for d in rows {
        *from
            .entry(d.previous_model.as_deref().unwrap_or("none"))
            .or_default() += 1;
    }
    let to: BTreeSet<&str> = rows.iter().map(|d| d.model_version.as_str()).collect();
    let mut detail = serde_json::Map::new();
    detail.insert("count".into(), rows.len().into());
    detail.insert("from".into(), serde_json::json!(from));
    detail.insert(
        "to".into(),
        serde_json::json!(to.into_iter().collect::<Vec<_>>().join(",")),
    );
    detail.insert(
        "surfaces_rederived".into(),
        rows.iter().filter(|d| d.surface.is_some()).count().into(),
    );
    detail.insert(
        "casing_pks".into(),
        serde_json::json!(rows.iter().map(|d| d.casing_pk).collect::<Vec<_>>()),
    );
    detail
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{on_both_backends, placeholder_casing};
    use super::*;
    use crate::audit::AuditOutcome;
    use crate::casing::{CasingFeatures, NewCasing};

    fn new_casing(casing_id: &str) -> NewCasing {
        placeholder_casing("local", casing_id)
    }

    fn features(model: &str, value: f32) -> CasingFeatures {
        CasingFeatures {
            model_version: model.into(),
            descriptor: vec![value; 4],
            comparison_surface: vec![1, 2, 3],
            pipeline_version: "pre-old".into(),
            pin_mark: None,
            marks_version: Some("K".into()),
        }
    }

    fn event() -> AuditEvent {
        AuditEvent::new(
            "local",
            "tester",
            "redescribe",
            "casing_features",
            AuditOutcome::Ok,
        )
    }

    /// Stale casings are found by version, paged by id; a batch replaces
    /// descriptors (keeping or replacing the surface as asked), commits
    /// with its audit record, and skips a row another run got to first.
    async fn stale_casings_are_found_and_replaced(db: &Database) {
        let mut ids = Vec::new();
        for (n, model) in ["A", "B", "A", "A"].iter().enumerate() {
            let out = db
                .insert_casing(&new_casing(&format!("C-{n}")), &features(model, n as f32))
                .await
                .unwrap();
            ids.push(out.record().id);
        }
        assert_eq!(db.count_to_redescribe("B", "K").await.unwrap(), 3);
        // Marks of another extraction make every casing stale.
        assert_eq!(db.count_to_redescribe("B", "K2").await.unwrap(), 4);
        let first = db
            .casings_to_redescribe("B", "K", i64::MIN, 2)
            .await
            .unwrap();
        let got: Vec<i64> = first.iter().map(|s| s.casing.id).collect();
        assert_eq!(got, [ids[0], ids[2]]);
        assert_eq!(first[0].model_version.as_deref(), Some("A"));
        assert_eq!(first[0].pipeline_version.as_deref(), Some("pre-old"));
        let rest = db.casings_to_redescribe("B", "K", ids[2], 2).await.unwrap();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].casing.id, ids[3]);

        let batch = vec![
            NewDescription {
                casing_pk: ids[0],
                previous_model: Some("A".into()),
                model_version: "B".into(),
                descriptor: vec![9.0; 4],
                surface: None,
                pin_mark: None,
                marks_version: "K".into(),
            },
            NewDescription {
                casing_pk: ids[2],
                previous_model: Some("A".into()),
                model_version: "B".into(),
                descriptor: vec![8.0; 4],
                surface: Some((vec![7, 7], "pre-new".into())),
                pin_mark: Some(vec![5, 5]),
                marks_version: "K".into(),
            },
            // Read as "A" but already "B": another run's write stands.
            NewDescription {
                casing_pk: ids[1],
                previous_model: Some("A".into()),
                model_version: "B".into(),
                descriptor: vec![0.5; 4],
                surface: None,
                pin_mark: None,
                marks_version: "K".into(),
            },
        ];
        let written = db.write_redescribed(&batch, &event()).await.unwrap();
        assert_eq!(written, [ids[0], ids[2]]);
        let stored = db.features_by_pks(&ids).await.unwrap();
        assert_eq!(stored[0].1.model_version, "B");
        assert_eq!(stored[0].1.descriptor, vec![9.0; 4]);
        assert_eq!(stored[0].1.comparison_surface, vec![1, 2, 3]);
        assert_eq!(stored[0].1.pipeline_version, "pre-old");
        assert_eq!(stored[1].1.descriptor, vec![1.0; 4]);
        assert_eq!(stored[2].1.comparison_surface, vec![7, 7]);
        assert_eq!(stored[2].1.pipeline_version, "pre-new");
        assert_eq!(stored[2].1.pin_mark, Some(vec![5, 5]));
        assert_eq!(stored[2].1.marks_version.as_deref(), Some("K"));
        assert_eq!(stored[3].1.model_version, "A");
        assert_eq!(db.count_to_redescribe("B", "K").await.unwrap(), 1);
        let audit = db.audit_page(0, 10).await.unwrap();
        assert_eq!(audit.len(), 1);
        assert_eq!(audit[0].action, "redescribe");
        let detail: serde_json::Value = serde_json::from_str(&audit[0].detail).unwrap();
        assert_eq!(
            detail,
            serde_json::json!({
                "count": 2, "from": {"A": 2}, "to": "B", "surfaces_rederived": 1,
                "casing_pks": [ids[0], ids[2]],
            })
        );
        assert!(db.verify_audit_chain().await.unwrap().is_intact());
    }

    /// A casing with no features row gets one; a failing batch writes
    /// neither descriptors nor the audit record.
    async fn missing_features_are_inserted_and_failures_write_nothing(db: &Database) {
        let id = db
            .insert_casing(&new_casing("C-1"), &features("A", 1.0))
            .await
            .unwrap()
            .record()
            .id;
        on_pool!(db, pool => {
            sqlx::query("DELETE FROM casing_features WHERE casing_pk = $1")
                .bind(id)
                .execute(pool)
                .await
                .unwrap();
        });
        let stale = db
            .casings_to_redescribe("B", "K", i64::MIN, 10)
            .await
            .unwrap();
        assert_eq!(stale.len(), 1);
        assert_eq!(stale[0].model_version, None);

        let refused = [NewDescription {
            casing_pk: id,
            previous_model: None,
            model_version: "B".into(),
            descriptor: vec![1.0; 4],
            surface: None,
            pin_mark: None,
            marks_version: "K".into(),
        }];
        assert!(db.write_redescribed(&refused, &event()).await.is_err());
        assert!(db.audit_page(0, 10).await.unwrap().is_empty());
        assert_eq!(db.count_to_redescribe("B", "K").await.unwrap(), 1);

        let batch = [NewDescription {
            surface: Some((vec![4], "pre-new".into())),
            ..refused[0].clone()
        }];
        assert_eq!(db.write_redescribed(&batch, &event()).await.unwrap(), [id]);
        assert_eq!(db.count_to_redescribe("B", "K").await.unwrap(), 0);
        assert_eq!(db.audit_page(0, 10).await.unwrap().len(), 1);
    }

    on_both_backends!(
        stale_casings_are_found_and_replaced,
        missing_features_are_inserted_and_failures_write_nothing
    );
}
