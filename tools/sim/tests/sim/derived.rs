//! The derived OKX venue: Binance BTCUSDT capture served as OKX BTC-USDT with seeded price
//! noise and a lag, over real TLS on 127.0.0.1, read with the test's own client.

use crate::sim_support;

use std::collections::HashMap;
use std::io::Read;
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use serde_json::Value;
use sim_support::{Got, TestBook, WsClient, data, toml_path};
use tickwire_sim::{EndpointKind, SimConfig, SimHandle, start};

const NOISE: i64 = 3;
const LAG_MS: i64 = -150;

fn sim(seed: u64) -> SimHandle {
    let cfg = SimConfig::parse(&format!(
        "[[venue]]\nvenue = \"binance\"\ncaptures = [{}]\n\n\
         [[venue]]\nvenue = \"okx\"\nname = \"okx-derived\"\nderive_from = \"binance\"\n\
         symbol_map = [\"BTCUSDT=BTC-USDT\"]\nlag_ms = {LAG_MS}\nnoise_ticks = {NOISE}\n\
         noise_period_ms = 2000\nseed = {seed}\n",
        toml_path("binance/btcusdt_20240808.gz")
    ))
    .unwrap_or_else(|e| panic!("config: {e}"));
    start(&cfg).unwrap_or_else(|e| panic!("start: {e}"))
}

fn subscribe(sim: &SimHandle) -> WsClient {
    let ws = sim.endpoint("okx-derived", EndpointKind::Ws).expect("ws");
    let mut c = WsClient::connect(ws, "/ws/v5/public", sim.ca_path());
    c.send(
        r#"{"id":"7","op":"subscribe","args":[{"channel":"books","instId":"BTC-USDT"},{"channel":"trades","instId":"BTC-USDT"},{"channel":"bbo-tbt","instId":"BTC-USDT"}]}"#,
    );
    for ch in ["books", "trades", "bbo-tbt"] {
        let v: Value = serde_json::from_str(&c.text(Duration::from_secs(10))).expect("ack");
        assert_eq!(v["event"], "subscribe", "{v}");
        assert_eq!(v["arg"]["channel"], ch);
        assert_eq!(v["arg"]["instId"], "BTC-USDT");
    }
    c
}

/// Reads every push until the venue has served its whole tape.
fn drain(sim: &SimHandle, venue: &str, c: &mut WsClient) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut out = Vec::new();
    loop {
        assert!(Instant::now() < deadline, "{venue}: tape never finished");
        match c.next(Duration::from_millis(200)) {
            Got::Text(t) => out.push(t),
            Got::Ping => {}
            Got::Closed => panic!("{venue}: connection closed"),
            Got::Timeout => {
                if sim.progress(venue).expect("progress").finished {
                    return out;
                }
            }
        }
    }
}

/// Source trades from the capture: tradeId → (price, size, trade time ms, buyer is maker).
fn source_trades() -> HashMap<u64, (Decimal, Decimal, i64, bool)> {
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(
        std::fs::File::open(data("binance/btcusdt_20240808.gz")).expect("capture"),
    )
    .read_to_string(&mut text)
    .expect("gunzip");
    let mut out = HashMap::new();
    for line in text.lines() {
        let Some((_, json)) = line.split_once(' ') else {
            continue;
        };
        let v: Value = serde_json::from_str(json).expect("capture json");
        if v["stream"] != "btcusdt@trade" {
            continue;
        }
        let d = &v["data"];
        out.insert(
            d["t"].as_u64().expect("t"),
            (
                d["p"].as_str().expect("p").parse().expect("p"),
                d["q"].as_str().expect("q").parse().expect("q"),
                d["T"].as_i64().expect("T"),
                d["m"].as_bool().expect("m"),
            ),
        );
    }
    out
}

