//! Binance spot private API, from FORMATS.md §1.8–1.12 and Binance's spot API docs: the same
//! request handlers behind REST (`/api/v3/...`) and the WS-API (`/ws-api/v3`), and the
//! `executionReport` user-data events.
//!
//! Checks, in the venue's order: request weight (HTTP 429 / -1003 with `Retry-After`), API key
//! (-2014 missing / -2015 unknown), signature (HMAC-SHA256 over the exact query string followed
//! by the body, signature pair removed; -1022), `timestamp` within `recvWindow` (default 5000,
//! at most 60000; -1021), parameters (-1102 missing, -1100 malformed, -1116/-1117/-1115 bad
//! enums, -1121 unknown symbol, -1013 filter failures), order rate (-1015 with 429), then the
//! matching engine (-2010 rejected, -2011 cancel of an unknown order, -2013 unknown order).

use std::fmt::Write as _;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use rust_decimal::Decimal;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::book::{BinanceBook, Book, Level};
use crate::config::{PrivateConfig, PrivateFaultKind};
use crate::matching::{
    AccountId, Amend, ExecKind, Execution, NewOrder, Order, OrderRef, OrderStatus, OrderType,
    Reject, Side, SymbolRules, TimeInForce,
};
use crate::tape::BookOp;

/// The venue-neutral private core with Binance's push forms.
pub(crate) type Private = crate::private::Private<PushForm>;

/// How a listener wants its user-data pushes wrapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PushForm {
    /// WS-API `userDataStream.subscribe*`: `{"subscriptionId":N,"event":{..}}`.
    Subscription(u64),
    /// `/ws/<listenKey>`: the bare event.
    ListenKey,
}

/// A private operation, whichever transport carried it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    /// `POST /api/v3/order`, `order.place`.
    NewOrder,
    /// `DELETE /api/v3/order`, `order.cancel`.
    CancelOrder,
    /// `GET /api/v3/order`, `order.status`.
    QueryOrder,
    /// `PUT /api/v3/order/amend/keepPriority`, `order.amend.keepPriority`.
    AmendKeepPriority,
    /// `GET /api/v3/openOrders`, `openOrders.status`.
    OpenOrders,
    /// `DELETE /api/v3/openOrders`, `openOrders.cancelAll`.
    CancelOpenOrders,
    /// `GET /api/v3/myTrades`, `myTrades`.
    MyTrades,
    /// `GET /api/v3/account`, `account.status`.
    Account,
    /// `POST /api/v3/userDataStream`.
    ListenKeyNew,
    /// `PUT /api/v3/userDataStream`.
    ListenKeyKeep,
    /// `DELETE /api/v3/userDataStream`.
    ListenKeyClose,
    /// WS-API `userDataStream.subscribe.signature`.
    SubscribeSignature,
}

impl Op {
    /// The REST operation for a method and path.
    pub(crate) fn rest(method: &str, path: &str) -> Option<Op> {
        Some(match (method, path) {
            ("POST", "/api/v3/order") => Op::NewOrder,
            ("DELETE", "/api/v3/order") => Op::CancelOrder,
            ("GET", "/api/v3/order") => Op::QueryOrder,
            ("PUT", "/api/v3/order/amend/keepPriority") => Op::AmendKeepPriority,
            ("GET", "/api/v3/openOrders") => Op::OpenOrders,
            ("DELETE", "/api/v3/openOrders") => Op::CancelOpenOrders,
            ("GET", "/api/v3/myTrades") => Op::MyTrades,
            ("GET", "/api/v3/account") => Op::Account,
            ("POST", "/api/v3/userDataStream") => Op::ListenKeyNew,
            ("PUT", "/api/v3/userDataStream") => Op::ListenKeyKeep,
            ("DELETE", "/api/v3/userDataStream") => Op::ListenKeyClose,
            _ => return None,
        })
    }

    /// True for paths served by this module (any method).
    pub(crate) fn is_private_path(path: &str) -> bool {
        matches!(
            path,
            "/api/v3/order"
                | "/api/v3/order/amend/keepPriority"
                | "/api/v3/openOrders"
                | "/api/v3/myTrades"
                | "/api/v3/account"
                | "/api/v3/userDataStream"
        )
    }

    /// The WS-API operation for a method name.
    pub(crate) fn ws(method: &str) -> Option<Op> {
        Some(match method {
            "order.place" => Op::NewOrder,
            "order.cancel" => Op::CancelOrder,
            "order.status" => Op::QueryOrder,
            "order.amend.keepPriority" => Op::AmendKeepPriority,
            "openOrders.status" => Op::OpenOrders,
            "openOrders.cancelAll" => Op::CancelOpenOrders,
            "myTrades" => Op::MyTrades,
            "account.status" => Op::Account,
            "userDataStream.subscribe.signature" => Op::SubscribeSignature,
            _ => return None,
        })
    }

    fn signed(self) -> bool {
        !matches!(
            self,
            Op::ListenKeyNew | Op::ListenKeyKeep | Op::ListenKeyClose
        )
    }
}

/// One request, decoded.
#[derive(Debug, Default)]
pub(crate) struct Call {
    /// `X-MBX-APIKEY` (REST) or `apiKey` (WS-API).
    pub api_key: Option<String>,
    /// Parameters (decoded), in request order; the signature is not among them.
    pub params: Vec<(String, String)>,
    /// The exact signed payload.
    pub payload: String,
    /// The `signature` parameter.
    pub signature: Option<String>,
}

