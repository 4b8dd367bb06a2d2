//! OKX v5 request authentication, checked by the simulator (FORMATS.md §2.5): the WebSocket
//! `login` sign `Base64(HMAC-SHA256(secret, timestamp + "GET" + "/users/self/verify"))` with a
//! Unix-seconds timestamp, and the REST `OK-ACCESS-SIGN`
//! `Base64(HMAC-SHA256(secret, timestamp + METHOD + requestPath(+?query) + body))` with an
//! ISO-8601 millisecond timestamp. Both timestamps must be within 30 s of the server's clock.

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// How far a request timestamp may be from the server clock.
pub(crate) const WINDOW_MS: u64 = 30_000;

/// `Base64(HMAC-SHA256(secret, prehash))`.
pub(crate) fn sign(secret: &str, prehash: &str) -> String {
    let mut mac = match <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        // HMAC takes keys of any length; this arm is never taken.
        Err(_) => return String::new(),
    };
    mac.update(prehash.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Constant-time comparison of two signatures (a simulator need not resist timing attacks, but
/// it costs nothing to behave like a venue).
pub(crate) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Milliseconds since the epoch of `YYYY-MM-DDTHH:MM:SS.mmmZ` (the only form OKX accepts).
pub(crate) fn parse_iso_ms(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() != 24
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'.'
        || b[23] != b'Z'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u64> {
        let t = s.get(r)?;
        if t.bytes().all(|c| c.is_ascii_digit()) {
            t.parse().ok()
        } else {
            None
        }
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec, ms) = (num(11..13)?, num(14..16)?, num(17..19)?, num(20..23)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let days = days_from_civil(y as i64, mo as i64, d as i64);
    let secs = u64::try_from(days).ok()? * 86_400 + h * 3600 + mi * 60 + sec;
    Some(secs * 1000 + ms)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (the well-known era algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` of epoch milliseconds (the inverse, to test the parser).
#[cfg(test)]
fn iso_ms(ms: u64) -> String {
    let days = (ms / 86_400_000) as i64;
    let rem = ms % 86_400_000;
    // Inverse of days_from_civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_vectors() {
        // FORMATS.md §2.5 / vectors/test_vectors.json (computed cross-checks).
        assert_eq!(
            sign(
                "22582BD0CFF14C41EDBF1AB98506286D",
                "1538054050GET/users/self/verify"
            ),
            "+LdIr8lkkvhr5hoA3g9TMC0+uQJ849ftAcocA/ouu4M="
        );
        assert_eq!(
            sign(
                "22582BD0CFF14C41EDBF1AB98506286D",
                "2020-12-08T09:08:57.715ZPOST/api/v5/trade/order{\"instId\":\"BTC-USDT\",\"tdMode\":\"cash\",\"clOrdId\":\"b15\",\"side\":\"buy\",\"ordType\":\"limit\",\"px\":\"2.15\",\"sz\":\"2\"}"
            ),
            "dI6rrL9rXW/HdaPKJ/6LC1OgvH4/PYju6R3CqixMTNQ="
        );
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
    }

    #[test]
    fn iso_timestamps_round_trip() {
        assert_eq!(
            parse_iso_ms("2020-12-08T09:08:57.715Z"),
            Some(1_607_418_537_715)
        );
        assert_eq!(iso_ms(1_607_418_537_715), "2020-12-08T09:08:57.715Z");
        assert_eq!(parse_iso_ms("1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(iso_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
        for bad in [
            "2020-12-08T09:08:57Z",
            "2020-12-08 09:08:57.715Z",
            "2020-13-08T09:08:57.715Z",
            "2020-12-08T09:08:57.715+",
            "1607418537715",
        ] {
            assert_eq!(parse_iso_ms(bad), None, "{bad}");
        }
        for ms in [0u64, 1, 86_399_999, 1_723_161_253_937, 4_102_444_800_000] {
            assert_eq!(parse_iso_ms(&iso_ms(ms)), Some(ms));
        }
    }
}
