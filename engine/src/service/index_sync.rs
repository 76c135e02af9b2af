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

use super::index_saving::SaveSchedule;
use super::{blocking, Engine};
use crate::error::{EngineError, Result};
use crate::index::{AgencyBitmaps, CasingIndex, IndexEntry, IndexPlan, IndexStamp, VectorIndex};
use crate::store::Database;

/// Changes read and applied at a time.
const FEED_PAGE: i64 = 1_000;

/// What an index is for: its file, the model whose descriptors it holds,
/// and the plan that picks its kind by size.
#[derive(Debug, Clone)]
pub(super) struct IndexSpec {
    pub(super) path: PathBuf,
    pub(super) model_version: String,
    pub(super) dim: usize,
    pub(super) plan: IndexPlan,
}

/// The index file when it was saved for this model, is of the kind the
/// plan gives its size, and the database's feed has not gone backwards
/// since (it would have, were the file from another database), with its
/// agency sets read from the database; else a fresh index built from every
/// stored descriptor and saved. Returns the index and the feed position it
/// holds every change up to; the caller catches up from there.
pub(super) async fn load_or_rebuild(db: &Database, spec: &IndexSpec) -> Result<(CasingIndex, i64)> {
    // The head is read before the descriptors: a change committed between
    // the two is in the rebuild and above the head, and applying it again
    // changes nothing. No change at or below the head can still appear
    // (writers of the feed take turns, `store::changes`).
    let head = db.feed_head().await?;
    let (path, model_version, dim) = (spec.path.clone(), spec.model_version.clone(), spec.dim);
    let saved = blocking(move || Ok(VectorIndex::load_saved(&path, &model_version, dim))).await?;
    if let Some((mut vectors, stamp)) = saved {
        let current = stamp.feed_seq.filter(|seq| *seq <= head);
        if let (Some(seq), false) = (current, spec.plan.needs_rebuild(stamp.kind, stamp.count)) {
            // The agency sets are never saved: the database says whose
            // each casing is. Ids added since the file's position are in
            // them already and reach the vectors as the caller catches up.
            let mut agencies = AgencyBitmaps::default();
            for (id, agency) in db.indexed_agencies(&spec.model_version).await? {
                agencies.insert(id, &agency);
            }
            vectors.set_nprobe(spec.plan.nprobe);
            tracing::info!(count = stamp.count, feed_seq = seq, kind = %stamp.kind, "index loaded");
            return Ok((CasingIndex { vectors, agencies }, seq));
        }
    }
    let index = rebuild(db, spec, head).await?;
    Ok((index, head))
}

/// A fresh index of every descriptor the database holds for the model, of
/// the kind the plan gives their count, saved with a stamp at `head` (read
/// by the caller before this).
async fn rebuild(db: &Database, spec: &IndexSpec, head: i64) -> Result<CasingIndex> {
    let started = std::time::Instant::now();
    let entries = db.all_index_entries(&spec.model_version).await?;
    let kind = spec.plan.kind_for(entries.len() as u64);
    let spec = spec.clone();
    blocking(move || {
        // Casings left out (no descriptor of this model) are counted and
        // named by `Engine::open`, which tells the operator to re-describe.
        let mut index = CasingIndex::build(spec.dim, kind, &entries)?;
        index.vectors.set_nprobe(spec.plan.nprobe);
        let stamp = IndexStamp {
            model_version: spec.model_version.clone(),
            dim: spec.dim,
            count: index.len(),
            max_id: entries.last().map(|e| e.id),
            feed_seq: Some(head),
            kind,
        };
        save_file_or_warn(&index.vectors, &spec.path, &stamp);
        tracing::info!(
            count = stamp.count,
            feed_seq = head,
            kind = %kind,
            seconds = started.elapsed().as_secs_f64(),
            "index rebuilt from the database"
        );
        Ok(index)
    })
    .await
}