impl Call {
    /// From a REST request: the signed payload is the query string followed by the body, each
    /// with its `signature=` pair removed and otherwise byte for byte.
    pub(crate) fn from_rest(api_key: Option<String>, query: &str, body: &str) -> Self {
        let mut signature = None;
        let mut params = Vec::new();
        let mut strip = |s: &str| -> String {
            let mut kept: Vec<&str> = Vec::new();
            for pair in s.split('&').filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                if k == "signature" {
                    signature = Some(percent_decode(v));
                } else {
                    kept.push(pair);
                    params.push((percent_decode(k), percent_decode(v)));
                }
            }
            kept.join("&")
        };
        let q = strip(query);
        let b = strip(body);
        Self {
            api_key,
            params,
            payload: q + &b,
            signature,
        }
    }

    /// From WS-API params: the signed payload is every parameter but `signature`, sorted by
    /// name, as `name=value` joined by `&` (values raw, not percent-encoded).
    pub(crate) fn from_ws(params: &serde_json::Map<String, Value>) -> Self {
        let mut pairs: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), v)
            })
            .collect();
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        let signature = pairs
            .iter()
            .find(|(k, _)| k == "signature")
            .map(|(_, v)| v.clone());
        pairs.retain(|(k, _)| k != "signature");
        let payload = pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        let api_key = pairs
            .iter()
            .find(|(k, _)| k == "apiKey")
            .map(|(_, v)| v.clone());
        Self {
            api_key,
            params: pairs,
            payload,
            signature,
        }
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// What a handler produced.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// HTTP status (WS-API `status`).
    pub status: u16,
    /// The result JSON, or the error code and message.
    pub result: Result<String, (i64, String)>,
    /// Request weight used this minute, after this request.
    pub used_weight: u64,
    /// Orders counted (10 s, day) for order requests.
    pub order_counts: Option<(u64, u64)>,
    /// `Retry-After` seconds (429).
    pub retry_after: Option<u64>,
    /// Wait this long before answering (latency, slow-ack fault).
    pub delay: Duration,
    /// WS-API: close the connection abruptly instead of answering.
    pub disconnect: bool,
    /// WS-API: a user-data subscription to register (account, subscription id).
    pub subscribe: Option<(AccountId, u64)>,
}

impl Outcome {
    fn err(status: u16, code: i64, msg: impl Into<String>) -> Self {
        Self {
            status,
            result: Err((code, msg.into())),
            used_weight: 0,
            order_counts: None,
            retry_after: None,
            delay: Duration::ZERO,
            disconnect: false,
            subscribe: None,
        }
    }

    fn ok(body: String) -> Self {
        Self {
            status: 200,
            result: Ok(body),
            ..Self::err(200, 0, "")
        }
    }

    /// The REST body.
    pub(crate) fn rest_body(&self) -> String {
        match &self.result {
            Ok(b) => b.clone(),
            Err((code, msg)) => error_json(*code, msg),
        }
    }

    /// The REST headers (`X-MBX-USED-WEIGHT-1M`, order counts, `Retry-After`).
    pub(crate) fn rest_headers(&self) -> Vec<(String, String)> {
        let mut h = vec![
            ("X-MBX-USED-WEIGHT".to_owned(), self.used_weight.to_string()),
            (
                "X-MBX-USED-WEIGHT-1M".to_owned(),
                self.used_weight.to_string(),
            ),
        ];
        if let Some((ten, day)) = self.order_counts {
            h.push(("X-MBX-ORDER-COUNT-10S".to_owned(), ten.to_string()));
            h.push(("X-MBX-ORDER-COUNT-1D".to_owned(), day.to_string()));
        }
        if let Some(s) = self.retry_after {
            h.push(("Retry-After".to_owned(), s.to_string()));
        }
        h
    }

    /// A failure answer (for callers outside this module: malformed or unknown WS-API calls).
    pub(crate) fn error(status: u16, code: i64, msg: &str) -> Self {
        Self::err(status, code, msg)
    }

    /// The answer to a private request on a venue without a private side: its keys are unknown.
    pub(crate) fn no_private() -> Self {
        Self::err(
            400,
            -2015,
            "Invalid API-key, IP, or permissions for action.",
        )
    }

    /// A success answer with this result JSON.
    pub(crate) fn success(result: String) -> Self {
        Self::ok(result)
    }

    /// The WS-API answer frame for request `id`.
    pub(crate) fn ws_frame(&self, id: &Value, cfg: &PrivateConfig) -> String {
        let mut limits = format!(
            "[{{\"rateLimitType\":\"REQUEST_WEIGHT\",\"interval\":\"MINUTE\",\"intervalNum\":1,\"limit\":{},\"count\":{}}}",
            cfg.weight_per_minute, self.used_weight
        );
        if let Some((ten, day)) = self.order_counts {
            let _ = write!(
                limits,
                ",{{\"rateLimitType\":\"ORDERS\",\"interval\":\"SECOND\",\"intervalNum\":10,\"limit\":{},\"count\":{ten}}},{{\"rateLimitType\":\"ORDERS\",\"interval\":\"DAY\",\"intervalNum\":1,\"limit\":{},\"count\":{day}}}",
                cfg.orders_per_10s, cfg.orders_per_day
            );
        }
        limits.push(']');
        match &self.result {
            Ok(r) => format!(
                "{{\"id\":{id},\"status\":{},\"result\":{r},\"rateLimits\":{limits}}}",
                self.status
            ),
            Err((code, msg)) => format!(
                "{{\"id\":{id},\"status\":{},\"error\":{},\"rateLimits\":{limits}}}",
                self.status,
                error_json(*code, msg)
            ),
        }
    }
}

fn error_json(code: i64, msg: &str) -> String {
    format!(
        "{{\"code\":{code},\"msg\":{}}}",
        Value::String(msg.to_owned())
    )
}

fn missing(name: &str) -> Outcome {
    Outcome::err(
        400,
        -1102,
        format!("Mandatory parameter '{name}' was not sent, was empty/null, or malformed."),
    )
}

fn illegal(name: &str) -> Outcome {
    Outcome::err(
        400,
        -1100,
        format!("Illegal characters found in parameter '{name}'."),
    )
}

/// Binance pads decimals to 8 places.
pub(crate) fn fmt8(d: Decimal) -> String {
    let mut d = d.normalize();
    if d.scale() < 8 {
        d.rescale(8);
    }
    d.to_string()
}

fn side_str(s: Side) -> &'static str {
    match s {
        Side::Buy => "BUY",
        Side::Sell => "SELL",
    }
}

fn type_str(t: OrderType) -> &'static str {
    match t {
        OrderType::Limit => "LIMIT",
        OrderType::Market => "MARKET",
        OrderType::LimitMaker => "LIMIT_MAKER",
    }
}

