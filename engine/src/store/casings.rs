//! Casings on file and their stored features: the rows, and every query
//! the engine runs on them.
//!
//! A casing is identified to people by `(agency, casing_id)` and to the
//! index by its database id, which is never reused. The same bytes are the
//! same casing: a resubmission, under its own or another casing id, returns
//! the casing on file instead of storing a second copy.

use sqlx::types::Json;
use sqlx::{AssertSqlSafe, FromRow};

use super::changes::record_changes_in;
use super::correlation_jobs::enqueue_correlation_in;
use super::db::{on_pool, BeginWrite, Database, DbTimestamp};
use super::evidence::check_sha256_hex;
use crate::casing::{CasingFeatures, CasingRecord, NewCasing};
use crate::error::{EngineError, Result};

/// The most ids bound into one `IN (...)` list. SQLite's limit on bound
/// parameters is far higher; this keeps statements small on both backends.
pub(super) const IN_LIST_CHUNK: usize = 500;
/// Tries of an insert that lost a race to a concurrent one and then found
/// the winner gone again (its submission undone).
const INSERT_ATTEMPTS: usize = 3;

/// What [`Database::insert_casing`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum InsertOutcome {
    /// The casing is new and now stored.
    Inserted(CasingRecord),
    /// The same casing (same bytes) was already on file; nothing was written.
    Existing(CasingRecord),
}

impl InsertOutcome {
    pub fn record(&self) -> &CasingRecord {
        match self {
            InsertOutcome::Inserted(r) | InsertOutcome::Existing(r) => r,
        }
    }

    pub fn into_record(self) -> CasingRecord {
        match self {
            InsertOutcome::Inserted(r) | InsertOutcome::Existing(r) => r,
        }
    }

    pub fn is_inserted(&self) -> bool {
        matches!(self, InsertOutcome::Inserted(_))
    }
}

/// The columns of `casings`, in [`CasingRow`]'s order. A macro, not a
/// const, so `concat!` can build `'static` statements from it.
macro_rules! casing_columns {
    () => {
        "id, agency, casing_id, sha256, file_name, format, surface_kind, kind, case_number, calibre, \
         metadata, um_per_px, width, height, submitted_at, submitted_by"
    };
}

const SELECT_BY_CASING_ID: &str = concat!(
    "SELECT ",
    casing_columns!(),
    " FROM casings WHERE agency = $1 AND casing_id = $2"
);
const SELECT_BY_PK: &str = concat!("SELECT ", casing_columns!(), " FROM casings WHERE id = $1");
/// Rows that make a new casing a resubmission: its id, or its bytes, within
/// its agency.
pub(super) const SELECT_SAME_CASING: &str = concat!(
    "SELECT ",
    casing_columns!(),
    " FROM casings WHERE agency = $1 AND (casing_id = $2 OR sha256 = $3)"
);
const SELECT_ALL: &str = concat!("SELECT ", casing_columns!(), " FROM casings ORDER BY id");
pub(super) const INSERT_CASING: &str = concat!(
    "INSERT INTO casings (agency, casing_id, sha256, file_name, format, surface_kind, kind, case_number, \
     calibre, metadata, um_per_px, width, height, submitted_by) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING ",
    casing_columns!()
);
pub(super) const INSERT_FEATURES: &str = "INSERT INTO casing_features \
     (casing_pk, model_version, descriptor, comparison_surface, pipeline_version, pin_mark, marks_version) \
     VALUES ($1, $2, $3, $4, $5, $6, $7)";

/// A `casings` row as stored.
#[derive(FromRow)]
pub(super) struct CasingRow {
    pub(super) id: i64,
    agency: String,
    casing_id: String,
    sha256: String,
    file_name: String,
    format: String,
    surface_kind: String,
    kind: String,
    case_number: Option<String>,
    calibre: Option<String>,
    metadata: Json<serde_json::Value>,
    um_per_px: f64,
    width: i64,
    height: i64,
    submitted_at: DbTimestamp,
    submitted_by: String,
}

impl TryFrom<CasingRow> for CasingRecord {
    type Error = EngineError;

    fn try_from(row: CasingRow) -> Result<CasingRecord> {
        // The schema's CHECK allows only known kinds; a failure here means
        // the database and this code disagree, not bad user input.
        let stored = |e: EngineError| stored_value_error(format!("casing {}: {e}", row.id));
        let kind = row.kind.parse().map_err(stored)?;
        let format = row.format.parse().map_err(stored)?;
        let surface_kind = row.surface_kind.parse().map_err(stored)?;
        Ok(CasingRecord {
            id: row.id,
            agency: row.agency,
            casing_id: row.casing_id,
            sha256: row.sha256,
            file_name: row.file_name,
            format,
            surface_kind,
            kind,
            case_number: row.case_number,
            calibre: row.calibre,
            metadata: row.metadata.0,
            um_per_px: row.um_per_px,
            width: row.width,
            height: row.height,
            submitted_at: row.submitted_at.0,
            submitted_by: row.submitted_by,
        })
    }
}

