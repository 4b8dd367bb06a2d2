//! The venue's clock as seen from here: signed requests carry `timestamp` in epoch ms, and
//! Binance refuses one outside `recvWindow` of its own clock (-1021), so the local wall clock
//! is corrected by an offset measured against `GET /api/v3/time`.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Local wall clock plus a shared, re-measurable offset to the venue's clock. Cloning shares
/// the offset (the query helper thread measures, the session reads).
#[derive(Clone, Debug, Default)]
pub struct VenueClock {
    offset_ms: Arc<AtomicI64>,
}

impl VenueClock {
    /// A clock with no offset yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The venue's current time in epoch ms (`clock_gettime` through the vDSO: no syscall).
    #[inline]
    pub fn now_ms(&self) -> u64 {
        let local = local_ms();
        local.saturating_add_signed(self.offset_ms.load(Ordering::Relaxed))
    }

    /// The measured offset (venue − local) in ms.
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed)
    }

    /// Records a measurement: the request left at local `sent_ms`, the reply came back at local
    /// `recv_ms` and said `server_ms`. The server read its clock somewhere in between; the
    /// midpoint is the best guess (error at most half the round trip).
    pub fn observe(&self, sent_ms: u64, server_ms: u64, recv_ms: u64) {
        let mid = sent_ms / 2 + recv_ms / 2;
        let offset = server_ms as i64 - mid as i64;
        self.offset_ms.store(offset, Ordering::Relaxed);
    }
}

/// Local wall clock in epoch ms.
pub fn local_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_is_measured_from_the_round_trip_midpoint() {
        let c = VenueClock::new();
        c.observe(1_000, 1_600, 1_200); // server 500 ms ahead of the midpoint 1100
        assert_eq!(c.offset_ms(), 500);
        let shared = c.clone();
        c.observe(1_000, 900, 1_200);
        assert_eq!(shared.offset_ms(), -200);
        let d = shared.now_ms() as i64 - local_ms() as i64;
        assert!((-210..=-190).contains(&d), "{d}");
    }
}
