//! Binance side of the venue simulator, over real TLS on 127.0.0.1, with a client written here.

use crate::sim_support;

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use serde_json::Value;
use sim_support::{Got, Http, TestBook, WsClient, data, toml_path};
use tickwire_sim::{EndpointKind, SimConfig, SimHandle, start};

fn sim(toml: &str) -> SimHandle {
    let cfg = SimConfig::parse(toml).unwrap_or_else(|e| panic!("config: {e}"));
    start(&cfg).unwrap_or_else(|e| panic!("start: {e}"))
}

fn urls(sim: &SimHandle, venue: &str) -> (String, String) {
    (
        sim.endpoint(venue, EndpointKind::Ws)
            .expect("ws endpoint")
            .to_owned(),
        sim.endpoint(venue, EndpointKind::Rest)
            .expect("rest endpoint")
            .to_owned(),
    )
}

/// The capture's lines (JSON part), in file order.
fn hftbacktest_lines(rel: &str) -> Vec<String> {
    let f = std::fs::File::open(data(rel)).expect("capture");
    BufReader::new(flate2::read::GzDecoder::new(f))
        .lines()
        .map(|l| {
            let l = l.expect("line");
            l.split_once(' ').expect("ts json").1.to_owned()
        })
        .collect()
}

fn diff_of(v: &Value) -> (u64, u64) {
    (v["U"].as_u64().expect("U"), v["u"].as_u64().expect("u"))
}

fn apply(book: &mut TestBook, diff: &Value) {
    for l in diff["b"].as_array().expect("b") {
        book.set(true, l);
    }
    for l in diff["a"].as_array().expect("a") {
        book.set(false, l);
    }
}

fn book_from_snapshot(s: &Value) -> TestBook {
    let mut b = TestBook::default();
    for l in s["bids"].as_array().expect("bids") {
        b.set(true, l);
    }
    for l in s["asks"].as_array().expect("asks") {
        b.set(false, l);
    }
    b
}

fn pairs(v: &Value) -> Vec<(String, String)> {
    v.as_array()
        .expect("levels")
        .iter()
        .map(|l| {
            (
                l[0].as_str().expect("px").to_owned(),
                l[1].as_str().expect("qty").to_owned(),
            )
        })
        .collect()
}

/// Syncs a book per FORMATS.md §1.7 from a snapshot and the diffs served after it.
fn sync(snapshot: &Value, diffs: &[Value]) -> (TestBook, u64) {
    let mut book = book_from_snapshot(snapshot);
    let mut id = snapshot["lastUpdateId"].as_u64().expect("lastUpdateId");
    let mut first = true;
    for d in diffs {
        let (first_id, last_id) = diff_of(d);
        if last_id <= id {
            continue;
        }
        if first {
            assert!(
                first_id <= id + 1 && id < last_id,
                "first diff {first_id}..{last_id} does not straddle {id}"
            );
            first = false;
        } else {
            assert_eq!(first_id, id + 1, "gap in served diffs");
        }
        apply(&mut book, d);
        id = last_id;
    }
    (book, id)
}