/// A `casing_features` row as stored.
#[derive(FromRow)]
struct FeaturesRow {
    casing_pk: i64,
    model_version: String,
    descriptor: Vec<u8>,
    comparison_surface: Vec<u8>,
    pipeline_version: String,
    pin_mark: Option<Vec<u8>>,
    marks_version: Option<String>,
}

impl TryFrom<FeaturesRow> for (i64, CasingFeatures) {
    type Error = EngineError;

    fn try_from(row: FeaturesRow) -> Result<(i64, CasingFeatures)> {
        let descriptor = decode_descriptor(row.casing_pk, &row.descriptor)?;
        Ok((
            row.casing_pk,
            CasingFeatures {
                model_version: row.model_version,
                descriptor,
                comparison_surface: row.comparison_surface,
                pipeline_version: row.pipeline_version,
                pin_mark: row.pin_mark,
                marks_version: row.marks_version,
            },
        ))
    }
}

/// Insert a casing row and its features row inside the open transaction
/// `$tx`, evaluating to the stored [`CasingRow`]. A macro, like
/// [`on_pool!`], so that one text serves both backends' transactions:
/// single submissions and import batches insert exactly the same columns.
macro_rules! insert_casing_rows {
    ($tx:ident, $new:expr, $metadata:expr, $features:expr, $descriptor:expr) => {{
        let new: &$crate::casing::NewCasing = $new;
        let features: &$crate::casing::CasingFeatures = $features;
        let row: $crate::store::casings::CasingRow =
            sqlx::query_as($crate::store::casings::INSERT_CASING)
                .bind(&new.agency)
                .bind(&new.casing_id)
                .bind(&new.sha256)
                .bind(&new.file_name)
                .bind(new.format.as_str())
                .bind(new.surface_kind.as_str())
                .bind(new.kind.as_str())
                .bind(&new.case_number)
                .bind(&new.calibre)
                .bind(sqlx::types::Json($metadata))
                .bind(new.um_per_px)
                .bind(new.width)
                .bind(new.height)
                .bind(&new.submitted_by)
                .fetch_one(&mut *$tx)
                .await?;
        sqlx::query($crate::store::casings::INSERT_FEATURES)
            .bind(row.id)
            .bind(&features.model_version)
            .bind($descriptor)
            .bind(&features.comparison_surface)
            .bind(&features.pipeline_version)
            .bind(&features.pin_mark)
            .bind(&features.marks_version)
            .execute(&mut *$tx)
            .await?;
        row
    }};
}
pub(super) use insert_casing_rows;

impl Database {
    /// Store a casing and its features in one transaction.
    ///
    /// - `(agency, casing_id)` on file with the same sha256: the same
    ///   casing resubmitted; returns [`InsertOutcome::Existing`].
    /// - `(agency, casing_id)` on file with another sha256:
    ///   [`EngineError::CasingIdConflict`].
    /// - the agency has these bytes under another casing id: the same
    ///   casing; returns [`InsertOutcome::Existing`] with that record.
    /// - otherwise both rows are written: [`InsertOutcome::Inserted`].
    ///
    /// Nothing is written unless the outcome is `Inserted`. Concurrent
    /// inserts of one casing end at the unique constraints; the loser reads
    /// the winner's row and answers as above.
    pub async fn insert_casing(
        &self,
        new: &NewCasing,
        features: &CasingFeatures,
    ) -> Result<InsertOutcome> {
        self.insert_casing_by(new, features, None).await
    }

