//! OKX side of the venue simulator, over real TLS on 127.0.0.1, with a client written here.

use crate::sim_support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::Value;
use sim_support::{Got, Http, TestBook, WsClient, data, toml_path};
use tickwire_sim::{EndpointKind, SimConfig, SimHandle, start};

fn sim(extra: &str) -> SimHandle {
    let cfg = SimConfig::parse(&format!(
        "[[venue]]\nvenue = \"okx\"\ncaptures = [{}]\n{extra}",
        toml_path("okx/cryptofeed_OKX.ws.1.0")
    ))
    .unwrap_or_else(|e| panic!("config: {e}"));
    start(&cfg).unwrap_or_else(|e| panic!("start: {e}"))
}

/// The capture's pushes (`arg` + `data`), verbatim, in order.
fn pushes() -> Vec<String> {
    std::fs::read_to_string(data("okx/cryptofeed_OKX.ws.1.0"))
        .expect("capture")
        .lines()
        .filter(|l| l.as_bytes().first().is_some_and(u8::is_ascii_digit))
        .filter_map(|l| l.split_once(": ").map(|(_, j)| j.to_owned()))
        .filter(|j| j.starts_with("{\"arg\""))
        .collect()
}

const INSTS: [&str; 3] = ["BTC-USDT", "BTC-USD-220527", "UNI-USD-SWAP"];

fn subscribe_all() -> String {
    let mut args = Vec::new();
    for ch in ["books", "trades", "tickers"] {
        for i in INSTS {
            args.push(serde_json::json!({"channel": ch, "instId": i}));
        }
    }
    serde_json::json!({"id": "1512", "op": "subscribe", "args": args}).to_string()
}

/// Applies a books push to per-instrument test books; returns (instId, checksum it carried,
/// checksum of the test book after it).
fn apply_books(books: &mut HashMap<String, TestBook>, v: &Value) -> (String, i64, i32) {
    let inst = v["arg"]["instId"].as_str().expect("instId").to_owned();
    let d = &v["data"][0];
    if v["action"] == "snapshot" {
        books.insert(inst.clone(), TestBook::default());
    }
    let b = books.get_mut(&inst).expect("update before snapshot");
    for l in d["bids"].as_array().expect("bids") {
        b.set(true, l);
    }
    for l in d["asks"].as_array().expect("asks") {
        b.set(false, l);
    }
    (
        inst,
        d["checksum"].as_i64().expect("checksum"),
        b.okx_checksum(),
    )
}

#[test]
fn subscribe_then_books_in_order_with_checksums() {
    let sim = sim("pace = \"fast\"\n");
    let ws = sim
        .endpoint("okx", EndpointKind::Ws)
        .expect("ws")
        .to_owned();
    let mut c = WsClient::connect(&ws, "/ws/v5/public", sim.ca_path());
    c.send(&subscribe_all());
    let mut acks = Vec::new();
    for _ in 0..9 {
        let v: Value = serde_json::from_str(&c.text(Duration::from_secs(10))).expect("ack");
        acks.push(v);
    }
    for a in &acks {
        assert_eq!(a["event"], "subscribe");
        assert_eq!(a["id"], "1512");
        assert!(a["connId"].as_str().is_some_and(|s| s.len() == 8));
    }
    assert_eq!(
        acks[0]["arg"],
        serde_json::json!({"channel": "books", "instId": "BTC-USDT"})
    );
    let expected = pushes();
    assert_eq!(expected.len(), 290 + 74 + 28);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut got = Vec::new();
    while got.len() < expected.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "{} of {} pushes",
            got.len(),
            expected.len()
        );
        got.push(c.text(left));
    }
    assert_eq!(got, expected, "pushes differ from the capture");
    let mut books = HashMap::new();
    let mut checked = 0;
    let mut last_btc = None;
    for t in &got {
        let v: Value = serde_json::from_str(t).expect("push");
        if v["arg"]["channel"] != "books" {
            continue;
        }
        let (inst, carried, computed) = apply_books(&mut books, &v);
        assert_eq!(
            carried,
            i64::from(computed),
            "checksum mismatch on {inst}: {t}"
        );
        if inst == "BTC-USDT" {
            if last_btc.is_none() {
                // FORMATS.md §2.3: the first BTC-USDT snapshot's checksum.
                assert_eq!(
                    (v["action"].as_str(), carried),
                    (Some("snapshot"), 47_640_993)
                );
            }
            last_btc = Some(carried);
        }
        checked += 1;
    }
    assert_eq!(checked, 290);
    assert!(sim.wait_finished(Duration::from_secs(30)));
    let own = sim
        .book("okx", "BTC-USDT", 400)
        .expect("venue")
        .expect("book");
    assert_eq!(own.checksum.map(i64::from), last_btc);
    assert_eq!(
        own.bids,
        books["BTC-USDT"].bids_best_first()[..own.bids.len()]
    );

    // REST books from the same book.
    let rest = sim
        .endpoint("okx", EndpointKind::Rest)
        .expect("rest")
        .to_owned();
    let mut http = Http::connect(&rest, sim.ca_path());
    let r: Value =
        serde_json::from_str(&http.get("/api/v5/market/books?instId=BTC-USDT&sz=5").body)
            .expect("json");
    assert_eq!(r["code"], "0");
    assert_eq!(
        r["data"][0]["bids"][0][0].as_str(),
        Some(own.bids[0].0.as_str())
    );
    assert_eq!(r["data"][0]["asks"].as_array().map(Vec::len), Some(5));
    let r: Value =
        serde_json::from_str(&http.get("/api/v5/market/books?instId=NOPE").body).expect("json");
    assert_eq!(r["code"], "51001");
    let r: Value = serde_json::from_str(&http.get("/api/v5/public/time").body).expect("json");
    assert!(r["data"][0]["ts"].as_str().is_some());
    sim.shutdown();
}

