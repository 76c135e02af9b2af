//! Anchoring the audit chain outside the database.
//!
//! The hash chain alone proves nothing to someone holding the database
//! file: they can delete the newest records, or edit an old one and re-hash
//! everything after it, and the chain is intact again. So the head of the
//! chain is written down elsewhere, signed: a [`Checkpoint`] (sequence
//! number, head hash, time) with an HMAC-SHA-256 under an [`AuditKey`] that
//! lives in a file, not in the database, appended to a JSON-lines
//! [`CheckpointLog`]. Verification then checks every checkpoint's HMAC and
//! that the record it names is still there with the hash it had.
//!
//! What this catches and what it cannot: a deleted tail, a re-hashed edit
//! and a deleted-and-renumbered middle record, as long as a checkpoint was
//! written after the record touched. Records appended after the latest
//! checkpoint are covered by the chain only; checkpoints are therefore
//! written every few records, periodically and at shutdown.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::error::{EngineError, Result};

/// Domain separation for checkpoint MACs; a new canonical form gets a new tag.
const CHECKPOINT_TAG: &[u8] = b"casetrace-audit-checkpoint-v1";
/// Domain separation for archived-segment MACs (see `store::audit_archive`).
const SEGMENT_TAG: &[u8] = b"casetrace-audit-segment-v1";
/// Bytes of key material.
const KEY_BYTES: usize = 32;

/// The secret that signs checkpoints. Kept in a file readable by the
/// server's user only, never in the database; never printed.
#[derive(Clone)]
pub struct AuditKey([u8; KEY_BYTES]);

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey(..)")
    }
}

impl AuditKey {
    /// Read the key at `path`, creating it (random, mode 0600, refusing to
    /// overwrite) when there is none yet.
    pub fn load_or_create(path: &Path) -> Result<AuditKey> {
        match Self::load(path) {
            Err(EngineError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                Self::create(path)
            }
            other => other,
        }
    }

    /// Read the key at `path` (64 hex digits).
    pub fn load(path: &Path) -> Result<AuditKey> {
        let text = std::fs::read_to_string(path).map_err(|e| EngineError::io(path, e))?;
        let bytes = hex::decode(text.trim())
            .ok()
            .filter(|b| b.len() == KEY_BYTES);
        let Some(bytes) = bytes else {
            return Err(EngineError::Config(format!(
                "{}: not an audit key ({} hex digits expected)",
                path.display(),
                KEY_BYTES * 2
            )));
        };
        let mut key = [0u8; KEY_BYTES];
        key.copy_from_slice(&bytes);
        Ok(AuditKey(key))
    }

    fn create(path: &Path) -> Result<AuditKey> {
        use rand::RngCore;
        let mut key = [0u8; KEY_BYTES];
        rand::rng().fill_bytes(&mut key);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| EngineError::io(dir, e))?;
        }
        let mut file = private_file(path, true).map_err(|e| EngineError::io(path, e))?;
        writeln!(file, "{}", hex::encode(key))
            .and_then(|()| file.sync_all())
            .map_err(|e| EngineError::io(path, e))?;
        Ok(AuditKey(key))
    }

    fn mac(&self, tag: &[u8], parts: &[Vec<u8>]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0)
            .expect("HMAC takes a key of any length");
        mac.update(tag);
        // Length-prefixed, like the record hash: no two inputs collide.
        for part in parts {
            mac.update(&(part.len() as u64).to_le_bytes());
            mac.update(part);
        }
        mac
    }

    fn sign(&self, tag: &[u8], parts: &[Vec<u8>]) -> String {
        hex::encode(self.mac(tag, parts).finalize().into_bytes())
    }

    /// Constant-time check of a hex MAC.
    fn verify(&self, tag: &[u8], parts: &[Vec<u8>], mac_hex: &str) -> bool {
        match hex::decode(mac_hex) {
            Ok(bytes) => self.mac(tag, parts).verify_slice(&bytes).is_ok(),
            Err(_) => false,
        }
    }

    /// The MAC sealing an archived segment `first..=last` ending in
    /// `last_hash` whose exported file has SHA-256 `file_sha256`.
    pub fn sign_segment(
        &self,
        first: i64,
        last: i64,
        last_hash: &str,
        file_sha256: &str,
    ) -> String {
        self.sign(
            SEGMENT_TAG,
            &segment_parts(first, last, last_hash, file_sha256),
        )
    }

    /// Whether `mac` seals that segment under this key.
    pub fn verify_segment(
        &self,
        first: i64,
        last: i64,
        last_hash: &str,
        file_sha256: &str,
        mac: &str,
    ) -> bool {
        self.verify(
            SEGMENT_TAG,
            &segment_parts(first, last, last_hash, file_sha256),
            mac,
        )
    }
}

fn segment_parts(first: i64, last: i64, last_hash: &str, file_sha256: &str) -> [Vec<u8>; 4] {
    [
        first.to_le_bytes().to_vec(),
        last.to_le_bytes().to_vec(),
        last_hash.as_bytes().to_vec(),
        file_sha256.as_bytes().to_vec(),
    ]
}

