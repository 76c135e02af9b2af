//! What the descriptor index is built from: each described casing's id,
//! agency and descriptor of one model (the index's vectors and its
//! per-agency id sets, [`crate::index::CasingIndex`]).

use sqlx::AssertSqlSafe;

use super::casings::{decode_descriptor, placeholders, sorted_unique, IN_LIST_CHUNK};
use super::db::{on_pool, Database};
use crate::error::Result;
use crate::index::IndexEntry;

/// Rows read per query when rebuilding: keyset pages stay fast at any depth.
const ENTRY_PAGE: i64 = 10_000;

const SELECT_ENTRY_PAGE: &str = "SELECT f.casing_pk, c.agency, f.descriptor \
     FROM casing_features f JOIN casings c ON c.id = f.casing_pk \
     WHERE f.model_version = $1 AND f.casing_pk > $2 ORDER BY f.casing_pk LIMIT $3";
const SELECT_AGENCY_PAGE: &str = "SELECT f.casing_pk, c.agency \
     FROM casing_features f JOIN casings c ON c.id = f.casing_pk \
     WHERE f.model_version = $1 AND f.casing_pk > $2 ORDER BY f.casing_pk LIMIT $3";

impl Database {
    /// Every casing with a descriptor of `model_version`, in id order.
    pub async fn all_index_entries(&self, model_version: &str) -> Result<Vec<IndexEntry>> {
        self.index_entries_paged(model_version, ENTRY_PAGE).await
    }

    /// [`Database::all_index_entries`] with pages of `page` rows.
    pub(super) async fn index_entries_paged(
        &self,
        model_version: &str,
        page: i64,
    ) -> Result<Vec<IndexEntry>> {
        let mut out = Vec::new();
        let mut after = i64::MIN;
        loop {
            let rows: Vec<(i64, String, Vec<u8>)> = on_pool!(self, pool => {
                sqlx::query_as(SELECT_ENTRY_PAGE)
                    .bind(model_version)
                    .bind(after)
                    .bind(page)
                    .fetch_all(pool)
                    .await?
            });
            let full_page = rows.len() as i64 == page;
            for (id, agency, bytes) in rows {
                out.push(IndexEntry {
                    id,
                    agency,
                    descriptor: decode_descriptor(id, &bytes)?,
                });
                after = id;
            }
            if !full_page {
                return Ok(out);
            }
        }
    }

    /// The id and agency of every casing with a descriptor of
    /// `model_version`, in id order: the agency sets of an index loaded
    /// from its file, without reading the descriptors again.
    pub async fn indexed_agencies(&self, model_version: &str) -> Result<Vec<(i64, String)>> {
        let mut out = Vec::new();
        let mut after = i64::MIN;
        loop {
            let rows: Vec<(i64, String)> = on_pool!(self, pool => {
                sqlx::query_as(SELECT_AGENCY_PAGE)
                    .bind(model_version)
                    .bind(after)
                    .bind(ENTRY_PAGE)
                    .fetch_all(pool)
                    .await?
            });
            let full_page = rows.len() as i64 == ENTRY_PAGE;
            if let Some(last) = rows.last() {
                after = last.0;
            }
            out.extend(rows);
            if !full_page {
                return Ok(out);
            }
        }
    }

    /// The current entries of these casings for an index of
    /// `model_version`, in id order; casings without a descriptor of it
    /// (removed, or described by another model) are left out.
    pub async fn index_entries_of(
        &self,
        pks: &[i64],
        model_version: &str,
    ) -> Result<Vec<IndexEntry>> {
        let pks = sorted_unique(pks);
        let mut out = Vec::with_capacity(pks.len());
        for chunk in pks.chunks(IN_LIST_CHUNK) {
            // `$1` is the model; the ids follow it.
            let ids = placeholders(chunk.len() + 1)
                .split(", ")
                .skip(1)
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "SELECT f.casing_pk, c.agency, f.descriptor \
                 FROM casing_features f JOIN casings c ON c.id = f.casing_pk \
                 WHERE f.model_version = $1 AND f.casing_pk IN ({ids}) ORDER BY f.casing_pk"
            );
            let rows: Vec<(i64, String, Vec<u8>)> = on_pool!(self, pool => {
                let mut query = sqlx::query_as(AssertSqlSafe(sql));
                query = query.bind(model_version);
                for pk in chunk {
                    query = query.bind(*pk);
                }
                query.fetch_all(pool).await?
            });
            for (id, agency, bytes) in rows {
                out.push(IndexEntry {
                    id,
                    agency,
                    descriptor: decode_descriptor(id, &bytes)?,
                });
            }
        }
        Ok(out)
    }

    /// The agency of each of these casings on file, in id order (ids not on
    /// file are left out).
    pub async fn agencies_of(&self, pks: &[i64]) -> Result<Vec<(i64, String)>> {
        let pks = sorted_unique(pks);
        let mut out = Vec::with_capacity(pks.len());
        for chunk in pks.chunks(IN_LIST_CHUNK) {
            let sql = format!(
                "SELECT id, agency FROM casings WHERE id IN ({}) ORDER BY id",
                placeholders(chunk.len())
            );
            let rows: Vec<(i64, String)> = on_pool!(self, pool => {
                let mut query = sqlx::query_as(AssertSqlSafe(sql));
                for pk in chunk {
                    query = query.bind(*pk);
                }
                query.fetch_all(pool).await?
            });
            out.extend(rows);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{casing_fixture, on_both_backends};
    use super::*;

    /// Entries join each described casing with its agency; paging and
    /// lookups by id agree with a read of everything.
    async fn entries_carry_each_casings_agency(db: &Database) {
        let a = casing_fixture(db, "agency-a", "A1", None, None).await;
        let b = casing_fixture(db, "agency-b", "B1", None, None).await;
        let c = casing_fixture(db, "agency-a", "A2", None, None).await;
        let all = db.all_index_entries("m").await.unwrap();
        let summary: Vec<(i64, &str)> = all.iter().map(|e| (e.id, e.agency.as_str())).collect();
        assert_eq!(summary, [(a, "agency-a"), (b, "agency-b"), (c, "agency-a")]);
        assert_eq!(db.index_entries_paged("m", 1).await.unwrap(), all);
        assert_eq!(db.index_entries_paged("m", 2).await.unwrap(), all);
        assert!(db.all_index_entries("other").await.unwrap().is_empty());
        assert_eq!(
            db.indexed_agencies("m").await.unwrap(),
            [
                (a, "agency-a".to_string()),
                (b, "agency-b".to_string()),
                (c, "agency-a".to_string())
            ]
        );
        assert_eq!(
            db.index_entries_of(&[c, a, c, 999_999], "m").await.unwrap(),
            [all[0].clone(), all[2].clone()]
        );
        assert_eq!(
            db.agencies_of(&[b, 999_999]).await.unwrap(),
            [(b, "agency-b".to_string())]
        );
        db.delete_casing(b).await.unwrap();
        assert!(db.index_entries_of(&[b], "m").await.unwrap().is_empty());
        assert!(db.agencies_of(&[b]).await.unwrap().is_empty());
    }

    on_both_backends!(entries_carry_each_casings_agency);
}
