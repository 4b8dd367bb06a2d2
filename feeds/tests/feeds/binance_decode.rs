//! Binance decoders against the independent serde_json reference, on every real frame, and
//! under fuzzing: the fast path, the simd-json path and the reference must agree.

use crate::common;

use common::Frame;
use common::fuzz::{mutate, mutation};
use common::reference::{self, own_binance};
use proptest::prelude::*;
use tickwire_core::ids::InstrumentId;
use tickwire_feeds::venue::SymbolTable;
use tickwire_feeds::venue::binance::{BinanceDecoder, BinanceMsg};

fn btc_symbols() -> SymbolTable {
    SymbolTable::from_pairs([("BTCUSDT", InstrumentId(0))]).expect("symbols")
}

fn cryptofeed_symbols() -> SymbolTable {
    SymbolTable::from_pairs([
        ("NKNUSDT", InstrumentId(0)),
        ("BLZETH", InstrumentId(1)),
        ("LRCBTC", InstrumentId(2)),
        ("RUNEEUR", InstrumentId(3)),
    ])
    .expect("symbols")
}

/// Per message kind: (frames, fast-path hits).
#[derive(Default, Debug)]
struct Tally {
    frames: usize,
    fast: usize,
    kinds: std::collections::BTreeMap<&'static str, usize>,
}

fn kind(m: &BinanceMsg<'_>) -> &'static str {
    match m {
        BinanceMsg::BookTicker(_) => "bookTicker",
        BinanceMsg::Depth(_) => "depthUpdate",
        BinanceMsg::Trade(t) if t.aggregated => "aggTrade",
        BinanceMsg::Trade(_) => "trade",
        BinanceMsg::Snapshot(_) => "snapshot",
        BinanceMsg::Ignored(_) => "ignored",
    }
}

/// Decodes every frame three ways and asserts equality; returns the tally.
fn differential(frames: impl IntoIterator<Item = Vec<u8>>, symbols: SymbolTable) -> Tally {
    let mut dec = BinanceDecoder::new(symbols.clone());
    let mut t = Tally::default();
    for bytes in frames {
        let want = reference::binance(&bytes, &symbols)
            .unwrap_or_else(|e| panic!("reference rejects a real frame ({e}): {}", show(&bytes)));
        let validating = own_binance(
            &dec.decode_validating(&mut bytes.clone())
                .unwrap_or_else(|e| {
                    panic!("simd path rejects a real frame ({e}): {}", show(&bytes))
                }),
        );
        assert_eq!(validating, want, "simd path vs reference: {}", show(&bytes));
        if let Some(fast) = dec.decode_fast(&bytes) {
            t.fast += 1;
            assert_eq!(
                own_binance(&fast),
                want,
                "fast path vs reference: {}",
                show(&bytes)
            );
        }
        let msg = dec.decode(&mut bytes.clone()).expect("decode");
        assert_eq!(own_binance(&msg), want);
        *t.kinds.entry(kind(&msg)).or_default() += 1;
        t.frames += 1;
    }
    t
}

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[..b.len().min(300)]).into_owned()
}

#[test]
fn hftbacktest_btcusdt_every_frame() {
    let t = differential(
        common::btcusdt().into_iter().map(|f| f.bytes),
        btc_symbols(),
    );
    assert_eq!(t.frames, 41_249 + 58_325);
    assert_eq!(t.kinds["bookTicker"], 28_040 + 45_134);
    assert_eq!(t.kinds["trade"], 9_757 + 10_147);
    assert_eq!(t.kinds["depthUpdate"], 3_451 + 3_044);
    assert_eq!(t.kinds["snapshot"], 1);
    // Every bookTicker, trade and depthUpdate in the capture takes the fast path.
    assert_eq!(t.fast, t.frames - 1, "{t:?}");
}

