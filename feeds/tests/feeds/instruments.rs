//! Instrument specs from the real Binance exchangeInfo and OKX instruments responses.

use crate::common;

use serde_json::Value;
use tickwire_core::ids::{InstrumentId, VenueId};
use tickwire_core::num::{InstrumentSpec, NumError, Px, Qty};
use tickwire_feeds::venue::{DecodeError, SpecLoadError, binance, okx};

fn px(s: &str) -> Px {
    Px::parse(s).expect("px")
}
fn qty(s: &str) -> Qty {
    Qty::parse(s).expect("qty")
}

/// The exchangeInfo JSON without the recorder prefix (`<url> -> <time>: `).
fn exchange_info() -> Vec<u8> {
    let bodies = common::cryptofeed_http("binance/cryptofeed_BINANCE_exchangeInfo.json.txt");
    assert_eq!(bodies.len(), 1);
    bodies.into_iter().next().expect("body").2
}

fn okx_bodies() -> Vec<(String, Vec<u8>)> {
    common::cryptofeed_http("okx/cryptofeed_OKX_instruments.txt")
        .into_iter()
        .map(|(url, _, body)| (url, body))
        .collect()
}

#[test]
fn binance_exchange_info_real_sample() {
    let wanted = [
        ("BTCUSDT", InstrumentId(0)),
        ("NKNUSDT", InstrumentId(1)),
        ("BLZETH", InstrumentId(2)),
    ];
    let specs = binance::specs_for(&mut exchange_info(), VenueId::BINANCE, &wanted).expect("specs");
    assert_eq!(
        specs[0],
        InstrumentSpec {
            id: InstrumentId(0),
            venue: VenueId::BINANCE,
            symbol: "BTCUSDT".into(),
            tick: px("0.01"),
            lot: qty("0.00001"),
            min_qty: qty("0.00001"),
            min_notional: px("10"),
        }
    );
    assert_eq!(
        (
            specs[1].tick,
            specs[1].lot,
            specs[1].min_qty,
            specs[1].min_notional
        ),
        (px("0.0001"), qty("1"), qty("1"), px("10"))
    );
    assert_eq!(specs[2].min_notional, px("0.005"));
    assert_eq!(specs[2].id, InstrumentId(2));
}

/// Every symbol of the real response loads, and matches a serde_json reading of the filters.
#[test]
fn binance_every_symbol_matches_reference() {
    let body = exchange_info();
    let mut next = 0u32;
    let specs = binance::parse_exchange_info(&mut body.clone(), VenueId::BINANCE, |_| {
        next += 1;
        Some(InstrumentId(next - 1))
    })
    .expect("all symbols");
    let v: Value = serde_json::from_slice(&body).expect("json");
    let symbols = v["symbols"].as_array().expect("symbols");
    assert_eq!(specs.len(), symbols.len());
    assert_eq!(specs.len(), 1695);
    for (spec, s) in specs.iter().zip(symbols) {
        assert_eq!(spec.symbol, s["symbol"].as_str().expect("symbol"));
        let filter = |kind: &str, field: &str| {
            s["filters"]
                .as_array()
                .expect("filters")
                .iter()
                .find(|f| f["filterType"] == kind)
                .map(|f| f[field].as_str().expect("str").to_owned())
        };
        assert_eq!(
            spec.tick,
            px(&filter("PRICE_FILTER", "tickSize").expect("tick"))
        );
        assert_eq!(spec.lot, qty(&filter("LOT_SIZE", "stepSize").expect("lot")));
        assert_eq!(
            spec.min_qty,
            qty(&filter("LOT_SIZE", "minQty").expect("min"))
        );
        let notional = filter("NOTIONAL", "minNotional")
            .or_else(|| filter("MIN_NOTIONAL", "minNotional"))
            .map_or(Px::ZERO, |n| px(&n));
        assert_eq!(spec.min_notional, notional);
        assert!(spec.validate().is_ok());
    }
}

#[test]
fn binance_errors() {
    let err = binance::specs_for(
        &mut exchange_info(),
        VenueId::BINANCE,
        &[("NOPE", InstrumentId(0))],
    );
    assert_eq!(err, Err(SpecLoadError::Missing("NOPE".into())));
    let mut body = br#"{"symbols":[{"symbol":"X","filters":[{"filterType":"PRICE_FILTER","tickSize":"0"},{"filterType":"LOT_SIZE","stepSize":"1","minQty":"1"}]}]}"#.to_vec();
    assert!(matches!(
        binance::parse_exchange_info(&mut body, VenueId::BINANCE, |_| Some(InstrumentId(0))),
        Err(SpecLoadError::Invalid { .. })
    ));
    let mut body = br#"{"symbols":[{"symbol":"X","filters":[{"filterType":"LOT_SIZE","stepSize":"1","minQty":"1"}]}]}"#.to_vec();
    assert!(matches!(
        binance::parse_exchange_info(&mut body, VenueId::BINANCE, |_| Some(InstrumentId(0))),
        Err(SpecLoadError::Field { .. })
    ));
    let mut body = b"not json".to_vec();
    assert!(matches!(
        binance::parse_exchange_info(&mut body, VenueId::BINANCE, |_| None),
        Err(SpecLoadError::Decode(_))
    ));
}

