//! A strict, allocation-free JSON cursor for the hand-rolled fast decoders.
//!
//! The fast decoders only ever *accept* a frame when they are certain the validating simd-json
//! path would decode it to the very same message; on anything unusual they give up (`None`) and
//! the caller re-decodes the frame with simd-json, which also produces the error if there is
//! one. So this cursor accepts a deliberately narrow subset of JSON:
//!
//! - no whitespace except after the final closing brace (venues send none);
//! - strings of printable ASCII (0x20..=0x7E) without escapes, so the frame is ASCII and
//!   therefore valid UTF-8, and a string's bytes are its value;
//! - integers without sign, fraction or exponent (signed ones where a field needs them), at
//!   most 18 digits, so they never overflow and every validating parser agrees on their value;
//! - `true`, `false`, `null`, and nested arrays/objects of the above (bounded depth) when
//!   skipping fields the decoder does not read.
//!
//! Every method returns `None` to mean "not in the subset: use the validating path".

/// Maximum nesting depth [`Cursor::skip_value`] follows before giving up.
const MAX_SKIP_DEPTH: u32 = 8;

/// Most integer digits accepted: 18 digits always fit in `i64`/`u64`.
const MAX_INT_DIGITS: usize = 18;

/// A read position in one frame.
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `buf`.
    #[inline]
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// The next byte, not consumed.
    #[inline]
    pub(crate) fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    /// Consumes `b` if it is the next byte.
    #[inline]
    pub(crate) fn eat(&mut self, b: u8) -> Option<()> {
        if self.peek()? == b {
            self.pos += 1;
            Some(())
        } else {
            None
        }
    }

    /// True (and consumed) if `b` is the next byte.
    #[inline]
    pub(crate) fn try_eat(&mut self, b: u8) -> bool {
        self.eat(b).is_some()
    }

    /// Consumes the exact bytes `lit`.
    #[inline]
    pub(crate) fn lit(&mut self, lit: &[u8]) -> Option<()> {
        if self.buf.get(self.pos..self.pos + lit.len())? == lit {
            self.pos += lit.len();
            Some(())
        } else {
            None
        }
    }

    /// True (and consumed) if the next bytes are `lit`.
    #[inline]
    pub(crate) fn try_lit(&mut self, lit: &[u8]) -> bool {
        self.lit(lit).is_some()
    }

    /// A string's contents (between the quotes), printable ASCII without escapes.
    #[inline]
    pub(crate) fn string(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let start = self.pos;
        loop {
            let b = *self.buf.get(self.pos)?;
            self.pos += 1;
            if b == b'"' {
                return Some(&self.buf[start..self.pos - 1]);
            }
            // Escapes, control characters and non-ASCII bytes are left to simd-json.
            if !(0x20..0x7f).contains(&b) || b == b'\\' {
                return None;
            }
        }
    }

    /// An object key and the `:` after it.
    #[inline]
    pub(crate) fn key(&mut self) -> Option<&'a [u8]> {
        let k = self.string()?;
        self.eat(b':')?;
        Some(k)
    }

    /// After a member: `Some(true)` if `,` (another member follows), `Some(false)` if the
    /// closing `close` byte was consumed.
    #[inline]
    pub(crate) fn next_member(&mut self, close: u8) -> Option<bool> {
        match self.peek()? {
            b',' => {
                self.pos += 1;
                Some(true)
            }
            b if b == close => {
                self.pos += 1;
                Some(false)
            }
            _ => None,
        }
    }

    /// A non-negative JSON integer (no sign, no leading zero, at most 18 digits).
    #[inline]
    pub(crate) fn u64(&mut self) -> Option<u64> {
        let start = self.pos;
        let mut v: u64 = 0;
        while let Some(&b) = self.buf.get(self.pos) {
            if !b.is_ascii_digit() {
                break;
            }
            // Wrapping: the digit count is checked below, before the value is used.
            v = v.wrapping_mul(10).wrapping_add(u64::from(b - b'0'));
            self.pos += 1;
        }
        let n = self.pos - start;
        if n == 0 || n > MAX_INT_DIGITS || (n > 1 && self.buf[start] == b'0') {
            return None;
        }
        // A fraction or exponent makes it a float to a validating parser.
        match self.peek() {
            Some(b'.' | b'e' | b'E') => None,
            _ => Some(v),
        }
    }

    /// A JSON integer with an optional `-` (not `-0`, which parsers disagree on).
    #[inline]
    pub(crate) fn i64(&mut self) -> Option<i64> {
        let negative = self.try_eat(b'-');
        let v = i64::try_from(self.u64()?).ok()?;
        if negative {
            if v == 0 {
                return None;
            }
            Some(-v)
        } else {
            Some(v)
        }
    }

    /// `true` or `false`.
    #[inline]
    pub(crate) fn bool(&mut self) -> Option<bool> {
        if self.try_lit(b"true") {
            Some(true)
        } else if self.try_lit(b"false") {
            Some(false)
        } else {
            None
        }
    }

    /// A string holding a plain decimal, parsed to nano-units in the same pass.
    ///
    /// Accepts `digits[.digits]` with at most 9 integer and 9 fraction digits, which is exactly
    /// representable and cannot overflow; for those inputs the result equals
    /// `tickwire_core::num::parse_nanos(s, false)` (checked by a property test). Anything else
    /// (longer, signed, exponent, stray bytes) is `None`.
    #[inline]
    pub(crate) fn decimal(&mut self) -> Option<i64> {
        self.eat(b'"')?;
        let buf = self.buf;
        let mut i = self.pos;
        let mut int: u64 = 0;
        let int_start = i;
        while let Some(&b) = buf.get(i) {
            let d = b.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            int = int.wrapping_mul(10).wrapping_add(u64::from(d));
            i += 1;
        }
        let int_digits = i - int_start;
        if int_digits == 0 || int_digits > 9 {
            return None;
        }
        let mut frac: u64 = 0;
        let mut frac_digits = 0usize;
        if buf.get(i) == Some(&b'.') {
            i += 1;
            let frac_start = i;
            while let Some(&b) = buf.get(i) {
                let d = b.wrapping_sub(b'0');
                if d > 9 {
                    break;
                }
                frac = frac.wrapping_mul(10).wrapping_add(u64::from(d));
                i += 1;
            }
            frac_digits = i - frac_start;
            if frac_digits == 0 || frac_digits > 9 {
                return None;
            }
        }
        if buf.get(i) != Some(&b'"') {
            return None;
        }
        self.pos = i + 1;
        const POW10: [u64; 10] = [
            1_000_000_000,
            100_000_000,
            10_000_000,
            1_000_000,
            100_000,
            10_000,
            1_000,
            100,
            10,
            1,
        ];
        // int < 10^9 and frac < 10^9, so the sum is below 10^18 < i64::MAX.
        Some((int * 1_000_000_000 + frac * POW10[frac_digits]) as i64)
    }

    /// Skips one value of the accepted subset.
    pub(crate) fn skip_value(&mut self) -> Option<()> {
        self.skip_depth(0)
    }

    fn skip_depth(&mut self, depth: u32) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(|_| ()),
            b'-' => self.i64().map(|_| ()),
            b'0'..=b'9' => self.u64().map(|_| ()),
            b't' => self.lit(b"true"),
            b'f' => self.lit(b"false"),
            b'n' => self.lit(b"null"),
            b'[' if depth < MAX_SKIP_DEPTH => {
                self.pos += 1;
                if self.try_eat(b']') {
                    return Some(());
                }
                loop {
                    self.skip_depth(depth + 1)?;
                    if !self.next_member(b']')? {
                        return Some(());
                    }
                }
            }
            b'{' if depth < MAX_SKIP_DEPTH => {
                self.pos += 1;
                if self.try_eat(b'}') {
                    return Some(());
                }
                loop {
                    self.key()?;
                    self.skip_depth(depth + 1)?;
                    if !self.next_member(b'}')? {
                        return Some(());
                    }
                }
            }
            _ => None,
        }
    }

    /// True if only JSON whitespace remains.
    #[inline]
    pub(crate) fn at_end(&self) -> bool {
        self.buf[self.pos.min(self.buf.len())..]
            .iter()
            .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
    }
}

