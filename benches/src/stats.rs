//! Summaries of repeated timings.

use std::time::{Duration, Instant};

/// Run `work`, appending how long it took to `into`.
pub fn timed<T>(into: &mut Vec<Duration>, work: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let out = std::hint::black_box(work());
    into.push(t.elapsed());
    out
}

/// Median, 95th percentile and mean of a set of timings, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub n: usize,
    pub median_ms: f64,
    pub p95_ms: f64,
    pub mean_ms: f64,
}

impl Summary {
    /// Summarise `samples` (sorted in place). Empty input gives NaNs.
    pub fn of(samples: &mut [Duration]) -> Summary {
        let n = samples.len();
        if n == 0 {
            return Summary {
                n,
                median_ms: f64::NAN,
                p95_ms: f64::NAN,
                mean_ms: f64::NAN,
            };
        }
        samples.sort();
        let at = |q: f64| samples[((n - 1) as f64 * q).round() as usize].as_secs_f64() * 1e3;
        let total: Duration = samples.iter().sum();
        Summary {
            n,
            median_ms: at(0.5),
            p95_ms: at(0.95),
            mean_ms: total.as_secs_f64() * 1e3 / n as f64,
        }
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "n": self.n,
            "median_ms": self.median_ms,
            "p95_ms": self.p95_ms,
            "mean_ms": self.mean_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{timed, Summary};
    use std::time::Duration;

    #[test]
    fn median_p95_and_mean_of_known_samples() {
        let mut s: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        let sum = Summary::of(&mut s);
        assert_eq!(
            (
                sum.n,
                sum.median_ms.round(),
                sum.p95_ms.round(),
                sum.mean_ms
            ),
            (100, 51.0, 95.0, 50.5)
        );
    }

    #[test]
    fn no_samples_give_nan_not_a_panic() {
        assert!(Summary::of(&mut []).median_ms.is_nan());
    }

    #[test]
    fn timed_records_one_sample_and_passes_the_value_through() {
        let mut samples = Vec::new();
        assert_eq!(timed(&mut samples, || 6 * 7), 42);
        assert_eq!(samples.len(), 1);
    }
}
