//! OKX private side of the venue simulator over real TLS on 127.0.0.1: login, order entry,
//! the `orders` channel, signed REST and private faults, with a client written here from the
//! OKX v5 docs (FORMATS.md §2.5–2.7).

use crate::sim_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use rust_decimal::Decimal;
use rustls::pki_types::ServerName;
use rustls::{ClientConnection, StreamOwned};
use serde_json::{Value, json};
use sha2::Sha256;
use sim_support::{Got, WsClient, client_config, toml_path};
use tickwire_sim::{EndpointKind, SimConfig, SimHandle, start};

const KEY: &str = "okx-key-alice";
const SECRET: &str = "22582BD0CFF14C41EDBF1AB98506286D";
const PASS: &str = "Passphrase1";
const T: Duration = Duration::from_secs(20);

fn sim(faults: &str) -> SimHandle {
    let cfg = SimConfig::parse(&format!(
        "[[venue]]\nvenue = \"okx\"\ncaptures = [{}]\n\n\
         [venue.private]\nmaker_fee = \"-0.0001\"\ntaker_fee = \"0.001\"\n\n\
         [[venue.private.account]]\nname = \"alice\"\napi_key = \"{KEY}\"\nsecret = \"{SECRET}\"\n\
         passphrase = \"{PASS}\"\nbalances = [\"USDT:100000\", \"BTC:1\"]\n{faults}",
        toml_path("okx/cryptofeed_OKX.ws.1.0")
    ))
    .unwrap_or_else(|e| panic!("config: {e}"));
    start(&cfg).unwrap_or_else(|e| panic!("start: {e}"))
}

