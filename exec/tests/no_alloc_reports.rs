//! Allocations per decoded execution message after warm-up, counted by a global allocator. In
//! its own test binary, with a single test, so no other test's allocations land in the count.

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

use tickwire_core::ids::{InstrumentId, VenueId};
use tickwire_exec::venue::SymbolTable;
use tickwire_exec::venue::binance::BinanceReportDecoder;
use tickwire_exec::venue::okx::OkxReportDecoder;
use tickwire_testkit::alloc::{CountingAlloc, allocations};

const EXEC_TRADE: &str = r#"{"subscriptionId":0,"event":{"e":"executionReport","E":1499405658658,"s":"ETHBTC","c":"tw1x7","S":"BUY","o":"LIMIT","f":"GTC","q":"1.00000000","p":"0.10264410","P":"0.00000000","F":"0.00000000","g":-1,"C":"","x":"TRADE","X":"PARTIALLY_FILLED","r":"NONE","i":4293153,"l":"0.02409800","z":"0.02409800","L":"0.10264410","n":"0.00001","N":"BTC","T":1499405658657,"t":77,"v":3,"I":8641984,"w":true,"m":true,"M":false,"O":1499405658657,"Z":"0.00000000","Y":"0.00000000","Q":"0.00000000","W":1499405658657,"V":"NONE"}}"#;

const OKX_PUSH: &str = r#"{"arg":{"channel":"orders","instType":"SPOT","instId":"BTC-USDT","uid":"614488474791936"},"data":[{"accFillSz":"0.001","avgPx":"31527.1","cTime":"1654084334977","clOrdId":"","code":"0","execType":"M","fee":"-0.02522168","feeCcy":"USDT","fillFee":"-0.02522168","fillFeeCcy":"USDT","fillPx":"31527.1","fillSz":"0.001","fillTime":"1654084353263","instId":"BTC-USDT","instType":"SPOT","msg":"","ordId":"452197707845865472","ordType":"limit","px":"31527.1","reqId":"","side":"sell","state":"filled","sz":"0.001","tdMode":"cash","tradeId":"242589207","uTime":"1654084353264","amendResult":"","attachAlgoOrds":[],"linkedAlgoOrd":{"algoId":""}}]}"#;

#[test]
fn decoding_allocates_nothing_after_warm_up() {
    let before = allocations();
    let v = std::hint::black_box(vec![1u8; 64]);
    drop(v);
    assert!(allocations() > before, "the counter works");

    let mut symbols = SymbolTable::new();
    symbols.insert("ETHBTC", "BTC", InstrumentId(0));
    let mut decoder = BinanceReportDecoder::new(VenueId::BINANCE);
    let mut frame = EXEC_TRADE.as_bytes().to_vec();
    let mut reports = 0u64;
    let mut run = |n: usize, frame: &mut Vec<u8>, reports: &mut u64| {
        for _ in 0..n {
            frame.copy_from_slice(EXEC_TRADE.as_bytes());
            decoder
                .decode_user_data(frame, &symbols, 1, &mut |_| *reports += 1)
                .expect("valid frame");
        }
    };
    run(100, &mut frame, &mut reports);
    let start = allocations();
    run(1000, &mut frame, &mut reports);
    let allocs = allocations() - start;
    assert_eq!(reports, 1100, "every frame produced its fill");
    assert_eq!(allocs, 0, "allocations over 1000 Binance decodes");

    // OKX `orders` push: a fill plus the order's final state.
    symbols.insert("BTC-USDT", "USDT", InstrumentId(1));
    let mut okx = OkxReportDecoder::new(VenueId::OKX);
    let mut frame = OKX_PUSH.as_bytes().to_vec();
    let mut emitted = 0u64;
    let mut run = |n: usize, frame: &mut Vec<u8>, emitted: &mut u64| {
        for _ in 0..n {
            frame.copy_from_slice(OKX_PUSH.as_bytes());
            okx.decode_private(frame, &symbols, 1, &mut |_| *emitted += 1)
                .expect("valid push");
        }
    };
    run(100, &mut frame, &mut emitted);
    let start = allocations();
    run(1000, &mut frame, &mut emitted);
    let allocs = allocations() - start;
    assert!(
        emitted >= 1100,
        "every push produced its reports ({emitted})"
    );
    assert_eq!(allocs, 0, "allocations over 1000 OKX decodes");
}
