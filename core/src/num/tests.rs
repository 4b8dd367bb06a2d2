//! Tests for the exact numbers: parsing, formatting, `Decimal` conversion, notional, rounding,
//! minimums and tolerances. Unit tests pin each rule and edge; proptest properties check the
//! parser and formatter against each other and against `rust_decimal` as an oracle.

use core::str::FromStr;

use proptest::prelude::*;
use rust_decimal::Decimal;

use super::*;
use crate::ids::{InstrumentId, VenueId};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// `write_nanos` into a `String`.
fn fmt_raw(raw: i64, min_decimals: u32) -> String {
    let mut buf = [0u8; 32];
    let n = write_nanos(raw, min_decimals, &mut buf);
    String::from_utf8(buf[..n].to_vec()).expect("write_nanos emits ASCII")
}

/// Signed parse to raw nano-units.
fn signed(s: &str) -> Result<i64, NumError> {
    parse_nanos(s.as_bytes(), true)
}

/// Unsigned parse to raw nano-units.
fn unsigned(s: &str) -> Result<i64, NumError> {
    parse_nanos(s.as_bytes(), false)
}

fn px(s: &str) -> Px {
    Px::parse_signed(s).expect("test price")
}

fn qty(s: &str) -> Qty {
    Qty::parse_signed(s).expect("test quantity")
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str_exact(s).expect("test decimal")
}

/// Binance BTCUSDT-like rules: tick 0.01, lot 0.00001, min qty 0.00001, min notional 5.
fn btc_spec() -> InstrumentSpec {
    InstrumentSpec {
        id: InstrumentId(0),
        venue: VenueId::BINANCE,
        symbol: "BTCUSDT".to_owned(),
        tick: px("0.01"),
        lot: qty("0.00001"),
        min_qty: qty("0.00001"),
        min_notional: px("5"),
    }
}

fn spec_with(tick: Px, lot: Qty) -> InstrumentSpec {
    InstrumentSpec {
        tick,
        lot,
        ..btc_spec()
    }
}

/// The pieces of a plain decimal (`[sign]digits[.digits]`), or `None` for anything else.
/// Leading zeros of the integer part and trailing zeros of the fraction are stripped.
struct Plain {
    negative: bool,
    int: String,
    frac: String,
}

fn plain(s: &str, allow_sign: bool) -> Option<Plain> {
    let (negative, body) = match s.as_bytes().first() {
        Some(b'-') if allow_sign => (true, &s[1..]),
        Some(b'+') if allow_sign => (false, &s[1..]),
        _ => (false, s),
    };
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    let all_digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(int) || !frac.is_none_or(all_digits) {
        return None;
    }
    Some(Plain {
        negative,
        int: int.trim_start_matches('0').to_owned(),
        frac: frac.unwrap_or("").trim_end_matches('0').to_owned(),
    })
}

/// The exact value of a plain decimal in nano-units as an `i128`, or `None` when it has more
/// than 9 significant decimals or is far beyond any `i64` (an independent reference parser).
fn reference_nanos(p: &Plain) -> Option<i128> {
    if p.frac.len() > 9 || p.int.len() > 20 {
        return None;
    }
    let int: i128 = if p.int.is_empty() {
        0
    } else {
        p.int.parse().ok()?
    };
    let mut frac: i128 = if p.frac.is_empty() {
        0
    } else {
        p.frac.parse().ok()?
    };
    for _ in p.frac.len()..9 {
        frac *= 10;
    }
    let magnitude = int * 1_000_000_000 + frac;
    Some(if p.negative { -magnitude } else { magnitude })
}

/// The value range our parser accepts: `i64` without `i64::MIN`.
fn in_range(v: i128) -> bool {
    v >= -i128::from(i64::MAX) && v <= i128::from(i64::MAX)
}

// ---------------------------------------------------------------------------------------------
// Parsing: accepted values and edges
// ---------------------------------------------------------------------------------------------

#[test]
fn parses_venue_strings_exactly() {
    assert_eq!(unsigned("61837.63000000"), Ok(61_837_630_000_000));
    assert_eq!(unsigned("30249.4"), Ok(30_249_400_000_000));
    assert_eq!(unsigned("0"), Ok(0));
    assert_eq!(unsigned("0.024098"), Ok(24_098_000));
    assert_eq!(unsigned("0.00006547"), Ok(65_470));
    assert_eq!(unsigned("1.67177000"), Ok(1_671_770_000));
    assert_eq!(unsigned("100"), Ok(100 * SCALE));
    assert_eq!(
        Px::parse("61837.63000000").unwrap().raw(),
        61_837_630_000_000
    );
    assert_eq!(Qty::parse_bytes(b"0.024098").unwrap().raw(), 24_098_000);
}

#[test]
fn smallest_unit() {
    assert_eq!(unsigned("0.000000001"), Ok(1));
    assert_eq!(signed("-0.000000001"), Ok(-1));
    assert_eq!(unsigned("0.000000009"), Ok(9));
}

#[test]
fn i64_max_boundary() {
    assert_eq!(unsigned("9223372036.854775807"), Ok(i64::MAX));
    assert_eq!(Px::parse("9223372036.854775807"), Ok(Px::MAX));
    assert_eq!(unsigned("9223372036.854775807000"), Ok(i64::MAX));
    assert_eq!(unsigned("0009223372036.854775807"), Ok(i64::MAX));
    assert_eq!(signed("-9223372036.854775807"), Ok(-i64::MAX));
    // One past it, either way.
    assert_eq!(unsigned("9223372036.854775808"), Err(NumError::Overflow));
    assert_eq!(unsigned("9223372036.854775810"), Err(NumError::Overflow));
    assert_eq!(unsigned("9223372037"), Err(NumError::Overflow));
    assert_eq!(unsigned("9223372036.9"), Err(NumError::Overflow));
    // i64::MIN is excluded on purpose so that negation and abs can never overflow.
    assert_eq!(signed("-9223372036.854775808"), Err(NumError::Overflow));
    assert_eq!(signed("-9223372037"), Err(NumError::Overflow));
    // The integer accumulator itself overflowing u64 is an error, not a wrap.
    assert_eq!(unsigned("18446744073709551615"), Err(NumError::Overflow));
    assert_eq!(unsigned("18446744073709551616"), Err(NumError::Overflow));
    assert_eq!(
        unsigned("99999999999999999999999999999999999999999999.5"),
        Err(NumError::Overflow)
    );
}

#[test]
fn negative_zero_is_zero() {
    for s in [
        "-0",
        "+0",
        "-0.0",
        "-0.000000000",
        "-0.0000000000000",
        "-000",
    ] {
        assert_eq!(signed(s), Ok(0), "{s}");
    }
    let z = Px::parse_signed("-0").unwrap();
    assert!(z.is_zero() && !z.is_negative());
    assert_eq!(z.to_string(), "0");
    assert_eq!(unsigned("-0"), Err(NumError::UnexpectedSign));
}

