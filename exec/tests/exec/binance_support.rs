//! A scripted Binance private side for the session tests: real TLS on loopback (a throw-away
//! rcgen PKI), the WS API (`userDataStream.subscribe.signature`, `order.place`,
//! `order.cancel`) and the signed REST endpoints the session queries, each request's HMAC
//! checked against the test secret. Orders rest until cancelled unless `fill_on_place` is set;
//! faults are armed per test (drop the connection instead of replying, answer 5xx with the
//! order live, answer 429). It stays beside the simulator (`tickwire-sim`, which
//! `venue_sim/` drives the same session against) for one thing the simulator does not offer:
//! the order of pushes against replies is the test's to choose ([`PushTiming`]), so every
//! interleaving of a reply and its user-data pushes is tested deterministically.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use rustls::{ServerConfig, ServerConnection, StreamOwned};
use serde_json::{Value, json};
use sha2::Sha256;

pub const API_KEY: &str = "testkey0123456789";
pub const SECRET: &str = "testsecret-abcdef-0123456789";

pub use tickwire_testkit::data::clock;

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

pub use tickwire_testkit::tls::Pki;

#[derive(Clone, Debug)]
pub struct Order {
    pub order_id: u64,
    pub cl: String,
    pub symbol: String,
    pub side: String,
    pub px: String,
    pub qty: String,
    pub status: &'static str,
    pub executed: String,
}

#[derive(Clone, Debug)]
pub struct TradeRow {
    pub id: u64,
    pub order_id: u64,
    pub symbol: String,
    pub px: String,
    pub qty: String,
    pub buyer: bool,
}

/// Faults armed by a test; each fires once.
#[derive(Clone, Copy, Debug, Default)]
pub struct Faults {
    /// Fill the next order, then drop the WS-API connection without replying.
    pub drop_on_place: bool,
    /// Create the next order but answer it with HTTP-style status 500.
    pub status_500_on_place: bool,
    /// Answer the next order with 429 (not created), `retryAfter` 1 s ahead.
    pub status_429_on_place: bool,
}

/// When the user-data pushes a request causes reach the client, relative to the replies (the
/// venue promises no order between the two; a listenKey stream is even another connection).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PushTiming {
    /// As soon as the connection loop gets to them: after the reply that caused them.
    #[default]
    AfterReply,
    /// Held, then sent just before the next reply (that request's own pushes included).
    BeforeNextReply,
    /// Held until the test picks another timing.
    Held,
}

#[derive(Default)]
pub struct State {
    pub orders: Vec<Order>,
    pub trades: Vec<TradeRow>,
    pub next_id: u64,
    pub fill_on_place: bool,
    pub faults: Faults,
    pub push_timing: PushTiming,
    pub ws_connections: u32,
    pub ws_places: u32,
    pub rest_requests: Vec<String>,
    pub bad_signatures: u32,
    subscribers: Vec<Sender<String>>,
}

impl State {
    fn push(&mut self, event: Value) {
        let text = json!({"subscriptionId": 0, "event": event}).to_string();
        self.subscribers.retain(|s| s.send(text.clone()).is_ok());
    }

    fn exec_report(o: &Order, x: &str, trade: Option<&TradeRow>, orig: &str) -> Value {
        json!({
            "e": "executionReport", "E": epoch_ms(), "s": o.symbol, "c": o.cl, "S": o.side,
            "o": "LIMIT", "f": "GTC", "q": o.qty, "p": o.px, "x": x, "X": o.status,
            "r": "NONE", "i": o.order_id, "C": orig,
            "l": trade.map_or("0.00000000".to_owned(), |t| t.qty.clone()),
            "L": trade.map_or("0.00000000".to_owned(), |t| t.px.clone()),
            "z": o.executed, "n": "0", "N": null, "T": epoch_ms(),
            "t": trade.map_or(-1i64, |t| t.id as i64), "m": true,
        })
    }

    fn order_json(o: &Order) -> Value {
        json!({
            "symbol": o.symbol, "orderId": o.order_id, "orderListId": -1,
            "clientOrderId": o.cl, "transactTime": epoch_ms(), "price": o.px,
            "origQty": o.qty, "executedQty": o.executed, "cummulativeQuoteQty": "0",
            "status": o.status, "timeInForce": "GTC", "type": "LIMIT", "side": o.side,
        })
    }

