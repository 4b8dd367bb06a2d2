//! Binance book sync on the real captures, against `vectors/book_expectations.json`, plus
//! gap handling on the real stream with one diff removed.

use crate::common;

use std::collections::HashMap;

use common::Frame;
use serde_json::Value;
use tickwire_core::book::{L2Book, Level};
use tickwire_core::event::{FeedState, MarketEvent};
use tickwire_core::ids::{InstrumentId, VenueId};
use tickwire_core::num::{Px, Qty};
use tickwire_feeds::venue::SymbolTable;
use tickwire_feeds::venue::binance::{
    BinanceBookSync, BinanceDecoder, BinanceMsg, BookTicker, SyncConfig, SyncOutcome,
};

fn expectations() -> Value {
    let p = common::data_dir().join("vectors/book_expectations.json");
    serde_json::from_slice(&std::fs::read(p).expect("expectations")).expect("json")
}

/// One instrument's replay state and the counters the oracle file names.
struct Replay {
    sync: BinanceBookSync,
    sink: Sink,
    /// bookTickers by update id, waiting for the book to reach that id.
    tickers: HashMap<u64, BookTicker>,
    bt_checked: u64,
    bt_match: u64,
    outcomes: Vec<SyncOutcome>,
}

/// What the core would hold: the book built from the emitted events, and status counts.
struct Sink {
    book: L2Book,
    gaps_seen: u64,
    resynced: u64,
}

impl Sink {
    fn on(&mut self, ev: MarketEvent) {
        common::apply(&mut self.book, &ev);
        if let MarketEvent::Status(s) = ev {
            match s.state() {
                Some(FeedState::Gap) => {
                    self.gaps_seen += 1;
                    self.book.clear();
                }
                Some(FeedState::Resynced) => self.resynced += 1,
                _ => {}
            }
        }
    }
}

impl Replay {
    fn new(id: InstrumentId) -> Self {
        Self {
            sync: BinanceBookSync::new(VenueId::BINANCE, id, SyncConfig::default()),
            sink: Sink {
                book: L2Book::with_capacity(4096),
                gaps_seen: 0,
                resynced: 0,
            },
            tickers: HashMap::new(),
            bt_checked: 0,
            bt_match: 0,
            outcomes: Vec::new(),
        }
    }

    /// Cross-checks the stored bookTicker for the book's current id, once.
    fn cross_check(&mut self) {
        if !self.sync.is_synced() {
            return;
        }
        if let Some(t) = self.tickers.remove(&self.sink.book.update_id()) {
            self.bt_checked += 1;
            let bid = self.sink.book.best_bid();
            let ask = self.sink.book.best_ask();
            if bid
                == Some(Level {
                    px: t.bid_px,
                    qty: t.bid_qty,
                })
                && ask
                    == Some(Level {
                        px: t.ask_px,
                        qty: t.ask_qty,
                    })
            {
                self.bt_match += 1;
            }
        }
    }

    fn on_msg(&mut self, msg: &BinanceMsg<'_>, recv_ns: u64) {
        match msg {
            BinanceMsg::Depth(d) => {
                let sink = &mut self.sink;
                let o = self.sync.on_depth(d, recv_ns, &mut |ev| sink.on(ev));
                self.outcomes.push(o);
                self.cross_check();
            }
            BinanceMsg::Snapshot(s) => {
                let sink = &mut self.sink;
                let o = self.sync.on_snapshot(s, recv_ns, &mut |ev| sink.on(ev));
                self.outcomes.push(o);
                self.cross_check();
            }
            BinanceMsg::BookTicker(t) => {
                self.tickers.insert(t.update_id, *t);
                self.cross_check();
            }
            _ => {}
        }
    }

    fn assert_oracle(&self, want: &Value, name: &str) {
        let s = self.sync.stats();
        let n = |k: &str| want[k].as_u64().unwrap_or_else(|| panic!("{name}: {k}"));
        assert_eq!(s.applied, n("applied"), "{name} applied");
        assert_eq!(s.dropped_stale, n("dropped_stale"), "{name} dropped_stale");
        assert_eq!(s.gaps, n("gaps"), "{name} gaps");
        assert_eq!(self.sink.gaps_seen, s.gaps, "{name} Gap statuses");
        assert_eq!(
            self.sync.last_update_id(),
            Some(n("final_update_id")),
            "{name} final id"
        );
        assert_eq!(
            self.sink.book.update_id(),
            n("final_update_id"),
            "{name} book id"
        );
        let fmt = |l: Option<Level>| {
            let l = l.expect("level");
            vec![format!("{:.8}", l.px), format!("{:.8}", l.qty)]
        };
        let strings = |k: &str| -> Vec<String> {
            want[k]
                .as_array()
                .expect("pair")
                .iter()
                .map(|v| v.as_str().expect("str").to_owned())
                .collect()
        };
        assert_eq!(
            fmt(self.sink.book.best_bid()),
            strings("final_best_bid"),
            "{name} best bid"
        );
        assert_eq!(
            fmt(self.sink.book.best_ask()),
            strings("final_best_ask"),
            "{name} best ask"
        );
        let levels = want["final_levels"].as_array().expect("levels");
        let depth = (
            levels[0].as_u64().expect("n") as usize,
            levels[1].as_u64().expect("n") as usize,
        );
        assert_eq!(self.sink.book.depth(), depth, "{name} levels");
        assert_eq!(self.bt_checked, n("bt_checked"), "{name} bt_checked");
        assert_eq!(self.bt_match, n("bt_match"), "{name} bt_match");
        assert_eq!(
            self.bt_checked - self.bt_match,
            n("bt_mismatch"),
            "{name} bt_mismatch"
        );
        assert!(!self.sink.book.is_crossed(), "{name} crossed");
        assert_eq!(
            self.sink.resynced, s.snapshots,
            "{name} one Resynced per snapshot"
        );
    }
}