#[test]
fn derived_books_verify_and_track_the_source_within_the_noise() {
    let sim = sim(42);
    let tick: Decimal = "0.01".parse().expect("tick");
    let bound = tick * Decimal::from(NOISE);

    let mut okx = subscribe(&sim);
    // The source venue moves its own tape only while somebody reads it.
    let bws = sim.endpoint("binance", EndpointKind::Ws).expect("ws");
    let mut src = WsClient::connect(bws, "/ws/btcusdt@depth@100ms", sim.ca_path());
    // Reads until told to stop (after the source tape has finished), however slow the machine.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let src_thread = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(300);
        let mut n = 0usize;
        while Instant::now() < deadline && !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            match src.next(Duration::from_millis(200)) {
                Got::Text(_) => n += 1,
                Got::Ping | Got::Timeout => {}
                Got::Closed => break,
            }
        }
        n
    });
    let got = drain(&sim, "okx-derived", &mut okx);

    let trades = source_trades();
    let mut book = TestBook::default();
    let (mut books, mut bbos, mut n_trades, mut moved) = (0usize, 0usize, 0usize, 0usize);
    let mut offsets = std::collections::BTreeSet::new();
    for t in &got {
        let v: Value = serde_json::from_str(t).expect("push json");
        let d = &v["data"][0];
        match v["arg"]["channel"].as_str() {
            Some("books") => {
                if books == 0 {
                    assert_eq!(v["action"], "snapshot", "first books push: {t}");
                    // OKX's `books` snapshot depth (FORMATS.md §2.2), though the source
                    // book is deeper: a 400-level decoder must accept it.
                    for side in ["bids", "asks"] {
                        assert_eq!(d[side].as_array().map(Vec::len), Some(400), "{side}");
                    }
                } else {
                    assert_eq!(v["action"], "update");
                }
                for l in d["bids"].as_array().expect("bids") {
                    book.set(true, l);
                }
                for l in d["asks"].as_array().expect("asks") {
                    book.set(false, l);
                }
                let carried = d["checksum"].as_i64().expect("checksum");
                assert_eq!(carried, i64::from(book.okx_checksum()), "checksum of {t}");
                let bb = book.bids.keys().next_back().expect("a bid");
                let ba = book.asks.keys().next().expect("an ask");
                assert!(bb < ba, "crossed derived book after {t}");
                // Updates keep the client's book a 400-level view.
                assert!(
                    book.bids.len() <= 400 && book.asks.len() <= 400,
                    "book grew past 400 levels: {} bids, {} asks",
                    book.bids.len(),
                    book.asks.len()
                );
                books += 1;
            }
            Some("bbo-tbt") => {
                // The best levels of the book the preceding books push left.
                let (bp, bs) = book.bids_best_first().remove(0);
                let (ap, asz) = book.asks_best_first().remove(0);
                assert_eq!(d["bids"][0][0], bp.as_str());
                assert_eq!(d["bids"][0][1], bs.as_str());
                assert_eq!(d["asks"][0][0], ap.as_str());
                assert_eq!(d["asks"][0][1], asz.as_str());
                assert!(v.get("action").is_none());
                bbos += 1;
            }
            Some("trades") => {
                let id: u64 = d["tradeId"].as_str().expect("id").parse().expect("id");
                let (p, q, time, maker_buy) = trades[&id];
                let px: Decimal = d["px"].as_str().expect("px").parse().expect("px");
                let off = px - p;
                assert!(off.abs() <= bound, "trade {id}: {px} vs source {p}");
                assert_eq!((off / tick).fract(), Decimal::ZERO, "off-tick {px}");
                offsets.insert(off);
                if !off.is_zero() {
                    moved += 1;
                }
                // OKX's shortest form of the source size (`0.02000000` → `0.02`).
                assert_eq!(d["sz"], q.normalize().to_string().as_str());
                assert_eq!(d["side"], if maker_buy { "sell" } else { "buy" });
                assert_eq!(d["instId"], "BTC-USDT");
                let ts: i64 = d["ts"].as_str().expect("ts").parse().expect("ts");
                assert_eq!(ts, time + LAG_MS, "lag on trade {id}");
                n_trades += 1;
            }
            other => panic!("unexpected channel {other:?}: {t}"),
        }
    }
    assert_eq!(n_trades, trades.len(), "every source trade is served");
    assert!(books > 3000, "only {books} books pushes");
    assert!(bbos > 100, "only {bbos} bbo-tbt pushes");
    assert!(moved > 0 && offsets.len() > 1, "noise never moved a price");

    // At the end the derived book is the source book shifted by one offset within the bound.
    assert!(
        sim.wait_finished(Duration::from_secs(300)),
        "source tape never finished"
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(src_thread.join().expect("source reader") > 3000);
    let sb = sim
        .book("binance", "BTCUSDT", 25)
        .expect("venue")
        .expect("source book");
    let db = sim
        .book("okx-derived", "BTC-USDT", 25)
        .expect("venue")
        .expect("derived book");
    assert_eq!(db.checksum, Some(book.okx_checksum()));
    let dec = |s: &str| s.parse::<Decimal>().expect("decimal");
    let k = dec(&db.bids[0].0) - dec(&sb.bids[0].0);
    assert!(k.abs() <= bound, "final offset {k}");
    for (d, s) in db
        .bids
        .iter()
        .zip(&sb.bids)
        .chain(db.asks.iter().zip(&sb.asks))
    {
        assert_eq!(dec(&d.0) - dec(&s.0), k, "level {d:?} vs {s:?}");
        assert_eq!(dec(&d.1), dec(&s.1), "size of {d:?} vs {s:?}");
    }
    assert_eq!(book.bids_best_first()[..25].to_vec(), db.bids);
    sim.shutdown();
}

/// First `n` pushes of a fresh simulator with `seed`.
fn first_pushes(seed: u64, n: usize) -> Vec<String> {
    let sim = sim(seed);
    let mut c = subscribe(&sim);
    let out: Vec<String> = (0..n).map(|_| c.text(Duration::from_secs(30))).collect();
    sim.shutdown();
    out
}