    /// [`Database::insert_casing`] for a submitter presenting key `key_id`
    /// (`None`: the command line): the casing's correlation job, queued in
    /// the same transaction, runs for its agency and that key.
    pub async fn insert_casing_by(
        &self,
        new: &NewCasing,
        features: &CasingFeatures,
        key_id: Option<&str>,
    ) -> Result<InsertOutcome> {
        let metadata = checked_metadata(new)?;
        let mut attempt = 1;
        loop {
            match self
                .try_insert_casing(new, &metadata, features, key_id)
                .await
            {
                Err(EngineError::Database(sqlx::Error::Database(e)))
                    if e.is_unique_violation() && attempt < INSERT_ATTEMPTS =>
                {
                    // Another insert of this casing committed after our
                    // check; its row is visible now that ours rolled back.
                    let same: Vec<CasingRow> = on_pool!(self, pool => {
                        sqlx::query_as(SELECT_SAME_CASING)
                            .bind(&new.agency)
                            .bind(&new.casing_id)
                            .bind(&new.sha256)
                            .fetch_all(pool)
                            .await?
                    });
                    if let Some(outcome) = same_casing_outcome(new, same)? {
                        return Ok(outcome);
                    }
                    // The winner was undone meanwhile: try again from scratch.
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn try_insert_casing(
        &self,
        new: &NewCasing,
        metadata: &serde_json::Value,
        features: &CasingFeatures,
        key_id: Option<&str>,
    ) -> Result<InsertOutcome> {
        let descriptor = encode_descriptor(&features.descriptor);
        let backend = self.backend();
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let same: Vec<CasingRow> = sqlx::query_as(SELECT_SAME_CASING)
                .bind(&new.agency)
                .bind(&new.casing_id)
                .bind(&new.sha256)
                .fetch_all(&mut *tx)
                .await?;
            // Explicit rollbacks release SQLite's write lock now rather
            // than when the connection is next used.
            match same_casing_outcome(new, same) {
                Ok(None) => {}
                Ok(Some(outcome)) => {
                    tx.rollback().await?;
                    return Ok(outcome);
                }
                Err(e) => {
                    tx.rollback().await?;
                    return Err(e);
                }
            }
            let row = insert_casing_rows!(tx, new, metadata, features, &descriptor);
            enqueue_correlation_in!(tx, row.id, &new.agency, key_id);
            record_changes_in!(tx, backend, crate::store::ChangeKind::Insert, &[row.id]);
            tx.commit().await?;
            Ok(InsertOutcome::Inserted(row.try_into()?))
        })
    }

    pub async fn casing_by_casing_id(
        &self,
        agency: &str,
        casing_id: &str,
    ) -> Result<Option<CasingRecord>> {
        let row: Option<CasingRow> = on_pool!(self, pool => {
            sqlx::query_as(SELECT_BY_CASING_ID)
                .bind(agency)
                .bind(casing_id)
                .fetch_optional(pool)
                .await?
        });
        row.map(CasingRecord::try_from).transpose()
    }

    pub async fn casing_by_pk(&self, id: i64) -> Result<Option<CasingRecord>> {
        let row: Option<CasingRow> = on_pool!(self, pool => {
            sqlx::query_as(SELECT_BY_PK).bind(id).fetch_optional(pool).await?
        });
        row.map(CasingRecord::try_from).transpose()
    }

    /// The casings with these ids, in id order; unknown ids are left out.
    pub async fn casings_by_pks(&self, ids: &[i64]) -> Result<Vec<CasingRecord>> {
        let ids = sorted_unique(ids);
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(IN_LIST_CHUNK) {
            let sql = format!(
                concat!(
                    "SELECT ",
                    casing_columns!(),
                    " FROM casings WHERE id IN ({}) ORDER BY id"
                ),
                placeholders(chunk.len())
            );
            let rows: Vec<CasingRow> = on_pool!(self, pool => {
                let mut query = sqlx::query_as(AssertSqlSafe(sql));
                for id in chunk {
                    query = query.bind(*id);
                }
                query.fetch_all(pool).await?
            });
            for row in rows {
                out.push(row.try_into()?);
            }
        }
        Ok(out)
    }

    pub async fn count_casings(&self) -> Result<i64> {
        Ok(on_pool!(self, pool => {
            sqlx::query_scalar("SELECT count(*) FROM casings").fetch_one(pool).await?
        }))
    }

    /// Every casing, in id order.
    pub async fn list_casings(&self) -> Result<Vec<CasingRecord>> {
        let rows: Vec<CasingRow> =
            on_pool!(self, pool => sqlx::query_as(SELECT_ALL).fetch_all(pool).await?);
        rows.into_iter().map(CasingRecord::try_from).collect()
    }

    /// The stored features of these casings, in id order; ids without
    /// features are left out.
    pub async fn features_by_pks(&self, ids: &[i64]) -> Result<Vec<(i64, CasingFeatures)>> {
        self.features_by_pks_chunked(ids, IN_LIST_CHUNK).await
    }

    async fn features_by_pks_chunked(
        &self,
        ids: &[i64],
        chunk_len: usize,
    ) -> Result<Vec<(i64, CasingFeatures)>> {
        let ids = sorted_unique(ids);
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(chunk_len) {
            let sql = format!(
                "SELECT casing_pk, model_version, descriptor, comparison_surface, pipeline_version, \
                 pin_mark, marks_version \
                 FROM casing_features WHERE casing_pk IN ({}) ORDER BY casing_pk",
                placeholders(chunk.len())
            );
            let rows: Vec<FeaturesRow> = on_pool!(self, pool => {
                let mut query = sqlx::query_as(AssertSqlSafe(sql));
                for id in chunk {
                    query = query.bind(*id);
                }
                query.fetch_all(pool).await?
            });
            for row in rows {
                out.push(row.try_into()?);
            }
        }
        Ok(out)
    }

    /// Whether any casing of any agency refers to these bytes: an undo may
    /// only remove an evidence file nobody refers to.
    pub async fn sha256_on_file(&self, sha256: &str) -> Result<bool> {
        let n: i64 = on_pool!(self, pool => {
            sqlx::query_scalar("SELECT count(*) FROM casings WHERE sha256 = $1")
                .bind(sha256)
                .fetch_one(pool)
                .await?
        });
        Ok(n > 0)
    }

    /// How many casings have a descriptor of `model_version`, and the
    /// highest such casing id: what an index of that model should hold.
    pub async fn descriptor_stats(&self, model_version: &str) -> Result<(i64, Option<i64>)> {
        Ok(on_pool!(self, pool => {
            sqlx::query_as("SELECT count(*), max(casing_pk) FROM casing_features WHERE model_version = $1")
                .bind(model_version)
                .fetch_one(pool)
                .await?
        }))
    }

    /// The highest casing id on file (`None` when there are none).
    pub async fn max_casing_pk(&self) -> Result<Option<i64>> {
        Ok(on_pool!(self, pool => {
            sqlx::query_scalar("SELECT max(id) FROM casings").fetch_one(pool).await?
        }))
    }
}

/// How a new casing relates to the rows of its agency sharing its casing id
/// or its bytes: `None` when it is new.
pub(super) fn same_casing_outcome(
    new: &NewCasing,
    rows: Vec<CasingRow>,
) -> Result<Option<InsertOutcome>> {
    // The casing id decides first: reusing an id for other bytes is a
    // conflict even if those bytes are on file under a third id.
    let (by_id, by_sha): (Vec<CasingRow>, Vec<CasingRow>) =
        rows.into_iter().partition(|r| r.casing_id == new.casing_id);
    if let Some(row) = by_id.into_iter().next() {
        if row.sha256 != new.sha256 {
            return Err(EngineError::CasingIdConflict {
                casing_id: new.casing_id.clone(),
                existing_sha256: row.sha256,
            });
        }
        return Ok(Some(InsertOutcome::Existing(row.try_into()?)));
    }
    match by_sha.into_iter().find(|r| r.sha256 == new.sha256) {
        Some(row) => Ok(Some(InsertOutcome::Existing(row.try_into()?))),
        None => Ok(None),
    }
}

/// Reject what the schema would reject, with errors that name the field;
/// returns the metadata object to store.
pub(super) fn checked_metadata(new: &NewCasing) -> Result<serde_json::Value> {
    let invalid = |field: &str, reason: String| EngineError::InvalidMetadata {
        field: field.into(),
        reason,
    };
    check_sha256_hex(&new.sha256)?;
    if !(new.um_per_px.is_finite() && new.um_per_px > 0.0) {
        return Err(invalid(
            "um_per_px",
            format!("{} is not a positive pixel size", new.um_per_px),
        ));
    }
    if new.width <= 0 || new.height <= 0 {
        return Err(invalid(
            "size",
            format!("{} x {} is not a positive size", new.width, new.height),
        ));
    }
    match &new.metadata {
        serde_json::Value::Null => Ok(serde_json::Value::Object(Default::default())),
        serde_json::Value::Object(_) => Ok(new.metadata.clone()),
        other => Err(invalid(
            "metadata",
            format!("must be a JSON object, not {other}"),
        )),
    }
}

/// A descriptor as stored: little-endian f32s, whatever the host.
pub(super) fn encode_descriptor(descriptor: &[f32]) -> Vec<u8> {
    descriptor.iter().flat_map(|v| v.to_le_bytes()).collect()
}

pub(super) fn decode_descriptor(casing_pk: i64, bytes: &[u8]) -> Result<Vec<f32>> {
    let values = bytes.chunks_exact(4);
    if !values.remainder().is_empty() {
        return Err(stored_value_error(format!(
            "casing {casing_pk}: descriptor of {} bytes is not a whole number of f32s",
            bytes.len()
        )));
    }
    Ok(values
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

/// A stored value this code cannot read: a database fault, not the user's.
fn stored_value_error(reason: String) -> EngineError {
    EngineError::Database(sqlx::Error::Decode(reason.into()))
}

pub(super) fn sorted_unique(ids: &[i64]) -> Vec<i64> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// `$1, $2, ..., $n`: generated, never user text, so safe to splice.
pub(super) fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use serde_json::json;

    use super::super::evidence::sha256_hex;
    use super::super::test_support::on_both_backends;
    use super::*;
    use crate::casing::CasingKind;

    fn new_casing(casing_id: &str, content: &str) -> NewCasing {
        NewCasing {
            agency: "local".into(),
            casing_id: casing_id.into(),
            sha256: sha256_hex(content.as_bytes()),
            file_name: format!("{casing_id}.x3p"),
            format: crate::reading::InputFormat::X3p,
            surface_kind: crate::surface::SurfaceKind::Topography,
            kind: CasingKind::Evidence,
            case_number: Some("2024-0001".into()),
            calibre: Some("9mm Luger".into()),
            metadata: json!({"lab": "north", "firearm": {"make": "Glock", "serial": null}}),
            um_per_px: 3.125,
            width: 640,
            height: 480,
            submitted_by: "examiner-7".into(),
        }
    }

    fn features(seed: f32) -> CasingFeatures {
        CasingFeatures {
            model_version: "m1".into(),
            descriptor: vec![seed, -seed, 0.5, f32::MIN_POSITIVE, 1e-30],
            comparison_surface: vec![seed as u8, 1, 2, 3, 255],
            pipeline_version: "p1".into(),
            // Some casings have a pin mark, some none: both round-trip.
            pin_mark: (seed > 1.5).then(|| vec![seed as u8, 7, 0, 255]),
            marks_version: Some("k1".into()),
        }
    }

    async fn feature_rows(db: &Database) -> i64 {
        on_pool!(db, pool => {
            sqlx::query_scalar("SELECT count(*) FROM casing_features").fetch_one(pool).await.unwrap()
        })
    }

    async fn insert_then_read_back(db: &Database) {
        let new = new_casing("C-1", "bytes one");
        let feats = features(1.0);
        let before = chrono::Utc::now() - chrono::Duration::seconds(60);
        let InsertOutcome::Inserted(rec) = db.insert_casing(&new, &feats).await.unwrap() else {
            panic!("expected a new casing");
        };
        assert!(rec.id > 0);
        assert_eq!(
            (
                rec.agency.as_str(),
                rec.casing_id.as_str(),
                rec.sha256.as_str()
            ),
            ("local", "C-1", new.sha256.as_str())
        );
        assert_eq!(
            (rec.file_name.as_str(), rec.format.as_str()),
            ("C-1.x3p", "x3p")
        );
        assert_eq!(
            (rec.surface_kind.as_str(), rec.kind),
            ("topography", CasingKind::Evidence)
        );
        assert_eq!(rec.case_number.as_deref(), Some("2024-0001"));
        assert_eq!(rec.calibre.as_deref(), Some("9mm Luger"));
        assert_eq!(rec.metadata, new.metadata);
        assert_eq!((rec.um_per_px, rec.width, rec.height), (3.125, 640, 480));
        assert_eq!(rec.submitted_by, "examiner-7");
        assert!(
            rec.submitted_at > before
                && rec.submitted_at < chrono::Utc::now() + chrono::Duration::seconds(60)
        );

        assert_eq!(
            db.casing_by_casing_id("local", "C-1")
                .await
                .unwrap()
                .as_ref(),
            Some(&rec)
        );
        assert_eq!(
            db.casing_by_casing_id("other-agency", "C-1").await.unwrap(),
            None
        );
        assert_eq!(db.casing_by_casing_id("local", "C-2").await.unwrap(), None);
        assert_eq!(db.casing_by_pk(rec.id).await.unwrap().as_ref(), Some(&rec));
        assert_eq!(db.casing_by_pk(rec.id + 1000).await.unwrap(), None);
        assert_eq!(
            db.casings_by_pks(&[rec.id, rec.id, -5]).await.unwrap(),
            vec![rec.clone()]
        );
        assert_eq!(db.list_casings().await.unwrap(), vec![rec.clone()]);
        assert_eq!(db.count_casings().await.unwrap(), 1);
        assert_eq!(db.max_casing_pk().await.unwrap(), Some(rec.id));
        assert_eq!(
            db.features_by_pks(&[rec.id]).await.unwrap(),
            vec![(rec.id, feats)]
        );
        assert_eq!(db.features_by_pks(&[]).await.unwrap(), vec![]);

        // No case number, test fire, no further metadata (null → {}).
        let mut bare = new_casing("TF-1", "bytes two");
        bare.kind = CasingKind::TestFire;
        bare.case_number = None;
        bare.calibre = None;
        bare.metadata = serde_json::Value::Null;
        let rec2 = db
            .insert_casing(&bare, &features(2.0))
            .await
            .unwrap()
            .into_record();
        assert_eq!(rec2.kind, CasingKind::TestFire);
        assert_eq!((rec2.case_number, rec2.calibre), (None, None));
        assert_eq!(rec2.metadata, json!({}));
        assert!(rec2.id > rec.id);
    }

    async fn empty_database(db: &Database) {
        assert_eq!(db.count_casings().await.unwrap(), 0);
        assert_eq!(db.max_casing_pk().await.unwrap(), None);
        assert_eq!(db.list_casings().await.unwrap(), vec![]);
        assert_eq!(db.all_index_entries("m1").await.unwrap(), vec![]);
        assert_eq!(db.casings_by_pks(&[1, 2, 3]).await.unwrap(), vec![]);
    }

    async fn resubmission_is_idempotent(db: &Database) {
        let new = new_casing("C-1", "bytes one");
        let first = db.insert_casing(&new, &features(1.0)).await.unwrap();
        assert!(first.is_inserted());
        // Different features on resubmission must not overwrite the stored ones.
        let again = db.insert_casing(&new, &features(9.0)).await.unwrap();
        assert_eq!(again, InsertOutcome::Existing(first.record().clone()));
        assert_eq!(db.count_casings().await.unwrap(), 1);
        assert_eq!(feature_rows(db).await, 1);
        let stored = db.features_by_pks(&[first.record().id]).await.unwrap();
        assert_eq!(stored[0].1, features(1.0));
    }

    async fn same_id_other_bytes_conflicts(db: &Database) {
        let first = db
            .insert_casing(&new_casing("C-1", "bytes one"), &features(1.0))
            .await
            .unwrap();
        let err = db
            .insert_casing(&new_casing("C-1", "other bytes"), &features(2.0))
            .await
            .unwrap_err();
        match err {
            EngineError::CasingIdConflict {
                casing_id,
                existing_sha256,
            } => {
                assert_eq!(casing_id, "C-1");
                assert_eq!(existing_sha256, first.record().sha256);
            }
            other => panic!("expected CasingIdConflict, got {other}"),
        }
        assert_eq!(db.count_casings().await.unwrap(), 1);
        assert_eq!(feature_rows(db).await, 1);
        // The id decides first, even when the new bytes are on file under a
        // third id.
        db.insert_casing(&new_casing("C-2", "bytes two"), &features(2.0))
            .await
            .unwrap();
        let err = db
            .insert_casing(&new_casing("C-1", "bytes two"), &features(2.0))
            .await
            .unwrap_err();
        assert!(matches!(err, EngineError::CasingIdConflict { .. }), "{err}");
        assert!(err.is_user_error());
    }

    async fn same_bytes_other_id_is_existing(db: &Database) {
        let first = db
            .insert_casing(&new_casing("C-1", "bytes one"), &features(1.0))
            .await
            .unwrap();
        let again = db
            .insert_casing(&new_casing("C-1-dup", "bytes one"), &features(1.0))
            .await
            .unwrap();
        assert_eq!(again, InsertOutcome::Existing(first.record().clone()));
        assert_eq!(db.count_casings().await.unwrap(), 1);
        assert_eq!(
            db.casing_by_casing_id("local", "C-1-dup").await.unwrap(),
            None
        );
        // Another agency holding the same file has a casing of its own.
        let mut elsewhere = new_casing("C-1", "bytes one");
        elsewhere.agency = "county".into();
        let theirs = db.insert_casing(&elsewhere, &features(1.0)).await.unwrap();
        assert!(theirs.is_inserted());
        assert_ne!(theirs.record().id, first.record().id);
        assert_eq!(db.count_casings().await.unwrap(), 2);
    }

    async fn all_descriptors_in_id_order(db: &Database) {
        let mut expected = Vec::new();
        for i in 0..7 {
            let mut feats = features(i as f32 + 0.25);
            if i == 3 {
                feats.model_version = "m2".into();
            }
            let rec = db
                .insert_casing(
                    &new_casing(&format!("C-{i}"), &format!("bytes {i}")),
                    &feats,
                )
                .await
                .unwrap()
                .into_record();
            if i != 3 {
                expected.push((rec.id, feats.descriptor));
            }
        }
        assert!(expected.windows(2).all(|w| w[0].0 < w[1].0));
        let descriptors = |entries: Vec<crate::index::IndexEntry>| {
            entries
                .into_iter()
                .map(|e| (e.id, e.descriptor))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            descriptors(db.all_index_entries("m1").await.unwrap()),
            expected
        );
        // Pages that split the rows, and a page size that divides them exactly.
        for page in [4, 3, 1] {
            let paged = db.index_entries_paged("m1", page).await.unwrap();
            assert_eq!(descriptors(paged), expected, "page {page}");
        }
        assert_eq!(db.all_index_entries("m2").await.unwrap().len(), 1);
        assert_eq!(db.all_index_entries("none").await.unwrap(), vec![]);
    }

    async fn by_pks_chunks_and_orders(db: &Database) {
        let mut ids = Vec::new();
        for i in 0..5 {
            let rec = db
                .insert_casing(
                    &new_casing(&format!("C-{i}"), &format!("bytes {i}")),
                    &features(i as f32),
                )
                .await
                .unwrap()
                .into_record();
            ids.push(rec.id);
        }
        let asked = [ids[4], ids[0], 999_999, ids[2], ids[0], ids[3]];
        let want = vec![ids[0], ids[2], ids[3], ids[4]];
        for chunk in [1, 2, 500] {
            let got = db.features_by_pks_chunked(&asked, chunk).await.unwrap();
            assert_eq!(
                got.iter().map(|f| f.0).collect::<Vec<_>>(),
                want,
                "chunk {chunk}"
            );
            assert_eq!(got[1].1, features(2.0));
        }
        let recs = db.casings_by_pks(&asked).await.unwrap();
        assert_eq!(recs.iter().map(|r| r.id).collect::<Vec<_>>(), want);
        // More ids than one IN-list holds.
        let many: Vec<i64> = (1..=1_200).collect();
        assert_eq!(db.features_by_pks(&many).await.unwrap().len(), 5);
        assert_eq!(db.casings_by_pks(&many).await.unwrap().len(), 5);
    }

    async fn delete_removes_features(db: &Database) {
        let a = db
            .insert_casing(&new_casing("C-a", "a"), &features(1.0))
            .await
            .unwrap()
            .into_record();
        let b = db
            .insert_casing(&new_casing("C-b", "b"), &features(2.0))
            .await
            .unwrap()
            .into_record();
        db.delete_casing(a.id).await.unwrap();
        assert_eq!(db.casing_by_pk(a.id).await.unwrap(), None);
        assert_eq!(db.features_by_pks(&[a.id, b.id]).await.unwrap().len(), 1);
        assert_eq!(feature_rows(db).await, 1);
        assert_eq!(db.count_casings().await.unwrap(), 1);
        assert_eq!(db.list_casings().await.unwrap(), vec![b.clone()]);
        // Repeating an undo is harmless.
        db.delete_casing(a.id).await.unwrap();
        // The casing id and bytes are free again.
        assert!(db
            .insert_casing(&new_casing("C-a", "a"), &features(1.0))
            .await
            .unwrap()
            .is_inserted());
    }

    async fn ids_are_never_reused(db: &Database) {
        let a = db
            .insert_casing(&new_casing("C-a", "a"), &features(1.0))
            .await
            .unwrap()
            .into_record();
        let b = db
            .insert_casing(&new_casing("C-b", "b"), &features(2.0))
            .await
            .unwrap()
            .into_record();
        // Deleting the newest casing must not free its id for the next one.
        db.delete_casing(b.id).await.unwrap();
        assert_eq!(db.max_casing_pk().await.unwrap(), Some(a.id));
        let c = db
            .insert_casing(&new_casing("C-c", "c"), &features(3.0))
            .await
            .unwrap()
            .into_record();
        assert!(c.id > b.id, "id {} reused (deleted {})", c.id, b.id);
        // Resubmitting the deleted casing gives it a new id too.
        let b2 = db
            .insert_casing(&new_casing("C-b", "b"), &features(2.0))
            .await
            .unwrap()
            .into_record();
        assert!(b2.id > c.id);
    }

    async fn concurrent_inserts_store_one_casing(db: &Database) {
        // Same casing id and bytes from several tasks at once.
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let db = db.clone();
                tokio::spawn(async move {
                    db.insert_casing(&new_casing("C-1", "bytes one"), &features(1.0))
                        .await
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for t in tasks {
            outcomes.push(t.await.unwrap().unwrap());
        }
        assert_eq!(
            outcomes.iter().filter(|o| o.is_inserted()).count(),
            1,
            "{outcomes:?}"
        );
        let ids: HashSet<i64> = outcomes.iter().map(|o| o.record().id).collect();
        assert_eq!(ids.len(), 1);
        assert_eq!(db.count_casings().await.unwrap(), 1);
        assert_eq!(feature_rows(db).await, 1);

        // Same bytes under different casing ids at once: still one casing.
        let tasks: Vec<_> = (0..4)
            .map(|i| {
                let db = db.clone();
                tokio::spawn(async move {
                    db.insert_casing(&new_casing(&format!("D-{i}"), "bytes two"), &features(2.0))
                        .await
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for t in tasks {
            outcomes.push(t.await.unwrap().unwrap());
        }
        assert_eq!(
            outcomes.iter().filter(|o| o.is_inserted()).count(),
            1,
            "{outcomes:?}"
        );
        assert_eq!(db.count_casings().await.unwrap(), 2);
        assert_eq!(feature_rows(db).await, 2);
    }

    async fn invalid_new_casings_are_refused(db: &Database) {
        let mut bad = new_casing("C-1", "bytes");
        bad.sha256 = bad.sha256.to_uppercase();
        let err = db.insert_casing(&bad, &features(1.0)).await.unwrap_err();
        assert!(
            matches!(&err, EngineError::InvalidMetadata { field, .. } if field == "sha256"),
            "{err}"
        );

        let mut bad = new_casing("C-1", "bytes");
        bad.metadata = json!(["not", "an", "object"]);
        let err = db.insert_casing(&bad, &features(1.0)).await.unwrap_err();
        assert!(
            matches!(&err, EngineError::InvalidMetadata { field, .. } if field == "metadata"),
            "{err}"
        );

        let mut bad = new_casing("C-1", "bytes");
        bad.um_per_px = f64::NAN;
        assert!(db.insert_casing(&bad, &features(1.0)).await.is_err());
        assert_eq!(db.count_casings().await.unwrap(), 0);
    }

    /// A failure after the casing row is written rolls the whole
    /// transaction back: no casing without features.
    async fn failed_insert_writes_nothing(db: &Database) {
        // Make the features insert fail.
        on_pool!(db, pool => {
            sqlx::query("DROP TABLE casing_features").execute(pool).await.unwrap();
        });
        let err = db
            .insert_casing(&new_casing("C-1", "bytes"), &features(1.0))
            .await;
        assert!(matches!(err, Err(EngineError::Database(_))), "{err:?}");
        assert_eq!(db.count_casings().await.unwrap(), 0);
    }

    on_both_backends!(
        insert_then_read_back,
        empty_database,
        resubmission_is_idempotent,
        same_id_other_bytes_conflicts,
        same_bytes_other_id_is_existing,
        all_descriptors_in_id_order,
        by_pks_chunks_and_orders,
        delete_removes_features,
        ids_are_never_reused,
        concurrent_inserts_store_one_casing,
        invalid_new_casings_are_refused,
        failed_insert_writes_nothing,
        descriptor_stats_count_one_model_version,
    );

    /// What an index of one model should hold: only that model's rows.
    async fn descriptor_stats_count_one_model_version(db: &Database) {
        assert_eq!(db.descriptor_stats("m1").await.unwrap(), (0, None));
        let a = db
            .insert_casing(&new_casing("C-1", "one"), &features(1.0))
            .await
            .unwrap();
        let other_model = CasingFeatures {
            model_version: "m2".into(),
            ..features(2.0)
        };
        let b = db
            .insert_casing(&new_casing("C-2", "two"), &other_model)
            .await
            .unwrap();
        let (a, b) = (a.record().id, b.record().id);
        assert_eq!(db.descriptor_stats("m1").await.unwrap(), (1, Some(a)));
        assert_eq!(db.descriptor_stats("m2").await.unwrap(), (1, Some(b)));
        assert_eq!(db.descriptor_stats("m3").await.unwrap(), (0, None));
    }

    #[test]
    fn casing_kind_names() {
        for kind in CasingKind::ALL {
            assert_eq!(kind.as_str().parse::<CasingKind>().unwrap(), kind);
            assert_eq!(serde_json::to_value(kind).unwrap(), json!(kind.as_str()));
            assert_eq!(kind.to_string(), kind.as_str());
        }
        let err = "testfire".parse::<CasingKind>().unwrap_err();
        match &err {
            EngineError::InvalidMetadata { field, reason } => {
                assert_eq!(field, "kind");
                assert!(
                    reason.contains("evidence") && reason.contains("test_fire"),
                    "{reason}"
                );
            }
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn descriptors_round_trip_little_endian() {
        let d = vec![1.0f32, -2.5, f32::MAX, 0.0];
        let bytes = encode_descriptor(&d);
        assert_eq!(&bytes[..4], &1.0f32.to_le_bytes());
        assert_eq!(decode_descriptor(1, &bytes).unwrap(), d);
        assert!(decode_descriptor(1, &bytes[..5]).is_err());
    }

    #[test]
    fn placeholder_lists() {
        assert_eq!(placeholders(3), "$1, $2, $3");
        assert_eq!(placeholders(1), "$1");
    }
}
