//! Live progress of a run, read off the hot path: each trading venue's session is wrapped so
//! the exec thread bumps relaxed atomic counters (orders sent, fills seen, signed position) as
//! it hands commands and reports through; the main thread reads them once a second.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use tickwire_core::event::{ExecReport, OrderCommand, Side};
use tickwire_core::ids::VenueId;
use tickwire_core::num::Qty;
use tickwire_exec::latency::ExecLatency;
use tickwire_exec::session::{ReportSink, VenueSession};

/// One venue's counters, written by the exec thread only.
#[derive(Debug)]
pub struct VenueCounters {
    /// The venue.
    pub venue: VenueId,
    orders: AtomicU64,
    fills: AtomicU64,
    position_raw: AtomicI64,
}

impl VenueCounters {
    /// Zeroed counters for `venue`.
    pub fn new(venue: VenueId) -> Self {
        Self {
            venue,
            orders: AtomicU64::new(0),
            fills: AtomicU64::new(0),
            position_raw: AtomicI64::new(0),
        }
    }

    /// New orders handed to the session.
    pub fn orders(&self) -> u64 {
        self.orders.load(Ordering::Relaxed)
    }

    /// Fills the session reported on its stream.
    pub fn fills(&self) -> u64 {
        self.fills.load(Ordering::Relaxed)
    }

    /// Net position from those fills (all instruments of the venue).
    pub fn position(&self) -> Qty {
        Qty::from_raw(self.position_raw.load(Ordering::Relaxed))
    }
}

/// A session that counts what passes through it.
pub struct Counted {
    inner: Box<dyn VenueSession>,
    counters: Arc<VenueCounters>,
    seen: RecentTrades,
}

/// The last trade ids counted: a session may report one trade twice (the order answer and
/// the user-data stream), and the engine books it once, so the counters do too.
struct RecentTrades {
    ids: [(u64, u64); 256],
    next: usize,
}

impl RecentTrades {
    /// True the first time `(order, trade)` is offered (within the last 256).
    fn first(&mut self, key: (u64, u64)) -> bool {
        if self.ids.contains(&key) {
            return false;
        }
        self.ids[self.next] = key;
        self.next = (self.next + 1) % self.ids.len();
        true
    }
}

impl Counted {
    /// Wraps `inner`; the counters are shared with the reader.
    pub fn new(inner: Box<dyn VenueSession>) -> (Self, Arc<VenueCounters>) {
        let counters = Arc::new(VenueCounters::new(inner.venue()));
        (
            Self {
                inner,
                counters: Arc::clone(&counters),
                seen: RecentTrades {
                    ids: [(u64::MAX, u64::MAX); 256],
                    next: 0,
                },
            },
            counters,
        )
    }
}

/// Counts fills on their way to the real sink.
struct Counting<'a> {
    out: &'a mut dyn ReportSink,
    counters: &'a VenueCounters,
    seen: &'a mut RecentTrades,
}

impl ReportSink for Counting<'_> {
    fn report(&mut self, r: ExecReport) {
        if let ExecReport::Fill(f) = &r
            && self.seen.first((f.cl_ord_id.0, f.trade_id))
        {
            self.counters.fills.fetch_add(1, Ordering::Relaxed);
            let q = f.qty.raw();
            let signed = if f.side() == Some(Side::Sell) { -q } else { q };
            self.counters
                .position_raw
                .fetch_add(signed, Ordering::Relaxed);
        }
        self.out.report(r);
    }
}

impl VenueSession for Counted {
    fn venue(&self) -> VenueId {
        self.inner.venue()
    }

    fn submit(&mut self, cmd: &OrderCommand, now_ns: u64, out: &mut dyn ReportSink) {
        if matches!(cmd, OrderCommand::New(_)) {
            self.counters.orders.fetch_add(1, Ordering::Relaxed);
        }
        let mut sink = Counting {
            out,
            counters: &self.counters,
            seen: &mut self.seen,
        };
        self.inner.submit(cmd, now_ns, &mut sink);
    }

    fn poll(&mut self, now_ns: u64, out: &mut dyn ReportSink) -> bool {
        let mut sink = Counting {
            out,
            counters: &self.counters,
            seen: &mut self.seen,
        };
        self.inner.poll(now_ns, &mut sink)
    }

    fn is_ready(&self) -> bool {
        self.inner.is_ready()
    }

    fn latency(&self) -> &ExecLatency {
        self.inner.latency()
    }

    fn shutdown(&mut self) {
        self.inner.shutdown();
    }
}

/// The once-a-second progress line of a run (main thread).
pub struct Progress {
    venues: Vec<Arc<VenueCounters>>,
    socket: Option<std::path::PathBuf>,
}

impl Progress {
    /// Progress over these venues' counters; P&L is asked of the control `socket`, if any.
    pub fn new(venues: &[Arc<VenueCounters>], socket: Option<std::path::PathBuf>) -> Self {
        Self {
            venues: venues.to_vec(),
            socket,
        }
    }

    /// Prints one line: elapsed, market events, orders, fills, position per venue, P&L.
    pub fn print(&self, elapsed: std::time::Duration, market_events: u64) {
        let orders: u64 = self.venues.iter().map(|v| v.orders()).sum();
        let fills: u64 = self.venues.iter().map(|v| v.fills()).sum();
        let mut line = format!(
            "[{:>4.0}s] market events {market_events:>7} | orders {orders:>5} | fills {fills:>5} | position",
            elapsed.as_secs_f64()
        );
        for v in &self.venues {
            line.push_str(&format!(" {} {}", v.venue, v.position()));
        }
        line.push_str(" | P&L");
        match self.socket.as_deref().map(status_pnl) {
            Some(Ok(rows)) if !rows.is_empty() => {
                for (name, pnl) in rows {
                    line.push_str(&format!(" {name} {pnl}"));
                }
            }
            Some(_) => line.push_str(" (no snapshot yet)"),
            None => line.push_str(" (no control socket)"),
        }
        outln!("{line}");
    }
}

/// Each strategy's net P&L from the control socket's `status` (the ledger's, at the last
/// timer tick).
fn status_pnl(socket: &std::path::Path) -> std::io::Result<Vec<(String, String)>> {
    use std::io::{Read, Write};
    let mut s = std::os::unix::net::UnixStream::connect(socket)?;
    s.set_read_timeout(Some(std::time::Duration::from_millis(500)))?;
    s.write_all(b"status\n")?;
    let mut reply = String::new();
    s.read_to_string(&mut reply)?;
    // "ok", the header, then `name mode level open_orders gross_position pnl incident_pnl`.
    Ok(reply
        .lines()
        .skip(2)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            (cols.len() == 7).then(|| (cols[0].to_owned(), cols[5].to_owned()))
        })
        .collect())
}