/// What an engine needs to apply the feed to its index: shared with the
/// engine, so the background task that follows the feed holds no
/// `Engine` and ends when the engine is dropped or closed.
#[derive(Debug, Clone)]
pub(super) struct IndexFollower {
    db: Database,
    index: Arc<Mutex<CasingIndex>>,
    spec: IndexSpec,
    /// Every change up to this seq is in the index.
    position: Arc<AtomicI64>,
    /// Held by one catch-up at a time (the background task and the
    /// correlation workers both catch up): two that read the same change
    /// at different times could otherwise apply the older descriptor last,
    /// and a rebuild moves the position to its own head, which a concurrent
    /// catch-up must not move past.
    applying: Arc<tokio::sync::Mutex<()>>,
    /// When the index file is written (shared with the engine's own adds).
    saving: Arc<SaveSchedule>,
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
    /// Load the index file (or rebuild it from the database) and follow
    /// the feed from the position the file holds.
    pub(super) async fn start(db: Database, spec: IndexSpec, save_every: Duration) -> Result<Self> {
        let (index, position) = load_or_rebuild(&db, &spec).await?;
        Ok(IndexFollower {
            db,
            index: Arc::new(Mutex::new(index)),
            spec,
            position: Arc::new(AtomicI64::new(position)),
            applying: Arc::new(tokio::sync::Mutex::new(())),
            saving: Arc::new(SaveSchedule::new(save_every)),
        })
    }

    /// The index this follower keeps up with the feed.
    pub(super) fn index(&self) -> &Arc<Mutex<CasingIndex>> {
        &self.index
    }

    pub(super) fn position(&self) -> i64 {
        self.position.load(Ordering::SeqCst)
    }

    /// Apply every change committed after the position; how many. When the
    /// index has then outgrown its kind ([`IndexPlan::needs_rebuild`]: past
    /// the exact threshold, or grown enough since its IVF training), it is
    /// rebuilt from the database while the old one keeps answering, swapped
    /// in, and brought up to date from the rebuild's position.
    pub(super) async fn catch_up(&self) -> Result<u64> {
        let _turn = self.applying.lock().await;
        let mut applied = self.apply_changes().await?;
        let (kind, count) = {
            let index = self
                .index
                .lock()
                .map_err(|_| EngineError::poisoned_index_lock())?;
            (index.kind(), index.len())
        };
        if self.spec.plan.needs_rebuild(kind, count) {
            let head = self.db.feed_head().await?;
            let fresh = rebuild(&self.db, &self.spec, head).await?;
            self.saving.written();
            *self
                .index
                .lock()
                .map_err(|_| EngineError::poisoned_index_lock())? = fresh;
            self.position.store(head, Ordering::SeqCst);
            applied += self.apply_changes().await?;
        }
        Ok(applied)
    }

