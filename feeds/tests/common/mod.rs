//! Shared by the feed integration tests: loaders for the real captures in `../shared/data`
//! (recorder prefixes are stripped here, never in the parsers) and the independent
//! `serde_json` reference decoders.

// Each test crate uses a different subset of these helpers.
#![allow(dead_code)]

pub mod fuzz;
pub mod reference;

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;

use tickwire_core::book::L2Book;
use tickwire_core::event::{BookDelta, MarketEvent};

/// `../shared/data`, beside the repository.
pub fn data_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data"))
}

/// One received frame: local receive time in ns and the raw JSON bytes.
#[derive(Clone, Debug)]
pub struct Frame {
    pub recv_ns: u64,
    pub bytes: Vec<u8>,
}

fn read(path: &str) -> Vec<u8> {
    let p = data_dir().join(path);
    std::fs::read(&p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
}

/// An hftbacktest capture: gzip, `<recv_ns> <json>` per line.
pub fn hftbacktest(path: &str) -> Vec<Frame> {
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(&read(path)[..])
        .read_to_end(&mut text)
        .expect("gzip");
    BufReader::new(&text[..])
        .split(b'\n')
        .map(|l| l.expect("line"))
        .filter(|l| !l.is_empty())
        .map(|l| {
            let sp = l.iter().position(|&b| b == b' ').expect("recv_ns prefix");
            let recv_ns = std::str::from_utf8(&l[..sp])
                .expect("ascii")
                .parse()
                .expect("recv_ns");
            Frame {
                recv_ns,
                bytes: l[sp + 1..].to_vec(),
            }
        })
        .collect()
}

/// Both BTCUSDT hftbacktest files, in recorded order (0808 then 0809).
pub fn btcusdt() -> Vec<Frame> {
    let mut v = hftbacktest("binance/btcusdt_20240808.gz");
    v.extend(hftbacktest("binance/btcusdt_20240809.gz"));
    v
}

/// Lines of a derived ndjson file.
pub fn ndjson(path: &str) -> Vec<Vec<u8>> {
    read(path)
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

/// Epoch seconds with a fraction (`1633998512.0633569`) → ns, exactly.
pub fn seconds_to_ns(s: &str) -> u64 {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let mut frac = frac.to_owned();
    frac.truncate(9);
    while frac.len() < 9 {
        frac.push('0');
    }
    int.parse::<u64>().expect("seconds") * 1_000_000_000 + frac.parse::<u64>().expect("frac")
}

/// A cryptofeed recorder line: `[<url> <- |-> ]<epoch_s>: <json>`. Returns the direction
/// (`Some(true)` received WS frame, `Some(false)` sent, HTTP responses as received), time
/// and JSON; `None` for connection and configuration lines.
pub fn cryptofeed_line(line: &str) -> Option<(bool, u64, &str)> {
    let (head, json) = line.split_once(": ")?;
    let (sent, ts) = if let Some((_, ts)) = head.split_once(" <- ") {
        (true, ts)
    } else if let Some((_, ts)) = head.split_once(" -> ") {
        (false, ts)
    } else {
        (false, head)
    };
    if !ts.bytes().all(|b| b.is_ascii_digit() || b == b'.') || ts.is_empty() {
        return None;
    }
    Some((!sent, seconds_to_ns(ts), json))
}

/// Received frames of a cryptofeed `*.ws.*` recording.
pub fn cryptofeed_ws(path: &str) -> Vec<Frame> {
    String::from_utf8(read(path))
        .expect("utf8")
        .lines()
        .filter_map(cryptofeed_line)
        .filter(|(received, _, _)| *received)
        .map(|(_, recv_ns, json)| Frame {
            recv_ns,
            bytes: json.as_bytes().to_vec(),
        })
        .collect()
}

/// HTTP responses of a cryptofeed `*.http.*` recording (or a prefixed REST dump): (url, time,
/// body).
pub fn cryptofeed_http(path: &str) -> Vec<(String, u64, Vec<u8>)> {
    String::from_utf8(read(path))
        .expect("utf8")
        .lines()
        .filter_map(|line| {
            let (url, rest) = line.split_once(" -> ")?;
            let (ts, body) = rest.split_once(": ")?;
            Some((url.to_owned(), seconds_to_ns(ts), body.as_bytes().to_vec()))
        })
        .collect()
}

/// Applies one event to a book the way the core does.
pub fn apply(book: &mut L2Book, ev: &MarketEvent) {
    if let MarketEvent::Delta(d) = ev {
        apply_delta(book, d);
    }
}

/// Applies one delta to a book: CLEAR empties it, every delta sets its level, BATCH_END
/// records the update id.
pub fn apply_delta(book: &mut L2Book, d: &BookDelta) {
    if d.flags & BookDelta::CLEAR != 0 {
        book.clear();
    }
    if let Some(side) = d.side() {
        book.set(side, d.px, d.qty);
    }
    if d.flags & BookDelta::BATCH_END != 0 {
        book.set_update_id(d.update_id);
    }
}
