//! One venue's reconciliation state and the cycle that refreshes it from the venue's REST
//! truth ([`VenueView::cycle`]). No thread, no clock of its own: the poller thread
//! ([`super::spawn_poller`]) drives it, tests drive it directly with a fake [`VenueQueries`].
//!
//! # What one cycle does, in this order
//!
//! 1. **Fills** — for every configured instrument, the venue's trades after the highest trade id
//!    seen so far (`fills_after`). Each trade not seen before (by trade id) and not older than
//!    the session start is forwarded as a `Fill`. Fills go first so that the core has them
//!    before the statuses below, which would otherwise show "filled more than fills received".
//! 2. **Open orders** — every open order becomes a `Status` (collected, sent in step 5).
//! 3. **Vanished and unseen orders** — an order this view knows (seen open before, or
//!    announced through the optional command watch and older than the grace period) that is
//!    no longer in the open list is queried by id: a terminal `Status`, or `Reject
//!    (UnknownOrder)` when the venue does not know it.
//! 4. **Fill debt** — an order whose venue status says more is filled than the fills this view
//!    has counted for it: the recent fills window (`fills_after(.., 0)`) is fetched again for
//!    its instrument. A debt that survives `debt_alert_cycles` cycles raises an alert.
//! 5. The collected statuses are forwarded; terminal orders without debt are forgotten.
//! 6. **Position drift** (when the venue's balances are queried): the base asset's balance
//!    minus the position from the fills forwarded must stay at its baseline (the balance
//!    before this session's trading, fixed once two consecutive cycles agree on it). A difference beyond `drift_tolerance` for
//!    `debt_alert_cycles` cycles raises [`PollAlert::PositionDrift`]: something moved the
//!    account that the fills do not explain (trading outside the engine, missing fills, or
//!    fees charged in the base asset beyond the tolerance).
//!
//! The core's order model does the diffing: it moves positions only on fills (de-duplicated by
//! venue and trade id, so a fill delivered by both the stream and this poller counts once),
//! applies statuses, and alerts when a status shows more filled than its fills.

use std::collections::{HashMap, HashSet};

use tickwire_core::event::{ExecReport, OrderCommand, OrderStatus, RejectReason, Side};
use tickwire_core::ids::{ClientOrderId, InstrumentId, VenueId};
use tickwire_core::num::Qty;

use crate::queries::{QueryError, VenueQueries};
use crate::session::ReportSink;

/// Something the poller found that needs a human (or the risk layer) to look at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PollAlert {
    /// The venue reports more filled on an order than the fills it returns, for
    /// `cycles` consecutive cycles.
    FillDebt {
        /// Venue.
        venue: VenueId,
        /// Order.
        order: ClientOrderId,
        /// Cumulative filled quantity according to the venue's order status.
        venue_filled: Qty,
        /// Sum of the fills the poller has seen for it.
        fills_seen: Qty,
        /// Consecutive cycles the debt has lasted.
        cycles: u32,
    },
    /// The venue does not know an order this side believed it had sent or seen.
    UnknownOrder {
        /// Venue.
        venue: VenueId,
        /// Order.
        order: ClientOrderId,
    },
    /// The venue's balance of an instrument's base asset moved differently from the fills.
    PositionDrift {
        /// Venue.
        venue: VenueId,
        /// Instrument.
        instrument: InstrumentId,
        /// The balance now.
        venue_balance: Qty,
        /// The balance the fills explain (first balance + position since).
        expected: Qty,
        /// Consecutive cycles the drift has lasted.
        cycles: u32,
    },
    /// A query failed (the text never contains a secret).
    QueryFailed {
        /// Venue.
        venue: VenueId,
        /// What failed.
        error: String,
    },
}

impl core::fmt::Display for PollAlert {
    /// One line for the operator log.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::FillDebt {
                venue,
                order,
                venue_filled,
                fills_seen,
                cycles,
            } => write!(
                f,
                "reconcile: venue {} order {order}: filled {venue_filled} per status, fills found \
                 {fills_seen}, for {cycles} cycles",
                venue.0
            ),
            Self::UnknownOrder { venue, order } => {
                write!(
                    f,
                    "reconcile: venue {} does not know order {order}",
                    venue.0
                )
            }
            Self::PositionDrift {
                venue,
                instrument,
                venue_balance,
                expected,
                cycles,
            } => write!(
                f,
                "reconcile: venue {} instrument {}: base balance {venue_balance}, fills explain \
                 {expected}, for {cycles} cycles",
                venue.0, instrument.0
            ),
            Self::QueryFailed { venue, error } => {
                write!(f, "reconcile: venue {}: {error}", venue.0)
            }
        }
    }
}