fn sign(secret: &str, prehash: &str) -> String {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("hmac key");
    m.update(prehash.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(m.finalize().into_bytes())
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` (civil-from-days, proleptic Gregorian).
fn iso(ms: u64) -> String {
    let z = (ms / 86_400_000) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let r = ms % 86_400_000;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        r / 3_600_000,
        r / 60_000 % 60,
        r / 1000 % 60,
        r % 1000
    )
}

fn login_msg(key: &str, pass: &str, secret: &str, ts: &str) -> String {
    let sign = sign(secret, &format!("{ts}GET/users/self/verify"));
    json!({"op":"login","args":[{"apiKey":key,"passphrase":pass,"timestamp":ts,"sign":sign}]})
        .to_string()
}

fn secs() -> String {
    (now_ms() / 1000).to_string()
}

fn next_json(c: &mut WsClient) -> Value {
    let t = c.text(T);
    serde_json::from_str(&t).unwrap_or_else(|e| panic!("{e}: {t}"))
}

fn private(sim: &SimHandle) -> WsClient {
    let ws = sim.endpoint("okx", EndpointKind::Ws).expect("ws");
    WsClient::connect(ws, "/ws/v5/private", sim.ca_path())
}

/// A logged-in private connection subscribed to SPOT orders.
fn logged_in(sim: &SimHandle) -> WsClient {
    let mut c = private(sim);
    c.send(&login_msg(KEY, PASS, SECRET, &secs()));
    let v = next_json(&mut c);
    assert_eq!(v["event"], "login", "{v}");
    assert_eq!(v["code"], "0");
    c.send(r#"{"id":"s1","op":"subscribe","args":[{"channel":"orders","instType":"SPOT"}]}"#);
    let v = next_json(&mut c);
    assert_eq!(v["event"], "subscribe", "{v}");
    assert_eq!(v["arg"], json!({"channel":"orders","instType":"SPOT"}));
    c
}

/// Plays the whole public tape (so the book is the capture's final one and stays still).
fn finish_tape(sim: &SimHandle) {
    let ws = sim.endpoint("okx", EndpointKind::Ws).expect("ws");
    let mut c = WsClient::connect(ws, "/ws/v5/public", sim.ca_path());
    c.send(r#"{"op":"subscribe","args":[{"channel":"books","instId":"BTC-USDT"},{"channel":"trades","instId":"BTC-USDT"}]}"#);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "tape never finished");
        match c.next(Duration::from_millis(100)) {
            Got::Text(_) | Got::Ping => {}
            Got::Closed => panic!("public connection closed"),
            Got::Timeout => {
                if sim.progress("okx").expect("progress").finished {
                    return;
                }
            }
        }
    }
}

fn dec(v: &Value) -> Decimal {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .parse()
        .unwrap_or_else(|e| panic!("{e}: {v}"))
}

fn d(s: &str) -> Decimal {
    s.parse().expect("decimal")
}

/// Best (bid, ask) price and size of BTC-USDT now.
fn top(sim: &SimHandle) -> ((Decimal, Decimal), (Decimal, Decimal)) {
    let b = sim
        .book("okx", "BTC-USDT", 2)
        .expect("venue")
        .expect("book");
    let p = |l: &(String, String)| (d(&l.0), d(&l.1));
    (p(&b.bids[0]), p(&b.asks[0]))
}

fn order(c: &mut WsClient, id: &str, arg: Value) -> Value {
    c.send(&json!({"id": id, "op": "order", "args": [arg]}).to_string());
    let v = next_json(c);
    assert_eq!(v["id"], id, "{v}");
    assert_eq!(v["op"], "order");
    assert!(v["inTime"].as_str().is_some_and(|s| s.len() >= 16), "{v}");
    assert!(v["outTime"].as_str().is_some_and(|s| s.len() >= 16), "{v}");
    v
}

fn push(c: &mut WsClient) -> Value {
    let v = next_json(c);
    assert_eq!(v["arg"]["channel"], "orders", "not an orders push: {v}");
    assert_eq!(v["arg"]["instType"], "SPOT");
    assert!(v["arg"]["uid"].as_str().is_some_and(|u| !u.is_empty()));
    let data = v["data"].as_array().expect("data");
    assert_eq!(data.len(), 1);
    data[0].clone()
}

#[test]
fn login_checks_and_login_required() {
    let sim = sim("");
    let mut c = private(&sim);
    c.send("ping");
    assert_eq!(c.text(T), "pong");
    // Trading and subscribing need a login first.
    c.send(r#"{"id":"o1","op":"order","args":[{"instId":"BTC-USDT","tdMode":"cash","side":"buy","ordType":"limit","px":"1","sz":"1"}]}"#);
    let v = next_json(&mut c);
    assert_eq!(
        (v["id"].as_str(), v["code"].as_str()),
        (Some("o1"), Some("60011")),
        "{v}"
    );
    c.send(r#"{"op":"subscribe","args":[{"channel":"orders","instType":"SPOT"}]}"#);
    let v = next_json(&mut c);
    assert_eq!(
        (v["event"].as_str(), v["code"].as_str()),
        (Some("error"), Some("60011")),
        "{v}"
    );

    let ts = secs();
    let cases = [
        (login_msg(KEY, PASS, "wrong-secret", &ts), "60007"),
        (login_msg("nobody", PASS, SECRET, &ts), "60005"),
        (login_msg(KEY, "wrong", SECRET, &ts), "60024"),
        (
            login_msg(KEY, PASS, SECRET, &(now_ms() / 1000 - 31).to_string()),
            "60006",
        ),
        (
            login_msg(KEY, PASS, SECRET, &(now_ms() / 1000 + 31).to_string()),
            "60006",
        ),
        (login_msg(KEY, PASS, SECRET, "yesterday"), "60004"),
        (
            r#"{"op":"login","args":[{"apiKey":"k"}]}"#.to_owned(),
            "60009",
        ),
    ];
    for (msg, code) in cases {
        c.send(&msg);
        let v = next_json(&mut c);
        assert_eq!(v["event"], "error", "{msg} → {v}");
        assert_eq!(v["code"], code, "{msg} → {v}");
        assert!(v["connId"].as_str().is_some_and(|s| s.len() == 8));
    }
    // Nothing above logged in.
    c.send(r#"{"op":"subscribe","args":[{"channel":"orders","instType":"SPOT"}]}"#);
    assert_eq!(next_json(&mut c)["code"], "60011");
    c.send(&login_msg(KEY, PASS, SECRET, &secs()));
    let v = next_json(&mut c);
    assert_eq!(v["event"], "login", "{v}");
    assert_eq!(v["code"], "0");
    assert_eq!(v["msg"], "");
    c.send(&login_msg(KEY, PASS, SECRET, &secs()));
    assert_eq!(next_json(&mut c)["code"], "60030");
    // Unknown channel and instType.
    c.send(r#"{"op":"subscribe","args":[{"channel":"orders","instType":"SWAPS"}]}"#);
    assert_eq!(next_json(&mut c)["code"], "60018");
    c.send(r#"{"op":"nonsense","args":[{}]}"#);
    assert_eq!(next_json(&mut c)["code"], "60019");
    sim.shutdown();
}

#[test]
fn order_amend_cancel_round_trip_and_rejections() {
    let sim = sim("");
    finish_tape(&sim);
    let ((bid, _), (ask, _)) = top(&sim);
    let mut c = logged_in(&sim);
    let px = bid - d("100");
    let v = order(
        &mut c,
        "1",
        json!({"instId":"BTC-USDT","tdMode":"cash","side":"buy","ordType":"limit","px":px.to_string(),"sz":"0.01","clOrdId":"a1","tag":"t1"}),
    );
    assert_eq!(v["code"], "0", "{v}");
    assert_eq!(v["msg"], "");
    let r = &v["data"][0];
    assert_eq!(
        (
            r["sCode"].as_str(),
            r["clOrdId"].as_str(),
            r["tag"].as_str()
        ),
        (Some("0"), Some("a1"), Some("t1"))
    );
    let ord_id = r["ordId"].as_str().expect("ordId").to_owned();
    assert!(!ord_id.is_empty());
    let p = push(&mut c);
    assert_eq!(p["state"], "live", "{p}");
    assert_eq!(p["ordId"], ord_id.as_str());
    assert_eq!(p["clOrdId"], "a1");
    assert_eq!(p["instId"], "BTC-USDT");
    assert_eq!(p["ordType"], "limit");
    assert_eq!(p["side"], "buy");
    assert_eq!(p["tdMode"], "cash");
    assert_eq!(dec(&p["px"]), px);
    assert_eq!(p["sz"], "0.01");
    assert_eq!(p["accFillSz"], "0");
    assert_eq!(p["fillSz"], "");
    assert_eq!(p["fee"], "0");
    assert_eq!(p["feeCcy"], "BTC");

    // Amend size and price (by clOrdId); the reply carries reqId.
    c.send(&json!({"id":"2","op":"amend-order","args":[{"instId":"BTC-USDT","clOrdId":"a1","newSz":"0.02","newPx":(px - d("1")).to_string(),"reqId":"r1"}]}).to_string());
    let v = next_json(&mut c);
    assert_eq!(
        (v["op"].as_str(), v["code"].as_str()),
        (Some("amend-order"), Some("0")),
        "{v}"
    );
    assert_eq!(v["data"][0]["reqId"], "r1");
    assert_eq!(v["data"][0]["ordId"], ord_id.as_str());
    let p = push(&mut c);
    assert_eq!(p["amendResult"], "0", "{p}");
    assert_eq!(p["reqId"], "r1");
    assert_eq!(p["sz"], "0.02");
    assert_eq!(dec(&p["px"]), px - d("1"));
    assert_eq!(p["state"], "live");

    c.send(
        &json!({"id":"3","op":"cancel-order","args":[{"instId":"BTC-USDT","ordId":ord_id}]})
            .to_string(),
    );
    let v = next_json(&mut c);
    assert_eq!(v["code"], "0", "{v}");
    assert_eq!(v["data"][0]["sCode"], "0");
    let p = push(&mut c);
    assert_eq!(p["state"], "canceled", "{p}");
    assert_eq!(p["accFillSz"], "0");

    // Cancel and amend of a finished order.
    c.send(
        &json!({"id":"4","op":"cancel-order","args":[{"instId":"BTC-USDT","ordId":ord_id}]})
            .to_string(),
    );
    let v = next_json(&mut c);
    assert_eq!(
        (v["code"].as_str(), v["data"][0]["sCode"].as_str()),
        (Some("1"), Some("51400")),
        "{v}"
    );
    c.send(&json!({"id":"5","op":"amend-order","args":[{"instId":"BTC-USDT","ordId":ord_id,"newSz":"1"}]}).to_string());
    let v = next_json(&mut c);
    assert_eq!(
        (v["code"].as_str(), v["data"][0]["sCode"].as_str()),
        (Some("1"), Some("51503")),
        "{v}"
    );

    // Rejections, each with its sCode; none of them pushes anything.
    let base = |extra: Value| {
        let mut a = json!({"instId":"BTC-USDT","tdMode":"cash","side":"buy","ordType":"limit","px":px.to_string(),"sz":"0.01"});
        for (k, v) in extra.as_object().expect("obj") {
            a[k] = v.clone();
        }
        a
    };
    let cases = [
        (base(json!({"sz":"0.010000001"})), "51121"),
        (base(json!({"sz":"0.000000001"})), "51020"),
        (base(json!({"sz":"100"})), "51008"),
        (base(json!({"side":"sell","sz":"2"})), "51008"),
        (
            base(json!({"px": (ask * d("1.2")).round_dp(1).to_string()})),
            "51006",
        ),
        (
            base(json!({"side":"sell","px": (bid * d("0.8")).round_dp(1).to_string()})),
            "51006",
        ),
        (base(json!({"tdMode":"cross"})), "51000"),
        (base(json!({"clOrdId":"not-alnum"})), "51000"),
        (base(json!({"ordType":"twap"})), "51000"),
        (base(json!({"px":"abc"})), "51000"),
        (base(json!({"instId":"ETH-USDT"})), "51001"),
        (
            base(json!({"ordType":"post_only","px":ask.to_string()})),
            "51000",
        ),
    ];
    for (i, (arg, code)) in cases.into_iter().enumerate() {
        let v = order(&mut c, &format!("e{i}"), arg.clone());
        assert_eq!(v["code"], "1", "{arg} → {v}");
        assert_eq!(v["data"][0]["sCode"], code, "{arg} → {v}");
        assert!(!v["data"][0]["sMsg"].as_str().unwrap_or("").is_empty());
    }
    // Duplicate clOrdId among open orders.
    let a = base(json!({"clOrdId":"dup"}));
    assert_eq!(order(&mut c, "d1", a.clone())["code"], "0");
    assert_eq!(push(&mut c)["state"], "live");
    assert_eq!(order(&mut c, "d2", a)["data"][0]["sCode"], "51016");

    // Batch: one good, one bad → code 2.
    c.send(&json!({"id":"b1","op":"batch-orders","args":[base(json!({"clOrdId":"b1"})), base(json!({"sz":"0"}))]}).to_string());
    let v = next_json(&mut c);
    assert_eq!(v["code"], "2", "{v}");
    assert_eq!(v["data"][0]["sCode"], "0");
    assert_eq!(v["data"][1]["sCode"], "51000");
    assert_eq!(push(&mut c)["clOrdId"], "b1");
    sim.shutdown();
}

#[test]
fn taker_fills_push_cumulative_fields_and_fees() {
    let sim = sim("");
    finish_tape(&sim);
    let (_, (ask, ask_sz)) = top(&sim);
    let mut c = logged_in(&sim);
    // An IOC buy for more than the best ask holds, limited to the best ask: fills the level,
    // the rest is canceled.
    let sz = ask_sz + d("0.5");
    let v = order(
        &mut c,
        "i1",
        json!({"instId":"BTC-USDT","tdMode":"cash","side":"buy","ordType":"ioc","px":ask.to_string(),"sz":sz.to_string()}),
    );
    assert_eq!(v["code"], "0", "{v}");
    let ord_id = v["data"][0]["ordId"].as_str().expect("ordId").to_owned();
    let live = push(&mut c);
    assert_eq!(live["state"], "live", "{live}");
    assert_eq!(live["ordType"], "ioc");
    let fill = push(&mut c);
    assert_eq!(fill["state"], "partially_filled", "{fill}");
    assert_eq!(dec(&fill["fillSz"]), ask_sz);
    assert_eq!(dec(&fill["fillPx"]), ask);
    assert_eq!(dec(&fill["accFillSz"]), ask_sz);
    assert_eq!(dec(&fill["avgPx"]), ask);
    assert_eq!(fill["execType"], "T");
    assert!(!fill["tradeId"].as_str().unwrap_or("").is_empty());
    assert!(fill["fillTime"].as_str().is_some_and(|t| t.len() == 13));
    // Taker 0.1 % of the received BTC, charged: negative on OKX.
    let fee = -(ask_sz * d("0.001")).round_dp(8);
    assert_eq!(dec(&fill["fillFee"]), fee);
    assert_eq!(dec(&fill["fee"]), fee);
    assert_eq!(fill["feeCcy"], "BTC");
    let end = push(&mut c);
    assert_eq!(end["state"], "canceled", "{end}");
    assert_eq!(dec(&end["accFillSz"]), ask_sz);
    assert_eq!(end["fillSz"], "");
    assert_eq!(dec(&end["fee"]), fee);
    assert_eq!(end["ordId"], ord_id.as_str());

    // A sell that takes the bid side: fee in USDT.
    let ((bid, bid_sz), _) = top(&sim);
    let q = bid_sz.min(d("0.5"));
    let v = order(
        &mut c,
        "i2",
        json!({"instId":"BTC-USDT","tdMode":"cash","side":"sell","ordType":"market","sz":q.to_string()}),
    );
    assert_eq!(v["code"], "0", "{v}");
    assert_eq!(push(&mut c)["state"], "live");
    let f = push(&mut c);
    assert_eq!(f["state"], "filled", "{f}");
    assert_eq!(f["ordType"], "market");
    assert_eq!(dec(&f["fillPx"]), bid);
    assert_eq!(dec(&f["fillSz"]), q);
    assert_eq!(f["feeCcy"], "USDT");
    assert_eq!(dec(&f["fee"]), -(bid * q * d("0.001")).round_dp(8));
    sim.shutdown();
}

#[test]
fn resting_order_fills_as_maker_with_rebate_when_the_book_moves() {
    let sim = sim("");
    let mut c = logged_in(&sim);
    // Before the tape starts the book is empty: a buy far above the capture's asks rests...
    let v = order(
        &mut c,
        "m1",
        json!({"instId":"BTC-USDT","tdMode":"cash","side":"buy","ordType":"limit","px":"31000","sz":"0.001","clOrdId":"mk"}),
    );
    assert_eq!(v["code"], "0", "{v}");
    assert_eq!(push(&mut c)["state"], "live");
    // ...and fills as maker at its own price when the snapshot's asks come under it.
    finish_tape(&sim);
    let f = push(&mut c);
    assert_eq!(f["state"], "filled", "{f}");
    assert_eq!(f["execType"], "M");
    assert_eq!(f["fillPx"], "31000");
    assert_eq!(f["fillSz"], "0.001");
    // Maker rebate 0.01 %: positive on OKX.
    assert_eq!(dec(&f["fee"]), d("0.0000001"));
    assert_eq!(f["clOrdId"], "mk");
    sim.shutdown();
}

/// A one-request HTTPS client that signs like an OKX client.
struct Rest {
    base: String,
    ca: std::path::PathBuf,
}

impl Rest {
    fn call(
        &self,
        method: &str,
        target: &str,
        body: &str,
        headers: &[(&str, String)],
    ) -> (u16, Value) {
        let addr = self
            .base
            .split_once("://")
            .map_or(self.base.as_str(), |(_, r)| r);
        let tcp = TcpStream::connect(addr).expect("connect");
        tcp.set_read_timeout(Some(T)).expect("timeout");
        let conn = ClientConnection::new(
            client_config(&self.ca),
            ServerName::try_from("127.0.0.1").expect("name"),
        )
        .expect("tls");
        let mut s = StreamOwned::new(conn, tcp);
        let mut req = format!(
            "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        req.push_str(body);
        s.write_all(req.as_bytes()).expect("write");
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        let text = String::from_utf8(out).expect("utf8");
        let (head, body) = text.split_once("\r\n\r\n").expect("response head");
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status");
        (
            status,
            serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}")),
        )
    }

    fn signed(&self, method: &str, target: &str, body: &str) -> (u16, Value) {
        let ts = iso(now_ms());
        let sign = sign(SECRET, &format!("{ts}{method}{target}{body}"));
        self.call(
            method,
            target,
            body,
            &[
                ("OK-ACCESS-KEY", KEY.into()),
                ("OK-ACCESS-SIGN", sign),
                ("OK-ACCESS-TIMESTAMP", ts),
                ("OK-ACCESS-PASSPHRASE", PASS.into()),
            ],
        )
    }
}

fn rest(sim: &SimHandle) -> Rest {
    Rest {
        base: sim
            .endpoint("okx", EndpointKind::Rest)
            .expect("rest")
            .to_owned(),
        ca: sim.ca_path().to_path_buf(),
    }
}

#[test]
fn rest_signatures_and_trading_round_trip() {
    let sim = sim("");
    finish_tape(&sim);
    let ((bid, _), (ask, ask_sz)) = top(&sim);
    let r = rest(&sim);
    let body = json!({"instId":"BTC-USDT","tdMode":"cash","side":"buy","ordType":"limit","px":(bid - d("50")).to_string(),"sz":"0.01","clOrdId":"r1"}).to_string();
    let path = "/api/v5/trade/order";

    // Rejections: 401 with OKX's codes, and nothing placed.
    let ts = iso(now_ms());
    let good = sign(SECRET, &format!("{ts}POST{path}{body}"));
    let hdr = |key: &str, sign: &str, ts: &str, pass: &str| {
        let mut h = Vec::new();
        for (k, v) in [
            ("OK-ACCESS-KEY", key),
            ("OK-ACCESS-SIGN", sign),
            ("OK-ACCESS-TIMESTAMP", ts),
            ("OK-ACCESS-PASSPHRASE", pass),
        ] {
            if !v.is_empty() {
                h.push((k, v.to_owned()));
            }
        }
        h
    };
    let old = iso(now_ms() - 31_000);
    let old_sign = sign(SECRET, &format!("{old}POST{path}{body}"));
    let bad_body_sign = sign(SECRET, &format!("{ts}POST{path}{{}}"));
    let cases = [
        (hdr("", &good, &ts, PASS), "50103"),
        (hdr(KEY, &good, &ts, ""), "50104"),
        (hdr(KEY, "", &ts, PASS), "50106"),
        (hdr(KEY, &good, "", PASS), "50107"),
        (hdr(KEY, &good, "1607418537", PASS), "50112"),
        (hdr(KEY, &old_sign, &old, PASS), "50102"),
        (hdr("nobody", &good, &ts, PASS), "50111"),
        (hdr(KEY, &good, &ts, "wrong"), "50105"),
        (hdr(KEY, &bad_body_sign, &ts, PASS), "50113"),
    ];
    for (h, code) in cases {
        let (status, v) = r.call("POST", path, &body, &h);
        assert_eq!(status, 401, "{h:?} → {v}");
        assert_eq!(v["code"], code, "{h:?} → {v}");
        assert_eq!(v["data"], json!([]));
    }
    let (_, v) = r.signed("GET", "/api/v5/trade/orders-pending?instType=SPOT", "");
    assert_eq!(
        v["data"],
        json!([]),
        "a rejected request placed an order: {v}"
    );

    // Place, query, list, cancel.
    let (status, v) = r.signed("POST", path, &body);
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["code"], "0", "{v}");
    let ord_id = v["data"][0]["ordId"].as_str().expect("ordId").to_owned();
    assert_eq!(v["data"][0]["sCode"], "0");
    assert_eq!(v["data"][0]["clOrdId"], "r1");
    let (_, v) = r.signed(
        "GET",
        &format!("/api/v5/trade/order?instId=BTC-USDT&ordId={ord_id}"),
        "",
    );
    assert_eq!(v["code"], "0", "{v}");
    assert_eq!(v["data"][0]["state"], "live");
    assert_eq!(v["data"][0]["clOrdId"], "r1");
    let (_, v) = r.signed("GET", "/api/v5/trade/order?instId=BTC-USDT&clOrdId=r1", "");
    assert_eq!(v["data"][0]["ordId"], ord_id.as_str());
    let (_, v) = r.signed(
        "GET",
        "/api/v5/trade/orders-pending?instType=SPOT&instId=BTC-USDT",
        "",
    );
    assert_eq!(v["data"].as_array().map(Vec::len), Some(1), "{v}");
    let (_, v) = r.signed("GET", "/api/v5/account/balance?ccy=USDT", "");
    let det = &v["data"][0]["details"][0];
    assert_eq!(det["ccy"], "USDT", "{v}");
    let locked = (bid - d("50")) * d("0.01");
    assert_eq!(dec(&det["frozenBal"]), locked);
    assert_eq!(dec(&det["availBal"]), d("100000") - locked);
    assert_eq!(dec(&det["eq"]), d("100000"));
    let cancel = json!({"instId":"BTC-USDT","ordId":ord_id}).to_string();
    let (_, v) = r.signed("POST", "/api/v5/trade/cancel-order", &cancel);
    assert_eq!(
        (v["code"].as_str(), v["data"][0]["sCode"].as_str()),
        (Some("0"), Some("0")),
        "{v}"
    );
    let (_, v) = r.signed("POST", "/api/v5/trade/cancel-order", &cancel);
    assert_eq!(
        (v["code"].as_str(), v["msg"].as_str()),
        (Some("1"), Some("All operations failed")),
        "{v}"
    );
    assert_eq!(v["data"][0]["sCode"], "51400");
    let (_, v) = r.signed(
        "GET",
        "/api/v5/trade/order?instId=BTC-USDT&ordId=999999",
        "",
    );
    assert_eq!(v["code"], "51603", "{v}");

    // A taking order: fills lists it, balances move by exactly price × size and the fee.
    let q = ask_sz.min(d("0.1"));
    let body = json!({"instId":"BTC-USDT","tdMode":"cash","side":"buy","ordType":"limit","px":ask.to_string(),"sz":q.to_string()}).to_string();
    let (_, v) = r.signed("POST", path, &body);
    let ord_id = v["data"][0]["ordId"].as_str().expect("ordId").to_owned();
    let (_, v) = r.signed(
        "GET",
        &format!("/api/v5/trade/fills?instType=SPOT&ordId={ord_id}"),
        "",
    );
    let f = &v["data"][0];
    assert_eq!(f["ordId"], ord_id.as_str(), "{v}");
    assert_eq!(dec(&f["fillPx"]), ask);
    assert_eq!(dec(&f["fillSz"]), q);
    assert_eq!(f["execType"], "T");
    let fee = (q * d("0.001")).round_dp(8);
    assert_eq!(dec(&f["fee"]), -fee);
    let (_, v) = r.signed("GET", "/api/v5/account/balance", "");
    let det = v["data"][0]["details"].as_array().expect("details");
    let bal = |ccy: &str| {
        det.iter()
            .find(|x| x["ccy"] == ccy)
            .map(|x| dec(&x["cashBal"]))
            .unwrap_or_else(|| panic!("no {ccy} in {v}"))
    };
    assert_eq!(bal("BTC"), d("1") + q - fee);
    assert_eq!(bal("USDT"), d("100000") - ask * q);
    // The handle sees the same balances.
    let hb = sim
        .balances("okx", "alice")
        .expect("venue")
        .expect("account");
    let btc = hb.iter().find(|b| b.asset == "BTC").expect("BTC");
    assert_eq!(btc.free + btc.locked, bal("BTC"));
    // Wrong method, bad JSON.
    let (status, _) = r.signed("GET", "/api/v5/trade/cancel-order", "");
    assert_eq!(status, 405);
    let (status, v) = r.signed("POST", path, "{not json");
    assert_eq!((status, v["code"].as_str()), (400, Some("50002")));
    sim.shutdown();
}

#[test]
fn private_faults_on_the_okx_side() {
    let sim = sim(
        "[[venue.private.fault]]\nkind = \"no_fill_reports\"\ncount = 1\n\n\
         [[venue.private.fault]]\nkind = \"duplicate_fill\"\nafter = 1\ncount = 1\n\n\
         [[venue.private.fault]]\nkind = \"reject\"\nafter = 2\ncount = 1\n\n\
         [[venue.private.fault]]\nkind = \"rate_limit\"\nafter = 3\ncount = 1\n",
    );
    finish_tape(&sim);
    let (_, (ask, ask_sz)) = top(&sim);
    let q = (ask_sz / d("4")).round_dp(4).max(d("0.0001"));
    let mut c = logged_in(&sim);
    let buy = || json!({"instId":"BTC-USDT","tdMode":"cash","side":"buy","ordType":"limit","px":ask.to_string(),"sz":q.to_string()});
    // Request 0, fill 0: the state change comes without the fill's fields.
    let v = order(&mut c, "f0", buy());
    assert_eq!(v["code"], "0", "{v}");
    let id0 = v["data"][0]["ordId"].as_str().expect("id").to_owned();
    assert_eq!(push(&mut c)["state"], "live");
    let p = push(&mut c);
    assert_eq!(p["state"], "filled", "{p}");
    assert_eq!(dec(&p["accFillSz"]), q);
    assert_eq!(
        (
            p["fillSz"].as_str(),
            p["tradeId"].as_str(),
            p["fillPx"].as_str()
        ),
        (Some(""), Some(""), Some(""))
    );
    // ...while REST fills still has it.
    let r = rest(&sim);
    let (_, v) = r.signed("GET", &format!("/api/v5/trade/fills?ordId={id0}"), "");
    assert_eq!(dec(&v["data"][0]["fillSz"]), q, "{v}");
    // Request 1, fill 1: pushed twice.
    let v = order(&mut c, "f1", buy());
    assert_eq!(v["code"], "0", "{v}");
    assert_eq!(push(&mut c)["state"], "live");
    let a = push(&mut c);
    let b = push(&mut c);
    assert_eq!(a, b);
    assert_eq!(a["state"], "filled");
    assert!(!a["tradeId"].as_str().unwrap_or("").is_empty());
    // Request 2: refused, system busy.
    let v = order(&mut c, "f2", buy());
    assert_eq!(v["data"][0]["sCode"], "50013", "{v}");
    // Request 3: rate limited (REST: 429).
    let (status, v) = r.signed("POST", "/api/v5/trade/order", &buy().to_string());
    assert_eq!((status, v["code"].as_str()), (429, Some("50011")), "{v}");
    // Then normal again.
    let v = order(&mut c, "f4", buy());
    assert_eq!(v["code"], "0", "{v}");
    assert_eq!(push(&mut c)["state"], "live");
    let p = push(&mut c);
    assert_eq!(p["state"], "filled");
    assert!(!p["tradeId"].as_str().unwrap_or("").is_empty());
    // No duplicate after the one that was configured.
    assert!(matches!(c.next(Duration::from_millis(300)), Got::Timeout));
    sim.shutdown();
}

#[test]
fn disconnect_fault_places_then_drops_the_connection() {
    let sim = sim("[[venue.private.fault]]\nkind = \"disconnect\"\ncount = 1\n");
    finish_tape(&sim);
    let ((bid, _), _) = top(&sim);
    let mut c = logged_in(&sim);
    c.send(&json!({"id":"x","op":"order","args":[{"instId":"BTC-USDT","tdMode":"cash","side":"buy","ordType":"limit","px":(bid - d("10")).to_string(),"sz":"0.01","clOrdId":"lost"}]}).to_string());
    let deadline = Instant::now() + T;
    loop {
        assert!(Instant::now() < deadline, "connection never dropped");
        match c.next(Duration::from_millis(200)) {
            Got::Closed => break,
            Got::Text(t) => panic!("answered despite the fault: {t}"),
            Got::Ping | Got::Timeout => {}
        }
    }
    // The order reached the venue: a reconnecting client finds it.
    let (_, v) = rest(&sim).signed(
        "GET",
        "/api/v5/trade/order?instId=BTC-USDT&clOrdId=lost",
        "",
    );
    assert_eq!(v["data"][0]["state"], "live", "{v}");
    let mut c = logged_in(&sim);
    c.send("ping");
    assert_eq!(c.text(T), "pong");
    sim.shutdown();
}

#[test]
fn okx_accounts_need_a_passphrase() {
    let err = SimConfig::parse(&format!(
        "[[venue]]\nvenue = \"okx\"\ncaptures = [{}]\n[venue.private]\n\
         [[venue.private.account]]\nname = \"a\"\napi_key = \"k\"\nsecret = \"s\"\n",
        toml_path("okx/cryptofeed_OKX.ws.1.0")
    ))
    .expect_err("accepted")
    .to_string();
    assert!(
        err.contains("passphrase is required on okx venues"),
        "{err}"
    );
}

#[test]
fn http_503_fault_places_the_order_but_answers_unavailable() {
    let sim = sim("[[venue.private.fault]]\nkind = \"http_503\"\ncount = 1\n");
    finish_tape(&sim);
    let ((bid, _), _) = top(&sim);
    let r = rest(&sim);
    let body = json!({"instId":"BTC-USDT","tdMode":"cash","side":"buy","ordType":"limit","px":(bid - d("10")).to_string(),"sz":"0.01","clOrdId":"u1"}).to_string();
    let (status, v) = r.signed("POST", "/api/v5/trade/order", &body);
    assert_eq!((status, v["code"].as_str()), (503, Some("50001")), "{v}");
    // The status was unknown to the client, but the order is working.
    let (_, v) = r.signed("GET", "/api/v5/trade/order?instId=BTC-USDT&clOrdId=u1", "");
    assert_eq!(v["data"][0]["state"], "live", "{v}");
    // Only once.
    let body2 = body.replace("u1", "u2");
    let (status, v) = r.signed("POST", "/api/v5/trade/order", &body2);
    assert_eq!((status, v["code"].as_str()), (200, Some("0")), "{v}");
    sim.shutdown();
}

#[test]
fn instruments_and_orders_by_inst_id_code() {
    let sim = sim("");
    finish_tape(&sim);
    let ((bid, _), _) = top(&sim);
    let r = rest(&sim);
    // Public: no signature needed.
    let (status, v) = r.call("GET", "/api/v5/public/instruments?instType=SPOT", "", &[]);
    assert_eq!((status, v["code"].as_str()), (200, Some("0")), "{v}");
    let btc = v["data"]
        .as_array()
        .expect("data")
        .iter()
        .find(|i| i["instId"] == "BTC-USDT")
        .expect("BTC-USDT listed")
        .clone();
    assert_eq!(
        (btc["baseCcy"].as_str(), btc["quoteCcy"].as_str()),
        (Some("BTC"), Some("USDT"))
    );
    // The capture's finest decimals: prices to 0.1, sizes to 1e-8.
    assert_eq!(btc["tickSz"], "0.1");
    assert_eq!(btc["lotSz"], "0.00000001");
    let code = btc["instIdCode"].as_u64().expect("instIdCode");
    let mut c = logged_in(&sim);
    let v = order(
        &mut c,
        "c1",
        json!({"instIdCode":code,"tdMode":"cash","side":"buy","ordType":"limit","px":(bid - d("20")).to_string(),"sz":"0.01"}),
    );
    assert_eq!(v["code"], "0", "{v}");
    assert_eq!(push(&mut c)["instId"], "BTC-USDT");
    let v = order(
        &mut c,
        "c2",
        json!({"instIdCode":code + 1000,"tdMode":"cash","side":"buy","ordType":"limit","px":"1","sz":"0.01"}),
    );
    assert_eq!(v["data"][0]["sCode"], "51001", "{v}");
    sim.shutdown();
}
