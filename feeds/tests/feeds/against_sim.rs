//! The feed thread against the venue simulator (`tickwire-sim`) over real TLS on loopback: the
//! real BTCUSDT capture served as Binance serves it (REST snapshot, depth diffs, trades), read
//! by `run_feed` exactly as a run reads it, ends in the book the capture's oracle names.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tickwire_core::event::MarketEvent;
use tickwire_core::ids::{InstrumentId, VenueId};
use tickwire_core::market::Markets;
use tickwire_core::num::{InstrumentSpec, Px, Qty};
use tickwire_core::ring::{StopFlag, channel};
use tickwire_core::wait::{Backoff, WaitPolicy};
use tickwire_feeds::feed::{FeedConfig, FeedProgress, run_feed};
use tickwire_sim::{EndpointKind, SimConfig, start};

use crate::common::data_dir;

fn clock() -> u64 {
    tickwire_testkit::data::clock()
}

#[test]
fn the_feed_reads_the_simulated_binance_capture_into_the_oracle_book() {
    let captures = ["btcusdt_20240808.gz", "btcusdt_20240809.gz"].map(|f| {
        format!(
            "{:?}",
            data_dir().join("binance").join(f).display().to_string()
        )
    });
    let sim_cfg = SimConfig::parse(&format!(
        "[[venue]]\nvenue = \"binance\"\ncaptures = [{}]\npace = \"fast\"\n",
        captures.join(", ")
    ))
    .expect("simulator config");
    let sim = start(&sim_cfg).expect("simulator starts");
    let tls = tickwire_net::tls::client_config_from_ca_pem(sim.ca_pem().as_bytes()).expect("CA");
    let cfg = FeedConfig {
        venue: VenueId::BINANCE,
        ws_url: sim
            .endpoint("binance", EndpointKind::Ws)
            .expect("ws")
            .to_owned(),
        rest_url: Some(
            sim.endpoint("binance", EndpointKind::Rest)
                .expect("rest")
                .to_owned(),
        ),
        tls,
        symbols: vec![("btcusdt".to_owned(), InstrumentId(0))],
        channels: vec!["depth@100ms".to_owned(), "trade".to_owned()],
        stale_after: Duration::from_secs(30),
        snapshot_limit: 5000,
        clock,
    };
    let spec = InstrumentSpec {
        id: InstrumentId(0),
        venue: VenueId::BINANCE,
        symbol: "BTCUSDT".into(),
        tick: Px::parse("0.01").expect("tick"),
        lot: Qty::parse("0.00001").expect("lot"),
        min_qty: Qty::parse("0.00001").expect("min qty"),
        min_notional: Px::ZERO,
    };
    let (mut tx, mut rx) = channel::<MarketEvent>(1 << 16);
    let stop = StopFlag::new();
    let progress = FeedProgress::default();
    let mut markets = Markets::new(&[spec], 8192);
    std::thread::scope(|s| {
        let feed = s.spawn(|| {
            run_feed(
                &cfg,
                &mut tx,
                None,
                None,
                Backoff::new(WaitPolicy::spin_then_park()),
                &stop,
                &progress,
            )
        });
        // Apply what arrives until the capture is served and the feed has read it all (its
        // message count stops moving), within a bound that fails the test instead of hanging.
        let deadline = Instant::now() + Duration::from_secs(300);
        let mut settled: Option<(Instant, u64)> = None;
        loop {
            while let Some(ev) = rx.try_pop() {
                markets.apply(&ev, ev.meta().event_time());
            }
            assert!(
                Instant::now() < deadline,
                "the capture was not served in time"
            );
            let seen = progress.messages.load(Ordering::Relaxed);
            if sim.is_finished() {
                match settled {
                    Some((since, n)) if n == seen => {
                        if since.elapsed() > Duration::from_millis(500) {
                            break;
                        }
                    }
                    _ => settled = Some((Instant::now(), seen)),
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        stop.request();
        let end = feed.join().expect("feed thread");
        while let Some(ev) = rx.try_pop() {
            markets.apply(&ev, ev.meta().event_time());
        }
        assert_eq!(end, tickwire_feeds::feed::FeedEnd::Stopped);
    });
    assert_eq!(progress.malformed.load(Ordering::Relaxed), 0);
    assert_eq!(
        progress.snapshots.load(Ordering::Relaxed),
        1,
        "one snapshot, then diffs"
    );
    let text = std::fs::read_to_string(data_dir().join("vectors/book_expectations.json"))
        .expect("book_expectations.json");
    let v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let o = &v["binance_spot_btcusdt_hftbacktest_20240808+20240809"]["btcusdt"];
    let view = markets.get(InstrumentId(0)).expect("the instrument");
    let best = |l: Option<tickwire_core::book::Level>| l.map(|l| (l.px, l.qty));
    // The oracle spells them as the venue does (8 decimals): compared as exact numbers.
    let want = |k: &str| {
        Some((
            Px::parse(o[k][0].as_str().expect("price")).expect("price"),
            Qty::parse(o[k][1].as_str().expect("qty")).expect("qty"),
        ))
    };
    assert_eq!(best(view.book.best_bid()), want("final_best_bid"));
    assert_eq!(best(view.book.best_ask()), want("final_best_ask"));
    let (bids, asks) = view.book.depth();
    assert_eq!(
        (bids as u64, asks as u64),
        (
            o["final_levels"][0].as_u64().expect("bids"),
            o["final_levels"][1].as_u64().expect("asks")
        )
    );
    assert_eq!(
        view.book.update_id(),
        o["final_update_id"].as_u64().expect("update id")
    );
    sim.shutdown();
}
