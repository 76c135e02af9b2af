//! Examiners' conclusions on a lead, on the AFTE range, and the
//! verification rule that turns them into the lead's outcome.
//!
//! As in lab practice a conclusion is reported only once verified: the
//! first conclusion recorded is the primary examination, later ones are
//! verifications, and the lead is decided only when two conclusions agree
//! in family (identification, inconclusive, elimination, unsuitable). When
//! the first two disagree a third examiner is needed; the majority of
//! families then decides. The rules are pure; [`crate::store`] keeps the
//! rows and [`crate::service`] applies the outcome to the lead.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::LeadStatus;
use crate::error::{EngineError, Result};

/// One step of the AFTE range of conclusions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AfteConclusion {
    Identification,
    /// Inconclusive, some agreement of individual characteristics.
    InconclusiveA,
    /// Inconclusive, no significant agreement or disagreement.
    InconclusiveB,
    /// Inconclusive, some disagreement.
    InconclusiveC,
    Elimination,
    /// Unsuitable for comparison.
    Unsuitable,
}

impl AfteConclusion {
    pub const ALL: [AfteConclusion; 6] = [
        AfteConclusion::Identification,
        AfteConclusion::InconclusiveA,
        AfteConclusion::InconclusiveB,
        AfteConclusion::InconclusiveC,
        AfteConclusion::Elimination,
        AfteConclusion::Unsuitable,
    ];

    /// The stored (and serialised) name.
    pub fn as_str(self) -> &'static str {
        match self {
            AfteConclusion::Identification => "identification",
            AfteConclusion::InconclusiveA => "inconclusive_a",
            AfteConclusion::InconclusiveB => "inconclusive_b",
            AfteConclusion::InconclusiveC => "inconclusive_c",
            AfteConclusion::Elimination => "elimination",
            AfteConclusion::Unsuitable => "unsuitable",
        }
    }

    /// What verification compares: the three inconclusives are one family.
    pub fn family(self) -> ConclusionFamily {
        match self {
            AfteConclusion::Identification => ConclusionFamily::Identification,
            AfteConclusion::InconclusiveA
            | AfteConclusion::InconclusiveB
            | AfteConclusion::InconclusiveC => ConclusionFamily::Inconclusive,
            AfteConclusion::Elimination => ConclusionFamily::Elimination,
            AfteConclusion::Unsuitable => ConclusionFamily::Unsuitable,
        }
    }
}

impl fmt::Display for AfteConclusion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AfteConclusion {
    type Err = EngineError;

    fn from_str(s: &str) -> Result<Self> {
        AfteConclusion::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| EngineError::InvalidMetadata {
                field: "conclusion".into(),
                reason: format!(
                    "{s:?} is not an AFTE conclusion; expected one of: identification, \
                     inconclusive_a, inconclusive_b, inconclusive_c, elimination, unsuitable"
                ),
            })
    }
}

/// The families verification compares conclusions by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConclusionFamily {
    Identification,
    Inconclusive,
    Elimination,
    Unsuitable,
}

impl ConclusionFamily {
    pub fn as_str(self) -> &'static str {
        match self {
            ConclusionFamily::Identification => "identification",
            ConclusionFamily::Inconclusive => "inconclusive",
            ConclusionFamily::Elimination => "elimination",
            ConclusionFamily::Unsuitable => "unsuitable",
        }
    }

    /// The lead status a verified conclusion of this family sets: only an
    /// identification or an elimination decides the lead; inconclusive and
    /// unsuitable leave it open (marked concluded).
    pub fn lead_status(self) -> LeadStatus {
        match self {
            ConclusionFamily::Identification => LeadStatus::Hit,
            ConclusionFamily::Elimination => LeadStatus::Excluded,
            ConclusionFamily::Inconclusive | ConclusionFamily::Unsuitable => LeadStatus::Lead,
        }
    }
}

/// Whether a conclusion is the first examination or a verification of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConclusionRole {
    Primary,
    Verification,
}

