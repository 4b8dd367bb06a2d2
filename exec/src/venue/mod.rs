//! Per-venue order entry: signing, request encoding, response parsing and the order-entry
//! sessions (Binance spot and Binance.US over the WebSocket API or REST with user-data
//! streams, OKX v5 over its private WebSocket with a REST fallback). Each venue is a
//! submodule here; the decoding of execution messages into `ExecReport`s is per venue
//! (`binance::reports`, `okx::reports`) with shared parts in [`report`].
//!
//! Everything on the encode/sign path writes into caller-owned fixed buffers through
//! [`ByteWriter`]: no allocation, lock, logging or syscall, and a full buffer is an error
//! ([`EncodeError::BufferFull`]), never a panic or a truncated request.

pub mod binance;
pub mod okx;
pub mod report;
mod scan;

pub use report::{
    Assets, DecodeError, DecodeSummary, MessageKind, RawFee, SymbolTable, parse_client_order_id,
};

use core::fmt;

use tickwire_core::ids::ClientOrderId;
use tickwire_core::num::{Px, Qty};

/// Why a request could not be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// The output buffer is too small for the request; nothing usable was written.
    BufferFull,
    /// The order cannot be expressed on this venue (the reason names the field, never a
    /// credential).
    InvalidOrder(&'static str),
    /// A caller-supplied text field (symbol, request id, api key) contains a character that
    /// would need escaping in JSON (`"`, `\` or a control character); these fields are written
    /// verbatim so that the bytes signed are the bytes sent.
    UnsafeText(&'static str),
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BufferFull => f.write_str("request buffer too small"),
            Self::InvalidOrder(why) => write!(f, "order not expressible on this venue: {why}"),
            Self::UnsafeText(field) => {
                write!(
                    f,
                    "field {field} contains a character that needs JSON escaping"
                )
            }
        }
    }
}

impl std::error::Error for EncodeError {}

/// An append-only writer over a caller-owned byte slice. Every write either fits entirely or
/// fails with [`EncodeError::BufferFull`] and leaves the position unchanged, so the writer never
/// panics and never produces a silently truncated request.
#[derive(Debug)]
pub struct ByteWriter<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> ByteWriter<'a> {
    /// A writer starting at the beginning of `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.pos
    }

    /// Whether nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.pos == 0
    }

    /// The written prefix.
    pub fn written(&self) -> &[u8] {
        &self.buf[..self.pos]
    }

    /// Appends `bytes`.
    #[inline]
    pub fn put(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
        let end = self
            .pos
            .checked_add(bytes.len())
            .ok_or(EncodeError::BufferFull)?;
        let dst = self
            .buf
            .get_mut(self.pos..end)
            .ok_or(EncodeError::BufferFull)?;
        dst.copy_from_slice(bytes);
        self.pos = end;
        Ok(())
    }

    /// Appends one byte.
    #[inline]
    pub fn byte(&mut self, b: u8) -> Result<(), EncodeError> {
        let slot = self.buf.get_mut(self.pos).ok_or(EncodeError::BufferFull)?;
        *slot = b;
        self.pos += 1;
        Ok(())
    }

    /// Appends `v` in decimal.
    #[inline]
    pub fn u64(&mut self, v: u64) -> Result<(), EncodeError> {
        let mut tmp = [0u8; 20];
        let n = write_u64(v, &mut tmp);
        self.put(&tmp[..n])
    }

    /// Appends a price with at least `min_decimals` decimals, exactly (no float).
    #[inline]
    pub fn px(&mut self, px: Px, min_decimals: u32) -> Result<(), EncodeError> {
        let mut tmp = [0u8; 32];
        let s = px.write_to(min_decimals, &mut tmp);
        self.put(s)
    }

    /// Appends a quantity with at least `min_decimals` decimals, exactly (no float).
    #[inline]
    pub fn qty(&mut self, qty: Qty, min_decimals: u32) -> Result<(), EncodeError> {
        let mut tmp = [0u8; 32];
        let s = qty.write_to(min_decimals, &mut tmp);
        self.put(s)
    }

    /// Appends a client order id in its venue form `tw<strategy>x<seq>` (the same text as its
    /// `Display`, without going through `core::fmt`).
    #[inline]
    pub fn client_order_id(&mut self, id: ClientOrderId) -> Result<(), EncodeError> {
        let mut tmp = [0u8; CLIENT_ORDER_ID_MAX];
        let n = write_client_order_id(id, &mut tmp);
        self.put(&tmp[..n])
    }

    /// Appends `bytes` percent-encoded: RFC 3986 unreserved characters stay, everything else
    /// (including every byte of a non-ASCII UTF-8 sequence) becomes `%XX` with upper-case hex,
    /// as Binance requires for REST payloads before signing.
    pub fn percent_encoded(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
        let start = self.pos;
        for &b in bytes {
            let r = if is_unreserved(b) {
                self.byte(b)
            } else {
                self.put(&[
                    b'%',
                    HEX_UPPER[usize::from(b >> 4)],
                    HEX_UPPER[usize::from(b & 15)],
                ])
            };
            if r.is_err() {
                // Keep the all-or-nothing contract of the other writers.
                self.pos = start;
                return r;
            }
        }
        Ok(())
    }

    /// Appends `bytes` between double quotes after checking that they need no JSON escaping.
    #[inline]
    pub fn json_str(&mut self, field: &'static str, bytes: &[u8]) -> Result<(), EncodeError> {
        check_json_safe(field, bytes)?;
        let start = self.pos;
        let r = self
            .byte(b'"')
            .and_then(|()| self.put(bytes))
            .and_then(|()| self.byte(b'"'));
        if r.is_err() {
            self.pos = start;
        }
        r
    }
}

