//! Signing and request-encoding against every documented vector in
//! `shared/data/vectors/test_vectors.json`, byte-exact documented requests, property tests of
//! the encoders against an independent HMAC, and buffer-too-small behaviour.

use hmac::{Hmac, KeyInit, Mac};
use proptest::prelude::*;
use serde_json::Value;
use sha2::Sha256;
use tickwire_core::event::{AmendOrder, CancelOrder, Meta, NewOrder, OrderType, Side, TimeInForce};
use tickwire_core::ids::{ClientOrderId, StrategyId};
use tickwire_core::num::{Px, Qty};
use tickwire_exec::credentials::Secret;
use tickwire_exec::venue::EncodeError;
use tickwire_exec::venue::binance::{BinanceEncoder, BinanceSigner, BinanceSymbol, Stamp};
use tickwire_exec::venue::okx::{
    OkxEncoder, OkxInst, OkxInstrument, OkxSigner, TdMode, write_iso8601_ms,
};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data");
const API_KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
const SECRET: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
const OKX_SECRET: &str = "22582BD0CFF14C41EDBF1AB98506286D";

fn vectors() -> Value {
    let text = std::fs::read_to_string(format!("{DATA}/vectors/test_vectors.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn vector(group: &str, name: &str) -> Value {
    vectors()[group]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("vector {name} missing"))
        .clone()
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap()
}

fn hmac_hex(secret: &[u8], payload: &[u8]) -> String {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).unwrap();
    m.update(payload);
    m.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn order(side: Side, ty: OrderType, tif: TimeInForce, px: &str, qty: &str, id: u64) -> NewOrder {
    NewOrder::new(
        Meta::default(),
        ClientOrderId(id),
        side,
        ty,
        tif,
        Px::parse(px).unwrap(),
        Qty::parse(qty).unwrap(),
    )
}

fn binance() -> BinanceEncoder {
    BinanceEncoder::new(API_KEY, SECRET.as_bytes()).unwrap()
}

fn okx() -> OkxEncoder {
    OkxEncoder::new(
        "okx-key-1",
        OKX_SECRET.as_bytes(),
        Secret::new("pass-phrase"),
    )
    .unwrap()
}

fn sym(name: &str, px_decimals: u32, qty_decimals: u32) -> BinanceSymbol<'_> {
    BinanceSymbol {
        name,
        px_decimals,
        qty_decimals,
    }
}

fn text(buf: &[u8], n: usize) -> &str {
    std::str::from_utf8(&buf[..n]).unwrap()
}

/// Rebuilds the WS-API signature payload from a request's params: sorted by name, signature
/// excluded, values raw — independently of the encoder's own ordering.
fn ws_payload(req: &Value) -> String {
    let params = req["params"].as_object().unwrap();
    let mut kv: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| *k != "signature")
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), v)
        })
        .collect();
    kv.sort();
    kv.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

// ---------------------------------------------------------------- every vector, raw signer

#[test]
fn every_binance_vector_signs_exactly() {
    let all = vectors();
    let list = all["binance_hmac_sha256"].as_array().unwrap();
    let names: Vec<&str> = list.iter().map(|v| s(v, "name")).collect();
    assert_eq!(
        names,
        [
            "rest_signed_ascii",
            "rest_signed_non_ascii_percent_encoded",
            "rest_signed_legacy_query_plus_body",
            "wsapi_signed_ascii_sorted_params",
            "wsapi_signed_non_ascii_raw_utf8",
            "wsapi_order_place_example_request",
        ]
    );
    for v in list {
        let signer = BinanceSigner::new(s(v, "secret_key").as_bytes());
        let mut out = [0u8; 64];
        signer.sign(s(v, "payload").as_bytes(), &mut out);
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            s(v, "expected_hex"),
            "{}",
            s(v, "name")
        );
    }
}

