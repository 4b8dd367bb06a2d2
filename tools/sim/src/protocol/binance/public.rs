//! Binance spot (and Binance.US) market data, from FORMATS.md §1.1–1.7.
//!
//! * Tape: combined-stream frames `{"stream":..,"data":..}` served verbatim (raw `/ws`
//!   connections get the `data` bytes only); `<sym>@depth` (1000 ms) is derived from
//!   `@depth@100ms` when the capture has only the latter, by merging the diffs of each second.
//! * WS methods: `SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`/`GET_PROPERTY`
//!   (`combined`), answered `{"result":..,"id":..}` or `{"error":{"code":..,"msg":..},"id":..}`.
//! * REST: `/api/v3/depth` from the simulator's own book, `/api/v3/exchangeInfo`,
//!   `/api/v3/ping`, `/api/v3/time`; errors as `{"code":-1121,"msg":"Invalid symbol."}`.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Arc;

use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::SimError;
use crate::book::{self, BinanceBook, Change, Diff, Snapshot};
use crate::capture::{self, File};
use crate::config::{SymbolSpec, VenueConfig};
use crate::matching::{PublicTrade, Side};
use crate::tape::{BookOp, Frame, Tape};

/// Static per-symbol data from the capture.
#[derive(Debug)]
pub(crate) struct Symbol {
    /// Upper case (`BTCUSDT`).
    pub name: String,
    /// The snapshot the book starts from (the first usable one), if any.
    pub snapshot: Option<Snapshot>,
    /// Every diff of the capture, in tape order.
    pub diffs: Vec<Diff>,
    /// Finest decimals seen in prices and non-zero quantities (tick/lot inference).
    pub price_scale: u32,
    pub qty_scale: u32,
    /// Public trades of the capture (`@trade`, or `@aggTrade` without it), in tape order.
    pub trades: Vec<PublicTrade>,
}

/// A Binance venue's static data.
#[derive(Debug)]
pub(crate) struct Market {
    pub symbols: Vec<Symbol>,
    pub by_name: HashMap<String, usize>,
    /// A recorded exchangeInfo body, if configured.
    pub exchange_info: Option<Value>,
    pub specs: Vec<SymbolSpec>,
}

impl Market {
    /// Initial books: each symbol's chosen snapshot, or empty when the capture has none.
    pub(crate) fn initial_books(&self) -> Vec<BinanceBook> {
        self.symbols
            .iter()
            .map(|s| {
                s.snapshot
                    .as_ref()
                    .map_or_else(BinanceBook::empty, BinanceBook::from_snapshot)
            })
            .collect()
    }
}

#[derive(Deserialize)]
struct Probe<'a> {
    #[serde(borrow)]
    stream: Option<Cow<'a, str>>,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
    #[serde(rename = "lastUpdateId")]
    last_update_id: Option<u64>,
    bids: Option<Vec<Vec<String>>>,
    asks: Option<Vec<Vec<String>>>,
    result: Option<Value>,
}

#[derive(Deserialize)]
struct TradeMsg {
    s: String,
    p: String,
    q: String,
    m: bool,
}

/// The symbol and trade of a `@trade`/`@aggTrade` payload (`m`: buyer is maker, so the
/// aggressor sold).
fn parse_trade(raw: &str) -> Option<(String, PublicTrade)> {
    let t: TradeMsg = serde_json::from_str(raw).ok()?;
    Some((
        t.s.to_ascii_uppercase(),
        PublicTrade {
            price: t.p.parse().ok()?,
            qty: t.q.parse().ok()?,
            taker_side: Some(if t.m { Side::Sell } else { Side::Buy }),
        },
    ))
}

#[derive(Deserialize)]
struct DepthUpdate {
    #[serde(rename = "E")]
    event_time: u64,
    s: String,
    #[serde(rename = "U")]
    first: u64,
    u: u64,
    b: Vec<Vec<String>>,
    a: Vec<Vec<String>>,
}

/// A timed frame before interning.
struct Pending {
    text: String,
    raw: (u32, u32),
    stream: String,
    diff: Option<(String, Diff, u64)>,
}

struct PendingSnapshot {
    symbol: Option<String>,
    snapshot: Snapshot,
    where_: String,
}

/// True for diff-depth stream names (`x@depth`, `x@depth@100ms`), not partial books
/// (`x@depth5`, `x@depth20@100ms`).
pub(crate) fn is_diff_stream(stream: &str) -> bool {
    matches!(
        stream.split_once('@'),
        Some((_, "depth" | "depth@100ms" | "depth@1000ms"))
    )
}

