//! Execution-message decoding: the FORMATS.md doc literals (§1.8, §1.9, §1.11, §2.6, §2.7)
//! decode to the expected reports, an independent serde_json reference decoder agrees on them
//! field by field, and damaged input never panics.

use proptest::prelude::*;
use serde_json::Value as J;
use tickwire_core::event::{
    Ack, CancelAck, ExecReport, FeeUnit, Fill, Liquidity, Meta, OrderStatus, Reject, RejectReason,
    Side, StatusReport, Unknown, UnknownCause,
};
use tickwire_core::ids::{ClientOrderId, InstrumentId, StrategyId, VenueId};
use tickwire_core::num::{Px, Qty};
use tickwire_exec::venue::binance::{BinanceReportDecoder, RequestCtx, RequestKind};
use tickwire_exec::venue::okx::OkxReportDecoder;
use tickwire_exec::venue::{DecodeError, MessageKind, SymbolTable, parse_client_order_id};

const RECV: u64 = 123_456_789;
const ETHBTC: InstrumentId = InstrumentId(1);
const BTCUSDT: InstrumentId = InstrumentId(2);
const OKX_BTCUSDT: InstrumentId = InstrumentId(3);

// §1.8
const ACK: &str = r#"{"symbol":"BTCUSDT","orderId":28,"orderListId":-1,"clientOrderId":"6gCrw2kRUAF9CvJDGP16IP","transactTime":1507725176595}"#;
const RESULT: &str = r#"{"symbol":"BTCUSDT","orderId":28,"orderListId":-1,"clientOrderId":"6gCrw2kRUAF9CvJDGP16IP","transactTime":1507725176595,"price":"0.00000000","origQty":"10.00000000","executedQty":"10.00000000","origQuoteOrderQty":"0.000000","cummulativeQuoteQty":"10.00000000","status":"FILLED","timeInForce":"GTC","type":"MARKET","side":"SELL","workingTime":1507725176595,"selfTradePreventionMode":"NONE"}"#;
const FILLS: &str = r#""fills":[{"price":"4000.00000000","qty":"1.00000000","commission":"4.00000000","commissionAsset":"USDT","tradeId":56},{"price":"3999.00000000","qty":"5.00000000","commission":"19.99500000","commissionAsset":"USDT","tradeId":57},{"price":"3998.00000000","qty":"2.00000000","commission":"7.99600000","commissionAsset":"USDT","tradeId":58},{"price":"3997.00000000","qty":"1.00000000","commission":"3.99700000","commissionAsset":"USDT","tradeId":59},{"price":"3995.00000000","qty":"1.00000000","commission":"3.99500000","commissionAsset":"USDT","tradeId":60}]"#;
// §1.9
const ERR_SYMBOL: &str = r#"{"code":-1121,"msg":"Invalid symbol."}"#;
const ERR_FUNDS: &str =
    r#"{"code":-2010,"msg":"Account has insufficient balance for requested action."}"#;
const ERR_LOT: &str = r#"{"code":-1013,"msg":"Filter failure: LOT_SIZE"}"#;
// The doc literal abbreviates `"rateLimits":[...]`, which is not JSON; `[]` stands in.
const WS_ERR: &str = r#"{"id":"e2a85d9f-07a5-4f94-8d5f-789dc3deb097","status":400,"error":{"code":-2010,"msg":"Account has insufficient balance for requested action."},"rateLimits":[]}"#;
// §1.11
const EXEC_NEW: &str = r#"{"e":"executionReport","E":1499405658658,"s":"ETHBTC","c":"mUvoqJxFIILMdfAW5iGSOW","S":"BUY","o":"LIMIT","f":"GTC","q":"1.00000000","p":"0.10264410","P":"0.00000000","F":"0.00000000","g":-1,"C":"","x":"NEW","X":"NEW","r":"NONE","i":4293153,"l":"0.00000000","z":"0.00000000","L":"0.00000000","n":"0","N":null,"T":1499405658657,"t":-1,"v":3,"I":8641984,"w":true,"m":false,"M":false,"O":1499405658657,"Z":"0.00000000","Y":"0.00000000","Q":"0.00000000","W":1499405658657,"V":"NONE"}"#;
const ACCOUNT_POS: &str = r#"{"e":"outboundAccountPosition","E":1564034571105,"u":1564034571073,"B":[{"a":"ETH","f":"10000.000000","l":"0.000000"}]}"#;
const BALANCE: &str =
    r#"{"e":"balanceUpdate","E":1573200697110,"a":"BTC","d":"100.00000000","T":1573200697068}"#;
