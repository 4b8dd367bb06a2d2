//! `arb`: cross-venue arbitrage of one asset listed on two venues (BTCUSDT on Binance, BTC-USDT
//! on OKX).
//!
//! When the bid on one venue exceeds the ask on the other by more than both taker fees plus a
//! threshold (all in basis points of the buy price, checked exactly in integers), it buys the
//! ask and sells the bid with two IOC orders, sized to the visible levels that still clear the
//! threshold, the per-venue inventory limits, the maximum order size and the maximum unhedged
//! size. One arbitrage is in flight at a time, and only on healthy books updated within
//! `max_book_age_ms` of engine time.
//!
//! If the legs fill unevenly, the difference is an *unhedged* position (the sum of both venue
//! positions, which a completed arbitrage keeps at zero). It is hedged at once on the venue of
//! the leg that fell short, with IOC marketable limits no more than `slippage_bps` beyond that
//! leg's decision price, at most `hedge_retries` times and while the imbalance is younger than
//! `max_unhedged_ms`; after that the filled leg is flattened on its own venue with marketable
//! limits `slippage_bps` through the touch, at most `flatten_retries` times. If even that fails
//! the strategy halts (no new arbitrage) and leaves the position to the operator and risk.
//! A residue smaller than one lot (a venue's rounded fill) cannot be traded and is ignored.

use tickwire_core::config::Section;
use tickwire_core::engine::{Ctx, Strategy, StrategyMode};
use tickwire_core::event::{Fill, OrderType, OrderUpdate, Side, TimeInForce, TimerTick};
use tickwire_core::ids::{ClientOrderId, InstrumentId};
use tickwire_core::market::MarketView;
use tickwire_core::metrics::StrategyMetrics;
use tickwire_core::num::{InstrumentSpec, Px, Qty, Round};
use tickwire_core::order::OrderRequest;

use crate::common::{self, BPS_DENOM, Bps};
use crate::metrics::Tracker;

/// Arbitrage parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArbConfig {
    /// Strategy name.
    pub name: String,
    /// First venue's instrument.
    pub a: InstrumentId,
    /// Second venue's instrument.
    pub b: InstrumentId,
    /// Taker fee on `a`.
    pub taker_fee_a: Bps,
    /// Taker fee on `b`.
    pub taker_fee_b: Bps,
    /// Edge required beyond both fees.
    pub threshold: Bps,
    /// Largest quantity of one leg.
    pub max_order_qty: Qty,
    /// Largest absolute position on each venue.
    pub max_position: Qty,
    /// Largest unhedged quantity (an arbitrage is never larger than this).
    pub max_unhedged_qty: Qty,
    /// Oldest an imbalance may get before hedging gives way to flattening, ns.
    pub max_unhedged_ns: u64,
    /// Hedge attempts before flattening.
    pub hedge_retries: u32,
    /// Flatten attempts before halting.
    pub flatten_retries: u32,
    /// How far beyond the reference price hedge and flatten orders may trade.
    pub slippage: Bps,
    /// Book levels walked per side when sizing.
    pub max_levels: usize,
    /// Oldest a book may be (engine time since its last update) for an arbitrage to fire, ns.
    pub max_book_age_ns: u64,
}

/// An executable arbitrage: buy on one venue, sell on the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Opportunity {
    /// Instrument bought.
    pub buy: InstrumentId,
    /// Instrument sold.
    pub sell: InstrumentId,
    /// Limit of the buy leg: the highest ask level included.
    pub buy_px: Px,
    /// Limit of the sell leg: the lowest bid level included.
    pub sell_px: Px,
    /// Best ask at the decision (slippage reference).
    pub buy_ref: Px,
    /// Best bid at the decision.
    pub sell_ref: Px,
    /// Quantity of each leg.
    pub qty: Qty,
}

/// True if buying at `ask` and selling at `bid` earns more than both fees plus the threshold,
/// all in basis points of the buy price: `(bid − ask) > ask × (fee_buy + threshold) +
/// bid × fee_sell`, exactly, in 10^-13-scaled integers.
pub fn clears(ask: Px, bid: Px, fee_buy: Bps, fee_sell: Bps, threshold: Bps) -> bool {
    let (ask, bid) = (i128::from(ask.raw()), i128::from(bid.raw()));
    (bid - ask) * BPS_DENOM > ask * (fee_buy.raw() + threshold.raw()) + bid * fee_sell.raw()
}