fn scale_of(s: &str) -> u32 {
    s.parse::<Decimal>().map_or(0, |d| d.normalize().scale())
}

/// Builds a Binance venue's tape and market from its capture files.
pub(crate) fn build(
    cfg: &VenueConfig,
    files: &[File],
    warnings: &mut Vec<String>,
) -> Result<(Tape, Market), SimError> {
    let mut timed: Vec<Vec<(u64, Pending)>> = Vec::new();
    let mut snapshots: Vec<PendingSnapshot> = Vec::new();
    let mut scales: HashMap<String, (u32, u32)> = HashMap::new();
    let mut note_scales = |sym: &str, changes: &[Change]| {
        let e = scales.entry(sym.to_owned()).or_default();
        for c in changes {
            e.0 = e.0.max(scale_of(&c.level[0]));
            if !c.remove {
                e.1 = e.1.max(scale_of(&c.level[1]));
            }
        }
    };
    for file in files {
        let mut frames = Vec::new();
        let mut depth_symbols: Vec<String> = Vec::new();
        let mut file_snapshots = Vec::new();
        let mut skipped = 0usize;
        let mut last_ts = 0u64;
        for line in &file.lines {
            let ts = line.ts_ns.unwrap_or(last_ts);
            last_ts = ts;
            let where_ = format!("{}:{}", file.path.display(), line.line);
            let Ok(probe) = serde_json::from_str::<Probe<'_>>(&line.json) else {
                skipped += 1;
                continue;
            };
            if let (Some(id), Some(bids), Some(asks)) =
                (probe.last_update_id, &probe.bids, &probe.asks)
            {
                let (Some(mut changes), Some(a)) =
                    (book::changes(true, bids), book::changes(false, asks))
                else {
                    return Err(SimError::Capture {
                        path: file.path.clone(),
                        line: line.line,
                        msg: "malformed level in depth snapshot".into(),
                    });
                };
                changes.extend(a);
                let symbol = line
                    .url
                    .as_deref()
                    .and_then(|u| capture::query_param(u, "symbol"))
                    .map(str::to_ascii_uppercase)
                    .or_else(|| {
                        file.single_document
                            .then(|| symbol_from_file_name(&file.path))
                            .flatten()
                    });
                file_snapshots.push(PendingSnapshot {
                    symbol,
                    snapshot: Snapshot {
                        last_update_id: id,
                        changes,
                    },
                    where_,
                });
                continue;
            }
            let (Some(stream), Some(data)) = (probe.stream, probe.data) else {
                if probe.result.is_none() {
                    skipped += 1;
                }
                continue;
            };
            let raw = data.get();
            // The payload's position inside the line, so raw connections get its bytes.
            let start = raw.as_ptr() as usize - line.json.as_ptr() as usize;
            let (Ok(s), Ok(e)) = (u32::try_from(start), u32::try_from(start + raw.len())) else {
                skipped += 1;
                continue;
            };
            let diff = if is_diff_stream(&stream) {
                let Ok(d) = serde_json::from_str::<DepthUpdate>(raw) else {
                    return Err(SimError::Capture {
                        path: file.path.clone(),
                        line: line.line,
                        msg: format!("{stream}: not a depthUpdate"),
                    });
                };
                let (Some(mut changes), Some(a)) =
                    (book::changes(true, &d.b), book::changes(false, &d.a))
                else {
                    return Err(SimError::Capture {
                        path: file.path.clone(),
                        line: line.line,
                        msg: "malformed level in depthUpdate".into(),
                    });
                };
                changes.extend(a);
                let sym = d.s.to_ascii_uppercase();
                if !depth_symbols.contains(&sym) {
                    depth_symbols.push(sym.clone());
                }
                note_scales(&sym, &changes);
                Some((
                    sym,
                    Diff {
                        first: d.first,
                        last: d.u,
                        changes,
                    },
                    d.event_time,
                ))
            } else {
                None
            };
            frames.push((
                ts,
                Pending {
                    text: line.json.clone(),
                    raw: (s, e),
                    stream: stream.into_owned(),
                    diff,
                },
            ));
        }
        if skipped > 0 {
            warnings.push(format!(
                "{}: {skipped} line(s) are neither stream frames nor depth snapshots (skipped)",
                file.path.display()
            ));
        }
        // An inlined snapshot line carries no symbol: it belongs to the file's only depth symbol.
        for mut s in file_snapshots {
            if s.symbol.is_none() && depth_symbols.len() == 1 {
                s.symbol = depth_symbols.first().cloned();
            }
            snapshots.push(s);
        }
        timed.push(frames);
    }
    let merged = capture::merge_by_time(timed);

    let mut symbols: Vec<Symbol> = Vec::new();
    let mut by_name: HashMap<String, usize> = HashMap::new();
    let mut sym_index = |name: &str, symbols: &mut Vec<Symbol>| -> usize {
        *by_name.entry(name.to_owned()).or_insert_with(|| {
            symbols.push(Symbol {
                name: name.to_owned(),
                snapshot: None,
                diffs: Vec::new(),
                price_scale: 0,
                qty_scale: 0,
                trades: Vec::new(),
            });
            symbols.len() - 1
        })
    };
    let mut tape = Tape::default();
    let has_stream: std::collections::HashSet<String> =
        merged.iter().map(|(_, p)| p.stream.clone()).collect();
    // Open 1 s buckets for derived `@depth` streams: symbol → (bucket, first U, last u, E, levels).
    let mut buckets: HashMap<usize, Bucket> = HashMap::new();
    for (seq, (ts, p)) in merged.into_iter().enumerate() {
        let stream = tape.intern(&p.stream);
        let mut op = BookOp::None;
        let mut derived = None;
        // Trades move private orders: `@trade`, or `@aggTrade` when the capture lacks `@trade`.
        let trade_stream = p.stream.ends_with("@trade")
            || (p.stream.ends_with("@aggTrade")
                && !has_stream.contains(&p.stream.replace("@aggTrade", "@trade")));
        if trade_stream
            && let Some((sym, t)) = p
                .text
                .get(p.raw.0 as usize..p.raw.1 as usize)
                .and_then(parse_trade)
        {
            let si = sym_index(&sym, &mut symbols);
            op = BookOp::BinanceTrade {
                book: si as u32,
                trade: symbols[si].trades.len() as u32,
            };
            symbols[si].trades.push(t);
        }
        if let Some((sym, diff, event_time)) = p.diff {
            let si = sym_index(&sym, &mut symbols);
            let want_derived = p.stream.ends_with("@depth@100ms")
                && !has_stream.contains(&p.stream.replace("@depth@100ms", "@depth"));
            if want_derived {
                let second = event_time / 1000;
                let flush = buckets.get(&si).is_some_and(|b| b.second != second);
                if flush {
                    derived = buckets.remove(&si);
                }
                let b = buckets
                    .entry(si)
                    .or_insert_with(|| Bucket::new(second, si, &diff));
                b.add(&diff, event_time);
            }
            let idx = symbols[si].diffs.len() as u32;
            symbols[si].diffs.push(diff);
            op = BookOp::BinanceDiff {
                book: si as u32,
                diff: idx,
            };
        }
        if let Some(b) = derived {
            // The bucket closed with this frame's arrival: serve it just before, as the venue
            // would have sent it at the end of its second.
            push_derived(&mut tape, &symbols, b, ts, seq as u64);
        }
        tape.frames.push(Frame {
            ts_ns: ts,
            seq: seq as u64,
            stream,
            text: Arc::from(p.text),
            raw: p.raw,
            op,
            is_diff: matches!(op, BookOp::BinanceDiff { .. }),
            derived: false,
        });
        tape.captured = seq as u64 + 1;
    }
    let mut rest: Vec<_> = buckets.into_values().collect();
    rest.sort_by_key(|b| b.last);
    let end_ts = tape.frames.last().map_or(0, |f| f.ts_ns);
    let last_seq = tape.captured.saturating_sub(1);
    for b in rest {
        push_derived(&mut tape, &symbols, b, end_ts, last_seq);
    }

    for s in snapshots {
        let Some(sym) = s
            .symbol
            .clone()
            .or_else(|| (symbols.len() == 1).then(|| symbols[0].name.clone()))
        else {
            return Err(SimError::Capture {
                path: s.where_.clone().into(),
                line: 0,
                msg: "cannot tell which symbol this depth snapshot belongs to (no URL, \
                      several symbols in the capture)"
                    .into(),
            });
        };
        let si = sym_index(&sym, &mut symbols);
        note_scales(&sym, &s.snapshot.changes);
        choose_snapshot(&mut symbols[si], s.snapshot);
    }
    for s in &mut symbols {
        if let Some((p, q)) = scales.get(&s.name) {
            s.price_scale = *p;
            s.qty_scale = *q;
        }
        match &s.snapshot {
            None if !s.diffs.is_empty() => warnings.push(format!(
                "{}: no depth snapshot in the captures; REST depth serves a book built from the \
                 diffs alone",
                s.name
            )),
            Some(snap) if !usable(snap.last_update_id, &s.diffs) => warnings.push(format!(
                "{}: no diff continues snapshot lastUpdateId={}; the book may be wrong",
                s.name, snap.last_update_id
            )),
            _ => {}
        }
    }
    let exchange_info = match &cfg.exchange_info {
        None => None,
        Some(path) => Some(read_exchange_info(path)?),
    };
    Ok((
        tape,
        Market {
            symbols,
            by_name,
            exchange_info,
            specs: cfg.symbols.clone(),
        },
    ))
}

