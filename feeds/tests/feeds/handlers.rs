//! The per-connection handlers as a feed loop drives them: actions, emitted events, errors.

use crate::common;

use tickwire_core::book::L2Book;
use tickwire_core::event::{FeedState, MarketEvent, Meta, Side};
use tickwire_core::ids::{InstrumentId, VenueId};
use tickwire_core::num::Px;
use tickwire_feeds::venue::binance::{self, BinanceHandler, SyncConfig};
use tickwire_feeds::venue::okx::{self, OkxHandler};
use tickwire_feeds::venue::{DecodeError, SymbolTable};

#[derive(Default)]
struct Counts {
    tops: usize,
    trades: usize,
    deltas: usize,
    statuses: Vec<FeedState>,
}

impl Counts {
    fn on(&mut self, ev: MarketEvent) {
        match ev {
            MarketEvent::Top(_) => self.tops += 1,
            MarketEvent::Trade(_) => self.trades += 1,
            MarketEvent::Delta(_) => self.deltas += 1,
            MarketEvent::Status(s) => self.statuses.extend(s.state()),
        }
    }
}

#[test]
fn binance_handler_on_a_real_capture() {
    let symbols = SymbolTable::from_pairs([("BTCUSDT", InstrumentId(4))]).expect("symbols");
    let mut h = BinanceHandler::new(VenueId::BINANCE_US, symbols, SyncConfig::default());
    h.on_connect();
    let mut c = Counts::default();
    let mut actions = Vec::new();
    for (i, f) in common::hftbacktest("binance/btcusdt_20240808.gz")
        .into_iter()
        .enumerate()
    {
        let mut bytes = f.bytes;
        let action = h
            .on_frame(&mut bytes, f.recv_ns, &mut |ev| {
                assert_eq!(ev.meta().venue, VenueId::BINANCE_US);
                assert_eq!(ev.meta().instrument, InstrumentId(4));
                // Buffered diffs keep their own receive time.
                assert!(ev.meta().stamps.recv_ns <= f.recv_ns);
                c.on(ev);
            })
            .expect("real frame");
        if action != binance::Action::None {
            actions.push((i, action));
        }
    }
    // One snapshot request, at the first diff; the recorder's inlined snapshot answers it.
    assert_eq!(
        actions,
        vec![(0, binance::Action::FetchSnapshot(InstrumentId(4)))]
    );
    assert!(!h.needs_snapshot());
    assert_eq!((c.tops, c.trades), (28_040, 9_757));
    assert_eq!(c.statuses, vec![FeedState::Resynced]);
    let stats = h.book(InstrumentId(4)).expect("book").stats();
    assert_eq!(stats.applied + stats.dropped_stale, 3_451);
}