/// A file only the owner may read or write (0600), created new or appended.
fn private_file(path: &Path, create_new: bool) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    if create_new {
        options.write(true).create_new(true);
    } else {
        options.append(true).create(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// The chain's head as it was at `at`, signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub seq: i64,
    pub head_hash: String,
    /// RFC 3339 UTC, when the checkpoint was written.
    pub at: String,
    /// HMAC-SHA-256 of the above, hex.
    pub mac: String,
}

impl Checkpoint {
    pub fn sign(key: &AuditKey, seq: i64, head_hash: &str, at: String) -> Checkpoint {
        let mac = key.sign(CHECKPOINT_TAG, &Self::parts(seq, head_hash, &at));
        Checkpoint {
            seq,
            head_hash: head_hash.to_string(),
            at,
            mac,
        }
    }

    /// Whether the MAC fits the fields under `key`.
    pub fn is_authentic(&self, key: &AuditKey) -> bool {
        key.verify(
            CHECKPOINT_TAG,
            &Self::parts(self.seq, &self.head_hash, &self.at),
            &self.mac,
        )
    }

    fn parts(seq: i64, head_hash: &str, at: &str) -> [Vec<u8>; 3] {
        [
            seq.to_le_bytes().to_vec(),
            head_hash.as_bytes().to_vec(),
            at.as_bytes().to_vec(),
        ]
    }
}

/// One line of the checkpoint log as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointLine {
    Ok(Checkpoint),
    /// Not a checkpoint: the reason, for the report.
    Unreadable(String),
}

/// The append-only JSON-lines file of checkpoints.
#[derive(Debug)]
pub struct CheckpointLog {
    path: PathBuf,
    /// Serialises appends from the tasks of one process.
    lock: Mutex<()>,
}

impl CheckpointLog {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        CheckpointLog {
            path: path.into(),
            lock: Mutex::new(()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append one checkpoint and flush it to disk. Blocking: run it off the
    /// async executor.
    pub fn append(&self, checkpoint: &Checkpoint) -> Result<()> {
        let _turn = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let io = |e| EngineError::io(&self.path, e);
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| EngineError::io(dir, e))?;
        }
        let mut line = serde_json::to_string(checkpoint)
            .map_err(|e| EngineError::Config(format!("cannot serialise a checkpoint: {e}")))?;
        line.push('\n');
        let mut file = private_file(&self.path, false).map_err(io)?;
        file.write_all(line.as_bytes())
            .and_then(|()| file.sync_data())
            .map_err(io)
    }

    /// Every line, in order; a missing file is an empty log.
    pub fn read(&self) -> Result<Vec<CheckpointLine>> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(EngineError::io(&self.path, e)),
        };
        Ok(text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| match serde_json::from_str(l) {
                Ok(c) => CheckpointLine::Ok(c),
                Err(e) => CheckpointLine::Unreadable(e.to_string()),
            })
            .collect())
    }
}

/// What is wrong between the chain and its checkpoints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum AnchorProblem {
    /// A line of the checkpoint log is not a checkpoint.
    Unreadable { line: usize, reason: String },
    /// A checkpoint's MAC does not fit: it was edited or written without the key.
    Forged { line: usize, seq: i64 },
    /// The chain ends before a checkpointed record: its tail was deleted.
    Truncated {
        checkpoint_seq: i64,
        head_seq: Option<i64>,
    },
    /// The record a checkpoint names is missing from the middle of the chain.
    Missing { seq: i64 },
    /// The record a checkpoint names has another hash now: it, or a record
    /// before it, was edited or deleted and the chain re-hashed after it.
    Rewritten {
        seq: i64,
        checkpoint_hash: String,
        stored_hash: String,
    },
    /// An archived segment's seal does not fit under the key: the row was
    /// forged (e.g. to excuse deleting records) or edited.
    SegmentForged { first_seq: i64, last_seq: i64 },
    /// Archived segments do not follow one another from record 1.
    SegmentGap {
        expected_first: i64,
        found_first: i64,
    },
}

impl std::fmt::Display for AnchorProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AnchorProblem::Unreadable { line, reason } => {
                write!(f, "checkpoint log line {line} is unreadable: {reason}")
            }
            AnchorProblem::Forged { line, seq } => write!(
                f,
                "checkpoint log line {line} (record {seq}) has a MAC that does not fit: it was edited or not written with this key"
            ),
            AnchorProblem::Truncated {
                checkpoint_seq,
                head_seq,
            } => write!(
                f,
                "a checkpoint vouches for record {checkpoint_seq} but the chain ends at {}: the newest records were deleted",
                head_seq.map_or("nothing".to_string(), |s| s.to_string())
            ),
            AnchorProblem::Missing { seq } => write!(
                f,
                "a checkpoint vouches for record {seq}, which is no longer in the chain: it was deleted"
            ),
            AnchorProblem::Rewritten {
                seq,
                checkpoint_hash,
                stored_hash,
            } => write!(
                f,
                "record {seq} hashes to {stored_hash}, its checkpoint says {checkpoint_hash}: a record up to {seq} was edited or deleted and the chain re-hashed"
            ),
            AnchorProblem::SegmentForged {
                first_seq,
                last_seq,
            } => write!(
                f,
                "the archived segment {first_seq}..{last_seq} has a seal that does not fit: it was not made by `casetrace audit archive` with this key"
            ),
            AnchorProblem::SegmentGap {
                expected_first,
                found_first,
            } => write!(
                f,
                "an archived segment starts at record {found_first}, the one before it ends at {}: records were removed outside the retention procedure",
                expected_first - 1
            ),
        }
    }
}

