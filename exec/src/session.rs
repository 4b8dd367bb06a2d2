//! The order-entry session contract shared by every real venue (Binance, OKX): the exec thread
//! ([`crate::venue_thread`]) drives one [`VenueSession`] per venue and hands every report it
//! learns to a [`ReportSink`].

use tickwire_core::event::{ExecReport, OrderCommand};
use tickwire_core::ids::VenueId;

/// Where a session sends what it learned. Reports go to the core (journaled there).
pub trait ReportSink {
    /// Delivers one report; never blocks the caller indefinitely (the exec thread queues).
    fn report(&mut self, r: ExecReport);
}

impl<F: FnMut(ExecReport)> ReportSink for F {
    fn report(&mut self, r: ExecReport) {
        self(r)
    }
}

/// One venue's order-entry session, driven by the exec thread. Non-blocking: every method
/// returns promptly; network waits happen in `poll` via non-blocking sockets (mio) or on a
/// helper thread the session owns (e.g. blocking REST queries).
pub trait VenueSession: Send {
    /// The venue this session trades.
    fn venue(&self) -> VenueId;
    /// Encodes, signs and writes one command (no allocation on this path). If it cannot be
    /// sent (rate budget exhausted, disconnected, unknown instrument) the session emits a
    /// Reject (with a reason) — never drops it silently. If it was (maybe) sent but the outcome
    /// cannot be known (5xx, timeout, disconnect mid-order) the session emits `Unknown` and
    /// resolves it by querying the venue, later emitting the real Ack/Fill/Status/Reject.
    fn submit(&mut self, cmd: &OrderCommand, now_ns: u64, out: &mut dyn ReportSink);
    /// Drives I/O: reads replies and user-data pushes, reconnects with backoff, resolves
    /// unknown orders, keeps the connection alive. Returns true if it did any work.
    fn poll(&mut self, now_ns: u64, out: &mut dyn ReportSink) -> bool;
    /// True when connected, logged in and subscribed to its fill stream.
    fn is_ready(&self) -> bool;
    /// Per-venue latency: command→bytes written, written→ack, written→first fill (HDR).
    fn latency(&self) -> &crate::latency::ExecLatency;
    /// Stops: closes connections (open orders are the core's to cancel before this).
    fn shutdown(&mut self);
}