    /// Creates an order from WS/REST params; fills it at once when `fill`.
    fn create(&mut self, p: &BTreeMap<String, String>, fill: bool) -> Order {
        self.next_id += 1;
        let mut o = Order {
            order_id: 1000 + self.next_id,
            cl: p.get("newClientOrderId").cloned().unwrap_or_default(),
            symbol: p.get("symbol").cloned().unwrap_or_default(),
            side: p.get("side").cloned().unwrap_or_default(),
            px: p.get("price").cloned().unwrap_or_default(),
            qty: p.get("quantity").cloned().unwrap_or_default(),
            status: "NEW",
            executed: "0.00000000".into(),
        };
        let new = Self::exec_report(&o, "NEW", None, "");
        self.push(new);
        if fill {
            self.next_id += 1;
            let t = TradeRow {
                id: 5000 + self.next_id,
                order_id: o.order_id,
                symbol: o.symbol.clone(),
                px: o.px.clone(),
                qty: o.qty.clone(),
                buyer: o.side == "BUY",
            };
            o.status = "FILLED";
            o.executed = o.qty.clone();
            let ev = Self::exec_report(&o, "TRADE", Some(&t), "");
            self.push(ev);
            self.trades.push(t);
        }
        self.orders.push(o.clone());
        o
    }

    fn cancel(&mut self, cl: &str) -> Option<Order> {
        let o = self
            .orders
            .iter_mut()
            .rev()
            .find(|o| o.cl == cl && (o.status == "NEW" || o.status == "PARTIALLY_FILLED"))?;
        o.status = "CANCELED";
        let o = o.clone();
        let ev = Self::exec_report(&o, "CANCELED", None, cl);
        self.push(ev);
        Some(o)
    }
}

/// The running venue.
pub struct MiniBinance {
    pub state: Arc<Mutex<State>>,
    pub ws_url: String,
    pub rest_url: String,
    pub pki: Pki,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl MiniBinance {
    pub fn start() -> Self {
        let pki = Pki::new();
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let ws = TcpListener::bind("127.0.0.1:0").unwrap();
        let rest = TcpListener::bind("127.0.0.1:0").unwrap();
        let ws_url = format!(
            "wss://localhost:{}/ws-api/v3",
            ws.local_addr().unwrap().port()
        );
        let rest_url = format!("https://localhost:{}", rest.local_addr().unwrap().port());
        let mut threads = Vec::new();
        for (listener, is_ws) in [(ws, true), (rest, false)] {
            let (state, stop, cfg) = (state.clone(), stop.clone(), pki.server_config());
            threads.push(thread::spawn(move || {
                accept_loop(listener, &stop, move |tcp| {
                    let (state, cfg) = (state.clone(), cfg.clone());
                    thread::spawn(move || {
                        let Ok(tls) = tls_accept(tcp, &cfg) else {
                            return;
                        };
                        if is_ws {
                            serve_ws(tls, &state);
                        } else {
                            serve_rest(tls, &state);
                        }
                    });
                })
            }));
        }
        Self {
            state,
            ws_url,
            rest_url,
            pki,
            stop,
            threads,
        }
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }
}

impl Drop for MiniBinance {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

type Tls = StreamOwned<ServerConnection, TcpStream>;

fn accept_loop(listener: TcpListener, stop: &AtomicBool, mut on: impl FnMut(TcpStream)) {
    listener.set_nonblocking(true).unwrap();
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((tcp, _)) => {
                let _ = tcp.set_nonblocking(false);
                let _ = tcp.set_nodelay(true);
                on(tcp);
            }
            Err(_) => thread::sleep(Duration::from_millis(2)),
        }
    }
}

fn tls_accept(tcp: TcpStream, cfg: &Arc<ServerConfig>) -> io::Result<Tls> {
    tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
    let conn = ServerConnection::new(cfg.clone()).map_err(io::Error::other)?;
    let mut s = StreamOwned::new(conn, tcp);
    while s.conn.is_handshaking() {
        s.conn.complete_io(&mut s.sock)?;
    }
    Ok(s)
}

