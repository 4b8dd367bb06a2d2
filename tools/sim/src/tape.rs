//! A venue's tape: every frame it will serve, in order, with what each does to the venue's
//! book. Built once from the captures; immutable while serving.

use std::collections::HashMap;
use std::sync::Arc;

/// What publishing a frame does to the simulator's book.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BookOp {
    /// Nothing (trades, tickers, derived frames).
    None,
    /// Apply Binance diff `diff` of symbol `book`.
    BinanceDiff { book: u32, diff: u32 },
    /// Public trade `trade` of Binance symbol `book` (fills resting private orders).
    BinanceTrade { book: u32, trade: u32 },
    /// Reset OKX instrument `book` to its snapshot `op`.
    OkxSnapshot { book: u32, op: u32 },
    /// Apply OKX update `op` of instrument `book`.
    OkxUpdate { book: u32, op: u32 },
}

/// One frame to serve.
#[derive(Debug)]
pub(crate) struct Frame {
    /// Capture receive time (ns), for pacing.
    pub ts_ns: u64,
    /// Index of the capture frame (derived frames share the one they were emitted with).
    pub seq: u64,
    /// Interned stream key.
    pub stream: u32,
    /// Wire text, verbatim.
    pub text: Arc<str>,
    /// Byte range of the raw payload inside `text` (Binance `data`; the whole text for OKX).
    pub raw: (u32, u32),
    /// Book effect.
    pub op: BookOp,
    /// A book diff (what a gap fault withholds).
    pub is_diff: bool,
    /// Made by the simulator (Binance 1 s depth merged from 100 ms diffs), not captured.
    pub derived: bool,
}

/// The frames of one venue.
#[derive(Debug, Default)]
pub(crate) struct Tape {
    /// Stream keys (Binance stream names; OKX `channel:instId`).
    pub streams: Vec<String>,
    index: HashMap<String, u32>,
    /// Frames in serving order.
    pub frames: Vec<Frame>,
    /// Capture frames (derived ones excluded).
    pub captured: u64,
    /// Receive time (ns) the pacing counts from; `None`: the first frame's. A derived venue
    /// sets its source capture's start, so its lag shows against the source venue.
    pub origin_ns: Option<u64>,
}

impl Tape {
    /// The id of a stream key, adding it if new.
    pub(crate) fn intern(&mut self, key: &str) -> u32 {
        if let Some(&id) = self.index.get(key) {
            return id;
        }
        let id = self.streams.len() as u32;
        self.streams.push(key.to_owned());
        self.index.insert(key.to_owned(), id);
        id
    }

    /// The id of a known stream key.
    pub(crate) fn stream_id(&self, key: &str) -> Option<u32> {
        self.index.get(key).copied()
    }
}
