//! Firearms, their trace events and the serial-number index: the rows and
//! every query the engine runs on them.
//!
//! Serial search never scans `firearms`: exact search is an equality on the
//! B-tree index of the normalised serial; a wildcard pattern either takes
//! the B-tree range of its known prefix or intersects the postings of its
//! known trigrams in `firearm_serial_grams`; fuzzy search counts shared
//! trigram postings and keeps firearms with enough of them to be within
//! the edit budget. The surviving candidates are checked exactly in Rust.

use sqlx::{AssertSqlSafe, FromRow};

use super::db::{on_pool, Backend, BeginWrite, Database, DbTimestamp, Pool};
use crate::access::Agencies;
use crate::error::{EngineError, Result};
use crate::traces::serial::{
    checked_serial, edit_distance, min_shared_grams, serial_grams, SerialPattern,
};
use crate::traces::{FirearmRecord, NewFirearm, SerialFilters, SerialMatch, SerialQuery};

/// Most results any serial search returns.
pub const MAX_SEARCH_RESULTS: usize = 200;
/// Most candidates read from the index before the exact check; beyond
/// this the query is too vague to answer usefully and is refused.
const MAX_INDEX_CANDIDATES: i64 = 50_000;

#[derive(FromRow)]
pub(super) struct FirearmRow {
    pub(super) id: i64,
    agency: String,
    make: Option<String>,
    model: Option<String>,
    firearm_type: Option<String>,
    calibre: Option<String>,
    country: Option<String>,
    importer: Option<String>,
    serial_as_written: String,
    serial_normalised: String,
    obliterated: bool,
    restored_chars: Option<String>,
    submitted_at: DbTimestamp,
    submitted_by: String,
}

impl From<FirearmRow> for FirearmRecord {
    fn from(r: FirearmRow) -> Self {
        FirearmRecord {
            id: r.id,
            agency: r.agency,
            make: r.make,
            model: r.model,
            firearm_type: r.firearm_type,
            calibre: r.calibre,
            country: r.country,
            importer: r.importer,
            serial_as_written: r.serial_as_written,
            serial_normalised: r.serial_normalised,
            obliterated: r.obliterated,
            restored_chars: r.restored_chars,
            submitted_at: r.submitted_at.0,
            submitted_by: r.submitted_by,
        }
    }
}

macro_rules! firearm_columns {
    () => {
        "id, agency, make, model, firearm_type, calibre, country, importer, serial_as_written, \
         serial_normalised, obliterated, restored_chars, submitted_at, submitted_by"
    };
}

pub(super) const INSERT_FIREARM: &str = concat!(
    "INSERT INTO firearms (agency, make, model, firearm_type, calibre, country, importer, \
     serial_as_written, serial_normalised, obliterated, restored_chars, submitted_by) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING ",
    firearm_columns!()
);
pub(super) const INSERT_GRAM: &str =
    "INSERT INTO firearm_serial_grams (gram, firearm_pk) VALUES ($1, $2)";
const SELECT_FIREARM: &str = concat!(
    "SELECT ",
    firearm_columns!(),
    " FROM firearms WHERE id = $1"
);
/// `{agencies}` is [`agency_clause`] from `$3` on.
const SELECT_BY_SERIAL: &str = concat!(
    "SELECT ",
    firearm_columns!(),
    " FROM firearms WHERE serial_normalised = $1{agencies} ORDER BY id LIMIT $2"
);
/// `$2` is the prefix with its last character incremented: the range's
/// exclusive end. `{agencies}` is [`agency_clause`] from `$4` on.
const SELECT_BY_PREFIX: &str = concat!(
    "SELECT ",
    firearm_columns!(),
    " FROM firearms WHERE serial_normalised >= $1 AND serial_normalised < $2{agencies} \
     ORDER BY id LIMIT $3"
);

/// ` AND <column> IN ($first, ...)` restricting a query to the agencies
/// of `within`, and the values to bind; nothing for every agency. The
/// restriction is part of the query, so firearms the caller may not see
/// never count towards a limit or a "too vague" refusal.
fn agency_clause(column: &str, within: &Agencies, first: usize) -> (String, Vec<String>) {
    match within {
        Agencies::All => (String::new(), Vec::new()),
        Agencies::Only(list) => {
            let params = (0..list.len())
                .map(|i| format!("${}", first + i))
                .collect::<Vec<_>>()
                .join(", ");
            // An empty list matches nothing (`IN ()` is not valid SQL).
            let clause = if list.is_empty() {
                " AND 1 = 0".to_string()
            } else {
                format!(" AND {column} IN ({params})")
            };
            (clause, list.clone())
        }
    }
}