#[test]
fn leading_zeros() {
    assert_eq!(unsigned("007"), Ok(7 * SCALE));
    assert_eq!(unsigned("00.5"), Ok(SCALE / 2));
    assert_eq!(
        unsigned("0000000000000000000000000000000000000001.5"),
        Ok(1_500_000_000)
    );
    assert_eq!(unsigned("000000000000000000000000000000"), Ok(0));
}

#[test]
fn trailing_zeros_beyond_nine_decimals_are_exact() {
    assert_eq!(unsigned("1.0000000000"), Ok(SCALE));
    assert_eq!(
        unsigned("1.000000000000000000000000000000000000000"),
        Ok(SCALE)
    );
    assert_eq!(unsigned("0.123456789000"), Ok(123_456_789));
    assert_eq!(unsigned("5.0"), Ok(5 * SCALE));
}

#[test]
fn too_precise() {
    for s in [
        "1.0000000001",
        "0.0000000001",
        "0.0000000005",
        "1.1234567891",
        "1.00000000010",
        "0.0000000000000000000000000001",
        "61837.6300000000000001",
    ] {
        assert_eq!(unsigned(s), Err(NumError::TooPrecise), "{s}");
        assert_eq!(signed(&format!("-{s}")), Err(NumError::TooPrecise), "-{s}");
    }
}

#[test]
fn exponent_is_rejected() {
    for s in ["1e5", "1E5", "1.5e-3", "1e", "e5", "1.0E+2", "0e0", "1.e5"] {
        assert_eq!(unsigned(s), Err(NumError::Exponent), "{s}");
    }
}

#[test]
fn empty_and_sign_only() {
    assert_eq!(unsigned(""), Err(NumError::Empty));
    assert_eq!(signed(""), Err(NumError::Empty));
    assert_eq!(signed("-"), Err(NumError::Empty));
    assert_eq!(signed("+"), Err(NumError::Empty));
    assert_eq!(unsigned("-"), Err(NumError::UnexpectedSign));
    assert_eq!(unsigned("+"), Err(NumError::UnexpectedSign));
    assert_eq!(Px::parse(""), Err(NumError::Empty));
    assert_eq!(Qty::parse_bytes(b""), Err(NumError::Empty));
}

#[test]
fn sign_only_where_allowed() {
    assert_eq!(unsigned("+1"), Err(NumError::UnexpectedSign));
    assert_eq!(unsigned("-1"), Err(NumError::UnexpectedSign));
    assert_eq!(signed("+1"), Ok(SCALE));
    assert_eq!(signed("-1"), Ok(-SCALE));
    assert_eq!(Px::parse("+1"), Err(NumError::UnexpectedSign));
    assert_eq!(Px::parse_bytes(b"-1.5"), Err(NumError::UnexpectedSign));
    assert_eq!(Px::parse_signed("+1").unwrap(), Px::ONE);
    assert_eq!(Qty::parse_signed("-1.5").unwrap().raw(), -1_500_000_000);
    // FromStr is the signed form (positions and PnL are signed).
    assert_eq!("-1.5".parse::<Px>().unwrap().raw(), -1_500_000_000);
    assert_eq!(Qty::from_str("+2").unwrap().raw(), 2 * SCALE);
    assert_eq!("1e5".parse::<Qty>(), Err(NumError::Exponent));
    // Only one sign.
    assert_eq!(signed("--1"), Err(NumError::InvalidChar(1)));
    assert_eq!(signed("+-1"), Err(NumError::InvalidChar(1)));
    assert_eq!(signed("1-"), Err(NumError::InvalidChar(1)));
    assert_eq!(signed("1.5-"), Err(NumError::InvalidChar(3)));
}

#[test]
fn missing_digits_around_the_point() {
    for s in [".5", "5.", ".", "-.5", "-5.", "+.", "-."] {
        assert_eq!(signed(s), Err(NumError::MissingDigits), "{s}");
    }
    assert_eq!(unsigned(".5"), Err(NumError::MissingDigits));
    assert_eq!(unsigned("5."), Err(NumError::MissingDigits));
}

#[test]
fn stray_characters_report_their_offset() {
    let cases: &[(&str, usize)] = &[
        (" 1", 0),
        ("1 ", 1),
        (" 1.5 ", 0),
        ("1.5 ", 3),
        ("1\t", 1),
        ("\n1", 0),
        ("1\n", 1),
        ("1,5", 1),
        ("1_000", 1),
        ("0x10", 1),
        ("1.2.3", 3),
        ("..1", 1),
        ("NaN", 0),
        ("inf", 0),
        ("infinity", 0),
        ("-inf", 1),
        ("abc", 0),
        ("12a", 2),
        ("1\0", 1),
        ("1.5%", 3),
        ("$5", 0),
    ];
    for &(s, at) in cases {
        assert_eq!(signed(s), Err(NumError::InvalidChar(at)), "{s:?}");
    }
    assert_eq!(signed("-1 "), Err(NumError::InvalidChar(2)));
}

#[test]
fn non_ascii_is_rejected() {
    let cases: &[(&str, usize)] = &[
        ("\u{ff11}", 0),     // fullwidth digit one
        ("\u{663}", 0),      // arabic-indic digit three
        ("\u{2212}1", 0),    // unicode minus sign
        ("1.5\u{20ac}", 3),  // euro sign
        ("1\u{a0}", 1),      // no-break space
        ("\u{feff}1", 0),    // byte order mark
        ("1\u{2009}000", 1), // thin space as group separator
        ("0\u{2024}5", 1),   // one dot leader
    ];
    for &(s, at) in cases {
        assert_eq!(signed(s), Err(NumError::InvalidChar(at)), "{s:?}");
    }
    // Raw bytes that are not UTF-8 at all.
    assert_eq!(parse_nanos(&[0xff], true), Err(NumError::InvalidChar(0)));
    assert_eq!(parse_nanos(b"1\x80", true), Err(NumError::InvalidChar(1)));
    assert_eq!(parse_nanos(b"1.\xc3", false), Err(NumError::InvalidChar(2)));
    assert_eq!(
        Px::parse_bytes(b"\xe2\x88\x921"),
        Err(NumError::InvalidChar(0))
    );
}

#[test]
fn error_messages() {
    let all = [
        NumError::Empty,
        NumError::UnexpectedSign,
        NumError::InvalidChar(3),
        NumError::Exponent,
        NumError::MissingDigits,
        NumError::TooPrecise,
        NumError::Overflow,
    ];
    for e in all {
        let msg = e.to_string();
        assert!(!msg.is_empty());
        let _: &dyn std::error::Error = &e;
    }
    assert_eq!(
        NumError::InvalidChar(3).to_string(),
        "invalid character at byte 3"
    );
    assert_eq!(
        NumError::TooPrecise.to_string(),
        "more than 9 decimal places"
    );
}

// ---------------------------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------------------------