/// Tuning of one venue's reconciliation.
#[derive(Clone, Debug)]
pub struct ViewConfig {
    /// Instruments whose fills are fetched every cycle.
    pub instruments: Vec<InstrumentId>,
    /// Fills whose venue timestamp is before this (epoch ns) predate the session and are not
    /// forwarded (they are still remembered, so they are never re-examined). 0 forwards all.
    pub not_before_venue_ns: i64,
    /// An order announced through the command watch is looked up by id only once it is this
    /// old and still not seen open: an order still in flight is unknown to the venue.
    pub grace_ns: u64,
    /// Consecutive cycles a fill debt (or a position drift) may last before
    /// [`PollAlert::FillDebt`] ([`PollAlert::PositionDrift`]) is raised.
    pub debt_alert_cycles: u32,
    /// Largest balance difference not counted as drift (base-asset fees, dust).
    pub drift_tolerance: Qty,
}

impl Default for ViewConfig {
    fn default() -> Self {
        Self {
            instruments: Vec::new(),
            not_before_venue_ns: 0,
            grace_ns: 5_000_000_000,
            debt_alert_cycles: 3,
            drift_tolerance: Qty::ZERO,
        }
    }
}

/// What the view knows about one order.
#[derive(Clone, Copy, Debug)]
struct Tracked {
    instrument: InstrumentId,
    /// Cumulative filled quantity according to the venue's latest status.
    venue_filled: Qty,
    /// Sum of fills seen by this view.
    fills_seen: Qty,
    /// Latest venue status (`None`: only announced by a command so far).
    status: Option<OrderStatus>,
    /// Cycle in which it was last in the open list (0: never).
    open_cycle: u64,
    /// Poller clock when it was first heard of.
    first_ns: u64,
    /// Consecutive cycles with fill debt.
    debt_cycles: u32,
}

impl Tracked {
    fn new(instrument: InstrumentId, now_ns: u64) -> Self {
        Self {
            instrument,
            venue_filled: Qty::ZERO,
            fills_seen: Qty::ZERO,
            status: None,
            open_cycle: 0,
            first_ns: now_ns,
            debt_cycles: 0,
        }
    }

    fn terminal(&self) -> bool {
        matches!(
            self.status,
            Some(
                OrderStatus::Filled
                    | OrderStatus::Canceled
                    | OrderStatus::Rejected
                    | OrderStatus::Expired
                    | OrderStatus::NotFound
            )
        )
    }

    fn in_debt(&self) -> bool {
        self.venue_filled > self.fills_seen
    }
}

/// Counters of one view (cumulative).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ViewStats {
    /// Cycles run.
    pub cycles: u64,
    /// Fills forwarded (first sighting of a trade id, within the session).
    pub fills_forwarded: u64,
    /// Trades skipped because they predate the session.
    pub fills_before_session: u64,
    /// Trades returned again (already forwarded) and not re-sent.
    pub fills_repeated: u64,
    /// Status reports forwarded.
    pub statuses: u64,
    /// Orders looked up by id.
    pub order_lookups: u64,
    /// Orders the venue did not know.
    pub unknown_orders: u64,
    /// Recent-window re-fetches triggered by fill debt.
    pub debt_rescans: u64,
    /// Queries that failed.
    pub query_errors: u64,
    /// Balance checks made.
    pub balance_checks: u64,
}

/// A venue's account balances, for the position-drift check (optional per venue).
pub trait VenueBalances: Send {
    /// The total balance (free and locked) of `instrument`'s base asset.
    fn base_balance(&mut self, instrument: InstrumentId) -> Result<Qty, QueryError>;
}

/// Drift bookkeeping of one instrument.
#[derive(Clone, Copy, Debug, Default)]
struct Drift {
    /// Balance before this session's fills (balance − position), once two reads agreed.
    baseline: Option<Qty>,
    /// The last read's balance − position, while no baseline is set.
    last_implied: Option<Qty>,
    /// Consecutive cycles off the baseline.
    cycles: u32,
}

