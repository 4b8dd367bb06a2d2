//! Bar-driven directional strategies: `trend` (SMA crossover) and `mean_reversion` (z-score
//! band), on time bars the core builds from the instrument's public trades
//! ([`crate::bars`]).
//!
//! Each completed bar updates a signal that names a target position (`+size`, `0`, or `−size`
//! when shorting is allowed); the strategy then trades toward the target with one IOC marketable
//! limit at a time, at most `slippage_bps` through the touch, retrying no more often than every
//! `retry_ms` while the feed is healthy. Signal arithmetic is exact: closes are counted in
//! ticks and compared as integers.

use std::collections::VecDeque;
use std::num::NonZeroU64;

use crate::bars::{Bar, BarBuilder};
use tickwire_core::config::Section;
use tickwire_core::engine::{Ctx, Strategy};
use tickwire_core::event::{Fill, OrderType, OrderUpdate, Side, TimeInForce, TimerTick, Trade};
use tickwire_core::ids::{ClientOrderId, InstrumentId};
use tickwire_core::metrics::StrategyMetrics;
use tickwire_core::num::{InstrumentSpec, Px, Qty};
use tickwire_core::order::OrderRequest;

use crate::common::{self, Bps};
use crate::metrics::Tracker;

/// A signal: turns bars into a target direction (+1 long, −1 short, 0 flat).
pub trait Signal: Send {
    /// Updates with a completed bar's close (in ticks); returns the new direction, or `None`
    /// to keep the current one.
    fn update(&mut self, close_ticks: i64) -> Option<i8>;
}

/// A fixed-capacity window of the last `n` closes.
#[derive(Clone, Debug)]
struct Window {
    n: usize,
    closes: VecDeque<i64>,
}

impl Window {
    fn new(n: usize) -> Self {
        Self {
            n,
            closes: VecDeque::with_capacity(n),
        }
    }

    fn push(&mut self, x: i64) {
        if self.closes.len() == self.n {
            self.closes.pop_front();
        }
        self.closes.push_back(x);
    }

    fn full(&self) -> bool {
        self.closes.len() == self.n
    }

    /// Sum of the last `k` closes.
    fn sum_last(&self, k: usize) -> i128 {
        self.closes
            .iter()
            .rev()
            .take(k)
            .map(|&x| i128::from(x))
            .sum()
    }
}

/// Simple-moving-average crossover: long while the fast SMA is above the slow one, short (or
/// flat) while below.
#[derive(Clone, Debug)]
pub struct SmaCross {
    fast: usize,
    window: Window,
}

impl SmaCross {
    /// A crossover of a `fast`-bar and a `slow`-bar SMA (`fast < slow`).
    pub fn new(fast: usize, slow: usize) -> Self {
        Self {
            fast,
            window: Window::new(slow),
        }
    }
}

impl Signal for SmaCross {
    fn update(&mut self, close: i64) -> Option<i8> {
        self.window.push(close);
        if !self.window.full() {
            return None;
        }
        let slow = self.window.n as i128;
        let fast = self.fast as i128;
        // fast_sum / fast vs slow_sum / slow, cross-multiplied: exact.
        let f = self.window.sum_last(self.fast) * slow;
        let s = self.window.sum_last(self.window.n) * fast;
        match f.cmp(&s) {
            core::cmp::Ordering::Greater => Some(1),
            core::cmp::Ordering::Less => Some(-1),
            core::cmp::Ordering::Equal => None,
        }
    }
}

/// Z-score band: short above `entry` standard deviations from the window mean, long below
/// `−entry`, flat once back within `exit`.
#[derive(Clone, Debug)]
pub struct ZScore {
    window: Window,
    /// Entry band × 10^9.
    entry: i128,
    /// Exit band × 10^9.
    exit: i128,
}

impl ZScore {
    /// A z-score band over `n` bars with `entry`/`exit` bands given ×10^9 (as [`Px`] raw).
    pub fn new(n: usize, entry: i64, exit: i64) -> Self {
        Self {
            window: Window::new(n),
            entry: i128::from(entry),
            exit: i128::from(exit),
        }
    }

    /// Compares |z| of `close` with `band` (×10^9): `Some(true)` if |z| > band.
    /// z = (n·c − S) / √(n·Q − S²) over deviations from the window's first close (the variance
    /// does not change under a shift, and the numbers stay small).
    fn beyond(&self, d: i128, v: i128, band: i128) -> Option<bool> {
        // |d| > band·√v / 10^9  ⇔  d²·10^18 > band²·v
        let lhs = d.checked_mul(d)?.checked_mul(1_000_000_000_000_000_000)?;
        let rhs = band.checked_mul(band)?.checked_mul(v)?;
        Some(lhs > rhs)
    }
}

