//! OKX decoders against the serde_json reference on every real frame and under fuzzing; the
//! books sync on the real capture (290/290 checksums, final books equal a simple reference
//! book); the documented sequence rules; gaps and checksum mismatches.

use crate::common;

use std::collections::BTreeMap;

use common::fuzz::{mutate, mutation};
use common::reference::{self, own_okx};
use proptest::prelude::*;
use serde_json::Value;
use tickwire_core::book::{L2Book, Level};
use tickwire_core::event::{FeedState, MarketEvent};
use tickwire_core::ids::{InstrumentId, VenueId};
use tickwire_core::num::{Px, Qty};
use tickwire_feeds::venue::okx::{
    Action, OkxBookSync, OkxDecoder, OkxEvent, OkxHandler, OkxMsg, OkxSyncOutcome,
    checksum::wire_string,
};
use tickwire_feeds::venue::{DecodeError, SymbolTable};

const INSTS: [&str; 3] = ["BTC-USD-220527", "UNI-USD-SWAP", "BTC-USDT"];

fn symbols() -> SymbolTable {
    SymbolTable::from_pairs(
        INSTS
            .iter()
            .enumerate()
            .map(|(i, s)| (*s, InstrumentId(i as u32))),
    )
    .expect("symbols")
}

fn frames() -> Vec<Vec<u8>> {
    common::ndjson("okx/cryptofeed_OKX.ws.raw.ndjson")
}

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[..b.len().min(300)]).into_owned()
}