/// A snapshot is usable if a diff can start on it, or if every diff is older (the capture ends
/// before the book moves), or if there are no diffs at all.
fn usable(id: u64, diffs: &[Diff]) -> bool {
    diffs.iter().any(|d| book::straddles(d, id)) || diffs.iter().all(|d| d.last <= id)
}

/// Keeps the first usable snapshot (smallest `lastUpdateId` that a diff continues).
fn choose_snapshot(sym: &mut Symbol, candidate: Snapshot) {
    let better = match &sym.snapshot {
        None => true,
        Some(cur) => {
            let (cu, nu) = (
                usable(cur.last_update_id, &sym.diffs),
                usable(candidate.last_update_id, &sym.diffs),
            );
            (nu && !cu) || (nu == cu && candidate.last_update_id < cur.last_update_id)
        }
    };
    if better {
        sym.snapshot = Some(candidate);
    }
}

fn symbol_from_file_name(path: &std::path::Path) -> Option<String> {
    let stem = path.file_name()?.to_str()?;
    let stem = stem.split('.').next()?;
    let last = stem.rsplit('_').next()?;
    (!last.is_empty() && last.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then(|| last.to_ascii_uppercase())
}

fn read_exchange_info(path: &std::path::Path) -> Result<Value, SimError> {
    let text = std::fs::read_to_string(path).map_err(|e| SimError::Io {
        context: format!("reading exchange_info {}", path.display()),
        source: e,
    })?;
    // A recorder may prefix the body (`<url> -> <ts>: {...}`) and append its own lines: take
    // the first JSON document from the first brace on.
    let body = text.find('{').map_or("", |i| &text[i..]);
    let first = serde_json::Deserializer::from_str(body)
        .into_iter::<Value>()
        .next();
    match first {
        Some(Ok(v)) if v.get("symbols").is_some() => Ok(v),
        Some(Err(e)) => Err(SimError::Capture {
            path: path.to_path_buf(),
            line: e.line(),
            msg: format!("exchange_info is not JSON: {e}"),
        }),
        _ => Err(SimError::Capture {
            path: path.to_path_buf(),
            line: 0,
            msg: "exchange_info holds no exchangeInfo document (no \"symbols\")".into(),
        }),
    }
}

/// One second of 100 ms diffs being merged into a 1000 ms diff.
struct Bucket {
    second: u64,
    sym: usize,
    first: u64,
    last: u64,
    event_time: u64,
    bids: BTreeMap<Decimal, (String, String)>,
    asks: BTreeMap<Decimal, (String, String)>,
}

impl Bucket {
    fn new(second: u64, sym: usize, d: &Diff) -> Self {
        Self {
            second,
            sym,
            first: d.first,
            last: d.last,
            event_time: 0,
            bids: BTreeMap::new(),
            asks: BTreeMap::new(),
        }
    }

    fn add(&mut self, d: &Diff, event_time: u64) {
        self.last = d.last;
        self.event_time = event_time;
        for c in &d.changes {
            let side = if c.bid {
                &mut self.bids
            } else {
                &mut self.asks
            };
            // Last change of a price wins: qty is the new absolute quantity.
            side.insert(c.px, (c.level[0].clone(), c.level[1].clone()));
        }
    }
}

fn push_derived(tape: &mut Tape, symbols: &[Symbol], b: Bucket, ts: u64, seq: u64) {
    let Some(sym) = symbols.get(b.sym) else {
        return;
    };
    let stream = format!("{}@depth", sym.name.to_ascii_lowercase());
    let mut data = format!(
        "{{\"e\":\"depthUpdate\",\"E\":{},\"s\":\"{}\",\"U\":{},\"u\":{},\"b\":[",
        b.event_time, sym.name, b.first, b.last
    );
    let levels = |out: &mut String, it: &mut dyn Iterator<Item = &(String, String)>| {
        let mut first = true;
        for (p, q) in it {
            if !first {
                out.push(',');
            }
            first = false;
            let _ = write!(out, "[\"{p}\",\"{q}\"]");
        }
    };
    levels(&mut data, &mut b.bids.values().rev());
    data.push_str("],\"a\":[");
    levels(&mut data, &mut b.asks.values());
    data.push_str("]}");
    let text = format!("{{\"stream\":\"{stream}\",\"data\":{data}}}");
    let start = text.len() - data.len() - 1;
    let id = tape.intern(&stream);
    tape.frames.push(Frame {
        ts_ns: ts,
        seq,
        stream: id,
        raw: (start as u32, (start + data.len()) as u32),
        text: Arc::from(text),
        op: BookOp::None,
        is_diff: true,
        derived: true,
    });
}

// ---------------------------------------------------------------------------------------------
// WebSocket session

/// Per-connection protocol state.
#[derive(Debug)]
pub(crate) struct Session {
    /// Combined wrapper (`/stream`) or raw payloads (`/ws`).
    pub combined: bool,
    /// Subscribed stream names, in subscription order.
    pub subscriptions: Vec<String>,
}

/// What a client text message asks the connection to do.
#[derive(Debug, Default)]
pub(crate) struct Reply {
    pub text: Option<String>,
    pub subscribe: Vec<String>,
    pub unsubscribe: Vec<String>,
}

impl Session {
    /// Accepts the handshake path: `/ws`, `/ws/<stream>`, `/stream`, `/stream?streams=a/b`.
    /// Returns the session and its initial streams, or `None` (HTTP 404).
    pub(crate) fn from_path(path_and_query: &str) -> Option<(Self, Vec<String>)> {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        let (combined, streams): (bool, Vec<String>) = match path {
            "/ws" | "/ws/" => (false, Vec::new()),
            "/stream" | "/stream/" => {
                let list = capture::query_param(&format!("?{query}"), "streams")
                    .map(|s| {
                        s.split('/')
                            .filter(|s| !s.is_empty())
                            .map(String::from)
                            .collect()
                    })
                    .unwrap_or_default();
                (true, list)
            }
            p => {
                let rest = p.strip_prefix("/ws/")?;
                (
                    false,
                    rest.split('/')
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                        .collect(),
                )
            }
        };
        if streams.iter().any(|s| !valid_stream(s)) {
            return None;
        }
        Some((
            Self {
                combined,
                subscriptions: Vec::new(),
            },
            streams,
        ))
    }

    /// The text of a tape frame as this connection receives it.
    pub(crate) fn render<'a>(&self, f: &'a Frame) -> &'a str {
        if self.combined {
            &f.text
        } else {
            f.text
                .get(f.raw.0 as usize..f.raw.1 as usize)
                .unwrap_or(&f.text)
        }
    }

    /// Handles one client text message.
    pub(crate) fn on_text(&mut self, text: &str) -> Reply {
        let v: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => return error_reply(3, &format!("Invalid JSON: {e}"), &Value::Null),
        };
        let Some(obj) = v.as_object() else {
            return error_reply(3, "Invalid JSON: expected an object", &Value::Null);
        };
        let id = obj.get("id").cloned().unwrap_or(Value::Null);
        let id_ok = match &id {
            Value::Null => true,
            Value::Number(n) => n.is_u64() || n.is_i64(),
            Value::String(s) => {
                s.len() <= 36 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            }
            _ => false,
        };
        if !id_ok {
            return error_reply(
                2,
                "Invalid request: request ID must be an unsigned integer",
                &Value::Null,
            );
        }
        for k in obj.keys() {
            if !matches!(k.as_str(), "method" | "params" | "id") {
                return error_reply(2, &format!("Invalid request: unknown field `{k}`"), &id);
            }
        }
        let Some(method) = obj.get("method").and_then(Value::as_str) else {
            return error_reply(2, "Invalid request: missing field `method`", &id);
        };
        let params: Vec<&Value> = match obj.get("params") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a.iter().collect(),
            Some(_) => return error_reply(2, "Invalid request: invalid type for `params`", &id),
        };
        let strings = || -> Option<Vec<String>> {
            params
                .iter()
                .map(|p| p.as_str().map(String::from))
                .collect()
        };
        match method {
            "SUBSCRIBE" | "UNSUBSCRIBE" => {
                let Some(list) = strings() else {
                    return error_reply(2, "Invalid request: stream names must be strings", &id);
                };
                if let Some(bad) = list.iter().find(|s| !valid_stream(s)) {
                    return error_reply(
                        2,
                        &format!("Invalid request: invalid stream name `{bad}`"),
                        &id,
                    );
                }
                let mut reply = Reply {
                    text: Some(result_reply(&Value::Null, &id)),
                    ..Reply::default()
                };
                if method == "SUBSCRIBE" {
                    if self.subscriptions.len() + list.len() > 1024 {
                        return error_reply(2, "Invalid request: too many streams (max 1024)", &id);
                    }
                    for s in list {
                        if !self.subscriptions.contains(&s) {
                            self.subscriptions.push(s.clone());
                            reply.subscribe.push(s);
                        }
                    }
                } else {
                    for s in list {
                        if let Some(i) = self.subscriptions.iter().position(|x| *x == s) {
                            self.subscriptions.remove(i);
                            reply.unsubscribe.push(s);
                        }
                    }
                }
                reply
            }
            "LIST_SUBSCRIPTIONS" => Reply {
                text: Some(result_reply(
                    &Value::Array(
                        self.subscriptions
                            .iter()
                            .cloned()
                            .map(Value::String)
                            .collect(),
                    ),
                    &id,
                )),
                ..Reply::default()
            },
            "SET_PROPERTY" => match (params.first().and_then(|p| p.as_str()), params.get(1)) {
                (Some("combined"), Some(Value::Bool(b))) => {
                    self.combined = *b;
                    Reply {
                        text: Some(result_reply(&Value::Null, &id)),
                        ..Reply::default()
                    }
                }
                (Some("combined"), _) => {
                    error_reply(1, "Invalid value type: expected Boolean", &id)
                }
                (Some(_), _) => error_reply(0, "Unknown property", &id),
                (None, _) => error_reply(2, "Invalid request: property name must be a string", &id),
            },
            "GET_PROPERTY" => match params.first().and_then(|p| p.as_str()) {
                Some("combined") => Reply {
                    text: Some(result_reply(&Value::Bool(self.combined), &id)),
                    ..Reply::default()
                },
                Some(_) => error_reply(0, "Unknown property", &id),
                None => error_reply(2, "Invalid request: property name must be a string", &id),
            },
            other => error_reply(
                2,
                &format!(
                    "Invalid request: unknown variant `{other}`, expected one of `SUBSCRIBE`, \
                     `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`"
                ),
                &id,
            ),
        }
    }
}

