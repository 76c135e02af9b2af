//! Keeping the faiss index in step with the database, its source of truth:
//! built from the database at start-up ([`load_or_rebuild`]), grown through
//! one door ([`Engine::add_to_index`]) as this engine commits casings, and
//! brought up to date with every other engine's writes (and the command
//! line's) by following the database's change feed ([`IndexFollower`]).
//!
//! Every change is applied by re-reading the casing's current descriptor,
//! not by replaying what the change said, so applying one twice, late, or
//! after this engine already indexed it itself, leaves the index as the
//! database says.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;

use super::{blocking, Engine};
use crate::error::{EngineError, Result};
use crate::index::{IndexStamp, VectorIndex};
use crate::store::Database;

/// Changes read and applied at a time.
const FEED_PAGE: i64 = 1_000;

/// The index file when it was saved for this model and the database's
/// feed has not gone backwards since (it would have, were the file from
/// another database), else a fresh index built from every stored
/// descriptor and saved. Returns the index and the feed position it holds
/// every change up to; the caller catches up from there.
pub async fn load_or_rebuild(
    db: &Database,
    path: &Path,
    model_version: &str,
    dim: usize,
) -> Result<(VectorIndex, i64)> {
    // The head is read before the descriptors: a change committed between
    // the two is in the rebuild and above the head, and applying it again
    // changes nothing. No change at or below the head can still appear
    // (writers of the feed take turns, `store::changes`).
    let head = db.feed_head().await?;
    if let Some((index, stamp)) = VectorIndex::load_saved(path, model_version, dim) {
        if let Some(seq) = stamp.feed_seq.filter(|seq| *seq <= head) {
            tracing::info!(count = stamp.count, feed_seq = seq, "index loaded");
            return Ok((index, seq));
        }
    }
    let started = std::time::Instant::now();
    let rows = db.all_descriptors(model_version).await?;
    let mut index = VectorIndex::new(dim)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let flat: Vec<f32> = rows.iter().flat_map(|r| r.1.iter().copied()).collect();
    index.add(&ids, &flat)?;
    // Casings left out (no descriptor of this model) are counted and
    // named by `Engine::open`, which tells the operator to re-describe.
    let stamp = IndexStamp {
        model_version: model_version.to_string(),
        dim,
        count: index.len(),
        max_id: ids.last().copied(),
        feed_seq: Some(head),
    };
    save_or_warn(&index, path, &stamp);
    tracing::info!(
        count = stamp.count,
        feed_seq = head,
        seconds = started.elapsed().as_secs_f64(),
        "index rebuilt from the database"
    );
    Ok((index, head))
}

/// What an engine needs to apply the feed to its index: shared with the
/// engine, so the background task that follows the feed holds no
/// `Engine` and ends when the engine is dropped or closed.
#[derive(Debug, Clone)]
pub(super) struct IndexFollower {
    db: Database,
    index: Arc<Mutex<VectorIndex>>,
    path: PathBuf,
    model_version: String,
    dim: usize,
    /// Every change up to this seq is in the index.
    position: Arc<AtomicI64>,
    /// Held by one catch-up at a time (the background task and the
    /// correlation workers both catch up): two that read the same change
    /// at different times could otherwise apply the older descriptor last.
    applying: Arc<tokio::sync::Mutex<()>>,
}

/// How far an engine's index is behind the database.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IndexLag {
    /// The feed position the index holds every change up to.
    pub position: i64,
    /// Changes committed after it (by any engine or the command line).
    pub changes_behind: u64,
    /// How long the oldest of them has waited, seconds (0 when none).
    pub seconds_behind: f64,
}