/// Room left under `limit` for a trade on `side` given `exposure` (raw), never negative.
fn room(limit: Qty, exposure: i64, side: Side) -> i64 {
    (limit.raw() - side.sign() * exposure).max(0)
}

/// The best arbitrage on the current books, sized by `room_buy(instrument)` /
/// `room_sell(instrument)` (raw quantity the inventory limits still allow); `None` if nothing
/// clears the threshold.
pub fn find(
    cfg: &ArbConfig,
    a: &MarketView,
    b: &MarketView,
    room_buy: impl Fn(InstrumentId) -> i64,
    room_sell: impl Fn(InstrumentId) -> i64,
) -> Option<Opportunity> {
    let ab = one_way(
        cfg,
        a,
        cfg.taker_fee_a,
        b,
        cfg.taker_fee_b,
        &room_buy,
        &room_sell,
    );
    // Both directions cannot clear at once unless a book is crossed; take the first.
    ab.or_else(|| {
        one_way(
            cfg,
            b,
            cfg.taker_fee_b,
            a,
            cfg.taker_fee_a,
            &room_buy,
            &room_sell,
        )
    })
}

fn one_way(
    cfg: &ArbConfig,
    buy: &MarketView,
    fee_buy: Bps,
    sell: &MarketView,
    fee_sell: Bps,
    room_buy: &impl Fn(InstrumentId) -> i64,
    room_sell: &impl Fn(InstrumentId) -> i64,
) -> Option<Opportunity> {
    let (buy_ref, sell_ref) = (buy.best_ask()?, sell.best_bid()?);
    if !clears(buy_ref, sell_ref, fee_buy, fee_sell, cfg.threshold) {
        return None;
    }
    let cap = cfg
        .max_order_qty
        .raw()
        .min(cfg.max_unhedged_qty.raw())
        .min(room_buy(buy.spec.id))
        .min(room_sell(sell.spec.id));
    let lot = common::gcd(buy.spec.lot.raw(), sell.spec.lot.raw());
    let lot = buy.spec.lot.raw() / lot * sell.spec.lot.raw(); // lcm: on both grids
    let mut asks = common::levels(buy, Side::Sell).take(cfg.max_levels);
    let mut bids = common::levels(sell, Side::Buy).take(cfg.max_levels);
    let (mut ask, mut bid) = (asks.next()?, bids.next()?);
    let (mut total, mut buy_px, mut sell_px) = (0i64, ask.px, bid.px);
    // Walk both books while the marginal pair of levels still clears: every unit bought and
    // sold earns at least the threshold on its own.
    loop {
        if total >= cap || !clears(ask.px, bid.px, fee_buy, fee_sell, cfg.threshold) {
            break;
        }
        let take = ask.qty.raw().min(bid.qty.raw()).min(cap - total);
        total += take;
        (buy_px, sell_px) = (ask.px, bid.px);
        ask.qty = Qty::from_raw(ask.qty.raw() - take);
        bid.qty = Qty::from_raw(bid.qty.raw() - take);
        if ask.qty.is_zero() {
            match asks.next() {
                Some(l) => ask = l,
                None => break,
            }
        }
        if bid.qty.is_zero() {
            match bids.next() {
                Some(l) => bid = l,
                None => break,
            }
        }
    }
    let qty = Qty::from_raw(total - total % lot);
    let ok = qty.is_positive()
        && buy.spec.meets_minimums(buy_px, qty)
        && sell.spec.meets_minimums(sell_px, qty);
    ok.then_some(Opportunity {
        buy: buy.spec.id,
        sell: sell.spec.id,
        buy_px,
        sell_px,
        buy_ref,
        sell_ref,
        qty,
    })
}

/// Where the strategy is in its cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Looking for an arbitrage.
    Idle,
    /// Both IOC legs sent; waiting for them to finish.
    Legs {
        /// Buy leg (None if it could not be placed).
        buy: Option<ClientOrderId>,
        /// Sell leg.
        sell: Option<ClientOrderId>,
        /// The opportunity acted on.
        opp: Opportunity,
    },
    /// The venue positions do not offset: hedging, then flattening.
    Unhedged {
        /// Engine time the imbalance appeared.
        since: u64,
        /// Venue of the leg that fell short (hedge there).
        hedge: InstrumentId,
        /// Venue of the leg that filled (flatten there).
        flatten: InstrumentId,
        /// Decision price of the leg that fell short (the hedge band's reference).
        reference: Px,
        /// Hedge orders sent.
        hedges: u32,
        /// Flatten orders sent.
        flattens: u32,
        /// The hedge or flatten order in flight.
        order: Option<ClientOrderId>,
    },
    /// Flattening failed within its retries: no new arbitrage.
    Halted,
}