/// One venue's reconciliation state. See the [module docs](self).
#[derive(Debug)]
pub struct VenueView {
    venue: VenueId,
    cfg: ViewConfig,
    cycle: u64,
    /// Highest trade id seen per instrument (the `fills_after` cursor).
    cursors: HashMap<InstrumentId, u64>,
    /// Trades already seen, by (instrument, trade id): trade ids are per instrument on both
    /// Binance and OKX.
    trades: HashSet<(InstrumentId, u64)>,
    orders: HashMap<ClientOrderId, Tracked>,
    /// Net position per instrument from the fills this view forwarded (the venue's own
    /// account of this session's trading).
    positions: HashMap<InstrumentId, Qty>,
    drift: HashMap<InstrumentId, Drift>,
    stats: ViewStats,
}

/// Collects the reports of one query so the view can look at them before forwarding.
#[derive(Default)]
struct Collect(Vec<ExecReport>);

impl ReportSink for Collect {
    fn report(&mut self, r: ExecReport) {
        self.0.push(r);
    }
}

impl VenueView {
    /// A view of `venue`.
    pub fn new(venue: VenueId, cfg: ViewConfig) -> Self {
        Self {
            venue,
            cfg,
            cycle: 0,
            cursors: HashMap::new(),
            trades: HashSet::new(),
            orders: HashMap::new(),
            positions: HashMap::new(),
            drift: HashMap::new(),
            stats: ViewStats::default(),
        }
    }

    /// The venue.
    pub fn venue(&self) -> VenueId {
        self.venue
    }

    /// Counters so far.
    pub fn stats(&self) -> ViewStats {
        self.stats
    }

    /// Net position in `instrument` from the fills this view forwarded (buys positive).
    pub fn position(&self, instrument: InstrumentId) -> Qty {
        self.positions
            .get(&instrument)
            .copied()
            .unwrap_or(Qty::ZERO)
    }

    /// Net position per instrument (sorted by instrument) from the fills this view forwarded.
    pub fn positions(&self) -> Vec<(InstrumentId, Qty)> {
        let mut v: Vec<(InstrumentId, Qty)> =
            self.positions.iter().map(|(i, q)| (*i, *q)).collect();
        v.sort_unstable();
        v
    }

    /// Orders currently tracked (open, recently closed with debt, or announced).
    pub fn tracked_orders(&self) -> usize {
        self.orders.len()
    }

    /// Learns of an order command sent to this venue (the optional command watch), so that an
    /// order the venue never showed open is still looked up once past the grace period.
    pub fn watch(&mut self, cmd: &OrderCommand, now_ns: u64) {
        if let OrderCommand::New(n) = cmd
            && n.meta.venue == self.venue
            && !n.cl_ord_id.is_none()
        {
            self.orders
                .entry(n.cl_ord_id)
                .or_insert_with(|| Tracked::new(n.meta.instrument, now_ns));
        }
    }

    /// Runs one reconciliation cycle at poller time `now_ns`, forwarding what it learned to
    /// `out` and alerts to `alert`; `balances`, when given, feeds the drift check. A failed
    /// query is counted and alerted; the rest of the cycle still runs, except after a
    /// rate-limit refusal, which ends the cycle (the next cycle retries).
    pub fn cycle(
        &mut self,
        queries: &mut dyn VenueQueries,
        balances: Option<&mut dyn VenueBalances>,
        now_ns: u64,
        out: &mut dyn ReportSink,
        alert: &mut dyn FnMut(PollAlert),
    ) {
        self.cycle += 1;
        self.stats.cycles += 1;
        let mut statuses = Collect::default();
        // A rate-limited cycle ends early; what it learned so far is still forwarded below.
        let complete = self.run(queries, now_ns, out, &mut statuses, alert).is_ok();
        if complete && let Some(b) = balances {
            self.check_drift(b, alert);
        }
        for r in statuses.0 {
            self.stats.statuses += u64::from(matches!(r, ExecReport::Status(_)));
            out.report(r);
        }
        // Forget what is closed and settled; keep debtors and open orders.
        self.orders.retain(|_, t| !t.terminal() || t.in_debt());
    }

