//! A derived OKX venue: market data made from another venue's (Binance) capture and served
//! with OKX's public protocol (FORMATS.md §2.1–2.4), for demos of cross-venue strategies.
//!
//! The source capture is replayed through the simulator's own Binance book sync; every
//! applied depth diff becomes an OKX `books` update (with a §2.3 checksum computed over the
//! derived book), every change of the best levels a `bbo-tbt` push, and every source trade an
//! OKX `trades` push. Prices are written in OKX's shortest form and shifted by a seeded noise
//! offset: one whole number of source ticks in `[-noise_ticks, noise_ticks]`, drawn per
//! `noise_period_ms` of source time, the same for every level (so the derived book never
//! crosses and keeps the source's shape). When the offset changes, the next update moves
//! every level. Frame times are the source's shifted by `lag_ms`, paced from the source
//! capture's start, so a positive lag publishes each change later than the source venue does
//! (negative: earlier; changes that would fall before the start are published at once).
//!
//! Everything is a function of the capture and the config (the noise of `seed`), so two runs
//! serve identical bytes.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::Value;

use crate::SimError;
use crate::book::{self, Book, Change, DiffOutcome, Level};
use crate::capture::File;
use crate::config::{DeriveSpec, VenueConfig, VenueKind};
use crate::protocol::binance::public as binance;
use crate::protocol::okx::public::{self as okx, Inst, Market};
use crate::tape::{BookOp, Frame, Tape};

/// Levels per side an OKX `books` snapshot carries (FORMATS.md §2.2); the derived venue
/// publishes this deep a view of its (deeper) book, as the venue does.
const DEPTH: usize = 400;

/// Quote assets tried, longest first, when a source symbol has no explicit mapping.
const QUOTES: [&str; 8] = ["FDUSD", "USDT", "USDC", "BUSD", "BTC", "ETH", "EUR", "TRY"];

/// `BTCUSDT` → `BTC-USDT` at a known quote asset.
fn default_inst(symbol: &str) -> Option<String> {
    QUOTES.iter().find_map(|q| {
        let base = symbol.strip_suffix(q)?;
        (!base.is_empty()).then(|| format!("{base}-{q}"))
    })
}

/// splitmix64: a small, well-known mixing function; enough for reproducible noise.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The noise offset (ticks) of one period.
fn offset(spec: &DeriveSpec, inst: usize, period: u64) -> i64 {
    if spec.noise_ticks == 0 {
        return 0;
    }
    let span = 2 * u64::from(spec.noise_ticks) + 1;
    let r = mix(spec.seed ^ mix(period ^ mix(inst as u64)));
    (r % span) as i64 - i64::from(spec.noise_ticks)
}

/// OKX's shortest decimal form (`61837.63000000` → `61837.63`, `0.00000000` → `0`).
fn short(d: Decimal) -> String {
    let n = d.normalize();
    if n.is_zero() {
        "0".into()
    } else {
        n.to_string()
    }
}

/// One derived instrument while building.
struct Derived {
    inst: String,
    /// Index in the OKX market.
    okx: usize,
    /// Source tick (10^-price_scale).
    tick: Decimal,
    /// Every level of the source, shifted: the book the published view is cut from.
    full: Book<Level>,
    /// The published view: the best `DEPTH` levels per side of `full`, as clients hold it.
    book: Book<Level>,
    /// Offset (ticks) the derived book is at, `None` before its snapshot.
    at: Option<i64>,
    last_bbo: Option<(Level, Level)>,
}

fn level(px: Decimal, sz: &str) -> Level {
    let sz = sz.parse::<Decimal>().map_or_else(|_| sz.to_owned(), short);
    let orders = if sz == "0" { "0" } else { "1" };
    vec![short(px), sz, "0".into(), orders.into()]
}

/// The derived book of a source book at an offset.
fn mapped(src: &Book<Level>, shift: Decimal) -> Book<Level> {
    let mut out = Book::new();
    for (bid, side) in [(true, &src.bids), (false, &src.asks)] {
        for (px, l) in side {
            let p = *px + shift;
            if p > Decimal::ZERO {
                out.set(bid, p, Some(level(p, l.get(1).map_or("0", String::as_str))));
            }
        }
    }
    out
}