#[test]
fn every_okx_vector_signs_exactly() {
    let all = vectors();
    let list = all["okx_signing"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    let login = vector("okx_signing", "okx_ws_login_sign_COMPUTED_NOT_DOCUMENTED");
    let signer = OkxSigner::new(s(&login, "secret_key").as_bytes());
    let mut out = [0u8; 44];
    signer.sign_login_text(s(&login, "timestamp").as_bytes(), &mut out);
    assert_eq!(
        std::str::from_utf8(&out).unwrap(),
        s(&login, "expected_base64")
    );
    signer.sign_login(s(&login, "timestamp").parse().unwrap(), &mut out);
    assert_eq!(
        std::str::from_utf8(&out).unwrap(),
        s(&login, "expected_base64")
    );
    signer.sign_parts(&[s(&login, "prehash").as_bytes()], &mut out);
    assert_eq!(
        std::str::from_utf8(&out).unwrap(),
        s(&login, "expected_base64")
    );

    let rest = vector("okx_signing", "okx_rest_sign_COMPUTED_NOT_DOCUMENTED");
    let signer = OkxSigner::new(s(&rest, "secret_key").as_bytes());
    // The ISO timestamp is produced by our writer from epoch ms.
    let mut iso = [0u8; 24];
    write_iso8601_ms(1_607_418_537_715, &mut iso).unwrap();
    assert_eq!(std::str::from_utf8(&iso).unwrap(), s(&rest, "timestamp"));
    signer.sign_rest(
        &iso,
        s(&rest, "method").as_bytes(),
        s(&rest, "request_path").as_bytes(),
        s(&rest, "body").as_bytes(),
        &mut out,
    );
    assert_eq!(
        std::str::from_utf8(&out).unwrap(),
        s(&rest, "expected_base64")
    );
    signer.sign_parts(&[s(&rest, "prehash").as_bytes()], &mut out);
    assert_eq!(
        std::str::from_utf8(&out).unwrap(),
        s(&rest, "expected_base64")
    );
}

// ------------------------------------------------- Binance encoder: documented requests exactly

#[test]
fn binance_rest_doc_requests_byte_for_byte() {
    let enc = binance();
    let stamp = Stamp {
        timestamp_ms: 1_499_827_319_559,
        recv_window_ms: Some(5000),
    };
    let o = order(Side::Buy, OrderType::Limit, TimeInForce::Gtc, "0.1", "1", 0);
    for (name, symbol) in [
        ("rest_signed_ascii", "LTCBTC"),
        ("rest_signed_non_ascii_percent_encoded", "１２３４５６"),
    ] {
        let v = vector("binance_hmac_sha256", name);
        let mut buf = [0u8; 512];
        let n = enc
            .rest_new_order(&o, &sym(symbol, 0, 0), stamp, &mut buf)
            .unwrap();
        let want = format!("{}&signature={}", s(&v, "payload"), s(&v, "expected_hex"));
        assert_eq!(text(&buf, n), want, "{name}");
    }
}

#[test]
fn binance_legacy_query_plus_body() {
    let v = vector("binance_hmac_sha256", "rest_signed_legacy_query_plus_body");
    let mut out = [0u8; 64];
    binance().signer().sign_parts(
        &[
            b"symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC",
            b"quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559",
        ],
        &mut out,
    );
    assert_eq!(std::str::from_utf8(&out).unwrap(), s(&v, "expected_hex"));
}

/// Encodes an order.place with the encoder, checks its signature against the vector and that
/// the independently rebuilt sorted payload equals the vector's payload.
fn check_ws_vector(name: &str, o: &NewOrder, symbol: BinanceSymbol<'_>, stamp: Stamp) -> Value {
    let v = vector("binance_hmac_sha256", name);
    let mut buf = [0u8; 1024];
    let n = binance()
        .ws_order_place("req-1", o, &symbol, stamp, &mut buf)
        .unwrap();
    let req: Value = serde_json::from_slice(&buf[..n]).unwrap();
    assert_eq!(req["method"], "order.place");
    assert_eq!(ws_payload(&req), s(&v, "payload"), "{name}");
    assert_eq!(req["params"]["signature"], s(&v, "expected_hex"), "{name}");
    req
}

#[test]
fn binance_ws_vectors_through_encoder() {
    check_ws_vector(
        "wsapi_signed_ascii_sorted_params",
        &order(
            Side::Sell,
            OrderType::Limit,
            TimeInForce::Gtc,
            "52000",
            "0.01",
            0,
        ),
        sym("BTCUSDT", 2, 8),
        Stamp {
            timestamp_ms: 1_645_423_376_532,
            recv_window_ms: Some(100),
        },
    );
    let req = check_ws_vector(
        "wsapi_signed_non_ascii_raw_utf8",
        &order(Side::Buy, OrderType::Limit, TimeInForce::Gtc, "0.1", "1", 0),
        sym("１２３４５６", 8, 8),
        Stamp {
            timestamp_ms: 1_645_423_376_532,
            recv_window_ms: Some(5000),
        },
    );
    assert_eq!(req["params"]["symbol"], "１２３４５６");
}

#[test]
fn binance_ws_order_place_equals_doc_request() {
    let doc: Value = serde_json::from_str(
        r#"{"id":"56374a46-3061-486b-a311-99ee972eb648","method":"order.place","params":{"symbol":"BTCUSDT","side":"SELL","type":"LIMIT","timeInForce":"GTC","price":"23416.10000000","quantity":"0.00847000","apiKey":"vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A","signature":"15af09e41c36f3cc61378c2fbe2c33719a03dd5eba8d0f9206fbda44de717c88","timestamp":1660801715431}}"#,
    )
    .unwrap();
    let o = order(
        Side::Sell,
        OrderType::Limit,
        TimeInForce::Gtc,
        "23416.1",
        "0.00847",
        0,
    );
    let stamp = Stamp {
        timestamp_ms: 1_660_801_715_431,
        recv_window_ms: None,
    };
    let mut buf = [0u8; 1024];
    let n = binance()
        .ws_order_place(
            "56374a46-3061-486b-a311-99ee972eb648",
            &o,
            &sym("BTCUSDT", 8, 8),
            stamp,
            &mut buf,
        )
        .unwrap();
    let ours: Value = serde_json::from_slice(&buf[..n]).unwrap();
    assert_eq!(ours, doc);
    let v = vector("binance_hmac_sha256", "wsapi_order_place_example_request");
    assert_eq!(ws_payload(&ours), s(&v, "payload"));
}

// ------------------------------------------------------------ Binance order-type mapping

#[test]
fn binance_types_and_cancel() {
    let enc = binance();
    let stamp = Stamp {
        timestamp_ms: 1_700_000_000_000,
        recv_window_ms: None,
    };
    let sy = sym("BTCUSDT", 8, 8);
    let id = ClientOrderId::new(StrategyId(3), 17).unwrap();
    let mut buf = [0u8; 512];
    let cases = [
        (
            order(
                Side::Buy,
                OrderType::Limit,
                TimeInForce::PostOnly,
                "100.5",
                "2",
                id.0,
            ),
            "symbol=BTCUSDT&side=BUY&type=LIMIT_MAKER&quantity=2.00000000&price=100.50000000&newClientOrderId=tw3x17&timestamp=1700000000000",
        ),
        (
            order(
                Side::Sell,
                OrderType::Limit,
                TimeInForce::Ioc,
                "100.5",
                "2",
                id.0,
            ),
            "symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=IOC&quantity=2.00000000&price=100.50000000&newClientOrderId=tw3x17&timestamp=1700000000000",
        ),
        (
            order(
                Side::Sell,
                OrderType::Limit,
                TimeInForce::Fok,
                "100.5",
                "2",
                id.0,
            ),
            "symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=FOK&quantity=2.00000000&price=100.50000000&newClientOrderId=tw3x17&timestamp=1700000000000",
        ),
        (
            order(
                Side::Buy,
                OrderType::Market,
                TimeInForce::Ioc,
                "0",
                "0.5",
                id.0,
            ),
            "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.50000000&newClientOrderId=tw3x17&timestamp=1700000000000",
        ),
    ];
    for (o, want) in cases {
        let n = enc.rest_new_order(&o, &sy, stamp, &mut buf).unwrap();
        let got = text(&buf, n);
        let (payload, sig) = got.split_once("&signature=").unwrap();
        assert_eq!(payload, want);
        assert_eq!(sig, hmac_hex(SECRET.as_bytes(), payload.as_bytes()));
    }

    let cancel = CancelOrder {
        meta: Meta::default(),
        cl_ord_id: id,
    };
    let n = enc
        .rest_cancel_order(
            &cancel,
            &sy,
            Stamp {
                recv_window_ms: Some(5000),
                ..stamp
            },
            &mut buf,
        )
        .unwrap();
    let got = text(&buf, n);
    let (payload, sig) = got.split_once("&signature=").unwrap();
    assert_eq!(
        payload,
        "symbol=BTCUSDT&origClientOrderId=tw3x17&recvWindow=5000&timestamp=1700000000000"
    );
    assert_eq!(sig, hmac_hex(SECRET.as_bytes(), payload.as_bytes()));

    let n = enc
        .ws_order_cancel("c-9", &cancel, &sy, stamp, &mut buf)
        .unwrap();
    let req: Value = serde_json::from_slice(&buf[..n]).unwrap();
    assert_eq!(req["id"], "c-9");
    assert_eq!(req["method"], "order.cancel");
    assert_eq!(
        ws_payload(&req),
        format!("apiKey={API_KEY}&origClientOrderId=tw3x17&symbol=BTCUSDT&timestamp=1700000000000")
    );
    assert_eq!(
        req["params"]["signature"],
        hmac_hex(SECRET.as_bytes(), ws_payload(&req).as_bytes())
    );

    // Whatever is written verbatim must not need JSON escaping.
    assert_eq!(
        enc.ws_order_cancel("a\"b", &cancel, &sy, stamp, &mut buf),
        Err(EncodeError::UnsafeText("id"))
    );
    assert_eq!(
        enc.ws_order_cancel("x", &cancel, &sym("BTC\"USDT", 8, 8), stamp, &mut buf),
        Err(EncodeError::UnsafeText("symbol"))
    );
}

#[test]
fn invalid_orders_are_errors() {
    let enc = binance();
    let sy = sym("BTCUSDT", 8, 8);
    let stamp = Stamp {
        timestamp_ms: 1,
        recv_window_ms: None,
    };
    let mut buf = [0u8; 512];
    let bad = [
        order(
            Side::Buy,
            OrderType::Market,
            TimeInForce::PostOnly,
            "0",
            "1",
            1,
        ),
        order(Side::Buy, OrderType::Limit, TimeInForce::Gtc, "0", "1", 1),
        order(Side::Buy, OrderType::Limit, TimeInForce::Gtc, "1", "0", 1),
    ];
    let mut bad_codes = order(Side::Buy, OrderType::Limit, TimeInForce::Gtc, "1", "1", 1);
    bad_codes.side = 9;
    for o in bad.iter().chain([&bad_codes]) {
        assert!(matches!(
            enc.rest_new_order(o, &sy, stamp, &mut buf),
            Err(EncodeError::InvalidOrder(_))
        ));
        assert!(matches!(
            enc.ws_order_place("1", o, &sy, stamp, &mut buf),
            Err(EncodeError::InvalidOrder(_))
        ));
        assert!(matches!(
            okx().ws_order("1", o, &okx_inst(), &mut buf),
            Err(EncodeError::InvalidOrder(_))
        ));
    }
    let none = CancelOrder::default();
    assert!(enc.rest_cancel_order(&none, &sy, stamp, &mut buf).is_err());
    let mut ro = order(Side::Buy, OrderType::Limit, TimeInForce::Gtc, "1", "1", 1);
    ro.flags = NewOrder::REDUCE_ONLY;
    assert!(enc.rest_new_order(&ro, &sy, stamp, &mut buf).is_err());
}

// --------------------------------------------------------------------------- OKX encoder

fn okx_inst() -> OkxInstrument<'static> {
    OkxInstrument {
        inst: OkxInst::Id("BTC-USDT"),
        td_mode: TdMode::Cash,
    }
}

