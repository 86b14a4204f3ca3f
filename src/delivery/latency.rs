//! How long pushing one package to a platform takes (request sent → receipts read), per
//! destination and result, kept in this process for `/metrics` as a Prometheus histogram.
//! Process-local on purpose: each instance reports the pushes it made itself.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the buckets, in seconds.
pub const BUCKETS: [f64; 10] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 30.0];

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    /// Pushes at or under each bound of [`BUCKETS`] (cumulative, as Prometheus wants).
    pub buckets: [u64; BUCKETS.len()],
    pub count: u64,
    pub sum_seconds: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (bound, n) in BUCKETS.iter().zip(self.buckets.iter_mut()) {
            if seconds <= *bound {
                *n += 1;
            }
        }
        self.count += 1;
        self.sum_seconds += seconds;
    }
}

/// (destination, "ok" | "error") → histogram.
static PUSHES: Mutex<BTreeMap<(String, &'static str), Histogram>> = Mutex::new(BTreeMap::new());

/// Records one push of a package to `destination`.
pub fn observe(destination: &str, ok: bool, took: Duration) {
    let result = if ok { "ok" } else { "error" };
    let mut pushes = PUSHES.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    pushes.entry((destination.to_string(), result)).or_default().observe(took.as_secs_f64());
}

/// Every histogram so far, ordered by destination then result.
pub fn snapshot() -> Vec<(String, &'static str, Histogram)> {
    let pushes = PUSHES.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    pushes.iter().map(|((d, r), h)| (d.clone(), *r, h.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_results_apart() {
        let name = "latency-test-destination";
        observe(name, true, Duration::from_millis(30));
        observe(name, true, Duration::from_millis(700));
        observe(name, false, Duration::from_secs(40));
        let mine: Vec<_> = snapshot().into_iter().filter(|(d, _, _)| d == name).collect();
        assert_eq!(mine.len(), 2);
        let (_, result, ok) = &mine[1];
        assert_eq!(*result, "ok");
        assert_eq!(ok.count, 2);
        // 0.03 s falls in 0.05 and above; 0.7 s in 1.0 and above.
        assert_eq!(ok.buckets, [0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
        assert!((ok.sum_seconds - 0.73).abs() < 1e-9);
        let (_, result, err) = &mine[0];
        assert_eq!((*result, err.count, err.buckets[BUCKETS.len() - 1]), ("error", 1, 0));
    }
}