/// Counters of what happened to arbitrages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ArbStats {
    /// Arbitrages fired.
    pub fired: u64,
    /// Imbalances that appeared.
    pub unhedged: u64,
    /// Imbalances closed by hedging.
    pub hedged: u64,
    /// Imbalances closed by flattening.
    pub flattened: u64,
    /// Largest absolute imbalance seen (raw quantity).
    pub max_unhedged: i64,
}

/// The arbitrage strategy.
pub struct Arb {
    cfg: ArbConfig,
    stage: Stage,
    first_fill: Option<u64>,
    stats: ArbStats,
    metrics: Tracker,
}

impl Arb {
    /// An arbitrage strategy with `cfg`.
    pub fn new(cfg: ArbConfig) -> Self {
        let metrics = Tracker::new(&[cfg.a, cfg.b], 1_000_000_000);
        Self {
            cfg,
            stage: Stage::Idle,
            first_fill: None,
            stats: ArbStats::default(),
            metrics,
        }
    }

    /// Reads a `[[strategy]] kind = "arb"` section.
    pub fn from_config(s: &mut Section<'_>, instruments: &[InstrumentSpec]) -> Option<Self> {
        let name = s.str("name");
        let a = common::instrument(s, "instrument_a", instruments);
        let b = common::instrument(s, "instrument_b", instruments);
        let max_bps = Bps(10_000 * 1_000_000_000);
        let taker_fee_a = common::bps_or(s, "taker_fee_a_bps", Bps::ZERO, max_bps, Bps::ZERO);
        let taker_fee_b = common::bps_or(s, "taker_fee_b_bps", Bps::ZERO, max_bps, Bps::ZERO);
        let threshold = common::bps_or(s, "threshold_bps", Bps::ZERO, max_bps, Bps::ZERO);
        let slippage = common::bps_or(
            s,
            "slippage_bps",
            Bps::ZERO,
            Bps(1_000 * 1_000_000_000),
            Bps(10 * 1_000_000_000),
        );
        let max_order_qty = common::positive_qty(s, "max_order_qty");
        let max_position = common::positive_qty(s, "max_position");
        let max_unhedged_qty = common::positive_qty(s, "max_unhedged_qty");
        let max_unhedged_ms = s.int_or("max_unhedged_ms", 1, 3_600_000, 500) as u64;
        let hedge_retries = s.int_or("hedge_retries", 0, 100, 3) as u32;
        let flatten_retries = s.int_or("flatten_retries", 1, 100, 3) as u32;
        let max_levels = s.int_or("max_levels", 1, 1_000, 5) as usize;
        let max_book_age_ms = s.int_or("max_book_age_ms", 1, 3_600_000, 1_000) as u64;
        if let (Some(a), Some(b)) = (&a, &b)
            && a.id == b.id
        {
            s.error("instrument_b", "must differ from instrument_a");
            return None;
        }
        Some(Self::new(ArbConfig {
            name: name?.to_owned(),
            a: a?.id,
            b: b?.id,
            taker_fee_a,
            taker_fee_b,
            threshold,
            max_order_qty: max_order_qty?,
            max_position: max_position?,
            max_unhedged_qty: max_unhedged_qty?,
            max_unhedged_ns: max_unhedged_ms * 1_000_000,
            hedge_retries,
            flatten_retries,
            slippage,
            max_levels,
            max_book_age_ns: max_book_age_ms * 1_000_000,
        }))
    }

    /// The current stage.
    pub fn stage(&self) -> Stage {
        self.stage
    }

    /// Counters.
    pub fn stats(&self) -> ArbStats {
        self.stats
    }

    /// The unhedged quantity: the sum of both venue positions (raw).
    fn imbalance(&self, ctx: &Ctx<'_>) -> i64 {
        ctx.position(self.cfg.a)
            .raw()
            .saturating_add(ctx.position(self.cfg.b).raw())
    }

    fn place(
        &mut self,
        ctx: &mut Ctx<'_>,
        inst: InstrumentId,
        side: Side,
        px: Px,
        qty: Qty,
        reference: Px,
    ) -> Option<ClientOrderId> {
        let req = OrderRequest {
            instrument: inst,
            side,
            px,
            qty,
            order_type: OrderType::Limit,
            tif: TimeInForce::Ioc,
        };
        let id = ctx.place(req).ok()?;
        self.metrics.placed(id, reference);
        Some(id)
    }