/// The checkpoints' side of a verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AnchorReport {
    /// Checkpoints read (authentic or not).
    pub checkpoints: u64,
    /// The highest authentic checkpoint.
    pub latest: Option<Checkpoint>,
    pub problems: Vec<AnchorProblem>,
}

impl AnchorReport {
    pub fn is_intact(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The authentic checkpoints of `lines` (1-based line numbers kept), and
/// the problems of the others.
pub fn authentic_checkpoints(
    lines: &[CheckpointLine],
    key: &AuditKey,
) -> (Vec<Checkpoint>, Vec<AnchorProblem>) {
    let mut good = Vec::new();
    let mut problems = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        match line {
            CheckpointLine::Ok(c) if c.is_authentic(key) => good.push(c.clone()),
            CheckpointLine::Ok(c) => problems.push(AnchorProblem::Forged {
                line: i + 1,
                seq: c.seq,
            }),
            CheckpointLine::Unreadable(reason) => problems.push(AnchorProblem::Unreadable {
                line: i + 1,
                reason: reason.clone(),
            }),
        }
    }
    (good, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_created_private_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/audit.key");
        let a = AuditKey::load_or_create(&path).unwrap();
        let b = AuditKey::load_or_create(&path).unwrap();
        assert_eq!(a.0, b.0, "the second call reads, never replaces");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(format!("{a:?}"), "AuditKey(..)", "never printed");
        std::fs::write(&path, "short").unwrap();
        assert!(matches!(AuditKey::load(&path), Err(EngineError::Config(_))));
    }

    #[test]
    fn checkpoints_verify_only_under_their_key_and_unedited() {
        let dir = tempfile::tempdir().unwrap();
        let key = AuditKey::load_or_create(&dir.path().join("k")).unwrap();
        let other = AuditKey::load_or_create(&dir.path().join("k2")).unwrap();
        let c = Checkpoint::sign(&key, 7, &"a".repeat(64), "2026-12-04T10:00:00.000Z".into());
        assert!(c.is_authentic(&key));
        assert!(!c.is_authentic(&other));
        for edit in [
            Checkpoint {
                seq: 8,
                ..c.clone()
            },
            Checkpoint {
                head_hash: "b".repeat(64),
                ..c.clone()
            },
            Checkpoint {
                at: "2026-12-04T10:00:01.000Z".into(),
                ..c.clone()
            },
            Checkpoint {
                mac: "zz".into(),
                ..c.clone()
            },
        ] {
            assert!(!edit.is_authentic(&key), "{edit:?}");
        }
    }

    #[test]
    fn the_log_appends_lines_and_names_bad_ones() {
        let dir = tempfile::tempdir().unwrap();
        let key = AuditKey::load_or_create(&dir.path().join("k")).unwrap();
        let log = CheckpointLog::new(dir.path().join("cp/log.jsonl"));
        assert!(log.read().unwrap().is_empty(), "missing file, empty log");
        let a = Checkpoint::sign(&key, 1, &"a".repeat(64), "t1".into());
        let b = Checkpoint::sign(&key, 2, &"b".repeat(64), "t2".into());
        log.append(&a).unwrap();
        log.append(&b).unwrap();
        let mut text = std::fs::read_to_string(log.path()).unwrap();
        text.push_str("not json\n");
        text.push_str(
            &serde_json::to_string(&Checkpoint {
                seq: 9,
                ..b.clone()
            })
            .unwrap(),
        );
        std::fs::write(log.path(), text).unwrap();
        let (good, problems) = authentic_checkpoints(&log.read().unwrap(), &key);
        assert_eq!(good, vec![a, b]);
        assert!(matches!(
            problems[0],
            AnchorProblem::Unreadable { line: 3, .. }
        ));
        assert_eq!(problems[1], AnchorProblem::Forged { line: 4, seq: 9 });
    }

    #[test]
    fn segment_seals_cover_every_field() {
        let dir = tempfile::tempdir().unwrap();
        let key = AuditKey::load_or_create(&dir.path().join("k")).unwrap();
        let mac = key.sign_segment(1, 10, "h", "f");
        assert!(key.verify_segment(1, 10, "h", "f", &mac));
        assert!(!key.verify_segment(1, 11, "h", "f", &mac));
        assert!(!key.verify_segment(2, 10, "h", "f", &mac));
        assert!(!key.verify_segment(1, 10, "g", "f", &mac));
        assert!(!key.verify_segment(1, 10, "h", "g", &mac));
    }
}
