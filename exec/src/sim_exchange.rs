//! An in-process simulated exchange that answers order commands against the market it is fed.
//!
//! It lets the engine trade with no venue (synthetic runs, tests) and, fed a venue's market
//! data, is the paper-trading exchange. Matching is deliberately simple and documented in
//! [`crate::paper`]: an incoming order takes the visible opposite levels up to its limit price
//! (taker, no market impact: the liquidity is the feed's, not consumed); what is left of a GTC
//! order rests behind the visible queue at its price and fills as maker, at its own price, as
//! public trades consume that queue or the market moves through it. Post-only orders that would
//! take are rejected. Fees are charged per fill on notional.

use tickwire_core::event::Trade;
use tickwire_core::event::{
    Ack, CancelAck, ExecReport, Fill, Liquidity, MarketEvent, Meta, NewOrder, OrderCommand,
    OrderStatus, OrderType, Reject, RejectReason, Side, StatusReport, TimeInForce,
};
use tickwire_core::ids::ClientOrderId;
use tickwire_core::market::Markets;
use tickwire_core::num::{InstrumentSpec, Notional, Px, Qty};

use crate::paper::QueuePosition;

/// Fee rates in parts per billion of notional (1 bp = 100_000 ppb; negative is a rebate).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FeeSchedule {
    /// Maker rate.
    pub maker_ppb: i64,
    /// Taker rate.
    pub taker_ppb: i64,
}

impl FeeSchedule {
    /// The fee for a fill, in quote nano-units, truncated toward zero.
    pub fn fee(&self, px: Px, qty: Qty, liquidity: Liquidity) -> Px {
        let rate = match liquidity {
            Liquidity::Maker => self.maker_ppb,
            Liquidity::Taker => self.taker_ppb,
        };
        // notional is in 1e-18 units; × ppb / 1e9 gives 1e-18 units of fee; / 1e9 → nano-units.
        let fee = Notional::of(px, qty).raw().abs() * i128::from(rate) / 1_000_000_000_000_000_000;
        Px::from_raw(fee as i64)
    }
}

#[derive(Clone, Copy, Debug)]
struct Resting {
    order: NewOrder,
    venue_order_id: u64,
    leaves: Qty,
    queue: QueuePosition,
}

/// The simulated exchange.
pub struct SimExchange {
    markets: Markets,
    resting: Vec<Resting>,
    fees: FeeSchedule,
    next_order_id: u64,
    next_trade_id: u64,
}

impl SimExchange {
    /// An exchange for `instruments`, holding at most `max_resting` resting orders.
    pub fn new(instruments: &[InstrumentSpec], fees: FeeSchedule, max_resting: usize) -> Self {
        Self {
            markets: Markets::new(instruments, 64),
            resting: Vec::with_capacity(max_resting),
            fees,
            next_order_id: 1,
            next_trade_id: 1,
        }
    }

    /// Starts venue order and trade ids at `base` + 1. A venue's trade ids never repeat; an
    /// exchange started again in a later session of the same journal must not repeat the ids
    /// of an earlier one either, or the engine would take its fills for duplicates.
    pub fn start_ids_at(&mut self, base: u64) {
        self.next_order_id = base + 1;
        self.next_trade_id = base + 1;
    }

    /// Number of resting orders.
    pub fn resting(&self) -> usize {
        self.resting.len()
    }

    /// Queue position of a resting order (None if it is not resting).
    pub fn queue_ahead(&self, id: ClientOrderId) -> Option<Qty> {
        self.resting
            .iter()
            .find(|r| r.order.cl_ord_id == id)
            .map(|r| r.queue.ahead)
    }