    fn try_fire(&mut self, ctx: &mut Ctx<'_>) {
        let (Some(a), Some(b)) = (ctx.market(self.cfg.a), ctx.market(self.cfg.b)) else {
            return;
        };
        // Both legs or neither: a mode that would refuse one of them must not fire at all.
        // A quiet venue's book may be long gone from the market: too old, no arbitrage.
        let fresh = |v: &MarketView| {
            v.is_healthy() && ctx.now().saturating_sub(v.last_update_ns) <= self.cfg.max_book_age_ns
        };
        if !fresh(a) || !fresh(b) || ctx.mode() != StrategyMode::Active {
            return;
        }
        let limit = self.cfg.max_position;
        // Idle means none of this strategy's orders is open, so the exposure is the position
        // (no scan of the order table on every book update).
        let opp = find(
            &self.cfg,
            a,
            b,
            |i| room(limit, ctx.position(i).raw(), Side::Buy),
            |i| room(limit, ctx.position(i).raw(), Side::Sell),
        );
        let Some(opp) = opp else { return };
        let buy = self.place(ctx, opp.buy, Side::Buy, opp.buy_px, opp.qty, opp.buy_ref);
        let sell = self.place(
            ctx,
            opp.sell,
            Side::Sell,
            opp.sell_px,
            opp.qty,
            opp.sell_ref,
        );
        if buy.is_none() && sell.is_none() {
            return;
        }
        self.stats.fired += 1;
        self.first_fill = None;
        self.stage = Stage::Legs { buy, sell, opp };
    }

    /// Moves the cycle forward; called on every event.
    fn step(&mut self, ctx: &mut Ctx<'_>) {
        match self.stage {
            Stage::Halted => {}
            Stage::Idle => {
                if self.tradable(ctx, self.imbalance(ctx)).is_some() {
                    // A leftover imbalance (a restart, a late fill): unwind it before trading.
                    self.start_unhedged(ctx, None);
                    self.step(ctx);
                } else {
                    self.try_fire(ctx);
                }
            }
            Stage::Legs { buy, sell, opp } => {
                let open = |id: Option<ClientOrderId>| id.is_some_and(|id| ctx.order(id).is_some());
                if open(buy) || open(sell) {
                    return;
                }
                if self.tradable(ctx, self.imbalance(ctx)).is_some() {
                    self.start_unhedged(ctx, Some(opp));
                    self.step(ctx);
                } else {
                    self.stage = Stage::Idle;
                }
            }
            Stage::Unhedged { .. } => self.unwind(ctx),
        }
    }

    /// The imbalance as an order: side and whole-lot quantity on `inst`, if there is one.
    fn tradable(&self, ctx: &Ctx<'_>, imbalance: i64) -> Option<(Side, i64)> {
        let side = if imbalance > 0 { Side::Sell } else { Side::Buy };
        let min_lot = [self.cfg.a, self.cfg.b]
            .iter()
            .filter_map(|i| ctx.market(*i))
            .map(|m| m.spec.lot.raw().max(m.spec.min_qty.raw()))
            .min()?;
        (imbalance.abs() >= min_lot).then_some((side, imbalance.abs()))
    }

    fn start_unhedged(&mut self, ctx: &Ctx<'_>, opp: Option<Opportunity>) {
        let imbalance = self.imbalance(ctx);
        // Long overall: the sell leg fell short, so hedge by selling where it should have sold
        // and flatten by selling back what was bought; short overall: the mirror image.
        let (hedge, flatten, reference) = match opp {
            Some(o) if imbalance > 0 => (o.sell, o.buy, o.sell_ref),
            Some(o) => (o.buy, o.sell, o.buy_ref),
            None => {
                // No arbitrage context: flatten where the position is, hedge on the other.
                let pa = ctx.position(self.cfg.a).raw();
                let same_sign_a = pa.signum() == imbalance.signum();
                let (f, h) = if same_sign_a {
                    (self.cfg.a, self.cfg.b)
                } else {
                    (self.cfg.b, self.cfg.a)
                };
                let side = if imbalance > 0 { Side::Sell } else { Side::Buy };
                let reference = ctx
                    .market(h)
                    .and_then(|m| match side {
                        Side::Sell => m.best_bid(),
                        Side::Buy => m.best_ask(),
                    })
                    .unwrap_or(Px::ZERO);
                (h, f, reference)
            }
        };
        self.stats.unhedged += 1;
        self.stats.max_unhedged = self.stats.max_unhedged.max(imbalance.abs());
        self.stage = Stage::Unhedged {
            since: self.first_fill.unwrap_or(ctx.now()),
            hedge,
            flatten,
            reference,
            hedges: 0,
            flattens: 0,
            order: None,
        };
    }