#[test]
fn binance_handler_errors_shutdown_and_rest_snapshots() {
    let names = ["NKNUSDT", "LRCBTC", "BLZETH", "RUNEEUR"];
    let symbols = SymbolTable::from_pairs(
        names
            .iter()
            .enumerate()
            .map(|(i, s)| (*s, InstrumentId(i as u32))),
    )
    .expect("symbols");
    let mut h = BinanceHandler::new(VenueId::BINANCE, symbols, SyncConfig::default());
    h.on_connect();
    let mut events = Vec::new();
    // Malformed: an error, and a venue-wide Malformed status.
    let err = h.on_frame(&mut b"{\"u\":".to_vec(), 7, &mut |ev| events.push(ev));
    assert!(matches!(err, Err(DecodeError::Json { .. })));
    let MarketEvent::Status(s) = events[0] else {
        panic!("status");
    };
    assert_eq!(s.state(), Some(FeedState::Malformed));
    assert_eq!(s.meta.instrument, Meta::ALL_INSTRUMENTS);
    let shutdown =
        br#"{"stream":"!serverShutdown","data":{"e":"serverShutdown","E":1770123456789}}"#;
    assert_eq!(
        h.on_frame(&mut shutdown.to_vec(), 8, &mut |_| {}),
        Ok(binance::Action::Reconnect)
    );
    // Replay the cryptofeed stream; answer each FetchSnapshot with the recorded REST body.
    let http = common::cryptofeed_http("binance/cryptofeed_BINANCE.http.0.0");
    let body_for = |symbol: &str| {
        http.iter()
            .find(|(url, _, _)| url.contains(&format!("symbol={symbol}&")))
            .map(|(_, _, b)| b.clone())
            .expect("recorded body")
    };
    let mut books = [L2Book::with_capacity(2048), L2Book::with_capacity(2048)];
    let mut fetched = Vec::new();
    let mut emit = |ev: MarketEvent| {
        let i = ev.meta().instrument.0 as usize;
        if i < 2 {
            common::apply(&mut books[i], &ev);
        }
    };
    for f in common::cryptofeed_ws("binance/cryptofeed_BINANCE.ws.1.0") {
        let mut bytes = f.bytes;
        if let binance::Action::FetchSnapshot(id) =
            h.on_frame(&mut bytes, f.recv_ns, &mut emit).expect("frame")
        {
            fetched.push(id);
            let symbol = names[id.0 as usize];
            let action = h
                .on_snapshot(id, &mut body_for(symbol), f.recv_ns, &mut emit)
                .expect("snapshot");
            assert_eq!(action, binance::Action::None);
        }
    }
    assert_eq!(
        fetched,
        vec![
            InstrumentId(0),
            InstrumentId(2),
            InstrumentId(1),
            InstrumentId(3)
        ]
    );
    assert!(!h.needs_snapshot());
    // Fetched at the first diff instead of 250 ms later, the NKN snapshot still syncs.
    assert_eq!(
        h.book(InstrumentId(0)).expect("nkn").last_update_id(),
        Some(499_870_179)
    );
    assert_eq!(books[0].update_id(), 499_870_179);
    assert_eq!(
        books[0]
            .best_bid()
            .map(|l| format!("{:.8}", l.px))
            .as_deref(),
        Some("0.35270000")
    );
    // A REST body that is not a snapshot is an error.
    let mut not_snapshot = br#"{"code":-1121,"msg":"Invalid symbol."}"#.to_vec();
    assert!(
        h.on_snapshot(InstrumentId(0), &mut not_snapshot, 9, &mut |_| {})
            .is_err()
    );
}

#[test]
fn okx_handler_events_and_actions() {
    let symbols = SymbolTable::from_pairs([
        ("BTC-USDT", InstrumentId(2)),
        ("BCH-USDT-SWAP", InstrumentId(3)),
    ])
    .expect("symbols");
    let mut h = OkxHandler::new(symbols);
    h.on_connect();
    let mut events = Vec::new();
    let mut run = |frame: &[u8], events: &mut Vec<MarketEvent>| {
        h.on_frame(&mut frame.to_vec(), 5, &mut |ev| events.push(ev))
    };
    let error = br#"{"id":"1512","event":"error","code":"64003","msg":"VIP","connId":"a4d3ae55"}"#;
    assert_eq!(run(error, &mut events), Ok(okx::Action::VenueError(64_003)));
    assert_eq!(run(b"pong", &mut events), Ok(okx::Action::None));
    let bbo = br#"{"arg":{"channel":"bbo-tbt","instId":"BCH-USDT-SWAP"},"data":[{"asks":[["111.06","55154","0","2"]],"bids":[["111.05","57745","0","2"]],"ts":"1670324386802","seqId":363996337}]}"#;
    assert_eq!(run(bbo, &mut events), Ok(okx::Action::None));
    let trades = br#"{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"338476307","px":"30236","sz":"0.0002","side":"sell","ts":"1652459224818"},{"instId":"BTC-USDT","tradeId":"338476308","px":"30236.1","sz":"1","side":"buy","ts":"1652459224819"}]}"#;
    assert_eq!(run(trades, &mut events), Ok(okx::Action::None));
    assert!(matches!(
        run(b"{", &mut events),
        Err(DecodeError::Json { .. })
    ));
    let [
        MarketEvent::Top(top),
        MarketEvent::Trade(t0),
        MarketEvent::Trade(t1),
        MarketEvent::Status(bad),
    ] = events[..]
    else {
        panic!("{events:?}");
    };
    assert_eq!(top.meta.instrument, InstrumentId(3));
    assert_eq!(top.ask_px, Px::parse("111.06").expect("px"));
    assert_eq!(top.update_id, 363_996_337);
    assert_eq!(top.meta.venue_ts_ns, 1_670_324_386_802_000_000);
    assert_eq!(
        (t0.trade_id, t0.aggressor),
        (338_476_307, Side::Sell.code())
    );
    assert_eq!((t1.trade_id, t1.aggressor), (338_476_308, Side::Buy.code()));
    assert_eq!(bad.state(), Some(FeedState::Malformed));
    assert!(h.needs_snapshot());
}