fn replay_btcusdt(frames: &[Frame]) -> Replay {
    let symbols = SymbolTable::from_pairs([("BTCUSDT", InstrumentId(0))]).expect("symbols");
    let mut dec = BinanceDecoder::new(symbols);
    let mut r = Replay::new(InstrumentId(0));
    for f in frames {
        let mut bytes = f.bytes.clone();
        let msg = dec.decode(&mut bytes).expect("real frame decodes");
        r.on_msg(&msg, f.recv_ns);
    }
    r
}

#[test]
fn hftbacktest_btcusdt_matches_oracle() {
    let frames = common::btcusdt();
    let r = replay_btcusdt(&frames);
    let want = &expectations()["binance_spot_btcusdt_hftbacktest_20240808+20240809"]["btcusdt"];
    r.assert_oracle(want, "btcusdt");
    assert_eq!(r.sync.stats().snapshots, 1);
    assert_eq!(want["snapshot_lastUpdateId"].as_u64(), Some(50_093_239_218));
}

/// The trap: the first diff to apply (U=50093239208, u=50093239224) arrives ~69 ms before the
/// inlined snapshot (lastUpdateId 50093239218). Processed in receive order it must be buffered
/// and applied after the snapshot, not applied first and wiped by it.
#[test]
fn diff_received_before_its_snapshot_is_applied_after_it() {
    let frames = common::hftbacktest("binance/btcusdt_20240808.gz");
    let snap_at = frames
        .iter()
        .position(|f| f.bytes.starts_with(b"{\"lastUpdateId\""))
        .expect("inlined snapshot");
    let r = replay_btcusdt(&frames[..=snap_at]);
    // The straddling diff was received before the snapshot and is already applied.
    assert_eq!(r.sync.last_update_id(), Some(50_093_239_224));
    assert_eq!(r.sync.stats().dropped_stale, 2);
    assert_eq!(r.sync.stats().applied, 1);
    assert_eq!(
        r.outcomes,
        vec![
            SyncOutcome::NeedSnapshot,
            SyncOutcome::Buffered,
            SyncOutcome::Buffered,
            SyncOutcome::Applied
        ]
    );
    let px = |s| Px::parse(s).expect("px");
    // The stale bid 61820.99 was removed by the diff, the 62525.00 ask added by it.
    assert!(r.sink.book.bids().all(|l| l.px != px("61820.99")));
    assert_eq!(
        r.sink
            .book
            .asks()
            .find(|l| l.px == px("62525.00"))
            .map(|l| l.qty),
        Some(Qty::parse("0.0002").expect("qty"))
    );
    assert!(!r.sink.book.is_crossed());
}

