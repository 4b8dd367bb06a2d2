//! Feed latency: socket read → record visible to the core, as an HDR histogram.
//!
//! `cargo bench -p tickwire-benches --bench feed_latency [-- SPEED]`
//!
//! The embedded venue simulator replays the real BTCUSDT capture over TLS on loopback at
//! `SPEED`× its recorded pace (default 100: about 6.5 s), so frames arrive spaced as on the
//! venue instead of back to back (a back-to-back replay measures queueing, not latency). A feed
//! thread decodes and syncs the book and pushes records through a ring; a consumer thread, as the
//! core would, stamps each record as it takes it and records the spans per stage.

use std::path::Path;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use tickwire_core::event::MarketEvent;
use tickwire_core::ids::{InstrumentId, VenueId};
use tickwire_core::latency::StageHistogram;
use tickwire_core::ring::{StopFlag, channel};
use tickwire_core::wait::{Backoff, WaitPolicy};
use tickwire_feeds::feed::{FeedConfig, FeedProgress, run_feed};
use tickwire_net::tls::client_config_from_ca_pem;
use tickwire_sim::{EndpointKind, SimConfig, start};

fn mono_ns() -> u64 {
    use std::sync::OnceLock;
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64 + 1
}

fn main() {
    let speed: f64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100.0);
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/binance");
    let captures: Vec<String> = ["btcusdt_20240808.gz", "btcusdt_20240809.gz"]
        .iter()
        .map(|f| format!("{:?}", data.join(f).display().to_string()))
        .collect();
    let toml = format!(
        "[[venue]]\nvenue = \"binance\"\ncaptures = [{}]\npace = \"scaled\"\nspeed = {speed}\n",
        captures.join(", ")
    );
    let sim_cfg = SimConfig::parse(&toml).expect("simulator config");
    let sim = start(&sim_cfg).expect("simulator starts");
    let ws = sim
        .endpoint("binance", EndpointKind::Ws)
        .expect("ws")
        .to_owned();
    let rest = sim
        .endpoint("binance", EndpointKind::Rest)
        .map(str::to_owned);
    let tls = client_config_from_ca_pem(sim.ca_pem().as_bytes()).expect("CA");
    let cfg = FeedConfig {
        venue: VenueId::BINANCE,
        ws_url: ws,
        rest_url: rest,
        tls,
        symbols: vec![("BTCUSDT".into(), InstrumentId(0))],
        channels: vec!["depth@100ms".into(), "bookTicker".into(), "trade".into()],
        stale_after: Duration::from_secs(5),
        snapshot_limit: 5000,
        clock: mono_ns,
    };
    let (mut tx, mut rx) = channel::<MarketEvent>(4096);
    let stop = StopFlag::new();
    let progress = Arc::new(FeedProgress::default());
    let feed_stop = stop.clone();
    let p = Arc::clone(&progress);
    let wait = WaitPolicy::spin_then_yield();
    let feed = thread::spawn(move || {
        run_feed(
            &cfg,
            &mut tx,
            None,
            None,
            Backoff::new(wait),
            &feed_stop,
            &p,
        )
    });
    let consumer = thread::spawn(move || {
        let mut wire_to_parsed = StageHistogram::new("wire→parsed");
        let mut parsed_to_core = StageHistogram::new("parsed→core");
        let mut wire_to_core = StageHistogram::new("wire→core");
        let mut backoff = Backoff::new(wait);
        loop {
            match rx.try_pop() {
                Some(ev) => {
                    let now = mono_ns();
                    let s = ev.meta().stamps;
                    wire_to_parsed.record_span(s.recv_ns, s.parsed_ns);
                    parsed_to_core.record_span(s.parsed_ns, now);
                    wire_to_core.record_span(s.recv_ns, now);
                    backoff.reset();
                }
                None if rx.is_finished() => break,
                None => backoff.idle(),
            }
        }
        [wire_to_parsed, parsed_to_core, wire_to_core]
    });
    let started = Instant::now();
    while !sim.is_finished() && started.elapsed() < Duration::from_secs(600) {
        thread::sleep(Duration::from_millis(50));
    }
    thread::sleep(Duration::from_millis(300));
    stop.request();
    let _ = feed.join();
    let stages = consumer.join().expect("consumer");
    sim.shutdown();
    println!(
        "feed latency, BTCUSDT capture at {speed}x over TLS loopback ({} messages):",
        progress.messages.load(std::sync::atomic::Ordering::Relaxed)
    );
    println!("{}", StageHistogram::header());
    for s in &stages {
        println!("{}", s.summary());
    }
}