#[test]
fn okx_login_request() {
    let mut buf = [0u8; 256];
    let n = okx().login(1_538_054_050, &mut buf).unwrap();
    let req: Value = serde_json::from_slice(&buf[..n]).unwrap();
    let want: Value = serde_json::from_str(
        r#"{"op":"login","args":[{"apiKey":"okx-key-1","passphrase":"pass-phrase","timestamp":"1538054050","sign":"+LdIr8lkkvhr5hoA3g9TMC0+uQJ849ftAcocA/ouu4M="}]}"#,
    )
    .unwrap();
    assert_eq!(req, want);
}

#[test]
fn okx_order_types() {
    let enc = okx();
    let id = ClientOrderId::new(StrategyId(2), 5).unwrap();
    let mut buf = [0u8; 512];
    for (tif, ty, want) in [
        (TimeInForce::Gtc, OrderType::Limit, "limit"),
        (TimeInForce::PostOnly, OrderType::Limit, "post_only"),
        (TimeInForce::Ioc, OrderType::Limit, "ioc"),
        (TimeInForce::Fok, OrderType::Limit, "fok"),
        (TimeInForce::Gtc, OrderType::Market, "market"),
    ] {
        let o = order(Side::Sell, ty, tif, "30249.40", "0.0100", id.0);
        let n = enc.ws_order("1512", &o, &okx_inst(), &mut buf).unwrap();
        let req: Value = serde_json::from_slice(&buf[..n]).unwrap();
        assert_eq!(req["id"], "1512");
        assert_eq!(req["op"], "order");
        let a = &req["args"][0];
        assert_eq!(a["instId"], "BTC-USDT");
        assert_eq!(a["tdMode"], "cash");
        assert_eq!(a["clOrdId"], "tw2x5");
        assert_eq!(a["side"], "sell");
        assert_eq!(a["ordType"], want);
        assert_eq!(a["sz"], "0.01");
        if ty == OrderType::Market {
            assert!(a.get("px").is_none());
            assert_eq!(a["tgtCcy"], "base_ccy");
        } else {
            assert_eq!(a["px"], "30249.4");
        }
    }
    let mut o = order(
        Side::Buy,
        OrderType::Limit,
        TimeInForce::Gtc,
        "1",
        "2",
        id.0,
    );
    o.flags = NewOrder::REDUCE_ONLY;
    let inst = OkxInstrument {
        inst: OkxInst::Code(123_456),
        td_mode: TdMode::Isolated,
    };
    let n = enc.ws_order("7", &o, &inst, &mut buf).unwrap();
    assert_eq!(
        text(&buf, n),
        r#"{"id":"7","op":"order","args":[{"instIdCode":123456,"tdMode":"isolated","clOrdId":"tw2x5","side":"buy","ordType":"limit","px":"1","sz":"2","reduceOnly":true}]}"#
    );

    let cancel = CancelOrder {
        meta: Meta::default(),
        cl_ord_id: id,
    };
    let n = enc
        .ws_cancel_order("8", &cancel, &okx_inst(), &mut buf)
        .unwrap();
    assert_eq!(
        text(&buf, n),
        r#"{"id":"8","op":"cancel-order","args":[{"instId":"BTC-USDT","clOrdId":"tw2x5"}]}"#
    );
    let amend = AmendOrder {
        meta: Meta::default(),
        cl_ord_id: id,
        new_px: Px::parse("2.150").unwrap(),
        new_qty: Qty::parse("3").unwrap(),
    };
    let n = enc
        .ws_amend_order("9", &amend, &okx_inst(), &mut buf)
        .unwrap();
    assert_eq!(
        text(&buf, n),
        r#"{"id":"9","op":"amend-order","args":[{"instId":"BTC-USDT","clOrdId":"tw2x5","newSz":"3","newPx":"2.15"}]}"#
    );
}