/// The changes turning `old` into `new` (removals carry size `"0"`).
fn changes_between(old: &Book<Level>, new: &Book<Level>) -> Vec<Change> {
    let mut out = Vec::new();
    for (bid, o, n) in [(true, &old.bids, &new.bids), (false, &old.asks, &new.asks)] {
        for px in o.keys() {
            if !n.contains_key(px) {
                out.push(Change {
                    bid,
                    px: *px,
                    level: level(*px, "0"),
                    remove: true,
                });
            }
        }
        for (px, l) in n {
            if o.get(px) != Some(l) {
                out.push(Change {
                    bid,
                    px: *px,
                    level: l.clone(),
                    remove: false,
                });
            }
        }
    }
    out
}

/// The best `DEPTH` levels per side of `full`.
fn top(full: &Book<Level>) -> Book<Level> {
    let mut out = Book::new();
    for (px, l) in full.bids.iter().rev().take(DEPTH) {
        out.set(true, *px, Some(l.clone()));
    }
    for (px, l) in full.asks.iter().take(DEPTH) {
        out.set(false, *px, Some(l.clone()));
    }
    out
}

/// The changes turning the published `view` into `top(full)` after `applied` changed `full`.
/// Only the applied prices and the levels crossing the depth boundary can differ, so this
/// looks at those instead of comparing whole books on every diff.
fn view_changes(view: &Book<Level>, full: &Book<Level>, applied: &[Change]) -> Vec<Change> {
    let mut out = Vec::new();
    for bid in [true, false] {
        let (v, f) = if bid {
            (&view.bids, &full.bids)
        } else {
            (&view.asks, &full.asks)
        };
        // Best first on both sides; `worse(a, b)`: a ranks below b.
        let worse = |a: &Decimal, b: &Decimal| if bid { a < b } else { a > b };
        let new_worst = if bid {
            f.keys().rev().nth(DEPTH - 1)
        } else {
            f.keys().nth(DEPTH - 1)
        };
        let in_new = |p: &Decimal| f.contains_key(p) && new_worst.is_none_or(|w| !worse(p, w));
        let old_worst = if bid {
            v.keys().next()
        } else {
            v.keys().next_back()
        };
        let mut candidates: std::collections::BTreeSet<Decimal> = applied
            .iter()
            .filter(|c| c.bid == bid)
            .map(|c| c.px)
            .collect();
        // Published levels pushed out below the new boundary.
        if let Some(w) = new_worst {
            candidates.extend(v.keys().filter(|p| worse(p, w)));
        }
        // Levels under the old view's worst that the view now reaches.
        let below_old: Box<dyn Iterator<Item = &Decimal>> = match (old_worst, bid) {
            (None, true) => Box::new(f.keys().rev()),
            (None, false) => Box::new(f.keys()),
            (Some(w), true) => Box::new(f.range(..*w).rev().map(|(p, _)| p)),
            (Some(w), false) => Box::new(
                f.range((std::ops::Bound::Excluded(*w), std::ops::Bound::Unbounded))
                    .map(|(p, _)| p),
            ),
        };
        candidates.extend(below_old.take_while(|p| in_new(p)));
        for px in candidates {
            let old = v.get(&px);
            let new = f.get(&px).filter(|_| in_new(&px));
            match (old, new) {
                (_, Some(l)) if old != Some(l) => out.push(Change {
                    bid,
                    px,
                    level: l.clone(),
                    remove: false,
                }),
                (Some(_), None) => out.push(Change {
                    bid,
                    px,
                    level: level(px, "0"),
                    remove: true,
                }),
                _ => {}
            }
        }
    }
    out
}

fn levels_json(out: &mut String, changes: &[Change], bid: bool) {
    // Best first, like the venue: bids descending, asks ascending.
    let mut side: Vec<&Change> = changes.iter().filter(|c| c.bid == bid).collect();
    if bid {
        side.sort_by_key(|c| std::cmp::Reverse(c.px));
    } else {
        side.sort_by_key(|c| c.px);
    }
    for (i, c) in side.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        level_json(out, &c.level);
    }
}

fn level_json(out: &mut String, l: &Level) {
    out.push('[');
    for (j, f) in l.iter().enumerate() {
        if j > 0 {
            out.push(',');
        }
        let _ = write!(out, "{}", Value::String(f.clone()));
    }
    out.push(']');
}

fn arg(channel: &str, inst: &str) -> String {
    format!(
        "{{\"channel\":\"{channel}\",\"instId\":{}}}",
        Value::String(inst.to_owned())
    )
}

