//! OKX order-book checksum (FORMATS §2.3): CRC32 over the best 25 bids and asks, interleaved
//! `bid1px:bid1sz:ask1px:ask1sz:...` (a side with fewer levels just contributes fewer entries),
//! using the price and size strings exactly as received, read as a signed 32-bit integer.
//!
//! The strings are rewritten from each level's fixed-point value and the decimal count it had
//! on the wire ([`WireLevel`]), which reproduces them byte for byte (the decoder refuses the
//! few shapes that could not be: leading zeros, more than 9 decimals); the real capture's
//! 290/290 checksums are verified in `tests/feeds/okx.rs`. Nothing is allocated: each number is
//! formatted into a stack buffer and fed to the CRC incrementally.

use tickwire_core::num::write_nanos;

use super::book::WireBook;
use super::decode::WireLevel;

/// Levels per side that enter the checksum.
pub const CHECKSUM_DEPTH: usize = 25;

/// The checksum of `book`'s top 25 levels per side.
pub fn book_checksum(book: &WireBook) -> i32 {
    checksum(book.bids(), book.asks())
}

/// The checksum of the first 25 `bids` and `asks` (each best first).
pub fn checksum(
    bids: impl Iterator<Item = WireLevel>,
    asks: impl Iterator<Item = WireLevel>,
) -> i32 {
    let mut crc = crc32fast::Hasher::new();
    let mut bids = bids.take(CHECKSUM_DEPTH);
    let mut asks = asks.take(CHECKSUM_DEPTH);
    let mut first = true;
    loop {
        let (bid, ask) = (bids.next(), asks.next());
        if bid.is_none() && ask.is_none() {
            break;
        }
        for level in [bid, ask].into_iter().flatten() {
            if !first {
                crc.update(b":");
            }
            first = false;
            write_level(&mut crc, level);
        }
    }
    // The CRC's bits, reinterpreted as OKX's signed value.
    crc.finalize() as i32
}

fn write_level(crc: &mut crc32fast::Hasher, level: WireLevel) {
    let mut buf = [0u8; 32];
    let n = write_nanos(level.px.raw(), u32::from(level.px_decimals), &mut buf);
    crc.update(&buf[..n]);
    crc.update(b":");
    let n = write_nanos(level.qty.raw(), u32::from(level.qty_decimals), &mut buf);
    crc.update(&buf[..n]);
}

/// The exact wire string of a price or size (for tests and diagnostics; allocates).
pub fn wire_string(raw: i64, decimals: u8) -> String {
    let mut buf = [0u8; 32];
    let n = write_nanos(raw, u32::from(decimals), &mut buf);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venue::okx::decode::wire_level;

    fn levels(v: &[(&str, &str)]) -> Vec<WireLevel> {
        v.iter()
            .map(|(p, q)| wire_level(p.as_bytes(), q.as_bytes(), "test").expect("level"))
            .collect()
    }

    /// The documented vectors (`vectors/test_vectors.json`, `okx_book_checksum`).
    #[test]
    fn documented_vectors() {
        let bids = levels(&[("3366.1", "7"), ("3366", "6")]);
        let asks = levels(&[("3366.8", "9"), ("3368", "8")]);
        assert_eq!(checksum(bids.into_iter(), asks.into_iter()), -1_881_014_294);
        let bids = levels(&[("3366.1", "7")]);
        let asks = levels(&[("3366.8", "9"), ("3368", "8"), ("3372", "8")]);
        assert_eq!(checksum(bids.into_iter(), asks.into_iter()), 831_078_360);
    }

    #[test]
    fn wire_strings_round_trip() {
        for s in [
            "30236",
            "30249.4",
            "0.0002",
            "2.52627349",
            "0",
            "1.50",
            "100.000000001",
        ] {
            let l = wire_level(s.as_bytes(), s.as_bytes(), "t").expect("level");
            assert_eq!(wire_string(l.px.raw(), l.px_decimals), s);
        }
    }
}
