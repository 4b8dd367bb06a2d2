//! OKX v5 public market data, from FORMATS.md §0 and §2.1–2.4.
//!
//! * `/ws/v5/public`: `{"op":"subscribe","args":[{"channel":..,"instId":..}]}` acked per arg with
//!   `{"event":"subscribe","arg":{..},"connId":..}` (with the request's `id` when it had one);
//!   errors `{"event":"error","code":"60012"|"60018",...}`; text `ping` → text `pong`.
//! * Frames are served verbatim (`books` snapshots and updates with their captured checksums,
//!   `trades`, `tickers`, `bbo-tbt`, ...). A client that subscribes to `books` after the tape
//!   passed the capture's snapshot gets a snapshot of the simulator's own book first, with a
//!   checksum computed here (§2.3), as the venue sends one on every subscription.
//! * REST: `/api/v5/market/books` from the same book, `/api/v5/public/time`.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::SimError;
use crate::book::{self, Book, Change, Level};
use crate::capture::{self, File};
use crate::tape::{BookOp, Frame, Tape};

/// Levels per side in a `books` snapshot.
const BOOKS_DEPTH: usize = 400;

/// Public channels this simulator knows (others get error 60018).
const CHANNELS: [&str; 12] = [
    "books",
    "books5",
    "bbo-tbt",
    "books-l2-tbt",
    "books50-l2-tbt",
    "books-elp",
    "trades",
    "tickers",
    "mark-price",
    "index-tickers",
    "funding-rate",
    "open-interest",
];

/// One instrument's book operations from the capture.
#[derive(Debug, Default)]
pub(crate) struct Inst {
    pub snapshots: Vec<(Vec<Change>, String)>,
    pub updates: Vec<(Vec<Change>, String)>,
}

/// An OKX venue's static data.
#[derive(Debug, Default)]
pub(crate) struct Market {
    pub insts: Vec<Inst>,
    pub by_id: HashMap<String, usize>,
    /// Every instId seen on any channel (what a subscription may name).
    pub known: HashSet<String>,
}

/// A live book: levels with wire strings, and the `ts` of its last change.
#[derive(Clone, Debug)]
pub(crate) struct OkxBook {
    pub book: Book<Level>,
    pub ts: String,
}

/// Applies a book op to the live books.
pub(crate) fn apply(market: &Market, books: &mut [Option<OkxBook>], op: BookOp) {
    match op {
        BookOp::OkxSnapshot { book, op } => {
            let (Some(inst), Some(slot)) = (
                market.insts.get(book as usize),
                books.get_mut(book as usize),
            ) else {
                return;
            };
            if let Some((changes, ts)) = inst.snapshots.get(op as usize) {
                *slot = Some(OkxBook {
                    book: Book::from_changes(changes),
                    ts: ts.clone(),
                });
            }
        }
        BookOp::OkxUpdate { book, op } => {
            let (Some(inst), Some(Some(b))) = (
                market.insts.get(book as usize),
                books.get_mut(book as usize),
            ) else {
                return;
            };
            if let Some((changes, ts)) = inst.updates.get(op as usize) {
                b.book.apply(changes);
                b.ts.clone_from(ts);
            }
        }
        _ => {}
    }
}

#[derive(Deserialize)]
struct Probe<'a> {
    arg: Option<Arg>,
    action: Option<String>,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Arg {
    channel: String,
    #[serde(rename = "instId")]
    inst_id: Option<String>,
}

#[derive(Deserialize)]
struct BookData {
    asks: Vec<Vec<String>>,
    bids: Vec<Vec<String>>,
    ts: String,
}

