//! The change feed (`casing_changes`): one row per change to what a
//! descriptor index should hold, written in the transaction that makes the
//! change, and read by every engine on the database to keep its own index
//! in step ([`crate::service`]'s follower).
//!
//! A row says only *which* casing changed and how; a follower re-reads the
//! casing's current descriptor when it applies it, so applying a change
//! twice, or late, or out of order with another change of the same casing
//! leaves the index as the database says.
//!
//! # The sequence-gap race, and why writers take turns
//!
//! A follower remembers the highest `seq` it has applied and next reads
//! the rows above it. On PostgreSQL a sequence value is handed out when a
//! row is inserted, not when its transaction commits: a transaction holding
//! seq 7 can commit after one holding seq 8, and a follower that read 8
//! before 7 was visible would never look at 7 again.
//!
//! The options were: re-read a trailing window of recent seqs on every poll
//! (exact only if no transaction lives longer than the window), track each
//! gap with the transaction horizon that must pass before it counts as a
//! rollback (exact, but every follower carries gap bookkeeping, and a
//! rebuild cannot tell which seqs below the head are still in flight), or
//! make writers of the feed take turns. We take turns: every transaction
//! takes one PostgreSQL advisory lock ([`FEED_LOCK`]) just before it
//! inserts its feed rows and holds it to commit, so seqs are handed out and
//! made visible in the same order. A follower that sees seq 8 then knows
//! seq 7 is either visible too or was rolled back and will never appear.
//! The lock is held only from the feed insert to the commit: the insert is
//! the last statement of every writing transaction (after the audit
//! append, which takes its own lock first, so the two are always taken in
//! the same order). SQLite has a single writer (`BEGIN IMMEDIATE`), which
//! gives the same order for free.

use chrono::{DateTime, Utc};

use super::db::{on_pool, Database, DbTimestamp};
use crate::error::{EngineError, Result};

/// Any fixed number, not the audit chain's: the key of the PostgreSQL
/// advisory lock that makes writers of the feed take turns.
pub(super) const FEED_LOCK: i64 = 0x6361_7365_6665_6564; // "casefeed"

/// What happened to a casing's entry in the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// The casing and its descriptor were stored.
    Insert,
    /// Its descriptor (or its marks, or its canvas) was replaced.
    Describe,
    /// The casing was removed (a submission undone).
    Remove,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Insert => "insert",
            ChangeKind::Describe => "describe",
            ChangeKind::Remove => "remove",
        }
    }

    fn parse(text: &str) -> Result<ChangeKind> {
        match text {
            "insert" => Ok(ChangeKind::Insert),
            "describe" => Ok(ChangeKind::Describe),
            "remove" => Ok(ChangeKind::Remove),
            other => Err(EngineError::Database(sqlx::Error::Decode(
                format!("casing_changes: unknown kind {other:?}").into(),
            ))),
        }
    }
}

/// One row of the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CasingChange {
    pub seq: i64,
    pub casing_pk: i64,
    pub kind: ChangeKind,
}

/// How far a follower at some position is behind the feed's head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedLag {
    /// Changes committed after the position.
    pub changes: i64,
    /// When the oldest of them was made (`None`: none).
    pub oldest_at: Option<DateTime<Utc>>,
}

/// Announce `$pks`' changes of `$kind` inside the open transaction `$tx`.
/// Call it as the transaction's last statement before commit: on
/// PostgreSQL it takes [`FEED_LOCK`], held until the commit (see the
/// module's docs).
macro_rules! record_changes_in {
    ($tx:ident, $backend:expr, $kind:expr, $pks:expr) => {{
        let pks: &[i64] = $pks;
        let kind: $crate::store::ChangeKind = $kind;
        if !pks.is_empty() {
            if $backend == $crate::store::Backend::Postgres {
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind($crate::store::changes::FEED_LOCK)
                    .execute(&mut *$tx)
                    .await?;
            }
            for pk in pks {
                sqlx::query("INSERT INTO casing_changes (casing_pk, kind) VALUES ($1, $2)")
                    .bind(*pk)
                    .bind(kind.as_str())
                    .execute(&mut *$tx)
                    .await?;
            }
        }
    }};
}
pub(super) use record_changes_in;