#[test]
fn format_with_min_decimals() {
    let p = px("61837.63");
    let mut buf = [0u8; 32];
    assert_eq!(p.write_to(8, &mut buf), b"61837.63000000");
    assert_eq!(p.write_to(0, &mut buf), b"61837.63");
    assert_eq!(p.write_to(1, &mut buf), b"61837.63");
    assert_eq!(p.write_to(2, &mut buf), b"61837.63");
    assert_eq!(p.write_to(9, &mut buf), b"61837.630000000");
    // More than 9 pads only to 9: nothing below a nano-unit exists.
    assert_eq!(p.write_to(12, &mut buf), b"61837.630000000");
    assert_eq!(p.write_to(u32::MAX, &mut buf), b"61837.630000000");
    assert_eq!(fmt_raw(0, 0), "0");
    assert_eq!(fmt_raw(0, 2), "0.00");
    assert_eq!(fmt_raw(SCALE, 0), "1");
    assert_eq!(fmt_raw(10 * SCALE, 0), "10");
    assert_eq!(fmt_raw(-1_500_000_000, 3), "-1.500");
    assert_eq!(fmt_raw(-1_500_000_000, 0), "-1.5");
    assert_eq!(fmt_raw(1, 0), "0.000000001");
    assert_eq!(fmt_raw(-1, 0), "-0.000000001");
    assert_eq!(fmt_raw(24_098_000, 0), "0.024098");
    assert_eq!(fmt_raw(65_470, 8), "0.00006547");
    assert_eq!(fmt_raw(100_050_000_000, 0), "100.05");
    assert_eq!(fmt_raw(30_249_400_000_000, 8), "30249.40000000");
}

#[test]
fn format_range_edges() {
    assert_eq!(fmt_raw(i64::MAX, 0), "9223372036.854775807");
    assert_eq!(fmt_raw(-i64::MAX, 0), "-9223372036.854775807");
    // i64::MIN is only reachable through from_raw; it still formats exactly (and is the one
    // value that does not parse back).
    assert_eq!(fmt_raw(i64::MIN, 0), "-9223372036.854775808");
    assert_eq!(fmt_raw(i64::MIN, 9).len(), 21);
    assert_eq!(signed(&fmt_raw(i64::MIN, 0)), Err(NumError::Overflow));
}

#[test]
fn display_and_debug() {
    let p = px("61837.63");
    assert_eq!(p.to_string(), "61837.63");
    assert_eq!(format!("{p:.8}"), "61837.63000000");
    assert_eq!(format!("{p:.0}"), "61837.63");
    // The precision pads; it never rounds or truncates.
    assert_eq!(format!("{:.1}", px("1.25")), "1.25");
    assert_eq!(format!("{:.3}", qty("0.024098")), "0.024098");
    assert_eq!(format!("{:.12}", px("1.5")), "1.500000000");
    assert_eq!(format!("{}", px("-2")), "-2");
    assert_eq!(format!("{:?}", px("1.5")), "Px(1.5)");
    assert_eq!(format!("{:?}", px("-2")), "Px(-2)");
    assert_eq!(format!("{:?}", qty("0.024098")), "Qty(0.024098)");
    assert_eq!(format!("{:?}", Qty::ZERO), "Qty(0)");
    assert_eq!(Px::MAX.to_string(), "9223372036.854775807");
    assert_eq!(Px::ONE.to_string(), "1");
}

#[test]
fn display_honours_width_fill_and_sign() {
    let p = px("1.5");
    assert_eq!(format!("{p:>8}"), "     1.5");
    assert_eq!(format!("{p:<6}|"), "1.5   |");
    assert_eq!(format!("{p:^7}"), "  1.5  ");
    assert_eq!(format!("{p:*>6}"), "***1.5");
    assert_eq!(format!("{p:>8.2}"), "    1.50");
    assert_eq!(format!("{p:+}"), "+1.5");
    assert_eq!(format!("{:+}", px("-1.5")), "-1.5");
    assert_eq!(format!("{:08.2}", px("-1.5")), "-0001.50");
    assert_eq!(format!("{:>8}", qty("-0.5")), "    -0.5");
    // A width narrower than the number never truncates it.
    assert_eq!(format!("{:2}", px("61837.63")), "61837.63");
}

#[test]
fn display_parses_back() {
    for s in [
        "61837.63",
        "-0.000000001",
        "9223372036.854775807",
        "0",
        "1.67177",
    ] {
        let q = qty(s);
        assert_eq!(q.to_string().parse::<Qty>(), Ok(q));
        assert_eq!(format!("{q:.8}").parse::<Qty>(), Ok(q));
    }
}

// ---------------------------------------------------------------------------------------------
// Constructors and arithmetic
// ---------------------------------------------------------------------------------------------

#[test]
fn constructors_and_arithmetic() {
    assert_eq!(Px::from_units(3), Some(px("3")));
    assert_eq!(Px::from_units(-3), Some(px("-3")));
    assert_eq!(Px::from_units(9_223_372_036), Some(px("9223372036")));
    assert_eq!(Px::from_units(9_223_372_037), None);
    assert_eq!(Qty::from_raw(42).raw(), 42);
    assert_eq!(px("1.5").checked_add(px("0.25")), Some(px("1.75")));
    assert_eq!(Px::MAX.checked_add(Px::from_raw(1)), None);
    assert_eq!(px("1").checked_sub(px("1.5")), Some(px("-0.5")));
    assert_eq!(Px::from_raw(i64::MIN).checked_sub(Px::from_raw(1)), None);
    assert_eq!(Px::MAX.saturating_add(Px::ONE), Px::MAX);
    assert_eq!(
        Px::from_raw(-i64::MAX).saturating_sub(Px::MAX).raw(),
        i64::MIN
    );
    assert_eq!(px("-2.5").abs(), px("2.5"));
    assert_eq!(Px::from_raw(i64::MIN).abs(), Px::MAX);
    assert_eq!(Px::from_raw(i64::MIN).neg(), Px::MAX);
    assert_eq!(px("2.5").neg(), px("-2.5"));
    assert!(Qty::ZERO.is_zero() && !Qty::ZERO.is_positive() && !Qty::ZERO.is_negative());
    assert!(qty("0.000000001").is_positive());
    assert!(qty("-0.000000001").is_negative());
    assert!(px("1.1") < px("1.10000001"));
    assert!(px("-1") < Px::ZERO);
    assert_eq!(Px::default(), Px::ZERO);
}

// ---------------------------------------------------------------------------------------------
// Decimal conversion
// ---------------------------------------------------------------------------------------------

#[test]
fn decimal_conversion_is_exact() {
    let p = px("61837.63");
    assert_eq!(p.to_decimal(), dec("61837.63"));
    assert_eq!(Px::from_decimal(dec("61837.63000000")), Ok(p));
    assert_eq!(Qty::from_decimal(dec("0.024098")), Ok(qty("0.024098")));
    assert_eq!(Qty::from_decimal(dec("0.000000001")), Ok(Qty::from_raw(1)));
    assert_eq!(
        Qty::from_decimal(dec("1.00000000000000000000")),
        Ok(Qty::ONE)
    );
    assert_eq!(Qty::from_decimal(dec("-0")), Ok(Qty::ZERO));
    assert_eq!(Qty::from_decimal(Decimal::ZERO), Ok(Qty::ZERO));
    assert_eq!(Px::from_decimal(dec("9223372036.854775807")), Ok(Px::MAX));
    assert_eq!(
        Px::from_decimal(dec("-9223372036.854775807")),
        Ok(Px::from_raw(-i64::MAX))
    );
    assert_eq!(Px::MAX.to_decimal(), dec("9223372036.854775807"));
    assert_eq!(
        Px::from_raw(i64::MIN).to_decimal(),
        dec("-9223372036.854775808")
    );
}