/// Builds an OKX venue's tape and market from its capture files.
pub(crate) fn build(
    files: &[File],
    warnings: &mut Vec<String>,
) -> Result<(Tape, Market), SimError> {
    struct Pending {
        text: String,
        key: String,
        inst: String,
        book: Option<(bool, Vec<Change>, String)>,
    }
    let mut timed = Vec::new();
    for file in files {
        let mut frames = Vec::new();
        let mut skipped = 0usize;
        let mut last_ts = 0u64;
        for line in &file.lines {
            let ts = line.ts_ns.unwrap_or(last_ts);
            last_ts = ts;
            let Ok(probe) = serde_json::from_str::<Probe<'_>>(&line.json) else {
                skipped += 1;
                continue;
            };
            // Acks and errors (`event`) were replies to the recorder, not market data.
            let (Some(arg), Some(data)) = (probe.arg, probe.data) else {
                continue;
            };
            let inst = arg.inst_id.unwrap_or_default();
            let is_book = matches!(
                arg.channel.as_str(),
                "books" | "books-l2-tbt" | "books50-l2-tbt"
            ) && probe.action.is_some();
            let book = if is_book {
                let parsed: Result<Vec<BookData>, _> = serde_json::from_str(data.get());
                let Some(d) = parsed.ok().and_then(|mut v| v.pop()) else {
                    return Err(SimError::Capture {
                        path: file.path.clone(),
                        line: line.line,
                        msg: "books frame without a readable data[0]".into(),
                    });
                };
                let (Some(mut changes), Some(a)) =
                    (book::changes(true, &d.bids), book::changes(false, &d.asks))
                else {
                    return Err(SimError::Capture {
                        path: file.path.clone(),
                        line: line.line,
                        msg: "malformed level in books frame".into(),
                    });
                };
                changes.extend(a);
                Some((probe.action.as_deref() == Some("snapshot"), changes, d.ts))
            } else {
                None
            };
            frames.push((
                ts,
                Pending {
                    text: line.json.clone(),
                    key: stream_key(&arg.channel, &inst),
                    inst,
                    book,
                },
            ));
        }
        if skipped > 0 {
            warnings.push(format!(
                "{}: {skipped} line(s) are not JSON (skipped)",
                file.path.display()
            ));
        }
        timed.push(frames);
    }
    let mut tape = Tape::default();
    let mut market = Market::default();
    for (seq, (ts, p)) in capture::merge_by_time(timed).into_iter().enumerate() {
        let stream = tape.intern(&p.key);
        market.known.insert(p.inst.clone());
        let mut op = BookOp::None;
        if let Some((snapshot, changes, bts)) = p.book {
            let next = market.insts.len();
            let bi = *market.by_id.entry(p.inst.clone()).or_insert(next);
            if bi == next {
                market.insts.push(Inst::default());
            }
            let inst = &mut market.insts[bi];
            op = if snapshot {
                inst.snapshots.push((changes, bts));
                BookOp::OkxSnapshot {
                    book: bi as u32,
                    op: inst.snapshots.len() as u32 - 1,
                }
            } else {
                inst.updates.push((changes, bts));
                BookOp::OkxUpdate {
                    book: bi as u32,
                    op: inst.updates.len() as u32 - 1,
                }
            };
        }
        let len = p.text.len() as u32;
        tape.frames.push(Frame {
            ts_ns: ts,
            seq: seq as u64,
            stream,
            text: Arc::from(p.text),
            raw: (0, len),
            op,
            is_diff: matches!(op, BookOp::OkxUpdate { .. }),
            derived: false,
        });
        tape.captured = seq as u64 + 1;
    }
    Ok((tape, market))
}

/// The tape's stream key of a subscription.
pub(crate) fn stream_key(channel: &str, inst: &str) -> String {
    format!("{channel}:{inst}")
}

fn levels_json(out: &mut String, it: &mut dyn Iterator<Item = &Level>) {
    for (i, l) in it.take(BOOKS_DEPTH).enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('[');
        for (j, f) in l.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            let _ = write!(out, "{}", Value::String(f.clone()));
        }
        out.push(']');
    }
}