fn hmac_hex(payload: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(payload.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// WS-API params as text (numbers as written), and whether the signature is right: the
/// payload is every param but `signature`, sorted by name (`BTreeMap` order).
fn ws_params(params: &Value) -> (BTreeMap<String, String>, bool) {
    let mut m = BTreeMap::new();
    if let Some(obj) = params.as_object() {
        for (k, v) in obj {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            m.insert(k.clone(), text);
        }
    }
    let payload: Vec<String> = m
        .iter()
        .filter(|(k, _)| k.as_str() != "signature")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let ok = m.get("signature").map(String::as_str) == Some(hmac_hex(&payload.join("&")).as_str())
        && m.get("apiKey").map(String::as_str) == Some(API_KEY);
    (m, ok)
}

fn rate_limits(state: &State) -> Value {
    json!([{"rateLimitType":"ORDERS","interval":"SECOND","intervalNum":10,"limit":50,"count":state.ws_places},
           {"rateLimitType":"REQUEST_WEIGHT","interval":"MINUTE","intervalNum":1,"limit":6000,"count":state.ws_places}])
}

fn serve_ws(tls: Tls, state: &Arc<Mutex<State>>) {
    let Ok(mut ws) = tungstenite::accept(tls) else {
        return;
    };
    let _ = ws
        .get_mut()
        .sock
        .set_read_timeout(Some(Duration::from_millis(10)));
    let (tx, rx): (Sender<String>, Receiver<String>) = mpsc::channel();
    state.lock().unwrap().ws_connections += 1;
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if state.lock().unwrap().push_timing == PushTiming::AfterReply {
            for push in rx.try_iter() {
                if ws.send(tungstenite::Message::text(push)).is_err() {
                    return;
                }
            }
        }
        let msg = match ws.read() {
            Ok(tungstenite::Message::Text(t)) => t.to_string(),
            Ok(tungstenite::Message::Close(_)) => {
                let _ = ws.flush();
                return;
            }
            Ok(_) => continue,
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(_) => return,
        };
        let Ok(req) = serde_json::from_str::<Value>(&msg) else {
            return;
        };
        let id = req["id"].clone();
        let (p, sig_ok) = ws_params(&req["params"]);
        let mut st = state.lock().unwrap();
        if !sig_ok {
            st.bad_signatures += 1;
            let r = json!({"id": id, "status": 400, "error": {"code": -1022, "msg": "Signature for this request is not valid."}});
            drop(st);
            let _ = ws.send(tungstenite::Message::text(r.to_string()));
            continue;
        }
        let reply = match req["method"].as_str().unwrap_or("") {
            "userDataStream.subscribe.signature" => {
                st.subscribers.push(tx.clone());
                json!({"id": id, "status": 200, "result": {"subscriptionId": 0}})
            }
            "order.place" => {
                st.ws_places += 1;
                let f = st.faults;
                if f.drop_on_place {
                    st.faults.drop_on_place = false;
                    st.create(&p, true);
                    // Vanish without a reply or a close frame.
                    return;
                }
                if f.status_429_on_place {
                    st.faults.status_429_on_place = false;
                    json!({"id": id, "status": 429, "error": {"code": -1003, "msg": "Too many requests.",
                        "data": {"retryAfter": epoch_ms() + 1000}}, "rateLimits": rate_limits(&st)})
                } else if f.status_500_on_place {
                    st.faults.status_500_on_place = false;
                    st.create(&p, false);
                    json!({"id": id, "status": 500, "error": {"code": -1000, "msg": "Internal error."}})
                } else {
                    let fill = st.fill_on_place;
                    let o = st.create(&p, fill);
                    let mut r = State::order_json(&o);
                    // A placement answers with the order as placed (NEW).
                    r["status"] = json!("NEW");
                    r["executedQty"] = json!("0.00000000");
                    json!({"id": id, "status": 200, "result": r, "rateLimits": rate_limits(&st)})
                }
            }
            "order.cancel" => {
                let cl = p.get("origClientOrderId").cloned().unwrap_or_default();
                match st.cancel(&cl) {
                    Some(o) => {
                        let mut r = State::order_json(&o);
                        r["origClientOrderId"] = json!(cl);
                        r["clientOrderId"] = json!("cancel-1");
                        json!({"id": id, "status": 200, "result": r})
                    }
                    None => {
                        json!({"id": id, "status": 400, "error": {"code": -2011, "msg": "Unknown order sent."}})
                    }
                }
            }
            _ => json!({"id": id, "status": 400, "error": {"code": -1100, "msg": "Illegal"}}),
        };
        let timing = st.push_timing;
        drop(st);
        if timing == PushTiming::BeforeNextReply {
            for push in rx.try_iter() {
                if ws.send(tungstenite::Message::text(push)).is_err() {
                    return;
                }
            }
        }
        // Otherwise the reply goes out before the pushes it caused (they wait in the channel).
        if ws
            .send(tungstenite::Message::text(reply.to_string()))
            .is_err()
        {
            return;
        }
    }
}

fn query_map(q: &str) -> BTreeMap<String, String> {
    q.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn serve_rest(mut tls: Tls, state: &Arc<Mutex<State>>) {
    let mut buf = Vec::new();
    loop {
        // Read one request head (these requests carry no body).
        let mut tmp = [0u8; 4096];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            match tls.read(&mut tmp) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&tmp[..n]),
            }
        }
        let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let head = String::from_utf8_lossy(&buf[..end]).to_string();
        buf.drain(..end);
        let line = head.lines().next().unwrap_or("");
        let mut parts = line.split(' ');
        let method = parts.next().unwrap_or("").to_owned();
        let target = parts.next().unwrap_or("").to_owned();
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let (status, body) = rest_reply(state, &method, path, query, &head);
        let resp = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nX-MBX-USED-WEIGHT-1M: 7\r\n\r\n{body}",
            body.len()
        );
        if tls
            .write_all(resp.as_bytes())
            .and_then(|()| tls.flush())
            .is_err()
        {
            return;
        }
    }
}