#[test]
fn decimal_conversion_errors() {
    assert_eq!(
        Px::from_decimal(dec("1.0000000001")),
        Err(NumError::TooPrecise)
    );
    assert_eq!(
        Px::from_decimal(Decimal::new(1, 28)),
        Err(NumError::TooPrecise)
    );
    assert_eq!(
        Px::from_decimal(dec("9223372036.854775808")),
        Err(NumError::Overflow)
    );
    assert_eq!(
        Px::from_decimal(dec("-9223372036.854775808")),
        Err(NumError::Overflow)
    );
    assert_eq!(Px::from_decimal(Decimal::MAX), Err(NumError::Overflow));
    assert_eq!(Px::from_decimal(Decimal::MIN), Err(NumError::Overflow));
    assert_eq!(
        Px::from_decimal(dec("12345678901234567890.5")),
        Err(NumError::Overflow)
    );
}

// ---------------------------------------------------------------------------------------------
// Notional
// ---------------------------------------------------------------------------------------------

#[test]
fn notional_of_is_exact() {
    let n = Notional::of(px("61837.63"), qty("0.024098"));
    assert_eq!(n.raw(), 61_837_630_000_000i128 * 24_098_000);
    assert_eq!(n.to_decimal(), Some(dec("1490.16320774")));
    assert_eq!(n.to_string(), "1490.16320774");
    assert_eq!(format!("{n:.10}"), "1490.1632077400");
    assert_eq!(
        Notional::of(px("10"), qty("0.5")),
        Notional::from_quote(px("5"))
    );
    assert_eq!(Notional::of(px("-2"), qty("3")).to_string(), "-6");
    assert_eq!(
        Notional::of(px("-2"), qty("-3")),
        Notional::of(px("2"), qty("3"))
    );
    assert_eq!(
        Notional::of(px("-2"), qty("3")).abs(),
        Notional::of(px("2"), qty("3"))
    );
    assert_eq!(Notional::ZERO.to_string(), "0");
    assert_eq!(Notional::of(Px::ZERO, Qty::MAX), Notional::ZERO);
    // The smallest notional: 10^-18.
    let tiny = Notional::of(Px::from_raw(1), Qty::from_raw(1));
    assert_eq!(tiny.raw(), 1);
    assert_eq!(tiny.to_string(), "0.000000000000000001");
    assert_eq!(tiny.to_decimal(), Some(dec("0.000000000000000001")));
    assert_eq!(Notional::from_quote(Px::ONE).raw(), NOTIONAL_SCALE);
}

#[test]
fn notional_range_edges() {
    let max = Notional::of(Px::MAX, Qty::MAX);
    assert_eq!(max.raw(), i128::from(i64::MAX) * i128::from(i64::MAX));
    assert_eq!(max.to_string(), "85070591730234615847.396907784232501249");
    let min_sq = Notional::of(Px::from_raw(i64::MIN), Qty::from_raw(i64::MIN));
    assert_eq!(
        min_sq.to_string(),
        "85070591730234615865.843651857942052864"
    );
    let neg = Notional::of(Px::from_raw(i64::MIN), Qty::MAX);
    assert_eq!(neg.raw(), i128::from(i64::MIN) * i128::from(i64::MAX));
    assert_eq!(neg.to_string(), "-85070591730234615856.620279821087277056");
    // 37 significant digits do not fit Decimal's 96-bit mantissa.
    assert_eq!(max.to_decimal(), None);
    // Twice the largest product (about 2^127) still fits an i128; four times does not.
    let twice = max.checked_add(max);
    assert!(twice.is_some());
    assert_eq!(twice.and_then(|t| t.checked_add(t)), None);
}

#[test]
fn notional_to_decimal_drops_trailing_zeros_first() {
    // 10^12 quote units: 10^30 raw, past 2^96, but trivially a Decimal.
    let n = Notional::of(px("1000000000"), qty("1000"));
    assert_eq!(n.to_decimal(), Some(dec("1000000000000")));
    assert_eq!(n.to_string(), "1000000000000");
    // A realistic large notional with decimals: 123675.26 million.
    let n = Notional::of(px("61837.63"), qty("2000000"));
    assert_eq!(n.to_decimal(), Some(dec("123675260000")));
    let n = Notional::of(px("9223372036.854775807"), qty("1"));
    assert_eq!(n.to_decimal(), Some(dec("9223372036.854775807")));
}

#[test]
fn notional_display_never_rounds_or_uses_exponents() {
    let n = Notional::of(px("1.005"), Qty::ONE);
    assert_eq!(format!("{n:.2}"), "1.005");
    assert_eq!(format!("{n:.4}"), "1.0050");
    assert_eq!(format!("{n:>8}"), "   1.005");
    let max = Notional::of(Px::MAX, Qty::MAX);
    assert!(!max.to_string().contains('e'));
}

// ---------------------------------------------------------------------------------------------
// Instrument rules
// ---------------------------------------------------------------------------------------------

#[test]
fn validate_spec() {
    assert_eq!(btc_spec().validate(), Ok(()));
    let mut s = btc_spec();
    s.tick = Px::ZERO;
    assert_eq!(s.validate(), Err(SpecError::NonPositiveTick));
    let mut s = btc_spec();
    s.lot = qty("-0.001");
    assert_eq!(s.validate(), Err(SpecError::NonPositiveLot));
    let mut s = btc_spec();
    s.min_qty = qty("-1");
    assert_eq!(s.validate(), Err(SpecError::NegativeMinimum));
    let mut s = btc_spec();
    s.min_notional = px("-1");
    assert_eq!(s.validate(), Err(SpecError::NegativeMinimum));
    let mut s = btc_spec();
    s.min_qty = Qty::ZERO;
    s.min_notional = Px::ZERO;
    assert_eq!(s.validate(), Ok(()));
    assert!(!SpecError::NonPositiveLot.to_string().is_empty());
}