/// `<symbol>@<type>` with a lower-case symbol.
fn valid_stream(s: &str) -> bool {
    match s.split_once('@') {
        Some((sym, kind)) => {
            !sym.is_empty()
                && !kind.is_empty()
                && sym
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        }
        None => s.starts_with('!'),
    }
}

// Written by hand rather than through `json!`, whose maps sort their keys: the venue sends
// `result` (or `error`) before `id`, `code` before `msg`.
fn result_reply(result: &Value, id: &Value) -> String {
    format!("{{\"result\":{result},\"id\":{id}}}")
}

fn error_reply(code: i64, msg: &str, id: &Value) -> Reply {
    let msg = Value::String(msg.to_owned());
    Reply {
        text: Some(format!(
            "{{\"error\":{{\"code\":{code},\"msg\":{msg}}},\"id\":{id}}}"
        )),
        ..Reply::default()
    }
}

// ---------------------------------------------------------------------------------------------
// REST

/// An HTTP answer: status, JSON body, request weight.
pub(crate) struct Answer {
    pub status: u16,
    pub body: String,
    pub weight: u32,
}

fn api_error(status: u16, code: i64, msg: &str) -> Answer {
    Answer {
        status,
        body: format!(
            "{{\"code\":{code},\"msg\":{}}}",
            Value::String(msg.to_owned())
        ),
        weight: 1,
    }
}

