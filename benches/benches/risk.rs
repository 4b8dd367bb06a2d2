//! Pre-trade risk cost per order decision: the engine's whole order path (market update →
//! strategy → `Ctx::place` → new-order command; then the venue's cancel ack frees the slot),
//! with every limit configured, against the same path with the pre-trade checks turned off,
//! measured in the same run. The difference of the two is what risk adds to a decision.
//!
//! `cargo bench -p tickwire-benches --bench risk -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tickwire_core::engine::{Ctx, Engine, EngineConfig, Strategy};
use tickwire_core::event::{
    CancelAck, ExecReport, Input, MarketEvent, Meta, OrderCommand, OrderType, Output, Side,
    TimeInForce, TopOfBook,
};
use tickwire_core::ids::{InstrumentId, VenueId};
use tickwire_core::num::{InstrumentSpec, Px, Qty};
use tickwire_core::order::OrderRequest;
use tickwire_core::risk::{RateBudget, RiskConfig};

fn px(s: &str) -> Px {
    Px::parse(s).expect("literal")
}
fn qty(s: &str) -> Qty {
    Qty::parse(s).expect("literal")
}

/// Places one bid a tick under the touch on every book update.
struct Quoter;

impl Strategy for Quoter {
    fn name(&self) -> &str {
        "quoter"
    }
    fn on_book(&mut self, ctx: &mut Ctx<'_>, instrument: InstrumentId) {
        let Some(bid) = ctx.market(instrument).and_then(|m| m.best_bid()) else {
            return;
        };
        let req = OrderRequest {
            instrument,
            side: Side::Buy,
            px: Px::from_raw(bid.raw() - px("0.1").raw()),
            qty: qty("0.01"),
            order_type: OrderType::Limit,
            tif: TimeInForce::Gtc,
        };
        let r = ctx.place(req);
        debug_assert!(r.is_ok(), "{r:?}");
        let _ = black_box(r);
    }
}

fn engine(checks: bool) -> Engine {
    let spec = InstrumentSpec {
        id: InstrumentId(0),
        venue: VenueId::OKX,
        symbol: "BTC-USDT".into(),
        tick: px("0.1"),
        lot: qty("0.0001"),
        min_qty: qty("0.0001"),
        min_notional: Px::ZERO,
    };
    let mut e = Engine::new(
        &EngineConfig {
            instruments: vec![spec],
            max_open_orders: 64,
            book_depth: 16,
            fill_memory: 1024,
        },
        vec![Box::new(Quoter)],
    );
    // Every check armed, none binding.
    let mut cfg = RiskConfig::permissive(1);
    let l = &mut cfg.instruments[0];
    l.max_order_qty = Some(qty("1"));
    l.max_order_notional = Some(px("1000000"));
    l.price_band_bps = Some(500);
    l.max_position = Some(qty("100"));
    l.max_open_orders = Some(32);
    cfg.max_venue_notional = Some(px("100000000"));
    cfg.max_global_notional = Some(px("100000000"));
    cfg.rate = Some(RateBudget {
        per_sec: 1_000_000,
        burst: 1_000_000,
    });
    e.set_risk(cfg);
    e.risk_mut().set_pre_trade_checks(checks);
    e
}

/// One decision: a top-of-book update that makes the strategy place, then the cancel ack that
/// closes the order again (so every iteration sees the same state).
fn decide(e: &mut Engine, t: &mut u64) {
    *t += 1_000;
    let top = Input::Market(MarketEvent::Top(TopOfBook {
        meta: Meta::new(VenueId::OKX, InstrumentId(0), *t),
        bid_px: px("60000"),
        bid_qty: qty("1"),
        ask_px: px("60000.1"),
        ask_qty: qty("1"),
        update_id: *t,
    }));
    let id = match e.process(&top).first() {
        Some(Output::Command(OrderCommand::New(n))) => n.cl_ord_id,
        other => panic!("expected a new order, got {other:?}"),
    };
    *t += 1_000;
    let ack = Input::Exec(ExecReport::CancelAck(CancelAck {
        meta: Meta::new(VenueId::OKX, InstrumentId(0), *t),
        cl_ord_id: id,
    }));
    black_box(e.process(&ack).len());
}

fn risk(c: &mut Criterion) {
    let mut g = c.benchmark_group("risk/order-decision");
    g.throughput(Throughput::Elements(1));
    for (name, checks) in [("checks off (baseline)", false), ("all checks on", true)] {
        let mut e = engine(checks);
        let mut t = 1_000_000_000u64;
        g.bench_function(name, |b| b.iter(|| decide(&mut e, &mut t)));
        let (checked, refused) = e.risk().counts();
        assert_eq!(refused, 0, "the bench must not measure refusals");
        assert_eq!(checked > 0, checks);
    }
    g.finish();
}

criterion_group!(benches, risk);
criterion_main!(benches);