    fn unwind(&mut self, ctx: &mut Ctx<'_>) {
        let Stage::Unhedged {
            since,
            hedge,
            flatten,
            reference,
            mut hedges,
            mut flattens,
            order,
        } = self.stage
        else {
            return;
        };
        if order.is_some_and(|id| ctx.order(id).is_some()) {
            return;
        }
        let imbalance = self.imbalance(ctx);
        let Some((side, qty)) = self.tradable(ctx, imbalance) else {
            if flattens > 0 {
                self.stats.flattened += 1;
            } else {
                self.stats.hedged += 1;
            }
            self.stage = Stage::Idle;
            return;
        };
        let too_old = ctx.now().saturating_sub(since) > self.cfg.max_unhedged_ns;
        let hedging = flattens == 0 && hedges < self.cfg.hedge_retries && !too_old;
        if !hedging && flattens >= self.cfg.flatten_retries {
            self.stage = Stage::Halted;
            return;
        }
        let inst = if hedging { hedge } else { flatten };
        let Some(view) = ctx.market(inst) else { return };
        let spec = &view.spec;
        let qty = common::lots_down(Qty::from_raw(qty), spec);
        let (px, decision) = if hedging {
            // Bounded by the decision price of the leg that fell short, not by wherever the
            // market has gone since: a hedge never costs more than the band.
            let px = match side {
                Side::Sell => self.cfg.slippage.scale_down(reference, spec, Round::Up),
                Side::Buy => self.cfg.slippage.scale_up(reference, spec, Round::Down),
            };
            (px, reference)
        } else {
            let touch = match side {
                Side::Sell => view.best_bid(),
                Side::Buy => view.best_ask(),
            };
            (
                common::marketable(view, side, self.cfg.slippage),
                touch.unwrap_or(Px::ZERO),
            )
        };
        // No price (the book is being rebuilt): try again on the next event; the attempt is
        // not counted, but the age bound still moves hedging on to flattening.
        let Some(px) = px.filter(|p| p.is_positive()) else {
            return;
        };
        if qty.is_zero() || !spec.meets_minimums(px, qty) {
            if hedging {
                // Below this venue's lot or minimums (but not the other's): flatten instead.
                hedges = self.cfg.hedge_retries.max(hedges);
                self.stage = Stage::Unhedged {
                    since,
                    hedge,
                    flatten,
                    reference,
                    hedges,
                    flattens,
                    order: None,
                };
                self.unwind(ctx);
            } else {
                self.stage = Stage::Halted;
            }
            return;
        }
        if hedging {
            hedges += 1;
        } else {
            flattens += 1;
        }
        let order = self.place(ctx, inst, side, px, qty, decision);
        self.stage = Stage::Unhedged {
            since,
            hedge,
            flatten,
            reference,
            hedges,
            flattens,
            order,
        };
        if order.is_none() {
            // Refused (paused, table full): counted as an attempt, so the retries stay bounded.
            self.unwind(ctx);
        }
    }
}

impl Strategy for Arb {
    fn name(&self) -> &str {
        &self.cfg.name
    }

    fn on_book(&mut self, ctx: &mut Ctx<'_>, instrument: InstrumentId) {
        if instrument != self.cfg.a && instrument != self.cfg.b {
            return;
        }
        self.metrics.mark(ctx);
        self.step(ctx);
    }

    fn on_order_update(&mut self, ctx: &mut Ctx<'_>, update: &OrderUpdate) {
        self.metrics.on_update(update);
        if update.state().is_some_and(|s| s.is_terminal()) {
            self.step(ctx);
        }
    }

    fn on_fill(&mut self, ctx: &mut Ctx<'_>, fill: &Fill) {
        self.metrics.on_fill(ctx, fill);
        if matches!(self.stage, Stage::Legs { .. }) && self.first_fill.is_none() {
            self.first_fill = Some(ctx.now());
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_>, _tick: &TimerTick) {
        self.metrics.mark(ctx);
        self.step(ctx);
    }

    fn metrics(&self) -> Option<StrategyMetrics> {
        Some(self.metrics.snapshot())
    }
}