/// The smallest string greater than every string starting with `prefix`
/// (normalised serials are ASCII, so bumping the last byte suffices).
fn prefix_end(prefix: &str) -> String {
    let mut bytes = prefix.as_bytes().to_vec();
    if let Some(last) = bytes.last_mut() {
        *last += 1;
    }
    String::from_utf8(bytes).expect("ASCII stays ASCII")
}

/// Firearm ids posted under at least `min_shared` of `grams` bound
/// parameters, at most `limit`: one range of the postings' primary key
/// (gram, firearm_pk) per gram, counted per firearm. Grams are distinct and
/// a posting is unique, so `min_shared == grams` means all of them.
/// `agencies` is an [`agency_clause`] on `f.agency` numbered after the grams.
fn postings_sql(grams: usize, min_shared: i64, limit: i64, agencies: &str) -> String {
    let list = (1..=grams)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    // The firearms are joined only to restrict them to some agencies.
    let join = if agencies.is_empty() {
        ""
    } else {
        " JOIN firearms f ON f.id = firearm_serial_grams.firearm_pk"
    };
    format!(
        "SELECT firearm_pk FROM firearm_serial_grams{join} WHERE gram IN ({list}){agencies} \
         GROUP BY firearm_pk HAVING count(*) >= {min_shared} LIMIT {limit}"
    )
}

/// The placeholders of a multi-row `VALUES` list: `rows` tuples of `cols`.
///
/// PostgreSQL needs numbered `$N`. SQLite gets anonymous `?`: it keeps
/// named and numbered parameters in a list it searches linearly, and sqlx
/// asks for every parameter's name when binding, so binding thousands of
/// `$N` costs the square of their number (it was ~70% of a bulk load's
/// time); anonymous parameters have no name to look up.
fn values_placeholders(backend: Backend, rows: usize, cols: usize) -> String {
    let mut out = String::with_capacity(rows * cols * 7);
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for c in 0..cols {
            if c > 0 {
                out.push_str(", ");
            }
            match backend {
                Backend::Sqlite => out.push('?'),
                Backend::Postgres => {
                    out.push('$');
                    out.push_str(&(r * cols + c + 1).to_string());
                }
            }
        }
        out.push(')');
    }
    out
}

/// Insert a firearm and its serial postings inside the open transaction
/// `$tx`, giving its [`FirearmRecord`]; `$normalised` is the serial's
/// checked normal form. A macro because the transaction's type differs by
/// backend (see `on_pool!`).
macro_rules! insert_firearm_in {
    ($tx:ident, $new:expr, $normalised:expr) => {{
        let new: &$crate::traces::NewFirearm = $new;
        let normalised: &str = &$normalised;
        let row: $crate::store::firearms::FirearmRow =
            sqlx::query_as($crate::store::firearms::INSERT_FIREARM)
                .bind(&new.agency)
                .bind(&new.make)
                .bind(&new.model)
                .bind(&new.firearm_type)
                .bind(&new.calibre)
                .bind(&new.country)
                .bind(&new.importer)
                .bind(&new.serial)
                .bind(normalised)
                .bind(new.obliterated)
                .bind(&new.restored_chars)
                .bind(&new.submitted_by)
                .fetch_one(&mut *$tx)
                .await?;
        for gram in $crate::traces::serial::serial_grams(normalised) {
            sqlx::query($crate::store::firearms::INSERT_GRAM)
                .bind(gram)
                .bind(row.id)
                .execute(&mut *$tx)
                .await?;
        }
        $crate::traces::FirearmRecord::from(row)
    }};
}
pub(super) use insert_firearm_in;

