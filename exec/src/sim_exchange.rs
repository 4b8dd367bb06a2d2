//! The in-process exchange: answers order commands against the market it is fed, with the one
//! matching engine (`tickwire-matching`).
//!
//! It lets the engine trade with no venue (synthetic runs, tests) and, fed a venue's real
//! (live or simulated) market data, it is the paper-trading exchange (`paper = true`): orders
//! never leave the process. Paper, the synthetic runs and the backtest share one fill model:
//!
//! - **Taker, with market impact**: an order that crosses takes the visible opposite levels up
//!   to its limit, level by level, and what it took stays taken in the exchange's view until
//!   the feed rewrites that level.
//! - **Maker, queue position**: a resting order joins behind the quantity visible at its price
//!   (and our own earlier orders there). Public trades at its price consume the queue ahead
//!   first, then fill it; a trade through its price fills it for at most the trade's
//!   quantity. A level that shrinks shortens the queue ahead. The opposite side reaching its
//!   price fills it against the visible quantity, a level exactly at its price only after
//!   the queue ahead.
//! - GTC, IOC, FOK, post-only and market orders; fees per fill on notional.
//!
//! Everything is a pure function of the market events and commands in order: deterministic.
//! This module only translates: the core's order commands into engine orders, its market
//! events into the engine's book and trade inputs, and the engine's events into execution
//! reports — `New` → ack, `Trade` → fill, `Canceled` and `Expired` (an IOC/FOK/market
//! remainder) → cancel ack, `Amended` → ack.

use tickwire_core::event::{
    Ack, CancelAck, ExecReport, Fill, Liquidity, MarketEvent, Meta, NewOrder, OrderCommand,
    OrderStatus, OrderType, Reject, RejectReason, Side, StatusReport, TimeInForce,
};
use tickwire_core::ids::{ClientOrderId, InstrumentId};
use tickwire_core::market::Markets;
use tickwire_core::num::{InstrumentSpec, Qty};
use tickwire_matching::{Engine, EngineConfig, Event, EventKind, Kind, OrderSpec, Tif};

/// Fee rates in parts per billion of notional (1 bp = 100 000 ppb; negative is a rebate).
pub use tickwire_matching::Fees as FeeSchedule;

/// Book levels reserved per instrument for the exchange's own view of the market.
const BOOK_DEPTH: usize = 64;

/// The in-process exchange.
pub struct SimExchange {
    markets: Markets,
    engine: Engine,
}

impl SimExchange {
    /// An exchange for `instruments`, holding at most `max_resting` open orders.
    pub fn new(instruments: &[InstrumentSpec], fees: FeeSchedule, max_resting: usize) -> Self {
        Self {
            markets: Markets::new(instruments, BOOK_DEPTH),
            engine: Engine::new(EngineConfig {
                instruments: instruments.to_vec(),
                max_orders: max_resting,
                fees,
            }),
        }
    }

    /// Starts venue order and trade ids at `base` + 1. A venue's trade ids never repeat; an
    /// exchange started again in a later session of the same journal must not repeat the ids
    /// of an earlier one either, or the engine would take its fills for duplicates.
    pub fn start_ids_at(&mut self, base: u64) {
        self.engine.start_ids_at(base);
    }

    /// Number of open (resting) orders.
    pub fn resting(&self) -> usize {
        self.engine.open_count()
    }

    /// Queue position of a resting order (None if it is not resting).
    pub fn queue_ahead(&self, id: ClientOrderId) -> Option<Qty> {
        self.engine
            .open_orders()
            .find(|o| o.client == id.0)
            .map(|o| o.queue_ahead)
    }

    /// Feeds market data; resting orders that trades or the book now reach fill as maker.
    pub fn on_market(&mut self, ev: &MarketEvent, now: u64, out: &mut impl FnMut(ExecReport)) {
        self.markets.apply(ev, now);
        let id = ev.meta().instrument;
        let Self { markets, engine } = self;
        let mut sink = |e: &Event| report(markets, e, now, out);
        if let MarketEvent::Trade(t) = ev {
            // An unknown aggressor side lets the trade reach resting orders of either side.
            let taker = Side::from_code(t.aggressor);
            engine.on_trade(id, t.px, t.qty, taker, now, &mut sink);
            return;
        }
        let Some(view) = markets.get(id) else {
            return;
        };
        // Mid-batch the book is half-updated: wait for the batch to end before matching.
        if view.is_healthy() {
            engine.on_book(id, view, now, &mut sink);
        }
    }

