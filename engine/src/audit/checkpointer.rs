//! Writing checkpoints as the chain grows: every `every` records, and
//! whenever asked (periodically and at shutdown by the server, by
//! `casetrace audit checkpoint`).

use std::path::Path;
use std::sync::Mutex;

use super::anchor::{AuditKey, Checkpoint, CheckpointLine, CheckpointLog};
use super::entry::audit_now;
use crate::error::Result;

/// The key and the checkpoint log of one process, and the sequence number
/// of the last checkpoint it knows of.
#[derive(Debug)]
pub struct AuditAnchor {
    key: AuditKey,
    log: CheckpointLog,
    every: i64,
    last: Mutex<i64>,
}

impl AuditAnchor {
    /// Read (or create, mode 0600) the key at `key_path` and find the last
    /// checkpoint in the log at `log_path`. Blocking (small files).
    pub fn open(key_path: &Path, log_path: &Path, every: i64) -> Result<AuditAnchor> {
        let key = AuditKey::load_or_create(key_path)?;
        let log = CheckpointLog::new(log_path);
        let last = log
            .read()?
            .iter()
            .filter_map(|l| match l {
                CheckpointLine::Ok(c) if c.is_authentic(&key) => Some(c.seq),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        Ok(AuditAnchor {
            key,
            log,
            every: every.max(1),
            last: Mutex::new(last),
        })
    }

    pub fn key(&self) -> &AuditKey {
        &self.key
    }

    pub fn log(&self) -> &CheckpointLog {
        &self.log
    }

    /// Whether record `seq` is far enough past the last checkpoint to need one.
    pub fn is_due(&self, seq: i64) -> bool {
        seq - *self.last.lock().unwrap_or_else(|p| p.into_inner()) >= self.every
    }

    /// Sign and append a checkpoint of record `seq` with hash `hash`,
    /// unless one at or past it was already written. Blocking (fsync).
    pub fn write(&self, seq: i64, hash: &str) -> Result<Option<Checkpoint>> {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if seq <= *last {
            return Ok(None);
        }
        let checkpoint = Checkpoint::sign(&self.key, seq, hash, audit_now());
        self.log.append(&checkpoint)?;
        *last = seq;
        Ok(Some(checkpoint))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_are_due_every_n_records_and_never_repeat() {
        let dir = tempfile::tempdir().unwrap();
        let (key, log) = (dir.path().join("k"), dir.path().join("cp.jsonl"));
        let anchor = AuditAnchor::open(&key, &log, 3).unwrap();
        assert!(!anchor.is_due(2));
        assert!(anchor.is_due(3));
        assert!(anchor.write(3, "h3").unwrap().is_some());
        assert!(anchor.write(3, "h3").unwrap().is_none(), "not twice");
        assert!(anchor.write(2, "h2").unwrap().is_none(), "never backwards");
        assert!(!anchor.is_due(5));
        // A new process picks up where the log ends.
        let again = AuditAnchor::open(&key, &log, 3).unwrap();
        assert!(!again.is_due(5));
        assert!(again.is_due(6));
    }
}