/// Keys already seen in one object, for duplicate detection without allocation.
#[derive(Default, Clone, Copy)]
pub(crate) struct Seen(u64);

impl Seen {
    /// Marks key number `bit`; `None` if it was already marked (a duplicate).
    #[inline]
    pub(crate) fn mark(&mut self, bit: u32) -> Option<()> {
        let m = 1u64 << bit;
        if self.0 & m != 0 {
            return None;
        }
        self.0 |= m;
        Some(())
    }

    /// True if every bit of `mask` has been marked.
    #[inline]
    pub(crate) fn has_all(self, mask: u64) -> bool {
        self.0 & mask == mask
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use tickwire_core::num::parse_nanos;

    #[test]
    fn integers() {
        assert_eq!(Cursor::new(b"0,").u64(), Some(0));
        assert_eq!(Cursor::new(b"123}").u64(), Some(123));
        assert_eq!(Cursor::new(b"0123").u64(), None);
        assert_eq!(Cursor::new(b"1.5").u64(), None);
        assert_eq!(Cursor::new(b"1e5").u64(), None);
        assert_eq!(Cursor::new(b"").u64(), None);
        assert_eq!(
            Cursor::new(b"999999999999999999").u64(),
            Some(999_999_999_999_999_999)
        );
        assert_eq!(Cursor::new(b"9999999999999999999").u64(), None);
        assert_eq!(Cursor::new(b"-1,").i64(), Some(-1));
        assert_eq!(Cursor::new(b"-0,").i64(), None);
        assert_eq!(Cursor::new(b"-,").i64(), None);
    }

    #[test]
    fn strings_and_skipping() {
        assert_eq!(Cursor::new(br#""abc""#).string(), Some(&b"abc"[..]));
        assert_eq!(Cursor::new(br#""a\"b""#).string(), None);
        assert_eq!(Cursor::new(b"\"a\x01\"").string(), None);
        assert_eq!(Cursor::new("\"é\"".as_bytes()).string(), None);
        let mut c = Cursor::new(br#"{"a":[1,-2,"x",true,false,null,{}],"b":[]}X"#);
        assert_eq!(c.skip_value(), Some(()));
        assert_eq!(c.peek(), Some(b'X'));
        assert_eq!(Cursor::new(b"[1,]").skip_value(), None);
        assert_eq!(Cursor::new(b"1.5").skip_value(), None);
        assert_eq!(Cursor::new(b"[[[[[[[[[[1]]]]]]]]]]").skip_value(), None);
        assert!(Cursor::new(b" \n").at_end());
    }

    #[test]
    fn decimals() {
        let d = |s: &[u8]| Cursor::new(s).decimal();
        assert_eq!(d(br#""61837.63000000""#), Some(61_837_630_000_000));
        assert_eq!(d(br#""0""#), Some(0));
        assert_eq!(d(br#""0.000000001""#), Some(1));
        assert_eq!(
            d(br#""999999999.999999999""#),
            Some(999_999_999_999_999_999)
        );
        assert_eq!(d(br#""1234567890""#), None);
        assert_eq!(d(br#""1.""#), None);
        assert_eq!(d(br#"".5""#), None);
        assert_eq!(d(br#""1.0000000000""#), None);
        assert_eq!(d(br#""-1""#), None);
        assert_eq!(d(br#""1e5""#), None);
        assert_eq!(d(br#""1"#), None);
    }

    proptest! {
        /// The fused decimal parser agrees with the core parser wherever it accepts.
        #[test]
        fn decimal_matches_core(s in "[0-9]{0,11}(\\.[0-9]{0,11})?[\"x]?") {
            let quoted = format!("\"{s}");
            let body = s.strip_suffix('"');
            if let Some(v) = Cursor::new(quoted.as_bytes()).decimal() {
                let body = body.expect("accepted only when closed by a quote");
                prop_assert_eq!(parse_nanos(body.as_bytes(), false), Ok(v));
            }
        }

        /// Arbitrary bytes never panic the cursor.
        #[test]
        fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = Cursor::new(&bytes).skip_value();
            let _ = Cursor::new(&bytes).decimal();
            let _ = Cursor::new(&bytes).i64();
        }
    }
}
