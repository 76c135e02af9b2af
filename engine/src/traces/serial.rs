//! Serial numbers: the normalised form used for matching, search patterns
//! for partly restored serials, and the edit distance fuzzy search ranks by.
//!
//! Normalising folds characters that examiners and stamping dies confuse
//! (O/0, I/1/L, S/5, B/8, Z/2) onto one representative, so a serial read
//! as `AB-1O5` matches one recorded as `A8105`. The same folding applies to
//! stored serials and to every query, so matching stays symmetric.

use crate::error::{EngineError, Result};

/// Longest serial (as written) accepted; real serials are far shorter.
pub const MAX_SERIAL_LEN: usize = 64;

/// Length of the n-grams the serial index stores (see
/// [`serial_grams`]). Three keeps postings short on a million serials
/// while a two-character run of known digits still narrows nothing, which
/// the search handles by falling back to its prefix range.
pub const GRAM_LEN: usize = 3;

/// Fold one character to its matching form, or `None` for a separator.
fn fold(c: char) -> Option<char> {
    let c = c.to_ascii_uppercase();
    match c {
        'O' => Some('0'),
        'I' | 'L' => Some('1'),
        'S' => Some('5'),
        'B' => Some('8'),
        'Z' => Some('2'),
        c if c.is_ascii_alphanumeric() => Some(c),
        _ => None,
    }
}

/// The matching form of a serial: upper case, separators (anything not an
/// ASCII letter or digit) removed, look-alikes folded.
pub fn normalise_serial(serial: &str) -> String {
    serial.chars().filter_map(fold).collect()
}

/// Check a serial as written and return its normalised form; an empty
/// normalised serial matches nothing and is refused.
pub fn checked_serial(field: &str, serial: &str) -> Result<String> {
    if serial.chars().count() > MAX_SERIAL_LEN {
        return Err(EngineError::InvalidMetadata {
            field: field.into(),
            reason: format!("longer than {MAX_SERIAL_LEN} characters"),
        });
    }
    let normalised = normalise_serial(serial);
    if normalised.is_empty() {
        return Err(EngineError::InvalidMetadata {
            field: field.into(),
            reason: format!("{serial:?} has no letters or digits"),
        });
    }
    Ok(normalised)
}

/// The distinct n-grams of a normalised serial, which the serial index
/// posts the firearm under.
pub fn serial_grams(normalised: &str) -> Vec<String> {
    let chars: Vec<char> = normalised.chars().collect();
    let mut grams: Vec<String> = chars
        .windows(GRAM_LEN)
        .map(|w| w.iter().collect())
        .collect();
    grams.sort();
    grams.dedup();
    grams
}

/// One element of a wildcard pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatternToken {
    /// A known character (already folded).
    Char(char),
    /// `?`: exactly one unreadable character.
    One,
    /// `*`: any run of characters, possibly empty.
    Any,
}

/// A serial pattern with `?` (one unknown character) and `*` (any run),
/// as an examiner writes a partly restored serial: `A?3*9`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerialPattern {
    tokens: Vec<PatternToken>,
}

impl SerialPattern {
    /// Parse a pattern; separators are dropped and letters folded as in
    /// [`normalise_serial`].
    pub fn parse(pattern: &str) -> Result<SerialPattern> {
        if pattern.chars().count() > MAX_SERIAL_LEN {
            return Err(EngineError::InvalidMetadata {
                field: "pattern".into(),
                reason: format!("longer than {MAX_SERIAL_LEN} characters"),
            });
        }
        let mut tokens = Vec::new();
        for c in pattern.chars() {
            match c {
                '?' => tokens.push(PatternToken::One),
                // Consecutive stars mean the same as one.
                '*' if tokens.last() == Some(&PatternToken::Any) => {}
                '*' => tokens.push(PatternToken::Any),
                c => tokens.extend(fold(c).map(PatternToken::Char)),
            }
        }
        if !tokens.iter().any(|t| matches!(t, PatternToken::Char(_))) {
            return Err(EngineError::InvalidMetadata {
                field: "pattern".into(),
                reason: format!("{pattern:?} has no known characters to search by"),
            });
        }
        Ok(SerialPattern { tokens })
    }

    pub fn tokens(&self) -> &[PatternToken] {
        &self.tokens
    }

    /// The known characters before the first wildcard: every match starts
    /// with them, so a B-tree range on the normalised serial finds them.
    pub fn literal_prefix(&self) -> String {
        self.tokens
            .iter()
            .map_while(|t| match t {
                PatternToken::Char(c) => Some(*c),
                _ => None,
            })
            .collect()
    }

    /// The n-grams every match must contain: those of each run of known
    /// characters at least [`GRAM_LEN`] long.
    pub fn required_grams(&self) -> Vec<String> {
        let mut grams = Vec::new();
        let mut run = String::new();
        for t in self.tokens.iter().chain([&PatternToken::Any]) {
            match t {
                PatternToken::Char(c) => run.push(*c),
                _ => {
                    grams.extend(serial_grams(&run));
                    run.clear();
                }
            }
        }
        grams.sort();
        grams.dedup();
        grams
    }