fn tif_str(t: TimeInForce) -> &'static str {
    match t {
        TimeInForce::Gtc => "GTC",
        TimeInForce::Ioc => "IOC",
        TimeInForce::Fok => "FOK",
    }
}

/// The private side of a Binance venue: accounts and keys from the config, and every symbol of
/// the market with its trading rules.
pub(crate) fn new(cfg: &PrivateConfig, m: &super::public::Market) -> Private {
    let mut p = Private::new(cfg);
    for r in symbol_rules(m) {
        p.engine.add_symbol(r);
    }
    p
}

/// Our resting orders meet the market a tape frame moved (`books` already show it): a depth
/// diff moves a symbol's book, a public trade may fill orders at its price; the fills are
/// pushed as `executionReport`s.
pub(crate) fn on_frame(
    p: &mut Private,
    m: &super::public::Market,
    books: &[BinanceBook],
    op: BookOp,
    now_ms: u64,
) {
    let ev = match op {
        BookOp::BinanceDiff { book, .. } => {
            let sym = &m.symbols[book as usize];
            p.engine
                .on_book(&sym.name, &books[book as usize].book, now_ms)
        }
        BookOp::BinanceTrade { book, trade } => {
            let sym = &m.symbols[book as usize];
            p.engine
                .on_trade(&sym.name, sym.trades[trade as usize], now_ms)
        }
        _ => return,
    };
    publish(p, &ev, now_ms);
}

/// The trading rules of a Binance market's symbols (tick, lot, min notional): a recorded
/// exchangeInfo's filters when it lists the symbol, else the configured or inferred ones (the
/// same as the generated exchangeInfo).
fn symbol_rules(m: &super::public::Market) -> Vec<SymbolRules> {
    m.symbols
        .iter()
        .map(|s| {
            let (tick, lot, min_notional) = super::public::filters(m, s);
            let (base, quote) = super::public::assets(m, &s.name);
            SymbolRules {
                symbol: s.name.clone(),
                base,
                quote,
                tick,
                lot,
                min_notional,
            }
        })
        .collect()
}

/// Runs one private request on the venue's private side and books, which the caller holds
/// under the venue lock; `add_weight` counts the request's weight and returns the minute's
/// total.
pub(crate) fn handle(
    p: &mut Private,
    market: &super::public::Market,
    books: &[BinanceBook],
    add_weight: impl FnOnce(u32) -> u64,
    op: Op,
    call: &Call,
    now_ms: u64,
) -> Outcome {
    let weight = weight_of(op, call);
    let used = add_weight(weight);
    let latency = p.cfg.latency;
    let mut out = if used > p.cfg.weight_per_minute {
        let mut o = Outcome::err(
            429,
            -1003,
            format!(
                "Too much request weight used; current limit is {} request weight per 1 MINUTE. \
                 Please use WebSocket Streams for live updates to avoid polling the API.",
                p.cfg.weight_per_minute
            ),
        );
        o.retry_after = Some(60 - (now_ms / 1000) % 60);
        o
    } else if p.fault(|k| k == PrivateFaultKind::RateLimit).is_some() {
        let mut o = Outcome::err(
            429,
            -1003,
            "Too many requests; current limit of IP is 6000 requests per minute. \
             Please use WebSocket Streams for live updates to avoid polling the API.",
        );
        o.retry_after = Some(1);
        o
    } else {
        run(p, market, books, op, call, now_ms)
    };
    out.used_weight = used;
    out.delay += latency;
    out
}

fn weight_of(op: Op, call: &Call) -> u32 {
    match op {
        Op::NewOrder | Op::CancelOrder | Op::CancelOpenOrders => 1,
        Op::QueryOrder | Op::AmendKeepPriority => 4,
        Op::OpenOrders => {
            if call.get("symbol").is_some() {
                6
            } else {
                80
            }
        }
        Op::MyTrades | Op::Account => 20,
        Op::ListenKeyNew | Op::ListenKeyKeep | Op::ListenKeyClose | Op::SubscribeSignature => 2,
    }
}

fn authenticate(p: &Private, op: Op, call: &Call, now_ms: u64) -> Result<AccountId, Box<Outcome>> {
    let Some(key) = call.api_key.as_deref().filter(|k| !k.is_empty()) else {
        return Err(Box::new(Outcome::err(
            401,
            -2014,
            "API-key format invalid.",
        )));
    };
    let Some(k) = p.key(key) else {
        return Err(Box::new(Outcome::err(
            401,
            -2015,
            "Invalid API-key, IP, or permissions for action.",
        )));
    };
    if !op.signed() {
        return Ok(k.account);
    }
    let Some(ts) = call.get("timestamp") else {
        return Err(Box::new(missing("timestamp")));
    };
    let Ok(ts) = ts.parse::<u64>() else {
        return Err(Box::new(illegal("timestamp")));
    };
    // Microsecond timestamps are accepted too.
    let ts_ms = if ts >= 10_000_000_000_000 {
        ts / 1000
    } else {
        ts
    };
    let window = match call.get("recvWindow") {
        None => 5000,
        Some(w) => match w.parse::<u64>() {
            Ok(w) if w <= 60_000 => w,
            Ok(_) => {
                return Err(Box::new(Outcome::err(
                    400,
                    -1131,
                    "recvWindow must be less than 60000",
                )));
            }
            Err(_) => return Err(Box::new(illegal("recvWindow"))),
        },
    };
    let Some(sig) = call.signature.as_deref().filter(|s| !s.is_empty()) else {
        return Err(Box::new(missing("signature")));
    };
    let good = hex_decode(sig).is_some_and(|raw| {
        <Hmac<Sha256> as KeyInit>::new_from_slice(&k.secret).is_ok_and(|mut m| {
            m.update(call.payload.as_bytes());
            m.verify_slice(&raw).is_ok()
        })
    });
    if !good {
        return Err(Box::new(Outcome::err(
            400,
            -1022,
            "Signature for this request is not valid.",
        )));
    }
    if ts_ms >= now_ms + 1000 || now_ms.saturating_sub(ts_ms) > window {
        return Err(Box::new(Outcome::err(
            400,
            -1021,
            "Timestamp for this request is outside of the recvWindow.",
        )));
    }
    Ok(k.account)
}