#[test]
fn cryptofeed_four_symbols_match_oracle() {
    let names = ["nknusdt", "blzeth", "lrcbtc", "runeeur"];
    let symbols = SymbolTable::from_pairs(
        names
            .iter()
            .enumerate()
            .map(|(i, n)| (*n, InstrumentId(i as u32))),
    )
    .expect("symbols");
    // WS frames and REST snapshots, merged in receive order.
    let mut inputs: Vec<(u64, Option<usize>, Vec<u8>)> =
        common::cryptofeed_ws("binance/cryptofeed_BINANCE.ws.1.0")
            .into_iter()
            .map(|f| (f.recv_ns, None, f.bytes))
            .collect();
    for (url, t, body) in common::cryptofeed_http("binance/cryptofeed_BINANCE.http.0.0") {
        let symbol = url
            .split("symbol=")
            .nth(1)
            .and_then(|s| s.split('&').next())
            .expect("symbol in url");
        let slot = symbols.slot(symbol.as_bytes()).expect("known symbol");
        // The per-symbol snapshot files hold the same bodies.
        let file =
            common::data_dir().join(format!("binance/cryptofeed_depth_snapshot_{symbol}.json"));
        assert_eq!(
            std::fs::read(file).expect("snapshot file").trim_ascii_end(),
            &body[..]
        );
        inputs.push((t, Some(slot), body));
    }
    inputs.sort_by_key(|(t, _, _)| *t);
    let mut dec = BinanceDecoder::new(symbols.clone());
    let mut replays: Vec<Replay> = (0..names.len())
        .map(|i| Replay::new(InstrumentId(i as u32)))
        .collect();
    for (t, snapshot_for, mut bytes) in inputs {
        let msg = dec.decode(&mut bytes).expect("real frame decodes");
        let slot = match (&msg, snapshot_for) {
            (_, Some(slot)) => slot,
            (BinanceMsg::Depth(d), None) => d.head.instrument.0 as usize,
            (BinanceMsg::BookTicker(b), None) => b.instrument.0 as usize,
            _ => continue,
        };
        replays[slot].on_msg(&msg, t);
    }
    let want = &expectations()["binance_spot_cryptofeed_2021-10-12"];
    for (name, r) in names.iter().zip(&replays) {
        r.assert_oracle(&want[*name], name);
    }
}

/// Deleting one diff from the real stream: `Gap`, a snapshot request, and after a new
/// snapshot (built here from the true book at that point) the book is right again.
#[test]
fn missing_diff_is_a_gap_and_a_new_snapshot_repairs_the_book() {
    let frames = common::btcusdt();
    let depth_idx: Vec<usize> = frames
        .iter()
        .enumerate()
        .filter(|(_, f)| f.bytes.windows(13).any(|w| w == b"\"depthUpdate\""))
        .map(|(i, _)| i)
        .collect();
    // Drop a diff well after the sync (the 100th).
    let victim = depth_idx[100];
    let symbols = SymbolTable::from_pairs([("BTCUSDT", InstrumentId(0))]).expect("symbols");
    let mut dec = BinanceDecoder::new(symbols.clone());
    let mut truth_dec = BinanceDecoder::new(symbols);
    let mut truth = Replay::new(InstrumentId(0));
    let mut r = Replay::new(InstrumentId(0));
    let mut snapshot_requests = 0;
    let mut repaired = false;
    for (i, f) in frames.iter().enumerate() {
        let truth_msg = truth_dec.decode(&mut f.bytes.clone()).expect("decode");
        truth.on_msg(&truth_msg, f.recv_ns);
        if i == victim {
            continue;
        }
        let msg = dec.decode(&mut f.bytes.clone()).expect("decode");
        r.on_msg(&msg, f.recv_ns);
        if r.outcomes.last() == Some(&SyncOutcome::NeedSnapshot) && i > victim {
            snapshot_requests += 1;
            r.outcomes.push(SyncOutcome::Applied); // mark handled
            assert_eq!(r.sink.gaps_seen, 1);
            assert!(r.sync.needs_snapshot());
            assert_eq!(r.sink.book.depth(), (0, 0), "book dropped on gap");
            // "Fetch" a snapshot: the true book now (it already contains this diff, which
            // is buffered and must be dropped as stale).
            let body = snapshot_json(&truth.sink.book);
            let mut snap_dec = BinanceDecoder::new(SymbolTable::new());
            let mut bytes = body.into_bytes();
            let BinanceMsg::Snapshot(s) = snap_dec.decode(&mut bytes).expect("snapshot") else {
                panic!("not a snapshot");
            };
            let sink = &mut r.sink;
            let o = r.sync.on_snapshot(&s, f.recv_ns, &mut |ev| sink.on(ev));
            assert_eq!(o, SyncOutcome::Applied);
            repaired = true;
            assert!(r.sync.is_synced());
            assert_eq!(books(&r.sink.book), books(&truth.sink.book));
        }
    }
    assert!(repaired);
    assert_eq!(snapshot_requests, 1);
    assert_eq!(r.sync.stats().gaps, 1);
    assert_eq!(r.sink.resynced, 2);
    assert_eq!(
        books(&r.sink.book),
        books(&truth.sink.book),
        "final book equals the uncut replay"
    );
    assert_eq!(r.sink.book.update_id(), truth.sink.book.update_id());
}

fn books(b: &L2Book) -> (Vec<Level>, Vec<Level>) {
    (b.bids().collect(), b.asks().collect())
}

fn snapshot_json(b: &L2Book) -> String {
    let side = |levels: Vec<Level>| {
        levels
            .iter()
            .map(|l| format!("[\"{:.8}\",\"{:.8}\"]", l.px, l.qty))
            .collect::<Vec<_>>()
            .join(",")
    };
    format!(
        "{{\"lastUpdateId\":{},\"bids\":[{}],\"asks\":[{}]}}",
        b.update_id(),
        side(b.bids().collect()),
        side(b.asks().collect())
    )
}
