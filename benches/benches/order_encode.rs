//! Order command → signed request bytes ready to send, per venue path, against the bare HMAC
//! of the same payload measured in the same run (the floor: what signing alone costs).
//!
//! `cargo bench -p tickwire-benches --profile fastrel --bench order_encode -- --warm-up-time 1 --measurement-time 3`
//!
//! * `binance_rest`: `NewOrder` → `symbol=..&..&signature=<hex>` (format, HMAC, hex).
//! * `binance_ws`: `NewOrder` → `order.place` JSON with sorted params streamed into the HMAC.
//! * `okx_ws`: `NewOrder` → `order` JSON (no per-request signature on a logged-in socket).
//! * `okx_rest`: `NewOrder` → REST body + Base64 signature.
//! * `hmac_*`: the keyed signer alone over the exact payload of the matching path.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tickwire_core::event::{Meta, NewOrder, OrderType, Side, TimeInForce};
use tickwire_core::ids::{ClientOrderId, StrategyId};
use tickwire_core::num::{Px, Qty};
use tickwire_exec::credentials::Secret;
use tickwire_exec::venue::binance::{BinanceEncoder, BinanceSymbol, Stamp};
use tickwire_exec::venue::okx::{OkxEncoder, OkxInst, OkxInstrument, TdMode};

const API_KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
const SECRET: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";

fn order_encode(c: &mut Criterion) {
    let bin = BinanceEncoder::new(API_KEY, SECRET.as_bytes()).expect("api key");
    let okx = OkxEncoder::new(
        "okx-api-key-0123456789",
        SECRET.as_bytes(),
        Secret::new("pass"),
    )
    .expect("api key");
    let sym = BinanceSymbol {
        name: "BTCUSDT",
        px_decimals: 8,
        qty_decimals: 8,
    };
    let inst = OkxInstrument {
        inst: OkxInst::Id("BTC-USDT"),
        td_mode: TdMode::Cash,
    };
    let stamp = Stamp {
        timestamp_ms: 1_700_000_000_123,
        recv_window_ms: Some(5000),
    };
    let order = NewOrder::new(
        Meta::default(),
        ClientOrderId::new(StrategyId(3), 123_456).expect("id"),
        Side::Buy,
        OrderType::Limit,
        TimeInForce::Gtc,
        Px::parse("61837.63").expect("px"),
        Qty::parse("0.00847").expect("qty"),
    );
    let mut buf = [0u8; 1024];
    let mut body = [0u8; 512];
    let mut sign = [0u8; 44];
    let iso = *b"2023-11-14T22:13:20.123Z";

    // The exact payloads each path signs, for the HMAC floors.
    let n = bin
        .rest_new_order(&order, &sym, stamp, &mut buf)
        .expect("encode");
    let rest = std::str::from_utf8(&buf[..n]).expect("utf8");
    let rest_payload = rest
        .split("&signature=")
        .next()
        .expect("payload")
        .to_owned();
    let ws_payload = format!(
        "apiKey={API_KEY}&newClientOrderId=tw3x123456&price=61837.63000000&quantity=0.00847000\
         &recvWindow=5000&side=BUY&symbol=BTCUSDT&timeInForce=GTC&timestamp=1700000000123&type=LIMIT"
    );
    let n = okx
        .rest_order(&order, &inst, &iso, &mut body, &mut sign)
        .expect("encode");
    let mut okx_prehash = Vec::new();
    okx_prehash.extend_from_slice(&iso);
    okx_prehash.extend_from_slice(b"POST/api/v5/trade/order");
    okx_prehash.extend_from_slice(&body[..n]);

    let mut g = c.benchmark_group("order_encode");
    g.bench_function("binance_rest", |b| {
        b.iter(|| bin.rest_new_order(black_box(&order), &sym, black_box(stamp), &mut buf))
    });
    g.bench_function("binance_ws", |b| {
        b.iter(|| bin.ws_order_place("r1", black_box(&order), &sym, black_box(stamp), &mut buf))
    });
    g.bench_function("okx_ws", |b| {
        b.iter(|| okx.ws_order("r1", black_box(&order), &inst, &mut buf))
    });
    g.bench_function("okx_rest", |b| {
        b.iter(|| okx.rest_order(black_box(&order), &inst, &iso, &mut body, &mut sign))
    });
    let mut hex = [0u8; 64];
    g.bench_function("hmac_binance_rest_payload", |b| {
        b.iter(|| {
            bin.signer()
                .sign(black_box(rest_payload.as_bytes()), &mut hex)
        })
    });
    g.bench_function("hmac_binance_ws_payload", |b| {
        b.iter(|| {
            bin.signer()
                .sign(black_box(ws_payload.as_bytes()), &mut hex)
        })
    });
    g.bench_function("hmac_okx_rest_prehash", |b| {
        b.iter(|| {
            okx.signer()
                .sign_parts(&[black_box(&okx_prehash[..])], &mut sign)
        })
    });
    g.finish();
}

criterion_group!(benches, order_encode);
criterion_main!(benches);