#[test]
fn btcusdt_capture_served_in_order_complete_and_rest_consistent() {
    let sim = sim(&format!(
        "[[venue]]\nvenue = \"binance\"\ncaptures = [{}, {}]\npace = \"fast\"\n",
        toml_path("binance/btcusdt_20240808.gz"),
        toml_path("binance/btcusdt_20240809.gz")
    ));
    assert!(sim.warnings().is_empty(), "{:?}", sim.warnings());
    let mut lines = hftbacktest_lines("binance/btcusdt_20240808.gz");
    lines.extend(hftbacktest_lines("binance/btcusdt_20240809.gz"));
    let snapshot_line = lines
        .iter()
        .find(|l| l.starts_with("{\"lastUpdateId\""))
        .expect("inlined snapshot")
        .clone();
    let expected: Vec<String> = lines
        .into_iter()
        .filter(|l| !l.starts_with("{\"lastUpdateId\""))
        .collect();
    let (ws, rest) = urls(&sim, "binance");
    let ca = sim.ca_path().to_owned();
    let mut http = Http::connect(&rest, &ca);

    // Before the tape moves, REST serves the capture's snapshot as recorded.
    let r = http.get("/api/v3/depth?symbol=BTCUSDT&limit=5000");
    assert_eq!(r.status, 200);
    let first: Value = serde_json::from_str(&r.body).expect("depth json");
    let recorded: Value = serde_json::from_str(&snapshot_line).expect("snapshot json");
    assert_eq!(first, recorded);
    let r = http.get("/api/v3/depth?symbol=BTCUSDT&limit=3");
    let top: Value = serde_json::from_str(&r.body).expect("depth json");
    assert_eq!(top["bids"].as_array().map(Vec::len), Some(3));
    assert_eq!(top["bids"][0], recorded["bids"][0]);

    let mut c = WsClient::connect(
        &ws,
        "/stream?streams=btcusdt@depth@100ms/btcusdt@bookTicker/btcusdt@trade",
        &ca,
    );
    let deadline = Instant::now() + Duration::from_secs(400);
    let mut got: Vec<String> = Vec::with_capacity(expected.len());
    let mut mid: Option<Value> = None;
    while got.len() < expected.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "only {} of {} frames within the deadline",
            got.len(),
            expected.len()
        );
        got.push(c.text(left));
        if got.len() == 20_000 {
            let r = http.get("/api/v3/depth?symbol=BTCUSDT&limit=5000");
            assert_eq!(r.status, 200);
            assert!(r.header("x-mbx-used-weight-1m").is_some());
            mid = Some(serde_json::from_str(&r.body).expect("depth json"));
        }
    }
    // In order and complete: byte for byte the capture's frames.
    if let Some(i) = (0..expected.len()).find(|&i| got[i] != expected[i]) {
        panic!("frame {i} differs:\n got {}\nwant {}", got[i], expected[i]);
    }
    assert!(
        sim.wait_finished(Duration::from_secs(30)),
        "capture not reported finished"
    );
    assert!(
        matches!(c.next(Duration::from_millis(300)), Got::Timeout | Got::Ping),
        "extra frame after the capture"
    );

    let mut counts = std::collections::BTreeMap::new();
    for t in &expected {
        let v: Value = serde_json::from_str(t).expect("frame");
        *counts
            .entry(v["stream"].as_str().expect("stream").to_owned())
            .or_insert(0usize) += 1;
    }
    assert_eq!(counts["btcusdt@bookTicker"], 28_040 + 45_134);
    assert_eq!(counts["btcusdt@trade"], 9_757 + 10_147);
    assert_eq!(counts["btcusdt@depth@100ms"], 3_451 + 3_044);

    let diffs: Vec<Value> = got
        .iter()
        .map(|t| serde_json::from_str::<Value>(t).expect("frame"))
        .filter(|v| v["stream"] == "btcusdt@depth@100ms")
        .map(|v| v["data"].clone())
        .collect();
    // The mid-stream snapshot is a state the stream actually went through...
    let mid = mid.expect("mid snapshot");
    let l = mid["lastUpdateId"].as_u64().expect("lastUpdateId");
    assert!(
        diffs.iter().any(|d| diff_of(d).1 == l),
        "lastUpdateId {l} is no served diff's u"
    );
    // ...and syncing from it with the later diffs reproduces the simulator's final book.
    let (book, id) = sync(&mid, &diffs);
    let end: Value =
        serde_json::from_str(&http.get("/api/v3/depth?symbol=BTCUSDT&limit=5000").body)
            .expect("depth json");
    assert_eq!(end["lastUpdateId"].as_u64(), Some(id));
    assert_eq!(pairs(&end["bids"]), book.bids_best_first());
    assert_eq!(pairs(&end["asks"]), book.asks_best_first());
    let own = sim
        .book("binance", "BTCUSDT", usize::MAX)
        .expect("venue")
        .expect("book");
    assert_eq!(own.update_id, Some(id));
    assert_eq!(own.bids, book.bids_best_first());
    assert_eq!(own.asks, book.asks_best_first());
    // And it matches the reference oracle (vectors/book_expectations.json).
    assert_eq!(id, 50_093_696_318);
    assert_eq!(own.bids[0], ("61602.01000000".into(), "1.67177000".into()));
    assert_eq!(own.asks[0], ("61602.02000000".into(), "2.66795000".into()));
    assert_eq!((own.bids.len(), own.asks.len()), (1971, 2962));
    // Syncing from the recorded snapshot over every served diff lands on the same book: the
    // first applicable diff arrived before the snapshot line (the README's trap).
    let (from_start, id2) = sync(&recorded, &diffs);
    assert_eq!(id2, id);
    assert_eq!(from_start.bids_best_first(), own.bids);
    assert_eq!(sim.capture_gaps("binance").expect("venue"), 0);
    sim.shutdown();
}

fn cryptofeed(extra: &str) -> SimHandle {
    sim(&format!(
        "[[venue]]\nvenue = \"binance\"\ncaptures = [{}, {}]\npace = \"fast\"\n{extra}",
        toml_path("binance/cryptofeed_BINANCE.ws.1.0"),
        toml_path("binance/cryptofeed_BINANCE.http.0.0"),
    ))
}

