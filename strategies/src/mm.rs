//! `mm`: single-venue market making around an inventory-skewed reservation price
//! (Avellaneda–Stoikov).
//!
//! With mid `s`, inventory `q` (position in units of `order_qty`), risk aversion `γ`, price
//! variance rate `σ²` (per second) and horizon `T` (seconds):
//!
//! - reservation price `r = s − q·γ·σ²·T` — long inventory moves both quotes down;
//! - total spread `γ·σ²·T + (2/γ)·ln(1 + γ/κ)`, with `κ` the order-arrival decay;
//! - each quote at least `min_edge_bps + maker_fee_bps` from `r` (a negative maker fee, a
//!   rebate, lowers the floor), then rounded away from `r` onto the tick grid and kept one tick
//!   inside the opposite touch so the post-only order rests.
//!
//! `σ²` is an EWMA of squared log returns of the mid sampled every `vol_sample_ms` of engine
//! time, never below `vol_floor_bps`. The model runs in `f64`; the quotes it produces are exact [`Px`]/[`Qty`] on the
//! instrument's grids.
//!
//! Orders are post-only. A quote whose price is unchanged (or moved less than `requote_ticks`)
//! is left alone to keep its queue position; a quote that must move is cancelled and replaced
//! once the cancel is confirmed. Places and replacing cancels spend a token bucket of
//! `max_actions_per_sec` (burst `action_burst`) refilled in engine time; pulling quotes for
//! safety is never held back by the budget.
//!
//! Quotes are pulled (and none placed) while the feed is not healthy (stale, gap, disconnected),
//! when no update arrived for `stale_ms` of engine time, for `spike_cooldown_ms` after a mid
//! return larger than `vol_spike_sigmas` standard deviations, and while the strategy is not
//! active.

use tickwire_core::config::Section;
use tickwire_core::engine::{Ctx, Strategy, StrategyMode};
use tickwire_core::event::{
    FeedStatus, Fill, OrderState, OrderType, OrderUpdate, Side, TimeInForce, TimerTick,
};
use tickwire_core::ids::{ClientOrderId, InstrumentId};
use tickwire_core::metrics::StrategyMetrics;
use tickwire_core::num::{InstrumentSpec, Px, Qty};
use tickwire_core::order::OrderRequest;

use crate::common::{self, Bps};
use crate::metrics::Tracker;

const NS_PER_S: f64 = 1e9;

/// Market-making parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct MmConfig {
    /// Strategy name.
    pub name: String,
    /// Instrument quoted.
    pub instrument: InstrumentId,
    /// Size of each quote.
    pub order_qty: Qty,
    /// Largest absolute position (quotes that could exceed it are not placed).
    pub max_position: Qty,
    /// Risk aversion γ (per quote-currency unit of price × order size).
    pub gamma: f64,
    /// Order-arrival decay κ (per quote-currency unit of price).
    pub kappa: f64,
    /// Horizon T in seconds.
    pub horizon_s: f64,
    /// Minimum distance of each quote from the reservation price, before fees.
    pub min_edge: Bps,
    /// Maker fee (negative: rebate).
    pub maker_fee: Bps,
    /// Volatility sampling interval, ns.
    pub vol_sample_ns: u64,
    /// EWMA weight of the previous variance per sample.
    pub vol_lambda: f64,
    /// Volatility before any sample, bps per √second.
    pub initial_vol_bps: f64,
    /// Floor of the volatility estimate, bps per √second: a quiet spell must not make the
    /// next ordinary tick look like a spike, nor the spread collapse.
    pub vol_floor_bps: f64,
    /// A sampled return beyond this many standard deviations is a spike.
    pub vol_spike_sigmas: f64,
    /// Samples before spikes are detected.
    pub vol_warmup: u32,
    /// How long quotes stay pulled after a spike, ns.
    pub spike_cooldown_ns: u64,
    /// No market update for this long (engine time) pulls the quotes, ns.
    pub stale_ns: u64,
    /// Smallest price move, in ticks, that replaces a resting quote.
    pub requote_ticks: i64,
    /// Order actions (places and replacing cancels) per second.
    pub max_actions_per_sec: u32,
    /// Token bucket size.
    pub action_burst: u32,
}

