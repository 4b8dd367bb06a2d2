//! Booking fills allocates nothing: the ledger alone, and the engine's whole fill path (dedup,
//! position, ledger, order state, outputs). Counted by a global allocator, in its own test
//! binary with a single test so no other test's allocations land in the count.

use tickwire_core::accounting::{Fee, FeeAsset, Ledger, LedgerFill};
use tickwire_core::engine::{Engine, EngineConfig};
use tickwire_core::event::{
    ExecReport, Fill, Input, Liquidity, Meta, NewOrder, OrderCommand, OrderType, Output, Record,
    Side, TimeInForce,
};
use tickwire_core::ids::{ClientOrderId, InstrumentId, StrategyId, VenueId};
use tickwire_core::num::{InstrumentSpec, Px, Qty};
use tickwire_testkit::alloc::{CountingAlloc, allocations};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

fn spec() -> InstrumentSpec {
    InstrumentSpec {
        id: InstrumentId(0),
        venue: VenueId::OKX,
        symbol: "BTC-USDT".into(),
        tick: Px::parse("0.1").expect("tick"),
        lot: Qty::parse("0.0001").expect("lot"),
        min_qty: Qty::parse("0.0001").expect("min"),
        min_notional: Px::ZERO,
    }
}

#[test]
fn booking_fills_allocates_nothing() {
    let before = allocations();
    drop(std::hint::black_box(vec![1u8; 64]));
    assert!(allocations() > before, "the counter works");

    // The ledger alone, through opens, reductions, flips and non-quote fees.
    let mut ledger = Ledger::new(&[spec()], 2);
    let fills: Vec<LedgerFill> = (0..1000i64)
        .map(|i| LedgerFill {
            instrument: InstrumentId(0),
            side: if i % 3 == 0 { Side::Sell } else { Side::Buy },
            px: Px::from_raw(60_000_000_000_000 + i * 100_000_000),
            qty: Qty::from_raw(1_000_000 + (i % 7) * 100_000),
            fee: Fee {
                amount: rust_decimal::Decimal::new(i % 5 - 1, 6),
                asset: if i % 11 == 0 {
                    FeeAsset::Other(7)
                } else {
                    FeeAsset::Quote
                },
            },
            liquidity: if i % 2 == 0 {
                Liquidity::Maker
            } else {
                Liquidity::Taker
            },
        })
        .collect();
    let start = allocations();
    for (i, f) in fills.iter().enumerate() {
        ledger.apply(Some(StrategyId((i % 2) as u16)), f);
    }
    assert_eq!(allocations() - start, 0, "ledger allocated");
    assert_eq!(
        ledger
            .account(StrategyId(0), InstrumentId(0))
            .expect("a")
            .trades(),
        500
    );

    // The engine's fill path: orders restored (no strategy needed), then partial fills.
    let cfg = EngineConfig {
        instruments: vec![spec()],
        max_open_orders: 64,
        book_depth: 8,
        fill_memory: 4096,
    };
    let mut engine = Engine::new(&cfg, Vec::new());
    let meta = Meta::new(VenueId::OKX, InstrumentId(0), 1);
    let ids: Vec<ClientOrderId> = (1..=32)
        .map(|s| ClientOrderId::new(StrategyId(0), s).expect("id"))
        .collect();
    for id in &ids {
        let n = NewOrder::new(
            meta,
            *id,
            Side::Buy,
            OrderType::Limit,
            TimeInForce::Gtc,
            Px::parse("100").expect("px"),
            Qty::parse("1").expect("qty"),
        );
        engine.restore(&Record::Output(Output::Command(OrderCommand::New(n))));
    }
    let inputs: Vec<Input> = (0..3200u64)
        .map(|t| {
            Input::Exec(ExecReport::Fill(Fill::new(
                meta,
                ids[(t % 32) as usize],
                9,
                t + 1,
                Side::Buy,
                Px::parse("100").expect("px"),
                Qty::parse("0.01").expect("qty"),
                Px::from_raw(-1000),
                Liquidity::Maker,
            )))
        })
        .collect();
    // Warm up once (first use of each order slot), then count.
    for i in &inputs[..32] {
        engine.process(i);
    }
    let start = allocations();
    for i in &inputs[32..] {
        engine.process(i);
    }
    assert_eq!(allocations() - start, 0, "engine fill path allocated");
    assert_eq!(engine.stats().fills, 3200);
    assert_eq!(
        engine.net_position(InstrumentId(0)),
        Qty::parse("32").expect("q")
    );
}
