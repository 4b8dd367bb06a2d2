//! The independent reconciliation poller: on its own thread and its own timer it queries each
//! venue's REST API (open orders, order status, recent fills), chases fill debt, and sends what
//! it learns to the core as ordinary execution reports on its **own** ring.
//!
//! # Independence from the streaming path (DESIGN §7)
//!
//! The streaming fill path (the exec thread's order-entry sessions and their user-data
//! streams) and this poller share nothing that could let one switch the other off:
//!
//! * separate threads — the poller is spawned here, the exec thread elsewhere;
//! * separate connections — the poller owns its `Vec<Box<dyn VenueQueries>>` (its own REST
//!   clients), never a session's;
//! * separate rings to the core — the core drains both (`CoreIo::reports` is a list), so a full
//!   or stalled ring on one side never blocks the other;
//! * no shared flag — the only input the poller reads is the process [`StopFlag`] (and,
//!   optionally, a copy of the order commands on a ring of its own, see [`PollerIo::watch`]);
//!   there is no "stream healthy, skip polling" switch, and nothing the poller does touches
//!   the sessions.
//!
//! # Who does the diffing
//!
//! The poller reports the venue's truth; the core's order model compares it with its own:
//! fills are de-duplicated by (venue, trade id), so a fill delivered by both paths moves the
//! position once; a `Status` updates the order's state, or raises a fill-anomaly alert when it
//! shows more filled than the fills received. The poller keeps only what it needs to chase
//! fills and lost orders (see [`view`]): a trade-id cursor per instrument, the orders it has
//! seen open (or was told of), and the fills it has counted for each.
//!
//! # Guarantees
//!
//! Every trade the venue's fills endpoint returns with a timestamp at or after the session
//! start is forwarded to the core once, within one poll interval of the endpoint returning it,
//! whatever the streaming path does. An order that leaves the venue's open list is looked up
//! and its final status forwarded. An order whose status keeps showing more filled than its
//! fills raises [`PollAlert::FillDebt`]; one the venue does not know raises
//! [`PollAlert::UnknownOrder`] (and the venue's `Reject(UnknownOrder)` reaches the core).

pub mod config;
pub mod view;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use tickwire_core::event::{ExecReport, OrderCommand};
use tickwire_core::ids::{InstrumentId, VenueId};
use tickwire_core::num::Qty;
use tickwire_core::ring::{Consumer, Producer, StopFlag};
use tickwire_core::wait::Backoff;

pub use config::ReconcileConfig;
pub use view::{PollAlert, VenueBalances, VenueView, ViewConfig, ViewStats};

use crate::queries::VenueQueries;
use crate::session::ReportSink;

/// Longest single sleep while waiting for the next cycle, so a stop request is seen promptly.
const SLEEP_SLICE: Duration = Duration::from_millis(20);

/// Poller timing (config section `[reconcile]`, key `interval_ms`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PollerConfig {
    /// Time between the starts of two cycles. The first cycle runs at once.
    pub interval: Duration,
}

impl Default for PollerConfig {
    /// Every 5 s: far inside every venue's REST limits (a cycle costs a few requests per
    /// instrument), and short enough that a missed fill is booked within seconds.
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(5),
        }
    }
}

/// One venue the poller reconciles: its own REST query client and its view settings.
pub struct PollerVenue {
    /// The queries (the poller's own REST client, never a session's).
    pub queries: Box<dyn VenueQueries>,
    /// Balances for the position-drift check (its own REST client too); none skips it.
    pub balances: Option<Box<dyn VenueBalances>>,
    /// Instruments, session start and thresholds.
    pub view: ViewConfig,
}

/// The poller thread's connections.
pub struct PollerIo {
    /// Its own report ring to the core.
    pub reports: Producer<ExecReport>,
    /// Optional copy of the order commands (the exec thread `try_push`es each routed command
    /// and drops it when the ring is full — the poller then merely learns of that order later,
    /// if it ever shows up open). Lets the poller look up orders that closed before any cycle
    /// saw them open.
    pub watch: Option<Consumer<OrderCommand>>,
    /// Stop request: the poller finishes its current cycle and exits, dropping its ring.
    pub stop: StopFlag,
    /// Monotonic nanosecond clock (timer, grace periods, report stamps).
    pub clock: fn() -> u64,
    /// How to wait while the report ring is full.
    pub backoff: Backoff,
}