/// A `books` snapshot push of the simulator's book, checksum computed per §2.3.
pub(crate) fn snapshot_push(inst: &str, b: &OkxBook) -> String {
    let mut s = String::with_capacity(BOOKS_DEPTH * 2 * 40);
    let _ = write!(
        s,
        "{{\"arg\":{{\"channel\":\"books\",\"instId\":{}}},\"action\":\"snapshot\",\"data\":[{{\"asks\":[",
        Value::String(inst.to_owned())
    );
    levels_json(&mut s, &mut b.book.asks_best_first());
    s.push_str("],\"bids\":[");
    levels_json(&mut s, &mut b.book.bids_best_first());
    let _ = write!(
        s,
        "],\"ts\":{},\"checksum\":{}}}]}}",
        Value::String(b.ts.clone()),
        book::okx_checksum(&b.book)
    );
    s
}

// ---------------------------------------------------------------------------------------------
// WebSocket session

/// Per-connection protocol state.
#[derive(Debug)]
pub(crate) struct Session {
    pub conn_id: String,
    /// Subscribed stream keys.
    pub subscriptions: Vec<String>,
}

/// One step of answering a client message, in order.
#[derive(Debug, PartialEq)]
pub(crate) enum Action {
    /// Send this text.
    Send(String),
    /// Subscribe to these stream keys at once (so the tape cannot move between them); for
    /// `books`, `Some(instId)` asks for a snapshot of the book at that point, sent right away.
    Subscribe(Vec<(String, Option<String>)>),
    /// Unsubscribe from a stream key.
    Unsubscribe(String),
}

impl Session {
    pub(crate) fn new(conn_id: String) -> Self {
        Self {
            conn_id,
            subscriptions: Vec::new(),
        }
    }

    fn error(&self, id: Option<&str>, code: &str, msg: &str) -> Action {
        let mut s = String::from("{");
        if let Some(id) = id {
            let _ = write!(s, "\"id\":{},", Value::String(id.to_owned()));
        }
        let _ = write!(
            s,
            "\"event\":\"error\",\"code\":\"{code}\",\"msg\":{},\"connId\":\"{}\"}}",
            Value::String(msg.to_owned()),
            self.conn_id
        );
        Action::Send(s)
    }