fn books_frame(inst: &str, snapshot: bool, changes: &[Change], ts: &str, cksum: i32) -> String {
    let mut s = String::with_capacity(64 + changes.len() * 40);
    let _ = write!(
        s,
        "{{\"arg\":{},\"action\":\"{}\",\"data\":[{{\"asks\":[",
        arg("books", inst),
        if snapshot { "snapshot" } else { "update" }
    );
    levels_json(&mut s, changes, false);
    s.push_str("],\"bids\":[");
    levels_json(&mut s, changes, true);
    let _ = write!(s, "],\"ts\":\"{ts}\",\"checksum\":{cksum}}}]}}");
    s
}

#[derive(Deserialize)]
struct Trade {
    s: String,
    t: u64,
    p: String,
    q: String,
    #[serde(rename = "T")]
    time: u64,
    m: bool,
}

/// Builds a derived venue's tape and market from its source's capture files.
pub(crate) fn build(
    spec: &DeriveSpec,
    files: &[File],
    warnings: &mut Vec<String>,
) -> Result<(Tape, Market), SimError> {
    let mut src_cfg = VenueConfig::new(VenueKind::Binance);
    src_cfg.name = spec.from.clone();
    let (src_tape, src) = binance::build(&src_cfg, files, warnings)?;
    let mut market = Market::default();
    let mut derived: Vec<Option<Derived>> = Vec::with_capacity(src.symbols.len());
    for s in &src.symbols {
        let inst = if spec.symbols.is_empty() {
            default_inst(&s.name)
        } else {
            spec.symbols
                .iter()
                .find(|(from, _)| *from == s.name)
                .map(|(_, to)| to.clone())
        };
        let Some(inst) = inst else {
            warnings.push(format!(
                "derived venue: source symbol {} has no instId mapping (skipped)",
                s.name
            ));
            derived.push(None);
            continue;
        };
        let okx = market.insts.len();
        market.insts.push(Inst::default());
        market.by_id.insert(inst.clone(), okx);
        market.known.insert(inst.clone());
        derived.push(Some(Derived {
            inst,
            okx,
            tick: Decimal::new(1, s.price_scale.min(28)),
            full: Book::new(),
            book: Book::new(),
            at: None,
            last_bbo: None,
        }));
    }
    for (from, _) in &spec.symbols {
        if !src.by_name.contains_key(from) {
            warnings.push(format!(
                "derived venue: symbol_map names {from}, which the source captures do not hold"
            ));
        }
    }

    let mut books = src.initial_books();
    let origin = src_tape.frames.first().map_or(0, |f| f.ts_ns);
    let lag_ns = spec.lag_ms.saturating_mul(1_000_000);
    let mut tape = Tape::default();
    tape.origin_ns = Some(origin);
    let push = |tape: &mut Tape, ts_ns: u64, key: String, text: String, op: BookOp| {
        let stream = tape.intern(&key);
        let seq = tape.captured;
        let len = text.len() as u32;
        tape.frames.push(Frame {
            ts_ns,
            seq,
            stream,
            text: Arc::from(text),
            raw: (0, len),
            op,
            is_diff: matches!(op, BookOp::OkxUpdate { .. }),
            derived: false,
        });
        tape.captured += 1;
    };
    for f in src_tape.frames.iter().filter(|f| !f.derived) {
        let ts_ns = f.ts_ns.saturating_add_signed(lag_ns);
        let ts_ms = (ts_ns / 1_000_000).to_string();
        let period = f.ts_ns.saturating_sub(origin) / 1_000_000 / spec.noise_period_ms;
        match f.op {
            BookOp::BinanceDiff { book, diff } => {
                let (Some(Some(d)), Some(b), Some(sym)) = (
                    derived.get_mut(book as usize),
                    books.get_mut(book as usize),
                    src.symbols.get(book as usize),
                ) else {
                    continue;
                };
                let Some(df) = sym.diffs.get(diff as usize) else {
                    continue;
                };
                if b.apply(df) == DiffOutcome::Stale {
                    continue;
                }
                let off = offset(spec, d.okx, period);
                let shift = d.tick * Decimal::from(off);
                let inst = &mut market.insts[d.okx];
                let (snapshot, changes) = match d.at {
                    None => {
                        d.full = mapped(&b.book, shift);
                        (true, changes_between(&Book::new(), &top(&d.full)))
                    }
                    Some(prev) if prev != off => {
                        d.full = mapped(&b.book, shift);
                        (false, changes_between(&d.book, &top(&d.full)))
                    }
                    Some(_) => {
                        let ch = shifted_changes(&df.changes, &b.book, shift);
                        d.full.apply(&ch);
                        (false, view_changes(&d.book, &d.full, &ch))
                    }
                };
                d.at = Some(off);
                if !snapshot && changes.is_empty() {
                    // Only levels below the published depth moved: OKX sends nothing.
                    continue;
                }
                d.book.apply(&changes);
                let cksum = book::okx_checksum(&d.book);
                let text = books_frame(&d.inst, snapshot, &changes, &ts_ms, cksum);
                let op = if snapshot {
                    inst.snapshots.push((changes, ts_ms.clone()));
                    BookOp::OkxSnapshot {
                        book: d.okx as u32,
                        op: inst.snapshots.len() as u32 - 1,
                    }
                } else {
                    inst.updates.push((changes, ts_ms.clone()));
                    BookOp::OkxUpdate {
                        book: d.okx as u32,
                        op: inst.updates.len() as u32 - 1,
                    }
                };
                push(
                    &mut tape,
                    ts_ns,
                    okx::stream_key("books", &d.inst),
                    text,
                    op,
                );
                let bbo = (
                    d.book.bids_best_first().next().cloned(),
                    d.book.asks_best_first().next().cloned(),
                );
                if let (Some(bid), Some(ask)) = bbo
                    && d.last_bbo.as_ref() != Some(&(bid.clone(), ask.clone()))
                {
                    let mut s = format!(
                        "{{\"arg\":{},\"data\":[{{\"asks\":[",
                        arg("bbo-tbt", &d.inst)
                    );
                    level_json(&mut s, &ask);
                    s.push_str("],\"bids\":[");
                    level_json(&mut s, &bid);
                    let _ = write!(s, "],\"ts\":\"{ts_ms}\"}}]}}");
                    push(
                        &mut tape,
                        ts_ns,
                        okx::stream_key("bbo-tbt", &d.inst),
                        s,
                        BookOp::None,
                    );
                    d.last_bbo = Some((bid, ask));
                }
            }
            BookOp::None | BookOp::BinanceTrade { .. }
                if tape_stream(&src_tape, f).ends_with("@trade") =>
            {
                let raw = f.text.get(f.raw.0 as usize..f.raw.1 as usize).unwrap_or("");
                let Ok(t) = serde_json::from_str::<Trade>(raw) else {
                    continue;
                };
                let Some(Some(d)) = src.by_name.get(&t.s).and_then(|&i| derived.get(i)) else {
                    continue;
                };
                let (Ok(p), Ok(q)) = (t.p.parse::<Decimal>(), t.q.parse::<Decimal>()) else {
                    continue;
                };
                let shift = d.tick * Decimal::from(offset(spec, d.okx, period));
                let time = (t.time as i64).saturating_add(spec.lag_ms).max(0);
                let s = format!(
                    "{{\"arg\":{},\"data\":[{{\"instId\":{},\"tradeId\":\"{}\",\"px\":\"{}\",\"sz\":\"{}\",\"side\":\"{}\",\"ts\":\"{time}\"}}]}}",
                    arg("trades", &d.inst),
                    Value::String(d.inst.clone()),
                    t.t,
                    short(p + shift),
                    short(q),
                    if t.m { "sell" } else { "buy" },
                );
                push(
                    &mut tape,
                    ts_ns,
                    okx::stream_key("trades", &d.inst),
                    s,
                    BookOp::None,
                );
            }
            _ => {}
        }
    }
    Ok((tape, market))
}