fn run(
    p: &mut Private,
    market: &super::public::Market,
    books: &[BinanceBook],
    op: Op,
    call: &Call,
    now_ms: u64,
) -> Outcome {
    let account = match authenticate(p, op, call, now_ms) {
        Ok(a) => a,
        Err(o) => return *o,
    };
    let book_of = |symbol: &str| -> Option<&Book<Level>> {
        market
            .by_name
            .get(symbol)
            .and_then(|&i| books.get(i))
            .map(|b| &b.book)
    };
    let symbol_param = |required: bool| -> Result<Option<String>, Box<Outcome>> {
        match call.get("symbol") {
            None if required => Err(Box::new(missing("symbol"))),
            None => Ok(None),
            Some(s) => {
                let s = s.to_ascii_uppercase();
                if p.engine.rules(&s).is_none() {
                    Err(Box::new(Outcome::err(400, -1121, "Invalid symbol.")))
                } else {
                    Ok(Some(s))
                }
            }
        }
    };
    // `symbol_param(true)` already answers a missing symbol; this only unwraps the option.
    let required_symbol =
        || symbol_param(true).and_then(|s| s.ok_or_else(|| Box::new(missing("symbol"))));
    match op {
        Op::NewOrder => {
            let symbol = match required_symbol() {
                Ok(s) => s,
                Err(o) => return *o,
            };
            let empty = Book::new();
            let book = book_of(&symbol).unwrap_or(&empty);
            new_order(p, account, &symbol, book, call, now_ms)
        }
        Op::CancelOrder => {
            let symbol = match required_symbol() {
                Ok(s) => s,
                Err(o) => return *o,
            };
            let r = match order_ref(call) {
                Ok(r) => r,
                Err(o) => return *o,
            };
            let empty = Book::new();
            let book = book_of(&symbol).unwrap_or(&empty);
            match p.engine.cancel(account, &symbol, &r, book, now_ms) {
                Ok(ex) => {
                    let cancel_id = call
                        .get("newClientOrderId")
                        .map_or_else(|| generated_client_id(p), str::to_owned);
                    let body = cancel_json(&ex.order, &cancel_id, now_ms);
                    publish_with(p, std::slice::from_ref(&ex), now_ms, Some(&cancel_id));
                    Outcome::ok(body)
                }
                Err(_) => Outcome::err(400, -2011, "Unknown order sent."),
            }
        }
        Op::QueryOrder => {
            let symbol = match required_symbol() {
                Ok(s) => s,
                Err(o) => return *o,
            };
            let r = match order_ref(call) {
                Ok(r) => r,
                Err(o) => return *o,
            };
            match p.engine.order(account, &symbol, &r) {
                Some(o) => Outcome::ok(order_json(o)),
                None => Outcome::err(400, -2013, "Order does not exist."),
            }
        }
        Op::AmendKeepPriority => {
            let symbol = match required_symbol() {
                Ok(s) => s,
                Err(o) => return *o,
            };
            let r = match order_ref(call) {
                Ok(r) => r,
                Err(o) => return *o,
            };
            let new_qty = match decimal_param(call, "newQty") {
                Ok(Some(q)) => q,
                Ok(None) => return missing("newQty"),
                Err(o) => return *o,
            };
            let Some(before) = p.engine.order(account, &symbol, &r).cloned() else {
                return Outcome::err(400, -2013, "Order does not exist.");
            };
            if !before.status.is_open() {
                return Outcome::err(400, -2013, "Order does not exist.");
            }
            // Keep priority: only a decrease is allowed.
            if new_qty >= before.qty {
                return Outcome::err(
                    400,
                    -2038,
                    "Order amend (quantity increase) is not supported.",
                );
            }
            let empty = Book::new();
            let book = book_of(&symbol).unwrap_or(&empty);
            let change = Amend {
                qty: Some(new_qty),
                price: None,
            };
            let r = OrderRef::Id(before.id);
            let ev = match p.engine.amend(account, &symbol, &r, change, book, now_ms) {
                Ok(ev) => ev,
                Err(Reject::LotSize) => {
                    return Outcome::err(400, -1013, "Filter failure: LOT_SIZE");
                }
                Err(Reject::MinNotional) => {
                    return Outcome::err(400, -1013, "Filter failure: NOTIONAL");
                }
                Err(_) => {
                    return Outcome::err(
                        400,
                        -2038,
                        "Order amend (quantity at or below the executed quantity) is not supported.",
                    );
                }
            };
            let new_cid = call
                .get("newClientOrderId")
                .map_or_else(|| generated_client_id(p), str::to_owned);
            let _ = p.engine.set_client_id(account, &symbol, &r, &new_cid);
            let Some(o) = p.engine.order(account, &symbol, &r).cloned() else {
                return Outcome::err(400, -2013, "Order does not exist.");
            };
            let exec_id = p.serial;
            let amended: Vec<Execution> = ev
                .into_iter()
                .map(|e| Execution {
                    order: o.clone(),
                    ..e
                })
                .collect();
            publish(p, &amended, now_ms);
            Outcome::ok(format!(
                "{{\"transactTime\":{now_ms},\"executionId\":{exec_id},\"amendedOrder\":{{\"symbol\":{},\"orderId\":{},\"orderListId\":-1,\"origClientOrderId\":{},\"clientOrderId\":{},\"price\":\"{}\",\"qty\":\"{}\",\"executedQty\":\"{}\",\"preventedQty\":\"0.00000000\",\"quoteOrderQty\":\"0.00000000\",\"cumulativeQuoteQty\":\"{}\",\"status\":\"{}\",\"timeInForce\":\"{}\",\"type\":\"{}\",\"side\":\"{}\",\"workingTime\":{},\"selfTradePreventionMode\":\"NONE\"}}}}",
                Value::String(o.symbol.clone()),
                o.id,
                Value::String(before.client_id.clone()),
                Value::String(o.client_id.clone()),
                price_str(&o),
                fmt8(o.qty),
                fmt8(o.executed),
                fmt8(o.cum_quote),
                o.status.binance(),
                tif_str(o.tif),
                type_str(o.kind),
                side_str(o.side),
                if o.working { o.created_ms as i64 } else { -1 }
            ))
        }
        Op::OpenOrders => {
            let symbol = match symbol_param(false) {
                Ok(s) => s,
                Err(o) => return *o,
            };
            let list: Vec<String> = p
                .engine
                .open_orders(account, symbol.as_deref())
                .into_iter()
                .map(order_json)
                .collect();
            Outcome::ok(format!("[{}]", list.join(",")))
        }
        Op::CancelOpenOrders => {
            let symbol = match required_symbol() {
                Ok(s) => s,
                Err(o) => return *o,
            };
            let empty = Book::new();
            let book = book_of(&symbol).unwrap_or(&empty);
            let ev = p.engine.cancel_all(account, &symbol, book, now_ms);
            if ev.is_empty() {
                return Outcome::err(400, -2011, "Unknown order sent.");
            }
            let mut parts = Vec::with_capacity(ev.len());
            for ex in &ev {
                let cid = generated_client_id(p);
                parts.push(cancel_json(&ex.order, &cid, now_ms));
                publish_with(p, std::slice::from_ref(ex), now_ms, Some(&cid));
            }
            Outcome::ok(format!("[{}]", parts.join(",")))
        }
        Op::MyTrades => {
            let symbol = match required_symbol() {
                Ok(s) => s,
                Err(o) => return *o,
            };
            let order_id = match call.get("orderId").map(str::parse::<u64>) {
                None => None,
                Some(Ok(v)) => Some(v),
                Some(Err(_)) => return illegal("orderId"),
            };
            let from_id = match call.get("fromId").map(str::parse::<u64>) {
                None => 0,
                Some(Ok(v)) => v,
                Some(Err(_)) => return illegal("fromId"),
            };
            let limit = match call.get("limit").map(str::parse::<usize>) {
                None => 500,
                Some(Ok(v)) if (1..=1000).contains(&v) => v,
                Some(_) => return illegal("limit"),
            };
            let list: Vec<String> = p
                .engine
                .trades(account, &symbol)
                .into_iter()
                .filter(|f| order_id.is_none_or(|o| f.order_id == o) && f.trade_id >= from_id)
                .take(limit)
                .map(|f| {
                    format!(
                        "{{\"symbol\":{},\"id\":{},\"orderId\":{},\"orderListId\":-1,\"price\":\"{}\",\"qty\":\"{}\",\"quoteQty\":\"{}\",\"commission\":\"{}\",\"commissionAsset\":{},\"time\":{},\"isBuyer\":{},\"isMaker\":{},\"isBestMatch\":true}}",
                        Value::String(f.symbol.clone()),
                        f.trade_id,
                        f.order_id,
                        fmt8(f.price),
                        fmt8(f.qty),
                        fmt8(f.quote_qty),
                        fmt8(f.commission),
                        Value::String(f.commission_asset.clone()),
                        f.time_ms,
                        f.side == Side::Buy,
                        f.maker
                    )
                })
                .collect();
            Outcome::ok(format!("[{}]", list.join(",")))
        }
        Op::Account => {
            let omit_zero = call.get("omitZeroBalances") == Some("true");
            let fees = p.engine.fees();
            let bp = |r: Decimal| (r * Decimal::from(10_000)).trunc().to_string();
            let balances: Vec<String> = p
                .engine
                .balances(account)
                .map(|b| {
                    b.iter()
                        .filter(|(_, v)| !omit_zero || !(v.free + v.locked).is_zero())
                        .map(|(a, v)| {
                            format!(
                                "{{\"asset\":{},\"free\":\"{}\",\"locked\":\"{}\"}}",
                                Value::String(a.clone()),
                                fmt8(v.free),
                                fmt8(v.locked)
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            Outcome::ok(format!(
                "{{\"makerCommission\":{},\"takerCommission\":{},\"buyerCommission\":0,\"sellerCommission\":0,\"commissionRates\":{{\"maker\":\"{}\",\"taker\":\"{}\",\"buyer\":\"0.00000000\",\"seller\":\"0.00000000\"}},\"canTrade\":true,\"canWithdraw\":true,\"canDeposit\":true,\"brokered\":false,\"requireSelfTradePrevention\":false,\"preventSor\":false,\"updateTime\":{now_ms},\"accountType\":\"SPOT\",\"balances\":[{}],\"permissions\":[\"SPOT\"],\"uid\":{}}}",
                bp(fees.maker),
                bp(fees.taker),
                fmt8(fees.maker),
                fmt8(fees.taker),
                balances.join(","),
                1000 + account
            ))
        }
        Op::ListenKeyNew => {
            let serial = p.next_serial();
            let mut h = Sha256::new();
            h.update(call.api_key.as_deref().unwrap_or("").as_bytes());
            h.update(serial.to_le_bytes());
            h.update(now_ms.to_le_bytes());
            let key: String = h.finalize().iter().fold(String::new(), |mut s, b| {
                let _ = write!(s, "{b:02x}");
                s
            });
            let key = key[..60].to_owned();
            p.stream_keys.insert(key.clone(), account);
            Outcome::ok(format!("{{\"listenKey\":\"{key}\"}}"))
        }
        Op::ListenKeyKeep | Op::ListenKeyClose => {
            let Some(k) = call.get("listenKey") else {
                return missing("listenKey");
            };
            if p.stream_keys.get(k) != Some(&account) {
                return Outcome::err(400, -1125, "This listenKey does not exist.");
            }
            if op == Op::ListenKeyClose {
                p.stream_keys.remove(k);
            }
            Outcome::ok("{}".to_owned())
        }
        Op::SubscribeSignature => {
            let id = p.next_serial();
            let mut o = Outcome::ok(format!("{{\"subscriptionId\":{id}}}"));
            o.subscribe = Some((account, id));
            o
        }
    }
}

fn order_ref(call: &Call) -> Result<OrderRef, Box<Outcome>> {
    match (call.get("orderId"), call.get("origClientOrderId")) {
        (Some(id), _) => id
            .parse::<u64>()
            .map(OrderRef::Id)
            .map_err(|_| Box::new(illegal("orderId"))),
        (None, Some(c)) => Ok(OrderRef::Client(c.to_owned())),
        (None, None) => Err(Box::new(Outcome::err(
            400,
            -1102,
            "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
        ))),
    }
}

fn generated_client_id(p: &mut Private) -> String {
    let n = p.next_serial();
    format!("sim{n:019}")
}

fn decimal_param(call: &Call, name: &str) -> Result<Option<Decimal>, Box<Outcome>> {
    match call.get(name) {
        None => Ok(None),
        Some(v) => v
            .parse::<Decimal>()
            .map(Some)
            .map_err(|_| Box::new(illegal(name))),
    }
}

fn new_order(
    p: &mut Private,
    account: AccountId,
    symbol: &str,
    book: &Book<Level>,
    call: &Call,
    now_ms: u64,
) -> Outcome {
    let Some(side) = call.get("side") else {
        return missing("side");
    };
    let side = match side {
        "BUY" => Side::Buy,
        "SELL" => Side::Sell,
        _ => return Outcome::err(400, -1117, "Invalid side."),
    };
    let Some(kind) = call.get("type") else {
        return missing("type");
    };
    let kind = match kind {
        "LIMIT" => OrderType::Limit,
        "MARKET" => OrderType::Market,
        "LIMIT_MAKER" => OrderType::LimitMaker,
        "STOP_LOSS" | "STOP_LOSS_LIMIT" | "TAKE_PROFIT" | "TAKE_PROFIT_LIMIT" => {
            return Outcome::err(400, -1014, "Unsupported order combination.");
        }
        _ => return Outcome::err(400, -1116, "Invalid orderType."),
    };
    let tif = match (kind, call.get("timeInForce")) {
        (OrderType::Limit, None) => return missing("timeInForce"),
        (_, None) => TimeInForce::Gtc,
        (_, Some("GTC")) => TimeInForce::Gtc,
        (_, Some("IOC")) => TimeInForce::Ioc,
        (_, Some("FOK")) => TimeInForce::Fok,
        (_, Some(_)) => return Outcome::err(400, -1115, "Invalid timeInForce."),
    };
    if kind != OrderType::Limit && call.get("timeInForce").is_some() {
        return Outcome::err(
            400,
            -1106,
            "Parameter 'timeInForce' sent when not required.",
        );
    }
    let qty = match decimal_param(call, "quantity") {
        Ok(Some(q)) => q,
        Ok(None) => return missing("quantity"),
        Err(o) => return *o,
    };
    let price = match decimal_param(call, "price") {
        Ok(v) => v,
        Err(o) => return *o,
    };
    if kind != OrderType::Market && price.is_none() {
        return missing("price");
    }
    if kind == OrderType::Market && price.is_some() {
        return Outcome::err(400, -1106, "Parameter 'price' sent when not required.");
    }
    let resp_type = match call.get("newOrderRespType") {
        None => match kind {
            OrderType::Limit | OrderType::Market => "FULL",
            OrderType::LimitMaker => "ACK",
        },
        Some(t @ ("ACK" | "RESULT" | "FULL")) => t,
        Some(_) => {
            return Outcome::err(
                400,
                -1100,
                "Illegal characters found in parameter 'newOrderRespType'.",
            );
        }
    };
    let client_id = match call.get("newClientOrderId") {
        Some(c)
            if c.len() > 36
                || !c
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) =>
        {
            return illegal("newClientOrderId");
        }
        Some(c) => c.to_owned(),
        None => generated_client_id(p),
    };
    let placed_before_drop = match p.fault(|k| {
        matches!(
            k,
            PrivateFaultKind::Reject
                | PrivateFaultKind::Http503
                | PrivateFaultKind::Http500
                | PrivateFaultKind::Disconnect { .. }
                | PrivateFaultKind::SlowAck(_)
        )
    }) {
        Some(PrivateFaultKind::Reject) => {
            return Outcome::err(400, -2010, "Order rejected (simulated reject storm).");
        }
        Some(PrivateFaultKind::Disconnect { placed: false }) => {
            let mut o = Outcome::err(400, -1000, "dropped");
            o.disconnect = true;
            return o;
        }
        other => other,
    };
    let counts = match p.count_order(account, now_ms) {
        Ok(c) => c,
        Err((ten, day)) => {
            let (limit, per) = if ten >= p.cfg.orders_per_10s {
                (p.cfg.orders_per_10s, "10 SECOND")
            } else {
                (p.cfg.orders_per_day, "1 DAY")
            };
            let mut o = Outcome::err(
                429,
                -1015,
                format!("Too many new orders; current limit is {limit} orders per {per}."),
            );
            o.order_counts = Some((ten, day));
            o.retry_after = Some(if per == "1 DAY" { 3600 } else { 10 });
            return o;
        }
    };
    let req = NewOrder {
        symbol: symbol.to_owned(),
        side,
        kind,
        tif,
        qty,
        price,
        client_id,
    };
    let mut out = match p.engine.place(account, req, book, now_ms) {
        Ok(ev) => {
            let body = place_json(&ev, resp_type, p);
            publish(p, &ev, now_ms);
            Outcome::ok(body)
        }
        Err(r) => reject_outcome(&r),
    };
    out.order_counts = Some(counts);
    match placed_before_drop {
        Some(PrivateFaultKind::Http503) => {
            out.status = 503;
            out.result = Err((
                -1001,
                "Internal error; unable to process your request. Please try again.".into(),
            ));
        }
        Some(PrivateFaultKind::Http500) => {
            out.status = 500;
            out.result = Err((
                -1000,
                "An unknown error occurred while processing the request.".into(),
            ));
        }
        Some(PrivateFaultKind::Disconnect { placed: true }) => out.disconnect = true,
        Some(PrivateFaultKind::SlowAck(d)) => out.delay += d,
        _ => {}
    }
    out
}

fn reject_outcome(r: &Reject) -> Outcome {
    match r {
        Reject::PriceFilter => Outcome::err(400, -1013, "Filter failure: PRICE_FILTER"),
        Reject::LotSize => Outcome::err(400, -1013, "Filter failure: LOT_SIZE"),
        Reject::MinNotional => Outcome::err(400, -1013, "Filter failure: NOTIONAL"),
        Reject::UnknownSymbol => Outcome::err(400, -1121, "Invalid symbol."),
        Reject::PriceRequired => missing("price"),
        Reject::InsufficientBalance => Outcome::err(
            400,
            -2010,
            "Account has insufficient balance for requested action.",
        ),
        Reject::WouldTake => Outcome::err(400, -2010, "Order would immediately match and take."),
        Reject::DuplicateClientId => Outcome::err(400, -2010, "Duplicate order sent."),
        Reject::NoLiquidity => Outcome::err(
            400,
            -2010,
            "Market order cannot be filled: the book is empty.",
        ),
        Reject::UnknownAccount => Outcome::err(
            401,
            -2015,
            "Invalid API-key, IP, or permissions for action.",
        ),
        Reject::UnknownOrder | Reject::BadAmend => Outcome::err(400, -2011, "Unknown order sent."),
        Reject::TooManyOrders => Outcome::err(400, -2010, "Filter failure: MAX_NUM_ORDERS"),
    }
}

fn price_str(o: &Order) -> String {
    fmt8(o.price.unwrap_or(Decimal::ZERO))
}

/// The order as `GET /api/v3/order` shows it.
fn order_json(o: &Order) -> String {
    format!(
        "{{\"symbol\":{},\"orderId\":{},\"orderListId\":-1,\"clientOrderId\":{},\"price\":\"{}\",\"origQty\":\"{}\",\"executedQty\":\"{}\",\"cummulativeQuoteQty\":\"{}\",\"status\":\"{}\",\"timeInForce\":\"{}\",\"type\":\"{}\",\"side\":\"{}\",\"stopPrice\":\"0.00000000\",\"icebergQty\":\"0.00000000\",\"time\":{},\"updateTime\":{},\"isWorking\":{},\"workingTime\":{},\"origQuoteOrderQty\":\"0.00000000\",\"selfTradePreventionMode\":\"NONE\"}}",
        Value::String(o.symbol.clone()),
        o.id,
        Value::String(o.client_id.clone()),
        price_str(o),
        fmt8(o.qty),
        fmt8(o.executed),
        fmt8(o.cum_quote),
        o.status.binance(),
        tif_str(o.tif),
        type_str(o.kind),
        side_str(o.side),
        o.created_ms,
        o.updated_ms,
        o.working,
        if o.working { o.created_ms as i64 } else { -1 }
    )
}

fn cancel_json(o: &Order, cancel_client_id: &str, now_ms: u64) -> String {
    format!(
        "{{\"symbol\":{},\"origClientOrderId\":{},\"orderId\":{},\"orderListId\":-1,\"clientOrderId\":{},\"transactTime\":{now_ms},\"price\":\"{}\",\"origQty\":\"{}\",\"executedQty\":\"{}\",\"cummulativeQuoteQty\":\"{}\",\"status\":\"{}\",\"timeInForce\":\"{}\",\"type\":\"{}\",\"side\":\"{}\",\"selfTradePreventionMode\":\"NONE\"}}",
        Value::String(o.symbol.clone()),
        Value::String(o.client_id.clone()),
        o.id,
        Value::String(cancel_client_id.to_owned()),
        price_str(o),
        fmt8(o.qty),
        fmt8(o.executed),
        fmt8(o.cum_quote),
        o.status.binance(),
        tif_str(o.tif),
        type_str(o.kind),
        side_str(o.side),
    )
}

/// The `POST /api/v3/order` answer in the requested form (§1.8), from the order's events.
fn place_json(ev: &[Execution], resp_type: &str, p: &Private) -> String {
    let Some(first) = ev.first() else {
        return "{}".into();
    };
    // The order as it stands after the request (the engine may have rested it meanwhile).
    let o = p
        .engine
        .order(
            first.order.account,
            &first.order.symbol,
            &OrderRef::Id(first.order.id),
        )
        .unwrap_or(&first.order);
    let mut s = format!(
        "{{\"symbol\":{},\"orderId\":{},\"orderListId\":-1,\"clientOrderId\":{},\"transactTime\":{}",
        Value::String(o.symbol.clone()),
        o.id,
        Value::String(o.client_id.clone()),
        o.created_ms
    );
    if resp_type != "ACK" {
        let _ = write!(
            s,
            ",\"price\":\"{}\",\"origQty\":\"{}\",\"executedQty\":\"{}\",\"origQuoteOrderQty\":\"0.00000000\",\"cummulativeQuoteQty\":\"{}\",\"status\":\"{}\",\"timeInForce\":\"{}\",\"type\":\"{}\",\"side\":\"{}\",\"workingTime\":{},\"selfTradePreventionMode\":\"NONE\"",
            price_str(o),
            fmt8(o.qty),
            fmt8(o.executed),
            fmt8(o.cum_quote),
            o.status.binance(),
            tif_str(o.tif),
            type_str(o.kind),
            side_str(o.side),
            if o.working { o.created_ms as i64 } else { -1 }
        );
    }
    if resp_type == "FULL" {
        s.push_str(",\"fills\":[");
        let fills: Vec<String> = ev
            .iter()
            .filter_map(|e| e.fill.as_ref())
            .map(|f| {
                format!(
                    "{{\"price\":\"{}\",\"qty\":\"{}\",\"commission\":\"{}\",\"commissionAsset\":{},\"tradeId\":{}}}",
                    fmt8(f.price),
                    fmt8(f.qty),
                    fmt8(f.commission),
                    Value::String(f.commission_asset.clone()),
                    f.trade_id
                )
            })
            .collect();
        s.push_str(&fills.join(","));
        s.push(']');
    }
    s.push('}');
    s
}

/// Pushes `executionReport`s for the events to the owner's listeners.
fn publish(p: &mut Private, ev: &[Execution], now_ms: u64) {
    publish_with(p, ev, now_ms, None);
}

/// As [`publish`]; `cancel_client_id` is the `c` of a cancel's report (the original id goes in
/// `C`). Applies the fill-delivery faults.
fn publish_with(p: &mut Private, ev: &[Execution], now_ms: u64, cancel_client_id: Option<&str>) {
    for e in ev {
        let fault = if e.kind == ExecKind::Trade {
            p.fault(|k| {
                matches!(
                    k,
                    PrivateFaultKind::NoFillReports | PrivateFaultKind::DuplicateFill
                )
            })
        } else {
            None
        };
        let copies = if fault == Some(PrivateFaultKind::DuplicateFill) {
            2
        } else {
            1
        };
        let exec_id = p.next_serial();
        let report = if fault == Some(PrivateFaultKind::NoFillReports) {
            // The status change without the fill record: no trade id, no last fill.
            let bare = Execution {
                fill: None,
                ..e.clone()
            };
            execution_report(&bare, now_ms, exec_id, cancel_client_id)
        } else {
            execution_report(e, now_ms, exec_id, cancel_client_id)
        };
        for _ in 0..copies {
            p.push(e.order.account, |form| match form {
                PushForm::Subscription(id) => {
                    Some(format!("{{\"subscriptionId\":{id},\"event\":{report}}}"))
                }
                PushForm::ListenKey => Some(report.clone()),
            });
        }
    }
}

/// One `executionReport` (FORMATS.md §1.11 field names and types).
pub(crate) fn execution_report(
    e: &Execution,
    now_ms: u64,
    exec_id: u64,
    cancel_client_id: Option<&str>,
) -> String {
    let o = &e.order;
    let x = match e.kind {
        ExecKind::New => "NEW",
        ExecKind::Trade => "TRADE",
        ExecKind::Canceled => "CANCELED",
        ExecKind::Expired => "EXPIRED",
        ExecKind::Amended => "REPLACED",
    };
    // A report's own status: the order's, except that the NEW report says NEW.
    let status = if e.kind == ExecKind::New {
        OrderStatus::New
    } else {
        o.status
    };
    let (c, orig) = match (e.kind, cancel_client_id) {
        (ExecKind::Canceled, Some(c)) => (c.to_owned(), o.client_id.clone()),
        _ => (o.client_id.clone(), String::new()),
    };
    let (l, lp, n, na, t, m, y) = match &e.fill {
        Some(f) => (
            fmt8(f.qty),
            fmt8(f.price),
            fmt8(f.commission),
            Value::String(f.commission_asset.clone()).to_string(),
            f.trade_id as i64,
            f.maker,
            fmt8(f.quote_qty),
        ),
        None => (
            fmt8(Decimal::ZERO),
            fmt8(Decimal::ZERO),
            "0".to_owned(),
            "null".to_owned(),
            -1,
            false,
            fmt8(Decimal::ZERO),
        ),
    };
    // On the book: an open order that rests (a GTC limit; its NEW report already says so).
    let working = o.status.is_open() && o.kind != OrderType::Market && o.tif == TimeInForce::Gtc;
    format!(
        "{{\"e\":\"executionReport\",\"E\":{now_ms},\"s\":{},\"c\":{},\"S\":\"{}\",\"o\":\"{}\",\"f\":\"{}\",\"q\":\"{}\",\"p\":\"{}\",\"P\":\"0.00000000\",\"F\":\"0.00000000\",\"g\":-1,\"C\":{},\"x\":\"{x}\",\"X\":\"{}\",\"r\":\"NONE\",\"i\":{},\"l\":\"{l}\",\"z\":\"{}\",\"L\":\"{lp}\",\"n\":\"{n}\",\"N\":{na},\"T\":{},\"t\":{t},\"I\":{exec_id},\"w\":{working},\"m\":{m},\"M\":false,\"O\":{},\"Z\":\"{}\",\"Y\":\"{y}\",\"Q\":\"0.00000000\",\"W\":{},\"V\":\"NONE\"}}",
        Value::String(o.symbol.clone()),
        Value::String(c),
        side_str(o.side),
        type_str(o.kind),
        tif_str(o.tif),
        fmt8(o.qty),
        price_str(o),
        Value::String(orig),
        status.binance(),
        o.id,
        fmt8(o.executed),
        o.updated_ms,
        o.created_ms,
        fmt8(o.cum_quote),
        o.created_ms,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_payload_keeps_the_exact_bytes_and_drops_the_signature() {
        // FORMATS.md §1.12 legacy vector: query + body concatenated without a separator.
        let c = Call::from_rest(
            Some("k".into()),
            "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC",
            "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559&signature=abc",
        );
        assert_eq!(
            c.payload,
            "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTCquantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
        );
        assert_eq!(c.signature.as_deref(), Some("abc"));
        assert_eq!(c.get("price"), Some("0.1"));
        let c = Call::from_rest(None, "symbol=%EF%BC%91&x=a+b", "");
        assert_eq!(c.get("symbol"), Some("１"));
        assert_eq!(c.get("x"), Some("a b"));
    }

    #[test]
    fn ws_payload_is_sorted_and_raw() {
        let v: Value = serde_json::from_str(
            r#"{"symbol":"BTCUSDT","side":"SELL","type":"LIMIT","timeInForce":"GTC","price":"52000.00","quantity":"0.01000000","recvWindow":100,"timestamp":1645423376532,"apiKey":"vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A","signature":"x"}"#,
        )
        .unwrap_or_default();
        let c = Call::from_ws(v.as_object().unwrap_or(&serde_json::Map::new()));
        assert_eq!(
            c.payload,
            "apiKey=vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A&price=52000.00&quantity=0.01000000&recvWindow=100&side=SELL&symbol=BTCUSDT&timeInForce=GTC&timestamp=1645423376532&type=LIMIT"
        );
        // §1.12 vector.
        let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(
            b"NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j",
        )
        .unwrap_or_else(|_| panic!("key"));
        m.update(c.payload.as_bytes());
        let sig = hex_decode("aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24")
            .unwrap_or_default();
        assert!(m.verify_slice(&sig).is_ok());
    }

    #[test]
    fn decimals_pad_to_eight() {
        assert_eq!(fmt8("0.1".parse().unwrap_or_default()), "0.10000000");
        assert_eq!(
            fmt8("61837.63000000".parse().unwrap_or_default()),
            "61837.63000000"
        );
        assert_eq!(
            fmt8("0.000000001".parse().unwrap_or_default()),
            "0.000000001"
        );
    }
}