#[test]
fn okx_rest_order_matches_vector_shape_and_signs() {
    let v = vector("okx_signing", "okx_rest_sign_COMPUTED_NOT_DOCUMENTED");
    let id = ClientOrderId::new(StrategyId(0), 15).unwrap();
    let o = order(
        Side::Buy,
        OrderType::Limit,
        TimeInForce::Gtc,
        "2.15",
        "2",
        id.0,
    );
    let mut iso = [0u8; 24];
    write_iso8601_ms(1_607_418_537_715, &mut iso).unwrap();
    let (mut body, mut sign) = ([0u8; 256], [0u8; 44]);
    let n = okx()
        .rest_order(&o, &okx_inst(), &iso, &mut body, &mut sign)
        .unwrap();
    // Same field order and values as the vector's body; only the clOrdId differs.
    assert_eq!(text(&body, n).replace("tw0x15", "b15"), s(&v, "body"));
    let prehash = format!(
        "{}POST/api/v5/trade/order{}",
        s(&v, "timestamp"),
        text(&body, n)
    );
    let mut want = [0u8; 44];
    OkxSigner::new(OKX_SECRET.as_bytes()).sign_parts(&[prehash.as_bytes()], &mut want);
    assert_eq!(sign, want);
    // And with the vector's own body the signature is the vector's.
    OkxSigner::new(OKX_SECRET.as_bytes()).sign_rest(
        &iso,
        b"POST",
        b"/api/v5/trade/order",
        s(&v, "body").as_bytes(),
        &mut want,
    );
    assert_eq!(
        std::str::from_utf8(&want).unwrap(),
        s(&v, "expected_base64")
    );
}