impl Signal for ZScore {
    fn update(&mut self, close: i64) -> Option<i8> {
        self.window.push(close);
        if !self.window.full() {
            return None;
        }
        let base = *self.window.closes.front()?;
        let n = self.window.n as i128;
        let (mut s, mut q) = (0i128, 0i128);
        for &x in &self.window.closes {
            let d = i128::from(x) - i128::from(base);
            s = s.checked_add(d)?;
            q = q.checked_add(d.checked_mul(d)?)?;
        }
        let v = n.checked_mul(q)?.checked_sub(s.checked_mul(s)?)?;
        if v <= 0 {
            return None; // no variation: no z-score
        }
        let d = n
            .checked_mul(i128::from(close) - i128::from(base))?
            .checked_sub(s)?;
        if self.beyond(d, v, self.entry)? {
            return Some(if d > 0 { -1 } else { 1 });
        }
        if !self.beyond(d, v, self.exit)? {
            return Some(0);
        }
        None
    }
}

/// Parameters shared by the bar strategies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BarConfig {
    /// Strategy name.
    pub name: String,
    /// Instrument traded (bars from its trades).
    pub instrument: InstrumentId,
    /// Bar interval, ns.
    pub bar_ns: u64,
    /// Position held when the signal is long (or short).
    pub position_qty: Qty,
    /// Whether the signal may go short.
    pub allow_short: bool,
    /// How far through the touch orders may trade.
    pub slippage: Bps,
    /// Minimum time between order attempts, ns.
    pub retry_ns: u64,
}

/// A strategy that trades a [`Signal`] on time bars.
pub struct BarStrategy<S: Signal> {
    cfg: BarConfig,
    bars: BarBuilder,
    signal: S,
    direction: i8,
    order: Option<ClientOrderId>,
    last_attempt: Option<u64>,
    last_bar: Option<Bar>,
    metrics: Tracker,
}

/// Trend following: [`SmaCross`] on bars.
pub type Trend = BarStrategy<SmaCross>;
/// Mean reversion: [`ZScore`] on bars.
pub type MeanReversion = BarStrategy<ZScore>;

fn read_common(s: &mut Section<'_>, instruments: &[InstrumentSpec]) -> Option<BarConfig> {
    let name = s.str("name");
    let inst = common::instrument(s, "instrument", instruments);
    let bar_ms = s.int_or("bar_ms", 1, 86_400_000, 60_000) as u64;
    let position_qty = common::positive_qty(s, "position_qty");
    let allow_short = s.opt_bool("allow_short").unwrap_or(false);
    let slippage = common::bps_or(
        s,
        "slippage_bps",
        Bps::ZERO,
        Bps(1_000 * 1_000_000_000),
        Bps(5 * 1_000_000_000),
    );
    let retry_ms = s.int_or("retry_ms", 1, 3_600_000, 1_000) as u64;
    Some(BarConfig {
        name: name?.to_owned(),
        instrument: inst?.id,
        bar_ns: bar_ms * 1_000_000,
        position_qty: position_qty?,
        allow_short,
        slippage,
        retry_ns: retry_ms * 1_000_000,
    })
}

impl Trend {
    /// Reads a `[[strategy]] kind = "trend"` section.
    pub fn from_config(s: &mut Section<'_>, instruments: &[InstrumentSpec]) -> Option<Self> {
        let fast = s.int_or("fast_bars", 1, 10_000, 10) as usize;
        let slow = s.int_or("slow_bars", 2, 10_000, 30) as usize;
        let cfg = read_common(s, instruments);
        if fast >= slow {
            s.error(
                "fast_bars",
                format!("must be below slow_bars ({fast} >= {slow})"),
            );
            return None;
        }
        Some(Self::with_signal(cfg?, SmaCross::new(fast, slow)))
    }
}

impl MeanReversion {
    /// Reads a `[[strategy]] kind = "mean_reversion"` section.
    pub fn from_config(s: &mut Section<'_>, instruments: &[InstrumentSpec]) -> Option<Self> {
        let window = s.int_or("window_bars", 2, 10_000, 20) as usize;
        let entry = s.parsed::<Px>("entry_z", "decimal");
        let exit = s.opt_parsed::<Px>("exit_z", "decimal").unwrap_or(Px::ZERO);
        let cfg = read_common(s, instruments);
        let entry = entry?;
        if !entry.is_positive() || entry > Px::from_raw(100 * 1_000_000_000) {
            s.error("entry_z", format!("{entry} is out of range (0, 100]"));
            return None;
        }
        if exit.is_negative() || exit >= entry {
            s.error("exit_z", format!("must be in [0, entry_z) (got {exit})"));
            return None;
        }
        Some(Self::with_signal(
            cfg?,
            ZScore::new(window, entry.raw(), exit.raw()),
        ))
    }
}

