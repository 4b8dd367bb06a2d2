//! Per-strategy performance tracking on the core ledger's accounts, and the end-of-run table.
//!
//! Each strategy owns a [`Tracker`]: it reads the strategy's ledger accounts from the engine
//! ([`Ctx::account`]: P&L, fees and trade counts from the core's average-cost accounting,
//! exactly) and keeps a copy of each as of its last fill, remembers the decision price of every
//! order it placed (for slippage), and samples net P&L at marks to find the drawdown and the
//! per-interval returns behind the Sharpe ratio.
//!
//! Nothing here allocates after construction: the order table is a fixed-capacity list.

use core::fmt::Write as _;

use rust_decimal::Decimal;
use tickwire_core::accounting::Account;
use tickwire_core::engine::Ctx;
use tickwire_core::event::{Fill, OrderUpdate};
use tickwire_core::ids::{ClientOrderId, InstrumentId};
use tickwire_core::metrics::StrategyMetrics;
use tickwire_core::num::Px;

/// Orders whose decision price is remembered at once; the oldest is forgotten beyond this
/// (its later fills then count no slippage).
const DECISIONS: usize = 64;

#[derive(Clone, Copy, Debug)]
struct Decision {
    id: ClientOrderId,
    px: Px,
    filled: bool,
}

#[derive(Clone, Copy, Debug)]
struct Book {
    instrument: InstrumentId,
    account: Account,
    mark: Option<Px>,
}

/// Running mean and variance (Welford), for the Sharpe ratio.
#[derive(Clone, Copy, Debug, Default)]
struct Moments {
    n: u64,
    mean: f64,
    m2: f64,
}

impl Moments {
    fn add(&mut self, x: f64) {
        self.n += 1;
        let d = x - self.mean;
        self.mean += d / self.n as f64;
        self.m2 += d * (x - self.mean);
    }

    fn sharpe(&self) -> Option<f64> {
        if self.n < 2 {
            return None;
        }
        let sd = (self.m2 / (self.n - 1) as f64).sqrt();
        (sd > 0.0).then(|| self.mean / sd)
    }
}

/// Tracks one strategy's performance.
#[derive(Clone, Debug)]
pub struct Tracker {
    books: Vec<Book>,
    decisions: Vec<Decision>,
    placed: u64,
    filled: u64,
    wins: u64,
    losses: u64,
    slippage: Decimal,
    peak: Decimal,
    max_drawdown: Decimal,
    interval_ns: u64,
    interval_end: Option<u64>,
    interval_base: Decimal,
    returns: Moments,
    start: Option<u64>,
    last: u64,
    in_market_ns: u64,
}

impl Tracker {
    /// A tracker for a strategy trading `instruments`, sampling returns every `interval_ns` of
    /// engine time.
    pub fn new(instruments: &[InstrumentId], interval_ns: u64) -> Self {
        Self {
            books: instruments
                .iter()
                .map(|&instrument| Book {
                    instrument,
                    account: Account::default(),
                    mark: None,
                })
                .collect(),
            decisions: Vec::with_capacity(DECISIONS),
            placed: 0,
            filled: 0,
            wins: 0,
            losses: 0,
            slippage: Decimal::ZERO,
            peak: Decimal::ZERO,
            max_drawdown: Decimal::ZERO,
            interval_ns: interval_ns.max(1),
            interval_end: None,
            interval_base: Decimal::ZERO,
            returns: Moments::default(),
            start: None,
            last: 0,
            in_market_ns: 0,
        }
    }

    /// An order was placed on the strength of `decision` (the price the strategy decided on:
    /// the touch it meant to take, or its own quote).
    pub fn placed(&mut self, id: ClientOrderId, decision: Px) {
        self.placed += 1;
        if self.decisions.len() == DECISIONS {
            self.decisions.remove(0);
        }
        self.decisions.push(Decision {
            id,
            px: decision,
            filled: false,
        });
    }

    /// An order changed state: a terminal order's decision is forgotten.
    pub fn on_update(&mut self, update: &OrderUpdate) {
        if update.state().is_some_and(|s| s.is_terminal())
            && let Some(i) = self.decisions.iter().position(|d| d.id == update.cl_ord_id)
        {
            self.decisions.swap_remove(i);
        }
    }

    /// One of the strategy's fills: booked, scored, and the P&L re-marked.
    pub fn on_fill(&mut self, ctx: &Ctx<'_>, fill: &Fill) {
        let side = fill
            .side()
            .or_else(|| ctx.order(fill.cl_ord_id).map(|o| o.side));
        let Some(side) = side else { return };
        self.advance(ctx.now());
        if let Some(d) = self.decisions.iter_mut().find(|d| d.id == fill.cl_ord_id) {
            if !d.filled {
                d.filled = true;
                self.filled += 1;
            }
            let diff = (fill.px.to_decimal() - d.px.to_decimal()) * fill.qty.to_decimal();
            self.slippage += Decimal::from(side.sign()) * diff;
        }
        let Some(book) = self
            .books
            .iter_mut()
            .find(|b| b.instrument == fill.meta.instrument)
        else {
            return;
        };
        // The engine booked the fill in the ledger before this callback; the copy kept here
        // is the account as it was before it.
        let Some(after) = ctx.account(fill.meta.instrument).copied() else {
            return;
        };
        let before = book.account;
        book.account = after;
        if before.position().raw().signum() == -side.sign() {
            let gained = (after.realized() - after.fees()) - (before.realized() - before.fees());
            if gained > Decimal::ZERO {
                self.wins += 1;
            } else if gained < Decimal::ZERO {
                self.losses += 1;
            }
        }
        book.mark = book.mark.or(Some(fill.px));
        self.revalue(ctx.now());
    }