    /// Feeds market data; resting orders that trades or the book now reach fill as maker.
    pub fn on_market(&mut self, ev: &MarketEvent, now: u64, out: &mut impl FnMut(ExecReport)) {
        self.markets.apply(ev, now);
        if let MarketEvent::Trade(t) = ev {
            self.on_trade(t, now, out);
            return;
        }
        let id = ev.meta().instrument;
        let Self {
            markets,
            resting,
            fees,
            next_trade_id,
            ..
        } = self;
        let Some(view) = markets.get(id) else {
            return;
        };
        // Mid-batch the book is half-updated: wait for the batch to end before matching.
        if !view.is_healthy() {
            return;
        }
        // Time priority: resting orders are kept in arrival order.
        let mut i = 0;
        while i < resting.len() {
            let r = &mut resting[i];
            let reached = r.order.meta.instrument == id
                && r.order
                    .side()
                    .is_some_and(|side| r.queue.on_book(view, side, r.order.px));
            if reached {
                let r = resting.remove(i);
                let (px, qty) = (r.order.px, r.leaves);
                let f = FillSpec {
                    venue_order_id: r.venue_order_id,
                    px,
                    qty,
                    liquidity: Liquidity::Maker,
                };
                out(make_fill(fees, next_trade_id, &r.order, f, now));
            } else {
                i += 1;
            }
        }
    }

    /// A public trade consumes the queues at its price on the side it hit, in time priority.
    fn on_trade(&mut self, t: &Trade, now: u64, out: &mut impl FnMut(ExecReport)) {
        let Some(hit) = Side::from_code(t.aggressor).map(Side::opposite) else {
            return;
        };
        let mut used = Qty::ZERO;
        let mut i = 0;
        while i < self.resting.len() {
            let r = &mut self.resting[i];
            if r.order.meta.instrument != t.meta.instrument || r.order.side() != Some(hit) {
                i += 1;
                continue;
            }
            let qty = r
                .queue
                .on_trade(hit, r.order.px, r.leaves, t.px, t.qty, used);
            if !qty.is_positive() {
                i += 1;
                continue;
            }
            if t.px == r.order.px {
                used = used.saturating_add(qty);
            }
            r.leaves = r.leaves.saturating_sub(qty);
            let (order, venue_order_id, done) = (r.order, r.venue_order_id, r.leaves.is_zero());
            if done {
                self.resting.remove(i);
            } else {
                i += 1;
            }
            out(self.fill(&order, venue_order_id, order.px, qty, Liquidity::Maker, now));
        }
    }

    fn fill(
        &mut self,
        order: &NewOrder,
        venue_order_id: u64,
        px: Px,
        qty: Qty,
        liquidity: Liquidity,
        now: u64,
    ) -> ExecReport {
        let f = FillSpec {
            venue_order_id,
            px,
            qty,
            liquidity,
        };
        make_fill(&self.fees, &mut self.next_trade_id, order, f, now)
    }