impl IndexFollower {
    pub(super) fn new(
        db: Database,
        index: Arc<Mutex<VectorIndex>>,
        path: PathBuf,
        model_version: String,
        dim: usize,
        position: i64,
    ) -> Self {
        IndexFollower {
            db,
            index,
            path,
            model_version,
            dim,
            position: Arc::new(AtomicI64::new(position)),
            applying: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    pub(super) fn position(&self) -> i64 {
        self.position.load(Ordering::SeqCst)
    }

    /// Apply every change committed after the position; how many.
    pub(super) async fn catch_up(&self) -> Result<u64> {
        let _turn = self.applying.lock().await;
        let mut applied = 0;
        loop {
            let changes = self.db.changes_after(self.position(), FEED_PAGE).await?;
            let Some(last) = changes.last().map(|c| c.seq) else {
                return Ok(applied);
            };
            let pks: Vec<i64> = changes.iter().map(|c| c.casing_pk).collect();
            // The casings as they are now: one removed or described by
            // another model is simply not among them.
            let current = self.db.descriptors_of(&pks, &self.model_version).await?;
            let (index, path) = (self.index.clone(), self.path.clone());
            let (model_version, dim) = (self.model_version.clone(), self.dim);
            blocking(move || {
                let mut index = index
                    .lock()
                    .map_err(|_| EngineError::poisoned_index_lock())?;
                index.remove(&pks)?;
                let ids: Vec<i64> = current.iter().map(|r| r.0).collect();
                let flat: Vec<f32> = current.iter().flat_map(|r| r.1.iter().copied()).collect();
                index.add(&ids, &flat)?;
                let stamp = IndexStamp {
                    model_version,
                    dim,
                    count: index.len(),
                    max_id: None,
                    feed_seq: Some(last),
                };
                save_or_warn(&index, &path, &stamp);
                Ok(())
            })
            .await?;
            self.position.fetch_max(last, Ordering::SeqCst);
            applied += changes.len() as u64;
            if (changes.len() as i64) < FEED_PAGE {
                return Ok(applied);
            }
        }
    }

    /// Follow the feed every `every` until the database is closed.
    pub(super) fn spawn(self, every: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            // The first tick one period on: the engine caught up as it opened.
            let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut failing = false;
            loop {
                ticker.tick().await;
                match self.catch_up().await {
                    Ok(n) => {
                        if failing {
                            tracing::info!("following the change feed again");
                        }
                        failing = false;
                        if n > 0 {
                            tracing::debug!(
                                changes = n,
                                position = self.position(),
                                "index caught up"
                            );
                        }
                    }
                    Err(EngineError::Database(sqlx::Error::PoolClosed)) => return,
                    // Said once per outage, not every tick; the index
                    // serves what it has meanwhile and /healthz shows the lag.
                    Err(e) => {
                        if !failing {
                            tracing::warn!(error = %e, "could not follow the change feed; retrying");
                        }
                        failing = true;
                    }
                }
            }
        })
    }

    async fn lag(&self) -> Result<IndexLag> {
        let position = self.position();
        let lag = self.db.feed_lag(position).await?;
        let seconds_behind = lag.oldest_at.map_or(0.0, |at| {
            ((Utc::now() - at).num_milliseconds().max(0) as f64) / 1000.0
        });
        Ok(IndexLag {
            position,
            changes_behind: u64::try_from(lag.changes).unwrap_or_default(),
            seconds_behind,
        })
    }
}

/// The file is a cache: failing to save it costs a rebuild or a longer
/// catch-up at the next start, not a committed casing.
fn save_or_warn(index: &VectorIndex, path: &Path, stamp: &IndexStamp) {
    if let Err(e) = index.save(path, stamp) {
        tracing::warn!(error = %e, "could not save the index; it will be rebuilt at start-up");
    }
}

/// Aborts the feed's background task when the engine goes.
#[derive(Debug)]
pub(super) struct FollowTask(pub(super) Option<tokio::task::JoinHandle<()>>);

impl Drop for FollowTask {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}

impl Engine {
    /// Add descriptors whose rows are committed to the live index, at once
    /// rather than at the next poll of the feed, and save the index file.
    /// The one way this engine's own writes enter the index: a submission
    /// (one id), an import batch and a re-description batch all come here.
    /// `flat` holds `ids.len()` descriptors, row after row. The stamp keeps
    /// the feed position as it is: these changes are in the feed too, and
    /// applying them again from there is harmless.
    pub(super) async fn add_to_index(&self, ids: Vec<i64>, flat: Vec<f32>) -> Result<()> {
        let (index, path) = (self.index.clone(), self.index_path.clone());
        let (model_version, dim) = (self.model_version().to_string(), self.model.spec().dim);
        let feed_seq = self.follower.position();
        // Adding and saving touch faiss and the disk: off the async executor.
        blocking(move || {
            let mut index = index
                .lock()
                .map_err(|_| EngineError::poisoned_index_lock())?;
            // A re-described casing is already in the index: replaced.
            index.upsert(&ids, &flat)?;
            let stamp = IndexStamp {
                model_version,
                dim,
                count: index.len(),
                max_id: None,
                feed_seq: Some(feed_seq),
            };
            save_or_warn(&index, &path, &stamp);
            Ok(())
        })
        .await
    }

    /// Apply the changes committed since the index's position now, instead
    /// of at the next poll (the server polls every
    /// [`super::EngineConfig::follow_every`]); how many were applied.
    pub async fn catch_up_index(&self) -> Result<u64> {
        self.follower.catch_up().await
    }

    /// How far this engine's index is behind the database: for the health
    /// check (counts and times only, no record).
    pub async fn index_lag(&self) -> Result<IndexLag> {
        self.follower.lag().await
    }
}