impl Database {
    /// Store a firearm and post it in the serial index, in one transaction.
    pub async fn insert_firearm(&self, new: &NewFirearm) -> Result<FirearmRecord> {
        let normalised = checked_serial("serial", &new.serial)?;
        let record = on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let record = insert_firearm_in!(tx, new, normalised);
            tx.commit().await?;
            record
        });
        Ok(record)
    }

    /// Store many firearms at once (imports, benchmarks): multi-row
    /// inserts in one transaction, all or nothing. Returns the new ids in
    /// the order given.
    pub async fn insert_firearms_bulk(&self, firearms: &[NewFirearm]) -> Result<Vec<i64>> {
        // 12 parameters a row: 400 rows stay far below both dialects'
        // limits on bound parameters.
        const ROWS: usize = 400;
        const GRAM_ROWS: usize = 2_000;
        let mut normalised = Vec::with_capacity(firearms.len());
        for (i, f) in firearms.iter().enumerate() {
            normalised.push(checked_serial(
                &format!("row {}: serial", i + 1),
                &f.serial,
            )?);
        }
        let mut ids = Vec::with_capacity(firearms.len());
        let backend = self.backend();
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            for (chunk, norms) in firearms.chunks(ROWS).zip(normalised.chunks(ROWS)) {
                let values = values_placeholders(backend, chunk.len(), 12);
                let sql = format!(
                    "INSERT INTO firearms (agency, make, model, firearm_type, calibre, country, importer, \
                     serial_as_written, serial_normalised, obliterated, restored_chars, submitted_by) \
                     VALUES {values} RETURNING id, serial_normalised"
                );
                let mut q = sqlx::query_as::<_, (i64, String)>(AssertSqlSafe(sql));
                for (f, n) in chunk.iter().zip(norms) {
                    q = q
                        .bind(&f.agency)
                        .bind(&f.make)
                        .bind(&f.model)
                        .bind(&f.firearm_type)
                        .bind(&f.calibre)
                        .bind(&f.country)
                        .bind(&f.importer)
                        .bind(&f.serial)
                        .bind(n)
                        .bind(f.obliterated)
                        .bind(&f.restored_chars)
                        .bind(&f.submitted_by);
                }
                let mut rows = q.fetch_all(&mut *tx).await?;
                // Ids are handed out in VALUES order; RETURNING's order is
                // not promised, so sort by id and check each row's serial
                // rather than trust it.
                rows.sort_by_key(|r| r.0);
                if rows.len() != chunk.len() || rows.iter().zip(norms).any(|(r, n)| &r.1 != n) {
                    return Err(EngineError::Config(
                        "bulk insert: ids did not follow the order of the rows".into(),
                    ));
                }
                let postings: Vec<(String, i64)> = rows
                    .iter()
                    .flat_map(|(id, n)| serial_grams(n).into_iter().map(move |g| (g, *id)))
                    .collect();
                for part in postings.chunks(GRAM_ROWS) {
                    let values = values_placeholders(backend, part.len(), 2);
                    let sql = format!("INSERT INTO firearm_serial_grams (gram, firearm_pk) VALUES {values}");
                    let mut q = sqlx::query(AssertSqlSafe(sql));
                    for (g, id) in part {
                        q = q.bind(g).bind(*id);
                    }
                    q.execute(&mut *tx).await?;
                }
                ids.extend(rows.into_iter().map(|r| r.0));
            }
            tx.commit().await?;
        });
        Ok(ids)
    }

    /// Bring the serial index up to date with the planner after a bulk
    /// load, instead of waiting for autovacuum. On PostgreSQL this is
    /// `VACUUM (ANALYZE)` of the firearms and their postings: until the
    /// visibility map covers the new pages, the "index-only" scan of the
    /// postings visits the heap for every posting (7x slower at 100k
    /// firearms), and without statistics the planner guesses posting list
    /// sizes. Cheap on pages already vacuumed. SQLite needs nothing: it has
    /// no visibility map, and this leaves its plans alone (no `ANALYZE`).
    /// Run outside any transaction.
    pub async fn settle_after_bulk_load(&self) -> Result<()> {
        if let Pool::Postgres(pool) = &self.pool {
            sqlx::query("VACUUM (ANALYZE) firearms, firearm_serial_grams")
                .execute(pool)
                .await?;
        }
        Ok(())
    }

    /// How many firearms are on file.
    pub async fn count_firearms(&self) -> Result<i64> {
        Ok(on_pool!(self, pool =>
            sqlx::query_scalar("SELECT count(*) FROM firearms").fetch_one(pool).await?))
    }

    /// Every normalised serial with its firearm id: the full-scan baseline
    /// the serial benchmark compares the index against.
    pub async fn all_serials(&self) -> Result<Vec<(i64, String)>> {
        Ok(on_pool!(self, pool =>
            sqlx::query_as("SELECT id, serial_normalised FROM firearms ORDER BY id")
                .fetch_all(pool)
                .await?))
    }

    pub async fn firearm(&self, id: i64) -> Result<FirearmRecord> {
        let row: Option<FirearmRow> = on_pool!(self, pool =>
            sqlx::query_as(SELECT_FIREARM).bind(id).fetch_optional(pool).await?);
        row.map(Into::into)
            .ok_or_else(|| EngineError::NotFound(format!("firearm {id}")))
    }

    async fn firearms_by_ids(&self, ids: &[i64]) -> Result<Vec<FirearmRecord>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let list = (1..=chunk.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "SELECT {} FROM firearms WHERE id IN ({list})",
                firearm_columns!()
            );
            let rows: Vec<FirearmRow> = on_pool!(self, pool => {
                let mut q = sqlx::query_as(AssertSqlSafe(sql.clone()));
                for id in chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(pool).await?
            });
            out.extend(rows.into_iter().map(FirearmRecord::from));
        }
        Ok(out)
    }

    /// Firearm ids of `within` posted under every one of `grams`, at most
    /// `limit + 1` of them (so the caller can tell the limit was exceeded).
    async fn firearms_with_all_grams(
        &self,
        grams: &[String],
        limit: i64,
        within: &Agencies,
    ) -> Result<Vec<i64>> {
        self.firearms_posted_under(grams, grams.len() as i64, limit + 1, within)
            .await
    }

    /// Firearm ids of `within` sharing at least `min_shared` of `grams`.
    async fn firearms_sharing_grams(
        &self,
        grams: &[String],
        min_shared: i64,
        within: &Agencies,
    ) -> Result<Vec<i64>> {
        self.firearms_posted_under(grams, min_shared, MAX_INDEX_CANDIDATES + 1, within)
            .await
    }

    async fn firearms_posted_under(
        &self,
        grams: &[String],
        min_shared: i64,
        limit: i64,
        within: &Agencies,
    ) -> Result<Vec<i64>> {
        let (clause, agencies) = agency_clause("f.agency", within, grams.len() + 1);
        let sql = postings_sql(grams.len(), min_shared, limit, &clause);
        Ok(on_pool!(self, pool => {
            let mut q = sqlx::query_scalar(AssertSqlSafe(sql.clone()));
            for g in grams.iter().chain(&agencies) {
                q = q.bind(g);
            }
            q.fetch_all(pool).await?
        }))
    }

    /// Search the firearms of the agencies `within` by serial number (see
    /// [`SerialQuery`]); results are ordered by edit distance, then id, at
    /// most [`MAX_SEARCH_RESULTS`]. Other agencies' firearms are left out
    /// by the query itself: they take no place among the results and
    /// never make a search "too vague".
    pub async fn search_serials(
        &self,
        query: &SerialQuery,
        filters: &SerialFilters,
        within: &Agencies,
    ) -> Result<Vec<SerialMatch>> {
        let too_vague = |what: &str| {
            EngineError::InvalidMetadata {
            field: "serial".into(),
            reason: format!(
                "{what} matches more than {MAX_INDEX_CANDIDATES} firearms; give more known characters"
            ),
        }
        };
        let mut matches: Vec<SerialMatch> = match query {
            SerialQuery::Exact { serial } => {
                let normalised = checked_serial("serial", serial)?;
                let (clause, agencies) = agency_clause("agency", within, 3);
                let sql = SELECT_BY_SERIAL.replace("{agencies}", &clause);
                let rows: Vec<FirearmRow> = on_pool!(self, pool => {
                    let mut q = sqlx::query_as(AssertSqlSafe(sql.clone()))
                        .bind(&normalised)
                        .bind(MAX_INDEX_CANDIDATES);
                    for a in &agencies {
                        q = q.bind(a);
                    }
                    q.fetch_all(pool).await?
                });
                rows.into_iter()
                    .map(|r| SerialMatch {
                        firearm: r.into(),
                        distance: 0,
                    })
                    .collect()
            }
            SerialQuery::Pattern { pattern } => {
                let parsed = SerialPattern::parse(pattern)?;
                let grams = parsed.required_grams();
                let prefix = parsed.literal_prefix();
                // Prefer the trigram postings when the pattern has a run of
                // three known characters; otherwise the known prefix's
                // B-tree range. A pattern with neither cannot use an index.
                let candidates: Vec<FirearmRecord> = if !grams.is_empty() {
                    let ids = self
                        .firearms_with_all_grams(&grams, MAX_INDEX_CANDIDATES, within)
                        .await?;
                    if ids.len() as i64 > MAX_INDEX_CANDIDATES {
                        return Err(too_vague(pattern));
                    }
                    self.firearms_by_ids(&ids).await?
                } else if prefix.len() >= 2 {
                    let (clause, agencies) = agency_clause("agency", within, 4);
                    let sql = SELECT_BY_PREFIX.replace("{agencies}", &clause);
                    let rows: Vec<FirearmRow> = on_pool!(self, pool => {
                        let mut q = sqlx::query_as(AssertSqlSafe(sql.clone()))
                            .bind(&prefix)
                            .bind(prefix_end(&prefix))
                            .bind(MAX_INDEX_CANDIDATES + 1);
                        for a in &agencies {
                            q = q.bind(a);
                        }
                        q.fetch_all(pool).await?
                    });
                    if rows.len() as i64 > MAX_INDEX_CANDIDATES {
                        return Err(too_vague(pattern));
                    }
                    rows.into_iter().map(Into::into).collect()
                } else {
                    return Err(EngineError::InvalidMetadata {
                        field: "pattern".into(),
                        reason: format!(
                            "{pattern:?} needs three known characters in a row, or two at the start"
                        ),
                    });
                };
                candidates
                    .into_iter()
                    .filter(|f| parsed.matches(&f.serial_normalised))
                    .map(|firearm| SerialMatch {
                        firearm,
                        distance: 0,
                    })
                    .collect()
            }
            SerialQuery::Fuzzy { serial, max_edits } => {
                let normalised = checked_serial("serial", serial)?;
                let grams = serial_grams(&normalised);
                let min_shared = min_shared_grams(grams.len(), *max_edits);
                if min_shared <= 0 || grams.is_empty() {
                    return Err(EngineError::InvalidMetadata {
                        field: "max_edits".into(),
                        reason: format!(
                            "{max_edits} edits on a {}-character serial leave nothing for the index to match; use fewer edits or a pattern",
                            normalised.chars().count()
                        ),
                    });
                }
                let ids = self
                    .firearms_sharing_grams(&grams, min_shared, within)
                    .await?;
                if ids.len() as i64 > MAX_INDEX_CANDIDATES {
                    return Err(too_vague(serial));
                }
                self.firearms_by_ids(&ids)
                    .await?
                    .into_iter()
                    .filter_map(|firearm| {
                        let distance = edit_distance(&normalised, &firearm.serial_normalised);
                        (distance <= *max_edits).then_some(SerialMatch { firearm, distance })
                    })
                    .collect()
            }
        };
        matches.retain(|m| filters.admits(&m.firearm) && within.contains(&m.firearm.agency));
        matches.sort_by_key(|m| (m.distance, m.firearm.id));
        matches.truncate(MAX_SEARCH_RESULTS);
        Ok(matches)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::on_both_backends;
    use super::*;

    fn gun(serial: &str, make: &str) -> NewFirearm {
        NewFirearm {
            agency: "lab-a".into(),
            make: Some(make.into()),
            calibre: Some("9mm Luger".into()),
            country: Some("AT".into()),
            serial: serial.into(),
            submitted_by: "examiner".into(),
            ..NewFirearm::default()
        }
    }

    async fn serial_search_modes(db: &Database) {
        let target = db
            .insert_firearm(&gun("AB-1O5 739", "Glock"))
            .await
            .unwrap();
        for s in ["A8105740", "XB105739", "A81057", "Q7770000", "10000000"] {
            db.insert_firearm(&gun(s, "Smith")).await.unwrap();
        }
        let none = SerialFilters::default();
        let exact = SerialQuery::Exact {
            serial: "ab1o5739".into(),
        };
        let found = db
            .search_serials(&exact, &none, &Agencies::All)
            .await
            .unwrap();
        assert_eq!(
            found.iter().map(|m| m.firearm.id).collect::<Vec<_>>(),
            vec![target.id]
        );
        assert_eq!(found[0].firearm.serial_normalised, "A8105739");

        // Two unreadable characters, then a run.
        let pattern = SerialQuery::Pattern {
            pattern: "A??057*9".into(),
        };
        let found = db
            .search_serials(&pattern, &none, &Agencies::All)
            .await
            .unwrap();
        assert_eq!(
            found.iter().map(|m| m.firearm.id).collect::<Vec<_>>(),
            vec![target.id]
        );
        // Prefix-only pattern goes through the B-tree range.
        let found = db
            .search_serials(
                &SerialQuery::Pattern {
                    pattern: "A8?0*".into(),
                },
                &none,
                &Agencies::All,
            )
            .await
            .unwrap();
        assert_eq!(found.len(), 3, "{found:?}");

        let fuzzy = SerialQuery::Fuzzy {
            serial: "A8105739".into(),
            max_edits: 1,
        };
        let found = db
            .search_serials(&fuzzy, &none, &Agencies::All)
            .await
            .unwrap();
        let ranked: Vec<(String, usize)> = found
            .iter()
            .map(|m| (m.firearm.serial_normalised.clone(), m.distance))
            .collect();
        assert_eq!(ranked[0], ("A8105739".into(), 0));
        assert_eq!(ranked.len(), 2, "{ranked:?}");
        assert!(ranked[1..].iter().all(|(_, d)| *d == 1));

        // A serial repeating a trigram has few distinct ones: its fuzzy
        // search finds it within what they can bound, and is refused past
        // that, never answered without it (while the gram bound counted
        // positions, both searches silently missed it; found by fuzzing).
        let repetitive = |max_edits| SerialQuery::Fuzzy {
            serial: "10000000".into(),
            max_edits,
        };
        let found = db
            .search_serials(&repetitive(0), &none, &Agencies::All)
            .await
            .unwrap();
        let ranked: Vec<(&str, usize)> = found
            .iter()
            .map(|m| (m.firearm.serial_normalised.as_str(), m.distance))
            .collect();
        assert_eq!(ranked, [("10000000", 0)]);
        let err = db
            .search_serials(&repetitive(1), &none, &Agencies::All)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("max_edits"), "{err}");

        let glock = SerialFilters {
            make: Some("glock".into()),
            ..SerialFilters::default()
        };
        let found = db
            .search_serials(&fuzzy, &glock, &Agencies::All)
            .await
            .unwrap();
        assert_eq!(found.len(), 1);

        let err = db
            .search_serials(
                &SerialQuery::Pattern {
                    pattern: "?1?*".into(),
                },
                &none,
                &Agencies::All,
            )
            .await
            .unwrap_err();
        assert!(err.to_string().contains("three known characters"), "{err}");
    }

    async fn firearm_round_trips(db: &Database) {
        let mut new = gun("K1-22", "Walther");
        new.obliterated = true;
        new.restored_chars = Some("positions 1-2".into());
        let stored = db.insert_firearm(&new).await.unwrap();
        let read = db.firearm(stored.id).await.unwrap();
        assert_eq!(read, stored);
        assert!(read.obliterated);
        assert_eq!(read.serial_as_written, "K1-22");
        assert!(matches!(
            db.firearm(stored.id + 99).await,
            Err(EngineError::NotFound(_))
        ));
        assert!(db.insert_firearm(&gun("--", "x")).await.is_err());
    }

    async fn bulk_insert_indexes_every_row(db: &Database) {
        let many: Vec<NewFirearm> = (0..1000)
            .map(|i| gun(&format!("BK{i:05}X"), "Beretta"))
            .collect();
        let ids = db.insert_firearms_bulk(&many).await.unwrap();
        db.settle_after_bulk_load().await.unwrap();
        assert_eq!(ids.len(), 1000);
        assert_eq!(db.count_firearms().await.unwrap(), 1000);
        let third = db.firearm(ids[3]).await.unwrap();
        assert_eq!(third.serial_as_written, "BK00003X");
        let found = db
            .search_serials(
                &SerialQuery::Pattern {
                    pattern: "8K?0777X".into(),
                },
                &SerialFilters::default(),
                &Agencies::All,
            )
            .await
            .unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].firearm.id, ids[777]);
        // A bad row refuses the whole batch, naming the row.
        let mut bad = many[..3].to_vec();
        bad[2].serial = "--".into();
        let err = db.insert_firearms_bulk(&bad).await.unwrap_err();
        assert!(err.to_string().contains("row 3"), "{err}");
        assert_eq!(db.count_firearms().await.unwrap(), 1000);
    }

    #[test]
    fn placeholders_are_numbered_only_for_postgres() {
        assert_eq!(
            values_placeholders(Backend::Postgres, 2, 2),
            "($1, $2), ($3, $4)"
        );
        assert_eq!(
            values_placeholders(Backend::Sqlite, 2, 3),
            "(?, ?, ?), (?, ?, ?)"
        );
    }

    /// The plan SQLite chooses for each serial search statement names the
    /// index it searches and never scans a table. (PostgreSQL's plans
    /// depend on its statistics, so they are checked at scale instead:
    /// EXPLAIN ANALYZE on the database the serials bench loads.)
    #[tokio::test]
    async fn serial_searches_are_index_lookups_on_sqlite() {
        use sqlx::Row;
        let (db, _dir) = super::super::test_support::sqlite_in_tempdir().await;
        let Pool::Sqlite(pool) = &db.pool else {
            unreachable!("sqlite_in_tempdir opens SQLite")
        };
        let postings = postings_sql(7, 4, MAX_INDEX_CANDIDATES + 1, "");
        let (by_serial, by_prefix) = (
            SELECT_BY_SERIAL.replace("{agencies}", ""),
            SELECT_BY_PREFIX.replace("{agencies}", ""),
        );
        for (sql, index) in [
            (
                by_serial.as_str(),
                "USING INDEX firearms_serial (serial_normalised=?)",
            ),
            (
                by_prefix.as_str(),
                "USING INDEX firearms_serial (serial_normalised>? AND serial_normalised<?)",
            ),
            (
                postings.as_str(),
                "firearm_serial_grams USING PRIMARY KEY (gram=?)",
            ),
        ] {
            let plan: Vec<String> = sqlx::query(AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
                .fetch_all(pool)
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<String, _>("detail"))
                .collect();
            assert!(plan.iter().any(|l| l.contains(index)), "{sql}: {plan:?}");
            assert!(
                !plan.iter().any(|l| l.starts_with("SCAN")),
                "{sql}: {plan:?}"
            );
        }
        db.close().await;
    }

    /// Issue #15, hole 8: the search kept 200 matches before other
    /// agencies' firearms were hidden, so a caller's own match could
    /// vanish behind them. The agencies are now part of the query.
    async fn serial_search_restricts_agencies_before_the_result_limit(db: &Database) {
        let others: Vec<NewFirearm> = (0..MAX_SEARCH_RESULTS + 5)
            .map(|_| NewFirearm {
                agency: "lab-b".into(),
                ..gun("SAME-4711", "Glock")
            })
            .collect();
        db.insert_firearms_bulk(&others).await.unwrap();
        db.settle_after_bulk_load().await.unwrap();
        let own = db.insert_firearm(&gun("SAME-4711", "Glock")).await.unwrap();
        let lab_a = Agencies::Only(vec!["lab-a".into()]);
        let none = SerialFilters::default();
        for query in [
            SerialQuery::Exact {
                serial: "SAME4711".into(),
            },
            SerialQuery::Pattern {
                pattern: "SAME47?1".into(),
            },
            SerialQuery::Pattern {
                pattern: "SA*".into(),
            },
            SerialQuery::Fuzzy {
                serial: "SAME4712".into(),
                max_edits: 1,
            },
        ] {
            let found = db.search_serials(&query, &none, &lab_a).await.unwrap();
            let ids: Vec<i64> = found.iter().map(|m| m.firearm.id).collect();
            assert_eq!(ids, [own.id], "{query:?}");
            let everyone = db
                .search_serials(&query, &none, &Agencies::All)
                .await
                .unwrap();
            assert_eq!(everyone.len(), MAX_SEARCH_RESULTS, "{query:?}");
        }
        let nobody = Agencies::Only(Vec::new());
        let exact = SerialQuery::Exact {
            serial: "SAME4711".into(),
        };
        assert!(db
            .search_serials(&exact, &none, &nobody)
            .await
            .unwrap()
            .is_empty());
    }

    on_both_backends!(
        serial_search_modes,
        firearm_round_trips,
        bulk_insert_indexes_every_row,
        serial_search_restricts_agencies_before_the_result_limit
    );
}