    /// Handles one command; the reports it causes go to `out`, in venue order.
    pub fn on_command(&mut self, cmd: &OrderCommand, now: u64, out: &mut impl FnMut(ExecReport)) {
        match cmd {
            OrderCommand::New(o) => self.on_new(o, now, out),
            OrderCommand::Cancel(c) => {
                let meta = report_meta(&c.meta, now);
                match self.take_resting(c.cl_ord_id) {
                    Some(_) => out(ExecReport::CancelAck(CancelAck {
                        meta,
                        cl_ord_id: c.cl_ord_id,
                    })),
                    None => out(ExecReport::CancelReject(Reject::new(
                        meta,
                        c.cl_ord_id,
                        RejectReason::UnknownOrder,
                        -2011,
                    ))),
                }
            }
            OrderCommand::Amend(a) => {
                let meta = report_meta(&a.meta, now);
                match self
                    .resting
                    .iter_mut()
                    .find(|r| r.order.cl_ord_id == a.cl_ord_id)
                {
                    Some(r) => {
                        r.order.px = a.new_px;
                        r.leaves = a.new_qty;
                        out(ExecReport::Ack(Ack {
                            meta,
                            cl_ord_id: a.cl_ord_id,
                            venue_order_id: r.venue_order_id,
                        }));
                    }
                    None => out(ExecReport::CancelReject(Reject::new(
                        meta,
                        a.cl_ord_id,
                        RejectReason::UnknownOrder,
                        -2011,
                    ))),
                }
            }
            OrderCommand::Query(q) => {
                // A resting order reports how much of it traded; one no longer resting is
                // unknown here (this exchange keeps no history of closed orders).
                let meta = report_meta(&q.meta, now);
                let report = match self
                    .resting
                    .iter()
                    .find(|r| r.order.cl_ord_id == q.cl_ord_id)
                {
                    Some(r) => {
                        let filled = r.order.qty.saturating_sub(r.leaves);
                        let status = if filled.is_positive() {
                            OrderStatus::PartiallyFilled
                        } else {
                            OrderStatus::New
                        };
                        StatusReport::new(meta, q.cl_ord_id, r.venue_order_id, status, filled)
                    }
                    None => {
                        StatusReport::new(meta, q.cl_ord_id, 0, OrderStatus::NotFound, Qty::ZERO)
                    }
                };
                out(ExecReport::Status(report));
            }
            OrderCommand::CancelAll(c) => {
                let mut i = 0;
                while i < self.resting.len() {
                    let o = self.resting[i].order;
                    let venue_ok = o.meta.venue == c.meta.venue;
                    let inst_ok = c.meta.instrument == Meta::ALL_INSTRUMENTS
                        || c.meta.instrument == o.meta.instrument;
                    let strat_ok = c.strategy == tickwire_core::event::CancelAll::EVERY_STRATEGY
                        || o.cl_ord_id.strategy() == c.strategy;
                    if venue_ok && inst_ok && strat_ok {
                        self.resting.remove(i);
                        out(ExecReport::CancelAck(CancelAck {
                            meta: report_meta(&o.meta, now),
                            cl_ord_id: o.cl_ord_id,
                        }));
                    } else {
                        i += 1;
                    }
                }
            }
        }
    }

    fn take_resting(&mut self, id: ClientOrderId) -> Option<Resting> {
        let i = self.resting.iter().position(|r| r.order.cl_ord_id == id)?;
        Some(self.resting.remove(i))
    }

