//! Zero allocations per encode+sign after warm-up, counted by a global allocator. In its own
//! test binary, with a single test, so no other test's allocations land in the count.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use tickwire_core::event::{AmendOrder, CancelOrder, Meta, NewOrder, OrderType, Side, TimeInForce};
use tickwire_core::ids::{ClientOrderId, StrategyId};
use tickwire_core::num::{Px, Qty};
use tickwire_exec::credentials::Secret;
use tickwire_exec::venue::binance::{BinanceEncoder, BinanceSymbol, Stamp};
use tickwire_exec::venue::okx::{OkxEncoder, OkxInst, OkxInstrument, TdMode, write_iso8601_ms};

/// Counts every allocation and reallocation, then defers to the system allocator.
struct Counting;

thread_local! {
    /// Allocations made by this thread only. A process-wide count also catches the test
    /// harness's main thread, which allocates its bookkeeping right after spawning the test
    /// thread — under load that lands inside a measured window (a spurious failure).
    /// Const-initialised and without a destructor, so using it in the allocator never allocates.
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// `GlobalAlloc` contract (valid layouts, pointers from this allocator) is `System`'s own; the
// only addition is a thread-local counter increment, which neither allocates nor unwinds. Exercised
// by `encode_and_sign_allocate_nothing` below, which also checks the counter moves.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` through this allocator with this `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded unchanged; the caller upholds `alloc_zeroed`'s contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: `ptr`/`layout` came from `System` through this allocator; forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn encode_and_sign_allocate_nothing() {
    // The counter works at all.
    let before = ALLOCS.with(Cell::get);
    let v = std::hint::black_box(vec![1u8; 64]);
    drop(v);
    assert!(ALLOCS.with(Cell::get) > before);

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
    };
    for i in 0..100 {
        run(i);
    }
    let before = ALLOCS.with(Cell::get);
    for i in 100..10_100 {
        run(i);
    }
    let after = ALLOCS.with(Cell::get);
    assert_eq!(after - before, 0, "allocations on the encode+sign path");
}
