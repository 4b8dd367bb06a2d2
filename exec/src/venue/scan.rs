//! Byte scans over a raw JSON frame, for the few fields a session must see before (or instead
//! of) the decoder parsing the frame in place: request ids, event names, error codes. Never
//! panic, whatever the bytes: every index comes from a position found in the same slice.

/// Where `needle` (non-empty) first occurs in `hay`.
pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// `b` without its leading ASCII whitespace.
pub(crate) fn skip_ws(b: &[u8]) -> &[u8] {
    let n = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    &b[n..]
}

/// The leading decimal digits of `b` (1 to 19 of them), as a number.
pub(crate) fn digits(b: &[u8]) -> Option<u64> {
    let end = b
        .iter()
        .position(|c| !c.is_ascii_digit())
        .unwrap_or(b.len());
    if end == 0 || end > 19 {
        return None;
    }
    b[..end].iter().try_fold(0u64, |a, &c| {
        a.checked_mul(10)?.checked_add(u64::from(c - b'0'))
    })
}

/// The string value after the first `key_quote` (a key ending with the value's opening
/// quote, e.g. `"op":"`), up to the next quote; no escapes expected in the fields read so.
pub(crate) fn str_after<'a>(frame: &'a [u8], key_quote: &[u8]) -> Option<&'a [u8]> {
    let at = find(frame, key_quote)? + key_quote.len();
    let len = frame.get(at..)?.iter().position(|&b| b == b'"')?;
    frame.get(at..at + len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_never_panic_on_truncated_or_odd_input() {
        assert_eq!(find(b"abc", b"bc"), Some(1));
        assert_eq!(find(b"", b"x"), None);
        assert_eq!(skip_ws(b"  \t1"), b"1");
        assert_eq!(skip_ws(b"   "), b"");
        assert_eq!(digits(b"123,"), Some(123));
        assert_eq!(digits(b""), None);
        assert_eq!(digits(b"99999999999999999999"), None);
        assert_eq!(
            str_after(br#"{"op":"order","id":"7"}"#, br#""id":""#),
            Some(&b"7"[..])
        );
        assert_eq!(str_after(br#"{"id":"7"#, br#""id":""#), None);
        assert_eq!(str_after(br#"{"id":""#, br#""id":""#), None);
    }
}