#[test]
fn late_books_subscriber_gets_a_snapshot_that_checks_out() {
    let sim = sim("pace = \"scaled\"\nspeed = 4\n");
    let ws = sim
        .endpoint("okx", EndpointKind::Ws)
        .expect("ws")
        .to_owned();
    let mut first = WsClient::connect(&ws, "/ws/v5/public", sim.ca_path());
    first.send(r#"{"op":"subscribe","args":[{"channel":"books","instId":"BTC-USDT"}]}"#);
    // Wait until the tape is past the BTC-USDT snapshot and a few updates.
    let mut seen = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen < 5 {
        let left = deadline.saturating_duration_since(Instant::now());
        let t = first.text(left);
        if t.contains("\"action\"") {
            seen += 1;
        }
    }
    let mut late = WsClient::connect(&ws, "/ws/v5/public", sim.ca_path());
    late.send(r#"{"op":"subscribe","args":[{"channel":"books","instId":"BTC-USDT"}]}"#);
    let ack: Value = serde_json::from_str(&late.text(Duration::from_secs(10))).expect("ack");
    assert_eq!(ack["event"], "subscribe");
    assert!(ack.get("id").is_none());
    let mut books = HashMap::new();
    let snap: Value = serde_json::from_str(&late.text(Duration::from_secs(10))).expect("snapshot");
    assert_eq!(snap["action"], "snapshot");
    let (_, carried, computed) = apply_books(&mut books, &snap);
    assert_eq!(carried, i64::from(computed));
    // Every later update chains onto it.
    let mut updates = 0;
    while let Got::Text(t) = late.next(Duration::from_secs(5)) {
        let v: Value = serde_json::from_str(&t).expect("push");
        let (_, carried, computed) = apply_books(&mut books, &v);
        assert_eq!(
            carried,
            i64::from(computed),
            "update after a synthesized snapshot: {t}"
        );
        updates += 1;
        if sim.is_finished() && updates > 0 {
            break;
        }
    }
    assert!(sim.wait_finished(Duration::from_secs(60)));
    sim.shutdown();
}

#[test]
fn ping_pong_and_errors() {
    let sim = sim("");
    let ws = sim
        .endpoint("okx", EndpointKind::Ws)
        .expect("ws")
        .to_owned();
    let mut c = WsClient::connect(&ws, "/ws/v5/public", sim.ca_path());
    c.send("ping");
    assert_eq!(c.text(Duration::from_secs(10)), "pong");
    c.send(r#"{"id":"7","op":"subscribe","args":[{"channel":"books","instId":"DOGE-USDT"}]}"#);
    let e: Value = serde_json::from_str(&c.text(Duration::from_secs(10))).expect("json");
    assert_eq!(e["event"], "error");
    assert_eq!(e["code"], "60018");
    assert_eq!(e["id"], "7");
    assert!(e["connId"].as_str().is_some());
    c.send(r#"{"op":"subscribe","args":[{"channel":"candle1m","instId":"BTC-USDT"}]}"#);
    let e: Value = serde_json::from_str(&c.text(Duration::from_secs(10))).expect("json");
    assert_eq!(e["code"], "60018");
    c.send("{not json");
    let e: Value = serde_json::from_str(&c.text(Duration::from_secs(10))).expect("json");
    assert_eq!(e["code"], "60012");
    c.send("ping");
    assert_eq!(c.text(Duration::from_secs(10)), "pong");
    // `/ws/v5/private` is served (login, trading); `/ws/v5/business` is not.
    assert!(WsClient::try_connect(&ws, "/ws/v5/business", sim.ca_path()).is_err());
    sim.shutdown();
}