    fn on_new(&mut self, o: &NewOrder, now: u64, out: &mut impl FnMut(ExecReport)) {
        let meta = report_meta(&o.meta, now);
        let (Some(side), Some(tif), Some(order_type)) = (o.side(), o.tif(), o.order_type()) else {
            out(ExecReport::Reject(Reject::new(
                meta,
                o.cl_ord_id,
                RejectReason::InvalidOrder,
                -1100,
            )));
            return;
        };
        let Some(view) = self.markets.get(o.meta.instrument) else {
            out(ExecReport::Reject(Reject::new(
                meta,
                o.cl_ord_id,
                RejectReason::InvalidOrder,
                -1121,
            )));
            return;
        };
        // A venue trades through its own book updates: only a dead feed makes it unavailable.
        if !view.feed_ok() {
            out(ExecReport::Reject(Reject::new(
                meta,
                o.cl_ord_id,
                RejectReason::VenueUnavailable,
                -1016,
            )));
            return;
        }
        let limit = match order_type {
            OrderType::Market => None,
            OrderType::Limit => Some(o.px),
        };
        let crosses = |level_px: Px| match (side, limit) {
            (_, None) => true,
            (Side::Buy, Some(l)) => level_px <= l,
            (Side::Sell, Some(l)) => level_px >= l,
        };
        let touch = match side {
            Side::Buy => view.best_ask(),
            Side::Sell => view.best_bid(),
        };
        if tif == TimeInForce::PostOnly && touch.is_some_and(crosses) {
            out(ExecReport::Reject(Reject::new(
                meta,
                o.cl_ord_id,
                RejectReason::WouldTake,
                -2010,
            )));
            return;
        }
        let venue_order_id = self.next_order_id;
        self.next_order_id += 1;
        out(ExecReport::Ack(Ack {
            meta,
            cl_ord_id: o.cl_ord_id,
            venue_order_id,
        }));
        // Take visible liquidity level by level up to the limit.
        let mut leaves = o.qty;
        let mut fills = [(Px::ZERO, Qty::ZERO); 16];
        let mut n = 0;
        {
            let levels: &mut dyn Iterator<Item = (Px, Qty)> = match side {
                Side::Buy => &mut view.book.asks().map(|l| (l.px, l.qty)),
                Side::Sell => &mut view.book.bids().map(|l| (l.px, l.qty)),
            };
            let top_only = view.book.depth() == (0, 0);
            let mut top = view.top.map(|t| match side {
                Side::Buy => (t.ask_px, t.ask_qty),
                Side::Sell => (t.bid_px, t.bid_qty),
            });
            loop {
                if leaves.is_zero() || n == fills.len() {
                    break;
                }
                let level = if top_only { top.take() } else { levels.next() };
                let Some((px, qty)) = level else { break };
                if !px.is_positive() || !crosses(px) {
                    break;
                }
                let take = leaves.min(qty);
                fills[n] = (px, take);
                n += 1;
                leaves = leaves.saturating_sub(take);
            }
        }
        for &(px, qty) in &fills[..n] {
            out(self.fill(o, venue_order_id, px, qty, Liquidity::Taker, now));
        }
        if leaves.is_zero() {
            return;
        }
        let rests = tif == TimeInForce::Gtc || tif == TimeInForce::PostOnly;
        if rests && self.resting.len() < self.resting.capacity() {
            let queue = match self.markets.get(o.meta.instrument) {
                Some(view) => QueuePosition::join(view, side, o.px),
                None => QueuePosition::default(),
            };
            self.resting.push(Resting {
                order: *o,
                venue_order_id,
                leaves,
                queue,
            });
            return;
        }
        // IOC/FOK remainder (or no room to rest): expired, reported as a cancel.
        out(ExecReport::CancelAck(CancelAck {
            meta,
            cl_ord_id: o.cl_ord_id,
        }));
    }
}

/// One execution to report.
struct FillSpec {
    venue_order_id: u64,
    px: Px,
    qty: Qty,
    liquidity: Liquidity,
}

/// A fill report with the next trade id and its fee.
fn make_fill(
    fees: &FeeSchedule,
    next_trade_id: &mut u64,
    order: &NewOrder,
    f: FillSpec,
    now: u64,
) -> ExecReport {
    let trade_id = *next_trade_id;
    *next_trade_id += 1;
    let fee = fees.fee(f.px, f.qty, f.liquidity);
    let side = order.side().unwrap_or(Side::Buy);
    ExecReport::Fill(Fill::new(
        report_meta(&order.meta, now),
        order.cl_ord_id,
        f.venue_order_id,
        trade_id,
        side,
        f.px,
        f.qty,
        fee,
        f.liquidity,
    ))
}