/// Why quotes are pulled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pull {
    /// Feed not healthy: stale, gap, disconnected, or no market view.
    Feed,
    /// No update for `stale_ms`.
    Silent,
    /// Volatility spike cooldown.
    Spike,
    /// The strategy is paused, reduce-only or stopping.
    Mode,
}

/// Online volatility of mid returns.
#[derive(Clone, Copy, Debug)]
struct Vol {
    /// Variance of log returns per second.
    var_per_s: f64,
    last_mid: Option<Px>,
    last_t: u64,
    samples: u32,
}

/// Exact token bucket in engine time (units of 10^-9 token).
#[derive(Clone, Copy, Debug)]
struct Budget {
    nanos: u128,
    cap: u128,
    rate: u128,
    last: u64,
}

impl Budget {
    const ONE: u128 = 1_000_000_000;

    fn refill(&mut self, now: u64) {
        let dt = u128::from(now.saturating_sub(self.last));
        self.last = self.last.max(now);
        // rate tokens per second = rate × 10^9 nano-tokens per 10^9 ns.
        self.nanos = (self.nanos + dt * self.rate).min(self.cap);
    }

    fn take(&mut self) -> bool {
        let ok = self.nanos >= Self::ONE;
        if ok {
            self.nanos -= Self::ONE;
        }
        ok
    }
}

/// The market maker.
pub struct MarketMaker {
    cfg: MmConfig,
    vol: Vol,
    budget: Budget,
    spike_until: u64,
    bid: Option<ClientOrderId>,
    ask: Option<ClientOrderId>,
    pulled: Option<Pull>,
    metrics: Tracker,
}

/// A desired quote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quote {
    /// Price.
    pub px: Px,
    /// Quantity.
    pub qty: Qty,
}

impl MarketMaker {
    /// A market maker with `cfg`.
    pub fn new(cfg: MmConfig) -> Self {
        let var_per_s = (cfg.initial_vol_bps.max(cfg.vol_floor_bps) / 1e4).powi(2);
        let burst = u128::from(cfg.action_burst) * Budget::ONE;
        let budget = Budget {
            nanos: burst,
            cap: burst,
            rate: u128::from(cfg.max_actions_per_sec),
            last: 0,
        };
        let metrics = Tracker::new(&[cfg.instrument], 1_000_000_000);
        Self {
            cfg,
            vol: Vol {
                var_per_s,
                last_mid: None,
                last_t: 0,
                samples: 0,
            },
            budget,
            spike_until: 0,
            bid: None,
            ask: None,
            pulled: None,
            metrics,
        }
    }

