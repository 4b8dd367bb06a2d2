//! Circuit-breaker building blocks: the reject breaker and the order-rate token bucket, both in
//! engine time.

/// Scale of one token: one order command.
const TOKEN: i128 = 1_000_000_000;

/// Venue rejects on one instrument: trips after `max_consecutive` in a row or `max_per_window`
/// within a fixed window, and stays tripped until an operator resumes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RejectBreaker {
    consecutive: u32,
    window_start: u64,
    in_window: u32,
    tripped: bool,
}

impl RejectBreaker {
    /// Counts a venue reject at `now`; returns the count that tripped it if this reject did.
    pub fn on_reject(
        &mut self,
        now: u64,
        max_consecutive: u32,
        max_per_window: u32,
        window_ns: u64,
    ) -> Option<u32> {
        if now.saturating_sub(self.window_start) >= window_ns {
            self.window_start = now;
            self.in_window = 0;
        }
        self.consecutive += 1;
        self.in_window += 1;
        if self.tripped {
            return None;
        }
        if self.consecutive >= max_consecutive {
            self.tripped = true;
            return Some(self.consecutive);
        }
        if self.in_window >= max_per_window {
            self.tripped = true;
            return Some(self.in_window);
        }
        None
    }

    /// An order was accepted or filled: the run of consecutive rejects is over.
    pub fn on_success(&mut self) {
        self.consecutive = 0;
    }

    /// True while tripped.
    pub fn is_tripped(&self) -> bool {
        self.tripped
    }

    /// Operator reset: counts cleared, breaker closed. Returns whether it was tripped.
    pub fn reset(&mut self) -> bool {
        let was = self.tripped;
        *self = Self::default();
        was
    }
}

/// Order-rate budget: `burst` tokens, refilled at `per_sec` per second of engine time. Every
/// command to the venue takes a token (cancels and queries too, because the venue counts them);
/// only new orders are refused when the bucket is empty, so a cancel may drive it negative.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenBucket {
    tokens: i128,
    last: u64,
    per_sec: i128,
    cap: i128,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(per_sec: u32, burst: u32) -> Self {
        let cap = i128::from(burst) * TOKEN;
        Self {
            tokens: cap,
            last: 0,
            per_sec: i128::from(per_sec),
            cap,
        }
    }

    fn refill(&mut self, now: u64) {
        let elapsed = i128::from(now.saturating_sub(self.last));
        self.last = self.last.max(now);
        // elapsed ns × orders/s = orders × 1e9 = tokens in TOKEN units.
        self.tokens = (self.tokens + elapsed * self.per_sec).min(self.cap);
    }

    /// True if a new order may go out at `now`.
    pub fn has_token(&mut self, now: u64) -> bool {
        self.refill(now);
        self.tokens >= TOKEN
    }

    /// Takes one token for a command sent at `now`.
    pub fn take(&mut self, now: u64) {
        self.refill(now);
        self.tokens -= TOKEN;
    }

    /// Whole tokens left (for refusal records).
    pub fn tokens(&self) -> i64 {
        (self.tokens / TOKEN) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breaker_trips_on_the_ninth_consecutive_reject_and_success_resets_the_run() {
        let mut b = RejectBreaker::default();
        for i in 0..8 {
            assert_eq!(b.on_reject(i, 9, 100, 1_000), None);
        }
        b.on_success();
        for i in 0..8 {
            assert_eq!(b.on_reject(10 + i, 9, 100, 1_000_000), None);
        }
        assert_eq!(b.on_reject(20, 9, 100, 1_000_000), Some(9));
        assert!(b.is_tripped());
        assert!(b.reset());
        assert!(!b.is_tripped());
    }

    #[test]
    fn breaker_trips_on_rate_within_window_only() {
        let mut b = RejectBreaker::default();
        for i in 0..10u64 {
            // Spread over ten windows: never 3 in one.
            assert_eq!(b.on_reject(i * 100, 1_000, 3, 100), None);
            b.on_success();
        }
        assert_eq!(b.on_reject(2_000, 1_000, 3, 100), None);
        b.on_success();
        assert_eq!(b.on_reject(2_001, 1_000, 3, 100), None);
        b.on_success();
        assert_eq!(b.on_reject(2_002, 1_000, 3, 100), Some(3));
    }

    #[test]
    fn bucket_refills_in_engine_time() {
        let mut t = TokenBucket::new(10, 2);
        assert!(t.has_token(0));
        t.take(0);
        t.take(0);
        assert!(!t.has_token(0));
        // 10/s: one token per 100 ms.
        assert!(!t.has_token(99_999_999));
        assert!(t.has_token(100_000_000));
        // Never above the burst.
        assert!(t.has_token(10_000_000_000));
        assert_eq!(t.tokens(), 2);
    }
}