fn kind(m: &OkxMsg<'_>) -> &'static str {
    match m {
        OkxMsg::Book(_) => "books",
        OkxMsg::Bbo(_) => "bbo-tbt",
        OkxMsg::Trades(_) => "trades",
        OkxMsg::Event(_) => "event",
        OkxMsg::Pong => "pong",
        OkxMsg::Ignored => "ignored",
    }
}

/// Decodes every frame three ways, asserts equality, counts kinds and fast-path hits.
fn differential(
    frames: impl IntoIterator<Item = Vec<u8>>,
    symbols: &SymbolTable,
) -> (BTreeMap<&'static str, usize>, usize) {
    let mut dec = OkxDecoder::new(symbols.clone());
    let mut kinds = BTreeMap::new();
    let mut fast = 0;
    for bytes in frames {
        let want = reference::okx(&bytes, symbols)
            .unwrap_or_else(|e| panic!("reference rejects ({e}): {}", show(&bytes)));
        let validating = own_okx(
            &dec.decode_validating(&mut bytes.clone())
                .unwrap_or_else(|e| panic!("simd path rejects ({e}): {}", show(&bytes))),
        );
        assert_eq!(validating, want, "simd vs reference: {}", show(&bytes));
        if let Some(m) = dec.decode_fast(&bytes) {
            fast += 1;
            assert_eq!(own_okx(&m), want, "fast vs reference: {}", show(&bytes));
        }
        let m = dec.decode(&mut bytes.clone()).expect("decode");
        assert_eq!(own_okx(&m), want);
        *kinds.entry(kind(&m)).or_default() += 1;
    }
    (kinds, fast)
}

#[test]
fn every_real_frame_matches_the_reference() {
    let (kinds, fast) = differential(frames(), &symbols());
    assert_eq!(kinds["books"], 290);
    assert_eq!(kinds["trades"], 74);
    assert_eq!(kinds["event"], 18);
    assert_eq!(kinds["ignored"], 28, "tickers");
    // Every books and trades push takes the fast path.
    assert_eq!(fast, 290 + 74);
}

#[test]
fn recorder_frames_equal_the_raw_file() {
    let recorded: Vec<Vec<u8>> = common::cryptofeed_ws("okx/cryptofeed_OKX.ws.1.0")
        .into_iter()
        .map(|f| f.bytes)
        .collect();
    assert_eq!(recorded, frames());
}

#[test]
fn documented_literals() {
    let symbols = SymbolTable::from_pairs([
        ("BTC-USDT", InstrumentId(0)),
        ("BCH-USDT-SWAP", InstrumentId(1)),
    ])
    .expect("symbols");
    let docs: Vec<&[u8]> = vec![
        br#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":[["8476.98","415","0","13"]],"bids":[["8476.97","256","0","12"]],"ts":"1597026383085","checksum":0,"prevSeqId":-1,"seqId":123456}]}"#,
        br#"{"arg":{"channel":"bbo-tbt","instId":"BCH-USDT-SWAP"},"data":[{"asks":[["111.06","55154","0","2"]],"bids":[["111.05","57745","0","2"]],"ts":"1670324386802","seqId":363996337}]}"#,
        br#"{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"130639474","px":"42219.9","sz":"0.12060306","side":"buy","ts":"1630048897897","count":"3","source":"0","seqId":1234}]}"#,
        br#"{"id":"1512","event":"subscribe","arg":{"channel":"books","instId":"BTC-USDT"},"connId":"a4d3ae55"}"#,
        br#"{"id":"1512","event":"error","code":"60012","msg":"Invalid request: ...","connId":"a4d3ae55"}"#,
        br#"{"event":"login","code":"0","msg":"","connId":"a4d3ae55"}"#,
        b"pong",
        br#"{"arg":{"channel":"books5","instId":"BTC-USDT"},"data":[]}"#,
    ];
    let (kinds, _) = differential(docs.iter().map(|d| d.to_vec()), &symbols);
    assert_eq!(kinds.values().sum::<usize>(), docs.len());
    let mut dec = OkxDecoder::new(symbols);
    let m = dec.decode(&mut docs[4].to_vec()).expect("error event");
    assert_eq!(m, OkxMsg::Event(OkxEvent::Error { code: 60012 }));
    let OkxMsg::Bbo(b) = dec.decode(&mut docs[1].to_vec()).expect("bbo") else {
        panic!("bbo");
    };
    assert_eq!(b.bid.map(|l| l.px), Some(Px::parse("111.05").expect("px")));
    assert_eq!(b.seq_id, Some(363_996_337));
}

#[test]
fn malformed_frames_are_errors() {
    let mut dec = OkxDecoder::new(symbols());
    let bad: Vec<&[u8]> = vec![
        b"",
        b"ping",
        b"pong ",
        br#"{"arg":{"channel":"books","instId":"ETH-USDT"},"action":"update","data":[{"asks":[],"bids":[],"ts":"1"}]}"#,
        br#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"replace","data":[{"asks":[],"bids":[],"ts":"1"}]}"#,
        br#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[]}"#,
        br#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[],"bids":[],"ts":"1"},{"asks":[],"bids":[],"ts":"1"}]}"#,
        br#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[["01.5","1"]],"bids":[],"ts":"1"}]}"#,
        br#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[],"bids":[],"ts":"1","checksum":4294967296}]}"#,
        br#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[],"bids":[],"ts":1}]}"#,
        br#"{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"tradeId":"1","px":"1","sz":"1","side":"up","ts":"1"}]}"#,
        br#"{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"tradeId":"+1","px":"1","sz":"1","side":"buy","ts":"1"}]}"#,
        br#"{"event":"error","code":60012}"#,
        br#"{"data":[]}"#,
    ];
    for frame in bad {
        let got = dec.decode(&mut frame.to_vec());
        assert!(got.is_err(), "{} decoded to {got:?}", show(frame));
        assert!(
            reference::okx(frame, &symbols()).is_err(),
            "{}",
            show(frame)
        );
    }
    let dup = br#"{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"tradeId":"1","px":"1","px":"2","sz":"1","side":"buy","ts":"1"}]}"#;
    assert_eq!(
        dec.decode(&mut dup.to_vec()),
        Err(DecodeError::DuplicateField("px"))
    );
}

/// A reference book over the exact wire strings: price key → (price string, size string).
#[derive(Default)]
struct RefBook {
    bids: BTreeMap<Px, (String, String)>,
    asks: BTreeMap<Px, (String, String)>,
}

impl RefBook {
    fn apply(&mut self, side: &Value, bid: bool) {
        let map = if bid { &mut self.bids } else { &mut self.asks };
        for l in side.as_array().expect("levels") {
            let p = l[0].as_str().expect("px").to_owned();
            let s = l[1].as_str().expect("sz").to_owned();
            let key = Px::parse(&p).expect("px");
            if Qty::parse(&s).expect("sz").is_zero() {
                map.remove(&key);
            } else {
                map.insert(key, (p, s));
            }
        }
    }

    /// zlib CRC32 of the interleaved top 25, straight from the stored strings.
    fn checksum(&self) -> i32 {
        let bids: Vec<_> = self.bids.values().rev().take(25).collect();
        let asks: Vec<_> = self.asks.values().take(25).collect();
        let mut parts = Vec::new();
        for i in 0..25 {
            for side in [&bids, &asks] {
                if let Some((p, s)) = side.get(i) {
                    parts.push(format!("{p}:{s}"));
                }
            }
        }
        crc32fast::hash(parts.join(":").as_bytes()) as i32
    }

    fn levels(&self) -> (Vec<Level>, Vec<Level>) {
        let level = |(p, s): &(String, String)| Level {
            px: Px::parse(p).expect("px"),
            qty: Qty::parse(s).expect("sz"),
        };
        (
            self.bids.values().rev().map(level).collect(),
            self.asks.values().map(level).collect(),
        )
    }
}

#[test]
fn capture_checksums_all_verify_and_books_match_a_reference() {
    let symbols = symbols();
    let mut handler = OkxHandler::new(symbols.clone());
    handler.on_connect();
    let mut refs: Vec<RefBook> = (0..INSTS.len()).map(|_| RefBook::default()).collect();
    let mut books: Vec<L2Book> = (0..INSTS.len())
        .map(|_| L2Book::with_capacity(512))
        .collect();
    let (mut server_checksums, mut reference_verified, mut strings_checked) = (0, 0, 0);
    let mut statuses = Vec::new();
    for (n, f) in common::cryptofeed_ws("okx/cryptofeed_OKX.ws.1.0")
        .into_iter()
        .enumerate()
    {
        let v: Value = serde_json::from_slice(&f.bytes).expect("json");
        let mut bytes = f.bytes.clone();
        let action = handler
            .on_frame(&mut bytes, f.recv_ns, &mut |ev| {
                let i = ev.meta().instrument.0 as usize;
                match ev {
                    MarketEvent::Delta(d) => common::apply_delta(&mut books[i], &d),
                    MarketEvent::Status(s) => statuses.push((n, s.state())),
                    _ => {}
                }
            })
            .expect("real frame");
        assert_eq!(action, Action::None);
        if v.get("event").is_some() || v["arg"]["channel"] != "books" {
            continue;
        }
        let i = INSTS
            .iter()
            .position(|s| v["arg"]["instId"] == *s)
            .expect("inst");
        let d = &v["data"][0];
        if v["action"] == "snapshot" {
            refs[i] = RefBook::default();
        }
        refs[i].apply(&d["bids"], true);
        refs[i].apply(&d["asks"], false);
        let server = d["checksum"].as_i64().expect("checksum") as i32;
        assert_ne!(server, 0, "the 2022 capture has a checksum on every push");
        server_checksums += 1;
        assert_eq!(refs[i].checksum(), server, "reference book, frame {n}");
        reference_verified += 1;
        // Every wire string is rewritten byte for byte from (value, decimals).
        for side in ["bids", "asks"] {
            for l in d[side].as_array().expect("levels") {
                for s in [&l[0], &l[1]] {
                    let s = s.as_str().expect("str");
                    let px = Px::parse(s).expect("num");
                    let decimals = s.split_once('.').map_or(0, |(_, f)| f.len() as u8);
                    assert_eq!(wire_string(px.raw(), decimals), s);
                    strings_checked += 1;
                }
            }
        }
    }
    assert_eq!(server_checksums, 290);
    assert_eq!(reference_verified, 290);
    assert_eq!(
        strings_checked, 16_528,
        "every price and size string of every books push"
    );
    let mut verified = 0;
    let (mut snapshots, mut updates) = (0, 0);
    for (i, inst) in INSTS.iter().enumerate() {
        let sync = handler.book(InstrumentId(i as u32)).expect("sync");
        let s = sync.stats();
        assert_eq!(s.checksum_mismatches, 0, "{inst}");
        assert_eq!(s.seq_gaps, 0, "{inst}");
        verified += s.checksums_verified;
        snapshots += s.snapshots;
        updates += s.updates;
        let (want_bids, want_asks) = refs[i].levels();
        let own: (Vec<Level>, Vec<Level>) = (
            sync.book().bids().map(|l| l.level()).collect(),
            sync.book().asks().map(|l| l.level()).collect(),
        );
        assert_eq!(
            own,
            (want_bids.clone(), want_asks.clone()),
            "{inst} sync book"
        );
        let emitted: (Vec<Level>, Vec<Level>) =
            (books[i].bids().collect(), books[i].asks().collect());
        assert_eq!(
            emitted,
            (want_bids, want_asks),
            "{inst} book from emitted deltas"
        );
        assert!(!books[i].is_crossed());
    }
    assert_eq!(verified, 290, "checksums verified by the sync machines");
    assert_eq!((snapshots, updates), (3, 287));
    assert_eq!(
        statuses
            .iter()
            .filter(|(_, s)| *s == Some(FeedState::Resynced))
            .count(),
        3
    );
    assert_eq!(
        statuses.len(),
        3,
        "no gap, no malformed frame: {statuses:?}"
    );
}

/// Builds a books push for BTC-USDT.
fn push(action: &str, prev: i64, seq: i64, bids: &str, asks: &str) -> Vec<u8> {
    format!(
        r#"{{"arg":{{"channel":"books","instId":"BTC-USDT"}},"action":"{action}","data":[{{"asks":[{asks}],"bids":[{bids}],"ts":"1700000000000","checksum":0,"prevSeqId":{prev},"seqId":{seq}}}]}}"#
    )
    .into_bytes()
}

/// FORMATS §2.2's worked example: snapshot (-1, 10) → update (10, 15) → no-change (15, 15)
/// → reset (15, 3) → normal (3, 5); then a broken chain.
#[test]
fn documented_sequence_rules() {
    let symbols = symbols();
    let mut dec = OkxDecoder::new(symbols);
    let mut sync = OkxBookSync::new(VenueId::OKX, InstrumentId(2));
    let mut book = L2Book::with_capacity(16);
    let mut statuses = Vec::new();
    let mut run = |bytes: Vec<u8>, sync: &mut OkxBookSync, book: &mut L2Book| {
        let mut bytes = bytes;
        let OkxMsg::Book(m) = dec.decode(&mut bytes).expect("decode") else {
            panic!("books");
        };
        sync.on_book(&m, 1, &mut |ev| match ev {
            MarketEvent::Delta(d) => common::apply_delta(book, &d),
            MarketEvent::Status(s) => statuses.push(s.state()),
            _ => {}
        })
    };
    let l = |p: &str, s: &str| format!(r#"["{p}","{s}","0","1"]"#);
    assert_eq!(
        run(push("update", 1, 2, "", ""), &mut sync, &mut book),
        OkxSyncOutcome::Dropped
    );
    let snapshot = push("snapshot", -1, 10, &l("100", "1"), &l("101", "2"));
    assert_eq!(
        run(snapshot.clone(), &mut sync, &mut book),
        OkxSyncOutcome::Applied
    );
    assert_eq!(
        run(
            push("update", 10, 15, &l("100", "3"), ""),
            &mut sync,
            &mut book
        ),
        OkxSyncOutcome::Applied
    );
    assert_eq!(
        run(push("update", 15, 15, "", ""), &mut sync, &mut book),
        OkxSyncOutcome::Applied
    );
    assert_eq!(
        run(
            push("update", 15, 3, "", &l("102", "1")),
            &mut sync,
            &mut book
        ),
        OkxSyncOutcome::Applied
    );
    assert_eq!(
        run(
            push("update", 3, 5, &l("99", "1"), ""),
            &mut sync,
            &mut book
        ),
        OkxSyncOutcome::Applied
    );
    let s = *sync.stats();
    assert_eq!(
        (s.snapshots, s.updates, s.heartbeats, s.seq_resets),
        (1, 4, 1, 1)
    );
    assert_eq!(
        book.best_bid().map(|l| l.qty),
        Some(Qty::parse("3").expect("q"))
    );
    assert_eq!(book.update_id(), 5);
    // prevSeqId 4 does not chain to 5: Gap, resubscribe, later updates dropped.
    assert_eq!(
        run(push("update", 4, 6, "", ""), &mut sync, &mut book),
        OkxSyncOutcome::Resubscribe
    );
    assert!(sync.needs_snapshot());
    assert_eq!(
        run(push("update", 6, 7, "", ""), &mut sync, &mut book),
        OkxSyncOutcome::Dropped
    );
    assert_eq!(run(snapshot, &mut sync, &mut book), OkxSyncOutcome::Applied);
    assert_eq!(
        statuses,
        vec![
            Some(FeedState::Resynced),
            Some(FeedState::Gap),
            Some(FeedState::Resynced)
        ]
    );
    assert_eq!(sync.stats().seq_gaps, 1);
}

/// A corrupted size in one real update: the checksum catches it, `Gap` and a resubscribe.
#[test]
fn checksum_mismatch_on_real_data_is_a_gap() {
    let symbols = symbols();
    let mut handler = OkxHandler::new(symbols);
    let frames = frames();
    let victim = frames
        .iter()
        .position(|f| f.windows(17).any(|w| w == b"\"action\":\"update\""))
        .expect("an update");
    let mut gaps = 0;
    let mut after = Vec::new();
    for (n, f) in frames.into_iter().enumerate() {
        let mut bytes = f;
        if n == victim {
            // The first level's size "0" ↔ "1" changes the book but keeps the JSON valid.
            let at = bytes
                .windows(6)
                .position(|w| w == b"\",\"0\",")
                .expect("a size field");
            bytes[at + 3] = if bytes[at + 3] == b'0' { b'1' } else { b'0' };
        }
        let action = handler
            .on_frame(&mut bytes, n as u64, &mut |ev| {
                if let MarketEvent::Status(s) = ev
                    && s.state() == Some(FeedState::Gap)
                {
                    gaps += 1;
                }
            })
            .expect("decode");
        if n == victim {
            assert!(matches!(action, Action::Resubscribe(_)), "{action:?}");
        } else if n > victim {
            after.push(action);
        }
    }
    assert_eq!(gaps, 1);
    assert!(after.iter().all(|a| *a == Action::None));
    assert!(handler.needs_snapshot());
    let dropped: u64 = (0..3)
        .map(|i| {
            handler
                .book(InstrumentId(i))
                .expect("book")
                .stats()
                .dropped_unsynced
        })
        .sum();
    assert!(
        dropped > 50,
        "updates after the mismatch wait for a snapshot: {dropped}"
    );
}

fn check_mutant(
    dec: &mut OkxDecoder,
    symbols: &SymbolTable,
    bytes: &[u8],
) -> Result<(), TestCaseError> {
    let want = reference::okx(bytes, symbols);
    let validating = dec
        .decode_validating(&mut bytes.to_vec())
        .map(|m| own_okx(&m));
    if let Some(fast) = dec.decode_fast(bytes).map(|m| own_okx(&m)) {
        prop_assert_eq!(
            Ok(&fast),
            validating.as_ref(),
            "fast vs simd: {}",
            show(bytes)
        );
    }
    if let Ok(got) = &validating {
        prop_assert_eq!(Ok(got), want.as_ref(), "simd vs reference: {}", show(bytes));
    }
    let full = dec.decode(&mut bytes.to_vec()).map(|m| own_okx(&m));
    prop_assert_eq!(full.is_ok(), validating.is_ok());
    Ok(())
}

fn seeds() -> Vec<Vec<u8>> {
    // Small frames of every kind (books updates are mostly small; snapshots are 30 KB).
    frames().into_iter().filter(|f| f.len() < 3_000).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3_000, ..ProptestConfig::default() })]

    #[test]
    fn mutated_real_frames(seed in any::<prop::sample::Index>(), muts in prop::collection::vec(mutation(), 1..5)) {
        thread_local! {
            static SEEDS: Vec<Vec<u8>> = seeds();
        }
        let bytes = SEEDS.with(|s| mutate(seed.get(s).clone(), &muts));
        let symbols = symbols();
        let mut dec = OkxDecoder::new(symbols.clone());
        check_mutant(&mut dec, &symbols, &bytes)?;
    }

    #[test]
    fn arbitrary_bytes(prefix in prop::sample::select(vec![
        &b""[..], &b"{\"arg\":{\"channel\":\"books\",\"instId\":\"BTC-USDT\"},\"action\":\"update\",\"data\":[{"[..],
        &b"{\"arg\":{\"channel\":\"trades\",\"instId\":\"BTC-USDT\"},\"data\":[{\"tradeId\":"[..],
        &b"{\"event\":"[..],
    ]), tail in prop::collection::vec(any::<u8>(), 0..96)) {
        let mut bytes = prefix.to_vec();
        bytes.extend_from_slice(&tail);
        let symbols = symbols();
        let mut dec = OkxDecoder::new(symbols.clone());
        check_mutant(&mut dec, &symbols, &bytes)?;
    }
}