    /// Handles one client text message.
    pub(crate) fn on_text(&mut self, text: &str, market: &Market) -> Vec<Action> {
        if text == "ping" {
            return vec![Action::Send("pong".into())];
        }
        let invalid = |s: &Self| vec![s.error(None, "60012", &format!("Invalid request: {text}"))];
        let Ok(Value::Object(req)) = serde_json::from_str::<Value>(text) else {
            return invalid(self);
        };
        let id = match req.get("id") {
            None => None,
            Some(Value::String(s))
                if s.len() <= 32 && s.bytes().all(|b| b.is_ascii_alphanumeric()) =>
            {
                Some(s.as_str())
            }
            Some(_) => return invalid(self),
        };
        let op = match req.get("op").and_then(Value::as_str) {
            Some(op @ ("subscribe" | "unsubscribe")) => op,
            _ => return invalid(self),
        };
        let Some(Value::Array(args)) = req.get("args") else {
            return invalid(self);
        };
        if args.is_empty() {
            return invalid(self);
        }
        let mut out = Vec::new();
        let mut subscribe = Vec::new();
        for arg in args {
            let channel = arg.get("channel").and_then(Value::as_str).unwrap_or("");
            let inst = arg.get("instId").and_then(Value::as_str).unwrap_or("");
            if !CHANNELS.contains(&channel) || !market.known.contains(inst) {
                out.push(self.error(
                    id,
                    "60018",
                    &format!(
                        "Wrong URL or channel:{channel},instId:{inst} doesn't exist. Please use \
                         the correct URL, channel and parameters referring to API document."
                    ),
                ));
                continue;
            }
            let mut ack = String::from("{");
            if let Some(id) = id {
                let _ = write!(ack, "\"id\":{},", Value::String(id.to_owned()));
            }
            let _ = write!(
                ack,
                "\"event\":\"{op}\",\"arg\":{{\"channel\":{},\"instId\":{}}},\"connId\":\"{}\"}}",
                Value::String(channel.to_owned()),
                Value::String(inst.to_owned()),
                self.conn_id
            );
            out.push(Action::Send(ack));
            let key = stream_key(channel, inst);
            if op == "subscribe" {
                if !self.subscriptions.contains(&key) {
                    self.subscriptions.push(key.clone());
                    subscribe.push((key, (channel == "books").then(|| inst.to_owned())));
                }
            } else if let Some(i) = self.subscriptions.iter().position(|k| *k == key) {
                self.subscriptions.remove(i);
                out.push(Action::Unsubscribe(key));
            }
        }
        // Acks first, then data: the venue confirms every arg before it pushes.
        if !subscribe.is_empty() {
            out.push(Action::Subscribe(subscribe));
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------
// REST

/// `GET /api/v5/market/books?instId=X&sz=N` from the simulator's book.
pub(crate) fn rest_books(market: &Market, books: &[Option<OkxBook>], query: &str) -> (u16, String) {
    let q = format!("?{query}");
    let Some(inst) = capture::query_param(&q, "instId").filter(|s| !s.is_empty()) else {
        return (
            400,
            r#"{"code":"50014","msg":"Parameter instId can not be empty","data":[]}"#.into(),
        );
    };
    let sz = match capture::query_param(&q, "sz").map(str::parse::<usize>) {
        None => 1,
        Some(Ok(n)) if (1..=BOOKS_DEPTH).contains(&n) => n,
        Some(_) => {
            return (
                400,
                r#"{"code":"51000","msg":"Parameter sz error","data":[]}"#.into(),
            );
        }
    };
    let book = market
        .by_id
        .get(inst)
        .and_then(|&i| books.get(i))
        .and_then(Option::as_ref);
    let Some(b) = book else {
        return (
            200,
            r#"{"code":"51001","msg":"Instrument ID does not exist","data":[]}"#.into(),
        );
    };
    let mut s = String::from("{\"code\":\"0\",\"msg\":\"\",\"data\":[{\"asks\":[");
    levels_json(&mut s, &mut b.book.asks_best_first().take(sz));
    s.push_str("],\"bids\":[");
    levels_json(&mut s, &mut b.book.bids_best_first().take(sz));
    let _ = write!(s, "],\"ts\":{}}}]}}", Value::String(b.ts.clone()));
    (200, s)
}

/// `GET /api/v5/public/time`.
pub(crate) fn rest_time(now_ms: u64) -> String {
    format!("{{\"code\":\"0\",\"msg\":\"\",\"data\":[{{\"ts\":\"{now_ms}\"}}]}}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribe_ping_and_errors() {
        let mut m = Market::default();
        m.known.insert("BTC-USDT".into());
        let mut s = Session::new("a4d3ae55".into());
        assert_eq!(s.on_text("ping", &m), vec![Action::Send("pong".into())]);
        let a = s.on_text(
            r#"{"id":"1512","op":"subscribe","args":[{"channel":"books","instId":"BTC-USDT"},{"channel":"books","instId":"NOPE"}]}"#,
            &m,
        );
        assert_eq!(
            a[0],
            Action::Send(
                r#"{"id":"1512","event":"subscribe","arg":{"channel":"books","instId":"BTC-USDT"},"connId":"a4d3ae55"}"#
                    .into()
            )
        );
        assert_eq!(
            a[2],
            Action::Subscribe(vec![("books:BTC-USDT".into(), Some("BTC-USDT".into()))])
        );
        let Action::Send(err) = &a[1] else {
            panic!("expected an error, got {a:?}");
        };
        assert!(err.contains(r#""code":"60018""#), "{err}");
        let a = s.on_text("{nope", &m);
        let Action::Send(err) = &a[0] else {
            panic!("expected an error, got {a:?}");
        };
        assert!(err.contains(r#""code":"60012""#), "{err}");
    }
}