impl ConclusionRole {
    pub fn as_str(self) -> &'static str {
        match self {
            ConclusionRole::Primary => "primary",
            ConclusionRole::Verification => "verification",
        }
    }
}

impl FromStr for ConclusionRole {
    type Err = EngineError;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "primary" => Ok(ConclusionRole::Primary),
            "verification" => Ok(ConclusionRole::Verification),
            other => Err(EngineError::internal(format!(
                "unknown stored conclusion role {other:?}"
            ))),
        }
    }
}

/// A conclusion about to be recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct NewConclusion {
    pub lead_id: i64,
    pub agency: String,
    pub examiner: String,
    pub key_id: String,
    pub role: ConclusionRole,
    pub conclusion: AfteConclusion,
    pub notes: Option<String>,
}

/// A conclusion on file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConclusionRecord {
    pub id: i64,
    pub lead_id: i64,
    pub agency: String,
    pub examiner: String,
    pub key_id: String,
    pub role: ConclusionRole,
    pub conclusion: AfteConclusion,
    pub notes: Option<String>,
    pub recorded_at: chrono::DateTime<chrono::Utc>,
}

/// Where a lead's verification stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerificationState {
    /// No conclusion yet.
    None,
    /// A primary conclusion waits for its verification.
    Awaiting,
    /// A family has the majority: the lead is concluded.
    Agree,
    /// The conclusions disagree and no family has the majority.
    Disagree,
}

/// A lead's verification, derived from its conclusions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub state: VerificationState,
    /// Disagreement: another examiner's conclusion is needed.
    pub needs_third: bool,
    /// The verified family (state `Agree` only).
    pub concluded: Option<ConclusionFamily>,
    /// Who recorded the conclusion that made the majority, and when: the
    /// lead's `decided_by` / `decided_at` when the family decides it.
    pub decided_by: Option<String>,
    pub decided_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The verification of `conclusions` (in the order recorded). A family is
/// verified once it holds at least two conclusions and more than any other
/// family; until then one conclusion is awaiting verification and more
/// are a disagreement needing another examiner.
pub fn verify(conclusions: &[ConclusionRecord]) -> Verification {
    let open = |state, needs_third| Verification {
        state,
        needs_third,
        concluded: None,
        decided_by: None,
        decided_at: None,
    };
    match conclusions.len() {
        0 => return open(VerificationState::None, false),
        1 => return open(VerificationState::Awaiting, false),
        _ => {}
    }
    // Walk in recorded order so the decider is the conclusion that first
    // gave its family the majority.
    let mut counts: Vec<(ConclusionFamily, usize)> = Vec::new();
    for c in conclusions {
        let family = c.conclusion.family();
        match counts.iter_mut().find(|(f, _)| *f == family) {
            Some((_, n)) => *n += 1,
            None => counts.push((family, 1)),
        }
        let mine = counts.iter().find(|(f, _)| *f == family).map_or(0, |x| x.1);
        let best_other = counts
            .iter()
            .filter(|(f, _)| *f != family)
            .map(|x| x.1)
            .max()
            .unwrap_or(0);
        if mine >= 2 && mine > best_other {
            return Verification {
                state: VerificationState::Agree,
                needs_third: false,
                concluded: Some(family),
                decided_by: Some(c.examiner.clone()),
                decided_at: Some(c.recorded_at),
            };
        }
    }
    open(VerificationState::Disagree, true)
}

