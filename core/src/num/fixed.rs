//! `Px` and `Qty`: `i64` fixed point with 9 decimal places, parsed exactly from venue strings.
//!
//! Venues send prices and sizes as decimal strings (`"61837.63000000"`, `"30249.4"`, `"0"`).
//! Going through `f64` would silently round values such as `0.024098`, which is exactly the
//! kind of drift that made a past system reject a real fill. Parsing here is digit by digit into
//! an integer count of nano-units, and anything that cannot be represented exactly is an error.

use core::fmt;
use core::str::FromStr;

use bytemuck::{Pod, Zeroable};
use rust_decimal::Decimal;

/// Number of decimal places carried by [`Px`] and [`Qty`].
pub const DECIMALS: u32 = 9;
/// `10^DECIMALS`: the raw value of one whole unit.
pub const SCALE: i64 = 1_000_000_000;

/// Why a decimal string or value could not be turned into a fixed-point number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumError {
    /// The input was empty (or only a sign).
    Empty,
    /// A sign was present where the field does not allow one.
    UnexpectedSign,
    /// A character that is not part of a plain decimal (the byte offset is given).
    InvalidChar(usize),
    /// Exponent notation (`1e-5`) is never accepted: venues send plain decimals.
    Exponent,
    /// A `.` with no digit before or after it.
    MissingDigits,
    /// More than 9 significant decimal places: representing it would round.
    TooPrecise,
    /// The value does not fit in an `i64` count of nano-units.
    Overflow,
}

impl fmt::Display for NumError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("empty number"),
            Self::UnexpectedSign => f.write_str("sign not allowed here"),
            Self::InvalidChar(at) => write!(f, "invalid character at byte {at}"),
            Self::Exponent => f.write_str("exponent notation is not accepted"),
            Self::MissingDigits => f.write_str("a decimal point needs digits on both sides"),
            Self::TooPrecise => write!(f, "more than {DECIMALS} decimal places"),
            Self::Overflow => f.write_str("value out of range"),
        }
    }
}

impl std::error::Error for NumError {}

/// Parses a plain decimal into nano-units. `allow_sign` admits one leading `-` or `+`.
///
/// Digits beyond the 9th decimal are accepted only when they are zeros, because dropping a
/// zero is exact while dropping anything else would be a silent rounding.
pub fn parse_nanos(s: &[u8], allow_sign: bool) -> Result<i64, NumError> {
    let (negative, digits_at) = match s.first() {
        None => return Err(NumError::Empty),
        Some(b'-' | b'+') if !allow_sign => return Err(NumError::UnexpectedSign),
        Some(b'-') => (true, 1),
        Some(b'+') => (false, 1),
        Some(_) => (false, 0),
    };
    let body = &s[digits_at..];
    if body.is_empty() {
        return Err(NumError::Empty);
    }
    let mut int: u64 = 0;
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        match b {
            b'0'..=b'9' => {
                int = int
                    .checked_mul(10)
                    .and_then(|v| v.checked_add(u64::from(b - b'0')))
                    .ok_or(NumError::Overflow)?;
            }
            b'.' => break,
            b'e' | b'E' => return Err(NumError::Exponent),
            _ => return Err(NumError::InvalidChar(digits_at + i)),
        }
        i += 1;
    }
    let int_digits = i;
    let mut frac: u64 = 0;
    let mut frac_digits = 0u32;
    if i < body.len() {
        // body[i] == b'.'
        i += 1;
        let frac_start = i;
        while i < body.len() {
            let b = body[i];
            match b {
                b'0'..=b'9' => {
                    if frac_digits < DECIMALS {
                        frac = frac * 10 + u64::from(b - b'0');
                        frac_digits += 1;
                    } else if b != b'0' {
                        return Err(NumError::TooPrecise);
                    }
                }
                b'e' | b'E' => return Err(NumError::Exponent),
                _ => return Err(NumError::InvalidChar(digits_at + i)),
            }
            i += 1;
        }
        if int_digits == 0 || i == frac_start {
            return Err(NumError::MissingDigits);
        }
    } else if int_digits == 0 {
        return Err(NumError::Empty);
    }
    let frac_scaled = frac * 10u64.pow(DECIMALS - frac_digits);
    let magnitude = int
        .checked_mul(SCALE as u64)
        .and_then(|v| v.checked_add(frac_scaled))
        .ok_or(NumError::Overflow)?;
    // i64::MIN is excluded on purpose so that negation and `abs` can never overflow.
    let magnitude = i64::try_from(magnitude).map_err(|_| NumError::Overflow)?;
    Ok(if negative { -magnitude } else { magnitude })
}