/// Digit substitutions keep real frames valid (sizes change, so checksums would no longer
/// match, but decoding does not care): the fast path stays engaged and must agree.
#[test]
fn digit_substitutions_keep_the_fast_path_and_agree() {
    let symbols = symbols();
    let mut dec = OkxDecoder::new(symbols.clone());
    let (mut fast, mut total) = (0, 0);
    for (i, f) in frames().iter().enumerate() {
        let digits: Vec<usize> = (0..f.len()).filter(|&j| f[j].is_ascii_digit()).collect();
        for k in 0..8 {
            let mut m = f.clone();
            if let Some(&j) = digits.get((i * 31 + k * 17) % digits.len().max(1)) {
                m[j] = b'0' + ((i + k) % 10) as u8;
            }
            let want = reference::okx(&m, &symbols);
            let validating = dec.decode_validating(&mut m.clone()).map(|x| own_okx(&x));
            assert_eq!(validating.is_ok(), want.is_ok(), "{}", show(&m));
            if let Some(got) = dec.decode_fast(&m).map(|x| own_okx(&x)) {
                fast += 1;
                assert_eq!(Some(&got), want.as_ref().ok(), "{}", show(&m));
                assert_eq!(Ok(&got), validating.as_ref(), "{}", show(&m));
            }
            total += 1;
        }
    }
    // Events and tickers never take the fast path (by design); pushes nearly always do.
    assert!(fast * 100 >= total * 80, "fast path took {fast}/{total}");
}