/// `GET /api/v3/depth?symbol=X&limit=N` from the simulator's book.
pub(crate) fn depth(market: &Market, books: &[BinanceBook], query: &str) -> Answer {
    let q = format!("?{query}");
    let Some(symbol) = capture::query_param(&q, "symbol").filter(|s| !s.is_empty()) else {
        return api_error(
            400,
            -1102,
            "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
        );
    };
    let limit = match capture::query_param(&q, "limit") {
        None => 100,
        Some(l) => match l.parse::<u64>() {
            Ok(n) if n > 0 => n.min(5000) as usize,
            _ => {
                return api_error(
                    400,
                    -1100,
                    "Illegal characters found in parameter 'limit'; legal range is '^[0-9]{1,20}$'.",
                );
            }
        },
    };
    let Some(&si) = market.by_name.get(symbol) else {
        return api_error(400, -1121, "Invalid symbol.");
    };
    let Some(b) = books.get(si) else {
        return api_error(400, -1121, "Invalid symbol.");
    };
    let weight = match limit {
        0..=100 => 5,
        101..=500 => 25,
        501..=1000 => 50,
        _ => 250,
    };
    Answer {
        status: 200,
        body: depth_json(b, limit),
        weight,
    }
}

/// `{"lastUpdateId":N,"bids":[[p,q],..],"asks":[..]}` with the book's wire strings.
pub(crate) fn depth_json(b: &BinanceBook, limit: usize) -> String {
    let mut s = String::with_capacity(64 + limit * 2 * 36);
    let _ = write!(s, "{{\"lastUpdateId\":{},\"bids\":[", b.update_id);
    let side = |s: &mut String, it: &mut dyn Iterator<Item = &Vec<String>>| {
        for (i, l) in it.take(limit).enumerate() {
            if i > 0 {
                s.push(',');
            }
            let _ = write!(
                s,
                "[{},{}]",
                Value::String(l[0].clone()),
                Value::String(l[1].clone())
            );
        }
    };
    side(&mut s, &mut b.book.bids_best_first());
    s.push_str("],\"asks\":[");
    side(&mut s, &mut b.book.asks_best_first());
    s.push_str("]}");
    s
}