/// One formatter for both fixed-point widths: `$uint` magnitudes with `$decimals` decimals. A
/// macro rather than a generic keeps the `i64` path free of `u128` arithmetic (it encodes
/// order prices on the hot path).
macro_rules! fixed_writer {
    ($(#[$doc:meta])* $vis:vis fn $name:ident($int:ty, $uint:ty, $decimals:expr, $buf:literal, $tmp:literal)) => {
        $(#[$doc])*
        $vis fn $name(raw: $int, min_decimals: u32, buf: &mut [u8; $buf]) -> usize {
            let mut pos = 0;
            if raw < 0 {
                buf[0] = b'-';
                pos = 1;
            }
            let magnitude = raw.unsigned_abs();
            let scale = <$uint>::pow(10, $decimals);
            let int = magnitude / scale;
            let mut frac = magnitude % scale;
            let mut tmp = [0u8; $tmp];
            let mut n = 0;
            let mut v = int;
            loop {
                tmp[n] = b'0' + (v % 10) as u8;
                n += 1;
                v /= 10;
                if v == 0 {
                    break;
                }
            }
            for k in (0..n).rev() {
                buf[pos] = tmp[k];
                pos += 1;
            }
            // Fraction: drop trailing zeros beyond min_decimals (never a nonzero digit).
            let mut frac_digits = $decimals;
            while frac_digits > min_decimals.min($decimals) && frac.is_multiple_of(10) {
                frac /= 10;
                frac_digits -= 1;
            }
            if frac_digits > 0 {
                buf[pos] = b'.';
                pos += 1;
                for k in (0..frac_digits as usize).rev() {
                    buf[pos + k] = b'0' + (frac % 10) as u8;
                    frac /= 10;
                }
                pos += frac_digits as usize;
            }
            pos
        }
    };
}

fixed_writer!(
    /// Writes `raw` nano-units as a decimal into `buf` and returns the number of bytes written.
    ///
    /// `min_decimals` pads with zeros (Binance sends 8 decimals, OKX the shortest form); digits
    /// that are not zero are never dropped, so the output always parses back to `raw` exactly.
    /// `buf` of 32 bytes is always large enough. This allocates nothing, for order encoding.
    pub fn write_nanos(i64, u64, DECIMALS, 32, 20)
);

/// The minimum number of decimals requested by a formatter's precision (none: 0).
fn display_min_decimals(f: &fmt::Formatter<'_>) -> u32 {
    f.precision()
        .map_or(0, |p| u32::try_from(p).unwrap_or(u32::MAX))
}

/// Writes a decimal produced by one of the writers here, honouring width, fill, alignment, `+`
/// and `0`. `pad` is not used because it would treat the precision as a truncation width;
/// `pad_integral` ignores the precision, which is already applied as the minimum decimals.
fn pad_decimal(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    // The writers emit only ASCII digits, '-' and '.'.
    let s = core::str::from_utf8(bytes).unwrap_or("?");
    match s.strip_prefix('-') {
        Some(magnitude) => f.pad_integral(false, "", magnitude),
        None => f.pad_integral(true, "", s),
    }
}

macro_rules! fixed_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[repr(transparent)]
        #[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Pod, Zeroable)]
        pub struct $name(i64);

        impl $name {
            /// Zero.
            pub const ZERO: Self = Self(0);
            /// One whole unit.
            pub const ONE: Self = Self(SCALE);
            /// The largest representable value.
            pub const MAX: Self = Self(i64::MAX);

            /// Wraps a raw count of nano-units (`1.5` is `1_500_000_000`).
            pub const fn from_raw(raw: i64) -> Self {
                Self(raw)
            }

            /// The raw count of nano-units.
            pub const fn raw(self) -> i64 {
                self.0
            }

            /// A whole number of units, or `None` if it does not fit.
            pub const fn from_units(units: i64) -> Option<Self> {
                match units.checked_mul(SCALE) {
                    Some(v) => Some(Self(v)),
                    None => None,
                }
            }

            /// Parses an unsigned venue decimal string exactly (`"61837.63000000"`).
            pub fn parse(s: &str) -> Result<Self, NumError> {
                parse_nanos(s.as_bytes(), false).map(Self)
            }

            /// Parses unsigned decimal bytes exactly, straight from a wire buffer.
            pub fn parse_bytes(s: &[u8]) -> Result<Self, NumError> {
                parse_nanos(s, false).map(Self)
            }

            /// Parses a decimal that may carry a leading `-` or `+`.
            pub fn parse_signed(s: &str) -> Result<Self, NumError> {
                parse_nanos(s.as_bytes(), true).map(Self)
            }

            /// Exact conversion from a `Decimal`; more than 9 significant decimals or an
            /// out-of-range value is an error, never a rounding.
            pub fn from_decimal(d: Decimal) -> Result<Self, NumError> {
                let d = d.normalize();
                if d.scale() > DECIMALS {
                    return Err(NumError::TooPrecise);
                }
                let mantissa = d.mantissa();
                let factor = 10i128.pow(DECIMALS - d.scale());
                mantissa
                    .checked_mul(factor)
                    .and_then(|v| i64::try_from(v).ok())
                    .filter(|v| *v != i64::MIN)
                    .map(Self)
                    .ok_or(NumError::Overflow)
            }

            /// Exact conversion to a `Decimal` (always representable).
            pub fn to_decimal(self) -> Decimal {
                Decimal::new(self.0, DECIMALS)
            }

            /// Writes the value with at least `min_decimals` decimals into `buf`, without
            /// allocating; returns the written prefix.
            pub fn write_to(self, min_decimals: u32, buf: &mut [u8; 32]) -> &[u8] {
                let n = write_nanos(self.0, min_decimals, buf);
                &buf[..n]
            }

            /// Checked addition.
            pub const fn checked_add(self, rhs: Self) -> Option<Self> {
                match self.0.checked_add(rhs.0) {
                    Some(v) => Some(Self(v)),
                    None => None,
                }
            }

            /// Checked subtraction.
            pub const fn checked_sub(self, rhs: Self) -> Option<Self> {
                match self.0.checked_sub(rhs.0) {
                    Some(v) => Some(Self(v)),
                    None => None,
                }
            }

            /// Saturating addition (for running totals that must never wrap).
            pub const fn saturating_add(self, rhs: Self) -> Self {
                Self(self.0.saturating_add(rhs.0))
            }

            /// Saturating subtraction.
            pub const fn saturating_sub(self, rhs: Self) -> Self {
                Self(self.0.saturating_sub(rhs.0))
            }

            /// Absolute value (cannot overflow: parsing and arithmetic never produce `i64::MIN`
            /// except through `from_raw`, which saturates here).
            pub const fn abs(self) -> Self {
                Self(self.0.saturating_abs())
            }

            /// Negation (saturating at the range edge).
            pub const fn neg(self) -> Self {
                Self(self.0.saturating_neg())
            }

            /// True for zero.
            pub const fn is_zero(self) -> bool {
                self.0 == 0
            }

            /// True for a strictly positive value.
            pub const fn is_positive(self) -> bool {
                self.0 > 0
            }

            /// True for a strictly negative value.
            pub const fn is_negative(self) -> bool {
                self.0 < 0
            }
        }

        impl fmt::Display for $name {
            /// Exact decimal; the precision (`{:.8}`) is the minimum number of decimals (it pads,
            /// never rounds), and width, fill, alignment, `+` and `0` behave as for integers.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut buf = [0u8; 32];
                let bytes = self.write_to(display_min_decimals(f), &mut buf);
                pad_decimal(f, bytes)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self)
            }
        }

        impl FromStr for $name {
            type Err = NumError;
            fn from_str(s: &str) -> Result<Self, NumError> {
                parse_nanos(s.as_bytes(), true).map(Self)
            }
        }
    };
}