    /// Whether a normalised serial matches the whole pattern.
    pub fn matches(&self, normalised: &str) -> bool {
        let s: Vec<char> = normalised.chars().collect();
        // Classic wildcard matching with backtracking to the last star:
        // linear in practice, at worst |pattern| x |serial|, both short.
        let (mut si, mut pi) = (0usize, 0usize);
        let mut star: Option<(usize, usize)> = None;
        while si < s.len() {
            match self.tokens.get(pi) {
                Some(PatternToken::Char(c)) if *c == s[si] => {
                    si += 1;
                    pi += 1;
                }
                Some(PatternToken::One) => {
                    si += 1;
                    pi += 1;
                }
                Some(PatternToken::Any) => {
                    star = Some((pi, si));
                    pi += 1;
                }
                _ => match star {
                    Some((sp, ss)) => {
                        pi = sp + 1;
                        si = ss + 1;
                        star = Some((sp, ss + 1));
                    }
                    None => return false,
                },
            }
        }
        self.tokens[pi..].iter().all(|t| *t == PatternToken::Any)
    }
}

/// Levenshtein distance between two normalised serials (insertions,
/// deletions and substitutions each cost one).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != cb);
            cur[j + 1] = substitute.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// How many of a query's distinct n-grams (`distinct_grams`, the length of
/// its [`serial_grams`]) a serial within `max_edits` edits still shares
/// with it. Each edit touches at most [`GRAM_LEN`] gram positions of the
/// query, and a distinct gram is lost only when every one of its positions
/// is touched, so each edit costs at most [`GRAM_LEN`] distinct grams.
/// The bound must count distinct grams, as the index does: counted by
/// position (`len - GRAM_LEN + 1`), a repetitive serial such as `0000000`
/// needed more shared grams than it has, and fuzzy search missed even the
/// exact match (found by fuzzing). Zero or less means the gram filter
/// cannot prune and the search must not use it.
pub fn min_shared_grams(distinct_grams: usize, max_edits: usize) -> i64 {
    distinct_grams as i64 - (GRAM_LEN * max_edits) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalising_uppercases_drops_separators_and_folds_look_alikes() {
        assert_eq!(normalise_serial("ab-1o5 z/s"), "A81052 5".replace(' ', ""));
        assert_eq!(normalise_serial("OIL SB Z"), "011582");
        assert_eq!(normalise_serial("A8105"), normalise_serial("AB-1O5"));
        assert_eq!(normalise_serial("--"), "");
    }

    #[test]
    fn checked_serial_refuses_empty_and_overlong() {
        assert!(checked_serial("serial", " - ").is_err());
        assert!(checked_serial("serial", &"9".repeat(65)).is_err());
        assert_eq!(checked_serial("serial", "x-7").unwrap(), "X7");
    }

    #[test]
    fn grams_are_distinct_windows() {
        assert_eq!(serial_grams("A1A1A"), vec!["1A1", "A1A"]);
        assert!(serial_grams("AB").is_empty());
    }

    #[test]
    fn patterns_match_one_and_any() {
        let p = SerialPattern::parse("A?3*9").unwrap();
        assert!(p.matches("AX39"));
        assert!(p.matches("AX3779"));
        assert!(!p.matches("A39"));
        assert!(!p.matches("AX3790"));
        // Letters in patterns fold like serials: `o` means 0.
        let p = SerialPattern::parse("k-o??12").unwrap();
        assert!(p.matches("K0AB12"));
        assert_eq!(p.literal_prefix(), "K0");
        assert!(SerialPattern::parse("??*").is_err());
    }

    #[test]
    fn required_grams_come_from_long_enough_runs() {
        let p = SerialPattern::parse("ABC?DE*FGHI").unwrap();
        assert_eq!(p.required_grams(), vec!["A8C", "FGH", "GH1"]);
    }

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("KX10234", "KX10234"), 0);
        assert_eq!(
            edit_distance("KX10234", "KX1O234".replace('O', "0").as_str()),
            0
        );
        assert_eq!(edit_distance("KX10234", "KX1234"), 1);
        assert_eq!(edit_distance("KX10234", "KY10243"), 3);
        assert_eq!(min_shared_grams(serial_grams("KX102345").len(), 1), 3);
        assert!(min_shared_grams(serial_grams("KX102").len(), 1) <= 0);
    }

    /// Fuzzing (fuzz/ serial_pattern) found that a serial repeating a
    /// trigram could not share enough trigrams even with itself.
    #[test]
    fn fuzzy_bound_counts_distinct_grams_of_repetitive_serials() {
        for (query, stored, max_edits) in [
            ("0000000", "0000000", 1),
            ("10000000", "10000000", 1),
            ("10000000", "1000000", 1),
            ("12121212", "12121312", 1),
            ("A0A0A0A0A0", "A0A0A0A0A0", 2),
        ] {
            assert!(edit_distance(query, stored) <= max_edits);
            let query_grams = serial_grams(query);
            let stored_grams = serial_grams(stored);
            let shared = query_grams
                .iter()
                .filter(|g| stored_grams.contains(g))
                .count() as i64;
            let need = min_shared_grams(query_grams.len(), max_edits);
            assert!(
                need <= 0 || shared >= need,
                "{stored} is {max_edits} edits from {query}: shares {shared}, bound {need}"
            );
        }
    }
}