/// `GET /api/v3/exchangeInfo[?symbol=X]`: the recorded body (filtered to the symbol if asked),
/// or a minimal generated one.
pub(crate) fn exchange_info(market: &Market, query: &str, now_ms: u64) -> Answer {
    let q = format!("?{query}");
    let wanted = capture::query_param(&q, "symbol");
    let mut info = match &market.exchange_info {
        Some(v) => v.clone(),
        None => generated_exchange_info(market),
    };
    if let Some(obj) = info.as_object_mut() {
        obj.insert("serverTime".into(), Value::from(now_ms));
        if let (Some(w), Some(Value::Array(list))) = (wanted, obj.get_mut("symbols")) {
            list.retain(|s| s.get("symbol").and_then(Value::as_str) == Some(w));
            if list.is_empty() {
                return api_error(400, -1121, "Invalid symbol.");
            }
        }
    }
    Answer {
        status: 200,
        body: info.to_string(),
        weight: if wanted.is_some() { 2 } else { 20 },
    }
}

fn fmt8(d: Decimal) -> String {
    let mut d = d;
    d.rescale(8);
    d.to_string()
}

fn split_assets(symbol: &str) -> (String, String) {
    const QUOTES: [&str; 12] = [
        "FDUSD", "USDT", "USDC", "BUSD", "TUSD", "USD", "EUR", "TRY", "BTC", "ETH", "BNB", "GBP",
    ];
    for q in QUOTES {
        if let Some(base) = symbol.strip_suffix(q)
            && !base.is_empty()
        {
            return (base.to_owned(), q.to_owned());
        }
    }
    (symbol.to_owned(), String::new())
}