fixed_type!(
    /// A price: signed nano-units of the quote currency (9 decimals).
    Px
);
fixed_type!(
    /// A quantity or position: signed nano-units of the base asset (9 decimals).
    Qty
);

/// A quote-currency amount with 18 decimals: the exact product of a [`Px`] and a [`Qty`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Notional(i128);

/// `10^18`: the raw value of one quote unit in a [`Notional`].
pub const NOTIONAL_SCALE: i128 = 1_000_000_000_000_000_000;

impl Notional {
    /// Zero.
    pub const ZERO: Self = Self(0);

    /// The exact notional `px × qty` (cannot overflow: |i64 × i64| < 2^126).
    pub const fn of(px: Px, qty: Qty) -> Self {
        Self(px.raw() as i128 * qty.raw() as i128)
    }

    /// A quote amount given with 9 decimals (as config and venue filters give it).
    pub const fn from_quote(amount: Px) -> Self {
        Self(amount.raw() as i128 * SCALE as i128)
    }

    /// Raw value in 10^-18 quote units.
    pub const fn raw(self) -> i128 {
        self.0
    }

    /// Absolute value.
    pub const fn abs(self) -> Self {
        Self(self.0.saturating_abs())
    }

    /// Checked addition.
    pub const fn checked_add(self, rhs: Self) -> Option<Self> {
        match self.0.checked_add(rhs.0) {
            Some(v) => Some(Self(v)),
            None => None,
        }
    }