    /// Engine time moved (any event): accrues time in market, and at the end of each
    /// interval re-marks every position at its mid and records the interval's return.
    pub fn mark(&mut self, ctx: &Ctx<'_>) {
        let now = ctx.now();
        self.advance(now);
        if self.interval_end.is_some_and(|end| now < end) {
            return;
        }
        for b in &mut self.books {
            if let Some(mid) = ctx.market(b.instrument).and_then(|m| m.mid()) {
                b.mark = Some(mid);
            }
        }
        self.revalue(now);
    }

    fn advance(&mut self, now: u64) {
        if self.start.is_none() {
            self.start = Some(now);
            self.last = now;
            return;
        }
        if now > self.last {
            // The position held since the last event (before any fill now being booked).
            if self.books.iter().any(|b| !b.account.position().is_zero()) {
                self.in_market_ns += now - self.last;
            }
            self.last = now;
        }
    }

    fn net(&self) -> Decimal {
        self.books
            .iter()
            .map(|b| {
                let a = &b.account;
                let unrealized = b.mark.map_or(Decimal::ZERO, |m| a.unrealized(m));
                a.realized() + unrealized - a.fees()
            })
            .sum()
    }

    /// Recomputes net P&L: drawdown, and an interval return when an interval has ended.
    fn revalue(&mut self, now: u64) {
        let net = self.net();
        self.peak = self.peak.max(net);
        self.max_drawdown = self.max_drawdown.max(self.peak - net);
        match self.interval_end {
            None => {
                self.interval_end = Some(now.saturating_add(self.interval_ns));
                self.interval_base = net;
            }
            Some(end) if now >= end => {
                let r = net - self.interval_base;
                self.returns
                    .add(r.try_into().unwrap_or(if r.is_sign_negative() {
                        f64::MIN
                    } else {
                        f64::MAX
                    }));
                self.interval_base = net;
                self.interval_end = Some(now.saturating_add(self.interval_ns));
            }
            Some(_) => {}
        }
    }

    /// The figures so far.
    pub fn snapshot(&self) -> StrategyMetrics {
        let mut m = StrategyMetrics {
            orders_placed: self.placed,
            orders_filled: self.filled,
            wins: self.wins,
            losses: self.losses,
            slippage: self.slippage,
            max_drawdown: self.max_drawdown,
            sharpe: self.returns.sharpe(),
            intervals: self.returns.n,
            time_in_market_ns: self.in_market_ns,
            elapsed_ns: self.last.saturating_sub(self.start.unwrap_or(self.last)),
            ..StrategyMetrics::default()
        };
        for b in &self.books {
            let a = &b.account;
            m.realized += a.realized();
            m.unrealized += b.mark.map_or(Decimal::ZERO, |px| a.unrealized(px));
            m.fees += a.fees();
            m.trades += a.trades();
        }
        m
    }

    /// The ledger account of one instrument.
    pub fn account(&self, instrument: InstrumentId) -> Option<&Account> {
        self.books
            .iter()
            .find(|b| b.instrument == instrument)
            .map(|b| &b.account)
    }
}

fn money(d: Decimal) -> String {
    d.round_dp(4).normalize().to_string()
}

fn percent(r: Option<f64>) -> String {
    r.map_or_else(|| "-".to_owned(), |r| format!("{:.1}%", r * 100.0))
}

/// Formats named metrics as a fixed-width text table, one row per strategy (money rounded to
/// 4 decimals for display only).
pub fn table(rows: &[(&str, StrategyMetrics)]) -> String {
    const HEADER: [&str; 13] = [
        "strategy",
        "net",
        "realized",
        "unrealized",
        "fees",
        "trades",
        "win",
        "sharpe",
        "fill",
        "slippage",
        "max_dd",
        "in_mkt",
        "orders",
    ];
    let cells: Vec<[String; 13]> = rows
        .iter()
        .map(|(name, m)| {
            [
                (*name).to_owned(),
                money(m.net()),
                money(m.realized),
                money(m.unrealized),
                money(m.fees),
                m.trades.to_string(),
                percent(m.win_rate()),
                m.sharpe
                    .map_or_else(|| "-".to_owned(), |s| format!("{s:.3}")),
                percent(m.fill_rate()),
                money(m.slippage),
                money(m.max_drawdown),
                percent(m.time_in_market()),
                m.orders_placed.to_string(),
            ]
        })
        .collect();
    let mut widths = HEADER.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.len());
        }
    }
    let mut out = String::new();
    let mut line = |cols: &[&str]| {
        for (i, (c, w)) in cols.iter().zip(widths).enumerate() {
            let sep = if i == 0 { "" } else { "  " };
            // Names left-aligned, figures right-aligned.
            let _ = if i == 0 {
                write!(out, "{sep}{c:<w$}")
            } else {
                write!(out, "{sep}{c:>w$}")
            };
        }
        out.push('\n');
    };
    line(&HEADER);
    for row in &cells {
        let cols: Vec<&str> = row.iter().map(String::as_str).collect();
        line(&cols);
    }
    out
}
