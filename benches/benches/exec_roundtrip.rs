//! Order entry through the Binance exec session.
//!
//! `cargo bench -p tickwire-benches --profile fastrel --bench exec_roundtrip -- --warm-up-time 1 --measurement-time 3`
//!
//! * `command_to_ws_bytes`: an order command → the signed WS-API `order.place` frame ready in
//!   the session's buffer (encode + HMAC), against `memcpy_same_size`: copying a buffer of the
//!   frame's length, measured in the same run (the floor of producing those bytes at all).
//! * Then, outside criterion: round trips through the simulator's Binance private side over
//!   TLS on loopback (place a resting order, wait for its ack; cancel, wait for its ack), with
//!   the session's own HDR histograms printed (command→written, written→ack): p50/p99/max.
//!   The simulator's WS connection loop wakes every 20 ms when idle, which dominates
//!   written→ack there; command→written is the client's own cost (encode, sign, TLS, write).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use tickwire_core::event::{
    CancelOrder, ExecReport, Meta, NewOrder, OrderCommand, OrderType, Side, TimeInForce,
};
use tickwire_core::ids::{ClientOrderId, InstrumentId, StrategyId, VenueId};
use tickwire_core::num::{Px, Qty};
use tickwire_exec::credentials::{Credentials, Secret};
use tickwire_exec::session::VenueSession;
use tickwire_exec::venue::binance::rate::{LimitKind, RateLimit};
use tickwire_exec::venue::binance::session::{
    BinanceInstrumentSpec, BinanceSession, BinanceSessionConfig,
};
use tickwire_exec::venue::binance::{BinanceEncoder, BinanceSymbol, Stamp};
use tickwire_net::tls;
use tickwire_sim::{EndpointKind, SimConfig, start};

const API_KEY: &str = "benchKey0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTU";
const SECRET: &str = "benchSecret9876543210zyxwvutsrqponmlkjihgfedcbaZYXWVUTSRQPONMLKJ";
const ROUND_TRIPS: u64 = 2000;

fn order(seq: u64) -> NewOrder {
    NewOrder::new(
        Meta::new(VenueId::BINANCE, InstrumentId(1), 0),
        ClientOrderId::new(StrategyId(3), seq).expect("id"),
        Side::Buy,
        OrderType::Limit,
        TimeInForce::Gtc,
        Px::parse("95.00").expect("px"),
        Qty::parse("0.010").expect("qty"),
    )
}

fn encode(c: &mut Criterion) {
    let enc = BinanceEncoder::new(API_KEY, SECRET.as_bytes()).expect("key");
    let sym = BinanceSymbol {
        name: "BTCUSDT",
        px_decimals: 2,
        qty_decimals: 8,
    };
    let o = order(123_456);
    let mut buf = [0u8; 1024];
    let stamp = Stamp {
        timestamp_ms: 1_700_000_000_123,
        recv_window_ms: Some(5000),
    };
    let n = enc
        .ws_order_place("42", &o, &sym, stamp, &mut buf)
        .expect("encode");
    let src = buf;
    let mut dst = [0u8; 1024];
    let mut g = c.benchmark_group("exec_encode");
    g.bench_function("command_to_ws_bytes", |b| {
        b.iter(|| {
            enc.ws_order_place(
                black_box("42"),
                black_box(&o),
                &sym,
                black_box(stamp),
                &mut buf,
            )
        })
    });
    g.bench_function("memcpy_same_size", |b| {
        b.iter(|| {
            dst[..n].copy_from_slice(black_box(&src[..n]));
            black_box(&dst);
        })
    });
    g.finish();
    println!("exec_encode: frame of {n} bytes");
}

fn clock() -> u64 {
    use std::sync::OnceLock;
    static T0: OnceLock<Instant> = OnceLock::new();
    T0.get_or_init(Instant::now).elapsed().as_nanos() as u64 + 1
}