/// Longest `tw<u16>x<48-bit seq>` text: 2 + 5 + 1 + 15.
pub const CLIENT_ORDER_ID_MAX: usize = 23;

/// Writes `id` as `tw<strategy>x<seq>` into `out`, returning the length.
pub fn write_client_order_id(id: ClientOrderId, out: &mut [u8; CLIENT_ORDER_ID_MAX]) -> usize {
    out[0] = b't';
    out[1] = b'w';
    let mut tmp = [0u8; 20];
    let n = write_u64(u64::from(id.strategy().0), &mut tmp);
    out[2..2 + n].copy_from_slice(&tmp[..n]);
    let mut pos = 2 + n;
    out[pos] = b'x';
    pos += 1;
    let m = write_u64(id.seq(), &mut tmp);
    out[pos..pos + m].copy_from_slice(&tmp[..m]);
    pos + m
}

/// Writes `v` in decimal into `out`, returning the length (a `u64` has at most 20 digits).
pub fn write_u64(mut v: u64, out: &mut [u8; 20]) -> usize {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let n = tmp.len() - i;
    out[..n].copy_from_slice(&tmp[i..]);
    n
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";
const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

/// Rejects text that JSON would need to escape; such text is never expected in symbols, ids or
/// keys, and escaping it would make the signed bytes differ from the sent ones.
pub(crate) fn check_json_safe(field: &'static str, bytes: &[u8]) -> Result<(), EncodeError> {
    if bytes.iter().any(|&b| b == b'"' || b == b'\\' || b < 0x20) {
        Err(EncodeError::UnsafeText(field))
    } else {
        Ok(())
    }
}

/// Lower-case hex of a 32-byte MAC.
pub(crate) fn hex_lower_32(mac: &[u8], out: &mut [u8; 64]) {
    for (i, &b) in mac.iter().take(32).enumerate() {
        out[2 * i] = HEX_LOWER[usize::from(b >> 4)];
        out[2 * i + 1] = HEX_LOWER[usize::from(b & 15)];
    }
}

/// Standard (RFC 4648, padded) base64 of a 32-byte MAC: always 44 characters, written into a
/// fixed buffer by the `base64` crate's slice encoder (no allocation).
pub(crate) fn base64_32(mac: &[u8; 32], out: &mut [u8; 44]) {
    use base64::Engine as _;
    // 32 input bytes always encode to exactly 44: the slice is large enough by construction.
    let written = base64::engine::general_purpose::STANDARD.encode_slice(mac, &mut out[..]);
    debug_assert_eq!(written.ok(), Some(44));
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickwire_core::ids::StrategyId;

    #[test]
    fn writer_is_all_or_nothing() {
        let mut buf = [0u8; 4];
        let mut w = ByteWriter::new(&mut buf);
        assert_eq!(w.put(b"abc"), Ok(()));
        assert_eq!(w.put(b"de"), Err(EncodeError::BufferFull));
        assert_eq!(w.written(), b"abc");
        assert_eq!(
            w.percent_encoded("１".as_bytes()),
            Err(EncodeError::BufferFull)
        );
        assert_eq!(w.json_str("f", b"xy"), Err(EncodeError::BufferFull));
        assert_eq!(w.len(), 3);
        assert_eq!(w.byte(b'd'), Ok(()));
        assert_eq!(w.byte(b'e'), Err(EncodeError::BufferFull));
        assert_eq!(w.u64(1), Err(EncodeError::BufferFull));
    }

    #[test]
    fn percent_encoding_matches_binance_doc() {
        let mut buf = [0u8; 64];
        let mut w = ByteWriter::new(&mut buf);
        w.percent_encoded("１２３４５６".as_bytes()).unwrap();
        assert_eq!(
            w.written(),
            b"%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96"
        );
    }

    #[test]
    fn client_order_id_matches_display() {
        for (s, q) in [(0u16, 1u64), (7, 42), (u16::MAX, (1 << 48) - 1)] {
            let id = ClientOrderId::new(StrategyId(s), q).unwrap();
            let mut out = [0u8; CLIENT_ORDER_ID_MAX];
            let n = write_client_order_id(id, &mut out);
            assert_eq!(std::str::from_utf8(&out[..n]).unwrap(), id.to_string());
        }
    }

    #[test]
    fn u64_digits() {
        for v in [0u64, 9, 10, 1_499_827_319_559, u64::MAX] {
            let mut out = [0u8; 20];
            let n = write_u64(v, &mut out);
            assert_eq!(std::str::from_utf8(&out[..n]).unwrap(), v.to_string());
        }
    }

    #[test]
    fn json_safety() {
        assert_eq!(check_json_safe("s", "１２３".as_bytes()), Ok(()));
        assert_eq!(
            check_json_safe("s", b"a\"b"),
            Err(EncodeError::UnsafeText("s"))
        );
        assert_eq!(
            check_json_safe("s", b"a\\b"),
            Err(EncodeError::UnsafeText("s"))
        );
        assert_eq!(
            check_json_safe("s", b"a\nb"),
            Err(EncodeError::UnsafeText("s"))
        );
    }

    #[test]
    fn base64_rfc4648_shape() {
        // 32 bytes of 0x00 and 0xff: known encodings.
        let mut out = [0u8; 44];
        base64_32(&[0u8; 32], &mut out);
        assert_eq!(&out, b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
        base64_32(&[0xffu8; 32], &mut out);
        assert_eq!(&out, b"//////////////////////////////////////////8=");
        let mut seq = [0u8; 32];
        for (i, b) in seq.iter_mut().enumerate() {
            *b = i as u8;
        }
        base64_32(&seq, &mut out);
        assert_eq!(&out, b"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
    }
}
