//! Serial normalising, wildcard patterns, edit distance and the trigram
//! bound fuzzy search prunes with, on arbitrary text. Beyond "no panic",
//! it checks the properties serial search relies on to never miss a
//! firearm: whatever a pattern matches has its literal prefix and its
//! required trigrams (the two indexes the search reads), and whatever is
//! within the edit budget of a query shares enough of its trigrams.
//!
//! Input: one byte of edit budget, then `pattern\nserial` as UTF-8.

#![no_main]

use std::collections::BTreeSet;

use casetrace_engine::traces::serial::{
    checked_serial, min_shared_grams, serial_grams, PatternToken, GRAM_LEN,
};
use casetrace_engine::traces::{edit_distance, normalise_serial, SerialPattern};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&budget, text)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let (pattern, serial) = text.split_once('\n').unwrap_or((text, ""));
    let max_edits = usize::from(budget % 4);

    let n = normalise_serial(serial);
    check_normal_form(&n);
    assert_eq!(normalise_serial(&n), n, "normalising is idempotent");
    match checked_serial("serial", serial) {
        Ok(checked) => assert_eq!(checked, n),
        Err(_) => assert!(n.is_empty() || serial.chars().count() > 64),
    }
    check_grams(&n);

    if let Ok(p) = SerialPattern::parse(pattern) {
        check_pattern(&p, &n);
    }

    // Fuzzy search: the pattern line read as a second serial.
    if let (Ok(q), Ok(s)) = (checked_serial("q", serial), checked_serial("s", pattern)) {
        let d = edit_distance(&q, &s);
        assert_eq!(d, edit_distance(&s, &q), "symmetric");
        assert_eq!(d == 0, q == s);
        let (lq, ls) = (q.chars().count(), s.chars().count());
        assert!(lq.abs_diff(ls) <= d && d <= lq.max(ls), "{q} {s} {d}");
        check_fuzzy_bound(&q, &s, d, max_edits);
    }
});

fn check_normal_form(n: &str) {
    assert!(
        n.chars()
            .all(|c| (c.is_ascii_uppercase() || c.is_ascii_digit()) && !"OILSBZ".contains(c)),
        "{n:?}"
    );
}

fn check_grams(n: &str) {
    let grams = serial_grams(n);
    assert!(grams.windows(2).all(|w| w[0] < w[1]), "sorted, distinct");
    assert!(grams
        .iter()
        .all(|g| g.chars().count() == GRAM_LEN && n.contains(g.as_str())));
    assert_eq!(grams.is_empty(), n.chars().count() < GRAM_LEN);
}

fn check_pattern(p: &SerialPattern, n: &str) {
    let tokens = p.tokens();
    assert!(tokens.iter().any(|t| matches!(t, PatternToken::Char(_))));
    assert!(tokens
        .windows(2)
        .all(|w| !(w[0] == PatternToken::Any && w[1] == PatternToken::Any)));
    for t in tokens {
        if let PatternToken::Char(c) = t {
            check_normal_form(&c.to_string());
        }
    }
    // A serial written from the pattern itself must match it, whatever a
    // star stands for.
    for star in ["", "7", "X9A"] {
        let witness: String = tokens
            .iter()
            .map(|t| match t {
                PatternToken::Char(c) => c.to_string(),
                PatternToken::One => "7".to_string(),
                PatternToken::Any => star.to_string(),
            })
            .collect();
        assert!(p.matches(&witness), "{tokens:?} vs {witness:?}");
        check_indexes_find(p, &witness);
    }
    if p.matches(n) {
        check_indexes_find(p, n);
    }
    if tokens.iter().all(|t| matches!(t, PatternToken::Char(_))) {
        assert_eq!(p.matches(n), p.literal_prefix() == n);
    }
}

/// Pattern search reads candidates from the prefix range or the trigram
/// postings; a match missing from either would never be found.
fn check_indexes_find(p: &SerialPattern, matched: &str) {
    assert!(matched.starts_with(&p.literal_prefix()), "{matched:?}");
    let have: BTreeSet<String> = serial_grams(matched).into_iter().collect();
    for g in p.required_grams() {
        assert!(have.contains(&g), "{matched:?} lacks required gram {g}");
    }
}

/// Fuzzy search asks the postings for serials sharing at least
/// `min_shared_grams(..)` of the query's distinct trigrams, exactly as
/// `search_serials` does; a serial within the edit budget must pass.
fn check_fuzzy_bound(q: &str, s: &str, distance: usize, max_edits: usize) {
    let min_shared = min_shared_grams(serial_grams(q).len(), max_edits);
    if distance > max_edits || min_shared <= 0 {
        return;
    }
    let stored: BTreeSet<String> = serial_grams(s).into_iter().collect();
    let shared = serial_grams(q)
        .iter()
        .filter(|g| stored.contains(*g))
        .count();
    assert!(
        shared as i64 >= min_shared,
        "{s:?} is {distance} edits from {q:?} but shares {shared} trigrams, below {min_shared}"
    );
}
