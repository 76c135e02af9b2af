//! Checking an audit chain read back in sequence order.

use serde::Serialize;

use super::entry::{AuditRecord, GENESIS_HASH};

/// What is wrong at one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ChainBreakKind {
    /// The record's fields no longer give its stored hash: the record itself
    /// was edited.
    Edited { stored: String, computed: String },
    /// The record's `prev_hash` is not the hash of the record before it: that
    /// record was replaced (edited and re-hashed) or records between them
    /// were deleted.
    Unlinked {
        expected_prev: String,
        found_prev: String,
    },
    /// Sequence numbers jump: the records in between were deleted.
    Gap { expected_seq: i64 },
}

/// One place where the chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainBreak {
    /// The record at which the break shows.
    pub seq: i64,
    #[serde(flatten)]
    pub kind: ChainBreakKind,
}

impl std::fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            ChainBreakKind::Edited { stored, computed } => write!(
                f,
                "record {} was edited: its fields hash to {computed}, it stores {stored}",
                self.seq
            ),
            ChainBreakKind::Unlinked {
                expected_prev,
                found_prev,
            } => write!(
                f,
                "record {} does not follow the record before it: it names previous hash {found_prev}, the record before hashes to {expected_prev} (that record was replaced, or records between were deleted)",
                self.seq
            ),
            ChainBreakKind::Gap { expected_seq } => write!(
                f,
                "record {} follows record {}: records {expected_seq}..{} were deleted",
                self.seq,
                expected_seq - 1,
                self.seq - 1
            ),
        }
    }
}

/// The outcome of a verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainReport {
    /// Records read.
    pub checked: u64,
    /// Sequence number and hash of the last record read (the head), which
    /// can be written down elsewhere to detect a later truncation.
    pub head_seq: Option<i64>,
    pub head_hash: Option<String>,
    pub breaks: Vec<ChainBreak>,
}

impl ChainReport {
    pub fn is_intact(&self) -> bool {
        self.breaks.is_empty()
    }
}

/// Checks records fed in ascending `seq` order, one page at a time, so a
/// chain of any length verifies in constant memory.
#[derive(Debug)]
pub struct ChainVerifier {
    prev: Option<(i64, String)>,
    report: ChainReport,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self::new()
    }
}

impl ChainVerifier {
    pub fn new() -> Self {
        ChainVerifier {
            prev: None,
            report: ChainReport {
                checked: 0,
                head_seq: None,
                head_hash: None,
                breaks: Vec::new(),
            },
        }
    }

    /// A verifier for the records after `seq`, whose hash was `hash`: the
    /// chain left in the table once records up to `seq` were archived.
    pub fn after(seq: i64, hash: &str) -> Self {
        let mut v = Self::new();
        v.prev = Some((seq, hash.to_string()));
        v
    }

    /// Check the next record.
    pub fn push(&mut self, record: &AuditRecord) {
        let (expected_seq, expected_prev) = match &self.prev {
            Some((seq, hash)) => (seq + 1, hash.as_str()),
            None => (1, GENESIS_HASH),
        };
        let breaks = &mut self.report.breaks;
        if record.seq != expected_seq {
            breaks.push(ChainBreak {
                seq: record.seq,
                kind: ChainBreakKind::Gap { expected_seq },
            });
        }
        let computed = record.computed_hash();
        if computed != record.hash {
            breaks.push(ChainBreak {
                seq: record.seq,
                kind: ChainBreakKind::Edited {
                    stored: record.hash.clone(),
                    computed,
                },
            });
        }
        if record.prev_hash != expected_prev {
            breaks.push(ChainBreak {
                seq: record.seq,
                kind: ChainBreakKind::Unlinked {
                    expected_prev: expected_prev.to_string(),
                    found_prev: record.prev_hash.clone(),
                },
            });
        }
        // The next record must follow this one as stored: an edit is then
        // reported once, at the edited record, not again at its successor.
        self.prev = Some((record.seq, record.hash.clone()));
        self.report.checked += 1;
        self.report.head_seq = Some(record.seq);
        self.report.head_hash = Some(record.hash.clone());
    }

    pub fn finish(self) -> ChainReport {
        self.report
    }
}

#[cfg(test)]
mod tests {
    use super::super::entry::{AuditEvent, AuditOutcome};
    use super::*;

    fn chain(n: i64) -> Vec<AuditRecord> {
        let mut prev = GENESIS_HASH.to_string();
        (1..=n)
            .map(|seq| {
                let e = AuditEvent::new(
                    "A",
                    "u",
                    "casing.read",
                    format!("casing/A/{seq}"),
                    AuditOutcome::Ok,
                );
                let r =
                    AuditRecord::seal(&e, seq, format!("2026-11-29T05:00:{seq:02}.000Z"), &prev);
                prev = r.hash.clone();
                r
            })
            .collect()
    }

    fn verify(records: &[AuditRecord]) -> ChainReport {
        let mut v = ChainVerifier::new();
        records.iter().for_each(|r| v.push(r));
        v.finish()
    }

    #[test]
    fn an_untouched_chain_is_intact() {
        let records = chain(5);
        let report = verify(&records);
        assert!(report.is_intact(), "{:?}", report.breaks);
        assert_eq!(report.checked, 5);
        assert_eq!(report.head_seq, Some(5));
        assert_eq!(report.head_hash.as_deref(), Some(records[4].hash.as_str()));
        assert!(verify(&[]).is_intact());
    }

    #[test]
    fn an_edited_record_is_named_once() {
        let mut records = chain(5);
        records[2].actor = "someone.else".into();
        let report = verify(&records);
        assert_eq!(report.breaks.len(), 1, "{:?}", report.breaks);
        assert_eq!(report.breaks[0].seq, 3);
        assert!(matches!(
            report.breaks[0].kind,
            ChainBreakKind::Edited { .. }
        ));
    }

    #[test]
    fn a_rehashed_edit_shows_at_the_next_record() {
        let mut records = chain(5);
        records[2].outcome = "denied".into();
        records[2].hash = records[2].computed_hash();
        let report = verify(&records);
        assert_eq!(report.breaks.len(), 1, "{:?}", report.breaks);
        assert_eq!(report.breaks[0].seq, 4);
        assert!(matches!(
            report.breaks[0].kind,
            ChainBreakKind::Unlinked { .. }
        ));
    }

    #[test]
    fn a_deleted_record_shows_as_a_gap() {
        let mut records = chain(5);
        records.remove(1);
        let report = verify(&records);
        assert_eq!(report.breaks.len(), 2, "{:?}", report.breaks);
        assert!(report.breaks.iter().all(|b| b.seq == 3));
        assert!(report
            .breaks
            .iter()
            .any(|b| b.kind == ChainBreakKind::Gap { expected_seq: 2 }));
        assert!(report.breaks[0]
            .to_string()
            .contains("records 2..2 were deleted"));
    }

    #[test]
    fn a_chain_resumes_after_an_archived_segment() {
        let records = chain(5);
        let mut v = ChainVerifier::after(2, &records[1].hash);
        records[2..].iter().for_each(|r| v.push(r));
        assert!(v.finish().is_intact());
        // Resuming from the wrong place is caught.
        let mut v = ChainVerifier::after(1, &records[0].hash);
        records[2..].iter().for_each(|r| v.push(r));
        assert!(!v.finish().is_intact());
    }

    #[test]
    fn a_deleted_first_record_is_caught() {
        let records = chain(3);
        let report = verify(&records[1..]);
        assert_eq!(report.breaks.len(), 2, "{:?}", report.breaks);
        assert!(report.breaks.iter().all(|b| b.seq == 2));
    }
}