    /// Reads a `[[strategy]] kind = "mm"` section.
    pub fn from_config(s: &mut Section<'_>, instruments: &[InstrumentSpec]) -> Option<Self> {
        let name = s.str("name");
        let inst = common::instrument(s, "instrument", instruments);
        let order_qty = common::positive_qty(s, "order_qty");
        let max_position = common::positive_qty(s, "max_position");
        let gamma = common::float_or(s, "gamma", 1e-12, 1e6, 0.1);
        let kappa = common::float_or(s, "kappa", 1e-12, 1e9, 1.5);
        let horizon_s = common::float_or(s, "horizon_s", 1e-3, 86_400.0, 1.0);
        let max = Bps(10_000 * 1_000_000_000);
        let min_edge = common::bps_or(s, "min_edge_bps", Bps::ZERO, max, Bps(1_000_000_000));
        let maker_fee = common::bps_or(s, "maker_fee_bps", Bps(-max.0), max, Bps::ZERO);
        let vol_sample_ms = s.int_or("vol_sample_ms", 1, 3_600_000, 100) as u64;
        let halflife = common::float_or(s, "vol_halflife_samples", 1.0, 1e6, 50.0);
        let initial_vol_bps = common::float_or(s, "initial_vol_bps", 0.0, 1e5, 1.0);
        let vol_floor_bps = common::float_or(s, "vol_floor_bps", 0.0, 1e5, 0.5);
        let vol_spike_sigmas = common::float_or(s, "vol_spike_sigmas", 1.0, 1e3, 6.0);
        let vol_warmup = s.int_or("vol_warmup_samples", 0, 1_000_000, 20) as u32;
        let spike_cooldown_ms = s.int_or("spike_cooldown_ms", 0, 3_600_000, 1_000) as u64;
        let stale_ms = s.int_or("stale_ms", 1, 3_600_000, 1_000) as u64;
        let requote_ticks = s.int_or("requote_ticks", 1, 1_000_000, 1);
        let max_actions_per_sec = s.int_or("max_actions_per_sec", 1, 100_000, 20) as u32;
        let action_burst = s.int_or("action_burst", 1, 100_000, 10) as u32;
        if let (Some(q), Some(m)) = (order_qty, max_position)
            && q > m
        {
            s.error("order_qty", "must not exceed max_position");
            return None;
        }
        Some(Self::new(MmConfig {
            name: name?.to_owned(),
            instrument: inst?.id,
            order_qty: order_qty?,
            max_position: max_position?,
            gamma,
            kappa,
            horizon_s,
            min_edge,
            maker_fee,
            vol_sample_ns: vol_sample_ms * 1_000_000,
            vol_lambda: 0.5f64.powf(1.0 / halflife),
            initial_vol_bps,
            vol_floor_bps,
            vol_spike_sigmas,
            vol_warmup,
            spike_cooldown_ns: spike_cooldown_ms * 1_000_000,
            stale_ns: stale_ms * 1_000_000,
            requote_ticks,
            max_actions_per_sec,
            action_burst,
        }))
    }

    /// Why quotes are pulled now, if they are.
    pub fn pulled(&self) -> Option<Pull> {
        self.pulled
    }

    /// The current volatility estimate: standard deviation of log returns per √second.
    pub fn sigma(&self) -> f64 {
        self.vol.var_per_s.sqrt()
    }

    /// Samples the mid into the volatility estimate; true on a spike.
    fn sample(&mut self, now: u64, mid: Px) -> bool {
        let v = &mut self.vol;
        let Some(prev) = v.last_mid else {
            v.last_mid = Some(mid);
            v.last_t = now;
            return false;
        };
        let dt = now.saturating_sub(v.last_t);
        if dt < self.cfg.vol_sample_ns || !prev.is_positive() || !mid.is_positive() {
            return false;
        }
        let r = (mid.raw() as f64 / prev.raw() as f64).ln();
        let dt_s = dt as f64 / NS_PER_S;
        let expected_sd = (v.var_per_s * dt_s).sqrt();
        let spike = v.samples >= self.cfg.vol_warmup
            && expected_sd > 0.0
            && r.abs() > self.cfg.vol_spike_sigmas * expected_sd;
        let lambda = self.cfg.vol_lambda;
        let floor = (self.cfg.vol_floor_bps / 1e4).powi(2);
        v.var_per_s = (lambda * v.var_per_s + (1.0 - lambda) * (r * r / dt_s)).max(floor);
        v.samples = v.samples.saturating_add(1);
        v.last_mid = Some(mid);
        v.last_t = now;
        spike
    }

