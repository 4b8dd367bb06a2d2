//! Latency histograms per pipeline stage, from the stamps records carry.
//!
//! Recording is allocation-free: each histogram is created once with fixed bounds (1 ns to
//! 60 s, 3 significant digits) and never resized; a value outside the bounds is clamped and
//! counted as such rather than dropped.

use hdrhistogram::Histogram;

/// Highest recordable latency: 60 s.
const MAX_NS: u64 = 60_000_000_000;

/// One stage's histogram.
pub struct StageHistogram {
    name: &'static str,
    hist: Histogram<u64>,
    clamped: u64,
}

impl StageHistogram {
    /// A histogram for the stage called `name`.
    pub fn new(name: &'static str) -> Self {
        // Fixed bounds and 3 significant digits: a few tens of KB, allocated here once.
        let hist = Histogram::new_with_bounds(1, MAX_NS, 3)
            .unwrap_or_else(|_| unreachable!("constant bounds are valid"));
        Self {
            name,
            hist,
            clamped: 0,
        }
    }

    /// Records the latency from stamp `from` to stamp `to` (both monotonic ns); a missing
    /// stamp (zero) or a negative span is not a measurement and is skipped.
    #[inline]
    pub fn record_span(&mut self, from: u64, to: u64) {
        if from == 0 || to < from {
            return;
        }
        let v = (to - from).max(1);
        if v > MAX_NS {
            self.clamped += 1;
        }
        // Cannot fail: the value is clamped into the histogram's bounds.
        let _ = self.hist.record(v.min(MAX_NS));
    }

    /// Stage name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Number of samples.
    pub fn len(&self) -> u64 {
        self.hist.len()
    }

    /// True without samples.
    pub fn is_empty(&self) -> bool {
        self.hist.is_empty()
    }

    /// The value at quantile `q` (0..=1), in ns.
    pub fn quantile(&self, q: f64) -> u64 {
        self.hist.value_at_quantile(q)
    }

    /// Largest sample, in ns.
    pub fn max(&self) -> u64 {
        self.hist.max()
    }

    /// Samples above the 60 s bound (recorded as 60 s).
    pub fn clamped(&self) -> u64 {
        self.clamped
    }

    /// One summary line: `name  n  p50 p90 p99 p99.9 max` in µs.
    pub fn summary(&self) -> String {
        let us = |ns: u64| ns as f64 / 1000.0;
        format!(
            "{:<22} {:>9} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
            self.name,
            self.len(),
            us(self.quantile(0.5)),
            us(self.quantile(0.9)),
            us(self.quantile(0.99)),
            us(self.quantile(0.999)),
            us(self.max()),
        )
    }

    /// The header matching [`StageHistogram::summary`].
    pub fn header() -> String {
        format!(
            "{:<22} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "stage (µs)", "samples", "p50", "p90", "p99", "p99.9", "max"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_spans_skips_missing_stamps_and_clamps() {
        let mut h = StageHistogram::new("wire→core");
        for i in 1..=1000u64 {
            h.record_span(10_000, 10_000 + i * 1_000);
        }
        h.record_span(0, 5); // missing stamp
        h.record_span(10, 5); // clock went backwards: not a measurement
        h.record_span(1, 1 + 2 * MAX_NS);
        assert_eq!(h.len(), 1001);
        assert_eq!(h.clamped(), 1);
        let p50 = h.quantile(0.5);
        assert!(
            (498_000..=502_000).contains(&p50),
            "{p50} within the 3-digit resolution"
        );
        assert!(h.summary().starts_with("wire→core"));
    }
}