#[test]
fn round_px_modes() {
    let s = btc_spec();
    let r = |v: &str, m| s.round_px(px(v), m).map(|p| p.to_string());
    assert_eq!(r("61837.634", Round::Down).as_deref(), Some("61837.63"));
    assert_eq!(r("61837.634", Round::Up).as_deref(), Some("61837.64"));
    assert_eq!(r("61837.634", Round::Nearest).as_deref(), Some("61837.63"));
    assert_eq!(r("61837.636", Round::Nearest).as_deref(), Some("61837.64"));
    // Ties go away from zero.
    assert_eq!(r("61837.635", Round::Nearest).as_deref(), Some("61837.64"));
    assert_eq!(r("0.005", Round::Nearest).as_deref(), Some("0.01"));
    assert_eq!(r("-0.005", Round::Nearest).as_deref(), Some("-0.01"));
    assert_eq!(
        r("-61837.635", Round::Nearest).as_deref(),
        Some("-61837.64")
    );
    // Negative values: Down is towards negative infinity, Up towards positive infinity.
    assert_eq!(r("-61837.634", Round::Down).as_deref(), Some("-61837.64"));
    assert_eq!(r("-61837.634", Round::Up).as_deref(), Some("-61837.63"));
    assert_eq!(
        r("-61837.634", Round::Nearest).as_deref(),
        Some("-61837.63")
    );
    assert_eq!(
        r("-61837.636", Round::Nearest).as_deref(),
        Some("-61837.64")
    );
    assert_eq!(r("-0.004", Round::Nearest).as_deref(), Some("0"));
    assert_eq!(r("-0.004", Round::Up).as_deref(), Some("0"));
    assert_eq!(r("-0.004", Round::Down).as_deref(), Some("-0.01"));
    assert_eq!(r("0.000000001", Round::Up).as_deref(), Some("0.01"));
    assert_eq!(r("0.000000001", Round::Down).as_deref(), Some("0"));
    // On the grid: unchanged in every mode.
    for m in [Round::Down, Round::Up, Round::Nearest] {
        assert_eq!(r("61837.63", m).as_deref(), Some("61837.63"));
        assert_eq!(r("-61837.63", m).as_deref(), Some("-61837.63"));
        assert_eq!(r("0", m).as_deref(), Some("0"));
    }
    assert!(s.on_tick(px("61837.63")));
    assert!(s.on_tick(px("-61837.63")));
    assert!(!s.on_tick(px("61837.631")));
    assert!(!s.on_tick(px("-0.001")));
}

#[test]
fn round_qty_modes() {
    let s = btc_spec();
    let r = |v: &str, m| s.round_qty(qty(v), m).map(|q| q.to_string());
    assert_eq!(r("0.024098", Round::Down).as_deref(), Some("0.02409"));
    assert_eq!(r("0.024098", Round::Up).as_deref(), Some("0.0241"));
    assert_eq!(r("0.024098", Round::Nearest).as_deref(), Some("0.0241"));
    assert_eq!(r("0.000015", Round::Nearest).as_deref(), Some("0.00002"));
    assert_eq!(r("-0.000015", Round::Nearest).as_deref(), Some("-0.00002"));
    assert!(s.on_lot(qty("0.0241")));
    assert!(!s.on_lot(qty("0.024098")));
    // A lot that is not a power of ten.
    let s = spec_with(px("0.05"), qty("0.25"));
    assert_eq!(s.round_qty(qty("0.3"), Round::Down), Some(qty("0.25")));
    assert_eq!(s.round_qty(qty("0.3"), Round::Up), Some(qty("0.5")));
    assert_eq!(s.round_qty(qty("0.375"), Round::Nearest), Some(qty("0.5")));
    assert_eq!(
        s.round_qty(qty("-0.375"), Round::Nearest),
        Some(qty("-0.5"))
    );
    assert_eq!(
        s.round_qty(qty("-0.374"), Round::Nearest),
        Some(qty("-0.25"))
    );
    assert_eq!(s.round_px(px("1.07"), Round::Nearest), Some(px("1.05")));
}

#[test]
fn rounding_at_the_range_edges() {
    let s = btc_spec();
    // Px::MAX is not on the 0.01 grid: rounding up leaves the range.
    assert_eq!(s.round_px(Px::MAX, Round::Up), None);
    assert_eq!(s.round_px(Px::MAX, Round::Down), Some(px("9223372036.85")));
    assert_eq!(
        s.round_px(Px::MAX, Round::Nearest),
        Some(px("9223372036.85"))
    );
    // Near i64::MIN the grid point below is out of range, the one above is not.
    let low = Px::from_raw(i64::MIN + 1);
    assert_eq!(s.round_px(low, Round::Down), None);
    assert_eq!(s.round_px(low, Round::Up), Some(px("-9223372036.85")));
    assert_eq!(s.round_px(low, Round::Nearest), Some(px("-9223372036.85")));
    let low = Px::from_raw(i64::MIN);
    assert_eq!(s.round_px(low, Round::Down), None);
    assert_eq!(s.round_px(low, Round::Up), Some(px("-9223372036.85")));
    // A step past i64::MAX / 2 must not overflow the tie test.
    let s = spec_with(Px::MAX, Qty::MAX);
    assert_eq!(
        s.round_qty(Qty::from_raw(i64::MAX - 1), Round::Nearest),
        Some(Qty::MAX)
    );
    assert_eq!(
        s.round_qty(Qty::from_raw(i64::MAX - 1), Round::Down),
        Some(Qty::ZERO)
    );
    assert_eq!(
        s.round_qty(Qty::from_raw(1), Round::Nearest),
        Some(Qty::ZERO)
    );
    assert_eq!(
        s.round_qty(Qty::from_raw(-1), Round::Nearest),
        Some(Qty::ZERO)
    );
    assert_eq!(
        s.round_px(Px::from_raw(i64::MIN + 1), Round::Nearest),
        Some(Px::from_raw(-i64::MAX))
    );
    // i64::MIN is one above the grid point -2·MAX (out of range) and one below -MAX.
    assert_eq!(
        s.round_px(Px::from_raw(i64::MIN), Round::Nearest),
        Some(Px::from_raw(-i64::MAX))
    );
    assert_eq!(
        s.round_px(Px::from_raw(i64::MIN), Round::Up),
        Some(Px::from_raw(-i64::MAX))
    );
    assert_eq!(s.round_px(Px::from_raw(i64::MIN), Round::Down), None);
}

#[test]
fn unvalidated_spec_never_panics() {
    let s = spec_with(Px::ZERO, Qty::ZERO);
    for m in [Round::Down, Round::Up, Round::Nearest] {
        assert_eq!(s.round_px(px("1.5"), m), None);
        assert_eq!(s.round_qty(qty("1.5"), m), None);
    }
    assert!(!s.on_tick(px("1.5")));
    assert!(!s.on_lot(qty("0")));
    let s = spec_with(px("-0.01"), qty("-1"));
    assert_eq!(s.round_px(px("1.5"), Round::Down), None);
    assert_eq!(s.round_qty(qty("1.5"), Round::Up), None);
    let s = spec_with(Px::from_raw(-1), Qty::from_raw(-1));
    // i64::MIN rem_euclid -1 overflows: false and None, not a panic.
    assert!(!s.on_tick(Px::from_raw(i64::MIN)));
    assert!(!s.on_lot(Qty::from_raw(i64::MIN)));
    assert_eq!(s.round_px(Px::from_raw(i64::MIN), Round::Nearest), None);
}

