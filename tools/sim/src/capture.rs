//! Capture readers: every recorded line as (receive time, origin, JSON text).
//!
//! Formats are detected per file (gzip magic) and per line, so one venue can mix them:
//! * hftbacktest: `<local_receive_ns> <json>` (usually gzip), REST snapshot lines inlined;
//! * cryptofeed recorder: `<epoch_s>: <json>` received frames, `<url> <-> <epoch_s>`
//!   connection lines and `<url> <- <epoch_s>: <json>` sent lines (both skipped);
//! * cryptofeed HTTP recorder: `<url> -> <epoch_s>: <json>` (REST responses);
//! * a plain JSON document (a saved REST response, possibly pretty-printed) or NDJSON.
//!
//! The JSON text is kept verbatim: frames are served byte for byte as the venue sent them.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::SimError;

/// One recorded message.
#[derive(Debug)]
pub(crate) struct Line {
    /// Receive time in ns since the epoch, when the format records one.
    pub ts_ns: Option<u64>,
    /// The request URL for a recorded REST response.
    pub url: Option<String>,
    /// The JSON text, verbatim.
    pub json: String,
    /// 1-based line number in the file, for messages.
    pub line: usize,
}

/// One capture file, read.
#[derive(Debug)]
pub(crate) struct File {
    pub path: PathBuf,
    pub lines: Vec<Line>,
    /// Lines that matched no format (reported as warnings, not errors: a recorder killed
    /// mid-write leaves a torn last line).
    pub unreadable: Vec<usize>,
    /// True when the whole file is one JSON document (a saved REST response).
    pub single_document: bool,
}

/// Reads and splits a capture file.
pub(crate) fn read(path: &Path) -> Result<File, SimError> {
    let io = |e: std::io::Error| SimError::Io {
        context: format!("reading capture {}", path.display()),
        source: e,
    };
    let bytes = fs::read(path).map_err(io)?;
    let text = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut s = String::new();
        flate2::read::MultiGzDecoder::new(&bytes[..])
            .read_to_string(&mut s)
            .map_err(io)?;
        s
    } else {
        String::from_utf8(bytes).map_err(|e| SimError::Capture {
            path: path.to_path_buf(),
            line: 0,
            msg: format!("not UTF-8 text: {e}"),
        })?
    };
    Ok(split(path, &text))
}

fn split(path: &Path, text: &str) -> File {
    let trimmed = text.trim();
    // A saved REST response is one document, possibly spread over several lines.
    if trimmed.starts_with('{') && serde_json::from_str::<serde::de::IgnoredAny>(trimmed).is_ok() {
        return File {
            path: path.to_path_buf(),
            lines: vec![Line {
                ts_ns: None,
                url: None,
                json: trimmed.to_owned(),
                line: 1,
            }],
            unreadable: Vec::new(),
            single_document: true,
        };
    }
    let mut lines = Vec::new();
    let mut unreadable = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let raw = raw.trim_end_matches('\r');
        if raw.trim().is_empty() {
            continue;
        }
        match parse_line(raw) {
            Parsed::Message { ts_ns, url, json } => lines.push(Line {
                ts_ns,
                url,
                json: json.to_owned(),
                line: i + 1,
            }),
            Parsed::Skip => {}
            Parsed::Unreadable => unreadable.push(i + 1),
        }
    }
    File {
        path: path.to_path_buf(),
        lines,
        unreadable,
        single_document: false,
    }
}

enum Parsed<'a> {
    Message {
        ts_ns: Option<u64>,
        url: Option<String>,
        json: &'a str,
    },
    Skip,
    Unreadable,
}

