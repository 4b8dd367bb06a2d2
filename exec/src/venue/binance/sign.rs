//! Binance HMAC-SHA256 request signing (FORMATS.md §1.12).
//!
//! The key is absorbed once: [`BinanceSigner::new`] keeps the HMAC state after the inner and
//! outer key blocks, and each signature clones that state (a plain copy of two SHA-256 states),
//! so signing costs two compressions fewer than keying anew and allocates nothing.

use core::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::venue::hex_lower_32;

/// A keyed HMAC-SHA256 signer writing Binance's lower-case hex signatures.
#[derive(Clone)]
pub struct BinanceSigner {
    keyed: Hmac<Sha256>,
}

impl fmt::Debug for BinanceSigner {
    /// Never shows the keyed state: it is equivalent to the secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BinanceSigner { key: *** }")
    }
}

impl BinanceSigner {
    /// Keys a signer with the API secret (the secret's bytes, as Binance issues them).
    pub fn new(secret: &[u8]) -> Self {
        Self {
            keyed: keyed_hmac(secret),
        }
    }

    /// A fresh HMAC state with the key already absorbed, for callers that stream the payload
    /// in pieces (the WS-API params are fed to it directly while the JSON is written).
    #[inline]
    pub fn start(&self) -> Hmac<Sha256> {
        self.keyed.clone()
    }

    /// Signs `payload`, writing 64 lower-case hex characters into `out`.
    #[inline]
    pub fn sign(&self, payload: &[u8], out: &mut [u8; 64]) {
        let mut mac = self.start();
        mac.update(payload);
        finish_hex(mac, out);
    }

    /// Signs the concatenation of `parts` (e.g. a legacy query string followed by its body,
    /// which Binance concatenates without a separator) without copying them together.
    #[inline]
    pub fn sign_parts(&self, parts: &[&[u8]], out: &mut [u8; 64]) {
        let mut mac = self.start();
        for p in parts {
            mac.update(p);
        }
        finish_hex(mac, out);
    }
}

/// Finalises a streamed HMAC into lower-case hex.
#[inline]
pub fn finish_hex(mac: Hmac<Sha256>, out: &mut [u8; 64]) {
    let tag = mac.finalize().into_bytes();
    hex_lower_32(&tag, out);
}

/// HMAC accepts keys of any length (long keys are hashed first), so keying cannot fail.
pub(crate) fn keyed_hmac(secret: &[u8]) -> Hmac<Sha256> {
    match <Hmac<Sha256> as KeyInit>::new_from_slice(secret) {
        Ok(m) => m,
        // Unreachable for HMAC; an empty-key state keeps this total without a panic path.
        Err(_) => <Hmac<Sha256> as KeyInit>::new(&Default::default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";

    #[test]
    fn doc_rest_vector() {
        let s = BinanceSigner::new(SECRET);
        let mut out = [0u8; 64];
        s.sign(
            b"symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559",
            &mut out,
        );
        assert_eq!(
            &out,
            b"c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
        );
    }

    #[test]
    fn debug_hides_key() {
        let s = BinanceSigner::new(SECRET);
        let d = format!("{s:?}");
        assert!(!d.contains("NhqP"), "{d}");
        assert_eq!(d, "BinanceSigner { key: *** }");
    }

    #[test]
    fn parts_equal_whole() {
        let s = BinanceSigner::new(SECRET);
        let (mut a, mut b) = ([0u8; 64], [0u8; 64]);
        s.sign(b"abcdef", &mut a);
        s.sign_parts(&[b"ab", b"", b"cdef"], &mut b);
        assert_eq!(a, b);
    }
}