#[test]
fn cryptofeed_raw_every_frame() {
    let frames = common::ndjson("binance/cryptofeed_BINANCE.ws.raw.ndjson");
    let t = differential(frames, cryptofeed_symbols());
    assert_eq!(t.frames, 265);
    assert_eq!(t.kinds["depthUpdate"], 177);
    assert_eq!(t.kinds["bookTicker"], 84);
    assert_eq!(t.kinds["aggTrade"], 2);
    assert_eq!(t.kinds["ignored"], 2, "klines");
}

#[test]
fn cryptofeed_recorder_frames_equal_the_raw_file() {
    let recorded: Vec<Vec<u8>> = common::cryptofeed_ws("binance/cryptofeed_BINANCE.ws.1.0")
        .into_iter()
        .map(|f: Frame| f.bytes)
        .collect();
    assert_eq!(
        recorded,
        common::ndjson("binance/cryptofeed_BINANCE.ws.raw.ndjson")
    );
}

#[test]
fn rest_snapshots_every_file() {
    let symbols = cryptofeed_symbols();
    let mut bodies: Vec<Vec<u8>> = common::cryptofeed_http("binance/cryptofeed_BINANCE.http.0.0")
        .into_iter()
        .map(|(_, _, b)| b)
        .collect();
    for s in ["NKNUSDT", "BLZETH", "LRCBTC", "RUNEEUR"] {
        let path = common::data_dir().join(format!("binance/cryptofeed_depth_snapshot_{s}.json"));
        bodies.push(std::fs::read(path).expect("snapshot file"));
    }
    let t = differential(bodies, symbols);
    assert_eq!(t.kinds["snapshot"], 8);
}

#[test]
fn documented_literals_and_control_frames() {
    let symbols = SymbolTable::from_pairs([
        ("BNBUSDT", InstrumentId(0)),
        ("BNBBTC", InstrumentId(1)),
        ("ETHUSDT", InstrumentId(2)),
    ])
    .expect("symbols");
    let frames: Vec<&[u8]> = vec![
        br#"{"u":400900217,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}"#,
        br#"{"e":"depthUpdate","E":1672515782136,"s":"BNBBTC","U":157,"u":160,"b":[["0.0024","10"]],"a":[["0.0026","100"]]}"#,
        br#"{"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.001","q":"100","T":1672515782136,"m":true,"M":true}"#,
        br#"{"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.001","q":"100","b":88,"a":50,"T":1672515782136,"m":true,"M":true}"#,
        br#"{"e":"aggTrade","E":1672515782136,"s":"BNBBTC","a":12345,"p":"0.001","q":"100","f":100,"l":105,"T":1672515782136,"m":true,"M":true}"#,
        br#"{"lastUpdateId":1027024,"bids":[["4.00000000","431.00000000"]],"asks":[["4.00000200","12.00000000"]]}"#,
        br#"{"stream":"bnbbtc@depth5","data":{"lastUpdateId":160,"bids":[["0.0024","10"]],"asks":[["0.0026","100"]]}}"#,
        br#"{"e":"bookTicker","u":5123107838717,"s":"ETHUSDT","b":"2681.62","B":"1.165","a":"2681.63","A":"73.077","T":1723161256310,"E":1723161256311}"#,
        br#"{"e":"serverShutdown","E":1770123456789}"#,
        br#"{"stream":"!serverShutdown","data":{"e":"serverShutdown","E":1770123456789}}"#,
        br#"{"result":null,"id":1}"#,
        br#"{"error":{"code":2,"msg":"Invalid request"},"id":1}"#,
        br#"{"stream":"!ticker@arr","data":[]}"#,
        b"{\"u\":400900217,\"s\":\"BNBUSDT\",\"b\":\"25.35190000\",\"B\":\"31.21000000\",\"a\":\"25.36520000\",\"A\":\"40.66000000\"}\n",
        br#"{ "u" : 400900217, "s":"BNB\u0055SDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}"#,
    ];
    let t = differential(frames.iter().map(|f| f.to_vec()), symbols);
    assert_eq!(t.frames, frames.len());
    assert_eq!(t.kinds["ignored"], 5);
}