    /// The quotes the model wants at `mid` with `position`, before the touch clamp and the
    /// position limit: `(bid, ask)` prices on the tick grid.
    pub fn model_quotes(&self, spec: &InstrumentSpec, mid: Px, position: Qty) -> Option<(Px, Px)> {
        let c = &self.cfg;
        let s = mid.raw() as f64 / NS_PER_S;
        let tick = spec.tick.raw() as f64 / NS_PER_S;
        let q = position.raw() as f64 / c.order_qty.raw() as f64;
        let var_px = self.vol.var_per_s * s * s;
        let r = s - q * c.gamma * var_px * c.horizon_s;
        let spread =
            c.gamma * var_px * c.horizon_s + (2.0 / c.gamma) * (1.0 + c.gamma / c.kappa).ln();
        let floor = s * (c.min_edge.0 as f64 + c.maker_fee.0 as f64) / 1e13;
        let half = (spread / 2.0).max(floor).max(0.0);
        let bid_ticks = ((r - half) / tick).floor();
        let ask_ticks = ((r + half) / tick).ceil();
        let bound = (i64::MAX / spec.tick.raw().max(1)) as f64;
        if !bid_ticks.is_finite()
            || !ask_ticks.is_finite()
            || bid_ticks.abs() > bound
            || ask_ticks.abs() > bound
        {
            return None;
        }
        let (mut b, mut a) = (bid_ticks as i64, ask_ticks as i64);
        if a <= b {
            a = b + 1;
        }
        b = b.max(1);
        a = a.max(b + 1);
        Some((
            Px::from_raw(b * spec.tick.raw()),
            Px::from_raw(a * spec.tick.raw()),
        ))
    }

    fn pull_reason(&self, ctx: &Ctx<'_>) -> Option<Pull> {
        let Some(view) = ctx.market(self.cfg.instrument) else {
            return Some(Pull::Feed);
        };
        if !view.feed_ok() {
            return Some(Pull::Feed);
        }
        if ctx.now().saturating_sub(view.last_update_ns) > self.cfg.stale_ns {
            return Some(Pull::Silent);
        }
        if ctx.now() < self.spike_until {
            return Some(Pull::Spike);
        }
        if ctx.mode() != StrategyMode::Active {
            return Some(Pull::Mode);
        }
        None
    }

    /// The desired quotes now, or `None` for a side not quoted.
    fn desired(&self, ctx: &Ctx<'_>) -> (Option<Quote>, Option<Quote>) {
        let inst = self.cfg.instrument;
        let Some(view) = ctx.market(inst) else {
            return (None, None);
        };
        let (Some(best_bid), Some(best_ask), Some(mid)) =
            (view.best_bid(), view.best_ask(), view.mid())
        else {
            return (None, None);
        };
        let spec = &view.spec;
        let Some((mut bid, mut ask)) = self.model_quotes(spec, mid, ctx.position(inst)) else {
            return (None, None);
        };
        // Post-only: stay one tick inside the opposite touch.
        bid = bid.min(Px::from_raw(best_ask.raw() - spec.tick.raw()));
        ask = ask.max(Px::from_raw(best_bid.raw() + spec.tick.raw()));
        // Size against the limit. The strategy has at most one order per side (a quote is
        // replaced only after its cancel is confirmed), and this side's own quote is the one
        // being kept or replaced, so the position alone is the exposure that matters.
        let pos = ctx.position(inst).raw();
        let limit = self.cfg.max_position.raw();
        let bid_room = limit - pos;
        let ask_room = limit + pos;
        let quote = |px: Px, room: i64| {
            let qty = common::lots_down(Qty::from_raw(room.min(self.cfg.order_qty.raw())), spec);
            (px.is_positive() && qty.is_positive() && spec.meets_minimums(px, qty))
                .then_some(Quote { px, qty })
        };
        (quote(bid, bid_room), quote(ask, ask_room))
    }