impl<S: Signal> BarStrategy<S> {
    /// A bar strategy trading `signal`.
    pub fn with_signal(cfg: BarConfig, signal: S) -> Self {
        let metrics = Tracker::new(&[cfg.instrument], cfg.bar_ns);
        let bars = BarBuilder::new(NonZeroU64::new(cfg.bar_ns).unwrap_or(NonZeroU64::MIN));
        Self {
            cfg,
            bars,
            signal,
            direction: 0,
            order: None,
            last_attempt: None,
            last_bar: None,
            metrics,
        }
    }

    /// The current signal direction (+1, 0, −1).
    pub fn direction(&self) -> i8 {
        self.direction
    }

    /// The last completed bar.
    pub fn last_bar(&self) -> Option<Bar> {
        self.last_bar
    }

    fn on_bar(&mut self, ctx: &mut Ctx<'_>, bar: Bar) {
        self.last_bar = Some(bar);
        let Some(tick) = ctx
            .market(self.cfg.instrument)
            .map(|m| m.spec.tick.raw())
            .filter(|t| *t > 0)
        else {
            return;
        };
        if let Some(d) = self.signal.update(bar.close.raw().div_euclid(tick)) {
            self.direction = if d < 0 && !self.cfg.allow_short { 0 } else { d };
            // A new decision: trade toward it now, whatever the retry clock says.
            self.last_attempt = None;
        }
        self.rebalance(ctx);
    }

    fn target(&self) -> i64 {
        i64::from(self.direction) * self.cfg.position_qty.raw()
    }

    fn rebalance(&mut self, ctx: &mut Ctx<'_>) {
        let inst = self.cfg.instrument;
        if self.order.is_some_and(|id| ctx.order(id).is_some()) {
            return;
        }
        let now = ctx.now();
        if self
            .last_attempt
            .is_some_and(|t| now.saturating_sub(t) < self.cfg.retry_ns)
        {
            return;
        }
        let Some(view) = ctx.market(inst) else { return };
        if !view.is_healthy() {
            return;
        }
        // No order of this strategy is open (checked above): the exposure is the position.
        let diff = self.target() - ctx.position(inst).raw();
        if diff == 0 {
            return;
        }
        let side = if diff > 0 { Side::Buy } else { Side::Sell };
        let qty = common::lots_down(Qty::from_raw(diff.abs()), &view.spec);
        let touch = match side {
            Side::Buy => view.best_ask(),
            Side::Sell => view.best_bid(),
        };
        let (Some(px), Some(touch)) = (common::marketable(view, side, self.cfg.slippage), touch)
        else {
            return;
        };
        if qty.is_zero() || !view.spec.meets_minimums(px, qty) {
            return;
        }
        self.last_attempt = Some(now);
        let req = OrderRequest {
            instrument: inst,
            side,
            px,
            qty,
            order_type: OrderType::Limit,
            tif: TimeInForce::Ioc,
        };
        self.order = ctx.place(req).ok();
        if let Some(id) = self.order {
            self.metrics.placed(id, touch);
        }
    }
}

impl<S: Signal> Strategy for BarStrategy<S> {
    fn name(&self) -> &str {
        &self.cfg.name
    }

    fn on_trade(&mut self, ctx: &mut Ctx<'_>, trade: &Trade) {
        if trade.meta.instrument != self.cfg.instrument {
            return;
        }
        self.metrics.mark(ctx);
        if let Some(bar) = self.bars.on_trade(ctx.now(), trade.px, trade.qty) {
            self.on_bar(ctx, bar);
        }
    }

    fn on_book(&mut self, ctx: &mut Ctx<'_>, instrument: InstrumentId) {
        if instrument == self.cfg.instrument {
            self.metrics.mark(ctx);
            self.rebalance(ctx);
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_>, _tick: &TimerTick) {
        self.metrics.mark(ctx);
        if let Some(bar) = self.bars.on_time(ctx.now()) {
            self.on_bar(ctx, bar);
        } else {
            self.rebalance(ctx);
        }
    }

    fn on_order_update(&mut self, _ctx: &mut Ctx<'_>, update: &OrderUpdate) {
        self.metrics.on_update(update);
    }

    fn on_fill(&mut self, ctx: &mut Ctx<'_>, fill: &Fill) {
        self.metrics.on_fill(ctx, fill);
    }

    fn metrics(&self) -> Option<StrategyMetrics> {
        Some(self.metrics.snapshot())
    }
}
