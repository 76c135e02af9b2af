//! Rewriting stored comparison canvases (and pin marks) of an older codec
//! version in the current one (`casetrace redescribe`): the rows whose
//! bytes start with a given version's magic, and the batch write that
//! replaces them, each batch in one transaction with its audit record.
//!
//! The canvases' content does not change (a decode of either version is
//! the same canvas up to the new codec's quantisation), so nothing is
//! re-read from evidence, and no index holds canvases: the change feed is
//! not told.

use super::audit::append_audit_in;
use super::db::{on_pool, BeginWrite, Database};
use crate::audit::AuditEvent;
use crate::error::Result;

/// Rows whose canvas or pin mark starts with the magic `$2`, after a given
/// id, in id order (keyset paging). `substr` on a BLOB or BYTEA gives
/// bytes in both dialects.
const SELECT_IN_CODEC: &str =
    "SELECT casing_pk, comparison_surface, pin_mark FROM casing_features \
     WHERE casing_pk > $1 \
     AND (substr(comparison_surface, 1, 4) = $2 OR substr(pin_mark, 1, 4) = $2) \
     ORDER BY casing_pk LIMIT $3";
const COUNT_IN_CODEC: &str = "SELECT count(*) FROM casing_features \
     WHERE substr(comparison_surface, 1, 4) = $1 OR substr(pin_mark, 1, 4) = $1";
/// Only a row still holding the bytes it was read with is replaced: one
/// re-described meanwhile keeps what the re-description wrote.
const UPDATE_RECODED: &str = "UPDATE casing_features SET comparison_surface = $2, pin_mark = $3 \
     WHERE casing_pk = $1 AND comparison_surface = $4 \
     AND (pin_mark = $5 OR (pin_mark IS NULL AND $5 IS NULL))";

/// A casing's stored canvases, as read.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredCanvases {
    pub casing_pk: i64,
    #[sqlx(rename = "comparison_surface")]
    pub surface: Vec<u8>,
    pub pin_mark: Option<Vec<u8>>,
}

/// A casing's canvases re-encoded: written only over `read`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecodedCanvases {
    pub read: StoredCanvases,
    pub surface: Vec<u8>,
    pub pin_mark: Option<Vec<u8>>,
}

impl Database {
    /// Up to `limit` casings after row id `after` whose canvas or pin mark
    /// is in the codec version `magic`, in id order.
    pub async fn canvases_in_codec(
        &self,
        magic: &[u8; 4],
        after: i64,
        limit: i64,
    ) -> Result<Vec<StoredCanvases>> {
        Ok(on_pool!(self, pool => {
            sqlx::query_as(SELECT_IN_CODEC)
                .bind(after)
                .bind(magic.as_slice())
                .bind(limit)
                .fetch_all(pool)
                .await?
        }))
    }

    /// How many casings have a canvas or pin mark in the codec `magic`.
    pub async fn count_canvases_in_codec(&self, magic: &[u8; 4]) -> Result<i64> {
        Ok(on_pool!(self, pool => {
            sqlx::query_scalar(COUNT_IN_CODEC)
                .bind(magic.as_slice())
                .fetch_one(pool)
                .await?
        }))
    }

    /// Replace a batch of canvases and append `event` in one transaction.
    /// The record's detail gains `count` and the `casing_pks` written.
    /// Returns the ids written (a row changed since it was read is left).
    pub async fn write_recoded(
        &self,
        batch: &[RecodedCanvases],
        event: &AuditEvent,
    ) -> Result<Vec<i64>> {
        let backend = self.backend();
        let mut event = event.clone();
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let mut written = Vec::with_capacity(batch.len());
            for r in batch {
                let result = sqlx::query(UPDATE_RECODED)
                    .bind(r.read.casing_pk)
                    .bind(&r.surface)
                    .bind(&r.pin_mark)
                    .bind(&r.read.surface)
                    .bind(&r.read.pin_mark)
                    .execute(&mut *tx)
                    .await?;
                if result.rows_affected() == 1 {
                    written.push(r.read.casing_pk);
                }
            }
            event.detail.insert("count".into(), written.len().into());
            event.detail.insert("casing_pks".into(), serde_json::json!(written));
            append_audit_in!(tx, backend, &event);
            tx.commit().await?;
            Ok(written)
        })
    }
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

    fn features(surface: &[u8], pin_mark: Option<&[u8]>) -> CasingFeatures {
        CasingFeatures {
            model_version: "m".into(),
            descriptor: vec![1.0, 0.0],
            comparison_surface: surface.to_vec(),
            pipeline_version: "p".into(),
            pin_mark: pin_mark.map(<[u8]>::to_vec),
            marks_version: Some("k".into()),
        }
    }

    async fn old_canvases_are_found_and_rewritten_once(db: &Database) {
        let store = |id: &'static str, f: CasingFeatures| async move {
            db.insert_casing(&new_casing(id), &f)
                .await
                .unwrap()
                .into_record()
                .id
        };
        let old = store("old", features(b"CTC1aaaa", None)).await;
        let old_pin = store("old-pin", features(b"CTC2bbbb", Some(b"CTC1cc"))).await;
        store("new", features(b"CTC2dddd", Some(b"CTC2ee"))).await;
        assert_eq!(db.count_canvases_in_codec(b"CTC1").await.unwrap(), 2);
        let found = db.canvases_in_codec(b"CTC1", i64::MIN, 10).await.unwrap();
        assert_eq!(
            found.iter().map(|c| c.casing_pk).collect::<Vec<_>>(),
            [old, old_pin]
        );
        assert_eq!(found[1].pin_mark.as_deref(), Some(&b"CTC1cc"[..]));
        // Paging: after the first, the second only.
        let next = db.canvases_in_codec(b"CTC1", old, 10).await.unwrap();
        assert_eq!(next.len(), 1);

        let recoded: Vec<RecodedCanvases> = found
            .iter()
            .map(|c| RecodedCanvases {
                read: c.clone(),
                surface: b"CTC2new".to_vec(),
                pin_mark: c.pin_mark.as_ref().map(|_| b"CTC2pin".to_vec()),
            })
            .collect();
        // A row changed since it was read is left as it is.
        let mut stale = recoded[0].clone();
        stale.read.surface = b"CTC1zzzz".to_vec();
        let event = AuditEvent::new("local", "test", "recode", "x", AuditOutcome::Ok);
        assert!(db.write_recoded(&[stale], &event).await.unwrap().is_empty());

        assert_eq!(
            db.write_recoded(&recoded, &event).await.unwrap(),
            [old, old_pin]
        );
        assert_eq!(db.count_canvases_in_codec(b"CTC1").await.unwrap(), 0);
        let now = db.features_by_pks(&[old, old_pin]).await.unwrap();
        assert_eq!(now[0].1.comparison_surface, b"CTC2new");
        assert_eq!(now[0].1.pin_mark, None);
        assert_eq!(now[1].1.pin_mark.as_deref(), Some(&b"CTC2pin"[..]));
        // Written again over what it read: nothing matches any more.
        assert!(db.write_recoded(&recoded, &event).await.unwrap().is_empty());
    }

    on_both_backends!(old_canvases_are_found_and_rewritten_once);
}