    /// Exact conversion to a normalised `Decimal`, or `None` when the value needs more than
    /// Decimal's 96-bit mantissa even after dropping trailing zeros.
    pub fn to_decimal(self) -> Option<Decimal> {
        // Trailing zeros are dropped in i128 first: 10^11 quote units is 10^29 raw, past 2^96,
        // yet exactly representable as a Decimal.
        let mut mantissa = self.0;
        let mut scale = NOTIONAL_DECIMALS;
        while scale > 0 && mantissa % 10 == 0 {
            mantissa /= 10;
            scale -= 1;
        }
        Decimal::try_from_i128_with_scale(mantissa, scale).ok()
    }
}

/// Decimal places carried by [`Notional`].
const NOTIONAL_DECIMALS: u32 = 18;

fixed_writer!(
    /// Writes `raw` 10^-18 units as a plain decimal, like [`write_nanos`] with 18 decimals.
    /// 48 bytes hold any `i128`: a sign, 21 integer digits, a point and 18 decimals.
    fn write_notional(i128, u128, NOTIONAL_DECIMALS, 48, 24)
);

impl fmt::Display for Notional {
    /// Exact plain decimal (never exponent notation, never rounded); the precision is the
    /// minimum number of decimals, as for [`Px`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 48];
        let n = write_notional(self.0, display_min_decimals(f), &mut buf);
        pad_decimal(f, &buf[..n])
    }
}

macro_rules! serialize_as_string {
    ($($t:ty),+) => {$(
        impl serde::Serialize for $t {
            /// Serialised as an exact decimal string (JSON numbers would invite `f64`).
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
    )+};
}
serialize_as_string!(Px, Qty, Notional);
