//! When the index file is written.
//!
//! The file is a cache stamped with the change-feed position it holds every
//! change up to, and an engine opening it catches up from that position
//! (`index_sync::load_or_rebuild`), so it need not be written after every
//! change. Writing it after each one cost O(index) per casing on every
//! node (about 520 MB at a million casings) while holding the index's lock,
//! so every search waited on the disk. Now a change writes the file only
//! when the last write is at least [`super::EngineConfig::index_save_every`]
//! old; a change that finds it younger leaves the file pending, and the
//! follower's next tick past the period writes it, as do the end of an
//! import or a re-description and [`super::Engine::close`]. A process that
//! stops without any of these loses nothing: the next start applies the
//! changes after the file's position.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The write schedule of one engine's index file.
#[derive(Debug)]
pub(super) struct SaveSchedule {
    every: Duration,
    state: Mutex<SaveState>,
}

#[derive(Debug, Default)]
struct SaveState {
    /// When the file was last written by this engine (`None`: not yet).
    last: Option<Instant>,
    /// Changes are in the index that the file does not hold.
    pending: bool,
}

impl SaveSchedule {
    /// At most one write per `every` while changes keep coming (zero: a
    /// write after every change).
    pub(super) fn new(every: Duration) -> Self {
        SaveSchedule {
            every,
            state: Mutex::new(SaveState::default()),
        }
    }

    /// A change was applied: whether to write the file now. If not, the
    /// write is pending.
    pub(super) fn after_change(&self) -> bool {
        let Ok(mut state) = self.state.lock() else {
            return true;
        };
        let due = state.last.is_none_or(|t| t.elapsed() >= self.every);
        if due {
            state.last = Some(Instant::now());
            state.pending = false;
        } else {
            state.pending = true;
        }
        due
    }

    /// On a tick (`force`: at the end of a batch job or on close): whether
    /// a pending write is due now; if so it is no longer pending.
    pub(super) fn pending_due(&self, force: bool) -> bool {
        let Ok(mut state) = self.state.lock() else {
            return false;
        };
        let due = state.pending && (force || state.last.is_none_or(|t| t.elapsed() >= self.every));
        if due {
            state.last = Some(Instant::now());
            state.pending = false;
        }
        due
    }

    /// The file was written by a rebuild: nothing is pending.
    pub(super) fn written(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.last = Some(Instant::now());
            state.pending = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_changes_writes_once_then_the_pending_write_when_due() {
        let schedule = SaveSchedule::new(Duration::from_millis(50));
        assert!(schedule.after_change(), "the first change writes at once");
        assert!(!schedule.after_change());
        assert!(!schedule.after_change());
        assert!(!schedule.pending_due(false), "not before the period");
        std::thread::sleep(Duration::from_millis(60));
        assert!(
            schedule.pending_due(false),
            "the tick after the period writes"
        );
        assert!(!schedule.pending_due(false), "and only once");
        assert!(
            !schedule.pending_due(true),
            "nothing pending, nothing forced"
        );
        std::thread::sleep(Duration::from_millis(60));
        assert!(
            schedule.after_change(),
            "a change after a quiet period writes at once"
        );
    }

    #[test]
    fn forcing_writes_what_is_pending_at_once() {
        let schedule = SaveSchedule::new(Duration::from_secs(3600));
        assert!(schedule.after_change());
        assert!(!schedule.after_change());
        assert!(schedule.pending_due(true));
        assert!(!schedule.pending_due(true));
    }

    #[test]
    fn a_zero_period_writes_after_every_change() {
        let schedule = SaveSchedule::new(Duration::ZERO);
        assert!((0..5).all(|_| schedule.after_change()));
        assert!(!schedule.pending_due(false));
    }

    #[test]
    fn a_rebuild_clears_what_was_pending() {
        let schedule = SaveSchedule::new(Duration::from_secs(3600));
        assert!(schedule.after_change());
        assert!(!schedule.after_change());
        schedule.written();
        assert!(!schedule.pending_due(true));
    }
}
