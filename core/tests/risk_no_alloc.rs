//! Risk on the order path allocates nothing: pre-trade checks (accepted and refused), the
//! aggregates, timer checks with status publishing, and the kill switch's flattener. Counted by
//! a global allocator, in its own test binary with a single test.

use tickwire_core::engine::StatusPort;
use tickwire_core::engine::{Ctx, Engine, EngineConfig, Strategy};
use tickwire_core::event::{
    CancelAck, CancelAll, ExecReport, Fill, Input, Liquidity, MarketEvent, Meta, OperatorAction,
    OperatorCmd, OrderCommand, OrderType, Output, Side, TimeInForce, TimerTick, TopOfBook,
};
use tickwire_core::ids::{InstrumentId, StrategyId, VenueId};
use tickwire_core::num::{InstrumentSpec, Px, Qty};
use tickwire_core::order::OrderRequest;
use tickwire_core::ring::channel;
use tickwire_core::risk::{RateBudget, RiskConfig};
use tickwire_testkit::alloc::{CountingAlloc, allocations};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

fn px(s: &str) -> Px {
    Px::parse(s).expect("literal")
}
fn qty(s: &str) -> Qty {
    Qty::parse(s).expect("literal")
}

/// On every book update: one bid inside the band, and one far outside it (refused).
struct Quoter;

impl Strategy for Quoter {
    fn name(&self) -> &str {
        "quoter"
    }
    fn on_book(&mut self, ctx: &mut Ctx<'_>, instrument: InstrumentId) {
        let Some(bid) = ctx.market(instrument).and_then(|m| m.best_bid()) else {
            return;
        };
        for p in [bid, Px::from_raw(bid.raw() / 2)] {
            let _ = ctx.place(OrderRequest {
                instrument,
                side: Side::Buy,
                px: p,
                qty: qty("0.01"),
                order_type: OrderType::Limit,
                tif: TimeInForce::Gtc,
            });
        }
    }
}

#[test]
fn risk_paths_allocate_nothing() {
    let before = allocations();
    drop(std::hint::black_box(vec![1u8; 64]));
    assert!(allocations() > before, "the counter works");

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
            fill_memory: 4096,
        },
        vec![Box::new(Quoter)],
    );
    let mut cfg = RiskConfig::permissive(1);
    let l = &mut cfg.instruments[0];
    l.max_order_qty = Some(qty("1"));
    l.max_order_notional = Some(px("1000000"));
    l.price_band_bps = Some(500);
    l.max_position = Some(qty("1000"));
    l.max_open_orders = Some(32);
    cfg.max_venue_notional = Some(px("100000000"));
    cfg.max_global_notional = Some(px("100000000"));
    cfg.daily_loss_soft = Some(px("1000000"));
    cfg.rate = Some(RateBudget {
        per_sec: 1_000_000,
        burst: 1_000_000,
    });
    cfg.flatten.max_orders = 1_000_000;
    e.set_risk(cfg);
    let (status_tx, mut status_rx) = channel(1 << 16);
    e.attach_status(StatusPort::new(status_tx, 1));
    let (alert_tx, mut alert_rx) = channel(1 << 16);
    e.attach_alerts(alert_tx);

    let mut t = 1_000_000_000u64;
    let mut trade = 0u64;
    let meta = |t| Meta::new(VenueId::OKX, InstrumentId(0), t);
    let round = |e: &mut Engine, t: &mut u64, trade: &mut u64, n: u64| {
        *t += 1_000_000;
        let top = Input::Market(MarketEvent::Top(TopOfBook {
            meta: meta(*t),
            bid_px: px("60000"),
            bid_qty: qty("1"),
            ask_px: px("60000.1"),
            ask_qty: qty("1"),
            update_id: *t,
        }));
        let placed: Option<Output> = e.process(&top).first().copied();
        if let Some(Output::Command(OrderCommand::New(o))) = placed {
            *t += 1_000;
            *trade += 1;
            // Half the orders fill (moving the position), the others are cancelled.
            let report = if n.is_multiple_of(2) {
                ExecReport::Fill(Fill::new(
                    meta(*t),
                    o.cl_ord_id,
                    1,
                    *trade,
                    Side::Buy,
                    o.px,
                    o.qty,
                    Px::ZERO,
                    Liquidity::Maker,
                ))
            } else {
                ExecReport::CancelAck(CancelAck {
                    meta: meta(*t),
                    cl_ord_id: o.cl_ord_id,
                })
            };
            e.process(&Input::Exec(report));
        }
        if n.is_multiple_of(10) {
            let tick = Input::Timer(TimerTick {
                meta: Meta::new(VenueId::SYNTHETIC, Meta::ALL_INSTRUMENTS, *t),
                tick: n,
            });
            e.process(&tick);
        }
    };
    for n in 0..100 {
        round(&mut e, &mut t, &mut trade, n);
    }
    let start = allocations();
    for n in 100..2100 {
        round(&mut e, &mut t, &mut trade, n);
    }
    assert_eq!(allocations() - start, 0, "order path allocated");
    let (checks, refused) = e.risk().counts();
    assert!(
        checks >= 4200 && refused >= 2100,
        "{checks} checks, {refused} refused"
    );

    // The kill switch: flatten the accumulated long with IOC orders that fill in parts.
    let start = allocations();
    t += 1_000_000;
    let kill = OperatorCmd::new(
        Meta::new(VenueId::SYNTHETIC, Meta::ALL_INSTRUMENTS, t),
        CancelAll::EVERY_STRATEGY,
        OperatorAction::Kill,
    );
    let mut pending: Option<Output> = e
        .process(&Input::Operator(kill))
        .iter()
        .copied()
        .find(|o| matches!(o, Output::Command(OrderCommand::New(_))));
    for n in 0..2000u64 {
        if let Some(Output::Command(OrderCommand::New(o))) = pending.take() {
            t += 1_000;
            trade += 1;
            let part = Qty::from_raw(o.qty.raw().min(qty("0.05").raw()));
            let f = ExecReport::Fill(Fill::new(
                meta(t),
                o.cl_ord_id,
                1,
                trade,
                Side::Sell,
                o.px,
                part,
                Px::ZERO,
                Liquidity::Taker,
            ));
            e.process(&Input::Exec(f));
            if e.orders().get(o.cl_ord_id).is_some() {
                let c = ExecReport::CancelAck(CancelAck {
                    meta: meta(t),
                    cl_ord_id: o.cl_ord_id,
                });
                e.process(&Input::Exec(c));
            }
        }
        t += 1_000_000_000;
        let tick = Input::Timer(TimerTick {
            meta: Meta::new(VenueId::SYNTHETIC, Meta::ALL_INSTRUMENTS, t),
            tick: 10_000 + n,
        });
        pending = e
            .process(&tick)
            .iter()
            .copied()
            .find(|o| matches!(o, Output::Command(OrderCommand::New(_))));
        if e.position(StrategyId(0), InstrumentId(0)).is_zero() {
            break;
        }
    }
    assert_eq!(allocations() - start, 0, "flattener allocated");
    assert!(
        e.position(StrategyId(0), InstrumentId(0)).is_zero(),
        "flattened"
    );
    assert!(status_rx.try_pop().is_some(), "status rows were published");
    assert!(alert_rx.try_pop().is_some(), "alert copies were published");
}