// ------------------------------------------------------------------ buffer too small

#[test]
fn every_short_buffer_is_an_error_never_a_panic() {
    let b = binance();
    let k = okx();
    let id = ClientOrderId::new(StrategyId(65535), (1 << 48) - 1).unwrap();
    let o = order(
        Side::Buy,
        OrderType::Limit,
        TimeInForce::Gtc,
        "123456.123456789",
        "0.000000001",
        id.0,
    );
    let c = CancelOrder {
        meta: Meta::default(),
        cl_ord_id: id,
    };
    let a = AmendOrder {
        meta: Meta::default(),
        cl_ord_id: id,
        new_px: o.px,
        new_qty: o.qty,
    };
    let sy = sym("１２３４５６", 8, 8);
    let st = Stamp {
        timestamp_ms: u64::MAX,
        recv_window_ms: Some(60_000),
    };
    type Enc<'a> = Box<dyn Fn(&mut [u8]) -> Result<usize, EncodeError> + 'a>;
    let encoders: Vec<(&str, Enc<'_>)> = vec![
        (
            "rest_new",
            Box::new(|buf| b.rest_new_order(&o, &sy, st, buf)),
        ),
        (
            "rest_cancel",
            Box::new(|buf| b.rest_cancel_order(&c, &sy, st, buf)),
        ),
        (
            "ws_place",
            Box::new(|buf| b.ws_order_place("id", &o, &sy, st, buf)),
        ),
        (
            "ws_cancel",
            Box::new(|buf| b.ws_order_cancel("id", &c, &sy, st, buf)),
        ),
        ("okx_login", Box::new(|buf| k.login(u64::MAX, buf))),
        (
            "okx_order",
            Box::new(|buf| k.ws_order("id", &o, &okx_inst(), buf)),
        ),
        (
            "okx_cancel",
            Box::new(|buf| k.ws_cancel_order("id", &c, &okx_inst(), buf)),
        ),
        (
            "okx_amend",
            Box::new(|buf| k.ws_amend_order("id", &a, &okx_inst(), buf)),
        ),
        (
            "okx_rest",
            Box::new(|buf| {
                let iso = [b'0'; 24];
                let mut sign = [0u8; 44];
                k.rest_order(&o, &okx_inst(), &iso, buf, &mut sign)
            }),
        ),
    ];
    for (name, enc) in &encoders {
        let mut full = vec![0u8; 2048];
        let need = enc(&mut full).unwrap();
        for len in 0..need {
            let mut short = vec![0u8; len];
            assert_eq!(
                enc(&mut short),
                Err(EncodeError::BufferFull),
                "{name} len {len}"
            );
        }
        let mut exact = vec![0u8; need];
        assert_eq!(enc(&mut exact), Ok(need), "{name}");
        assert_eq!(exact[..], full[..need], "{name}");
    }
}

