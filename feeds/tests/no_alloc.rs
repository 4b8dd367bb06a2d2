//! Steady state allocates nothing: after one warm-up pass over a real capture, a second pass
//! through decoder + book sync (fast path on, then simd-json only) makes zero heap
//! allocations. Counted per thread by a wrapping global allocator.

mod common;

use tickwire_core::event::MarketEvent;
use tickwire_core::ids::{InstrumentId, VenueId};
use tickwire_feeds::venue::SymbolTable;
use tickwire_feeds::venue::binance::{BinanceHandler, SyncConfig};
use tickwire_feeds::venue::okx::OkxHandler;
use tickwire_testkit::alloc::{CountingAlloc, allocations};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// Runs `frames` through `step` twice (the first pass warms the buffers up) and returns the
/// allocations of the second pass and the events emitted in it. `step(None)` starts a pass
/// (a reconnect); frames are copied into one reused buffer.
fn second_pass_allocations(
    frames: &[Vec<u8>],
    mut step: impl FnMut(Option<&mut [u8]>) -> u64,
) -> (u64, u64) {
    let max = frames.iter().map(Vec::len).max().unwrap_or(0);
    let mut buf = vec![0u8; max];
    for pass in 0..2 {
        let before = allocations();
        let mut events = step(None);
        for f in frames {
            let b = &mut buf[..f.len()];
            b.copy_from_slice(f);
            events += step(Some(b));
        }
        if pass == 1 {
            return (allocations() - before, events);
        }
    }
    unreachable!()
}

#[test]
fn binance_decode_and_sync_allocate_nothing_in_steady_state() {
    let frames: Vec<Vec<u8>> = common::hftbacktest("binance/btcusdt_20240808.gz")
        .into_iter()
        .map(|f| f.bytes)
        .collect();
    for fast in [true, false] {
        let symbols = SymbolTable::from_pairs([("BTCUSDT", InstrumentId(0))]).expect("symbols");
        let mut h = BinanceHandler::new(VenueId::BINANCE, symbols, SyncConfig::default());
        h.decoder_mut().set_fast_path(fast);
        let (allocs, events) = second_pass_allocations(&frames, |frame| {
            let Some(frame) = frame else {
                h.on_connect();
                return 0;
            };
            let mut n = 0;
            let _ = h.on_frame(frame, 0, &mut |_ev: MarketEvent| n += 1);
            n
        });
        // Every frame's events: tops, trades, the snapshot and every diff.
        assert!(events > 100_000, "{events}");
        assert_eq!(allocs, 0, "fast path {fast}");
    }
}

#[test]
fn okx_decode_and_sync_allocate_nothing_in_steady_state() {
    let frames = common::ndjson("okx/cryptofeed_OKX.ws.raw.ndjson");
    for fast in [true, false] {
        let symbols = SymbolTable::from_pairs([
            ("BTC-USD-220527", InstrumentId(0)),
            ("UNI-USD-SWAP", InstrumentId(1)),
            ("BTC-USDT", InstrumentId(2)),
        ])
        .expect("symbols");
        let mut h = OkxHandler::new(symbols);
        h.decoder_mut().set_fast_path(fast);
        let (allocs, events) = second_pass_allocations(&frames, |frame| {
            let Some(frame) = frame else {
                h.on_connect();
                return 0;
            };
            let mut n = 0;
            let _ = h.on_frame(frame, 0, &mut |_ev: MarketEvent| n += 1);
            n
        });
        assert!(events > 8_000, "{events}");
        assert_eq!(allocs, 0, "fast path {fast}");
    }
}