    fn work_side(&mut self, ctx: &mut Ctx<'_>, side: Side, want: Option<Quote>) {
        let slot = match side {
            Side::Buy => self.bid,
            Side::Sell => self.ask,
        };
        if let Some(id) = slot {
            let Some(o) = ctx.order(id) else {
                self.set_slot(side, None);
                return self.work_side(ctx, side, want);
            };
            if o.state.is_terminal() {
                // Filled (its last fill is being reported) or done: the side is free.
                self.set_slot(side, None);
                return self.work_side(ctx, side, want);
            }
            if o.state == OrderState::PendingCancel || o.state == OrderState::PendingNew {
                return;
            }
            let keep = want.is_some_and(|w| {
                let moved = (w.px.raw() - o.px.raw()).abs();
                let tick = ctx
                    .market(self.cfg.instrument)
                    .map_or(1, |m| m.spec.tick.raw());
                moved < self.cfg.requote_ticks.saturating_mul(tick)
            });
            if keep {
                return;
            }
            // Cancelling an unwanted quote (no quote on this side) reduces risk and is never
            // held back; a replacement costs a token.
            if (want.is_none() || self.budget.take()) && ctx.cancel(id).is_err() {
                self.set_slot(side, None);
            }
            return;
        }
        let Some(w) = want else { return };
        if !self.budget.take() {
            return;
        }
        let req = OrderRequest {
            instrument: self.cfg.instrument,
            side,
            px: w.px,
            qty: w.qty,
            order_type: OrderType::Limit,
            tif: TimeInForce::PostOnly,
        };
        if let Ok(id) = ctx.place(req) {
            self.metrics.placed(id, w.px);
            self.set_slot(side, Some(id));
        }
    }

    fn set_slot(&mut self, side: Side, id: Option<ClientOrderId>) {
        match side {
            Side::Buy => self.bid = id,
            Side::Sell => self.ask = id,
        }
    }

    fn step(&mut self, ctx: &mut Ctx<'_>) {
        self.budget.refill(ctx.now());
        // A delta batch half-applied (a timer between its records) is no reason to pull:
        // just wait for the batch to end.
        if ctx
            .market(self.cfg.instrument)
            .is_some_and(|m| m.feed_ok() && !m.is_healthy())
        {
            return;
        }
        self.pulled = self.pull_reason(ctx);
        if self.pulled.is_some() {
            ctx.cancel_all(Some(self.cfg.instrument));
            return;
        }
        let (bid, ask) = self.desired(ctx);
        self.work_side(ctx, Side::Buy, bid);
        self.work_side(ctx, Side::Sell, ask);
    }
}

impl Strategy for MarketMaker {
    fn name(&self) -> &str {
        &self.cfg.name
    }

    fn on_book(&mut self, ctx: &mut Ctx<'_>, instrument: InstrumentId) {
        if instrument != self.cfg.instrument {
            return;
        }
        self.metrics.mark(ctx);
        if let Some(mid) = ctx.market(instrument).and_then(|m| m.mid())
            && self.sample(ctx.now(), mid)
        {
            self.spike_until = ctx.now().saturating_add(self.cfg.spike_cooldown_ns);
        }
        self.step(ctx);
    }

    fn on_order_update(&mut self, ctx: &mut Ctx<'_>, update: &OrderUpdate) {
        self.metrics.on_update(update);
        if update.state().is_some_and(|s| s.is_terminal()) {
            if self.bid == Some(update.cl_ord_id) {
                self.bid = None;
            }
            if self.ask == Some(update.cl_ord_id) {
                self.ask = None;
            }
            self.step(ctx);
        }
    }

    fn on_fill(&mut self, ctx: &mut Ctx<'_>, fill: &Fill) {
        self.metrics.on_fill(ctx, fill);
        // The inventory changed, so the reservation price did: requote now, partial fills
        // included.
        self.step(ctx);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_>, _tick: &TimerTick) {
        self.metrics.mark(ctx);
        self.step(ctx);
    }

    fn on_feed_status(&mut self, ctx: &mut Ctx<'_>, _status: &FeedStatus) {
        self.step(ctx);
    }

    fn metrics(&self) -> Option<StrategyMetrics> {
        Some(self.metrics.snapshot())
    }
}