#[test]
fn malformed_frames_are_errors_not_panics() {
    let mut dec = BinanceDecoder::new(btc_symbols());
    let bad: Vec<&[u8]> = vec![
        b"",
        b"pong",
        b"[1,2]",
        br#"{"u":1,"s":"BTCUSDT","b":"1.0","B":"1","a":"2"}"#,
        br#"{"u":1,"s":"ETHUSDT","b":"1.0","B":"1","a":"2","A":"1"}"#,
        br#"{"u":-1,"s":"BTCUSDT","b":"1.0","B":"1","a":"2","A":"1"}"#,
        br#"{"u":1,"s":"BTCUSDT","b":1.0,"B":"1","a":"2","A":"1"}"#,
        br#"{"u":1,"s":"BTCUSDT","b":"1e3","B":"1","a":"2","A":"1"}"#,
        br#"{"e":"depthUpdate","s":"BTCUSDT","U":1,"u":2,"b":[["1"]],"a":[]}"#,
        br#"{"e":"depthUpdate","s":"BTCUSDT","U":1,"u":2,"b":[["1","-1"]],"a":[]}"#,
        br#"{"e":"depthUpdate","s":"BTCUSDT","U":1,"u":2,"b":{},"a":[]}"#,
        br#"{"stream":"x"}"#,
        br#"{"stream":1,"data":{}}"#,
        br#"{"e":7}"#,
        br#"{"lastUpdateId":"1","bids":[],"asks":[]}"#,
        br#"{"u":1,"s":"BTCUSDT","b":"1","B":"1","a":"2","A":"1"}x"#,
    ];
    for frame in bad {
        let got = dec.decode(&mut frame.to_vec());
        assert!(got.is_err(), "{} decoded to {got:?}", show(frame));
        assert!(
            reference::binance(frame, &btc_symbols()).is_err(),
            "{}",
            show(frame)
        );
    }
    // A duplicated key: serde_json keeps the last copy, the decoders refuse to guess.
    let dup = br#"{"u":1,"u":2,"s":"BTCUSDT","b":"1","B":"1","a":"2","A":"1"}"#;
    assert_eq!(
        dec.decode(&mut dup.to_vec()),
        Err(tickwire_feeds::venue::DecodeError::DuplicateField("u"))
    );
}

/// A sample of real frames of every kind, for mutation.
fn seeds() -> Vec<Vec<u8>> {
    let frames = common::hftbacktest("binance/btcusdt_20240808.gz");
    let mut out: Vec<Vec<u8>> = frames.iter().take(12).map(|f| f.bytes.clone()).collect();
    out.extend(
        common::ndjson("binance/cryptofeed_BINANCE.ws.raw.ndjson")
            .into_iter()
            .filter(|f| f.len() < 2_000)
            .step_by(20),
    );
    out.retain(|f| f.len() < 20_000);
    out
}