#[test]
fn minimums() {
    let s = btc_spec();
    // min_qty 0.00001 and min notional 5 at 61837.63: 0.00009 is 5.565..., 0.00008 is 4.947...
    assert!(s.meets_minimums(px("61837.63"), qty("0.00009")));
    assert!(!s.meets_minimums(px("61837.63"), qty("0.00008")));
    // Exactly at the minimum notional passes.
    assert!(s.meets_minimums(px("10"), qty("0.5")));
    assert!(!s.meets_minimums(px("10"), qty("0.499999999")));
    assert!(s.meets_minimums(px("500000"), qty("0.00001")));
    // Below min_qty fails whatever the notional.
    assert!(!s.meets_minimums(px("1000000000"), qty("0.000009999")));
    let mut s = btc_spec();
    s.min_notional = Px::ZERO;
    assert!(s.meets_minimums(px("0.000000001"), qty("0.00001")));
    assert!(!s.meets_minimums(px("100"), qty("0.000009")));
    s.min_qty = Qty::ZERO;
    assert!(s.meets_minimums(Px::ZERO, Qty::ZERO));
    // Extreme values do not overflow.
    let s = btc_spec();
    assert!(s.meets_minimums(Px::MAX, Qty::MAX));
    assert!(s.meets_minimums(Px::from_raw(i64::MIN), Qty::MAX));
    // A fractional minimum notional (OKX-style 0.1 USDT).
    let mut s = btc_spec();
    s.min_notional = px("0.1");
    assert!(s.meets_minimums(px("0.1"), qty("1")));
    assert!(!s.meets_minimums(px("0.099999999"), qty("1")));
}

#[test]
fn default_tolerance_is_larger_of_one_lot_and_one_percent() {
    let mut s = btc_spec();
    s.lot = qty("0.0001");
    let tol = s.default_tolerance(qty("0.0241"));
    assert_eq!(tol, qty("0.000241"));
    assert!(qty_within(qty("0.024098"), qty("0.0241"), tol));
    assert!(qty_within(qty("0.0241"), qty("0.024098"), tol));
    assert!(qty_within(qty("0.023859"), qty("0.0241"), tol));
    assert!(!qty_within(qty("0.023858"), qty("0.0241"), tol));
    assert!(!qty_within(qty("0.0238"), qty("0.0241"), tol));
    // Small orders: one lot dominates.
    assert_eq!(s.default_tolerance(qty("0.001")), qty("0.0001"));
    assert_eq!(s.default_tolerance(Qty::ZERO), qty("0.0001"));
    // Exactly where 1% equals one lot.
    assert_eq!(s.default_tolerance(qty("0.01")), qty("0.0001"));
    // A sell given as a negative quantity gets the same tolerance.
    assert_eq!(s.default_tolerance(qty("-0.0241")), qty("0.000241"));
    // 1% rounds towards zero at the nano-unit.
    assert_eq!(
        s.default_tolerance(qty("123.456789123")),
        qty("1.234567891")
    );
}

#[test]
fn tolerance_saturates() {
    let t = QtyTolerance {
        lots: 1,
        percent_bps: i64::MAX,
    };
    assert_eq!(t.for_order(qty("0.0001"), Qty::MAX), Qty::MAX);
    let t = QtyTolerance {
        lots: i64::MAX,
        percent_bps: 0,
    };
    assert_eq!(t.for_order(qty("0.0001"), qty("1")), Qty::MAX);
    let t = QtyTolerance {
        lots: 2,
        percent_bps: 50,
    };
    assert_eq!(t.for_order(qty("0.001"), qty("1")), qty("0.005"));
    assert_eq!(t.for_order(qty("0.001"), qty("0.1")), qty("0.002"));
    assert_eq!(
        t.for_order(qty("0.001"), Qty::from_raw(i64::MIN)),
        qty("46116860.184273879")
    );
}

#[test]
fn qty_within_edges() {
    assert!(qty_within(Qty::ZERO, Qty::ZERO, Qty::ZERO));
    assert!(qty_within(qty("1"), qty("1"), Qty::ZERO));
    assert!(!qty_within(qty("1"), qty("1.000000001"), Qty::ZERO));
    assert!(qty_within(qty("1"), qty("1.000000001"), Qty::from_raw(1)));
    assert!(qty_within(qty("-1"), qty("1"), qty("2")));
    assert!(!qty_within(qty("-1"), qty("1"), qty("1.999999999")));
    // No overflow across the whole range.
    assert!(!qty_within(Qty::MAX, Qty::from_raw(i64::MIN), Qty::MAX));
    assert!(qty_within(Qty::MAX, Qty::ZERO, Qty::MAX));
    assert!(qty_within(
        Qty::from_raw(i64::MIN),
        Qty::from_raw(-1),
        Qty::MAX
    ));
    // A negative tolerance admits nothing.
    assert!(!qty_within(Qty::ZERO, Qty::ZERO, Qty::from_raw(-1)));
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

/// Any `i64` except `i64::MIN`, weighted towards edges, small values and round numbers.
fn raw_value() -> impl Strategy<Value = i64> {
    prop_oneof![
        4 => any::<i64>().prop_filter("i64::MIN does not parse", |v| *v != i64::MIN),
        2 => -1_000_000_000_000i64..1_000_000_000_000,
        2 => (any::<i32>(), 0u32..=9).prop_map(|(m, k)| i64::from(m) * 10i64.pow(k)),
        1 => prop::sample::select(vec![
            0,
            1,
            -1,
            9,
            10,
            SCALE - 1,
            SCALE,
            SCALE + 1,
            -SCALE,
            i64::MAX,
            i64::MAX - 1,
            -i64::MAX,
            i64::MAX / SCALE * SCALE,
        ]),
    ]
}

/// Any `i64`, `i64::MIN` included.
fn raw_any() -> impl Strategy<Value = i64> {
    prop_oneof![
        4 => raw_value(),
        1 => prop::sample::select(vec![i64::MIN, i64::MIN + 1, i64::MIN + 9]),
    ]
}

/// A positive grid step: small, a power of ten, or anything up to `i64::MAX`.
fn step() -> impl Strategy<Value = i64> {
    prop_oneof![
        1i64..=1000,
        (0u32..=18).prop_map(|k| 10i64.pow(k)),
        (1i64..=99, 0u32..=16).prop_map(|(m, k)| m * 10i64.pow(k)),
        1i64..=i64::MAX,
        prop::sample::select(vec![i64::MAX, i64::MAX / 2, i64::MAX / 2 + 1]),
    ]
}

/// Strings that look like decimals, well-formed or nearly so.
fn decimalish() -> impl Strategy<Value = String> {
    prop_oneof![
        "[+-]?[0-9]{1,12}(\\.[0-9]{1,12})?",
        "[+-]?0{0,30}[0-9]{0,11}(\\.[0-9]{0,9}0{0,30})?",
        "[+-]?[0-9]{0,25}\\.?[0-9]{0,25}",
        "[+-]?922337203[0-9](\\.85477580[0-9]0{0,3})?",
        "[-+0-9.eE_ ]{0,24}",
    ]
}

/// Arbitrary text, including non-ASCII.
fn garbage() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "\\PC{0,12}",
        "[0-9\\.\\-\u{ff10}-\u{ff19}\u{2212}\u{a0}\u{663}]{0,10}",
    ]
}