/// Counters readable while the poller runs.
#[derive(Debug, Default)]
pub struct PollerCounters {
    cycles: AtomicU64,
    reports: AtomicU64,
    fills: AtomicU64,
    alerts: AtomicU64,
}

impl PollerCounters {
    /// Completed cycles (one per venue per tick).
    pub fn cycles(&self) -> u64 {
        self.cycles.load(Ordering::Acquire)
    }

    /// Reports pushed to the core.
    pub fn reports(&self) -> u64 {
        self.reports.load(Ordering::Acquire)
    }

    /// Fill reports pushed to the core.
    pub fn fills(&self) -> u64 {
        self.fills.load(Ordering::Acquire)
    }

    /// Alerts raised.
    pub fn alerts(&self) -> u64 {
        self.alerts.load(Ordering::Acquire)
    }
}

/// What the poller did for one venue.
#[derive(Clone, Debug)]
pub struct VenueSummary {
    /// Venue.
    pub venue: VenueId,
    /// Its counters.
    pub stats: ViewStats,
    /// Net position per instrument from the fills forwarded (this session's trading as the
    /// venue reports it).
    pub positions: Vec<(InstrumentId, Qty)>,
}

/// What the poller did.
#[derive(Clone, Debug, Default)]
pub struct PollerSummary {
    /// Per venue, in configuration order.
    pub venues: Vec<VenueSummary>,
    /// Reports pushed to the core.
    pub reports: u64,
    /// Alerts raised.
    pub alerts: u64,
    /// The core went away while the poller still had reports for it.
    pub core_gone: bool,
}

/// A running poller.
pub struct PollerHandle {
    thread: JoinHandle<PollerSummary>,
    counters: Arc<PollerCounters>,
}

impl PollerHandle {
    /// Live counters.
    pub fn counters(&self) -> &Arc<PollerCounters> {
        &self.counters
    }

    /// Waits for the thread to finish (after the stop flag was set, or the core went away).
    pub fn join(self) -> thread::Result<PollerSummary> {
        self.thread.join()
    }
}

/// Pushes reports into the poller's ring, stamping the receive time the core uses as event
/// time when the query left it unset.
struct RingSink<'a> {
    tx: &'a mut Producer<ExecReport>,
    backoff: &'a mut Backoff,
    clock: fn() -> u64,
    counters: &'a PollerCounters,
    gone: bool,
}

impl ReportSink for RingSink<'_> {
    fn report(&mut self, mut r: ExecReport) {
        if self.gone {
            return;
        }
        let meta = match &mut r {
            ExecReport::Ack(x) => &mut x.meta,
            ExecReport::Reject(x) | ExecReport::CancelReject(x) => &mut x.meta,
            ExecReport::Fill(x) => &mut x.meta,
            ExecReport::CancelAck(x) => &mut x.meta,
            ExecReport::Status(x) => &mut x.meta,
            ExecReport::Unknown(x) => &mut x.meta,
        };
        if meta.stamps.recv_ns == 0 {
            meta.stamps.recv_ns = (self.clock)();
        }
        // `forward` waits while the core is alive: the core drains this ring until it is
        // finished, and never waits on the poller, so this cannot deadlock.
        let fill = matches!(r, ExecReport::Fill(_));
        match self.tx.forward(r, self.backoff) {
            Ok(()) => {
                self.counters.reports.fetch_add(1, Ordering::Release);
                if fill {
                    self.counters.fills.fetch_add(1, Ordering::Release);
                }
            }
            Err(_) => self.gone = true,
        }
    }
}