/// A symbol's (tick, lot, min notional): a recorded exchangeInfo's filters when it lists the
/// symbol, else the configured ones, else inferred from the capture's finest decimals.
pub(crate) fn filters(market: &Market, s: &Symbol) -> (Decimal, Decimal, Decimal) {
    let spec = market.specs.iter().find(|p| p.symbol == s.name);
    let mut tick = spec
        .and_then(|p| p.tick)
        .unwrap_or_else(|| Decimal::new(1, s.price_scale.min(8)));
    let mut lot = spec
        .and_then(|p| p.lot)
        .unwrap_or_else(|| Decimal::new(1, s.qty_scale.min(8)));
    let mut min_notional = spec.and_then(|p| p.min_notional).unwrap_or(Decimal::ZERO);
    let recorded = recorded_symbol(market, &s.name)
        .and_then(|v| v.get("filters"))
        .and_then(Value::as_array);
    for f in recorded.into_iter().flatten() {
        let dec = |k: &str| {
            f.get(k)
                .and_then(Value::as_str)
                .and_then(|v| v.parse::<Decimal>().ok())
        };
        match f.get("filterType").and_then(Value::as_str) {
            Some("PRICE_FILTER") => tick = dec("tickSize").unwrap_or(tick),
            Some("LOT_SIZE") => lot = dec("stepSize").unwrap_or(lot),
            Some("NOTIONAL" | "MIN_NOTIONAL") => {
                min_notional = dec("minNotional").unwrap_or(min_notional);
            }
            _ => {}
        }
    }
    (tick.normalize(), lot.normalize(), min_notional)
}