// §2.6 (the doc's trailing `,...` removed)
const OKX_PUSH: &str = r#"{"arg":{"channel":"orders","instType":"SPOT","instId":"BTC-USDT","uid":"614488474791936"},"data":[{"accFillSz":"0.001","avgPx":"31527.1","cTime":"1654084334977","clOrdId":"","code":"0","execType":"M","fee":"-0.02522168","feeCcy":"USDT","fillFee":"-0.02522168","fillFeeCcy":"USDT","fillPx":"31527.1","fillSz":"0.001","fillTime":"1654084353263","instId":"BTC-USDT","instType":"SPOT","msg":"","ordId":"452197707845865472","ordType":"limit","px":"31527.1","reqId":"","side":"sell","state":"filled","sz":"0.001","tdMode":"cash","tradeId":"242589207","uTime":"1654084353264","amendResult":"","attachAlgoOrds":[],"linkedAlgoOrd":{"algoId":""}}]}"#;
// §2.7
const OKX_OK: &str = r#"{"id":"1512","op":"order","data":[{"clOrdId":"","ordId":"12345689","tag":"","ts":"1695190491421","sCode":"0","sMsg":""}],"code":"0","msg":"","inTime":"1695190491421339","outTime":"1695190491423240"}"#;
const OKX_FAIL: &str = r#"{"id":"1512","op":"order","data":[{"clOrdId":"tw7x42","ordId":"","tag":"","ts":"1695190491421","sCode":"51008","sMsg":"Order failed. Insufficient balance"}],"code":"1","msg":"","inTime":"1695190491421339","outTime":"1695190491423240"}"#;
const OKX_FORMAT_ERR: &str =
    r#"{"id":"1512","op":"order","data":[],"code":"50014","msg":"Parameter sz can not be empty."}"#;

fn full() -> String {
    format!("{},{}}}", &RESULT[..RESULT.len() - 1], FILLS)
}

fn symbols() -> SymbolTable {
    let mut t = SymbolTable::new();
    t.insert("ETHBTC", "BTC", ETHBTC);
    t.insert("BTCUSDT", "USDT", BTCUSDT);
    t.insert("BTC-USDT", "USDT", OKX_BTCUSDT);
    t
}

fn ours() -> ClientOrderId {
    ClientOrderId::new(StrategyId(7), 42).unwrap()
}

fn place_ctx() -> RequestCtx {
    RequestCtx {
        cl_ord_id: ours(),
        instrument: BTCUSDT,
        kind: RequestKind::Place,
    }
}

fn px(s: &str) -> Px {
    Px::parse(s).unwrap()
}
fn qty(s: &str) -> Qty {
    Qty::parse(s).unwrap()
}

fn user_data(frame: &str) -> Result<Vec<ExecReport>, DecodeError> {
    let mut d = BinanceReportDecoder::new(VenueId::BINANCE);
    let mut out = Vec::new();
    let mut buf = frame.as_bytes().to_vec();
    d.decode_user_data(&mut buf, &symbols(), RECV, &mut |r| out.push(r))?;
    Ok(out)
}

fn rest(status: u16, body: &str, ctx: RequestCtx) -> Result<Vec<ExecReport>, DecodeError> {
    let mut d = BinanceReportDecoder::new(VenueId::BINANCE);
    let mut out = Vec::new();
    let mut buf = body.as_bytes().to_vec();
    d.decode_rest_response(status, &mut buf, ctx, &symbols(), RECV, &mut |r| {
        out.push(r)
    })?;
    Ok(out)
}

fn ws_api(frame: &str, ctx: RequestCtx) -> Result<Vec<ExecReport>, DecodeError> {
    let mut d = BinanceReportDecoder::new(VenueId::BINANCE);
    let mut out = Vec::new();
    let mut buf = frame.as_bytes().to_vec();
    d.decode_ws_api_response(&mut buf, ctx, &symbols(), RECV, &mut |r| out.push(r))?;
    Ok(out)
}

fn okx(frame: &str) -> Result<Vec<ExecReport>, DecodeError> {
    let mut d = OkxReportDecoder::new(VenueId::OKX);
    let mut out = Vec::new();
    let mut buf = frame.as_bytes().to_vec();
    d.decode_private(&mut buf, &symbols(), RECV, &mut |r| out.push(r))?;
    Ok(out)
}

/// Replaces the value of a top-level Binance executionReport field (test variants).
fn exec_with(pairs: &[(&str, &str)]) -> String {
    let mut v: J = serde_json::from_str(EXEC_NEW).unwrap();
    for (k, val) in pairs {
        v[*k] = serde_json::from_str(val).unwrap();
    }
    v.to_string()
}