fn round_trips() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cap = dir.path().join("btcusdt.txt");
    let lines = [
        r#"1000000000 {"lastUpdateId":100,"bids":[["90.00000000","3.00000000"]],"asks":[["100.00000000","1.00000000"]]}"#,
        r#"2000000000 {"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1700000000100,"s":"BTCUSDT","U":101,"u":101,"b":[["90.00000000","3.00000000"]],"a":[]}}"#,
    ];
    std::fs::write(&cap, lines.join("\n") + "\n").expect("capture");
    let text = format!(
        r#"
[[venue]]
venue = "binance"
captures = [{:?}]
pace = "fast"

[[venue.symbol]]
symbol = "BTCUSDT"
tick = "0.01"
lot = "0.001"
min_notional = "0.1"

[venue.private]
weight_per_minute = 100000000
orders_per_10s = 100000000
orders_per_day = 100000000

[[venue.private.account]]
name = "bench"
api_key = "{API_KEY}"
secret = "{SECRET}"
balances = ["USDT:100000000"]
"#,
        cap.display().to_string()
    );
    let sim = start(&SimConfig::parse(&text).expect("sim config")).expect("sim");
    let ws = sim
        .endpoint("binance", EndpointKind::Ws)
        .expect("ws")
        .to_owned();
    let rest = sim
        .endpoint("binance", EndpointKind::Rest)
        .expect("rest")
        .to_owned();
    let tls = tls::client_config_from_ca_file(sim.ca_path()).expect("ca");
    let spec = BinanceInstrumentSpec {
        id: InstrumentId(1),
        symbol: "BTCUSDT".into(),
        quote: "USDT".into(),
        px_decimals: 2,
        qty_decimals: 3,
    };
    let mut cfg = BinanceSessionConfig::binance_spot(VenueId::BINANCE, vec![spec], tls, clock);
    cfg.ws_api_url = format!("{ws}/ws-api/v3");
    cfg.stream_url = ws;
    cfg.rest_url = rest;
    cfg.fetch_rate_limits = false;
    cfg.rate_limits = vec![
        RateLimit {
            kind: LimitKind::Orders,
            interval_ms: 10_000,
            limit: u32::MAX / 2,
        },
        RateLimit {
            kind: LimitKind::RequestWeight,
            interval_ms: 60_000,
            limit: u32::MAX / 2,
        },
    ];
    let creds = Credentials {
        api_key: Secret::new(API_KEY),
        api_secret: Secret::new(SECRET),
        passphrase: None,
    };
    let mut s = BinanceSession::start(cfg, &creds).expect("session");
    let mut got: Vec<ExecReport> = Vec::with_capacity(16);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !s.is_ready() {
        assert!(Instant::now() < deadline, "session not ready");
        s.poll(clock(), &mut |r| got.push(r));
    }
    let started = Instant::now();
    for seq in 1..=ROUND_TRIPS {
        let o = order(seq);
        for cmd in [
            OrderCommand::New(o),
            OrderCommand::Cancel(CancelOrder {
                meta: o.meta,
                cl_ord_id: o.cl_ord_id,
            }),
        ] {
            got.clear();
            s.submit(&cmd, clock(), &mut |r| got.push(r));
            let want_cancel = matches!(cmd, OrderCommand::Cancel(_));
            let deadline = Instant::now() + Duration::from_secs(20);
            while !got.iter().any(|r| match r {
                ExecReport::Ack(_) => !want_cancel,
                ExecReport::CancelAck(_) => want_cancel,
                ExecReport::Reject(_) | ExecReport::CancelReject(_) | ExecReport::Unknown(_) => {
                    panic!("round trip failed: {r:?}")
                }
                _ => false,
            }) {
                assert!(Instant::now() < deadline, "no answer");
                s.poll(clock(), &mut |r| got.push(r));
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "exec_roundtrip: {} place+cancel round trips over TLS loopback through the simulator in {secs:.2} s",
        ROUND_TRIPS
    );
    print!("{}", s.latency().summary("binance (sim, WS-API)"));
    s.shutdown();
    sim.shutdown();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    encode(&mut c);
    c.final_summary();
    round_trips();
}