fn tape_stream<'a>(tape: &'a Tape, f: &Frame) -> &'a str {
    tape.streams
        .get(f.stream as usize)
        .map_or("", String::as_str)
}

/// A source diff's changes at an unchanged offset (levels read back from the source book, so
/// a level set twice in one diff gets its final size).
fn shifted_changes(src: &[Change], book: &Book<Level>, shift: Decimal) -> Vec<Change> {
    let mut seen: BTreeMap<(bool, Decimal), Change> = BTreeMap::new();
    for c in src {
        let p = c.px + shift;
        if p <= Decimal::ZERO {
            continue;
        }
        let side = if c.bid { &book.bids } else { &book.asks };
        let ch = match side.get(&c.px) {
            Some(l) => Change {
                bid: c.bid,
                px: p,
                level: level(p, l.get(1).map_or("0", String::as_str)),
                remove: false,
            },
            None => Change {
                bid: c.bid,
                px: p,
                level: level(p, "0"),
                remove: true,
            },
        };
        seen.insert((c.bid, p), ch);
    }
    seen.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_noise_and_strings() {
        assert_eq!(default_inst("BTCUSDT").as_deref(), Some("BTC-USDT"));
        assert_eq!(default_inst("ETHBTC").as_deref(), Some("ETH-BTC"));
        assert_eq!(default_inst("USDT"), None);
        assert_eq!(
            short("61837.63000000".parse().unwrap_or_default()),
            "61837.63"
        );
        assert_eq!(short("0.00000000".parse().unwrap_or_default()), "0");
        assert_eq!(short("61837.00000000".parse().unwrap_or_default()), "61837");
        let spec = DeriveSpec {
            from: "binance".into(),
            lag_ms: 0,
            noise_ticks: 3,
            noise_period_ms: 1000,
            seed: 7,
            symbols: Vec::new(),
        };
        let draws: Vec<i64> = (0..200).map(|p| offset(&spec, 0, p)).collect();
        assert!(draws.iter().all(|o| o.abs() <= 3));
        // Every value of the range comes up, and the draw is a function of its inputs.
        for v in -3..=3 {
            assert!(draws.contains(&v), "{v} never drawn");
        }
        assert_eq!(
            draws,
            (0..200).map(|p| offset(&spec, 0, p)).collect::<Vec<_>>()
        );
        let other = DeriveSpec { seed: 8, ..spec };
        assert_ne!(
            draws,
            (0..200).map(|p| offset(&other, 0, p)).collect::<Vec<_>>()
        );
    }

    /// `view_changes` (which looks only at touched prices and the boundary) agrees with a
    /// whole-book comparison over many random diffs, and the view stays `DEPTH` deep.
    #[test]
    fn view_changes_match_a_whole_book_comparison() {
        let mut full = Book::new();
        for i in 0..(DEPTH as i64 + 50) {
            full.set(
                true,
                Decimal::new(10_000 - i, 0),
                Some(level(Decimal::new(10_000 - i, 0), "1")),
            );
            full.set(
                false,
                Decimal::new(10_001 + i, 0),
                Some(level(Decimal::new(10_001 + i, 0), "1")),
            );
        }
        let mut view = top(&full);
        let mut r = 1u64;
        for step in 0..3000 {
            let mut ch = Vec::new();
            for _ in 0..(mix(step) % 6 + 1) {
                r = mix(r);
                let bid = r.is_multiple_of(2);
                let d = ((r >> 8) % (DEPTH as u64 + 120)) as i64;
                let px = if bid {
                    Decimal::new(10_000 - d, 0)
                } else {
                    Decimal::new(10_001 + d, 0)
                };
                let remove = (r >> 32).is_multiple_of(2);
                let sz = ((r >> 40) % 9 + 1).to_string();
                ch.push(Change {
                    bid,
                    px,
                    level: level(px, if remove { "0" } else { &sz }),
                    remove,
                });
            }
            full.apply(&ch);
            let got = view_changes(&view, &full, &ch);
            let mut expect_book = view.clone();
            expect_book.apply(&changes_between(&view, &top(&full)));
            view.apply(&got);
            assert_eq!(view.bids, expect_book.bids, "bids after step {step}");
            assert_eq!(view.asks, expect_book.asks, "asks after step {step}");
            assert!(view.bids.len() <= DEPTH && view.asks.len() <= DEPTH);
        }
    }

    #[test]
    fn remap_diff_moves_every_level() {
        let mut src = Book::new();
        src.set(
            true,
            Decimal::new(100, 0),
            Some(vec!["100.00".into(), "1.50".into()]),
        );
        src.set(
            false,
            Decimal::new(101, 0),
            Some(vec!["101.00".into(), "2".into()]),
        );
        let a = mapped(&src, Decimal::ZERO);
        let b = mapped(&src, Decimal::new(1, 2));
        let ch = changes_between(&a, &b);
        let mut moved = a.clone();
        moved.apply(&ch);
        assert_eq!(book::okx_checksum(&moved), book::okx_checksum(&b));
        assert_eq!(
            moved.bids_best_first().next(),
            Some(&vec![
                "100.01".to_owned(),
                "1.5".into(),
                "0".into(),
                "1".into()
            ])
        );
        assert_eq!(ch.iter().filter(|c| c.remove).count(), 2);
    }
}