#[test]
fn encoders_never_format_secrets() {
    let b = binance();
    let k = okx();
    for text in [
        format!("{b:?}"),
        format!("{k:?}"),
        format!("{:?}", b.signer()),
    ] {
        assert!(!text.contains(SECRET) && !text.contains(API_KEY), "{text}");
        assert!(
            !text.contains(OKX_SECRET) && !text.contains("pass-phrase"),
            "{text}"
        );
    }
    let errs = [
        EncodeError::BufferFull,
        EncodeError::InvalidOrder("x"),
        EncodeError::UnsafeText("apiKey"),
    ];
    for e in errs {
        let t = format!("{e} {e:?}");
        assert!(!t.contains(SECRET));
    }
    assert_eq!(
        BinanceEncoder::new("bad\"key", SECRET.as_bytes()).unwrap_err(),
        EncodeError::UnsafeText("apiKey")
    );
}

// ------------------------------------------------------------------------------ proptest

fn arb_order() -> impl Strategy<Value = NewOrder> {
    (
        prop::sample::select(vec![Side::Buy, Side::Sell]),
        prop::sample::select(vec![OrderType::Limit, OrderType::Market]),
        prop::sample::select(vec![
            TimeInForce::Gtc,
            TimeInForce::Ioc,
            TimeInForce::Fok,
            TimeInForce::PostOnly,
        ]),
        1i64..=i64::MAX,
        1i64..=i64::MAX,
        any::<u16>(),
        1u64..(1 << 48),
    )
        .prop_filter("market orders are not post-only", |(_, ty, tif, ..)| {
            !(*ty == OrderType::Market && *tif == TimeInForce::PostOnly)
        })
        .prop_map(|(side, ty, tif, px, qty, strat, seq)| {
            NewOrder::new(
                Meta::default(),
                ClientOrderId::new(StrategyId(strat), seq).unwrap(),
                side,
                ty,
                tif,
                Px::from_raw(px),
                Qty::from_raw(qty),
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn rest_query_parses_back(
        o in arb_order(),
        sym_name in "[A-Z]{3,10}",
        decimals in 0u32..=9,
        ts in any::<u64>(),
        rw in prop::option::of(1u32..=60_000),
    ) {
        let enc = binance();
        let sy = sym(&sym_name, decimals, decimals);
        let stamp = Stamp { timestamp_ms: ts, recv_window_ms: rw };
        let mut buf = [0u8; 512];
        let n = enc.rest_new_order(&o, &sy, stamp, &mut buf).unwrap();
        let q = text(&buf, n);
        let (payload, sig) = q.rsplit_once("&signature=").unwrap();
        prop_assert_eq!(sig, hmac_hex(SECRET.as_bytes(), payload.as_bytes()));
        let fields: Vec<(&str, &str)> =
            payload.split('&').map(|kv| kv.split_once('=').unwrap()).collect();
        let get = |k: &str| fields.iter().find(|(n, _)| *n == k).map(|(_, v)| *v);
        prop_assert_eq!(get("symbol"), Some(sym_name.as_str()));
        prop_assert_eq!(get("side"), Some(if o.side() == Some(Side::Buy) { "BUY" } else { "SELL" }));
        prop_assert_eq!(Qty::parse(get("quantity").unwrap()).unwrap(), o.qty);
        prop_assert_eq!(get("newClientOrderId").map(str::to_string), Some(o.cl_ord_id.to_string()));
        prop_assert_eq!(get("timestamp").map(str::to_string), Some(ts.to_string()));
        prop_assert_eq!(get("recvWindow").map(str::to_string), rw.map(|r| r.to_string()));
        match o.order_type().unwrap() {
            OrderType::Market => {
                prop_assert_eq!(get("type"), Some("MARKET"));
                prop_assert_eq!(get("price"), None);
                prop_assert_eq!(get("timeInForce"), None);
            }
            OrderType::Limit => {
                prop_assert_eq!(Px::parse(get("price").unwrap()).unwrap(), o.px);
                let (ty, tif) = match o.tif().unwrap() {
                    TimeInForce::PostOnly => ("LIMIT_MAKER", None),
                    TimeInForce::Gtc => ("LIMIT", Some("GTC")),
                    TimeInForce::Ioc => ("LIMIT", Some("IOC")),
                    TimeInForce::Fok => ("LIMIT", Some("FOK")),
                };
                prop_assert_eq!(get("type"), Some(ty));
                prop_assert_eq!(get("timeInForce"), tif);
            }
        }
    }

    #[test]
    fn ws_place_signature_is_independent_hmac(
        o in arb_order(),
        decimals in 0u32..=9,
        ts in any::<u64>(),
        rw in prop::option::of(1u32..=60_000),
    ) {
        let enc = binance();
        let stamp = Stamp { timestamp_ms: ts, recv_window_ms: rw };
        let mut buf = [0u8; 1024];
        let n = enc.ws_order_place("r", &o, &sym("ETHUSDT", decimals, decimals), stamp, &mut buf).unwrap();
        let req: Value = serde_json::from_slice(&buf[..n]).unwrap();
        let payload = ws_payload(&req);
        prop_assert_eq!(req["params"]["signature"].as_str().unwrap(), hmac_hex(SECRET.as_bytes(), payload.as_bytes()));
        prop_assert_eq!(Qty::parse(req["params"]["quantity"].as_str().unwrap()).unwrap(), o.qty);
        if o.order_type() == Some(OrderType::Limit) {
            prop_assert_eq!(Px::parse(req["params"]["price"].as_str().unwrap()).unwrap(), o.px);
        }
        prop_assert_eq!(req["params"]["timestamp"].as_u64(), Some(ts));
    }

    #[test]
    fn okx_order_round_trips(o in arb_order()) {
        let mut buf = [0u8; 512];
        let n = okx().ws_order("1", &o, &okx_inst(), &mut buf).unwrap();
        let req: Value = serde_json::from_slice(&buf[..n]).unwrap();
        let a = &req["args"][0];
        prop_assert_eq!(Qty::parse(a["sz"].as_str().unwrap()).unwrap(), o.qty);
        prop_assert_eq!(a["clOrdId"].as_str().unwrap(), o.cl_ord_id.to_string());
        if o.order_type() == Some(OrderType::Limit) {
            prop_assert_eq!(Px::parse(a["px"].as_str().unwrap()).unwrap(), o.px);
        }
    }
}