/// The role the next conclusion by `key_id` takes, or why it may not be
/// recorded: one conclusion per key and lead, none once the conclusions
/// agree.
pub fn next_role(existing: &[ConclusionRecord], key_id: &str) -> Result<ConclusionRole> {
    if existing.iter().any(|c| c.key_id == key_id) {
        return Err(EngineError::Conflict(
            "this key has already recorded a conclusion on the lead; a verification is another examiner's"
                .into(),
        ));
    }
    if verify(existing).state == VerificationState::Agree {
        return Err(EngineError::Conflict(
            "the lead's conclusions already agree; it is concluded".into(),
        ));
    }
    Ok(if existing.is_empty() {
        ConclusionRole::Primary
    } else {
        ConclusionRole::Verification
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use AfteConclusion::*;

    fn records(list: &[(&str, AfteConclusion)]) -> Vec<ConclusionRecord> {
        list.iter()
            .enumerate()
            .map(|(i, (key, c))| ConclusionRecord {
                id: i as i64 + 1,
                lead_id: 1,
                agency: "a".into(),
                examiner: format!("examiner {key}"),
                key_id: key.to_string(),
                role: if i == 0 {
                    ConclusionRole::Primary
                } else {
                    ConclusionRole::Verification
                },
                conclusion: *c,
                notes: None,
                recorded_at: chrono::DateTime::from_timestamp(1_700_000_000 + i as i64, 0).unwrap(),
            })
            .collect()
    }

    #[test]
    fn one_conclusion_awaits_verification_and_two_alike_in_family_agree() {
        assert_eq!(verify(&[]).state, VerificationState::None);
        let one = verify(&records(&[("k1", Identification)]));
        assert_eq!(one.state, VerificationState::Awaiting);
        assert_eq!(one.concluded, None);
        let two = verify(&records(&[("k1", InconclusiveA), ("k2", InconclusiveC)]));
        assert_eq!(two.state, VerificationState::Agree);
        assert_eq!(two.concluded, Some(ConclusionFamily::Inconclusive));
        assert_eq!(two.decided_by.as_deref(), Some("examiner k2"));
        assert_eq!(
            ConclusionFamily::Inconclusive.lead_status(),
            LeadStatus::Lead
        );
        let id = verify(&records(&[("k1", Identification), ("k2", Identification)]));
        assert_eq!(id.concluded.map(|f| f.lead_status()), Some(LeadStatus::Hit));
    }

    #[test]
    fn a_disagreement_needs_a_third_whose_majority_decides() {
        let two = records(&[("k1", Identification), ("k2", Elimination)]);
        let v = verify(&two);
        assert_eq!(v.state, VerificationState::Disagree);
        assert!(v.needs_third);
        let three = records(&[
            ("k1", Identification),
            ("k2", Elimination),
            ("k3", Elimination),
        ]);
        let v = verify(&three);
        assert_eq!(v.state, VerificationState::Agree);
        assert_eq!(v.concluded, Some(ConclusionFamily::Elimination));
        assert_eq!(v.decided_by.as_deref(), Some("examiner k3"));
        // Three families, no majority: still needs another examiner.
        let split = records(&[
            ("k1", Identification),
            ("k2", Elimination),
            ("k3", Unsuitable),
        ]);
        assert!(verify(&split).needs_third);
    }

    #[test]
    fn the_first_is_primary_the_rest_verify_and_a_key_concludes_once() {
        assert_eq!(next_role(&[], "k1").unwrap(), ConclusionRole::Primary);
        let one = records(&[("k1", Identification)]);
        assert_eq!(next_role(&one, "k2").unwrap(), ConclusionRole::Verification);
        // The verifier is never the primary examiner's key.
        assert!(matches!(
            next_role(&one, "k1"),
            Err(EngineError::Conflict(_))
        ));
        let agreed = records(&[("k1", Elimination), ("k2", Elimination)]);
        assert!(matches!(
            next_role(&agreed, "k3"),
            Err(EngineError::Conflict(_))
        ));
        let split = records(&[("k1", Elimination), ("k2", Identification)]);
        assert_eq!(
            next_role(&split, "k3").unwrap(),
            ConclusionRole::Verification
        );
    }

    #[test]
    fn conclusions_round_trip_their_stored_names() {
        for c in AfteConclusion::ALL {
            assert_eq!(c.as_str().parse::<AfteConclusion>().unwrap(), c);
        }
        assert!("probable".parse::<AfteConclusion>().is_err());
    }
}