fn rest_reply(
    state: &Arc<Mutex<State>>,
    method: &str,
    path: &str,
    query: &str,
    head: &str,
) -> (u16, String) {
    let mut st = state.lock().unwrap();
    st.rest_requests.push(format!("{method} {path}"));
    if path == "/api/v3/time" {
        return (200, json!({"serverTime": epoch_ms()}).to_string());
    }
    if path == "/api/v3/exchangeInfo" {
        let limits = json!([
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 50}
        ]);
        return (
            200,
            json!({"timezone": "UTC", "rateLimits": limits, "symbols": []}).to_string(),
        );
    }
    let key_ok = head
        .lines()
        .any(|l| l.eq_ignore_ascii_case(&format!("x-mbx-apikey: {API_KEY}")));
    let (payload, sig) = query.rsplit_once("&signature=").unwrap_or((query, ""));
    if !key_ok || sig != hmac_hex(payload) {
        st.bad_signatures += 1;
        return (
            400,
            json!({"code": -1022, "msg": "Signature for this request is not valid."}).to_string(),
        );
    }
    let q = query_map(payload);
    let sym = q.get("symbol").cloned().unwrap_or_default();
    match (method, path) {
        ("GET", "/api/v3/order") => {
            let found = st.orders.iter().rev().find(|o| {
                o.symbol == sym
                    && (q.get("origClientOrderId") == Some(&o.cl)
                        || q.get("orderId") == Some(&o.order_id.to_string()))
            });
            match found {
                Some(o) => (200, State::order_json(o).to_string()),
                None => (
                    400,
                    json!({"code": -2013, "msg": "Order does not exist."}).to_string(),
                ),
            }
        }
        ("GET", "/api/v3/openOrders") => {
            let open: Vec<Value> = st
                .orders
                .iter()
                .filter(|o| o.symbol == sym && o.status == "NEW")
                .map(State::order_json)
                .collect();
            (200, Value::Array(open).to_string())
        }
        ("GET", "/api/v3/myTrades") => {
            let from: u64 = q.get("fromId").and_then(|v| v.parse().ok()).unwrap_or(0);
            let rows: Vec<Value> = st
                .trades
                .iter()
                .filter(|t| t.symbol == sym && t.id >= from)
                .map(|t| {
                    json!({"symbol": t.symbol, "id": t.id, "orderId": t.order_id,
                    "price": t.px, "qty": t.qty, "commission": "0", "commissionAsset": "USDT",
                    "time": epoch_ms(), "isBuyer": t.buyer, "isMaker": true})
                })
                .collect();
            (200, Value::Array(rows).to_string())
        }
        ("POST", "/api/v3/order") => {
            let fill = st.fill_on_place;
            let o = st.create(&q, fill);
            (200, State::order_json(&o).to_string())
        }
        ("DELETE", "/api/v3/order") => {
            let cl = q.get("origClientOrderId").cloned().unwrap_or_default();
            match st.cancel(&cl) {
                Some(o) => {
                    let mut r = State::order_json(&o);
                    r["origClientOrderId"] = json!(cl);
                    (200, r.to_string())
                }
                None => (
                    400,
                    json!({"code": -2011, "msg": "Unknown order sent."}).to_string(),
                ),
            }
        }
        _ => (404, json!({"code": -1, "msg": "not here"}).to_string()),
    }
}