/// Checks one input against the reference parser and against `Decimal::from_str_exact`.
fn check_against_oracles(s: &str, allow_sign: bool) -> Result<(), TestCaseError> {
    let ours = parse_nanos(s.as_bytes(), allow_sign);
    let shape = plain(s, allow_sign);
    match &shape {
        None => prop_assert!(
            ours.is_err(),
            "{s:?} is not a plain decimal but parsed: {ours:?}"
        ),
        Some(p) => match reference_nanos(p) {
            Some(v) if in_range(v) => prop_assert_eq!(ours, Ok(v as i64), "{:?}", s),
            Some(_) => prop_assert_eq!(ours, Err(NumError::Overflow), "{:?}", s),
            None => prop_assert!(
                matches!(ours, Err(NumError::Overflow | NumError::TooPrecise)),
                "{s:?}: {ours:?}"
            ),
        },
    }
    // Differential: where Decimal parses the string and we do too, the values agree; where
    // Decimal gives a value that fits 9 decimals and our range, we parse it too (if plain).
    let theirs = Decimal::from_str_exact(s);
    match (ours, theirs) {
        (Ok(raw), Ok(d)) => prop_assert_eq!(Decimal::new(raw, DECIMALS), d, "{:?}", s),
        (Ok(_), Err(_)) => {
            // Only Decimal's own 28-digit capacity may refuse what we accept (long runs of
            // leading zeros or of trailing zeros).
            let digits = s.bytes().filter(u8::is_ascii_digit).count();
            prop_assert!(digits > 28, "Decimal refused {s:?} which we parsed");
        }
        (Err(e), Ok(d)) => {
            let n = d.normalize();
            let fits = n.scale() <= DECIMALS && n.abs() <= Decimal::new(i64::MAX, DECIMALS);
            prop_assert!(
                !(fits && shape.is_some()),
                "{s:?}: Decimal gives {d} which fits, we gave {e:?}"
            );
        }
        (Err(_), Err(_)) => {}
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// parse ∘ format is the identity for every i64 except i64::MIN, at every min_decimals.
    #[test]
    fn prop_format_then_parse(raw in raw_value(), min in 0u32..=9) {
        let s = fmt_raw(raw, min);
        prop_assert_eq!(signed(&s), Ok(raw), "{}", s);
        prop_assert_eq!(unsigned(&s).is_ok(), raw >= 0);
        if raw >= 0 {
            prop_assert_eq!(unsigned(&s), Ok(raw));
        }
        // Shape: the minimum decimals, no trailing zero beyond them, no leading zero.
        let body = s.strip_prefix('-').unwrap_or(&s);
        prop_assert_eq!(s.starts_with('-'), raw < 0);
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        prop_assert!(int == "0" || !int.starts_with('0'), "{}", s);
        prop_assert!(frac.len() >= min as usize && frac.len() <= 9, "{}", s);
        if frac.len() > min as usize {
            prop_assert!(!frac.ends_with('0'), "{}", s);
        }
        // The shortest form is exactly Decimal's normalised form.
        if min == 0 {
            prop_assert_eq!(&s, &Decimal::new(raw, DECIMALS).normalize().to_string());
        }
        // Display with a precision is write_to with those min decimals.
        prop_assert_eq!(format!("{:.*}", min as usize, Px::from_raw(raw)), s.clone());
        prop_assert_eq!(Qty::from_str(&Qty::from_raw(raw).to_string()), Ok(Qty::from_raw(raw)));
    }

    /// i64::MIN formats exactly, too; it is the one value that does not parse back.
    #[test]
    fn prop_format_never_panics(raw in raw_any(), min in 0u32..=40) {
        let s = fmt_raw(raw, min);
        prop_assert!(s.len() <= 21);
        let d = Decimal::from_str_exact(&s).unwrap();
        prop_assert_eq!(d, Decimal::new(raw, DECIMALS));
    }

    /// format ∘ parse is the identity modulo trailing zeros (and leading zeros, and a `+`).
    #[test]
    fn prop_parse_then_format(
        sign in prop::sample::select(vec!["", "-", "+"]),
        int in 0u64..9_223_372_036,
        lead in 0usize..3,
        frac in "[0-9]{0,9}",
        trail in 0usize..4,
        point in any::<bool>(),
    ) {
        let int_s = format!("{}{int}", "0".repeat(lead));
        let frac_s = format!("{frac}{}", "0".repeat(trail));
        let s = if point && !frac_s.is_empty() {
            format!("{sign}{int_s}.{frac_s}")
        } else {
            format!("{sign}{int_s}")
        };
        let raw = signed(&s).unwrap();
        // Expected canonical form.
        let frac_kept = if point { frac.trim_end_matches('0') } else { "" };
        let magnitude = if frac_kept.is_empty() {
            int.to_string()
        } else {
            format!("{int}.{frac_kept}")
        };
        let canonical = if sign == "-" && raw != 0 {
            format!("-{magnitude}")
        } else {
            magnitude
        };
        prop_assert_eq!(fmt_raw(raw, 0), canonical);
        // With as many min decimals as the input had (up to 9), the input comes back verbatim
        // when it had no leading zeros, no `+` and was not a negative zero.
        if point && lead == 0 && sign != "+" && !(sign == "-" && raw == 0) && frac_s.len() <= 9 {
            prop_assert_eq!(fmt_raw(raw, frac_s.len() as u32), s);
        }
    }

    /// Decimal-looking strings: the reference parser and rust_decimal agree with ours.
    #[test]
    fn prop_differential_decimalish(s in decimalish(), allow_sign in any::<bool>()) {
        check_against_oracles(&s, allow_sign)?;
    }

    /// Arbitrary text: an exact value or an error, never a panic.
    #[test]
    fn prop_differential_garbage(s in garbage(), allow_sign in any::<bool>()) {
        check_against_oracles(&s, allow_sign)?;
    }

    /// Arbitrary bytes (mostly not UTF-8): never a panic; non-ASCII is always an error.
    #[test]
    fn prop_bytes_never_panic(
        bytes in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..32),
            prop::collection::vec(
                prop::sample::select(b"0123456789.-+eE_ \xff\x80\xc3".to_vec()),
                0..24,
            ),
        ],
        allow_sign in any::<bool>(),
    ) {
        let ours = parse_nanos(&bytes, allow_sign);
        if !bytes.is_ascii() {
            prop_assert!(ours.is_err());
        }
        if let Err(NumError::InvalidChar(at)) = ours {
            prop_assert!(at < bytes.len());
        }
        match core::str::from_utf8(&bytes) {
            Ok(s) => check_against_oracles(s, allow_sign)?,
            Err(_) => prop_assert!(ours.is_err()),
        }
        prop_assert_eq!(Px::parse_bytes(&bytes).map(Px::raw), parse_nanos(&bytes, false));
    }

    /// Decimal round trip: from_decimal ∘ to_decimal is the identity.
    #[test]
    fn prop_decimal_round_trip(raw in raw_value()) {
        let p = Px::from_raw(raw);
        prop_assert_eq!(Px::from_decimal(p.to_decimal()), Ok(p));
        prop_assert_eq!(Qty::from_decimal(Qty::from_raw(raw).to_decimal()), Ok(Qty::from_raw(raw)));
        prop_assert_eq!(p.to_decimal().to_string().parse::<Px>(), Ok(p));
    }

    /// from_decimal on any Decimal: exact or an error, with the right error.
    #[test]
    fn prop_from_decimal_exact_or_error(
        lo in any::<u32>(),
        mid in any::<u32>(),
        hi in prop_oneof![Just(0u32), 0u32..4, any::<u32>()],
        negative in any::<bool>(),
        scale in 0u32..=28,
    ) {
        let d = Decimal::from_parts(lo, mid, hi, negative, scale);
        match Qty::from_decimal(d) {
            Ok(q) => {
                prop_assert_eq!(q.to_decimal(), d);
                prop_assert!(q.raw() != i64::MIN);
            }
            Err(NumError::TooPrecise) => prop_assert!(d.normalize().scale() > DECIMALS),
            Err(NumError::Overflow) => {
                prop_assert!(d.normalize().scale() <= DECIMALS);
                prop_assert!(d.abs() > Decimal::new(i64::MAX, DECIMALS));
            }
            Err(e) => prop_assert!(false, "unexpected {e:?} for {d}"),
        }
    }

    /// Rounding: on the grid, within one step, in the right direction, and equal to an i128
    /// reference; `None` exactly when the reference result is outside i64.
    #[test]
    fn prop_rounding(raw in raw_any(), step in step()) {
        let s = spec_with(Px::from_raw(step), Qty::from_raw(step));
        let (r, st) = (i128::from(raw), i128::from(step));
        let rem = r.rem_euclid(st);
        let down = r - rem;
        let up = if rem == 0 { r } else { down + st };
        let nearest = if rem == 0 {
            r
        } else if 2 * rem > st || (2 * rem == st && r >= 0) {
            up
        } else {
            down
        };
        for (mode, expected) in [(Round::Down, down), (Round::Up, up), (Round::Nearest, nearest)] {
            let want = i64::try_from(expected).ok();
            let got = s.round_px(Px::from_raw(raw), mode).map(Px::raw);
            prop_assert_eq!(got, want, "{:?} {} step {}", mode, raw, step);
            prop_assert_eq!(s.round_qty(Qty::from_raw(raw), mode).map(Qty::raw), want);
            if let Some(g) = got {
                let g128 = i128::from(g);
                prop_assert_eq!(g128.rem_euclid(st), 0);
                prop_assert!(s.on_tick(Px::from_raw(g)));
                prop_assert!(s.on_lot(Qty::from_raw(g)));
                prop_assert!((g128 - r).abs() < st);
                match mode {
                    Round::Down => prop_assert!(g128 <= r),
                    Round::Up => prop_assert!(g128 >= r),
                    Round::Nearest => prop_assert!(2 * (g128 - r).abs() <= st),
                }
            }
        }
        prop_assert_eq!(s.on_tick(Px::from_raw(raw)), rem == 0);
    }

    /// Notional::of is the exact i128 product; its Display is exact and agrees with Decimal.
    #[test]
    fn prop_notional(p in raw_any(), q in raw_any()) {
        let n = Notional::of(Px::from_raw(p), Qty::from_raw(q));
        let product = i128::from(p) * i128::from(q);
        prop_assert_eq!(n.raw(), product);
        // Display: parse it back with i128 arithmetic.
        let s = n.to_string();
        let neg = s.starts_with('-');
        let body = s.trim_start_matches('-');
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        prop_assert!(frac.len() <= 18 && !frac.ends_with('0'));
        let frac_v: u128 = if frac.is_empty() { 0 } else { frac.parse().unwrap() };
        let back = int.parse::<u128>().unwrap() * NOTIONAL_SCALE as u128
            + frac_v * 10u128.pow(18 - frac.len() as u32);
        prop_assert_eq!(back, product.unsigned_abs());
        prop_assert_eq!(neg, product < 0);
        // to_decimal: exact when Some, and Some whenever the normalised value fits 96 bits.
        let mut m = product;
        let mut scale = 18;
        while scale > 0 && m % 10 == 0 {
            m /= 10;
            scale -= 1;
        }
        match n.to_decimal() {
            Some(d) => {
                prop_assert_eq!(d.mantissa(), m);
                prop_assert_eq!(d.scale(), scale);
                prop_assert_eq!(d.to_string(), s.clone());
            }
            None => prop_assert!(m.unsigned_abs() >= 1u128 << 96),
        }
        // Against Decimal arithmetic where the product is small enough to be exact there.
        if let Some(d) = n.to_decimal() {
            let dp = Px::from_raw(p).to_decimal();
            let dq = Qty::from_raw(q).to_decimal();
            if let Some(prod) = dp.checked_mul(dq) {
                prop_assert_eq!(prod, d);
            }
        }
    }

    /// Notional ordering and minimum-notional checks agree with the exact product.
    #[test]
    fn prop_meets_minimums(
        p in 0i64..=i64::MAX,
        q in raw_value(),
        min_qty in 0i64..=1_000_000_000_000,
        min_notional in 0i64..=1_000_000_000_000_000,
    ) {
        let mut s = btc_spec();
        s.min_qty = Qty::from_raw(min_qty);
        s.min_notional = Px::from_raw(min_notional);
        let want = q >= min_qty
            && (i128::from(p) * i128::from(q)).abs()
                >= i128::from(min_notional) * i128::from(SCALE);
        prop_assert_eq!(s.meets_minimums(Px::from_raw(p), Qty::from_raw(q)), want);
    }

    /// The default tolerance is max(one lot, 1% of |order|), never negative, and an order is
    /// always within tolerance of itself and of any quantity one tolerance away.
    #[test]
    fn prop_default_tolerance(lot in 1i64..=10_000_000_000, order in raw_value()) {
        let s = spec_with(Px::ONE, Qty::from_raw(lot));
        let tol = s.default_tolerance(Qty::from_raw(order));
        let pct = i128::from(order.unsigned_abs().min(i64::MAX as u64)) / 100;
        prop_assert_eq!(i128::from(tol.raw()), i128::from(lot).max(pct));
        prop_assert!(tol.raw() >= lot);
        let o = Qty::from_raw(order);
        prop_assert!(qty_within(o, o, tol));
        if let Some(edge) = o.checked_add(tol) {
            prop_assert!(qty_within(edge, o, tol));
            if let Some(past) = edge.checked_add(Qty::from_raw(1)) {
                prop_assert!(!qty_within(past, o, tol));
            }
        }
    }
}
