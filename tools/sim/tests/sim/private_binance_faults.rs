//! Private-side fault injection of the simulator's Binance venue: each configured fault, seen
//! through a client over real TLS on loopback.

use crate::sim_private_support;
use crate::sim_support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sim_private_support::{KEY, SECRET, Sim};
use sim_support::Got;
use tickwire_sim::{PrivateFaultKind, SimConfig};

const T: Duration = Duration::from_secs(20);

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

fn fault(kind: &str, extra: &str) -> String {
    format!("\n[[venue.private.fault]]\nkind = \"{kind}\"\n{extra}\n")
}

const BUY_2_AT_100_50: &[(&str, &str)] = &[
    ("symbol", "TESTUSDT"),
    ("side", "BUY"),
    ("type", "LIMIT"),
    ("timeInForce", "GTC"),
    ("quantity", "2"),
    ("price", "100.50"),
];

fn place_resting(api: &mut sim_private_support::WsApi, cid: &str) -> Value {
    api.call(
        "order.place",
        json!({"symbol":"TESTUSDT","side":"BUY","type":"LIMIT","timeInForce":"GTC",
               "price":"95.00","quantity":"1","newClientOrderId":cid}),
    )
}

#[test]
fn short_fill_reports_and_books_less_than_matched() {
    let sim = Sim::start("", &fault("short_fill", "by = \"0.000002\"\ncount = 1"));
    let mut c = sim.rest(KEY, SECRET);
    let v = c.signed("POST", "/api/v3/order", BUY_2_AT_100_50).json();
    // Matched 1 @ 100 and 1 @ 100.50; the first fill is reported 0.999998.
    assert_eq!(s(&v["status"]), "FILLED", "{v}");
    assert_eq!(s(&v["origQty"]), "2.00000000");
    assert_eq!(s(&v["executedQty"]), "1.99999800");
    assert_eq!(s(&v["fills"][0]["qty"]), "0.99999800");
    assert_eq!(s(&v["fills"][1]["qty"]), "1.00000000");
    let acct = c.signed("GET", "/api/v3/account", &[]).json();
    let test = acct["balances"]
        .as_array()
        .expect("balances")
        .iter()
        .find(|b| b["asset"] == "TEST")
        .cloned()
        .expect("TEST balance");
    // 10 + 1.999998 - taker fees 0.00100000 (0.000999998 rounded to 8 dp) + 0.001.
    assert_eq!(s(&test["free"]), "11.99799800");
    let trades = c
        .signed("GET", "/api/v3/myTrades", &[("symbol", "TESTUSDT")])
        .json();
    assert_eq!(s(&trades[0]["qty"]), "0.99999800");
}

#[test]
fn no_fill_reports_push_status_without_the_fill_record() {
    let sim = Sim::start("", &fault("no_fill_reports", ""));
    let mut api = sim.ws_api(KEY, SECRET);
    api.call("userDataStream.subscribe.signature", json!({}));
    let r = api.call(
        "order.place",
        json!({"symbol":"TESTUSDT","side":"BUY","type":"LIMIT","timeInForce":"GTC",
               "price":"100.00","quantity":"1"}),
    );
    assert_eq!(s(&r["result"]["status"]), "FILLED", "{r}");
    let new = api.push(T)["event"].clone();
    assert_eq!(s(&new["x"]), "NEW");
    let st = api.push(T)["event"].clone();
    assert_eq!((s(&st["X"]), s(&st["z"])), ("FILLED", "1.00000000"), "{st}");
    assert_eq!(st["t"], -1);
    assert_eq!(
        (s(&st["l"]), s(&st["L"]), &st["N"]),
        ("0.00000000", "0.00000000", &Value::Null)
    );
    // The venue still knows the trade.
    let r = api.call("myTrades", json!({"symbol":"TESTUSDT"}));
    assert_eq!(r["result"][0]["id"], 1, "{r}");
    assert_eq!(s(&r["result"][0]["qty"]), "1.00000000");
}