fn wrapped(ev: &str) -> String {
    format!(r#"{{"subscriptionId":0,"event":{ev}}}"#)
}

// ------------------------------------------------------------------------------------------
// Independent reference decoder (serde_json::Value, written from FORMATS.md, not the code).

fn meta(venue: VenueId, inst: InstrumentId, ts_ms: Option<i64>) -> Meta {
    let mut m = Meta::new(venue, inst, RECV);
    if let Some(ms) = ts_ms {
        m.venue_ts_ns = ms * 1_000_000;
    }
    m
}

fn ref_id(s: &str) -> ClientOrderId {
    // tw<u16>x<seq>, strictly; anything else is "none".
    let Some(rest) = s.strip_prefix("tw") else {
        return ClientOrderId::default();
    };
    let Some((a, b)) = rest.split_once('x') else {
        return ClientOrderId::default();
    };
    let canon = |t: &str| {
        !t.is_empty()
            && t.bytes().all(|c| c.is_ascii_digit())
            && !(t.len() > 1 && t.starts_with('0'))
    };
    if !canon(a) || !canon(b) {
        return ClientOrderId::default();
    }
    match (a.parse::<u16>(), b.parse::<u64>()) {
        (Ok(a), Ok(b)) => ClientOrderId::new(StrategyId(a), b).unwrap_or_default(),
        _ => ClientOrderId::default(),
    }
}

/// Reference fee classification: the commission with the class of the asset it was charged in.
fn ref_fee(amount: Px, asset: &str, quote: &str, base: &str) -> (Px, FeeUnit) {
    let unit = if asset == quote || (asset.is_empty() && amount == Px::ZERO) {
        FeeUnit::Quote
    } else if asset == base {
        FeeUnit::Base
    } else {
        FeeUnit::Other
    };
    (amount, unit)
}

fn ref_binance_exec(v: &J) -> Vec<ExecReport> {
    let inst = if v["s"] == "ETHBTC" { ETHBTC } else { BTCUSDT };
    let (base, quote) = if inst == ETHBTC {
        ("ETH", "BTC")
    } else {
        ("BTC", "USDT")
    };
    let m = meta(VenueId::BINANCE, inst, v["E"].as_i64());
    let c = v["c"].as_str().unwrap();
    let orig = v["C"].as_str().unwrap_or("");
    let side = if v["S"] == "BUY" {
        Side::Buy
    } else {
        Side::Sell
    };
    match v["x"].as_str().unwrap() {
        "NEW" => vec![ExecReport::Ack(Ack {
            meta: m,
            cl_ord_id: ref_id(c),
            venue_order_id: v["i"].as_u64().unwrap(),
        })],
        "TRADE" => {
            let (fee, unit) = ref_fee(
                px(v["n"].as_str().unwrap()),
                v["N"].as_str().unwrap_or(""),
                quote,
                base,
            );
            let liq = if v["m"].as_bool().unwrap() {
                Liquidity::Maker
            } else {
                Liquidity::Taker
            };
            vec![ExecReport::Fill(
                Fill::new(
                    m,
                    ref_id(c),
                    v["i"].as_u64().unwrap(),
                    v["t"].as_u64().unwrap(),
                    side,
                    px(v["L"].as_str().unwrap()),
                    qty(v["l"].as_str().unwrap()),
                    fee,
                    liq,
                )
                .with_fee_unit(unit),
            )]
        }
        "CANCELED" | "EXPIRED" | "TRADE_PREVENTION" => vec![ExecReport::CancelAck(CancelAck {
            meta: m,
            cl_ord_id: ref_id(if orig.is_empty() { c } else { orig }),
        })],
        "REJECTED" => {
            let reason = match v["r"].as_str().unwrap() {
                "INSUFFICIENT_BALANCE" => RejectReason::InsufficientFunds,
                _ => RejectReason::Other,
            };
            vec![ExecReport::Reject(Reject::new(m, ref_id(c), reason, 0))]
        }
        _ => vec![],
    }
}

fn ref_binance_order(v: &J) -> Vec<ExecReport> {
    let m = meta(VenueId::BINANCE, BTCUSDT, v["transactTime"].as_i64());
    let cl = ref_id(v["clientOrderId"].as_str().unwrap());
    let oid = v["orderId"].as_u64().unwrap();
    let mut out = vec![ExecReport::Ack(Ack {
        meta: m,
        cl_ord_id: cl,
        venue_order_id: oid,
    })];
    let side = if v["side"] == "BUY" {
        Side::Buy
    } else {
        Side::Sell
    };
    if let Some(fills) = v["fills"].as_array() {
        for f in fills {
            let (fee, unit) = ref_fee(
                px(f["commission"].as_str().unwrap()),
                f["commissionAsset"].as_str().unwrap_or(""),
                "USDT",
                "BTC",
            );
            out.push(ExecReport::Fill(
                Fill::new(
                    m,
                    cl,
                    oid,
                    f["tradeId"].as_u64().unwrap(),
                    side,
                    px(f["price"].as_str().unwrap()),
                    qty(f["qty"].as_str().unwrap()),
                    fee,
                    Liquidity::Taker,
                )
                .with_fee_unit(unit),
            ));
        }
    } else if v["status"] == "FILLED" {
        out.push(ExecReport::Status(StatusReport::new(
            m,
            cl,
            oid,
            OrderStatus::Filled,
            qty(v["executedQty"].as_str().unwrap()),
        )));
    }
    out
}

fn ref_okx(v: &J) -> Vec<ExecReport> {
    let mut out = Vec::new();
    if v.get("arg").is_some() {
        for d in v["data"].as_array().unwrap() {
            let m = meta(
                VenueId::OKX,
                OKX_BTCUSDT,
                d["uTime"].as_str().map(|s| s.parse().unwrap()),
            );
            let cl = ref_id(d["clOrdId"].as_str().unwrap());
            let oid: u64 = d["ordId"].as_str().unwrap().parse().unwrap();
            let fill_sz = qty(d["fillSz"].as_str().unwrap_or("0"));
            let has_fill = !d["tradeId"].as_str().unwrap_or("").is_empty() && fill_sz > Qty::ZERO;
            if has_fill {
                let mut fm = m;
                fm.venue_ts_ns =
                    d["fillTime"].as_str().unwrap().parse::<i64>().unwrap() * 1_000_000;
                // OKX: negative = charged; ours: positive = paid.
                let (fee, unit) = ref_fee(
                    Px::parse_signed(d["fillFee"].as_str().unwrap())
                        .unwrap()
                        .neg(),
                    d["fillFeeCcy"].as_str().unwrap_or(""),
                    "USDT",
                    "BTC",
                );
                out.push(ExecReport::Fill(
                    Fill::new(
                        fm,
                        cl,
                        oid,
                        d["tradeId"].as_str().unwrap().parse().unwrap(),
                        if d["side"] == "buy" {
                            Side::Buy
                        } else {
                            Side::Sell
                        },
                        px(d["fillPx"].as_str().unwrap()),
                        fill_sz,
                        fee,
                        if d["execType"] == "M" {
                            Liquidity::Maker
                        } else {
                            Liquidity::Taker
                        },
                    )
                    .with_fee_unit(unit),
                ));
            }
            match d["state"].as_str().unwrap() {
                "live" => out.push(ExecReport::Ack(Ack {
                    meta: m,
                    cl_ord_id: cl,
                    venue_order_id: oid,
                })),
                "canceled" | "mmp_canceled" => out.push(ExecReport::CancelAck(CancelAck {
                    meta: m,
                    cl_ord_id: cl,
                })),
                s if !has_fill => out.push(ExecReport::Status(StatusReport::new(
                    m,
                    cl,
                    oid,
                    if s == "filled" {
                        OrderStatus::Filled
                    } else {
                        OrderStatus::PartiallyFilled
                    },
                    qty(d["accFillSz"].as_str().unwrap()),
                ))),
                _ => {}
            }
        }
    } else {
        for d in v["data"].as_array().unwrap() {
            let m = meta(
                VenueId::OKX,
                Meta::ALL_INSTRUMENTS,
                Some(d["ts"].as_str().unwrap().parse().unwrap()),
            );
            let cl = ref_id(d["clOrdId"].as_str().unwrap());
            let code: i32 = d["sCode"].as_str().unwrap().parse().unwrap();
            out.push(if code == 0 {
                ExecReport::Ack(Ack {
                    meta: m,
                    cl_ord_id: cl,
                    venue_order_id: d["ordId"].as_str().unwrap().parse().unwrap(),
                })
            } else {
                let reason = if code == 51008 {
                    RejectReason::InsufficientFunds
                } else {
                    RejectReason::Other
                };
                ExecReport::Reject(Reject::new(m, cl, reason, code))
            });
        }
    }
    out
}

fn j(s: &str) -> J {
    serde_json::from_str(s).unwrap()
}

// ------------------------------------------------------------------------------------------

fn trade_variants() -> Vec<String> {
    vec![
        exec_with(&[
            ("x", r#""TRADE""#),
            ("X", r#""PARTIALLY_FILLED""#),
            ("c", r#""tw7x42""#),
            ("t", "56"),
            ("l", r#""0.02409800""#),
            ("L", r#""0.10264410""#),
            ("n", r#""0.00000247""#),
            ("N", r#""BTC""#),
            ("m", "true"),
        ]),
        // Commission in BNB: neither quote nor base, so booked as an other-asset fee and named raw.
        exec_with(&[
            ("x", r#""TRADE""#),
            ("c", r#""tw7x42""#),
            ("t", "57"),
            ("l", r#""1.00000000""#),
            ("L", r#""0.10264410""#),
            ("n", r#""0.00010000""#),
            ("N", r#""BNB""#),
            ("S", r#""SELL""#),
        ]),
        exec_with(&[
            ("x", r#""CANCELED""#),
            ("c", r#""cancelReq1""#),
            ("C", r#""tw7x42""#),
        ]),
        exec_with(&[("x", r#""EXPIRED""#), ("c", r#""tw7x42""#)]),
        exec_with(&[("x", r#""TRADE_PREVENTION""#), ("C", r#""tw7x42""#)]),
        exec_with(&[
            ("x", r#""REJECTED""#),
            ("c", r#""tw7x42""#),
            ("r", r#""INSUFFICIENT_BALANCE""#),
        ]),
        exec_with(&[("x", r#""REPLACED""#)]),
    ]
}

#[test]
fn binance_execution_report_doc_literal() {
    let expect = vec![ExecReport::Ack(Ack {
        meta: meta(VenueId::BINANCE, ETHBTC, Some(1_499_405_658_658)),
        cl_ord_id: ClientOrderId::default(),
        venue_order_id: 4_293_153,
    })];
    assert_eq!(user_data(EXEC_NEW).unwrap(), expect);
    assert_eq!(user_data(&wrapped(EXEC_NEW)).unwrap(), expect);
    assert_eq!(ref_binance_exec(&j(EXEC_NEW)), expect);
    for other in [ACCOUNT_POS, BALANCE] {
        assert_eq!(user_data(other).unwrap(), vec![]);
        assert_eq!(user_data(&wrapped(other)).unwrap(), vec![]);
    }
}

#[test]
fn binance_execution_report_variants_agree_with_reference() {
    let v = trade_variants();
    for frame in &v {
        let got = user_data(frame).unwrap();
        assert_eq!(got, ref_binance_exec(&j(frame)), "{frame}");
        assert_eq!(user_data(&wrapped(frame)).unwrap(), got);
    }
    let ExecReport::Fill(f) = user_data(&v[0]).unwrap()[0] else {
        panic!("fill expected")
    };
    assert_eq!(f.cl_ord_id, ours());
    assert_eq!(f.qty, Qty::from_raw(24_098_000), "0.024098 stays exact");
    assert_eq!(f.fee, px("0.00000247"));
    assert_eq!(f.fee_unit(), Some(FeeUnit::Quote), "BTC is ETHBTC's quote");
    assert_eq!(f.trade_id, 56);
    assert_eq!(
        (f.side, f.liquidity),
        (Side::Buy.code(), Liquidity::Maker.code())
    );

    let mut d = BinanceReportDecoder::new(VenueId::BINANCE);
    let mut buf = v[1].as_bytes().to_vec();
    let mut out = Vec::new();
    let s = d
        .decode_user_data(&mut buf, &symbols(), RECV, &mut |r| out.push(r))
        .unwrap();
    let ExecReport::Fill(f) = out[0] else {
        panic!()
    };
    assert_eq!(
        (f.fee, f.fee_unit()),
        (px("0.0001"), Some(FeeUnit::Other)),
        "BNB is booked, apart"
    );
    assert_eq!(f.base_fee(), Qty::ZERO);
    let raw = s.unbooked_fee.unwrap();
    assert_eq!((raw.amount, raw.asset()), (px("0.0001"), &b"BNB"[..]));
    assert!(!s.foreign);

    for (frame, id) in [(&v[2], ours()), (&v[3], ours()), (&v[4], ours())] {
        assert_eq!(
            user_data(frame).unwrap(),
            vec![ExecReport::CancelAck(CancelAck {
                meta: meta(VenueId::BINANCE, ETHBTC, Some(1_499_405_658_658)),
                cl_ord_id: id,
            })]
        );
    }
    let ExecReport::Reject(r) = user_data(&v[5]).unwrap()[0] else {
        panic!()
    };
    assert_eq!(r.reason(), Some(RejectReason::InsufficientFunds));
    assert_eq!(user_data(&v[6]).unwrap(), vec![], "REPLACED is ignored");
}

#[test]
fn binance_order_responses() {
    let ctx = place_ctx();
    let ack = rest(200, ACK, ctx).unwrap();
    assert_eq!(ack, ref_binance_order(&j(ACK)));
    assert_eq!(
        ack,
        vec![ExecReport::Ack(Ack {
            meta: meta(VenueId::BINANCE, BTCUSDT, Some(1_507_725_176_595)),
            cl_ord_id: ClientOrderId::default(),
            venue_order_id: 28,
        })]
    );
    let result = rest(200, RESULT, ctx).unwrap();
    assert_eq!(result, ref_binance_order(&j(RESULT)));
    assert!(matches!(result[1], ExecReport::Status(s) if s.filled_qty == qty("10")));

    let full = full();
    let got = rest(200, &full, ctx).unwrap();
    assert_eq!(got, ref_binance_order(&j(&full)));
    assert_eq!(got.len(), 6);
    let fills: Vec<Fill> = got
        .iter()
        .filter_map(|r| match r {
            ExecReport::Fill(f) => Some(*f),
            _ => None,
        })
        .collect();
    assert_eq!(
        fills.iter().map(|f| f.trade_id).collect::<Vec<_>>(),
        vec![56, 57, 58, 59, 60]
    );
    assert_eq!(fills[1].fee, px("19.995"));
    assert_eq!(fills[1].qty, qty("5"));
    assert_eq!(fills[1].px, px("3999"));
    assert!(fills.iter().all(|f| f.side == Side::Sell.code()));

    // The same body as a WS-API result.
    let ws = format!(r#"{{"id":"x","status":200,"result":{full},"rateLimits":[]}}"#);
    assert_eq!(ws_api(&ws, ctx).unwrap(), got);
}

#[test]
fn binance_errors() {
    let ctx = place_ctx();
    let m = meta(VenueId::BINANCE, BTCUSDT, None);
    let rej = |reason, code| vec![ExecReport::Reject(Reject::new(m, ours(), reason, code))];
    assert_eq!(
        rest(400, ERR_SYMBOL, ctx).unwrap(),
        rej(RejectReason::Other, -1121)
    );
    assert_eq!(
        rest(400, ERR_FUNDS, ctx).unwrap(),
        rej(RejectReason::InsufficientFunds, -2010)
    );
    assert_eq!(
        rest(400, ERR_LOT, ctx).unwrap(),
        rej(RejectReason::InvalidOrder, -1013)
    );
    assert_eq!(
        ws_api(WS_ERR, ctx).unwrap(),
        rej(RejectReason::InsufficientFunds, -2010)
    );
    for (code, msg, reason) in [
        (
            -1013,
            "Filter failure: PRICE_FILTER",
            RejectReason::InvalidOrder,
        ),
        (
            -1111,
            "Precision is over the maximum defined for this asset.",
            RejectReason::InvalidOrder,
        ),
        (
            -2010,
            "Order would immediately match and take.",
            RejectReason::WouldTake,
        ),
        (-2010, "Duplicate order sent.", RejectReason::Other),
        (-2011, "Unknown order sent.", RejectReason::UnknownOrder),
        (-2013, "Order does not exist.", RejectReason::UnknownOrder),
        (
            -1021,
            "Timestamp for this request is outside of the recvWindow.",
            RejectReason::Timestamp,
        ),
        (
            -1022,
            "Signature for this request is not valid.",
            RejectReason::Auth,
        ),
        (-2014, "API-key format invalid.", RejectReason::Auth),
        (
            -2015,
            "Invalid API-key, IP, or permissions for action.",
            RejectReason::Auth,
        ),
        (-1003, "Too many requests.", RejectReason::RateLimited),
    ] {
        let body = format!(r#"{{"code":{code},"msg":"{msg}"}}"#);
        assert_eq!(rest(400, &body, ctx).unwrap(), rej(reason, code), "{body}");
    }
    // Cancel requests reject as CancelReject.
    let cctx = RequestCtx {
        kind: RequestKind::Cancel,
        ..ctx
    };
    assert_eq!(
        rest(400, r#"{"code":-2011,"msg":"Unknown order sent."}"#, cctx).unwrap(),
        vec![ExecReport::CancelReject(Reject::new(
            m,
            ours(),
            RejectReason::UnknownOrder,
            -2011
        ))]
    );
    // 5xx: status unknown, whatever the body.
    let unknown = vec![ExecReport::Unknown(Unknown::new(
        m,
        ours(),
        UnknownCause::ServerError,
    ))];
    for body in ["", "<html>", ERR_FUNDS] {
        assert_eq!(rest(503, body, ctx).unwrap(), unknown);
    }
    assert_eq!(
        ws_api(
            r#"{"id":"x","status":500,"error":{"code":-1000,"msg":"x"}}"#,
            ctx
        )
        .unwrap(),
        unknown
    );
    // A WAF / rate-limit page that is not JSON still rejects by status.
    assert_eq!(
        rest(429, "<html>", ctx).unwrap(),
        rej(RejectReason::RateLimited, 0)
    );
    assert_eq!(
        rest(403, "<html>", ctx).unwrap(),
        rej(RejectReason::Other, 0)
    );
}

#[test]
fn okx_doc_literals() {
    let got = okx(OKX_PUSH).unwrap();
    assert_eq!(got, ref_okx(&j(OKX_PUSH)));
    assert_eq!(got.len(), 1, "filled with a fill record: the fill only");
    let ExecReport::Fill(f) = got[0] else {
        panic!()
    };
    assert_eq!(f.venue_order_id, 452_197_707_845_865_472);
    assert_eq!(f.trade_id, 242_589_207);
    assert_eq!((f.px, f.qty), (px("31527.1"), qty("0.001")));
    assert_eq!(
        f.fee,
        px("0.02522168"),
        "charged fee is positive in our convention"
    );
    assert_eq!(f.liquidity, Liquidity::Maker.code());
    assert_eq!(f.side, Side::Sell.code());

    let ok = okx(OKX_OK).unwrap();
    assert_eq!(ok, ref_okx(&j(OKX_OK)));
    assert!(matches!(ok[..], [ExecReport::Ack(a)] if a.venue_order_id == 12_345_689));
    let fail = okx(OKX_FAIL).unwrap();
    assert_eq!(fail, ref_okx(&j(OKX_FAIL)));
    assert!(matches!(fail[..], [ExecReport::Reject(r)]
        if r.venue_code == 51008 && r.cl_ord_id == ours()
            && r.reason() == Some(RejectReason::InsufficientFunds)));

    let mut d = OkxReportDecoder::new(VenueId::OKX);
    let mut buf = OKX_FORMAT_ERR.as_bytes().to_vec();
    let s = d
        .decode_private(&mut buf, &symbols(), RECV, &mut |_| panic!())
        .unwrap();
    assert_eq!(
        (s.kind, s.envelope_error),
        (MessageKind::Reply, Some(50014))
    );
}

fn okx_variant(pairs: &[(&str, &str)]) -> String {
    let mut v = j(OKX_PUSH);
    for (k, val) in pairs {
        v["data"][0][*k] = J::String((*val).to_owned());
    }
    v.to_string()
}

#[test]
fn okx_state_variants_agree_with_reference() {
    let none = [
        ("tradeId", ""),
        ("fillSz", "0"),
        ("fillPx", ""),
        ("fillFee", "0"),
    ];
    let cases = [
        okx_variant(
            &[
                &none[..],
                &[("state", "live"), ("clOrdId", "tw7x42"), ("accFillSz", "0")],
            ]
            .concat(),
        ),
        okx_variant(&[("state", "canceled")]),
        okx_variant(&[("state", "mmp_canceled")]),
        okx_variant(&[&none[..], &[("state", "filled")]].concat()),
        okx_variant(
            &[
                &none[..],
                &[("state", "partially_filled"), ("accFillSz", "0.024098")],
            ]
            .concat(),
        ),
        okx_variant(&[
            ("execType", "T"),
            ("fillSz", "0.024098"),
            ("fillFee", "0.001"),
        ]),
        okx_variant(&[("fillFeeCcy", "BTC"), ("fillFee", "-0.000001")]),
        okx_variant(&[
            ("side", "buy"),
            ("fillFeeCcy", "BTC"),
            ("fillFee", "-0.000001"),
        ]),
        okx_variant(&[("fillFeeCcy", "OKB"), ("fillFee", "-0.02")]),
    ];
    for c in &cases {
        assert_eq!(okx(c).unwrap(), ref_okx(&j(c)), "{c}");
    }
    assert!(matches!(okx(&cases[0]).unwrap()[..], [ExecReport::Ack(a)] if a.cl_ord_id == ours()));
    assert!(
        matches!(okx(&cases[4]).unwrap()[..], [ExecReport::Status(s)]
        if s.filled_qty == Qty::from_raw(24_098_000)
            && s.status == OrderStatus::PartiallyFilled.code())
    );
    let ExecReport::Fill(f) = okx(&cases[5]).unwrap()[0] else {
        panic!()
    };
    assert_eq!(f.qty, Qty::from_raw(24_098_000));
    assert_eq!(
        f.fee,
        px("0.001").neg(),
        "OKX positive fee = rebate = negative for us"
    );
    assert_eq!(f.liquidity, Liquidity::Taker.code());
    assert_eq!(f.fee_unit(), Some(FeeUnit::Quote));
    let ExecReport::Fill(f) = okx(&cases[6]).unwrap()[0] else {
        panic!()
    };
    assert_eq!(
        (f.fee, f.fee_unit()),
        (px("0.000001"), Some(FeeUnit::Base)),
        "OKX fillFee -0.000001 BTC = 0.000001 BTC paid in base"
    );
    assert_eq!(f.inventory_delta(Side::Sell), qty("0.001001").neg());
    let ExecReport::Fill(f) = okx(&cases[7]).unwrap()[0] else {
        panic!()
    };
    assert_eq!(
        (f.side, f.fee_unit()),
        (Side::Buy.code(), Some(FeeUnit::Base))
    );
    assert_eq!(
        f.inventory_delta(Side::Buy),
        qty("0.000999"),
        "bought less the base fee"
    );
    let ExecReport::Fill(f) = okx(&cases[8]).unwrap()[0] else {
        panic!()
    };
    assert_eq!((f.fee, f.fee_unit()), (px("0.02"), Some(FeeUnit::Other)));
}

#[test]
fn binance_commission_in_base_quote_and_bnb() {
    let trade = |side: &str, n: &str, asset: &str| {
        exec_with(&[
            ("s", r#""BTCUSDT""#),
            ("x", r#""TRADE""#),
            ("c", r#""tw7x42""#),
            ("t", "70"),
            ("S", side),
            ("l", r#""1.00000000""#),
            ("L", r#""50000.00000000""#),
            ("n", n),
            ("N", asset),
            ("m", "false"),
        ])
    };
    let fill = |frame: &str| {
        let got = user_data(frame).unwrap();
        assert_eq!(got, ref_binance_exec(&j(frame)), "{frame}");
        match got[..] {
            [ExecReport::Fill(f)] => f,
            _ => panic!("one fill expected: {got:?}"),
        }
    };
    // Buy 1 BTC, commission 0.001 BTC: 0.999 BTC arrives.
    let f = fill(&trade(r#""BUY""#, r#""0.00100000""#, r#""BTC""#));
    assert_eq!((f.fee, f.fee_unit()), (px("0.001"), Some(FeeUnit::Base)));
    assert_eq!(f.inventory_delta(Side::Buy), qty("0.999"));
    // Sell 1 BTC, commission 50 USDT: the whole BTC leaves, the fee is quote.
    let f = fill(&trade(r#""SELL""#, r#""50.00000000""#, r#""USDT""#));
    assert_eq!((f.fee, f.fee_unit()), (px("50"), Some(FeeUnit::Quote)));
    assert_eq!(f.inventory_delta(Side::Sell), qty("1").neg());
    // BNB commission: booked apart, inventory untouched.
    let f = fill(&trade(r#""BUY""#, r#""0.00750000""#, r#""BNB""#));
    assert_eq!((f.fee, f.fee_unit()), (px("0.0075"), Some(FeeUnit::Other)));
    assert_eq!(f.inventory_delta(Side::Buy), qty("1"));
    // The journal's JSON names the unit.
    let json = serde_json::to_value(f).unwrap();
    assert_eq!(json["fee_asset"], "other");
}

#[test]
fn malformed_is_an_error() {
    let ctx = place_ctx();
    assert_eq!(user_data("{"), Err(DecodeError::Json));
    assert_eq!(user_data("[]"), Err(DecodeError::Invalid("root")));
    assert_eq!(
        user_data(&exec_with(&[("s", r#""NOPE""#)])),
        Err(DecodeError::UnknownSymbol)
    );
    assert_eq!(
        user_data(&exec_with(&[
            ("x", r#""TRADE""#),
            ("t", "5"),
            ("l", r#""1e-3""#)
        ])),
        Err(DecodeError::Invalid("l"))
    );
    assert_eq!(rest(200, "nope", ctx), Err(DecodeError::Json));
    assert_eq!(
        okx(r#"{"arg":{"channel":"orders"}}"#),
        Err(DecodeError::Missing("data"))
    );
    assert_eq!(
        okx(&okx_variant(&[("ordId", "-1")])),
        Err(DecodeError::Invalid("ordId"))
    );
    assert_eq!(parse_client_order_id(b"tw7x42"), Some(ours()));
}

#[test]
fn decoder_reuse_is_stable() {
    // The same decoder across many messages (buffers reused) gives the same answers.
    let mut d = BinanceReportDecoder::new(VenueId::BINANCE);
    let t = symbols();
    let full = full();
    for _ in 0..3 {
        for frame in [EXEC_NEW, "{", ACK, full.as_str()] {
            let mut a = Vec::new();
            let mut buf = frame.as_bytes().to_vec();
            let ra = d.decode_user_data(&mut buf, &t, RECV, &mut |r| a.push(r));
            assert_eq!(ra.is_ok(), frame == EXEC_NEW);
            let mut buf = frame.as_bytes().to_vec();
            let mut b = Vec::new();
            let _ =
                d.decode_rest_response(200, &mut buf, place_ctx(), &t, RECV, &mut |r| b.push(r));
        }
    }
}

fn all_literals() -> Vec<String> {
    let mut v: Vec<String> = [
        ACK,
        RESULT,
        ERR_SYMBOL,
        ERR_FUNDS,
        ERR_LOT,
        WS_ERR,
        EXEC_NEW,
        ACCOUNT_POS,
        BALANCE,
        OKX_PUSH,
        OKX_OK,
        OKX_FAIL,
        OKX_FORMAT_ERR,
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    v.push(full());
    v.push(wrapped(EXEC_NEW));
    v.extend(trade_variants());
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn damaged_literals_never_panic(
        which in 0usize..64,
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
        status in prop::sample::select(vec![200u16, 400, 429, 503]),
    ) {
        let lits = all_literals();
        let mut bytes = lits[which % lits.len()].clone().into_bytes();
        for (at, b) in flips {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        let t = symbols();
        let mut b = BinanceReportDecoder::new(VenueId::BINANCE);
        let mut o = OkxReportDecoder::new(VenueId::OKX);
        let mut sink = |_r: ExecReport| {};
        let _ = b.decode_user_data(&mut bytes.clone(), &t, RECV, &mut sink);
        let _ = b.decode_rest_response(status, &mut bytes.clone(), place_ctx(), &t, RECV, &mut sink);
        let _ = b.decode_ws_api_response(&mut bytes.clone(), place_ctx(), &t, RECV, &mut sink);
        let _ = o.decode_private(&mut bytes.clone(), &t, RECV, &mut sink);
    }
}