    /// Steps 1–4; statuses and order-lookup results are left in `statuses`.
    fn run(
        &mut self,
        queries: &mut dyn VenueQueries,
        now_ns: u64,
        out: &mut dyn ReportSink,
        statuses: &mut Collect,
        alert: &mut dyn FnMut(PollAlert),
    ) -> Result<(), ()> {
        // 1. Fills since the cursor.
        for i in 0..self.cfg.instruments.len() {
            let inst = self.cfg.instruments[i];
            let after = self.cursors.get(&inst).copied().unwrap_or(0);
            self.fetch_fills(queries, inst, after, now_ns, out, alert)?;
        }
        // 2. Open orders.
        let mut got = Collect::default();
        let open = queries.open_orders(&mut got);
        self.check(open.map(|_| ()), alert)?;
        for r in got.0 {
            self.observe_status(r, now_ns, true);
            statuses.0.push(r);
        }
        // 3. Orders known here but not open now.
        let cycle = self.cycle;
        let grace = self.cfg.grace_ns;
        let mut lookups: Vec<(ClientOrderId, InstrumentId)> = self
            .orders
            .iter()
            .filter(|(_, t)| {
                t.open_cycle != cycle
                    && !t.terminal()
                    && (t.open_cycle != 0 || now_ns.saturating_sub(t.first_ns) >= grace)
            })
            .map(|(id, t)| (*id, t.instrument))
            .collect();
        lookups.sort_unstable();
        for (id, inst) in lookups {
            let mut got = Collect::default();
            self.stats.order_lookups += 1;
            let r = queries.order_status(inst, id, &mut got);
            self.check(r, alert)?;
            for r in got.0 {
                self.observe_status(r, now_ns, false);
                if let ExecReport::Reject(rej) = r
                    && rej.reason() == Some(RejectReason::UnknownOrder)
                {
                    self.stats.unknown_orders += 1;
                    alert(PollAlert::UnknownOrder {
                        venue: self.venue,
                        order: rej.cl_ord_id,
                    });
                }
                statuses.0.push(r);
            }
        }
        // 4. Fill debt: re-fetch the recent window of each instrument with a debtor.
        let mut debt_insts: Vec<InstrumentId> = self
            .orders
            .values()
            .filter(|t| t.in_debt())
            .map(|t| t.instrument)
            .collect();
        debt_insts.sort_unstable();
        debt_insts.dedup();
        for inst in debt_insts {
            self.stats.debt_rescans += 1;
            self.fetch_fills(queries, inst, 0, now_ns, out, alert)?;
        }
        let limit = self.cfg.debt_alert_cycles.max(1);
        for (id, t) in self.orders.iter_mut() {
            if t.in_debt() {
                t.debt_cycles += 1;
                if t.debt_cycles >= limit {
                    alert(PollAlert::FillDebt {
                        venue: self.venue,
                        order: *id,
                        venue_filled: t.venue_filled,
                        fills_seen: t.fills_seen,
                        cycles: t.debt_cycles,
                    });
                }
            } else {
                t.debt_cycles = 0;
            }
        }
        Ok(())
    }

    /// Step 6: compares each instrument's base balance with the fills forwarded.
    fn check_drift(&mut self, balances: &mut dyn VenueBalances, alert: &mut dyn FnMut(PollAlert)) {
        let limit = self.cfg.debt_alert_cycles.max(1);
        for i in 0..self.cfg.instruments.len() {
            let inst = self.cfg.instruments[i];
            self.stats.balance_checks += 1;
            let balance = match balances.base_balance(inst) {
                Ok(b) => b,
                Err(e) => {
                    let _ = self.check(Err(e), alert);
                    continue;
                }
            };
            let position = self.position(inst);
            // What the balance was before this session's fills, as this read implies.
            let implied = balance.saturating_sub(position);
            let d = self.drift.entry(inst).or_default();
            let Some(baseline) = d.baseline else {
                // A baseline needs two reads in a row that agree: a fill landing between the
                // fills query and the balance query must not become a permanent drift.
                if d.last_implied == Some(implied) {
                    d.baseline = Some(implied);
                }
                d.last_implied = Some(implied);
                continue;
            };
            let expected = baseline.saturating_add(position);
            if implied.saturating_sub(baseline).abs() > self.cfg.drift_tolerance {
                d.cycles += 1;
                if d.cycles >= limit {
                    alert(PollAlert::PositionDrift {
                        venue: self.venue,
                        instrument: inst,
                        venue_balance: balance,
                        expected,
                        cycles: d.cycles,
                    });
                }
            } else {
                d.cycles = 0;
            }
        }
    }

