//! The audit log table: appending to the chain, reading it back in order,
//! and the auditors' queries.

use sqlx::FromRow;

use super::db::{on_pool, BeginWrite, Database};
use crate::audit::{AuditEvent, AuditRecord, ChainReport, ChainVerifier};
use crate::error::{EngineError, Result};

/// Records per page when reading the whole chain.
pub const AUDIT_PAGE: i64 = 5_000;
/// The most records one query returns.
pub const AUDIT_QUERY_MAX: i64 = 10_000;
/// Any fixed number: the key of the PostgreSQL advisory lock that makes
/// appenders take turns, so two never chain onto the same record.
pub(super) const AUDIT_CHAIN_LOCK: i64 = 0x6361_7365_6175_6474; // "caseaudt"

pub(super) const COLUMNS: &str =
    "seq, at, agency, actor, key_id, action, resource, request_id, outcome, \
                       evidence_sha256, detail, prev_hash, hash, owner_agency";

/// Which records an auditor asks for; every field narrows the answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub agency: Option<String>,
    /// With `agency`: also the records of other agencies' calls on
    /// resources `agency` owns (its auditors see partners reading its
    /// records).
    pub include_owned: bool,
    /// Exact resource, or every resource under it when it ends in `/`.
    pub resource: Option<String>,
    pub action: Option<String>,
    /// Inclusive lower bound, RFC 3339 UTC (`2026-11-29T05:00:00.000Z`).
    pub from: Option<String>,
    /// Exclusive upper bound, same form.
    pub to: Option<String>,
    /// Only records after this sequence number (paging).
    pub after_seq: Option<i64>,
    pub limit: i64,
}

#[derive(FromRow)]
pub(super) struct AuditRow {
    seq: i64,
    at: String,
    agency: String,
    actor: String,
    key_id: Option<String>,
    action: String,
    resource: String,
    request_id: Option<String>,
    outcome: String,
    evidence_sha256: Option<String>,
    detail: String,
    prev_hash: String,
    hash: String,
    owner_agency: Option<String>,
}

impl From<AuditRow> for AuditRecord {
    fn from(r: AuditRow) -> Self {
        AuditRecord {
            seq: r.seq,
            at: r.at,
            agency: r.agency,
            actor: r.actor,
            key_id: r.key_id,
            action: r.action,
            resource: r.resource,
            request_id: r.request_id,
            outcome: r.outcome,
            evidence_sha256: r.evidence_sha256,
            detail: r.detail,
            prev_hash: r.prev_hash,
            hash: r.hash,
            owner_agency: r.owner_agency,
        }
    }
}

/// Append `$event` to the chain inside the open writing transaction `$tx`
/// of a database on `$backend`, evaluating to the [`AuditRecord`] as
/// stored. A macro, like [`on_pool!`], so one text serves both backends'
/// transactions: a write and the record attributing it can then commit
/// together ([`Database::append_audit`] is the record on its own).
macro_rules! append_audit_in {
    ($tx:ident, $backend:expr, $event:expr) => {{
        let event: &$crate::audit::AuditEvent = $event;
        if $backend == $crate::store::Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind($crate::store::audit::AUDIT_CHAIN_LOCK)
                .execute(&mut *$tx)
                .await?;
        }
        let last: Option<(i64, String)> =
            sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                .fetch_optional(&mut *$tx)
                .await?;
        let (seq, prev) = match last {
            Some((seq, hash)) => (seq + 1, hash),
            None => (1, $crate::audit::GENESIS_HASH.to_string()),
        };
        let record =
            $crate::audit::AuditRecord::seal(event, seq, $crate::audit::audit_now(), &prev);
        sqlx::query(
            "INSERT INTO audit_log (seq, at, agency, actor, key_id, action, resource, \
             request_id, outcome, evidence_sha256, detail, prev_hash, hash, owner_agency) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(record.seq)
        .bind(&record.at)
        .bind(&record.agency)
        .bind(&record.actor)
        .bind(&record.key_id)
        .bind(&record.action)
        .bind(&record.resource)
        .bind(&record.request_id)
        .bind(&record.outcome)
        .bind(&record.evidence_sha256)
        .bind(&record.detail)
        .bind(&record.prev_hash)
        .bind(&record.hash)
        .bind(&record.owner_agency)
        .execute(&mut *$tx)
        .await?;
        record
    }};
}
pub(super) use append_audit_in;

