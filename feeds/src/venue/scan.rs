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
    ///
    /// Eight bytes at a time: one word test finds the closing quote or any byte the subset
    /// refuses (control, `\`, DEL, non-ASCII), so a price or a stream name costs a few
    /// instructions per word instead of several per byte.
    #[inline]
    pub(crate) fn string(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let start = self.pos;
        let mut i = start;
        while let Some(chunk) = self.buf.get(i..i + 8) {
            let word = u64::from_le_bytes(chunk.try_into().ok()?);
            let special = special_bytes(word);
            if special != 0 {
                // The lowest flagged byte is exact (flags above it may be spurious).
                i += (special.trailing_zeros() / 8) as usize;
                return self.string_end(start, i);
            }
            i += 8;
        }
        while let Some(&b) = self.buf.get(i) {
            if b == b'"' || !(0x20..0x7f).contains(&b) || b == b'\\' {
                return self.string_end(start, i);
            }
            i += 1;
        }
        None
    }

    /// Ends a string at the special byte `i`: the closing quote, or give up.
    #[inline]
    fn string_end(&mut self, start: usize, i: usize) -> Option<&'a [u8]> {
        if self.buf.get(i) == Some(&b'"') {
            self.pos = i + 1;
            Some(&self.buf[start..i])
        } else {
            None
        }
    }

    /// An object key and the `:` after it. Keys are a few bytes long, so a byte loop beats
    /// the word-at-a-time scan here.
    #[inline]
    pub(crate) fn key(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let start = self.pos;
        loop {
            let b = *self.buf.get(self.pos)?;
            self.pos += 1;
            if b == b'"' {
                break;
            }
            if !(0x20..0x7f).contains(&b) || b == b'\\' {
                return None;
            }
        }
        let k = &self.buf[start..self.pos - 1];
        self.eat(b':')?;
        Some(k)
    }

    /// The next member's key: taken from `order` (one-byte keys in the venue's usual order,
    /// `*next` the position reached) when the bytes are exactly `,"k":`, which costs one
    /// short compare; otherwise read generically (and `order` is abandoned). `Some(None)`
    /// when the object closed.
    #[inline]
    pub(crate) fn next_key(
        &mut self,
        order: &'static [u8],
        next: &mut usize,
    ) -> Option<Option<&'a [u8]>> {
        if let Some(k) = order.get(*next) {
            let lit = [b',', b'"', *k, b'"', b':'];
            if self.buf.get(self.pos..self.pos + 5) == Some(&lit[..]) {
                self.pos += 5;
                *next += 1;
                return Some(Some(core::slice::from_ref(k)));
            }
            *next = order.len();
        }
        if !self.next_member(b'}')? {
            return Some(None);
        }
        self.key().map(Some)
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
        // Ids and ms timestamps have 11–13 digits: the first eight as one word.
        if let Some(chunk) = self.buf.get(self.pos..self.pos + 8)
            && let Some(head) = eight_digits(u64::from_le_bytes(chunk.try_into().ok()?))
        {
            v = head;
            self.pos += 8;
        }
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
    /// (longer, signed, exponent, stray bytes) is `None`. Eight fraction digits (Binance's
    /// padding) are converted as one word.
    #[inline]
    pub(crate) fn decimal(&mut self) -> Option<i64> {
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
        self.eat(b'"')?;
        let rest = self.buf.get(self.pos..)?;
        let mut i = 0;
        let mut int = 0u64;
        while let Some(&b) = rest.get(i) {
            let d = b.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            if i == 9 {
                return None;
            }
            int = int * 10 + u64::from(d);
            i += 1;
        }
        if i == 0 {
            return None;
        }
        let mut frac = 0u64;
        let mut frac_digits = 0usize;
        if rest.get(i) == Some(&b'.') {
            i += 1;
            if let Some(chunk) = rest.get(i..i + 8)
                && let Some(v) = eight_digits(u64::from_le_bytes(chunk.try_into().ok()?))
            {
                frac = v;
                frac_digits = 8;
                i += 8;
            }
            while let Some(&b) = rest.get(i) {
                let d = b.wrapping_sub(b'0');
                if d > 9 {
                    break;
                }
                if frac_digits == 9 {
                    return None;
                }
                frac = frac * 10 + u64::from(d);
                frac_digits += 1;
                i += 1;
            }
            if frac_digits == 0 {
                return None;
            }
        }
        if rest.get(i) != Some(&b'"') {
            return None;
        }
        self.pos += i + 1;
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

/// Flags (high bit of each byte) the bytes of `word` that end or disqualify a string: `"`,
/// `\`, control characters, DEL and non-ASCII. The lowest flag is exact.
#[inline]
fn special_bytes(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
    zero_byte(word ^ (ONES * u64::from(b'"')))
        | zero_byte(word ^ (ONES * u64::from(b'\\')))
        | zero_byte(word ^ (ONES * 0x7f))
        | control
        | (word & HIGH)
}

/// Eight ASCII digits (little-endian word, first digit in the low byte) → their value, or
/// `None` if any byte is not a digit. The classic SWAR reduction: pairs, quads, then the
/// two halves, three multiplications in all.
#[inline]
fn eight_digits(word: u64) -> Option<u64> {
    const ZEROS: u64 = 0x3030_3030_3030_3030;
    let digits = word.wrapping_sub(ZEROS);
    // Every byte must be 0..=9: no borrow out of it and no value above 9.
    let above_nine = digits.wrapping_add(0x7676_7676_7676_7676);
    if (word & 0xf0f0_f0f0_f0f0_f0f0) != ZEROS || (above_nine & 0x8080_8080_8080_8080) != 0 {
        return None;
    }
    let pairs = (digits.wrapping_mul(10) + (digits >> 8)) & 0x00ff_00ff_00ff_00ff;
    let quads = (pairs.wrapping_mul(100) + (pairs >> 16)) & 0x0000_ffff_0000_ffff;
    Some((quads.wrapping_mul(10_000) + (quads >> 32)) & 0xffff_ffff)
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
        assert_eq!(d(br#""1.23456789""#), Some(1_234_567_890));
        assert_eq!(
            d(br#""123456789.123456789""#),
            Some(123_456_789_123_456_789)
        );
        assert_eq!(d(br#""1.2345678x""#), None);
    }

    #[test]
    fn swar_digits() {
        let word = |s: &[u8]| u64::from_le_bytes(s.try_into().expect("8 bytes"));
        assert_eq!(eight_digits(word(b"12345678")), Some(12_345_678));
        assert_eq!(eight_digits(word(b"00000000")), Some(0));
        assert_eq!(eight_digits(word(b"99999999")), Some(99_999_999));
        for bad in [
            b"1234567:",
            b"/2345678",
            b"1234 678",
            b"12345\xff78",
            b"1234567\x00",
        ] {
            assert_eq!(eight_digits(word(bad)), None, "{bad:?}");
        }
    }

    proptest! {
        /// Integers: accepted exactly when they are plain JSON integers of at most 18 digits,
        /// with the value `str::parse` gives.
        #[test]
        fn u64_matches_std(s in "[0-9]{0,20}[,}.e]?") {
            let digits: &str = s.trim_end_matches([',', '}', '.', 'e']);
            let leading_zero = digits.len() > 1 && digits.starts_with('0');
            let plain = !(digits.is_empty()
                || digits.len() > 18
                || leading_zero
                || s.ends_with(['.', 'e']));
            let got = Cursor::new(s.as_bytes()).u64();
            prop_assert_eq!(got, plain.then(|| digits.parse::<u64>().expect("digits")));
        }

        /// SWAR digit conversion equals the plain loop on any 8 bytes.
        #[test]
        fn eight_digits_matches_loop(bytes in proptest::array::uniform8(prop_oneof![b'0'..=b'9', any::<u8>()])) {
            let want = bytes.iter().try_fold(0u64, |v, &b| b.is_ascii_digit().then(|| v * 10 + u64::from(b - b'0')));
            prop_assert_eq!(eight_digits(u64::from_le_bytes(bytes)), want);
        }

        /// The word-at-a-time string scan agrees with a byte loop.
        #[test]
        fn string_matches_byte_loop(body in proptest::collection::vec(prop_oneof![0x20u8..0x7f, any::<u8>()], 0..40)) {
            let mut quoted = vec![b'"'];
            quoted.extend_from_slice(&body);
            quoted.push(b'"');
            let want = body.iter().all(|&b| (0x20..0x7f).contains(&b) && b != b'\\' && b != b'"');
            let got = Cursor::new(&quoted).string();
            if want {
                prop_assert_eq!(got, Some(&body[..]));
            } else {
                let cut = body.iter().position(|&b| b == b'"').unwrap_or(body.len());
                let clean = body[..cut].iter().all(|&b| (0x20..0x7f).contains(&b) && b != b'\\');
                prop_assert_eq!(got, clean.then_some(&body[..cut]));
            }
        }

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