#[test]
fn duplicate_fill_pushes_the_trade_report_twice() {
    let sim = Sim::start("", &fault("duplicate_fill", "count = 1"));
    let mut api = sim.ws_api(KEY, SECRET);
    api.call("userDataStream.subscribe.signature", json!({}));
    let r = api.call(
        "order.place",
        json!({"symbol":"TESTUSDT","side":"BUY","type":"LIMIT","timeInForce":"GTC",
               "price":"100.50","quantity":"2"}),
    );
    assert_eq!(s(&r["result"]["status"]), "FILLED", "{r}");
    let events: Vec<Value> = (0..4).map(|_| api.push(T)["event"].clone()).collect();
    let xs: Vec<(&str, i64)> = events
        .iter()
        .map(|e| (s(&e["x"]), e["t"].as_i64().unwrap_or(0)))
        .collect();
    assert_eq!(xs, [("NEW", -1), ("TRADE", 1), ("TRADE", 1), ("TRADE", 2)]);
    assert_eq!(events[1], events[2]);
}

#[test]
fn reject_storm_rejects_the_next_orders() {
    let sim = Sim::start("", &fault("reject", "count = 2"));
    let mut c = sim.rest(KEY, SECRET);
    for _ in 0..2 {
        let r = c.signed("POST", "/api/v3/order", BUY_2_AT_100_50);
        r.expect_error(400, -2010);
    }
    let r = c.signed("POST", "/api/v3/order", BUY_2_AT_100_50);
    assert_eq!(s(&r.json()["status"]), "FILLED", "{}", r.body);
}

#[test]
fn rate_limit_fault_answers_429() {
    let sim = Sim::start("", &fault("rate_limit", "after = 1\ncount = 1"));
    let mut c = sim.rest(KEY, SECRET);
    let r = c.signed("GET", "/api/v3/openOrders", &[]);
    assert_eq!(r.status, 200);
    let r = c.signed("GET", "/api/v3/openOrders", &[]);
    r.expect_error(429, -1003);
    assert_eq!(r.header("Retry-After"), Some("1"));
    let r = c.signed("GET", "/api/v3/openOrders", &[]);
    assert_eq!(r.status, 200);
}

#[test]
fn http_5xx_although_the_order_was_placed() {
    let tail = fault("http_503", "count = 1") + &fault("http_500", "after = 1\ncount = 1");
    let sim = Sim::start("", &tail);
    let mut c = sim.rest(KEY, SECRET);
    let mut p = BUY_2_AT_100_50.to_vec();
    p[4] = ("quantity", "0.5");
    p[5] = ("price", "95.00");
    let r = c.signed("POST", "/api/v3/order", &p);
    assert_eq!(
        r.expect_error(503, -1001),
        "Internal error; unable to process your request. Please try again."
    );
    let r = c.signed("POST", "/api/v3/order", &p);
    r.expect_error(500, -1000);
    let open = c.signed("GET", "/api/v3/openOrders", &[]).json();
    assert_eq!(open.as_array().map(Vec::len), Some(2), "{open}");
}

#[test]
fn ws_disconnect_after_an_order_placed_or_not() {
    let tail = fault("disconnect", "count = 1")
        + &fault("disconnect", "placed = false\nafter = 1\ncount = 1");
    let sim = Sim::start("", &tail);
    for (cid, placed) in [("d-1", true), ("d-2", false)] {
        let mut api = sim.ws_api(KEY, SECRET);
        let mut p = serde_json::Map::new();
        for (k, v) in [
            ("symbol", "TESTUSDT"),
            ("side", "BUY"),
            ("type", "LIMIT"),
            ("timeInForce", "GTC"),
            ("price", "95.00"),
            ("quantity", "1"),
            ("newClientOrderId", cid),
        ] {
            p.insert(k.into(), Value::String(v.into()));
        }
        // `call` would wait for an answer; send it signed by hand and expect the close.
        let ts = sim_private_support::now_ms();
        p.insert("apiKey".into(), Value::String(KEY.into()));
        p.insert("timestamp".into(), Value::from(ts));
        let mut pairs: Vec<(String, String)> = p
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                )
            })
            .collect();
        pairs.sort();
        let payload = pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        p.insert(
            "signature".into(),
            Value::String(sim_private_support::sign(SECRET, &payload)),
        );
        api.ws
            .send(&json!({"id":"x","method":"order.place","params":p}).to_string());
        match api.ws.next(T) {
            Got::Closed => {}
            other => panic!("expected the connection to drop, got {other:?}"),
        }
        let mut c = sim.rest(KEY, SECRET);
        let r = c.signed(
            "GET",
            "/api/v3/order",
            &[("symbol", "TESTUSDT"), ("origClientOrderId", cid)],
        );
        if placed {
            assert_eq!(s(&r.json()["status"]), "NEW", "{}", r.body);
        } else {
            r.expect_error(400, -2013);
        }
    }
}