/// A report's header: the order's venue and instrument and latency stamps, received `now`.
fn report_meta(order_meta: &Meta, now: u64) -> Meta {
    let mut meta = Meta::new(order_meta.venue, order_meta.instrument, now);
    meta.stamps.parsed_ns = now;
    meta
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickwire_core::event::TopOfBook;
    use tickwire_core::ids::{InstrumentId, StrategyId, VenueId};

    fn px(s: &str) -> Px {
        Px::parse_signed(s).expect("literal")
    }
    fn qty(s: &str) -> Qty {
        Qty::parse(s).expect("literal")
    }
    fn spec() -> InstrumentSpec {
        InstrumentSpec {
            id: InstrumentId(0),
            venue: VenueId::SYNTHETIC,
            symbol: "SYN".into(),
            tick: px("0.1"),
            lot: qty("0.001"),
            min_qty: qty("0.001"),
            min_notional: Px::ZERO,
        }
    }
    fn meta() -> Meta {
        Meta::new(VenueId::SYNTHETIC, InstrumentId(0), 1)
    }
    fn top(bid: &str, ask: &str) -> MarketEvent {
        MarketEvent::Top(TopOfBook {
            meta: meta(),
            bid_px: px(bid),
            bid_qty: qty("1"),
            ask_px: px(ask),
            ask_qty: qty("1"),
            update_id: 1,
        })
    }
    fn order(seq: u64, side: Side, p: &str, q: &str, tif: TimeInForce) -> OrderCommand {
        OrderCommand::New(NewOrder::new(
            meta(),
            ClientOrderId::new(StrategyId(0), seq).expect("id"),
            side,
            OrderType::Limit,
            tif,
            px(p),
            qty(q),
        ))
    }
    fn run(x: &mut SimExchange, cmd: &OrderCommand) -> Vec<ExecReport> {
        let mut v = Vec::new();
        x.on_command(cmd, 5, &mut |r| v.push(r));
        v
    }

    #[test]
    fn taker_fill_rest_then_maker_fill_with_fees() {
        let fees = FeeSchedule {
            maker_ppb: -100_000,
            taker_ppb: 500_000,
        };
        let mut x = SimExchange::new(&[spec()], fees, 8);
        x.on_market(&top("100", "100.1"), 1, &mut |_| panic!("no orders yet"));
        // Buy 1.5 at 100.1: takes the 1.0 visible at the ask, rests 0.5.
        let r = run(
            &mut x,
            &order(1, Side::Buy, "100.1", "1.5", TimeInForce::Gtc),
        );
        assert!(matches!(r[0], ExecReport::Ack(_)));
        let ExecReport::Fill(f) = r[1] else {
            panic!("expected a fill: {r:?}")
        };
        assert_eq!((f.px, f.qty), (px("100.1"), qty("1")));
        assert_eq!(f.fee, px("0.05005"), "5 bp of 100.1");
        assert_eq!(x.resting(), 1);
        // The ask comes down to our resting bid: maker fill at our price, with the rebate.
        let mut got = Vec::new();
        x.on_market(&top("99.9", "100.2"), 2, &mut |r| got.push(r));
        assert!(got.is_empty());
        x.on_market(&top("99.9", "100.1"), 3, &mut |r| got.push(r));
        let [ExecReport::Fill(m)] = got[..] else {
            panic!("expected one maker fill: {got:?}")
        };
        assert_eq!(
            (m.px, m.qty, m.fee),
            (px("100.1"), qty("0.5"), px("-0.005005"))
        );
        assert_eq!(x.resting(), 0);
    }

    #[test]
    fn post_only_cross_rejected_ioc_remainder_cancelled_unknown_cancel_rejected() {
        let mut x = SimExchange::new(&[spec()], FeeSchedule::default(), 8);
        x.on_market(&top("100", "100.1"), 1, &mut |_| {});
        let r = run(
            &mut x,
            &order(1, Side::Buy, "100.1", "1", TimeInForce::PostOnly),
        );
        assert!(
            matches!(r[..], [ExecReport::Reject(j)] if j.reason() == Some(RejectReason::WouldTake))
        );
        let r = run(&mut x, &order(2, Side::Sell, "100", "3", TimeInForce::Ioc));
        assert!(matches!(
            r[..],
            [
                ExecReport::Ack(_),
                ExecReport::Fill(_),
                ExecReport::CancelAck(_)
            ]
        ));
        let cancel = OrderCommand::Cancel(tickwire_core::event::CancelOrder {
            meta: meta(),
            cl_ord_id: ClientOrderId::new(StrategyId(0), 2).expect("id"),
        });
        let r = run(&mut x, &cancel);
        assert!(matches!(r[..], [ExecReport::CancelReject(_)]));
    }
}
