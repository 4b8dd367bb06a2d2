//! The simulator's Binance private side over real TLS on loopback: REST orders, signatures,
//! validation codes, rate limits, listen keys, and the WS-API with executionReport pushes, with
//! a signing client written in `sim_private_support` from the venue docs.

use crate::sim_private_support;
use crate::sim_support;

use std::time::Duration;

use serde_json::{Value, json};
use sim_private_support::{KEY, KEY_B, SECRET, SECRET_B, Sim, now_ms, sign};
use sim_support::WsClient;

const T: Duration = Duration::from_secs(20);

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

#[test]
fn rest_orders_fill_rest_query_cancel_and_account() {
    let sim = Sim::start("", "");
    let mut c = sim.rest(KEY, SECRET);
    // Crosses two ask levels: one fill per level, taker fee in the received asset.
    let r = c.signed(
        "POST",
        "/api/v3/order",
        &[
            ("symbol", "TESTUSDT"),
            ("side", "BUY"),
            ("type", "LIMIT"),
            ("timeInForce", "GTC"),
            ("quantity", "2"),
            ("price", "100.50"),
            ("newClientOrderId", "take-1"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("X-MBX-ORDER-COUNT-10S"), Some("1"));
    assert_eq!(r.header("X-MBX-ORDER-COUNT-1D"), Some("1"));
    assert!(r.header("X-MBX-USED-WEIGHT-1M").is_some());
    let v = r.json();
    assert_eq!(s(&v["status"]), "FILLED");
    assert_eq!(s(&v["clientOrderId"]), "take-1");
    assert_eq!(s(&v["executedQty"]), "2.00000000");
    assert_eq!(s(&v["cummulativeQuoteQty"]), "200.50000000");
    assert_eq!(v["orderListId"], -1);
    let fills = v["fills"].as_array().expect("fills");
    assert_eq!(fills.len(), 2);
    assert_eq!(s(&fills[0]["price"]), "100.00000000");
    assert_eq!(s(&fills[0]["qty"]), "1.00000000");
    assert_eq!(s(&fills[0]["commission"]), "0.00100000");
    assert_eq!(s(&fills[0]["commissionAsset"]), "TEST");
    assert_eq!(fills[0]["tradeId"], 1);
    assert_eq!(s(&fills[1]["price"]), "100.50000000");
    assert_eq!(fills[1]["tradeId"], 2);
    let taker_id = v["orderId"].as_u64().expect("orderId");

    // A bid that rests (RESULT form: no fills key).
    let r = c.signed(
        "POST",
        "/api/v3/order",
        &[
            ("symbol", "TESTUSDT"),
            ("side", "BUY"),
            ("type", "LIMIT"),
            ("timeInForce", "GTC"),
            ("quantity", "1"),
            ("price", "99.00"),
            ("newClientOrderId", "rest-1"),
            ("newOrderRespType", "RESULT"),
        ],
    );
    let v = r.json();
    assert_eq!(s(&v["status"]), "NEW", "{}", r.body);
    assert!(v.get("fills").is_none());
    assert_eq!(r.header("X-MBX-ORDER-COUNT-10S"), Some("2"));
    let id = v["orderId"].as_u64().expect("orderId");
    assert!(id > taker_id);

    let q = c.signed(
        "GET",
        "/api/v3/order",
        &[("symbol", "TESTUSDT"), ("orderId", &id.to_string())],
    );
    let v = q.json();
    assert_eq!(
        (s(&v["status"]), v["isWorking"].as_bool()),
        ("NEW", Some(true))
    );
    assert_eq!(s(&v["price"]), "99.00000000");
    let open = c
        .signed("GET", "/api/v3/openOrders", &[("symbol", "TESTUSDT")])
        .json();
    assert_eq!(open.as_array().map(Vec::len), Some(1));
    assert_eq!(open[0]["orderId"], id);

    // The resting bid reserves 99 USDT.
    let acct = c.signed("GET", "/api/v3/account", &[]).json();
    let bal = |a: &Value, asset: &str| -> (String, String) {
        let b = a["balances"]
            .as_array()
            .expect("balances")
            .iter()
            .find(|b| b["asset"] == asset)
            .unwrap_or_else(|| panic!("no {asset}"));
        (s(&b["free"]).to_owned(), s(&b["locked"]).to_owned())
    };
    assert_eq!(
        bal(&acct, "USDT"),
        ("9700.50000000".into(), "99.00000000".into())
    );
    assert_eq!(
        bal(&acct, "TEST"),
        ("11.99800000".into(), "0.00000000".into())
    );
    assert_eq!(s(&acct["commissionRates"]["taker"]), "0.00100000");

    let x = c.signed(
        "DELETE",
        "/api/v3/order",
        &[("symbol", "TESTUSDT"), ("origClientOrderId", "rest-1")],
    );
    let v = x.json();
    assert_eq!(s(&v["status"]), "CANCELED", "{}", x.body);
    assert_eq!(s(&v["origClientOrderId"]), "rest-1");
    let x = c.signed(
        "DELETE",
        "/api/v3/order",
        &[("symbol", "TESTUSDT"), ("origClientOrderId", "rest-1")],
    );
    assert_eq!(x.expect_error(400, -2011), "Unknown order sent.");
    let q = c.signed(
        "GET",
        "/api/v3/order",
        &[("symbol", "TESTUSDT"), ("orderId", "999")],
    );
    assert_eq!(q.expect_error(400, -2013), "Order does not exist.");
    let x = c.signed("DELETE", "/api/v3/order", &[("symbol", "TESTUSDT")]);
    x.expect_error(400, -1102);

    let trades = c
        .signed("GET", "/api/v3/myTrades", &[("symbol", "TESTUSDT")])
        .json();
    let t = trades.as_array().expect("trades");
    assert_eq!(t.len(), 2);
    assert_eq!(
        (t[0]["id"].as_u64(), t[1]["id"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(t[0]["orderId"], taker_id);
    assert_eq!(
        (t[0]["isBuyer"].as_bool(), t[0]["isMaker"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(s(&t[1]["quoteQty"]), "100.50000000");
    let acct = c.signed("GET", "/api/v3/account", &[]).json();
    assert_eq!(
        bal(&acct, "USDT"),
        ("9799.50000000".into(), "0.00000000".into())
    );

    // Cancel-all on nothing open.
    let x = c.signed("DELETE", "/api/v3/openOrders", &[("symbol", "TESTUSDT")]);
    x.expect_error(400, -2011);
}

#[test]
fn rest_authentication_is_checked() {
    let sim = Sim::start("", "");
    let mut c = sim.rest(KEY, SECRET);
    let ts = now_ms().to_string();
    let payload = format!("symbol=TESTUSDT&timestamp={ts}");
    let good = sign(SECRET, &payload);
    // No key, unknown key.
    let r = c.raw(
        "GET",
        "/api/v3/openOrders",
        &format!("{payload}&signature={good}"),
        None,
    );
    assert_eq!(r.expect_error(401, -2014), "API-key format invalid.");
    let r = c.raw(
        "GET",
        "/api/v3/openOrders",
        &format!("{payload}&signature={good}"),
        Some("nope"),
    );
    assert_eq!(
        r.expect_error(401, -2015),
        "Invalid API-key, IP, or permissions for action."
    );
    // Right key, signature by another secret, or over other bytes.
    let bad = sign(SECRET_B, &payload);
    let r = c.raw(
        "GET",
        "/api/v3/openOrders",
        &format!("{payload}&signature={bad}"),
        Some(KEY),
    );
    assert_eq!(
        r.expect_error(400, -1022),
        "Signature for this request is not valid."
    );
    let r = c.raw(
        "GET",
        "/api/v3/openOrders",
        &format!("symbol=TESTUSDT&timestamp={ts}&recvWindow=5000&signature={good}"),
        Some(KEY),
    );
    r.expect_error(400, -1022);
    // Upper-case hex is accepted.
    let r = c.raw(
        "GET",
        "/api/v3/openOrders",
        &format!("{payload}&signature={}", good.to_ascii_uppercase()),
        Some(KEY),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // Timestamps: too old for the default window, but inside a wider one; too far ahead.
    let old = (now_ms() - 10_000).to_string();
    let r = c.signed("GET", "/api/v3/openOrders", &[("timestamp", &old)]);
    assert_eq!(
        r.expect_error(400, -1021),
        "Timestamp for this request is outside of the recvWindow."
    );
    let r = c.signed(
        "GET",
        "/api/v3/openOrders",
        &[("recvWindow", "20000"), ("timestamp", &old)],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let ahead = (now_ms() + 5_000).to_string();
    let r = c.signed("GET", "/api/v3/openOrders", &[("timestamp", &ahead)]);
    r.expect_error(400, -1021);
    let r = c.signed("GET", "/api/v3/openOrders", &[("recvWindow", "60001")]);
    r.expect_error(400, -1131);
    // Missing timestamp, missing signature.
    let r = c.raw(
        "GET",
        "/api/v3/openOrders",
        &format!("symbol=TESTUSDT&signature={good}"),
        Some(KEY),
    );
    assert_eq!(
        r.expect_error(400, -1102),
        "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed."
    );
    let r = c.raw("GET", "/api/v3/openOrders", &payload, Some(KEY));
    r.expect_error(400, -1102);
    // Signature spread over query + body (§1.12 legacy form): query then body, no separator.
    let q = "symbol=TESTUSDT&side=BUY&type=LIMIT&timeInForce=GTC";
    let b = format!("quantity=1&price=90.00&timestamp={}", now_ms());
    let sig = sign(SECRET, &format!("{q}{b}"));
    let r = c.raw_split(
        "POST",
        "/api/v3/order",
        q,
        &format!("{b}&signature={sig}"),
        KEY,
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn rest_order_validation_uses_the_venue_codes() {
    let sim = Sim::start("", "");
    let mut c = sim.rest(KEY, SECRET);
    let order = |c: &mut sim_private_support::Rest, extra: &[(&str, &str)]| {
        let mut p = vec![("symbol", "TESTUSDT"), ("side", "BUY"), ("type", "LIMIT")];
        p.extend_from_slice(extra);
        c.signed("POST", "/api/v3/order", &p)
    };
    let gtc = ("timeInForce", "GTC");
    let r = order(&mut c, &[gtc, ("quantity", "1"), ("price", "99.001")]);
    assert_eq!(r.expect_error(400, -1013), "Filter failure: PRICE_FILTER");
    let r = order(&mut c, &[gtc, ("quantity", "1.0001"), ("price", "99")]);
    assert_eq!(r.expect_error(400, -1013), "Filter failure: LOT_SIZE");
    let r = order(&mut c, &[gtc, ("quantity", "0.01"), ("price", "99")]);
    assert_eq!(r.expect_error(400, -1013), "Filter failure: NOTIONAL");
    let r = order(&mut c, &[gtc, ("price", "99")]);
    assert_eq!(
        r.expect_error(400, -1102),
        "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed."
    );
    let r = order(&mut c, &[("quantity", "1"), ("price", "99")]);
    r.expect_error(400, -1102);
    let r = order(&mut c, &[gtc, ("quantity", "abc"), ("price", "99")]);
    r.expect_error(400, -1100);
    let r = order(
        &mut c,
        &[("timeInForce", "DAY"), ("quantity", "1"), ("price", "99")],
    );
    r.expect_error(400, -1115);
    let r = c.signed(
        "POST",
        "/api/v3/order",
        &[("symbol", "TESTUSDT"), ("side", "HOLD"), ("type", "LIMIT")],
    );
    r.expect_error(400, -1117);
    let r = c.signed(
        "POST",
        "/api/v3/order",
        &[("symbol", "NOPEUSDT"), ("side", "BUY"), ("type", "LIMIT")],
    );
    assert_eq!(r.expect_error(400, -1121), "Invalid symbol.");
    // LIMIT_MAKER that would cross the 100.00 ask.
    let r = c.signed(
        "POST",
        "/api/v3/order",
        &[
            ("symbol", "TESTUSDT"),
            ("side", "BUY"),
            ("type", "LIMIT_MAKER"),
            ("quantity", "1"),
            ("price", "100.00"),
        ],
    );
    assert_eq!(
        r.expect_error(400, -2010),
        "Order would immediately match and take."
    );
    // A LIMIT_MAKER that rests answers ACK by default.
    let r = c.signed(
        "POST",
        "/api/v3/order",
        &[
            ("symbol", "TESTUSDT"),
            ("side", "SELL"),
            ("type", "LIMIT_MAKER"),
            ("quantity", "1"),
            ("price", "100.00"),
        ],
    );
    let v = r.json();
    assert_eq!(r.status, 200, "{}", r.body);
    let keys: Vec<&str> = v
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "clientOrderId",
            "orderId",
            "orderListId",
            "symbol",
            "transactTime"
        ]
    );
    // Insufficient balance (bob has 50 USDT).
    let mut bob = sim.rest(KEY_B, SECRET_B);
    let r = order(&mut bob, &[gtc, ("quantity", "1"), ("price", "99")]);
    assert_eq!(
        r.expect_error(400, -2010),
        "Account has insufficient balance for requested action."
    );
    // Market with FOK-free quantity: sells into bids, the rest (none) expires.
    let r = c.signed(
        "POST",
        "/api/v3/order",
        &[
            ("symbol", "TESTUSDT"),
            ("side", "SELL"),
            ("type", "MARKET"),
            ("quantity", "4"),
        ],
    );
    let v = r.json();
    assert_eq!(s(&v["status"]), "FILLED", "{}", r.body);
    let px: Vec<&str> = v["fills"]
        .as_array()
        .expect("fills")
        .iter()
        .map(|f| s(&f["price"]))
        .collect();
    assert_eq!(px, ["99.00000000", "98.00000000"]);
    assert_eq!(s(&v["fills"][0]["commissionAsset"]), "USDT");
    // IOC that cannot fill expires.
    let r = order(
        &mut c,
        &[("timeInForce", "IOC"), ("quantity", "1"), ("price", "90")],
    );
    assert_eq!(s(&r.json()["status"]), "EXPIRED", "{}", r.body);
}

#[test]
fn request_weight_and_order_rate_limits() {
    let sim = Sim::start("weight_per_minute = 30\norders_per_10s = 3", "");
    let mut c = sim.rest(KEY, SECRET);
    for i in 1..=3 {
        let r = c.signed(
            "POST",
            "/api/v3/order",
            &[
                ("symbol", "TESTUSDT"),
                ("side", "BUY"),
                ("type", "LIMIT"),
                ("timeInForce", "GTC"),
                ("quantity", "1"),
                ("price", "90"),
            ],
        );
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            r.header("X-MBX-ORDER-COUNT-10S"),
            Some(i.to_string().as_str())
        );
    }
    let r = c.signed(
        "POST",
        "/api/v3/order",
        &[
            ("symbol", "TESTUSDT"),
            ("side", "BUY"),
            ("type", "LIMIT"),
            ("timeInForce", "GTC"),
            ("quantity", "1"),
            ("price", "90"),
        ],
    );
    assert_eq!(
        r.expect_error(429, -1015),
        "Too many new orders; current limit is 3 orders per 10 SECOND."
    );
    assert!(r.header("Retry-After").is_some());
    assert_eq!(
        c.signed("GET", "/api/v3/openOrders", &[("symbol", "TESTUSDT")])
            .json()
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    // Account costs 20 of 30 per minute: the second call in one minute is refused (a minute
    // boundary between two calls resets the count, hence up to three tries).
    let mut refused = None;
    for _ in 0..3 {
        let r = c.signed("GET", "/api/v3/account", &[]);
        if r.status == 429 {
            refused = Some(r);
            break;
        }
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let r = refused.expect("no 429 within three account calls");
    r.expect_error(429, -1003);
    let retry: u64 = r
        .header("Retry-After")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry));
    let used: u64 = r
        .header("X-MBX-USED-WEIGHT-1M")
        .expect("weight header")
        .parse()
        .expect("number");
    assert!(used > 30);
}

#[test]
fn listen_key_stream_gets_execution_reports() {
    let sim = Sim::start("", "");
    let mut c = sim.rest(KEY, SECRET);
    let r = c.raw("POST", "/api/v3/userDataStream", "", Some(KEY));
    let key = s(&r.json()["listenKey"]).to_owned();
    assert_eq!(key.len(), 60);
    let r = c.raw("POST", "/api/v3/userDataStream", "", None);
    r.expect_error(401, -2014);
    let mut user = WsClient::connect(&sim.ws_url(), &format!("/ws/{key}"), sim.sim.ca_path());
    // Give the server a moment to register the listener before the order (the connection is
    // registered before the handshake answer is read, so this is ordering, not timing).
    let r = c.signed(
        "POST",
        "/api/v3/order",
        &[
            ("symbol", "TESTUSDT"),
            ("side", "SELL"),
            ("type", "LIMIT"),
            ("timeInForce", "GTC"),
            ("quantity", "0.5"),
            ("price", "99.00"),
            ("newClientOrderId", "lk-1"),
        ],
    );
    assert_eq!(s(&r.json()["status"]), "FILLED", "{}", r.body);
    let new: Value = serde_json::from_str(&user.text(T)).expect("json");
    assert_eq!(
        (s(&new["e"]), s(&new["x"]), s(&new["X"])),
        ("executionReport", "NEW", "NEW")
    );
    assert_eq!(s(&new["c"]), "lk-1");
    assert_eq!(new["t"], -1);
    assert_eq!(new["N"], Value::Null);
    let fill: Value = serde_json::from_str(&user.text(T)).expect("json");
    assert_eq!((s(&fill["x"]), s(&fill["X"])), ("TRADE", "FILLED"));
    assert_eq!(
        (s(&fill["l"]), s(&fill["L"]), s(&fill["z"])),
        ("0.50000000", "99.00000000", "0.50000000")
    );
    assert_eq!((s(&fill["n"]), s(&fill["N"])), ("0.04950000", "USDT"));
    assert_eq!(s(&fill["Z"]), "49.50000000");
    assert_eq!(fill["t"], 1);
    assert_eq!(fill["m"], false);
    let r = c.raw(
        "PUT",
        "/api/v3/userDataStream",
        &format!("listenKey={key}"),
        Some(KEY),
    );
    assert_eq!((r.status, r.body.as_str()), (200, "{}"));
    let r = c.raw(
        "DELETE",
        "/api/v3/userDataStream",
        &format!("listenKey={key}"),
        Some(KEY),
    );
    assert_eq!(r.status, 200);
    let r = c.raw(
        "PUT",
        "/api/v3/userDataStream",
        &format!("listenKey={key}"),
        Some(KEY),
    );
    r.expect_error(400, -1125);
}

#[test]
fn ws_api_orders_and_queue_position_fills_from_the_tape() {
    let sim = Sim::start("", "");
    let mut api = sim.ws_api(KEY, SECRET);
    let sub = api.call("userDataStream.subscribe.signature", json!({}));
    assert_eq!(sub["status"], 200, "{sub}");
    let sub_id = sub["result"]["subscriptionId"]
        .as_u64()
        .expect("subscriptionId");
    // A bid at 99.00 behind the visible 3.
    let r = api.call(
        "order.place",
        json!({"symbol":"TESTUSDT","side":"BUY","type":"LIMIT","timeInForce":"GTC",
               "price":"99.00","quantity":"2","newClientOrderId":"q-1"}),
    );
    assert_eq!(r["status"], 200, "{r}");
    assert_eq!(s(&r["result"]["status"]), "NEW");
    let limits = r["rateLimits"].as_array().expect("rateLimits");
    assert_eq!(s(&limits[0]["rateLimitType"]), "REQUEST_WEIGHT");
    assert_eq!(limits[1]["count"], 1);
    let order_id = r["result"]["orderId"].as_u64().expect("orderId");
    let new = api.push(T);
    assert_eq!(new["subscriptionId"].as_u64(), Some(sub_id));
    assert_eq!(
        (s(&new["event"]["x"]), new["event"]["w"].as_bool()),
        ("NEW", Some(true))
    );

    // Open orders over the WS-API.
    let r = api.call("openOrders.status", json!({"symbol":"TESTUSDT"}));
    assert_eq!(r["result"][0]["orderId"].as_u64(), Some(order_id), "{r}");

    // The tape: bid level 99 shrinks to 2 (queue 2), a 3-lot trade at 99 (2 ahead, 1 to us),
    // then a trade through at 98.50 fills the rest at our price, as maker with a rebate.
    let _md = sim.run_tape();
    let a = api.push(T);
    let e = &a["event"];
    assert_eq!(
        (s(&e["x"]), s(&e["X"])),
        ("TRADE", "PARTIALLY_FILLED"),
        "{a}"
    );
    assert_eq!(
        (s(&e["l"]), s(&e["L"]), s(&e["z"])),
        ("1.00000000", "99.00000000", "1.00000000")
    );
    assert_eq!(
        (e["m"].as_bool(), s(&e["n"]), s(&e["N"])),
        (Some(true), "-0.00010000", "TEST")
    );
    let t1 = e["t"].as_i64().expect("t");
    let b = api.push(T);
    let e = &b["event"];
    assert_eq!((s(&e["x"]), s(&e["X"])), ("TRADE", "FILLED"), "{b}");
    assert_eq!(
        (s(&e["l"]), s(&e["z"]), s(&e["Z"])),
        ("1.00000000", "2.00000000", "198.00000000")
    );
    assert_eq!(e["t"].as_i64(), Some(t1 + 1));
    assert_eq!(e["i"].as_u64(), Some(order_id));

    let r = api.call(
        "order.status",
        json!({"symbol":"TESTUSDT","orderId":order_id}),
    );
    assert_eq!(s(&r["result"]["status"]), "FILLED", "{r}");
    let r = api.call(
        "order.cancel",
        json!({"symbol":"TESTUSDT","orderId":order_id}),
    );
    assert_eq!(r["status"], 400, "{r}");
    assert_eq!(r["error"]["code"], -2011);
    assert!(r["rateLimits"].is_array());
}

#[test]
fn ws_api_rejects_bad_signatures_and_cancels() {
    let sim = Sim::start("", "");
    let mut api = sim.ws_api(KEY, SECRET);
    let r = api.send(
        "order.place",
        json!({"symbol":"TESTUSDT","side":"BUY","type":"LIMIT","timeInForce":"GTC",
               "price":"99.00","quantity":"1","apiKey":KEY,"timestamp":now_ms(),
               "signature":"00"}),
    );
    assert_eq!(r["status"], 400, "{r}");
    assert_eq!(r["error"]["code"], -1022);
    assert_eq!(
        s(&r["error"]["msg"]),
        "Signature for this request is not valid."
    );
    assert!(r["rateLimits"].is_array());
    let r = api.call(
        "order.place",
        json!({"symbol":"TESTUSDT","side":"BUY","type":"LIMIT","timeInForce":"GTC",
               "price":"99.00","quantity":"1","newClientOrderId":"w-1"}),
    );
    assert_eq!(r["status"], 200, "{r}");
    let r = api.call(
        "order.cancel",
        json!({"symbol":"TESTUSDT","origClientOrderId":"w-1"}),
    );
    assert_eq!(s(&r["result"]["status"]), "CANCELED", "{r}");
    let r = api.call("nope.method", json!({}));
    assert_eq!(r["status"], 400);
    let mut bob = sim.ws_api(KEY_B, SECRET_B);
    let r = bob.call(
        "order.place",
        json!({"symbol":"TESTUSDT","side":"BUY","type":"LIMIT","timeInForce":"GTC",
               "price":"99.00","quantity":"1"}),
    );
    assert_eq!(r["error"]["code"], -2010, "{r}");
    assert_eq!(
        s(&r["error"]["msg"]),
        "Account has insufficient balance for requested action."
    );
}

#[test]
fn ws_api_execution_report_fields_match_the_documented_payload() {
    // FORMATS.md §1.11 doc payload; `v` (prevented match id) only appears after self-trade
    // prevention, which the simulator never triggers.
    let doc: Value = serde_json::from_str(
        r#"{"e":"executionReport","E":1499405658658,"s":"ETHBTC","c":"mUvoqJxFIILMdfAW5iGSOW","S":"BUY","o":"LIMIT","f":"GTC",
 "q":"1.00000000","p":"0.10264410","P":"0.00000000","F":"0.00000000","g":-1,"C":"","x":"NEW","X":"NEW","r":"NONE",
 "i":4293153,"l":"0.00000000","z":"0.00000000","L":"0.00000000","n":"0","N":null,"T":1499405658657,"t":-1,"v":3,
 "I":8641984,"w":true,"m":false,"M":false,"O":1499405658657,"Z":"0.00000000","Y":"0.00000000","Q":"0.00000000",
 "W":1499405658657,"V":"NONE"}"#,
    )
    .expect("doc payload");
    let sim = Sim::start("", "");
    let mut api = sim.ws_api(KEY, SECRET);
    let sub = api.call("userDataStream.subscribe.signature", json!({}));
    let sub_id = sub["result"]["subscriptionId"].as_u64().expect("id");
    let r = api.call(
        "order.place",
        json!({"symbol":"TESTUSDT","side":"BUY","type":"LIMIT","timeInForce":"GTC",
               "price":"98.50","quantity":"1","newClientOrderId":"f-1"}),
    );
    assert_eq!(r["status"], 200, "{r}");
    let new = api.push(T)["event"].clone();
    let kind = |v: &Value| match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        _ => "other",
    };
    for (k, v) in doc.as_object().expect("object") {
        if k == "v" {
            assert!(new.get("v").is_none());
            continue;
        }
        let got = new
            .get(k)
            .unwrap_or_else(|| panic!("field {k} missing in {new}"));
        assert_eq!(kind(got), kind(v), "type of {k} in {new}");
    }
    assert_eq!(
        new.as_object().map(|o| o.len()),
        Some(doc.as_object().map_or(0, |o| o.len()) - 1)
    );
    // Cancel with a new client id: `c` is the cancel's id, `C` the order's.
    let r = api.call(
        "order.cancel",
        json!({"symbol":"TESTUSDT","origClientOrderId":"f-1","newClientOrderId":"cx-1"}),
    );
    assert_eq!(s(&r["result"]["clientOrderId"]), "cx-1", "{r}");
    let c = api.push(T)["event"].clone();
    assert_eq!(
        (s(&c["x"]), s(&c["X"]), s(&c["c"]), s(&c["C"])),
        ("CANCELED", "CANCELED", "cx-1", "f-1")
    );
    assert_eq!(c["w"], false);
    // Other calls: open orders cancel-all, trades, account, unsubscribe.
    for p in ["97.00", "96.00"] {
        let r = api.call(
            "order.place",
            json!({"symbol":"TESTUSDT","side":"BUY","type":"LIMIT","timeInForce":"GTC","price":p,"quantity":"1"}),
        );
        assert_eq!(r["status"], 200, "{r}");
    }
    let r = api.call("openOrders.cancelAll", json!({"symbol":"TESTUSDT"}));
    assert_eq!(r["result"].as_array().map(Vec::len), Some(2), "{r}");
    let r = api.call("account.status", json!({}));
    assert_eq!(s(&r["result"]["accountType"]), "SPOT", "{r}");
    let r = api.call("myTrades", json!({"symbol":"TESTUSDT"}));
    assert_eq!(r["result"].as_array().map(Vec::len), Some(0), "{r}");
    let r = api.send(
        "userDataStream.unsubscribe",
        json!({"subscriptionId": sub_id}),
    );
    assert_eq!(r["status"], 200, "{r}");
    // No pushes after unsubscribing: the next frame is the answer to the next call.
    api.pushes.clear();
    let r = api.call(
        "order.place",
        json!({"symbol":"TESTUSDT","side":"SELL","type":"MARKET","quantity":"0.1"}),
    );
    assert_eq!(s(&r["result"]["status"]), "FILLED", "{r}");
    let r = api.send("ping", json!({}));
    assert_eq!(r["status"], 200);
    assert!(
        api.pushes.is_empty(),
        "pushes after unsubscribe: {:?}",
        api.pushes
    );
}

#[test]
fn amend_keep_priority_reduces_quantity_in_place() {
    let sim = Sim::start("", "");
    let mut api = sim.ws_api(KEY, SECRET);
    api.call("userDataStream.subscribe.signature", json!({}));
    let r = api.call(
        "order.place",
        json!({"symbol":"TESTUSDT","side":"BUY","type":"LIMIT","timeInForce":"GTC",
               "price":"99.00","quantity":"3","newClientOrderId":"am-1"}),
    );
    let id = r["result"]["orderId"].as_u64().expect("orderId");
    assert_eq!(s(&api.push(T)["event"]["x"]), "NEW");
    let locked = |sim: &Sim| {
        sim.sim
            .balances("binance", "alice")
            .expect("venue")
            .expect("account")
            .into_iter()
            .find(|b| b.asset == "USDT")
            .map(|b| b.locked.to_string())
            .expect("USDT")
    };
    assert_eq!(locked(&sim), "297.00");
    let mut c = sim.rest(KEY, SECRET);
    let r = c.signed(
        "PUT",
        "/api/v3/order/amend/keepPriority",
        &[
            ("symbol", "TESTUSDT"),
            ("orderId", &id.to_string()),
            ("newQty", "2"),
            ("newClientOrderId", "am-2"),
        ],
    );
    let v = r.json();
    assert_eq!(r.status, 200, "{}", r.body);
    let a = &v["amendedOrder"];
    assert_eq!((s(&a["qty"]), s(&a["status"])), ("2.00000000", "NEW"));
    assert_eq!(
        (s(&a["origClientOrderId"]), s(&a["clientOrderId"])),
        ("am-1", "am-2")
    );
    assert_eq!(a["orderId"].as_u64(), Some(id));
    let e = api.push(T)["event"].clone();
    assert_eq!(
        (s(&e["x"]), s(&e["X"]), s(&e["q"]), s(&e["c"])),
        ("REPLACED", "NEW", "2.00000000", "am-2")
    );
    assert_eq!(e["I"], v["executionId"]);
    assert_eq!(locked(&sim), "198.00");
    // No increase, and over the WS-API too.
    let r = api.call(
        "order.amend.keepPriority",
        json!({"symbol":"TESTUSDT","origClientOrderId":"am-2","newQty":"2.5"}),
    );
    assert_eq!(r["error"]["code"], -2038, "{r}");
    let r = api.call(
        "order.amend.keepPriority",
        json!({"symbol":"TESTUSDT","origClientOrderId":"am-2","newQty":"1"}),
    );
    assert_eq!(s(&r["result"]["amendedOrder"]["qty"]), "1.00000000", "{r}");
    // Priority kept: the tape's trade of 3 at 99 eats the 2 left ahead (the level shrank to 2),
    // then fills the amended 1.
    let _md = sim.run_tape();
    let mut fills = Vec::new();
    while fills.is_empty() {
        let p = api.push(T);
        if s(&p["event"]["x"]) == "TRADE" {
            fills.push(p["event"].clone());
        }
    }
    assert_eq!(
        (s(&fills[0]["l"]), s(&fills[0]["X"])),
        ("1.00000000", "FILLED")
    );
}

#[test]
fn a_burst_of_reports_reaches_a_subscriber_that_is_not_reading() {
    let sim = Sim::start("orders_per_10s = 1000", "");
    let mut api = sim.ws_api(KEY, SECRET);
    api.call("userDataStream.subscribe.signature", json!({}));
    let mut c = sim.rest(KEY, SECRET);
    for i in 0..120 {
        let cid = format!("b-{i}");
        let r = c.signed(
            "POST",
            "/api/v3/order",
            &[
                ("symbol", "TESTUSDT"),
                ("side", "BUY"),
                ("type", "LIMIT"),
                ("timeInForce", "GTC"),
                ("quantity", "0.1"),
                ("price", "90.00"),
                ("newClientOrderId", &cid),
            ],
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let r = api.call("openOrders.cancelAll", json!({"symbol":"TESTUSDT"}));
    assert_eq!(
        r["result"].as_array().map(Vec::len),
        Some(120),
        "{}",
        r["status"]
    );
    let mut new = 0;
    let mut canceled = 0;
    while new + canceled < 240 {
        match s(&api.push(T)["event"]["x"]) {
            "NEW" => new += 1,
            "CANCELED" => canceled += 1,
            other => panic!("unexpected report {other}"),
        }
    }
    assert_eq!((new, canceled), (120, 120));
}