#[test]
fn rest_disconnect_fault_drops_the_connection_after_placing() {
    let sim = Sim::start("", &fault("disconnect", "count = 1"));
    let mut c = sim.rest(KEY, SECRET);
    let mut p = BUY_2_AT_100_50.to_vec();
    p.push(("newClientOrderId", "rd-1"));
    assert!(c.try_signed("POST", "/api/v3/order", &p).is_err());
    let mut c = sim.rest(KEY, SECRET);
    let r = c.signed(
        "GET",
        "/api/v3/order",
        &[("symbol", "TESTUSDT"), ("origClientOrderId", "rd-1")],
    );
    assert_eq!(s(&r.json()["status"]), "FILLED", "{}", r.body);
}

#[test]
fn slow_ack_delays_the_answer_but_not_the_user_stream() {
    let sim = Sim::start("latency_ms = 50", &fault("slow_ack", "ms = 1000"));
    let mut api = sim.ws_api(KEY, SECRET);
    api.call("userDataStream.subscribe.signature", json!({}));
    let t0 = Instant::now();
    let r = place_resting(&mut api, "s-1");
    let waited = t0.elapsed();
    assert_eq!(s(&r["result"]["status"]), "NEW", "{r}");
    // The NEW report was already read while waiting for the answer: it came first.
    assert_eq!(api.pushes.len(), 1, "{:?}", api.pushes);
    assert_eq!(s(&api.pushes[0]["event"]["x"]), "NEW");
    // Lower bounds only: the fault and the base latency were both applied.
    assert!(
        waited >= Duration::from_millis(450),
        "answered after {waited:?}"
    );
    let t1 = Instant::now();
    let r = api.call("openOrders.status", json!({}));
    assert_eq!(r["result"].as_array().map(Vec::len), Some(1));
    assert!(t1.elapsed() >= Duration::from_millis(50));
}

#[test]
fn private_fault_config_is_validated() {
    let bad = [
        ("kind = \"short_fill\"", "by"),
        ("kind = \"short_fill\"\nby = \"-1\"", "by"),
        ("kind = \"slow_ack\"", "ms"),
        ("kind = \"reject\"\nms = 5", "ms"),
        ("kind = \"nope\"", "kind"),
        ("kind = \"reject\"\ncount = -1", "count"),
        ("kind = \"disconnect\"\nplaced = 3", "placed"),
        ("kind = \"reject\"\ntypo = 1", "typo"),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    let cap = sim_private_support::write_capture(dir.path());
    for (body, key) in bad {
        let text =
            sim_private_support::config(&cap, "", &format!("\n[[venue.private.fault]]\n{body}\n"));
        let err = SimConfig::parse(&text).expect_err(body).to_string();
        assert!(err.contains(&format!("fault[0].{key}")), "{body}: {err}");
    }
    let text = sim_private_support::config(&cap, "", &fault("disconnect", "placed = false"));
    let cfg = SimConfig::parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let p = cfg.venues[0].private.as_ref().expect("private");
    assert_eq!(
        p.faults[0].kind,
        PrivateFaultKind::Disconnect { placed: false }
    );
    // Secrets never show in Debug output.
    assert!(!format!("{cfg:?}").contains(SECRET));
    // Bad private keys.
    let text = sim_private_support::config(&cap, "orders_per_10s = 0\nlatency_ms = -1", "");
    let err = SimConfig::parse(&text)
        .expect_err("bad private")
        .to_string();
    assert!(
        err.contains("private.orders_per_10s") && err.contains("private.latency_ms"),
        "{err}"
    );
}