    /// Handles one command; the reports it causes go to `out`, in venue order.
    pub fn on_command(&mut self, cmd: &OrderCommand, now: u64, out: &mut impl FnMut(ExecReport)) {
        match cmd {
            OrderCommand::New(o) => self.on_new(o, now, out),
            OrderCommand::Cancel(c) => {
                let Some((oid, inst)) = self.open(c.cl_ord_id) else {
                    out(unknown_order(&c.meta, c.cl_ord_id, now));
                    return;
                };
                let Self { markets, engine } = self;
                let Some(view) = markets.get(inst) else {
                    out(unknown_order(&c.meta, c.cl_ord_id, now));
                    return;
                };
                let done = engine.cancel(oid, view, now, &mut |e| report(markets, e, now, out));
                if done.is_err() {
                    out(unknown_order(&c.meta, c.cl_ord_id, now));
                }
            }
            OrderCommand::Amend(a) => {
                let Some((oid, inst)) = self.open(a.cl_ord_id) else {
                    out(unknown_order(&a.meta, a.cl_ord_id, now));
                    return;
                };
                let Self { markets, engine } = self;
                let Some(view) = markets.get(inst) else {
                    out(unknown_order(&a.meta, a.cl_ord_id, now));
                    return;
                };
                let r = engine.amend(oid, Some(a.new_qty), Some(a.new_px), view, now, &mut |e| {
                    report(markets, e, now, out)
                });
                if r.is_err() {
                    // Refused amends leave the order as it was (the core keeps it working).
                    out(ExecReport::CancelReject(Reject::new(
                        report_meta(&a.meta, now),
                        a.cl_ord_id,
                        RejectReason::InvalidOrder,
                        -2038,
                    )));
                }
            }
            OrderCommand::Query(q) => {
                // An open order reports how much of it traded; one no longer open is unknown
                // here (this exchange keeps no history of closed orders).
                let meta = report_meta(&q.meta, now);
                let found = self
                    .engine
                    .open_orders()
                    .find(|o| o.client == q.cl_ord_id.0);
                let report = match found {
                    Some(o) => {
                        let status = if o.filled.is_positive() {
                            OrderStatus::PartiallyFilled
                        } else {
                            OrderStatus::New
                        };
                        StatusReport::new(meta, q.cl_ord_id, o.id, status, o.filled)
                    }
                    None => {
                        StatusReport::new(meta, q.cl_ord_id, 0, OrderStatus::NotFound, Qty::ZERO)
                    }
                };
                out(ExecReport::Status(report));
            }
            OrderCommand::CancelAll(c) => {
                let every_strategy = c.strategy == tickwire_core::event::CancelAll::EVERY_STRATEGY;
                // One at a time: cancelling changes the table being searched.
                loop {
                    let Self { markets, engine } = self;
                    let next = engine.open_orders().find(|o| {
                        let venue = markets.get(o.instrument).map(|v| v.spec.venue);
                        let inst_ok = c.meta.instrument == Meta::ALL_INSTRUMENTS
                            || c.meta.instrument == o.instrument;
                        let strat_ok =
                            every_strategy || ClientOrderId(o.client).strategy() == c.strategy;
                        venue == Some(c.meta.venue) && inst_ok && strat_ok
                    });
                    let Some((oid, inst)) = next.map(|o| (o.id, o.instrument)) else {
                        break;
                    };
                    let Some(view) = markets.get(inst) else {
                        break;
                    };
                    if engine
                        .cancel(oid, view, now, &mut |e| report(markets, e, now, out))
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
    }

    /// The engine id and instrument of an open order.
    fn open(&self, id: ClientOrderId) -> Option<(u64, InstrumentId)> {
        self.engine
            .open_orders()
            .find(|o| o.client == id.0)
            .map(|o| (o.id, o.instrument))
    }

    fn on_new(&mut self, o: &NewOrder, now: u64, out: &mut impl FnMut(ExecReport)) {
        let meta = report_meta(&o.meta, now);
        let reject =
            |reason, code| ExecReport::Reject(Reject::new(meta, o.cl_ord_id, reason, code));
        let (Some(side), Some(tif), Some(order_type)) = (o.side(), o.tif(), o.order_type()) else {
            out(reject(RejectReason::InvalidOrder, -1100));
            return;
        };
        let Self { markets, engine } = self;
        let Some(view) = markets.get(o.meta.instrument) else {
            out(reject(RejectReason::InvalidOrder, -1121));
            return;
        };
        // A venue trades through its own book updates: only a dead feed makes it unavailable.
        if !view.feed_ok() {
            out(reject(RejectReason::VenueUnavailable, -1016));
            return;
        }
        let (kind, tif) = match (order_type, tif) {
            (OrderType::Market, _) => (Kind::Market, Tif::Ioc),
            (OrderType::Limit, TimeInForce::PostOnly) => (Kind::PostOnly, Tif::Gtc),
            (OrderType::Limit, TimeInForce::Gtc) => (Kind::Limit, Tif::Gtc),
            (OrderType::Limit, TimeInForce::Ioc) => (Kind::Limit, Tif::Ioc),
            (OrderType::Limit, TimeInForce::Fok) => (Kind::Limit, Tif::Fok),
        };
        let spec = OrderSpec {
            instrument: o.meta.instrument,
            client: o.cl_ord_id.0,
            side,
            kind,
            tif,
            px: o.px,
            qty: o.qty,
        };
        let placed = engine.place(&spec, view, now, &mut |e| report(markets, e, now, out));
        if let Err(r) = placed {
            use tickwire_matching::Reject as R;
            // Binance's codes for the same refusals, so logs read like the venue's.
            let (reason, code) = match r {
                R::WouldTake => (RejectReason::WouldTake, -2010),
                R::TableFull | R::NoLiquidity => (RejectReason::Other, -2010),
                R::UnknownInstrument => (RejectReason::InvalidOrder, -1121),
                R::PriceFilter | R::LotSize | R::MinNotional | R::UnknownOrder | R::BadAmend => {
                    (RejectReason::InvalidOrder, -1013)
                }
            };
            out(reject(reason, code));
        }
    }
}

/// The execution report of one engine event.
fn report(markets: &Markets, e: &Event, now: u64, out: &mut impl FnMut(ExecReport)) {
    let o = &e.order;
    let venue = markets
        .get(o.instrument)
        .map_or(tickwire_core::ids::VenueId::SYNTHETIC, |v| v.spec.venue);
    let mut meta = Meta::new(venue, o.instrument, now);
    meta.stamps.parsed_ns = now;
    let cl_ord_id = ClientOrderId(o.client);
    match e.kind {
        EventKind::New | EventKind::Amended => out(ExecReport::Ack(Ack {
            meta,
            cl_ord_id,
            venue_order_id: o.id,
        })),
        EventKind::Trade => {
            if let Some(f) = e.fill {
                let liquidity = if f.maker {
                    Liquidity::Maker
                } else {
                    Liquidity::Taker
                };
                out(ExecReport::Fill(Fill::new(
                    meta, cl_ord_id, o.id, f.trade_id, f.side, f.px, f.qty, f.fee, liquidity,
                )));
            }
        }
        EventKind::Canceled | EventKind::Expired => {
            out(ExecReport::CancelAck(CancelAck { meta, cl_ord_id }))
        }
    }
}

/// A refusal for a command naming an order that is not open here.
fn unknown_order(order_meta: &Meta, id: ClientOrderId, now: u64) -> ExecReport {
    ExecReport::CancelReject(Reject::new(
        report_meta(order_meta, now),
        id,
        RejectReason::UnknownOrder,
        -2011,
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
    use tickwire_core::ids::{StrategyId, VenueId};
    use tickwire_core::num::Px;

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
        // The ask moves away, then comes back down to our resting bid (a new quantity, so our
        // earlier taking no longer shows): a maker fill at our price, with the rebate.
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

    #[test]
    fn off_grid_orders_are_refused_and_fok_is_all_or_nothing() {
        let mut x = SimExchange::new(&[spec()], FeeSchedule::default(), 8);
        x.on_market(&top("100", "100.1"), 1, &mut |_| {});
        let r = run(
            &mut x,
            &order(1, Side::Buy, "100.05", "1", TimeInForce::Gtc),
        );
        assert!(
            matches!(r[..], [ExecReport::Reject(j)] if j.reason() == Some(RejectReason::InvalidOrder)),
            "{r:?}"
        );
        // 2 wanted, 1 visible: killed without a fill.
        let r = run(&mut x, &order(2, Side::Buy, "100.1", "2", TimeInForce::Fok));
        assert!(
            matches!(r[..], [ExecReport::Ack(_), ExecReport::CancelAck(_)]),
            "{r:?}"
        );
    }
}