impl Database {
    /// Up to `limit` changes after position `after` (exclusive), in seq
    /// order. Because writers take turns, no change at or below the last
    /// one returned can appear later.
    pub async fn changes_after(&self, after: i64, limit: i64) -> Result<Vec<CasingChange>> {
        let rows: Vec<(i64, i64, String)> = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT seq, casing_pk, kind FROM casing_changes WHERE seq > $1 \
                 ORDER BY seq LIMIT $2",
            )
            .bind(after)
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(|(seq, casing_pk, kind)| {
                Ok(CasingChange {
                    seq,
                    casing_pk,
                    kind: ChangeKind::parse(&kind)?,
                })
            })
            .collect()
    }

    /// The feed's head: the highest seq committed (0 when empty). Every
    /// change at or below it is visible from now on.
    pub async fn feed_head(&self) -> Result<i64> {
        Ok(on_pool!(self, pool => {
            sqlx::query_scalar("SELECT coalesce(max(seq), 0) FROM casing_changes")
                .fetch_one(pool)
                .await?
        }))
    }

    /// How many changes are after position `after`, and the oldest one's time.
    pub async fn feed_lag(&self, after: i64) -> Result<FeedLag> {
        let (changes, oldest): (i64, Option<DbTimestamp>) = on_pool!(self, pool => {
            sqlx::query_as("SELECT count(*), min(changed_at) FROM casing_changes WHERE seq > $1")
                .bind(after)
                .fetch_one(pool)
                .await?
        });
        Ok(FeedLag {
            changes,
            oldest_at: oldest.map(|t| t.0),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::super::db::BeginWrite;
    use super::super::test_support::{on_both_backends, placeholder_casing};
    use super::*;
    use crate::audit::{AuditEvent, AuditOutcome};
    use crate::casing::{CasingFeatures, NewCasing};
    use crate::store::NewDescription;

    fn new_casing(casing_id: &str) -> NewCasing {
        placeholder_casing("local", casing_id)
    }

    fn features(model: &str, value: f32) -> CasingFeatures {
        CasingFeatures {
            model_version: model.into(),
            descriptor: vec![value, 1.0 - value],
            comparison_surface: vec![1, 2, 3],
            pipeline_version: "p1".into(),
            pin_mark: None,
            marks_version: Some("m1".into()),
        }
    }

    fn kinds(changes: &[CasingChange]) -> Vec<(i64, ChangeKind)> {
        changes.iter().map(|c| (c.casing_pk, c.kind)).collect()
    }

    /// Every write that changes what an index holds announces itself, in
    /// its own transaction; a resubmission that writes nothing does not.
    async fn writes_are_announced_in_order(db: &Database) {
        assert_eq!(db.feed_head().await.unwrap(), 0);
        let a = db
            .insert_casing(&new_casing("A"), &features("m", 0.25))
            .await
            .unwrap()
            .into_record();
        let b = db
            .insert_casing(&new_casing("B"), &features("m", 0.5))
            .await
            .unwrap()
            .into_record();
        // The same casing again: nothing written, nothing announced.
        assert!(!db
            .insert_casing(&new_casing("A"), &features("m", 0.25))
            .await
            .unwrap()
            .is_inserted());
        let event = AuditEvent::new("local", "test", "redescribe", "x", AuditOutcome::Ok);
        let batch = [NewDescription {
            casing_pk: b.id,
            previous_model: Some("m".into()),
            model_version: "m2".into(),
            descriptor: vec![0.75, 0.25],
            surface: None,
            pin_mark: None,
            marks_version: "m1".into(),
        }];
        assert_eq!(db.write_redescribed(&batch, &event).await.unwrap(), [b.id]);
        db.delete_casing(a.id).await.unwrap();

        let changes = db.changes_after(0, 100).await.unwrap();
        assert_eq!(
            kinds(&changes),
            [
                (a.id, ChangeKind::Insert),
                (b.id, ChangeKind::Insert),
                (b.id, ChangeKind::Describe),
                (a.id, ChangeKind::Remove),
            ]
        );
        assert!(changes.windows(2).all(|w| w[0].seq < w[1].seq));
        let head = db.feed_head().await.unwrap();
        assert_eq!(head, changes.last().unwrap().seq);
        // Paging: after the second change, the rest; a limit cuts it.
        let rest = db.changes_after(changes[1].seq, 1).await.unwrap();
        assert_eq!(kinds(&rest), [(b.id, ChangeKind::Describe)]);

        let lag = db.feed_lag(changes[1].seq).await.unwrap();
        assert_eq!(lag.changes, 2);
        assert!(lag.oldest_at.is_some());
        let none = db.feed_lag(head).await.unwrap();
        assert_eq!((none.changes, none.oldest_at), (0, None));

        // A follower re-reads the casing's current state: B is now of m2,
        // A is gone.
        assert!(db
            .index_entries_of(&[a.id, b.id], "m")
            .await
            .unwrap()
            .is_empty());
        let current = db
            .index_entries_of(&[b.id, a.id, b.id], "m2")
            .await
            .unwrap();
        assert_eq!(
            current,
            [crate::index::IndexEntry {
                id: b.id,
                agency: "local".into(),
                descriptor: vec![0.75, 0.25]
            }]
        );
    }

    /// Many writers at once, and a follower reading as they commit: it
    /// only ever asks for the rows after the highest seq it has seen, and
    /// still misses none (the sequence-gap race of the module's docs).
    async fn a_follower_misses_no_change_under_concurrent_writers(db: &Database) {
        const WRITERS: usize = 8;
        const EACH: usize = 6;
        let mut writers = tokio::task::JoinSet::new();
        for w in 0..WRITERS {
            let db = db.clone();
            writers.spawn(async move {
                let mut ids = Vec::new();
                for i in 0..EACH {
                    let casing = new_casing(&format!("W{w}-{i}"));
                    let stored = db
                        .insert_casing(&casing, &features("m", 0.5))
                        .await
                        .unwrap();
                    ids.push(stored.record().id);
                }
                ids
            });
        }
        let mut seen = BTreeSet::new();
        let mut position = 0;
        let mut follow = |changes: Vec<CasingChange>, position: &mut i64| {
            for c in changes {
                assert!(c.seq > *position);
                *position = c.seq;
                seen.insert(c.casing_pk);
            }
        };
        while !writers.is_empty() {
            follow(db.changes_after(position, 5).await.unwrap(), &mut position);
            if let Some(done) = writers.try_join_next() {
                done.unwrap();
            }
            tokio::task::yield_now().await;
        }
        follow(
            db.changes_after(position, 1000).await.unwrap(),
            &mut position,
        );
        let stored: BTreeSet<i64> = db
            .list_casings()
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(stored.len(), WRITERS * EACH);
        assert_eq!(seen, stored);
    }

    /// Announce a change of `pk` in a transaction left open, as a slow
    /// writer would.
    async fn open_writer(db: &Database, pk: i64) -> Result<OpenWriter> {
        let backend = db.backend();
        Ok(match &db.pool {
            super::super::db::Pool::Sqlite(pool) => {
                let mut tx = pool.begin_write().await?;
                record_changes_in!(tx, backend, ChangeKind::Describe, &[pk]);
                OpenWriter::Sqlite(tx)
            }
            super::super::db::Pool::Postgres(pool) => {
                let mut tx = pool.begin_write().await?;
                record_changes_in!(tx, backend, ChangeKind::Describe, &[pk]);
                OpenWriter::Postgres(tx)
            }
        })
    }

    enum OpenWriter {
        Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
        Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
    }

    impl OpenWriter {
        async fn commit(self) {
            match self {
                OpenWriter::Sqlite(tx) => tx.commit().await.unwrap(),
                OpenWriter::Postgres(tx) => tx.commit().await.unwrap(),
            }
        }
    }

    /// The race itself, made to happen: a writer holds a seq while a
    /// second one stores a casing. The second's change cannot become
    /// visible before the first's, so a follower that has read nothing
    /// yet cannot skip the first.
    async fn a_writer_holding_a_seq_holds_back_later_ones(db: &Database) {
        let first = open_writer(db, 4242).await.unwrap();
        let second = {
            let db = db.clone();
            tokio::spawn(async move {
                db.insert_casing(&new_casing("late"), &features("m", 0.5))
                    .await
                    .unwrap()
                    .into_record()
            })
        };
        // Give the second writer every chance to commit past the first.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(
            db.changes_after(0, 10).await.unwrap().is_empty(),
            "a change became visible while an earlier seq was still in flight"
        );
        first.commit().await;
        let late = second.await.unwrap();
        let changes = db.changes_after(0, 10).await.unwrap();
        assert_eq!(
            kinds(&changes),
            [(4242, ChangeKind::Describe), (late.id, ChangeKind::Insert)]
        );
    }

    on_both_backends!(
        writes_are_announced_in_order,
        a_follower_misses_no_change_under_concurrent_writers,
        a_writer_holding_a_seq_holds_back_later_ones
    );
}