fn recorded_symbol<'a>(market: &'a Market, name: &str) -> Option<&'a Value> {
    market
        .exchange_info
        .as_ref()?
        .get("symbols")?
        .as_array()?
        .iter()
        .find(|v| v.get("symbol").and_then(Value::as_str) == Some(name))
}

/// A symbol's (base, quote) assets: from a recorded exchangeInfo, else split off a known quote
/// asset suffix.
pub(crate) fn assets(market: &Market, name: &str) -> (String, String) {
    if let Some(v) = recorded_symbol(market, name) {
        let get = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        if let (Some(b), Some(q)) = (get("baseAsset"), get("quoteAsset")) {
            return (b, q);
        }
    }
    split_assets(name)
}

fn generated_exchange_info(market: &Market) -> Value {
    let symbols: Vec<Value> = market
        .symbols
        .iter()
        .map(|s| {
            let (tick, lot, min_notional) = filters(market, s);
            let (base, quote) = split_assets(&s.name);
            serde_json::json!({
                "symbol": s.name,
                "status": "TRADING",
                "baseAsset": base,
                "baseAssetPrecision": 8,
                "quoteAsset": quote,
                "quotePrecision": 8,
                "quoteAssetPrecision": 8,
                "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
                "icebergAllowed": true,
                "ocoAllowed": true,
                "isSpotTradingAllowed": true,
                "isMarginTradingAllowed": false,
                "filters": [
                    {"filterType": "PRICE_FILTER", "minPrice": fmt8(tick), "maxPrice": "1000000.00000000", "tickSize": fmt8(tick)},
                    {"filterType": "LOT_SIZE", "minQty": fmt8(lot), "maxQty": "9000.00000000", "stepSize": fmt8(lot)},
                    {"filterType": "NOTIONAL", "minNotional": fmt8(min_notional), "applyMinToMarket": true,
                     "maxNotional": "9000000.00000000", "maxNotionalToMarket": false, "avgPriceMins": 5}
                ],
                "permissions": [],
                "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
                "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"]
            })
        })
        .collect();
    serde_json::json!({
        "timezone": "UTC",
        "serverTime": 0,
        "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
            {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
            {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000}
        ],
        "exchangeFilters": [],
        "symbols": symbols
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_methods() {
        let (s, streams) = Session::from_path("/stream?streams=btcusdt@trade/btcusdt@depth@100ms")
            .unwrap_or_else(|| panic!("valid path"));
        assert!(s.combined);
        assert_eq!(streams, vec!["btcusdt@trade", "btcusdt@depth@100ms"]);
        let (mut s, streams) =
            Session::from_path("/ws/btcusdt@bookTicker").unwrap_or_else(|| panic!("valid path"));
        assert!(!s.combined);
        assert_eq!(streams, vec!["btcusdt@bookTicker"]);
        assert!(Session::from_path("/nope").is_none());
        let r = s.on_text(r#"{"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":7}"#);
        assert_eq!(r.text.as_deref(), Some(r#"{"result":null,"id":7}"#));
        assert_eq!(r.subscribe, vec!["btcusdt@trade"]);
        let r = s.on_text(r#"{"method":"LIST_SUBSCRIPTIONS","id":8}"#);
        assert_eq!(
            r.text.as_deref(),
            Some(r#"{"result":["btcusdt@trade"],"id":8}"#)
        );
        let r = s.on_text(r#"{"method":"NOPE","id":9}"#);
        assert!(r.text.unwrap_or_default().contains("\"code\":2"));
        let r = s.on_text("{");
        assert!(r.text.unwrap_or_default().contains("\"code\":3"));
        assert!(is_diff_stream("btcusdt@depth@100ms"));
        assert!(is_diff_stream("btcusdt@depth"));
        assert!(!is_diff_stream("btcusdt@depth5@100ms"));
    }
}