/// The recorder file's frames (`<epoch_s>: <json>` lines), in order.
fn cryptofeed_frames() -> Vec<Value> {
    std::fs::read_to_string(data("binance/cryptofeed_BINANCE.ws.1.0"))
        .expect("capture")
        .lines()
        .filter(|l| l.as_bytes().first().is_some_and(u8::is_ascii_digit))
        .filter_map(|l| {
            l.split_once(": ")
                .map(|(_, j)| serde_json::from_str::<Value>(j).expect("json"))
        })
        .filter(|v| v.get("stream").is_some())
        .collect()
}

#[test]
fn rest_keep_alive_errors_and_exchange_info() {
    let sim = cryptofeed(&format!(
        "exchange_info = {}\n",
        toml_path("binance/cryptofeed_BINANCE_exchangeInfo.json.txt")
    ));
    let (_, rest) = urls(&sim, "binance");
    let mut http = Http::connect(&rest, sim.ca_path());
    // Several requests, one connection (keep-alive).
    let r = http.get("/api/v3/ping");
    assert_eq!((r.status, r.body.as_str()), (200, "{}"));
    assert_eq!(r.header("connection"), Some("keep-alive"));
    let r = http.get("/api/v3/time");
    let t: Value = serde_json::from_str(&r.body).expect("time");
    assert!(
        t["serverTime"]
            .as_u64()
            .is_some_and(|ms| ms > 1_600_000_000_000)
    );
    let r = http.get("/api/v3/depth?symbol=NKNUSDT&limit=5");
    assert_eq!(r.status, 200);
    let d: Value = serde_json::from_str(&r.body).expect("depth");
    let recorded: Value = serde_json::from_str(
        &std::fs::read_to_string(data("binance/cryptofeed_depth_snapshot_NKNUSDT.json"))
            .expect("snapshot"),
    )
    .expect("snapshot json");
    assert_eq!(d["lastUpdateId"], recorded["lastUpdateId"]);
    assert_eq!(d["bids"].as_array().map(Vec::len), Some(5));
    assert_eq!(
        d["bids"].as_array().expect("bids")[..],
        recorded["bids"].as_array().expect("bids")[..5]
    );
    assert_eq!(
        d["asks"].as_array().expect("asks")[..],
        recorded["asks"].as_array().expect("asks")[..5]
    );
    let r = http.get("/api/v3/depth?symbol=NOPE");
    assert_eq!(
        (r.status, r.body.as_str()),
        (400, r#"{"code":-1121,"msg":"Invalid symbol."}"#)
    );
    let r = http.get("/api/v3/depth?limit=5");
    assert_eq!(r.status, 400);
    assert!(r.body.starts_with(r#"{"code":-1102,"#), "{}", r.body);
    let r = http.get("/api/v3/depth?symbol=NKNUSDT&limit=x");
    assert!(r.body.starts_with(r#"{"code":-1100,"#), "{}", r.body);
    let r = http.get("/api/v3/exchangeInfo?symbol=NKNUSDT");
    assert_eq!(r.status, 200);
    let info: Value = serde_json::from_str(&r.body).expect("exchangeInfo");
    assert_eq!(info["symbols"].as_array().map(Vec::len), Some(1));
    assert_eq!(info["symbols"][0]["symbol"], "NKNUSDT");
    let r = http.get("/api/v3/exchangeInfo?symbol=NOPE");
    assert_eq!(
        (r.status, r.body.as_str()),
        (400, r#"{"code":-1121,"msg":"Invalid symbol."}"#)
    );
    let r = http.get("/api/v3/nothing");
    assert_eq!(r.status, 404);
    sim.shutdown();

    // Without a recorded exchangeInfo, one is generated with filters inferred from the capture.
    // Inference gives the finest decimals seen, which can be finer than the venue's tick (this
    // 2021 book has deep NKNUSDT levels at 0.00001): configured filters take precedence.
    let sim = cryptofeed(
        "[[venue.symbol]]\nsymbol = \"NKNUSDT\"\ntick = \"0.0001\"\nlot = \"1\"\nmin_notional = \"5\"\n",
    );
    let (_, rest) = urls(&sim, "binance");
    let mut http = Http::connect(&rest, sim.ca_path());
    let info: Value =
        serde_json::from_str(&http.get("/api/v3/exchangeInfo").body).expect("exchangeInfo");
    let syms = info["symbols"].as_array().expect("symbols");
    assert_eq!(syms.len(), 4);
    let nkn = syms
        .iter()
        .find(|s| s["symbol"] == "NKNUSDT")
        .expect("NKNUSDT");
    assert_eq!(
        (nkn["baseAsset"].as_str(), nkn["quoteAsset"].as_str()),
        (Some("NKN"), Some("USDT"))
    );
    let filter = |t: &str| {
        nkn["filters"]
            .as_array()
            .expect("filters")
            .iter()
            .find(|f| f["filterType"] == t)
            .cloned()
            .expect("filter")
    };
    assert_eq!(filter("PRICE_FILTER")["tickSize"], "0.00010000");
    assert_eq!(filter("LOT_SIZE")["stepSize"], "1.00000000");
    assert_eq!(filter("NOTIONAL")["minNotional"], "5.00000000");
    let blz = syms
        .iter()
        .find(|s| s["symbol"] == "BLZETH")
        .expect("BLZETH");
    assert_eq!(blz["filters"][0]["tickSize"], "0.00000001");
    sim.shutdown();
}

#[test]
fn subscribe_method_list_errors_and_derived_1s_depth() {
    let sim = cryptofeed("");
    let (ws, _) = urls(&sim, "binance");
    let mut c = WsClient::connect(&ws, "/stream", sim.ca_path());
    c.send(r#"{"method":"SUBSCRIBE","params":["nknusdt@depth@100ms","nknusdt@depth"],"id":1}"#);
    assert_eq!(c.text(Duration::from_secs(10)), r#"{"result":null,"id":1}"#);
    c.send(r#"{"method":"LIST_SUBSCRIPTIONS","id":2}"#);
    c.send(r#"{"method":"SUBSCRIBE","params":["nknusdt@depth"],"id":"abc"}"#);
    c.send(r#"{"method":"FOO","id":3}"#);
    c.send("not json");
    let expected: Vec<Value> = cryptofeed_frames()
        .into_iter()
        .filter(|v| v["stream"] == "nknusdt@depth@100ms")
        .collect();
    let mut replies = Vec::new();
    let mut fast = Vec::new();
    let mut slow = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while fast.len() < expected.len() || replies.len() < 4 {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "timed out: {} frames, replies {replies:?}",
            fast.len()
        );
        let v: Value = serde_json::from_str(&c.text(left)).expect("json");
        match v["stream"].as_str() {
            Some("nknusdt@depth@100ms") => fast.push(v),
            Some("nknusdt@depth") => slow.push(v["data"].clone()),
            _ => replies.push(v),
        }
    }
    assert_eq!(fast, expected);
    assert_eq!(
        replies[0],
        serde_json::json!({"result": ["nknusdt@depth@100ms", "nknusdt@depth"], "id": 2})
    );
    assert_eq!(replies[1], serde_json::json!({"result": null, "id": "abc"}));
    assert_eq!(replies[2]["id"], 3);
    assert_eq!(replies[2]["error"]["code"], 2);
    assert_eq!(replies[3]["error"]["code"], 3);
    // The derived 1 s stream: the same updates, merged per second, contiguous.
    assert!(sim.wait_finished(Duration::from_secs(30)));
    while let Got::Text(t) = c.next(Duration::from_millis(300)) {
        let v: Value = serde_json::from_str(&t).expect("json");
        slow.push(v["data"].clone());
    }
    assert!(!slow.is_empty() && slow.len() < fast.len());
    let fast_data: Vec<Value> = fast.iter().map(|v| v["data"].clone()).collect();
    assert_eq!(diff_of(&slow[0]).0, diff_of(&fast_data[0]).0);
    assert_eq!(
        diff_of(&slow[slow.len() - 1]).1,
        diff_of(&fast_data[fast_data.len() - 1]).1
    );
    for w in slow.windows(2) {
        assert_eq!(diff_of(&w[1]).0, diff_of(&w[0]).1 + 1);
    }
    let snapshot: Value = serde_json::from_str(
        &std::fs::read_to_string(data("binance/cryptofeed_depth_snapshot_NKNUSDT.json"))
            .expect("snapshot"),
    )
    .expect("json");
    let (a, ida) = sync(&snapshot, &fast_data);
    let (b, idb) = sync(&snapshot, &slow);
    assert_eq!(ida, idb);
    assert_eq!(a.bids_best_first(), b.bids_best_first());
    assert_eq!(a.asks_best_first(), b.asks_best_first());
    // Oracle: vectors/book_expectations.json.
    assert_eq!(ida, 499_870_179);
    sim.shutdown();
}

#[test]
fn raw_stream_path_serves_payloads_only() {
    let sim = cryptofeed("");
    let (ws, _) = urls(&sim, "binance");
    let mut c = WsClient::connect(&ws, "/ws/nknusdt@bookTicker", sim.ca_path());
    let expected: Vec<Value> = cryptofeed_frames()
        .into_iter()
        .filter(|v| v["stream"] == "nknusdt@bookTicker")
        .map(|v| v["data"].clone())
        .collect();
    assert!(!expected.is_empty());
    for want in &expected {
        let got: Value = serde_json::from_str(&c.text(Duration::from_secs(30))).expect("json");
        assert_eq!(&got, want);
    }
    assert!(WsClient::try_connect(&ws, "/nowhere", sim.ca_path()).is_err());
    sim.shutdown();
}

#[test]
fn server_pings_and_drops_a_client_that_does_not_pong() {
    let sim = cryptofeed("ping_interval_ms = 100\npong_timeout_ms = 500\n");
    let (ws, _) = urls(&sim, "binance");
    let mut silent = WsClient::connect(&ws, "/ws", sim.ca_path());
    let mut alive = WsClient::connect(&ws, "/ws", sim.ca_path());
    // The live client reads (tungstenite answers each ping with a pong) for well past the limit.
    let until = Instant::now() + Duration::from_millis(1500);
    let mut pings = 0;
    while Instant::now() < until {
        match alive.next(Duration::from_millis(50)) {
            Got::Ping => pings += 1,
            Got::Closed => panic!("a client answering pings was dropped"),
            _ => {}
        }
    }
    assert!(pings >= 3, "only {pings} pings");
    // The silent client never read, so never answered: the server dropped it.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match silent.next(Duration::from_millis(100)) {
            Got::Closed => break,
            _ => assert!(
                Instant::now() < deadline,
                "a client that never ponged is still connected"
            ),
        }
    }
    alive.send(r#"{"method":"LIST_SUBSCRIPTIONS","id":1}"#);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match alive.next(Duration::from_millis(100)) {
            Got::Text(t) => {
                assert_eq!(t, r#"{"result":[],"id":1}"#);
                break;
            }
            Got::Closed => panic!("closed"),
            _ => assert!(Instant::now() < deadline, "no reply"),
        }
    }
    sim.shutdown();
}

#[test]
fn scaled_pace_keeps_the_recorded_gaps_divided() {
    let speed = 15.0;
    let sim = sim(&format!(
        "[[venue]]\nvenue = \"binance\"\ncaptures = [{}]\npace = \"scaled\"\nspeed = {speed}\n",
        toml_path("binance/cryptofeed_BINANCE.ws.1.0"),
    ));
    let text = std::fs::read_to_string(data("binance/cryptofeed_BINANCE.ws.1.0")).expect("capture");
    let stamp = |l: &str| -> f64 {
        l.split_once(": ")
            .and_then(|(t, _)| t.parse().ok())
            .expect("stamp")
    };
    let frames: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(": {\"stream\""))
        .collect();
    let ours =
        |l: &&str| l.contains("\"nknusdt@depth@100ms\"") || l.contains("\"nknusdt@bookTicker\"");
    // The tape's clock starts at its first frame; the last frame we receive is due at
    // (its stamp - that first stamp) / speed.
    let last_ours = frames.iter().rev().find(|l| ours(l)).expect("ours");
    let span = stamp(last_ours) - stamp(frames[0]);
    let (ws, _) = urls(&sim, "binance");
    // Taken before subscribing: the tape cannot start earlier, so the last frame cannot arrive
    // before `begin + span / speed` however loaded the machine is (a lower bound only).
    let begin = Instant::now();
    let mut c = WsClient::connect(
        &ws,
        "/stream?streams=nknusdt@depth@100ms/nknusdt@bookTicker",
        sim.ca_path(),
    );
    let expected = cryptofeed_frames()
        .into_iter()
        .filter(|v| v["stream"] == "nknusdt@depth@100ms" || v["stream"] == "nknusdt@bookTicker")
        .count();
    let mut last = begin;
    for _ in 0..expected {
        c.text(Duration::from_secs(60));
        last = Instant::now();
    }
    let p = sim.progress("binance").expect("venue");
    assert!(p.published <= p.total);
    assert!(
        last.duration_since(begin).as_secs_f64() >= span / speed * 0.98,
        "served {expected} frames of a {span:.1} s capture in {:?} at speed {speed}",
        last.duration_since(begin)
    );
    assert!(sim.wait_finished(Duration::from_secs(60)));
    sim.shutdown();
}
