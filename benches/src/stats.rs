//! Summaries of repeated timings.

use std::time::Duration;

/// Median and 95th percentile, in milliseconds.
pub fn median_p95_ms(samples: &mut [Duration]) -> (f64, f64) {
    if samples.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    samples.sort();
    let at =
        |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e3;
    (at(0.5), at(0.95))
}

#[cfg(test)]
mod tests {
    use super::median_p95_ms;
    use std::time::Duration;

    #[test]
    fn median_and_p95_of_known_samples() {
        let mut s: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        let (median, p95) = median_p95_ms(&mut s);
        assert_eq!((median.round(), p95.round()), (51.0, 95.0));
    }
}