/// Checks the decoders on one (possibly corrupted) input: no panic; the fast path only
/// answers with what the simd path answers; any success equals the reference's.
fn check_mutant(
    dec: &mut BinanceDecoder,
    symbols: &SymbolTable,
    bytes: &[u8],
) -> Result<(), TestCaseError> {
    let reference = reference::binance(bytes, symbols);
    let validating = dec
        .decode_validating(&mut bytes.to_vec())
        .map(|m| own_binance(&m));
    if let Some(fast) = dec.decode_fast(bytes).map(|m| own_binance(&m)) {
        prop_assert_eq!(
            Ok(&fast),
            validating.as_ref(),
            "fast vs simd: {}",
            show(bytes)
        );
    }
    if let Ok(got) = &validating {
        prop_assert_eq!(
            Ok(got),
            reference.as_ref(),
            "simd vs reference: {}",
            show(bytes)
        );
    }
    let full = dec.decode(&mut bytes.to_vec()).map(|m| own_binance(&m));
    prop_assert_eq!(full.is_ok(), validating.is_ok());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3_000, ..ProptestConfig::default() })]

    /// Real frames with 1–4 random mutations.
    #[test]
    fn mutated_real_frames(seed in any::<prop::sample::Index>(), muts in prop::collection::vec(mutation(), 1..5)) {
        thread_local! {
            static SEEDS: Vec<Vec<u8>> = seeds();
        }
        let bytes = SEEDS.with(|s| mutate(seed.get(s).clone(), &muts));
        let symbols = SymbolTable::from_pairs([
            ("BTCUSDT", InstrumentId(0)), ("NKNUSDT", InstrumentId(1)), ("LRCBTC", InstrumentId(2)),
            ("BLZETH", InstrumentId(3)), ("RUNEEUR", InstrumentId(4)),
        ]).expect("symbols");
        let mut dec = BinanceDecoder::new(symbols.clone());
        check_mutant(&mut dec, &symbols, &bytes)?;
    }

    /// Arbitrary bytes, and arbitrary bytes behind a plausible prefix.
    #[test]
    fn arbitrary_bytes(prefix in prop::sample::select(vec![
        &b""[..], &b"{\"u\":1,\"s\":\"BTCUSDT\","[..], &b"{\"stream\":\"a\",\"data\":{\"e\":\"depthUpdate\","[..],
        &b"{\"e\":\"trade\",\"s\":\"BTCUSDT\",\"t\":"[..],
    ]), tail in prop::collection::vec(any::<u8>(), 0..96)) {
        let mut bytes = prefix.to_vec();
        bytes.extend_from_slice(&tail);
        let symbols = btc_symbols();
        let mut dec = BinanceDecoder::new(symbols.clone());
        check_mutant(&mut dec, &symbols, &bytes)?;
    }
}

/// Replaces digit `nth` (counted over the frame's digits) with `d`.
fn swap_digit(frame: &[u8], nth: usize, d: u8) -> Vec<u8> {
    let mut out = frame.to_vec();
    let positions: Vec<usize> = (0..out.len())
        .filter(|&i| out[i].is_ascii_digit())
        .collect();
    if let Some(&i) = positions.get(nth % positions.len().max(1)) {
        out[i] = b'0' + d % 10;
    }
    out
}

/// Digit substitutions keep real frames valid, so the fast path stays engaged and is compared
/// with simd-json and the reference on values it has never seen; the fast path must take
/// nearly all of them (it only gives up on e.g. a new leading zero).
#[test]
fn digit_substitutions_keep_the_fast_path_and_agree() {
    let symbols = btc_symbols();
    let mut dec = BinanceDecoder::new(symbols.clone());
    let frames: Vec<Vec<u8>> = common::hftbacktest("binance/btcusdt_20240808.gz")
        .into_iter()
        .filter(|f| !f.bytes.starts_with(b"{\"lastUpdateId\""))
        .take(3_000)
        .map(|f| f.bytes)
        .collect();
    let (mut fast, mut total) = (0, 0);
    for (i, f) in frames.iter().enumerate() {
        for k in 0..4 {
            let m = swap_digit(f, i * 7 + k * 13, (i + k) as u8);
            let want = reference::binance(&m, &symbols);
            let validating = dec
                .decode_validating(&mut m.clone())
                .map(|x| own_binance(&x));
            assert_eq!(validating.is_ok(), want.is_ok(), "{}", show(&m));
            if let Some(got) = dec.decode_fast(&m).map(|x| own_binance(&x)) {
                fast += 1;
                assert_eq!(Some(&got), want.as_ref().ok(), "{}", show(&m));
                assert_eq!(Ok(&got), validating.as_ref(), "{}", show(&m));
            }
            total += 1;
        }
    }
    assert!(fast * 100 >= total * 95, "fast path took {fast}/{total}");
}