/// (That another seed draws other offsets is the module's unit test.)
#[test]
fn same_seed_same_bytes() {
    let a = first_pushes(9, 1500);
    let b = first_pushes(9, 1500);
    assert_eq!(a, b, "same seed, different pushes");
}

#[test]
fn derive_config_errors_are_reported() {
    let err = SimConfig::parse(&format!(
        "[[venue]]\nvenue = \"binance\"\ncaptures = [{}]\n\n\
         [[venue]]\nvenue = \"okx\"\nname = \"d\"\nderive_from = \"nope\"\n\
         captures = [{0}]\nsymbol_map = [\"BTCUSDT\"]\n\n\
         [[venue]]\nvenue = \"okx\"\nname = \"e\"\ncaptures = [{0}]\nnoise_ticks = 2\n",
        toml_path("binance/btcusdt_20240808.gz")
    ))
    .expect_err("invalid config accepted")
    .to_string();
    for want in [
        "derive_from = \"nope\" names no [[venue]]",
        "a derived venue uses its source's captures",
        "\"BTCUSDT\" is not SOURCE=INSTID",
        "noise_ticks: only meaningful with derive_from",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
}

fn login_sign(secret: &str, prehash: &str) -> String {
    use base64::Engine as _;
    use hmac::{KeyInit, Mac};
    let mut m =
        <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("key");
    m.update(prehash.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(m.finalize().into_bytes())
}

#[test]
fn derived_venue_trades_through_the_matching_engine() {
    let cfg = SimConfig::parse(&format!(
        "[[venue]]\nvenue = \"binance\"\ncaptures = [{}]\n\n\
         [[venue]]\nvenue = \"okx\"\nname = \"okx-derived\"\nderive_from = \"binance\"\n\
         noise_ticks = 2\nseed = 5\n\n\
         [venue.private]\nmaker_fee = \"0.0002\"\ntaker_fee = \"0.0005\"\n\n\
         [[venue.private.account]]\nname = \"a\"\napi_key = \"k1\"\nsecret = \"s1\"\n\
         passphrase = \"p1\"\nbalances = [\"USDT:100000\"]\n",
        toml_path("binance/btcusdt_20240808.gz")
    ))
    .unwrap_or_else(|e| panic!("config: {e}"));
    let sim = start(&cfg).unwrap_or_else(|e| panic!("start: {e}"));
    let ws = sim.endpoint("okx-derived", EndpointKind::Ws).expect("ws");
    let mut p = WsClient::connect(ws, "/ws/v5/private", sim.ca_path());
    let ts = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs())
    .to_string();
    let sign = login_sign("s1", &format!("{ts}GET/users/self/verify"));
    p.send(
        &serde_json::json!({"op":"login","args":[{"apiKey":"k1","passphrase":"p1","timestamp":ts,"sign":sign}]})
            .to_string(),
    );
    let next = |c: &mut WsClient| -> Value {
        serde_json::from_str(&c.text(Duration::from_secs(20))).expect("json")
    };
    assert_eq!(next(&mut p)["code"], "0");
    p.send(
        r#"{"op":"subscribe","args":[{"channel":"orders","instType":"ANY","instId":"BTC-USDT"}]}"#,
    );
    assert_eq!(next(&mut p)["event"], "subscribe");
    // The derived instrument's tick is the source's (0.01).
    let order = |px: &str, id: &str| {
        serde_json::json!({"id":id,"op":"order","args":[{"instId":"BTC-USDT","tdMode":"cash","side":"buy","ordType":"limit","px":px,"sz":"0.001"}]})
            .to_string()
    };
    p.send(&order("70000.001", "1"));
    let v = next(&mut p);
    assert_eq!(v["data"][0]["sCode"], "51000", "{v}");
    // Before the tape moves the book is empty: a buy above the source's asks rests, then
    // fills as maker when the derived snapshot brings asks under it.
    p.send(&order("70000.01", "2"));
    let v = next(&mut p);
    assert_eq!(v["code"], "0", "{v}");
    let live = next(&mut p);
    assert_eq!(live["data"][0]["state"], "live", "{live}");
    assert_eq!(live["arg"]["instType"], "ANY");
    // The tape moves once somebody subscribes (its first frames are trades, then the book).
    let mut public = subscribe(&sim);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(Instant::now() < deadline, "no books snapshot");
        let v: Value =
            serde_json::from_str(&public.text(Duration::from_secs(20))).expect("public push");
        if v["arg"]["channel"] == "books" {
            assert_eq!(v["action"], "snapshot", "{v}");
            break;
        }
    }
    let fill = next(&mut p);
    let f = &fill["data"][0];
    assert_eq!(f["state"], "filled", "{fill}");
    assert_eq!(f["execType"], "M");
    assert_eq!(f["fillPx"], "70000.01");
    assert_eq!(f["fillSz"], "0.001");
    // Maker 0.02 % of the BTC received, charged: negative.
    assert_eq!(f["fee"], "-0.0000002");
    sim.shutdown();
}
