//! Zero allocations per encode+sign, and per in-flight bookkeeping of the request (the rest
//! of the sessions' order path: remember, match the reply, time out, lose the connection),
//! after warm-up, counted by a global allocator. In its own test binary, with a single test,
//! so no other test's allocations land in the count.

use tickwire_core::event::{AmendOrder, CancelOrder, Meta, NewOrder, OrderType, Side, TimeInForce};
use tickwire_core::ids::{ClientOrderId, StrategyId};
use tickwire_core::num::{Px, Qty};
use tickwire_exec::credentials::Secret;
use tickwire_exec::inflight::{InFlight, InFlightTable};
use tickwire_exec::venue::binance::{BinanceEncoder, BinanceSymbol, Stamp};
use tickwire_exec::venue::okx::{OkxEncoder, OkxInst, OkxInstrument, TdMode, write_iso8601_ms};
use tickwire_testkit::alloc::{CountingAlloc, allocations};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

#[test]
fn encode_and_sign_allocate_nothing() {
    // The counter works at all.
    let before = allocations();
    let v = std::hint::black_box(vec![1u8; 64]);
    drop(v);
    assert!(allocations() > before);

    let secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
    let bin = BinanceEncoder::new("apikey123", secret.as_bytes()).unwrap();
    let okx = OkxEncoder::new("okxkey", secret.as_bytes(), Secret::new("pass")).unwrap();
    let sym = BinanceSymbol {
        name: "BTCUSDT",
        px_decimals: 8,
        qty_decimals: 8,
    };
    let inst = OkxInstrument {
        inst: OkxInst::Id("BTC-USDT"),
        td_mode: TdMode::Cash,
    };
    let id = ClientOrderId::new(StrategyId(4), 1).unwrap();
    let cancel = CancelOrder {
        meta: Meta::default(),
        cl_ord_id: id,
    };
    let mut buf = [0u8; 1024];
    let mut body = [0u8; 512];
    let mut sign = [0u8; 44];
    let mut iso = [0u8; 24];
    let mut in_flight = InFlightTable::with_capacity(64);
    let mut lost = 0u64;

    let mut run = |i: u64| {
        let o = NewOrder::new(
            Meta::default(),
            ClientOrderId::new(StrategyId(4), i + 1).unwrap(),
            if i.is_multiple_of(2) {
                Side::Buy
            } else {
                Side::Sell
            },
            OrderType::Limit,
            TimeInForce::Gtc,
            Px::from_raw(61_837_630_000_000 + i as i64),
            Qty::from_raw(1_000_000 + i as i64),
        );
        let amend = AmendOrder {
            meta: Meta::default(),
            cl_ord_id: id,
            new_px: o.px,
            new_qty: o.qty,
        };
        let stamp = Stamp {
            timestamp_ms: 1_700_000_000_000 + i,
            recv_window_ms: Some(5000),
        };
        let mut total = 0;
        total += bin.rest_new_order(&o, &sym, stamp, &mut buf).unwrap();
        total += bin
            .rest_cancel_order(&cancel, &sym, stamp, &mut buf)
            .unwrap();
        total += bin
            .ws_order_place("req", &o, &sym, stamp, &mut buf)
            .unwrap();
        total += bin
            .ws_order_cancel("req", &cancel, &sym, stamp, &mut buf)
            .unwrap();
        total += okx.login(1_700_000_000 + i, &mut buf).unwrap();
        total += okx.ws_order("req", &o, &inst, &mut buf).unwrap();
        total += okx
            .ws_cancel_order("req", &cancel, &inst, &mut buf)
            .unwrap();
        total += okx.ws_amend_order("req", &amend, &inst, &mut buf).unwrap();
        write_iso8601_ms(stamp.timestamp_ms, &mut iso).unwrap();
        total += okx
            .rest_order(&o, &inst, &iso, &mut body, &mut sign)
            .unwrap();
        std::hint::black_box(total);

        // Written; the previous request answered; now and then the oldest time out or the
        // connection drops; a full table refuses.
        let _ = in_flight.insert(InFlight {
            req_id: i,
            written_ns: i,
            op: o,
        });
        if !i.is_multiple_of(3) {
            lost += u64::from(in_flight.take(i.wrapping_sub(1)).is_some());
        }
        if i.is_multiple_of(50) {
            in_flight.sweep_timeouts(i, 20, |f| lost += f.req_id & 1);
        }
        if i.is_multiple_of(700) {
            in_flight.drain(|f| lost += f.req_id & 1);
        }
        std::hint::black_box(in_flight.is_full());
    };
    for i in 0..100 {
        run(i);
    }
    let before = allocations();
    for i in 100..10_100 {
        run(i);
    }
    let after = allocations();
    assert_eq!(after - before, 0, "allocations on the encode+sign path");
    assert!(lost > 0, "the in-flight paths ran");
}