#[test]
fn okx_instruments_real_sample() {
    let mut bodies: Vec<Vec<u8>> = okx_bodies().into_iter().map(|(_, b)| b).take(5).collect();
    let wanted = [
        ("BTC-USDT", InstrumentId(0)),
        ("UNI-USD-SWAP", InstrumentId(1)),
        ("BTC-USD-220527", InstrumentId(2)),
    ];
    let specs = okx::specs_for(&mut bodies, VenueId::OKX, &wanted).expect("specs");
    let rules: Vec<_> = specs
        .iter()
        .map(|s| (s.symbol.as_str(), s.tick, s.lot, s.min_qty, s.min_notional))
        .collect();
    assert_eq!(
        rules,
        vec![
            (
                "BTC-USDT",
                px("0.1"),
                qty("0.00000001"),
                qty("0.00001"),
                Px::ZERO
            ),
            ("UNI-USD-SWAP", px("0.001"), qty("1"), qty("1"), Px::ZERO),
            ("BTC-USD-220527", px("0.1"), qty("1"), qty("1"), Px::ZERO),
        ]
    );
}

/// More than 9 significant decimals: not representable by `Px`/`Qty`.
fn too_precise(s: &str) -> bool {
    s.split_once('.')
        .is_some_and(|(_, f)| f.trim_end_matches('0').len() > 9)
}

/// Every instrument of every real response loads and matches a serde_json reading, except the
/// 16 (14 spot, 2 swap) whose tick is finer than 1e-9, which are refused with a clear reason.
#[test]
fn okx_every_instrument_matches_reference() {
    let (mut total, mut refused) = (0, 0);
    for (url, body) in okx_bodies() {
        let v: Value = serde_json::from_slice(&body).expect("json");
        let data = v["data"].as_array().expect("data");
        let fits = |d: &Value| {
            ["tickSz", "lotSz", "minSz"]
                .iter()
                .all(|k| !too_precise(d[*k].as_str().expect("str")))
        };
        let specs = okx::parse_instruments(&mut body.clone(), VenueId::OKX, |inst| {
            let d = data.iter().find(|d| d["instId"] == inst).expect("listed");
            fits(d).then_some(InstrumentId(0))
        })
        .unwrap_or_else(|e| panic!("{url}: {e}"));
        let expected: Vec<&Value> = data.iter().filter(|d| fits(d)).collect();
        assert_eq!(specs.len(), expected.len(), "{url}");
        for (spec, d) in specs.iter().zip(expected) {
            assert_eq!(spec.symbol, d["instId"].as_str().expect("instId"));
            assert_eq!(spec.tick, px(d["tickSz"].as_str().expect("tick")));
            assert_eq!(spec.lot, qty(d["lotSz"].as_str().expect("lot")));
            assert_eq!(spec.min_qty, qty(d["minSz"].as_str().expect("min")));
        }
        for d in data.iter().filter(|d| !fits(d)) {
            let inst = d["instId"].as_str().expect("instId");
            let err = okx::parse_instruments(&mut body.clone(), VenueId::OKX, |i| {
                (i == inst).then_some(InstrumentId(0))
            });
            assert_eq!(
                err,
                Err(SpecLoadError::Field {
                    symbol: inst.to_owned(),
                    error: DecodeError::BadNumber {
                        field: "tickSz",
                        error: NumError::TooPrecise
                    }
                })
            );
            refused += 1;
        }
        total += specs.len();
    }
    assert_eq!(refused, 5 * 16);
    assert_eq!(total, 5 * (513 + 166 + 104 + 346 + 350 - 16));
}

#[test]
fn okx_errors() {
    let mut body = br#"{"code":"51001","msg":"Instrument ID does not exist","data":[]}"#.to_vec();
    assert_eq!(
        okx::parse_instruments(&mut body, VenueId::OKX, |_| None),
        Err(SpecLoadError::VenueError("51001".into()))
    );
    let mut bodies = vec![br#"{"code":"0","data":[]}"#.to_vec()];
    assert_eq!(
        okx::specs_for(&mut bodies, VenueId::OKX, &[("BTC-USDT", InstrumentId(0))]),
        Err(SpecLoadError::Missing("BTC-USDT".into()))
    );
    let mut body =
        br#"{"code":"0","data":[{"instId":"X","tickSz":"","lotSz":"1","minSz":"1"}]}"#.to_vec();
    assert!(matches!(
        okx::parse_instruments(&mut body, VenueId::OKX, |_| Some(InstrumentId(0))),
        Err(SpecLoadError::Field { .. })
    ));
}
