//! Reconnect delays: capped exponential backoff with jitter, reset once a connection has
//! proved healthy.
//!
//! Jitter matters because a venue outage drops every connection of every client at the same
//! moment; without it they all come back in lock-step and get rate-limited together. The
//! random numbers come from a small seeded generator (SplitMix64), so a test or a replay can
//! fix the seed and get the same delays — nothing here reads the OS's entropy or a clock.
//!
//! Delays use "equal jitter": the n-th consecutive failure waits a uniform time in
//! `[d/2, d]` with `d = min(max, initial * 2^n)`, so a retry is never immediate (no hammering)
//! and never longer than `max`.

use std::time::Duration;

use super::duration_ns;

/// The shape of the reconnect delays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReconnectPolicy {
    /// Delay ceiling of the first retry (the actual delay is jittered into `[initial/2,
    /// initial]`).
    pub initial: Duration,
    /// Delay ceiling once the exponential growth is capped.
    pub max: Duration,
    /// A connection that stayed up at least this long counts as healthy: its loss restarts
    /// the sequence at `initial`, so a daily rotation or a rare drop reconnects fast.
    pub healthy_after: Duration,
}

impl Default for ReconnectPolicy {
    /// 100 ms first retry, capped at 30 s, healthy after 60 s up.
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(30),
            healthy_after: Duration::from_secs(60),
        }
    }
}

/// SplitMix64: tiny, fast, good enough to spread retries; not for cryptography.
#[derive(Clone, Debug)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..=bound` (the modulo bias is below 2^-40 for the bounds used here).
    fn up_to(&mut self, bound: u64) -> u64 {
        match bound.checked_add(1) {
            Some(n) => self.next_u64() % n,
            None => self.next_u64(),
        }
    }
}

/// Reconnect state of one connection: feed it connection events, get delays back.
///
/// ```
/// use std::time::Duration;
/// use tickwire_net::backoff::{ReconnectBackoff, ReconnectPolicy};
///
/// let mut backoff = ReconnectBackoff::new(ReconnectPolicy::default(), 42);
/// let first = backoff.on_failure(0); // connect failed at t = 0
/// assert!(first >= 50_000_000 && first <= 100_000_000);
/// backoff.on_connected(1_000);
/// // Up for two minutes, then dropped: healthy, so the sequence restarts.
/// let again = backoff.on_failure(1_000 + 120_000_000_000);
/// assert!(again <= 100_000_000);
/// # let _ = Duration::ZERO;
/// ```
#[derive(Clone, Debug)]
pub struct ReconnectBackoff {
    initial_ns: u64,
    max_ns: u64,
    healthy_after_ns: u64,
    /// Consecutive failures since the last reset.
    failures: u32,
    /// When the current connection opened, if one is open.
    connected_at_ns: Option<u64>,
    rng: SplitMix64,
}

impl ReconnectBackoff {
    /// A backoff at the start of its sequence; `seed` fixes the jitter (use e.g. a hash of the
    /// venue and connection index, so two connections do not retry in step).
    pub fn new(policy: ReconnectPolicy, seed: u64) -> Self {
        Self {
            initial_ns: duration_ns(policy.initial),
            max_ns: duration_ns(policy.max),
            healthy_after_ns: duration_ns(policy.healthy_after),
            failures: 0,
            connected_at_ns: None,
            rng: SplitMix64(seed),
        }
    }

    /// The connection opened at `now_ns`.
    pub fn on_connected(&mut self, now_ns: u64) {
        self.connected_at_ns = Some(now_ns);
    }

    /// A connection attempt failed or an open connection was lost at `now_ns`: returns how
    /// many nanoseconds to wait before the next attempt. If the lost connection had been up
    /// for at least `healthy_after`, the sequence restarts first.
    pub fn on_failure(&mut self, now_ns: u64) -> u64 {
        if let Some(since) = self.connected_at_ns.take()
            && now_ns.saturating_sub(since) >= self.healthy_after_ns
        {
            self.failures = 0;
        }
        let ceiling = self.ceiling_ns(self.failures);
        self.failures = self.failures.saturating_add(1);
        let half = ceiling / 2;
        half + self.rng.up_to(ceiling - half)
    }

    /// Consecutive failures since the last reset.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Forgets past failures (e.g. after an operator-requested reconnect).
    pub fn reset(&mut self) {
        self.failures = 0;
        self.connected_at_ns = None;
    }

    /// `min(max, initial * 2^n)` without overflow.
    fn ceiling_ns(&self, n: u32) -> u64 {
        let grown = if n >= 64 {
            u64::MAX
        } else {
            self.initial_ns.saturating_mul(1u64 << n)
        };
        grown.min(self.max_ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn policy() -> ReconnectPolicy {
        ReconnectPolicy {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(5),
            healthy_after: Duration::from_secs(60),
        }
    }

    #[test]
    fn delays_grow_exponentially_within_their_jitter_band_and_cap() {
        let mut b = ReconnectBackoff::new(policy(), 7);
        let mut ceiling = 100 * MS;
        for _ in 0..20 {
            let d = b.on_failure(0);
            assert!(
                d >= ceiling / 2 && d <= ceiling,
                "{d} not in [{}, {ceiling}]",
                ceiling / 2
            );
            ceiling = (ceiling * 2).min(5_000 * MS);
        }
        assert_eq!(b.failures(), 20);
    }

    #[test]
    fn same_seed_same_delays_other_seed_other_delays() {
        let run = |seed| {
            let mut b = ReconnectBackoff::new(policy(), seed);
            (0..10).map(|_| b.on_failure(0)).collect::<Vec<_>>()
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
    }

    #[test]
    fn jitter_spreads_over_the_band() {
        let mut b = ReconnectBackoff::new(policy(), 99);
        let delays: Vec<u64> = (0..200)
            .map(|_| {
                b.reset();
                b.on_failure(0)
            })
            .collect();
        let min = delays.iter().min().copied().unwrap_or(0);
        let max = delays.iter().max().copied().unwrap_or(0);
        // 200 draws from [50, 100] ms: both ends of the band are reached closely.
        assert!(min < 55 * MS && max > 95 * MS, "min {min} max {max}");
    }

    #[test]
    fn healthy_connection_resets_short_one_does_not() {
        let mut b = ReconnectBackoff::new(policy(), 3);
        for _ in 0..5 {
            b.on_failure(0);
        }
        // Up for 10 s only: still counts as flapping.
        b.on_connected(1_000 * MS);
        let d = b.on_failure(11_000 * MS);
        assert!(
            d >= 1_600 * MS,
            "flapping connection must keep backing off: {d}"
        );
        // Up for 61 s: healthy, back to the first step.
        b.on_connected(20_000 * MS);
        let d = b.on_failure(81_000 * MS);
        assert!(
            d <= 100 * MS,
            "healthy connection restarts the sequence: {d}"
        );
        assert_eq!(b.failures(), 1);
    }

    #[test]
    fn huge_failure_counts_do_not_overflow() {
        let mut b = ReconnectBackoff::new(policy(), 5);
        b.failures = u32::MAX - 1;
        let d = b.on_failure(0);
        assert!(d <= 5_000 * MS);
        b.on_failure(0);
        assert_eq!(b.failures(), u32::MAX);
        let zero = ReconnectBackoff::new(
            ReconnectPolicy {
                initial: Duration::ZERO,
                max: Duration::ZERO,
                healthy_after: Duration::ZERO,
            },
            0,
        )
        .on_failure(0);
        assert_eq!(zero, 0);
    }
}
