//! Strategy metrics on a constructed fill sequence: every figure checked exactly.

use crate::support;

use rust_decimal::Decimal;
use support::*;
use tickwire_core::engine::{Ctx, Strategy};
use tickwire_core::event::{Fill, OrderType, OrderUpdate, Side, TimeInForce};
use tickwire_core::ids::{InstrumentId, VenueId};
use tickwire_core::metrics::StrategyMetrics;
use tickwire_core::num::{Px, Qty};
use tickwire_core::order::OrderRequest;
use tickwire_strategies::metrics::{Tracker, table};

const MS: u64 = 1_000_000;
const S: u64 = 1_000 * MS;

/// Places the next scripted order (side, decision price, limit, quantity, tif) on each book
/// update while it has no open order, and tracks itself.
struct Scripted {
    script: Vec<(Side, Px, Px, Qty, TimeInForce)>,
    next: usize,
    tracker: Tracker,
}

impl Strategy for Scripted {
    fn name(&self) -> &str {
        "scripted"
    }
    fn on_book(&mut self, ctx: &mut Ctx<'_>, instrument: InstrumentId) {
        self.tracker.mark(ctx);
        if ctx.open_orders().next().is_some() || self.next == self.script.len() {
            return;
        }
        let (side, decision, limit, q, tif) = self.script[self.next];
        self.next += 1;
        let req = OrderRequest {
            instrument,
            side,
            px: limit,
            qty: q,
            order_type: OrderType::Limit,
            tif,
        };
        let id = ctx.place(req).expect("valid order");
        self.tracker.placed(id, decision);
    }
    fn on_fill(&mut self, ctx: &mut Ctx<'_>, fill: &Fill) {
        self.tracker.on_fill(ctx, fill);
    }
    fn on_order_update(&mut self, _ctx: &mut Ctx<'_>, update: &OrderUpdate) {
        self.tracker.on_update(update);
    }
    fn metrics(&self) -> Option<StrategyMetrics> {
        Some(self.tracker.snapshot())
    }
}

fn dec(s: &str) -> Decimal {
    s.parse().expect("literal")
}

fn run() -> StrategyMetrics {
    let s = spec(0, VenueId::OKX, "SOL-USDT", "0.01", "0.001");
    let gtc = TimeInForce::Gtc;
    let script = vec![
        (Side::Buy, px("100.1"), px("100.2"), qty("1"), gtc),
        (Side::Sell, px("110"), px("109.8"), qty("1"), gtc),
        (Side::Buy, px("105.05"), px("105.3"), qty("2"), gtc),
        (Side::Sell, px("103"), px("102.9"), qty("1"), gtc),
        (
            Side::Buy,
            px("106.2"),
            px("106.2"),
            qty("1"),
            TimeInForce::Ioc,
        ),
    ];
    let strat = Scripted {
        script,
        next: 0,
        tracker: Tracker::new(&[s.id], S),
    };
    let mut e = engine(std::slice::from_ref(&s), vec![Box::new(strat)]);
    // (book time, bid, ask, fill price, fee); each order fills 100 ms after it is placed.
    let steps = [
        (1, "100", "100.1", Some(("100.15", "0.1"))),
        (2, "110", "110.2", Some(("109.9", "0.1"))),
        (3, "105", "105.2", Some(("105", "0.2"))),
        (4, "103", "103.2", Some(("102.95", "0.1"))),
        (5, "106", "106.2", None),
    ];
    for (k, (t, bid, ask, fill_at)) in steps.into_iter().enumerate() {
        let out = e.process(&top(&s, t * S, bid, "10", ask, "10")).to_vec();
        let n = news(&out);
        assert_eq!(n.len(), 1, "{out:?}");
        let later = t * S + 100 * MS;
        match fill_at {
            Some((p, fee)) => {
                let q = n[0].qty.to_string();
                e.process(&fill(&s, later, &n[0], k as u64, p, &q, fee));
            }
            None => {
                e.process(&cancel_ack(&s, later, n[0].cl_ord_id));
            }
        }
    }
    let (name, m) = e.strategy_metrics().next().expect("one strategy");
    assert_eq!(name, "scripted");
    m.expect("tracked")
}

#[test]
fn metrics_are_exact_on_a_constructed_fill_sequence() {
    let m = run();
    // Fills: buy 1 @100.15, sell 1 @109.9 (+9.75), buy 2 @105, sell 1 @102.95 (−2.05).
    assert_eq!(m.realized, dec("7.7"));
    assert_eq!(m.fees, dec("0.5"));
    // 1 left at 105, marked at the last mid 106.1.
    assert_eq!(m.unrealized, dec("1.1"));
    assert_eq!(m.net(), dec("8.3"));
    assert_eq!((m.trades, m.wins, m.losses), (4, 1, 1));
    assert_eq!((m.orders_placed, m.orders_filled), (5, 4));
    assert_eq!(m.fill_rate(), Some(0.8));
    assert_eq!(m.win_rate(), Some(0.5));
    // Slippage (cost positive): +0.05, +0.1, 2 × −0.05 (bought below the decision), +0.05.
    assert_eq!(m.slippage, dec("0.1"));
    // Net P&L at marks and fills: 0, −0.2, 9.85 (peak), 9.55, 9.55, 5.55, 5.3 (trough), 8.3.
    assert_eq!(m.max_drawdown, dec("4.55"));
    // Interval returns (one per second of marks): 9.85, −0.3, −4, 2.75.
    let r = [9.85f64, -0.3, -4.0, 2.75];
    let mean = r.iter().sum::<f64>() / 4.0;
    let sd = (r.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 3.0).sqrt();
    assert_eq!(m.intervals, 4);
    let sharpe = m.sharpe.expect("four intervals");
    assert!(
        (sharpe - mean / sd).abs() < 1e-12,
        "{sharpe} vs {}",
        mean / sd
    );
    // In the market 1.1 s → 2.1 s and 3.1 s → 5 s of the 4 s observed.
    assert_eq!((m.time_in_market_ns, m.elapsed_ns), (2_900 * MS, 4 * S));
}

#[test]
fn same_inputs_same_metrics_and_a_printable_table() {
    let (a, b) = (run(), run());
    assert_eq!(a, b);
    let t = table(&[("scripted", a), ("idle", StrategyMetrics::default())]);
    let lines: Vec<&str> = t.lines().collect();
    assert_eq!(lines.len(), 3, "{t}");
    assert!(
        lines[0].starts_with("strategy") && lines[0].contains("max_dd"),
        "{t}"
    );
    assert!(
        lines[1].starts_with("scripted") && lines[1].contains("8.3"),
        "{t}"
    );
    assert!(
        lines[1].contains("80.0%") && lines[1].contains("50.0%"),
        "{t}"
    );
    assert!(
        lines[2].starts_with("idle") && lines[2].contains(" - "),
        "{t}"
    );
    // Columns line up: every line is as wide as the header.
    assert!(lines.iter().all(|l| l.len() == lines[0].len()), "{t}");
}