fn parse_line(raw: &str) -> Parsed<'_> {
    let first = raw.as_bytes()[0];
    if first == b'{' || first == b'[' {
        return Parsed::Message {
            ts_ns: None,
            url: None,
            json: raw,
        };
    }
    if first.is_ascii_digit() {
        let Some((stamp, rest)) = raw.split_once(' ') else {
            return Parsed::Unreadable;
        };
        let ts = match stamp.strip_suffix(':') {
            Some(secs) => epoch_seconds_to_ns(secs),
            None => stamp.parse::<u64>().ok(),
        };
        return match ts {
            Some(ts) if rest.starts_with('{') || rest.starts_with('[') => Parsed::Message {
                ts_ns: Some(ts),
                url: None,
                json: rest,
            },
            _ => Parsed::Unreadable,
        };
    }
    // Recorder lines that start with a URL: connection (`<->`), sent (`<-`), HTTP (`->`).
    if raw.contains(" <-> ") || raw.contains(" <- ") {
        return Parsed::Skip;
    }
    if let Some((url, rest)) = raw.split_once(" -> ")
        && let Some((stamp, json)) = rest.split_once(": ")
        && let Some(ts) = epoch_seconds_to_ns(stamp)
    {
        return Parsed::Message {
            ts_ns: Some(ts),
            url: Some(url.to_owned()),
            json,
        };
    }
    Parsed::Unreadable
}

/// `"1633998512.0633569"` → ns, exactly (no float: the digits are shifted, not multiplied).
pub(crate) fn epoch_seconds_to_ns(s: &str) -> Option<u64> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: u64 = int.parse().ok()?;
    let mut nanos: u64 = 0;
    for (i, b) in frac.bytes().take(9).enumerate() {
        nanos += u64::from(b - b'0') * 10u64.pow(8 - i as u32);
    }
    secs.checked_mul(1_000_000_000)?.checked_add(nanos)
}

/// The value of `key` in a URL's query string (`...?symbol=NKNUSDT&limit=1000`).
pub(crate) fn query_param<'a>(url: &'a str, key: &str) -> Option<&'a str> {
    let (_, query) = url.split_once('?')?;
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then_some(v)
    })
}

/// Merges several files' timed messages into one order: by receive time, each file's own order
/// kept (a k-way merge, not a sort, so a clock step inside one file cannot reorder its frames).
/// Messages without a time follow the previous one of their file.
pub(crate) fn merge_by_time<T>(files: Vec<Vec<(u64, T)>>) -> Vec<(u64, T)> {
    let total = files.iter().map(Vec::len).sum();
    let mut iters: Vec<_> = files
        .into_iter()
        .map(|f| f.into_iter().peekable())
        .collect();
    let mut out = Vec::with_capacity(total);
    loop {
        let mut best: Option<(usize, u64)> = None;
        for (i, it) in iters.iter_mut().enumerate() {
            if let Some((ts, _)) = it.peek()
                && best.is_none_or(|(_, b)| *ts < b)
            {
                best = Some((i, *ts));
            }
        }
        let Some((i, _)) = best else { break };
        if let Some(item) = iters[i].next() {
            out.push(item);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_seconds_are_exact() {
        assert_eq!(
            epoch_seconds_to_ns("1633998512.0633569"),
            Some(1_633_998_512_063_356_900)
        );
        assert_eq!(epoch_seconds_to_ns("12"), Some(12_000_000_000));
        assert_eq!(epoch_seconds_to_ns("1.2x"), None);
    }

    #[test]
    fn recorder_lines() {
        let f = split(
            Path::new("x"),
            "wss://h/stream <-> 1.5\nwss://h <- 2.0: {\"op\":1}\n3.25: {\"a\":1}\n\
             https://h/api?symbol=AB -> 4: {\"lastUpdateId\":1}\n5 {\"b\":2}\ngarbage\n",
        );
        let got: Vec<_> = f
            .lines
            .iter()
            .map(|l| (l.ts_ns, l.url.as_deref(), l.json.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (Some(3_250_000_000), None, "{\"a\":1}"),
                (
                    Some(4_000_000_000),
                    Some("https://h/api?symbol=AB"),
                    "{\"lastUpdateId\":1}"
                ),
                (Some(5), None, "{\"b\":2}"),
            ]
        );
        assert_eq!(f.unreadable, vec![6]);
        assert_eq!(query_param("https://h/api?symbol=AB", "symbol"), Some("AB"));
    }

    #[test]
    fn merge_keeps_each_files_order() {
        let merged = merge_by_time(vec![
            vec![(1, 'a'), (5, 'b'), (3, 'c')],
            vec![(2, 'x'), (4, 'y')],
        ]);
        let order: String = merged.iter().map(|(_, c)| *c).collect();
        assert_eq!(order, "axybc");
    }
}