/// Starts the poller thread (named `reconcile`). It runs a cycle per venue at once and then
/// every `cfg.interval`, until `io.stop` is set or the core drops its end of the ring.
/// `on_alert` receives every [`PollAlert`] (route it to the operator log; it runs on the poller
/// thread, off every hot path).
pub fn spawn_poller(
    cfg: PollerConfig,
    venues: Vec<PollerVenue>,
    io: PollerIo,
    mut on_alert: Box<dyn FnMut(&PollAlert) + Send>,
) -> std::io::Result<PollerHandle> {
    let counters = Arc::new(PollerCounters::default());
    let shared = Arc::clone(&counters);
    let thread = thread::Builder::new()
        .name("reconcile".into())
        .spawn(move || run_poller(cfg, venues, io, &shared, &mut *on_alert))?;
    Ok(PollerHandle { thread, counters })
}

/// One venue as the poller thread holds it.
struct Polled {
    queries: Box<dyn VenueQueries>,
    balances: Option<Box<dyn VenueBalances>>,
    view: VenueView,
}

/// Creates the poller's own report ring (capacity from `cfg`) and starts the poller thread.
/// The returned consumer goes into the core's `CoreIo::reports`, after the exec thread's ring.
/// Alerts are handed to `on_alert` (e.g. written to the operator log with `Display`).
pub fn start(
    cfg: &ReconcileConfig,
    venues: Vec<PollerVenue>,
    stop: StopFlag,
    clock: fn() -> u64,
    backoff: Backoff,
    on_alert: Box<dyn FnMut(&PollAlert) + Send>,
) -> std::io::Result<(PollerHandle, Consumer<ExecReport>)> {
    let (tx, rx) = tickwire_core::ring::channel(cfg.ring);
    let io = PollerIo {
        reports: tx,
        watch: None,
        stop,
        clock,
        backoff,
    };
    let handle = spawn_poller(cfg.poller, venues, io, on_alert)?;
    Ok((handle, rx))
}

fn run_poller(
    cfg: PollerConfig,
    venues: Vec<PollerVenue>,
    io: PollerIo,
    counters: &PollerCounters,
    on_alert: &mut dyn FnMut(&PollAlert),
) -> PollerSummary {
    let PollerIo {
        mut reports,
        mut watch,
        stop,
        clock,
        mut backoff,
    } = io;
    let mut venues: Vec<Polled> = venues
        .into_iter()
        .map(|v| Polled {
            view: VenueView::new(v.queries.venue(), v.view),
            queries: v.queries,
            balances: v.balances,
        })
        .collect();
    let interval_ns = u64::try_from(cfg.interval.as_nanos()).unwrap_or(u64::MAX);
    let mut next_ns = clock();
    let mut core_gone = false;
    while !stop.is_set() && !core_gone {
        let now = clock();
        if let Some(w) = watch.as_mut() {
            while let Some(cmd) = w.try_pop() {
                for p in venues.iter_mut() {
                    p.view.watch(&cmd, now);
                }
            }
        }
        if now < next_ns {
            let wait = Duration::from_nanos(next_ns - now).min(SLEEP_SLICE);
            thread::sleep(wait);
            continue;
        }
        for Polled {
            queries,
            balances,
            view,
        } in venues.iter_mut()
        {
            let mut sink = RingSink {
                tx: &mut reports,
                backoff: &mut backoff,
                clock,
                counters,
                gone: false,
            };
            let mut alert = |a: PollAlert| {
                counters.alerts.fetch_add(1, Ordering::Release);
                on_alert(&a);
            };
            let balances = balances
                .as_mut()
                .map(|b| &mut **b as &mut dyn VenueBalances);
            view.cycle(queries.as_mut(), balances, clock(), &mut sink, &mut alert);
            core_gone |= sink.gone;
            counters.cycles.fetch_add(1, Ordering::Release);
        }
        // Fixed rate, but never a burst of catch-up cycles after a slow one.
        next_ns = next_ns.saturating_add(interval_ns);
        let after = clock();
        if next_ns <= after {
            next_ns = after.saturating_add(interval_ns);
        }
    }
    PollerSummary {
        venues: venues
            .iter()
            .map(|Polled { view: v, .. }| VenueSummary {
                venue: v.venue(),
                stats: v.stats(),
                positions: v.positions(),
            })
            .collect(),
        reports: counters.reports(),
        alerts: counters.alerts(),
        core_gone,
    }
}
