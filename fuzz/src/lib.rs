//! Invariants the fuzz targets check on what the engine's parsers accept.
//! A parser may refuse any input with an `EngineError`; what it must never
//! do is panic, or hand back a value the rest of the engine would trip on.

use casetrace_engine::Surface;

/// A surface the readers return feeds preprocessing and description, which
/// index `values`/`valid` by `width * height` and divide by `um_per_px`.
pub fn check_surface(s: &Surface) {
    assert!(s.width > 0 && s.height > 0, "{}x{}", s.width, s.height);
    assert_eq!(s.values.len(), s.width * s.height);
    assert_eq!(s.valid.len(), s.values.len());
    assert!(
        s.um_per_px.is_finite() && s.um_per_px > 0.0,
        "um_per_px {}",
        s.um_per_px
    );
    // Readers promise invalid samples are 0 and valid ones finite.
    for (v, ok) in s.values.iter().zip(&s.valid) {
        assert!(v.is_finite(), "non-finite value {v}");
        assert!(*ok || *v == 0.0, "invalid sample holds {v}");
    }
    assert!(
        s.valid.iter().any(|ok| *ok),
        "readers refuse all-invalid input"
    );
}

/// Row numbers name lines of the file, so they rise strictly.
pub fn check_rising(numbers: impl IntoIterator<Item = u64>) {
    let mut last = 0;
    for n in numbers {
        assert!(n > last, "row number {n} after {last}");
        last = n;
    }
}
