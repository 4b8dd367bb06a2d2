//! Local order-entry rate budgets, so a request the venue would refuse (OKX: 60 `order`s per
//! 2 s per instrument, the same for `cancel-order` and `amend-order`) is rejected here first,
//! and a back-off window after the venue said "too many requests" (50011) anyway.
//!
//! Each budget is a sliding window kept as a ring of the last `limit` send times (allocated
//! once): a send is allowed when fewer than `limit` sends happened in the last `window`. No
//! allocation, no clock of its own.

/// A sliding-window budget of `limit` sends per `window_ns`.
#[derive(Clone, Debug)]
pub struct SlidingBudget {
    window_ns: u64,
    /// Send times, oldest at `head` once full.
    times: Vec<u64>,
    head: usize,
    len: usize,
}

impl SlidingBudget {
    /// A budget of `limit` (at least 1) sends per `window_ns`.
    pub fn new(limit: usize, window_ns: u64) -> Self {
        Self {
            window_ns,
            times: vec![0; limit.max(1)],
            head: 0,
            len: 0,
        }
    }

    /// Takes one send at `now_ns` if the budget allows; false (nothing taken) if not.
    pub fn try_take(&mut self, now_ns: u64) -> bool {
        let cap = self.times.len();
        if self.len == cap {
            let oldest = self.times[self.head];
            if now_ns.saturating_sub(oldest) < self.window_ns {
                return false;
            }
            self.times[self.head] = now_ns;
            self.head = (self.head + 1) % cap;
        } else {
            self.times[(self.head + self.len) % cap] = now_ns;
            self.len += 1;
        }
        true
    }
}

/// The budgets of one session: one per (instrument, operation), plus the venue's back-off.
#[derive(Clone, Debug)]
pub struct RateBudgets {
    /// `[instrument][op]`, op 0 = order, 1 = cancel, 2 = amend.
    budgets: Vec<[SlidingBudget; 3]>,
    blocked_until_ns: u64,
    backoff_ns: u64,
}

/// Which operation a budget covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateOp {
    /// New orders.
    Order = 0,
    /// Cancels.
    Cancel = 1,
    /// Amends.
    Amend = 2,
}

impl RateBudgets {
    /// Budgets for `instruments` instruments of `limit` requests per `window_ns` each; a venue
    /// rate-limit refusal blocks all sends for `backoff_ns`.
    pub fn new(instruments: usize, limit: usize, window_ns: u64, backoff_ns: u64) -> Self {
        let one = SlidingBudget::new(limit, window_ns);
        Self {
            budgets: vec![[one.clone(), one.clone(), one]; instruments],
            blocked_until_ns: 0,
            backoff_ns,
        }
    }

    /// Takes one `op` on instrument index `inst` at `now_ns`; false when over budget or in
    /// the back-off window.
    pub fn try_take(&mut self, inst: usize, op: RateOp, now_ns: u64) -> bool {
        if now_ns < self.blocked_until_ns {
            return false;
        }
        self.budgets
            .get_mut(inst)
            .is_some_and(|b| b[op as usize].try_take(now_ns))
    }

    /// The venue refused a request for its rate limit at `now_ns`: stop sending for the
    /// back-off period.
    pub fn venue_refused(&mut self, now_ns: u64) {
        self.blocked_until_ns = now_ns.saturating_add(self.backoff_ns);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sliding_window_admits_limit_per_window() {
        let mut b = SlidingBudget::new(3, 100);
        assert!(b.try_take(0));
        assert!(b.try_take(10));
        assert!(b.try_take(20));
        assert!(!b.try_take(99));
        // The first send left the window at 100.
        assert!(b.try_take(100));
        assert!(!b.try_take(105));
        assert!(b.try_take(110));
        assert!(b.try_take(120));
        // 100, 110 and 120 are all within 100 of 199; 100 leaves the window at 200.
        assert!(!b.try_take(199));
        assert!(b.try_take(200));
    }

    #[test]
    fn budgets_are_per_instrument_and_op_and_back_off_blocks_all() {
        let mut r = RateBudgets::new(2, 1, 1_000, 500);
        assert!(r.try_take(0, RateOp::Order, 0));
        assert!(!r.try_take(0, RateOp::Order, 1));
        assert!(r.try_take(0, RateOp::Cancel, 1));
        assert!(r.try_take(1, RateOp::Order, 1));
        assert!(!r.try_take(2, RateOp::Order, 1), "unknown instrument");
        r.venue_refused(2_000);
        assert!(!r.try_take(0, RateOp::Amend, 2_499));
        assert!(r.try_take(0, RateOp::Amend, 2_500));
    }
}