    async fn apply_changes(&self) -> Result<u64> {
        let mut applied = 0;
        loop {
            let changes = self.db.changes_after(self.position(), FEED_PAGE).await?;
            let Some(last) = changes.last().map(|c| c.seq) else {
                return Ok(applied);
            };
            let pks: Vec<i64> = changes.iter().map(|c| c.casing_pk).collect();
            // The casings as they are now: one removed or described by
            // another model is simply not among them.
            let current = self
                .db
                .index_entries_of(&pks, &self.spec.model_version)
                .await?;
            let follower = self.clone();
            blocking(move || {
                let mut index = follower
                    .index
                    .lock()
                    .map_err(|_| EngineError::poisoned_index_lock())?;
                index.apply(&pks, &current)?;
                follower.save_after_change(&index, last);
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

    /// After a change to `index` (locked by the caller): its file written
    /// now if the schedule says so, else left pending.
    fn save_after_change(&self, index: &CasingIndex, feed_seq: i64) {
        if self.saving.after_change() {
            save_or_warn(index, &self.spec, feed_seq);
        }
    }

    /// Write the index file if changes since the last write wait for it
    /// and its period has passed, or at once with `force` (end of a batch
    /// job, close).
    pub(super) async fn save_pending(&self, force: bool) -> Result<()> {
        if !self.saving.pending_due(force) {
            return Ok(());
        }
        let (index, spec, position) = (self.index.clone(), self.spec.clone(), self.position());
        blocking(move || {
            let index = index
                .lock()
                .map_err(|_| EngineError::poisoned_index_lock())?;
            save_or_warn(&index, &spec, position);
            Ok(())
        })
        .await
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
                        if let Err(e) = self.save_pending(false).await {
                            tracing::warn!(error = %e, "could not save the index");
                        }
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

/// Write `index` to its file, stamped as holding every change up to
/// `feed_seq`. The file is a cache: failing to save it costs a rebuild or a
/// longer catch-up at the next start, not a committed casing.
fn save_or_warn(index: &CasingIndex, spec: &IndexSpec, feed_seq: i64) {
    let stamp = IndexStamp {
        model_version: spec.model_version.clone(),
        dim: spec.dim,
        count: index.len(),
        max_id: None,
        feed_seq: Some(feed_seq),
        kind: index.kind(),
    };
    save_file_or_warn(&index.vectors, &spec.path, &stamp);
}

fn save_file_or_warn(index: &VectorIndex, path: &Path, stamp: &IndexStamp) {
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
    /// rather than at the next poll of the feed; the index file is written
    /// as [`super::index_saving`] schedules.
    /// The one way this engine's own writes enter the index: a submission
    /// (one id), an import batch and a re-description batch all come here.
    /// `flat` holds `ids.len()` descriptors, row after row. The stamp keeps
    /// the feed position as it is: these changes are in the feed too, and
    /// applying them again from there is harmless.
    pub(super) async fn add_to_index(&self, ids: Vec<i64>, flat: Vec<f32>) -> Result<()> {
        let dim = self.model.spec().dim;
        if flat.len() != ids.len() * dim {
            return Err(EngineError::Index(format!(
                "{} values for {} descriptors of dimension {dim}",
                flat.len(),
                ids.len()
            )));
        }
        // Whose each casing is, from its row: the agency sets restrict
        // searches, so they come from the truth, not from the caller.
        let agencies: std::collections::HashMap<i64, String> =
            self.db.agencies_of(&ids).await?.into_iter().collect();
        let entries: Vec<IndexEntry> = ids
            .iter()
            .zip(flat.chunks(dim.max(1)))
            .filter_map(|(id, descriptor)| {
                // A row gone meanwhile (its submission undone) stays out;
                // its removal is in the feed too.
                agencies.get(id).map(|agency| IndexEntry {
                    id: *id,
                    agency: agency.clone(),
                    descriptor: descriptor.to_vec(),
                })
            })
            .collect();
        let (index, follower) = (self.index.clone(), self.follower.clone());
        let feed_seq = follower.position();
        // Adding and saving touch faiss and the disk: off the async executor.
        blocking(move || {
            let mut index = index
                .lock()
                .map_err(|_| EngineError::poisoned_index_lock())?;
            // A re-described casing is already in the index: replaced.
            index.upsert(&entries)?;
            follower.save_after_change(&index, feed_seq);
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

    /// Write the index file now if changes wait for it (the end of an
    /// import or a re-description, and [`Engine::close`]).
    pub(super) async fn save_index_now(&self) -> Result<()> {
        self.follower.save_pending(true).await
    }

    /// How far this engine's index is behind the database: for the health
    /// check (counts and times only, no record).
    pub async fn index_lag(&self) -> Result<IndexLag> {
        self.follower.lag().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{AuditEvent, AuditOutcome};
    use crate::casing::CasingFeatures;
    use crate::index::IndexKind;
    use crate::store::test_support::{on_both_backends, placeholder_casing};
    use crate::store::NewDescription;
    use crate::synth::{DescriptorSet, DescriptorShape};

    const DIM: usize = 16;
    /// Small enough to cross in a test.
    const EXACT_BELOW: u64 = 120;

    fn features(descriptor: &[f32]) -> CasingFeatures {
        CasingFeatures {
            model_version: "m".into(),
            descriptor: descriptor.to_vec(),
            comparison_surface: vec![0],
            pipeline_version: "p".into(),
            pin_mark: None,
            marks_version: None,
        }
    }

    async fn store(db: &Database, agency: &str, name: &str, descriptor: &[f32]) -> i64 {
        db.insert_casing(&placeholder_casing(agency, name), &features(descriptor))
            .await
            .unwrap()
            .into_record()
            .id
    }

    /// The index of model "m" in `dir`, sized by `plan`.
    fn spec_in(dir: &Path, plan: IndexPlan) -> IndexSpec {
        IndexSpec {
            path: dir.join("descriptors.faiss"),
            model_version: "m".into(),
            dim: DIM,
            plan,
        }
    }

    fn ids_of(index: &Arc<Mutex<CasingIndex>>, agency: &str) -> Vec<i64> {
        let index = index.lock().unwrap();
        let permitted = index.agencies.permitted(&[agency.to_string()]);
        (0..10_000).filter(|id| permitted.contains(*id)).collect()
    }

    /// The follower keeps vectors and agency sets as the database says
    /// through inserts, a removal and a re-description; past the
    /// threshold it rebuilds the index as IVF, which a restart loads with
    /// its kind and agency sets.
    async fn the_follower_keeps_agency_sets_and_kind_in_step(db: &Database) {
        let dir = tempfile::tempdir().unwrap();
        let spec = spec_in(
            dir.path(),
            IndexPlan {
                exact_below: EXACT_BELOW,
                nprobe: 4,
                ..IndexPlan::default()
            },
        );
        let set = DescriptorSet::generate(60, DIM, DescriptorShape::default(), 5);
        // Written after every change, so the restart below loads every one.
        let follower = IndexFollower::start(db.clone(), spec.clone(), Duration::ZERO)
            .await
            .unwrap();
        let index = follower.index().clone();
        let kind = index.lock().unwrap().kind();
        assert_eq!((kind, index.lock().unwrap().len()), (IndexKind::Exact, 0));

        let a1 = store(db, "a", "A1", set.casing(0)).await;
        let b1 = store(db, "b", "B1", set.casing(1)).await;
        let a2 = store(db, "a", "A2", set.casing(2)).await;
        assert_eq!(follower.catch_up().await.unwrap(), 3);
        assert_eq!(ids_of(&index, "a"), [a1, a2]);
        assert_eq!(ids_of(&index, "b"), [b1]);

        db.delete_casing(a2).await.unwrap();
        let event = AuditEvent::new("local", "test", "redescribe", "x", AuditOutcome::Ok);
        let moved = NewDescription {
            casing_pk: b1,
            previous_model: Some("m".into()),
            model_version: "m".into(),
            descriptor: set.casing(3).to_vec(),
            surface: None,
            pin_mark: None,
            marks_version: "k".into(),
        };
        db.write_redescribed(&[moved], &event).await.unwrap();
        assert_eq!(follower.catch_up().await.unwrap(), 2);
        assert_eq!(ids_of(&index, "a"), [a1]);
        assert_eq!(ids_of(&index, "b"), [b1]);
        {
            let mut index = index.lock().unwrap();
            assert_eq!(index.len(), 2);
            let hit = index.search(set.casing(3), 1, Some(&["b".into()])).unwrap();
            assert!(hit[0].0 == b1 && hit[0].1 > 0.99, "re-described: {hit:?}");
            assert!(index
                .search(set.casing(3), 5, Some(&["a".into()]))
                .unwrap()
                .iter()
                .all(|h| h.0 == a1));
        }

        // Past the threshold: rebuilt as IVF from the database.
        let mut expected_b = vec![b1];
        for i in 4..EXACT_BELOW as usize + 4 {
            let agency = if i % 3 == 0 { "b" } else { "a" };
            let id = store(db, agency, &format!("C{i}"), set.casing(i)).await;
            if agency == "b" {
                expected_b.push(id);
            }
        }
        follower.catch_up().await.unwrap();
        let kind = index.lock().unwrap().kind();
        assert!(
            matches!(
                kind,
                IndexKind::Ivf {
                    trained_on: 122,
                    ..
                }
            ),
            "{kind}"
        );
        assert_eq!(index.lock().unwrap().len(), 122);
        assert_eq!(ids_of(&index, "b"), expected_b);
        // One more after the switch reaches the IVF index too.
        let late = store(db, "b", "late", set.casing(200)).await;
        follower.catch_up().await.unwrap();
        expected_b.push(late);
        assert_eq!(ids_of(&index, "b"), expected_b);
        let hit = index
            .lock()
            .unwrap()
            .search(set.casing(200), 1, Some(&["b".into()]))
            .unwrap();
        assert_eq!(hit[0].0, late);

        // A restart loads the file (its kind) and reads the agency sets
        // from the database.
        let (reloaded, at) = load_or_rebuild(db, &spec).await.unwrap();
        assert_eq!(at, follower.position());
        assert_eq!(reloaded.kind(), kind);
        assert_eq!(reloaded.len(), 123);
        assert_eq!(reloaded.agencies.len(), 123);
        let reloaded = Arc::new(Mutex::new(reloaded));
        assert_eq!(ids_of(&reloaded, "b"), expected_b);
    }

    /// With writes spaced out, a burst of changes writes the file once;
    /// the file then lags the index, and a start from it catches up from
    /// its position: nothing indexed is lost. A forced write (close, end
    /// of an import) brings the file level.
    async fn a_file_written_less_often_loses_nothing(db: &Database) {
        let dir = tempfile::tempdir().unwrap();
        let spec = spec_in(dir.path(), IndexPlan::default());
        let set = DescriptorSet::generate(10, DIM, DescriptorShape::default(), 7);
        let follower = IndexFollower::start(db.clone(), spec.clone(), Duration::from_secs(3600))
            .await
            .unwrap();
        let index = follower.index().clone();
        let saved = || VectorIndex::load_saved(&spec.path, "m", DIM).unwrap().1;
        // The rebuild at load wrote the empty index; the first change is
        // written at once, the next ones wait.
        store(db, "a", "A0", set.casing(0)).await;
        follower.catch_up().await.unwrap();
        assert_eq!(saved().count, 1);
        for i in 1..5 {
            store(db, "a", &format!("A{i}"), set.casing(i)).await;
            follower.catch_up().await.unwrap();
        }
        assert_eq!(index.lock().unwrap().len(), 5);
        follower.save_pending(false).await.unwrap();
        assert_eq!(saved().count, 1, "not yet due");

        // A start from the lagging file: loaded at its position, then
        // caught up to every casing.
        let restarted = IndexFollower::start(db.clone(), spec.clone(), Duration::ZERO)
            .await
            .unwrap();
        let reloaded = restarted.index();
        assert_eq!(reloaded.lock().unwrap().len(), 1);
        assert_eq!(restarted.catch_up().await.unwrap(), 4);
        assert_eq!(reloaded.lock().unwrap().len(), 5);

        // Forced: the file holds all five, stamped at the feed's head.
        follower.save_pending(true).await.unwrap();
        let stamp = saved();
        assert_eq!(
            (stamp.count, stamp.feed_seq),
            (5, Some(db.feed_head().await.unwrap()))
        );
    }

    on_both_backends!(
        the_follower_keeps_agency_sets_and_kind_in_step,
        a_file_written_less_often_loses_nothing
    );
}