impl Database {
    /// Append `event` to the chain and return it as stored. Appenders take
    /// turns (SQLite's write lock, a PostgreSQL advisory lock), so each
    /// record chains onto the one committed just before it.
    pub async fn append_audit(&self, event: &AuditEvent) -> Result<AuditRecord> {
        let backend = self.backend();
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let record = append_audit_in!(tx, backend, event);
            tx.commit().await?;
            Ok(record)
        })
    }

    /// Up to `limit` records after `after_seq`, in sequence order: the whole
    /// chain is read page by page this way.
    pub async fn audit_page(&self, after_seq: i64, limit: i64) -> Result<Vec<AuditRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2");
        let rows: Vec<AuditRow> = on_pool!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(after_seq)
                .bind(limit)
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().map(AuditRecord::from).collect())
    }

    /// Read the whole chain in order and check every link.
    ///
    /// Records moved out by the retention procedure are not read: the
    /// chain resumes from the last archived segment's hash (whose seal
    /// [`Database::verify_audit_segments`] checks).
    pub async fn verify_audit_chain(&self) -> Result<ChainReport> {
        let (mut verifier, mut after) = match self.audit_segments().await?.pop() {
            Some(s) => (ChainVerifier::after(s.last_seq, &s.last_hash), s.last_seq),
            None => (ChainVerifier::new(), 0),
        };
        loop {
            let page = self.audit_page(after, AUDIT_PAGE).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            page.iter().for_each(|r| verifier.push(r));
        }
        Ok(verifier.finish())
    }

    /// The records `query` selects, in sequence order.
    pub async fn audit_records(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>> {
        if !(1..=AUDIT_QUERY_MAX).contains(&query.limit) {
            return Err(EngineError::InvalidMetadata {
                field: "limit".into(),
                reason: format!(
                    "must be between 1 and {AUDIT_QUERY_MAX}, got {}",
                    query.limit
                ),
            });
        }
        let (resource_exact, resource_prefix) = match &query.resource {
            Some(r) if r.ends_with('/') => (None, Some(r.clone())),
            Some(r) => (Some(r.clone()), None),
            None => (None, None),
        };
        // A prefix match by range rather than LIKE, so `%` and `_` in a
        // resource name mean nothing and the (resource, seq) index serves it.
        let prefix_end = resource_prefix.as_ref().map(|p| format!("{p}\u{10FFFF}"));
        // CAST(... AS TEXT) types the NULL parameters for PostgreSQL; SQLite
        // accepts the same spelling.
        let sql = format!(
            "SELECT {COLUMNS} FROM audit_log WHERE \
             (CAST($1 AS TEXT) IS NULL OR agency = $1 OR \
              (CAST($10 AS BOOLEAN) AND owner_agency = $1)) AND \
             (CAST($2 AS TEXT) IS NULL OR resource = $2) AND \
             (CAST($3 AS TEXT) IS NULL OR (resource >= $3 AND resource < $4)) AND \
             (CAST($5 AS TEXT) IS NULL OR action = $5) AND \
             (CAST($6 AS TEXT) IS NULL OR at >= $6) AND \
             (CAST($7 AS TEXT) IS NULL OR at < $7) AND \
             seq > $8 ORDER BY seq LIMIT $9"
        );
        let rows: Vec<AuditRow> = on_pool!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(&query.agency)
                .bind(&resource_exact)
                .bind(&resource_prefix)
                .bind(&prefix_end)
                .bind(&query.action)
                .bind(&query.from)
                .bind(&query.to)
                .bind(query.after_seq.unwrap_or(0))
                .bind(query.limit)
                .bind(query.include_owned)
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().map(AuditRecord::from).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::super::db::{Backend, Pool};
    use super::super::test_support::on_both_backends;
    use super::*;
    use crate::audit::{AuditOutcome, ChainBreakKind};

    async fn verify(db: &Database) -> ChainReport {
        db.verify_audit_chain().await.unwrap()
    }

    fn event(agency: &str, n: usize) -> AuditEvent {
        let mut e = AuditEvent::new(
            agency,
            "tester",
            "casing.read",
            format!("casing/{agency}/C-{n}"),
            AuditOutcome::Ok,
        );
        e.request_id = Some(format!("req-{n}"));
        e
    }

    /// Run raw SQL as a database owner would, bypassing the engine.
    async fn owner_sql(db: &Database, sql: &str) -> std::result::Result<(), sqlx::Error> {
        match &db.pool {
            Pool::Sqlite(p) => sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
                .execute(p)
                .await
                .map(|_| ()),
            Pool::Postgres(p) => sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
                .execute(p)
                .await
                .map(|_| ()),
        }
    }

    async fn appends_chain_and_tampering_is_named(db: &Database) {
        for n in 1..=5 {
            let r = db
                .append_audit(&event(if n % 2 == 0 { "B" } else { "A" }, n))
                .await
                .unwrap();
            assert_eq!(r.seq, n as i64);
        }
        let report = verify(db).await;
        assert!(report.is_intact(), "{:?}", report.breaks);
        assert_eq!(report.checked, 5);

        // The table refuses edits and deletions from ordinary writers.
        let refused = owner_sql(db, "UPDATE audit_log SET actor = 'x' WHERE seq = 3").await;
        assert!(refused.unwrap_err().to_string().contains("append-only"));
        let refused = owner_sql(db, "DELETE FROM audit_log WHERE seq = 3").await;
        assert!(refused.unwrap_err().to_string().contains("append-only"));

        // Someone with the rights to drop the guard edits record 3.
        let drop_guard = match db.backend() {
            Backend::Sqlite => "DROP TRIGGER audit_log_no_update",
            Backend::Postgres => "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change",
        };
        owner_sql(db, drop_guard).await.unwrap();
        owner_sql(db, "UPDATE audit_log SET outcome = 'denied' WHERE seq = 3")
            .await
            .unwrap();
        let report = verify(db).await;
        assert_eq!(report.breaks.len(), 1, "{:?}", report.breaks);
        assert_eq!(report.breaks[0].seq, 3);
        assert!(matches!(
            report.breaks[0].kind,
            ChainBreakKind::Edited { .. }
        ));
    }

    async fn concurrent_appends_form_one_chain(db: &Database) {
        let tasks: Vec<_> = (0..16)
            .map(|n| {
                let db = db.clone();
                tokio::spawn(async move { db.append_audit(&event("A", n)).await.unwrap() })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let report = verify(db).await;
        assert!(report.is_intact(), "{:?}", report.breaks);
        assert_eq!(report.checked, 16);
    }

    async fn queries_narrow_by_agency_resource_and_time(db: &Database) {
        for n in 1..=6 {
            db.append_audit(&event(if n <= 3 { "A" } else { "B" }, n))
                .await
                .unwrap();
        }
        let all = AuditQuery {
            limit: 100,
            ..Default::default()
        };
        let records = db.audit_records(&all).await.unwrap();
        assert_eq!(records.len(), 6);

        let a = AuditQuery {
            agency: Some("A".into()),
            ..all.clone()
        };
        assert_eq!(db.audit_records(&a).await.unwrap().len(), 3);

        let exact = AuditQuery {
            resource: Some("casing/B/C-5".into()),
            ..all.clone()
        };
        let found = db.audit_records(&exact).await.unwrap();
        assert_eq!(found.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![5]);

        let prefix = AuditQuery {
            resource: Some("casing/B/".into()),
            ..all.clone()
        };
        assert_eq!(db.audit_records(&prefix).await.unwrap().len(), 3);

        let from = records[3].at.clone();
        let later = AuditQuery {
            from: Some(from.clone()),
            ..all.clone()
        };
        assert!(db
            .audit_records(&later)
            .await
            .unwrap()
            .iter()
            .all(|r| r.at >= from));
        let before = AuditQuery {
            to: Some("2000-01-01T00:00:00.000Z".into()),
            ..all.clone()
        };
        assert!(db.audit_records(&before).await.unwrap().is_empty());

        let paged = AuditQuery {
            after_seq: Some(4),
            limit: 1,
            ..all.clone()
        };
        assert_eq!(db.audit_records(&paged).await.unwrap()[0].seq, 5);

        let too_many = AuditQuery {
            limit: AUDIT_QUERY_MAX + 1,
            ..all
        };
        assert!(db.audit_records(&too_many).await.is_err());
    }

    on_both_backends!(
        appends_chain_and_tampering_is_named,
        concurrent_appends_form_one_chain,
        queries_narrow_by_agency_resource_and_time,
    );
}