    /// Counts and alerts a failed query; `Err` when the cycle must end (rate limited).
    fn check(
        &mut self,
        r: Result<(), QueryError>,
        alert: &mut dyn FnMut(PollAlert),
    ) -> Result<(), ()> {
        let Err(e) = r else { return Ok(()) };
        self.stats.query_errors += 1;
        let stop = matches!(e, QueryError::RateLimited { .. });
        alert(PollAlert::QueryFailed {
            venue: self.venue,
            error: e.to_string(),
        });
        if stop { Err(()) } else { Ok(()) }
    }

    fn fetch_fills(
        &mut self,
        queries: &mut dyn VenueQueries,
        inst: InstrumentId,
        after: u64,
        now_ns: u64,
        out: &mut dyn ReportSink,
        alert: &mut dyn FnMut(PollAlert),
    ) -> Result<(), ()> {
        let mut got = Collect::default();
        let r = queries.fills_after(inst, after, &mut got);
        // What arrived before a failure is still good.
        for rep in got.0 {
            self.observe_fill(rep, now_ns, out);
        }
        match r {
            Ok(highest) => {
                let c = self.cursors.entry(inst).or_insert(0);
                *c = (*c).max(highest);
                Ok(())
            }
            Err(e) => self.check(Err(e), alert),
        }
    }

    /// A report from a fills query: forwards first sightings within the session.
    fn observe_fill(&mut self, r: ExecReport, now_ns: u64, out: &mut dyn ReportSink) {
        let ExecReport::Fill(f) = r else {
            out.report(r);
            return;
        };
        let inst = f.meta.instrument;
        let cursor = self.cursors.entry(inst).or_insert(0);
        *cursor = (*cursor).max(f.trade_id);
        if !self.trades.insert((inst, f.trade_id)) {
            self.stats.fills_repeated += 1;
            return;
        }
        if f.meta.venue_ts_ns != 0 && f.meta.venue_ts_ns < self.cfg.not_before_venue_ns {
            self.stats.fills_before_session += 1;
            return;
        }
        if !f.cl_ord_id.is_none() {
            let t = self
                .orders
                .entry(f.cl_ord_id)
                .or_insert_with(|| Tracked::new(inst, now_ns));
            t.fills_seen = t.fills_seen.saturating_add(f.qty);
            // A fill proves at least this much is filled, even before any status says so.
            t.venue_filled = t.venue_filled.max(t.fills_seen);
        }
        let delta = match f.side() {
            Some(Side::Sell) => f.qty.neg(),
            _ => f.qty,
        };
        let p = self.positions.entry(inst).or_insert(Qty::ZERO);
        *p = p.saturating_add(delta);
        self.stats.fills_forwarded += 1;
        out.report(r);
    }

    /// A report from an open-orders or order query: updates the tracked order.
    fn observe_status(&mut self, r: ExecReport, now_ns: u64, from_open_list: bool) {
        let cycle = self.cycle;
        match r {
            ExecReport::Status(st) if !st.cl_ord_id.is_none() => {
                let inst = st.meta.instrument;
                let t = self
                    .orders
                    .entry(st.cl_ord_id)
                    .or_insert_with(|| Tracked::new(inst, now_ns));
                if inst != tickwire_core::event::Meta::ALL_INSTRUMENTS {
                    t.instrument = inst;
                }
                t.venue_filled = t.venue_filled.max(st.filled_qty);
                t.status = OrderStatus::from_code(st.status);
                if from_open_list {
                    t.open_cycle = cycle;
                }
            }
            ExecReport::Reject(rej) if rej.reason() == Some(RejectReason::UnknownOrder) => {
                if let Some(t) = self.orders.get_mut(&rej.cl_ord_id) {
                    t.status = Some(OrderStatus::NotFound);
                }
            }
            _ => {}
        }
    }
}
