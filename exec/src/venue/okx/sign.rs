//! OKX v5 signing (FORMATS.md §2.5): `sign = Base64(HMAC_SHA256(secret, prehash))` with
//!
//! * WS login: `prehash = timestamp (Unix seconds) + "GET" + "/users/self/verify"`;
//! * REST: `prehash = ISO-8601 ms timestamp + METHOD + requestPath(+query) + body`.
//!
//! As for Binance, the key is absorbed once and the keyed state cloned per signature; the
//! prehash is streamed into the HMAC piece by piece, so nothing is concatenated or allocated.

use core::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::venue::binance::sign::keyed_hmac;
use crate::venue::{EncodeError, base64_32, write_u64};

/// The request path signed at WS login.
pub const LOGIN_PATH: &[u8] = b"/users/self/verify";

/// A keyed HMAC-SHA256 signer writing OKX's Base64 signatures (always 44 characters).
#[derive(Clone)]
pub struct OkxSigner {
    keyed: Hmac<Sha256>,
}

impl fmt::Debug for OkxSigner {
    /// Never shows the keyed state: it is equivalent to the secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OkxSigner { key: *** }")
    }
}

impl OkxSigner {
    /// Keys a signer with the API secret (its text bytes, as OKX issues it).
    pub fn new(secret: &[u8]) -> Self {
        Self {
            keyed: keyed_hmac(secret),
        }
    }

    /// Signs the concatenation of `parts` into 44 Base64 characters.
    #[inline]
    pub fn sign_parts(&self, parts: &[&[u8]], out: &mut [u8; 44]) {
        let mut mac = self.keyed.clone();
        for p in parts {
            mac.update(p);
        }
        let tag: [u8; 32] = mac.finalize().into_bytes().into();
        base64_32(&tag, out);
    }

    /// WS login signature for a timestamp already in text form (Unix seconds).
    #[inline]
    pub fn sign_login_text(&self, timestamp: &[u8], out: &mut [u8; 44]) {
        self.sign_parts(&[timestamp, b"GET", LOGIN_PATH], out);
    }

    /// WS login signature for `timestamp_s` (Unix seconds).
    #[inline]
    pub fn sign_login(&self, timestamp_s: u64, out: &mut [u8; 44]) {
        let mut ts = [0u8; 20];
        let n = write_u64(timestamp_s, &mut ts);
        self.sign_login_text(&ts[..n], out);
    }

    /// REST signature: `iso_timestamp` as written by [`write_iso8601_ms`], `method` upper-case
    /// (`GET`, `POST`), `request_path` including any query string, `body` empty for GET.
    #[inline]
    pub fn sign_rest(
        &self,
        iso_timestamp: &[u8],
        method: &[u8],
        request_path: &[u8],
        body: &[u8],
        out: &mut [u8; 44],
    ) {
        self.sign_parts(&[iso_timestamp, method, request_path, body], out);
    }
}

/// Writes `epoch_ms` as OKX's REST timestamp `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC, 24 bytes).
/// Fails past the year 9999, which the fixed width cannot hold.
pub fn write_iso8601_ms(epoch_ms: u64, out: &mut [u8; 24]) -> Result<(), EncodeError> {
    let ms = epoch_ms % 1000;
    let secs = epoch_ms / 1000;
    let days = secs / 86_400;
    let sod = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    if y > 9999 {
        return Err(EncodeError::InvalidOrder("timestamp beyond year 9999"));
    }
    let two = |v: u64, o: &mut [u8]| {
        o[0] = b'0' + (v / 10) as u8;
        o[1] = b'0' + (v % 10) as u8;
    };
    two(y / 100, &mut out[0..2]);
    two(y % 100, &mut out[2..4]);
    out[4] = b'-';
    two(m, &mut out[5..7]);
    out[7] = b'-';
    two(d, &mut out[8..10]);
    out[10] = b'T';
    two(sod / 3600, &mut out[11..13]);
    out[13] = b':';
    two(sod / 60 % 60, &mut out[14..16]);
    out[16] = b':';
    two(sod % 60, &mut out[17..19]);
    out[19] = b'.';
    out[20] = b'0' + (ms / 100) as u8;
    two(ms % 100, &mut out[21..23]);
    out[23] = b'Z';
    Ok(())
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day); H. Hinnant's
/// `civil_from_days`, restricted to non-negative day counts.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_timestamps() {
        let mut out = [0u8; 24];
        for (ms, want) in [
            (1_607_418_537_715u64, "2020-12-08T09:08:57.715Z"),
            (0, "1970-01-01T00:00:00.000Z"),
            (951_782_400_007, "2000-02-29T00:00:00.007Z"),
            (253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
        ] {
            write_iso8601_ms(ms, &mut out).unwrap();
            assert_eq!(std::str::from_utf8(&out).unwrap(), want);
        }
        assert!(write_iso8601_ms(253_402_300_800_000, &mut out).is_err());
    }

    #[test]
    fn login_vector() {
        let s = OkxSigner::new(b"22582BD0CFF14C41EDBF1AB98506286D");
        let mut out = [0u8; 44];
        s.sign_login(1_538_054_050, &mut out);
        assert_eq!(&out, b"+LdIr8lkkvhr5hoA3g9TMC0+uQJ849ftAcocA/ouu4M=");
        assert_eq!(format!("{s:?}"), "OkxSigner { key: *** }");
    }
}
