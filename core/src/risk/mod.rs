//! Risk on the core thread (DESIGN §8): pre-trade checks, the split between data anomalies and
//! genuine risk events, per-strategy escalation, circuit breakers and the kill switch.
//!
//! **How it sees the world.** [`Risk`] keeps its own O(1) aggregates — open leaves per side
//! per instrument and per (strategy, instrument), net positions, worst-case notional per
//! instrument, venue and overall — by reading the engine's own *outputs* as they are produced
//! (new-order commands, order updates, position updates). A cursor into the engine's output
//! buffer is advanced before every check ([`Risk::sync`]), so an order placed earlier in the same
//! callback already counts. Nothing here reads a clock: time is the engine time passed in.
//!
//! **Two kinds of event.** A *data anomaly* (feed stale/gapped/disconnected, fill debt) flags
//! the instrument: new risk there is refused, orders that reduce a position still go out, and
//! nothing escalates. A *genuine risk event* (loss limit, reject storm, position breach, flip
//! while reducing, overdue unhedged leg) escalates the strategy's [`RiskLevel`]: `active →
//! reduce-only → flattening → stopped`, never downward except by an operator resume, and
//! `stopped` only once the flattener finds the strategy flat with no open orders.
//!
//! Every refusal and every transition is a journaled [`RiskDecision`] output, so replay
//! reproduces them and `replay --with CONFIG` can show what other limits would have done.

mod attribution;
mod breaker;
mod flatten;
mod limits;

pub use attribution::Attribution;
pub use breaker::{RejectBreaker, TokenBucket};
pub use flatten::{FlattenPhase, FlattenState};
pub use limits::{FlattenConfig, InstrumentLimits, RateBudget, RiskConfig};

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, DefaultHasher};

use crate::event::{
    Alert, AlertCode, CancelAll, ExecReport, FeedState, Input, MarketEvent, Meta, OrderCommand,
    OrderType, Output, QueryOrder, RiskDecision, RiskDecisionKind, RiskLevel, RiskReason, Side,
};
use crate::ids::{ClientOrderId, InstrumentId, StrategyId, VenueId};
use crate::market::MarketView;
use crate::num::{InstrumentSpec, Px, Qty};
use crate::order::OrderRequest;

type Fixed = BuildHasherDefault<DefaultHasher>;

const NANO: i128 = 1_000_000_000;
/// Unhedged legs a strategy may have declared at once.
pub const MAX_LEGS: usize = 8;
/// Orders in fill debt tracked at once (more are alerted but not chased).
const MAX_DEBTS: usize = 64;

/// A refused request: why, and the measured value against the limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// Why.
    pub reason: RiskReason,
    /// The measured value (raw 9-decimal units or a count).
    pub value: i64,
    /// The limit.
    pub limit: i64,
}

impl Refusal {
    fn new(reason: RiskReason, value: i64, limit: i64) -> Self {
        Self {
            reason,
            value,
            limit,
        }
    }
}

/// An unhedged leg a multi-leg strategy declared (see `Ctx::open_leg`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Leg {
    /// Instrument of the leg.
    pub instrument: InstrumentId,
    /// Unhedged quantity.
    pub qty: Qty,
    /// Engine time it was declared.
    pub since: u64,
    overdue: bool,
}

/// Handle of a declared leg.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LegId(pub u8);

#[derive(Clone, Copy, Debug, Default)]
struct Leaves {
    buy: i64,
    sell: i64,
    open: u32,
}

#[derive(Clone, Copy, Debug)]
struct Mirror {
    strategy: StrategyId,
    instrument: u32,
    side: Side,
    px: i64,
    leaves: i64,
    filled: i64,
}

#[derive(Clone, Copy, Debug)]
struct InstRisk {
    net_pos: i64,
    /// Last known mark: the latest mid seen at a check, else the last fill price.
    mark: i64,
    notional: i128,
    breaker: RejectBreaker,
    feed_bad: bool,
    debts: u32,
    /// Highest resting buy and lowest resting sell of ours (self-trade prevention), recomputed
    /// lazily after the extreme order leaves.
    max_buy: i64,
    min_sell: i64,
    extremes_dirty: bool,
}

#[derive(Clone, Copy, Debug)]
struct Debt {
    id: ClientOrderId,
    instrument: u32,
    venue: VenueId,
    venue_filled: i64,
    next_at: u64,
    queries: u32,
}

#[derive(Clone, Debug)]
pub(crate) struct StratRisk {
    pub(crate) level: RiskLevel,
    /// Quote cash flow from fills (9 decimals): P&L = cash + Σ position × mark.
    cash: i128,
    legs: [Option<Leg>; MAX_LEGS],
    pub(crate) flatten: FlattenState,
    /// Net P&L from the ledger at the last timer tick (fees included), if the engine has one.
    ledger_pnl: Option<Px>,
    attribution: Attribution,
}

/// The risk state of one engine. See the [module docs](self).
pub struct Risk {
    cfg: RiskConfig,
    specs: Vec<InstrumentSpec>,
    inst: Vec<InstRisk>,
    venue_of: Vec<usize>,
    venue_ids: Vec<VenueId>,
    venue_notional: Vec<i128>,
    buckets: Vec<Option<TokenBucket>>,
    global_notional: i128,
    leaves: Vec<Leaves>,
    strat_leaves: Vec<Leaves>,
    strat_pos: Vec<i64>,
    orders: HashMap<ClientOrderId, Mirror, Fixed>,
    pub(crate) strat: Vec<StratRisk>,
    debts: Vec<Debt>,
    cursor: usize,
    pub(crate) flattening: u32,
    checks_enabled: bool,
    checks: u64,
    refusals: u64,
}

/// What the engine needs to know about a request to decide whether it reduces.
#[derive(Clone, Copy, Debug)]
struct Effect {
    reducing: bool,
}

impl Risk {
    /// Risk for `specs` and `strategies` strategies with room for `max_orders` open orders.
    pub fn new(
        cfg: RiskConfig,
        specs: &[InstrumentSpec],
        strategies: usize,
        max_orders: usize,
    ) -> Self {
        let mut venue_ids: Vec<VenueId> = Vec::new();
        let venue_of = specs
            .iter()
            .map(|s| match venue_ids.iter().position(|v| *v == s.venue) {
                Some(i) => i,
                None => {
                    venue_ids.push(s.venue);
                    venue_ids.len() - 1
                }
            })
            .collect();
        let n = specs.len();
        let bucket = cfg.rate.map(|r| TokenBucket::new(r.per_sec, r.burst));
        Self {
            specs: specs.to_vec(),
            inst: vec![
                InstRisk {
                    net_pos: 0,
                    mark: 0,
                    notional: 0,
                    breaker: RejectBreaker::default(),
                    feed_bad: false,
                    debts: 0,
                    max_buy: i64::MIN,
                    min_sell: i64::MAX,
                    extremes_dirty: false,
                };
                n
            ],
            venue_notional: vec![0; venue_ids.len()],
            buckets: vec![bucket; venue_ids.len()],
            venue_of,
            venue_ids,
            global_notional: 0,
            leaves: vec![Leaves::default(); n],
            strat_leaves: vec![Leaves::default(); n * strategies],
            strat_pos: vec![0; n * strategies],
            orders: HashMap::with_capacity_and_hasher(2 * max_orders.max(1), Fixed::default()),
            strat: vec![
                StratRisk {
                    level: RiskLevel::Active,
                    cash: 0,
                    legs: [None; MAX_LEGS],
                    flatten: FlattenState::default(),
                    ledger_pnl: None,
                    attribution: Attribution::default(),
                };
                strategies
            ],
            debts: Vec::with_capacity(MAX_DEBTS),
            cursor: 0,
            flattening: 0,
            checks_enabled: true,
            checks: 0,
            refusals: 0,
            cfg,
        }
    }

    /// Turns the pre-trade checks of strategy orders off or on. Off exists only to measure
    /// their cost against the same order path without them (`benches/benches/risk.rs`); no
    /// config key reaches it. Aggregates, breakers and the flattener keep running either way.
    pub fn set_pre_trade_checks(&mut self, enabled: bool) {
        self.checks_enabled = enabled;
    }

    /// True unless the pre-trade checks were turned off.
    pub fn pre_trade_checks(&self) -> bool {
        self.checks_enabled
    }

    /// The configuration.
    pub fn config(&self) -> &RiskConfig {
        &self.cfg
    }

    /// A strategy's escalation level.
    pub fn level(&self, strategy: StrategyId) -> RiskLevel {
        self.strat
            .get(usize::from(strategy.0))
            .map_or(RiskLevel::Active, |s| s.level)
    }

    /// A strategy's flattener state.
    pub fn flatten_state(&self, strategy: StrategyId) -> Option<&FlattenState> {
        self.strat.get(usize::from(strategy.0)).map(|s| &s.flatten)
    }

    /// True if the instrument's reject breaker is tripped.
    pub fn breaker_tripped(&self, instrument: InstrumentId) -> bool {
        self.inst
            .get(instrument.0 as usize)
            .is_some_and(|i| i.breaker.is_tripped())
    }

    /// True if new risk on the instrument is blocked by a data anomaly (feed or fill debt).
    pub fn anomaly(&self, instrument: InstrumentId) -> bool {
        self.inst
            .get(instrument.0 as usize)
            .is_some_and(|i| i.feed_bad || i.debts > 0)
    }

    /// Open orders of a strategy (all instruments).
    pub fn open_orders(&self, strategy: StrategyId) -> u32 {
        let n = self.specs.len();
        let s = usize::from(strategy.0);
        self.strat_leaves
            .get(s * n..(s + 1) * n)
            .map_or(0, |l| l.iter().map(|x| x.open).sum())
    }

    /// Open orders of a strategy on one instrument.
    pub fn open_orders_on(&self, strategy: StrategyId, instrument: InstrumentId) -> u32 {
        let n = self.specs.len();
        self.strat_leaves
            .get(usize::from(strategy.0) * n + instrument.0 as usize)
            .map_or(0, |l| l.open)
    }

    /// True while an incident touches the strategy: its level is not `active`, or an
    /// instrument it holds or quotes is flagged (data anomaly, fill debt, tripped breaker).
    pub fn incident_active(&self, strategy: StrategyId) -> bool {
        let s = usize::from(strategy.0);
        if self.level(strategy) != RiskLevel::Active {
            return true;
        }
        let n = self.specs.len();
        (0..n).any(|i| {
            let involved = self.strat_pos.get(s * n + i).is_some_and(|p| *p != 0)
                || self.strat_leaves.get(s * n + i).is_some_and(|l| l.open > 0);
            let inst = &self.inst[i];
            involved && (inst.feed_bad || inst.debts > 0 || inst.breaker.is_tripped())
        })
    }

    /// Takes the ledger's net P&L of a strategy at a timer tick: used for the loss limits and
    /// split into strategy and incident P&L.
    pub(crate) fn set_ledger_pnl(&mut self, strategy: StrategyId, net: rust_decimal::Decimal) {
        let incident = self.incident_active(strategy);
        let Some(st) = self.strat.get_mut(usize::from(strategy.0)) else {
            return;
        };
        st.ledger_pnl = Some(Px::from_decimal(net.round_dp(9)).unwrap_or(
            if net.is_sign_negative() {
                Px::from_raw(i64::MIN)
            } else {
                Px::from_raw(i64::MAX)
            },
        ));
        st.attribution.update(net, incident);
    }

    /// A strategy's P&L split into normal operation and incidents.
    pub fn attribution(&self, strategy: StrategyId) -> Attribution {
        self.strat
            .get(usize::from(strategy.0))
            .map_or_else(Attribution::default, |s| s.attribution)
    }

    /// A strategy's net P&L in quote units: the ledger's at the last timer tick (fees
    /// included) when the engine keeps one, else risk's own estimate (cash flow from fills
    /// plus positions at the last marks, before fees).
    pub fn pnl(&self, strategy: StrategyId) -> Px {
        let s = usize::from(strategy.0);
        let Some(st) = self.strat.get(s) else {
            return Px::ZERO;
        };
        if let Some(p) = st.ledger_pnl {
            return p;
        }
        let n = self.specs.len();
        let mut v = st.cash;
        for (i, inst) in self.inst.iter().enumerate() {
            v += i128::from(self.strat_pos[s * n + i]) * i128::from(inst.mark) / NANO;
        }
        Px::from_raw(v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
    }

    /// Worst-case notional across all venues (quote).
    pub fn global_notional(&self) -> Px {
        Px::from_raw(self.global_notional.min(i128::from(i64::MAX)) as i64)
    }

    /// Pre-trade checks run and refused so far.
    pub fn counts(&self) -> (u64, u64) {
        (self.checks, self.refusals)
    }

    /// Declared legs of a strategy.
    pub fn legs(&self, strategy: StrategyId) -> impl Iterator<Item = &Leg> {
        self.strat
            .get(usize::from(strategy.0))
            .into_iter()
            .flat_map(|s| s.legs.iter().flatten())
    }

    // ----- output observation -----

    /// Starts a new engine input: the output buffer was cleared.
    pub(crate) fn begin(&mut self) {
        self.cursor = 0;
    }

    /// Folds every output produced since the last call into the aggregates; may append risk
    /// outputs (escalations) to `out`.
    pub(crate) fn sync(&mut self, out: &mut Vec<Output>, now: u64) {
        while self.cursor < out.len() {
            let o = out[self.cursor];
            self.cursor += 1;
            self.observe(&o, out, now);
        }
    }

    fn observe(&mut self, o: &Output, out: &mut Vec<Output>, now: u64) {
        match o {
            Output::Command(c) => {
                let venue = c.meta().venue;
                if let Some(slot) = self.venue_ids.iter().position(|v| *v == venue)
                    && let Some(b) = self.buckets[slot].as_mut()
                {
                    b.take(now);
                }
                match c {
                    OrderCommand::New(n) => {
                        let (Some(side), i) = (n.side(), n.meta.instrument.0 as usize) else {
                            return;
                        };
                        if i >= self.specs.len() {
                            return;
                        }
                        let m = Mirror {
                            strategy: n.cl_ord_id.strategy(),
                            instrument: i as u32,
                            side,
                            px: n.px.raw(),
                            leaves: 0,
                            filled: 0,
                        };
                        self.orders.insert(n.cl_ord_id, m);
                        // Orders restored after a restart arrive before any mid: value them
                        // at their limit until one is seen (a live order always has one).
                        if self.inst[i].mark == 0 {
                            self.inst[i].mark = n.px.raw();
                        }
                        self.add_open(n.cl_ord_id, 1);
                        self.set_leaves(n.cl_ord_id, n.qty.raw());
                        let inst = &mut self.inst[i];
                        if n.order_type() != Some(OrderType::Market) {
                            match side {
                                Side::Buy => inst.max_buy = inst.max_buy.max(n.px.raw()),
                                Side::Sell => inst.min_sell = inst.min_sell.min(n.px.raw()),
                            }
                        }
                    }
                    OrderCommand::Amend(a) => {
                        if let Some(m) = self.orders.get_mut(&a.cl_ord_id) {
                            m.px = a.new_px.raw();
                            let leaves = a.new_qty.raw().saturating_sub(m.filled).max(0);
                            let i = m.instrument as usize;
                            self.inst[i].extremes_dirty = true;
                            self.set_leaves(a.cl_ord_id, leaves);
                        }
                    }
                    OrderCommand::Cancel(_)
                    | OrderCommand::CancelAll(_)
                    | OrderCommand::Query(_) => {}
                }
            }
            Output::OrderUpdate(u) => {
                let Some(m) = self.orders.get_mut(&u.cl_ord_id) else {
                    return;
                };
                m.filled = u.filled_qty.raw();
                let (filled, i) = (m.filled, m.instrument);
                let terminal = u.state().is_some_and(|s| s.is_terminal());
                self.settle_debt(u.cl_ord_id, filled, terminal, out);
                if terminal {
                    self.set_leaves(u.cl_ord_id, 0);
                    self.add_open(u.cl_ord_id, -1);
                    self.orders.remove(&u.cl_ord_id);
                    self.inst[i as usize].extremes_dirty = true;
                } else {
                    self.set_leaves(u.cl_ord_id, u.leaves_qty.raw());
                }
            }
            Output::Position(p) => self.on_position(p, out),
            Output::Alert(_) | Output::Risk(_) => {}
        }
    }

    fn add_open(&mut self, id: ClientOrderId, d: i32) {
        let Some(m) = self.orders.get(&id) else {
            return;
        };
        let n = self.specs.len();
        let i = m.instrument as usize;
        let si = usize::from(m.strategy.0) * n + i;
        let bump = |l: &mut Leaves| l.open = l.open.saturating_add_signed(d);
        bump(&mut self.leaves[i]);
        if let Some(l) = self.strat_leaves.get_mut(si) {
            bump(l);
        }
    }

    fn set_leaves(&mut self, id: ClientOrderId, leaves: i64) {
        let Some(m) = self.orders.get_mut(&id) else {
            return;
        };
        let d = leaves - m.leaves;
        m.leaves = leaves;
        let (side, i, s) = (m.side, m.instrument as usize, usize::from(m.strategy.0));
        let n = self.specs.len();
        let apply = |l: &mut Leaves| match side {
            Side::Buy => l.buy += d,
            Side::Sell => l.sell += d,
        };
        apply(&mut self.leaves[i]);
        if let Some(l) = self.strat_leaves.get_mut(s * n + i) {
            apply(l);
        }
        self.revalue(i, None);
    }

    /// Recomputes the instrument's worst-case notional (at `mark` if given) and the venue and
    /// global sums, by difference.
    fn revalue(&mut self, i: usize, mark: Option<i64>) {
        if let Some(m) = mark {
            self.inst[i].mark = m;
        }
        let l = self.leaves[i];
        let inst = &mut self.inst[i];
        let worst = worst(inst.net_pos, l.buy, l.sell, 0, Side::Buy);
        let notional = i128::from(worst) * i128::from(inst.mark) / NANO;
        let d = notional - inst.notional;
        inst.notional = notional;
        self.venue_notional[self.venue_of[i]] += d;
        self.global_notional += d;
    }

    fn on_position(&mut self, p: &crate::event::PositionUpdate, out: &mut Vec<Output>) {
        let n = self.specs.len();
        let (s, i) = (usize::from(p.strategy.0), p.meta.instrument.0 as usize);
        if s >= self.strat.len() || i >= n {
            return;
        }
        let old = self.strat_pos[s * n + i];
        let new = p.position.raw();
        let delta = new - old;
        self.strat_pos[s * n + i] = new;
        self.inst[i].net_pos += delta;
        self.strat[s].cash -= i128::from(delta) * i128::from(p.last_px.raw()) / NANO;
        if self.inst[i].mark == 0 {
            self.inst[i].mark = p.last_px.raw();
        }
        self.revalue(i, None);
        let meta = p.meta;
        // A flip while the strategy is being reduced means a closing order overshot: the very
        // thing the duplicate-close guard exists to prevent. Treat it as a position breach.
        if old != 0
            && new != 0
            && old.signum() != new.signum()
            && self.strat[s].level != RiskLevel::Active
        {
            out.push(Output::Alert(Alert::new(
                meta,
                AlertCode::PositionFlip,
                s as u64,
            )));
            let mut d = RiskDecision::new(
                meta,
                p.strategy,
                RiskDecisionKind::Breaker,
                RiskReason::PositionFlip,
            );
            d.value = new;
            d.limit = old;
            out.push(Output::Risk(d));
            self.escalate(
                p.strategy,
                RiskLevel::Flattening,
                RiskReason::PositionFlip,
                meta,
                out,
            );
        }
        if let Some(max) = self.cfg.limits(i).max_position
            && self.inst[i].net_pos.abs() > max.raw()
            && delta.signum() == self.inst[i].net_pos.signum()
        {
            self.escalate(
                p.strategy,
                RiskLevel::ReduceOnly,
                RiskReason::PositionBreach,
                meta,
                out,
            );
        }
    }

    // ----- escalation -----

    /// Raises a strategy's level to at least `to` (never lowers it); journals the transition
    /// and alerts. Returns true if the level changed.
    pub(crate) fn escalate(
        &mut self,
        strategy: StrategyId,
        to: RiskLevel,
        reason: RiskReason,
        meta: Meta,
        out: &mut Vec<Output>,
    ) -> bool {
        let Some(st) = self.strat.get_mut(usize::from(strategy.0)) else {
            return false;
        };
        let from = st.level;
        // Stopped is reached only through flattening; a new event on a stopped strategy (it
        // is flat) changes nothing.
        if to.code() <= from.code() || from == RiskLevel::Stopped {
            return false;
        }
        st.level = to;
        if to == RiskLevel::Flattening {
            st.flatten = FlattenState::start();
            self.flattening += 1;
        }
        let mut d = RiskDecision::new(meta, strategy, RiskDecisionKind::Level, reason);
        d.from = from.code();
        d.to = to.code();
        out.push(Output::Risk(d));
        out.push(Output::Alert(Alert::new(
            meta,
            AlertCode::RiskEscalation,
            u64::from(strategy.0),
        )));
        true
    }

    /// Sets a strategy's level as an operator asked (resume → active; flatten/kill →
    /// flattening, restarting the flattener's budget). Journals the transition.
    pub(crate) fn operator_level(
        &mut self,
        strategy: StrategyId,
        to: RiskLevel,
        meta: Meta,
        out: &mut Vec<Output>,
    ) {
        let Some(st) = self.strat.get_mut(usize::from(strategy.0)) else {
            return;
        };
        let from = st.level;
        if from == RiskLevel::Flattening {
            self.flattening -= 1;
        }
        st.level = to;
        if to == RiskLevel::Flattening {
            st.flatten = FlattenState::start();
            self.flattening += 1;
        } else {
            st.flatten = FlattenState::default();
        }
        let mut d = RiskDecision::new(
            meta,
            strategy,
            RiskDecisionKind::Level,
            RiskReason::Operator,
        );
        d.from = from.code();
        d.to = to.code();
        out.push(Output::Risk(d));
    }

    /// Operator resume: closes every tripped breaker (journaled).
    pub(crate) fn reset_breakers(&mut self, meta: Meta, out: &mut Vec<Output>) {
        for (i, inst) in self.inst.iter_mut().enumerate() {
            if inst.breaker.reset() {
                let mut m = meta;
                m.instrument = InstrumentId(i as u32);
                m.venue = self.specs[i].venue;
                out.push(Output::Risk(RiskDecision::new(
                    m,
                    CancelAll::EVERY_STRATEGY,
                    RiskDecisionKind::Breaker,
                    RiskReason::Operator,
                )));
            }
        }
    }

    pub(crate) fn set_stopped(&mut self, strategy: StrategyId, meta: Meta, out: &mut Vec<Output>) {
        let Some(st) = self.strat.get_mut(usize::from(strategy.0)) else {
            return;
        };
        if st.level != RiskLevel::Flattening {
            return;
        }
        st.level = RiskLevel::Stopped;
        st.flatten.phase = FlattenPhase::Done;
        self.flattening -= 1;
        let mut d = RiskDecision::new(meta, strategy, RiskDecisionKind::Level, RiskReason::Flat);
        d.from = RiskLevel::Flattening.code();
        d.to = RiskLevel::Stopped.code();
        out.push(Output::Risk(d));
    }

    // ----- inputs -----

    /// Looks at an input before the engine applies it: feed health, venue rejects, fill debt.
    pub(crate) fn on_input(&mut self, input: &Input, now: u64, out: &mut Vec<Output>) {
        match input {
            Input::Market(MarketEvent::Status(st)) => {
                let Some(state) = st.state() else { return };
                if state == FeedState::Malformed {
                    return;
                }
                let bad = !matches!(state, FeedState::Connected | FeedState::Resynced);
                let all = st.meta.instrument == Meta::ALL_INSTRUMENTS;
                for i in 0..self.specs.len() {
                    let hit = if all {
                        self.specs[i].venue == st.meta.venue || st.meta.venue == VenueId::SYNTHETIC
                    } else {
                        i == st.meta.instrument.0 as usize
                    };
                    if !hit || self.inst[i].feed_bad == bad {
                        continue;
                    }
                    self.inst[i].feed_bad = bad;
                    let mut meta = st.meta;
                    meta.instrument = InstrumentId(i as u32);
                    meta.venue = self.specs[i].venue;
                    let reason = match (bad, state) {
                        (true, FeedState::Ended) => RiskReason::FeedEnded,
                        (true, _) => RiskReason::DataAnomaly,
                        (false, _) => RiskReason::Recovered,
                    };
                    let mut d = RiskDecision::new(
                        meta,
                        CancelAll::EVERY_STRATEGY,
                        RiskDecisionKind::Anomaly,
                        reason,
                    );
                    d.value = i64::from(state.code());
                    out.push(Output::Risk(d));
                    if bad && state != FeedState::Ended {
                        out.push(Output::Alert(Alert::new(
                            meta,
                            AlertCode::DataAnomaly,
                            i as u64,
                        )));
                    }
                }
            }
            Input::Exec(ExecReport::Reject(r)) => {
                let Some(m) = self.orders.get(&r.cl_ord_id).copied() else {
                    return;
                };
                let i = m.instrument as usize;
                let c = &self.cfg;
                let (mc, mw, w) = (
                    c.reject_max_consecutive,
                    c.reject_max_per_window,
                    c.reject_window_ns,
                );
                if let Some(count) = self.inst[i].breaker.on_reject(now, mc, mw, w) {
                    let mut meta = r.meta;
                    meta.instrument = InstrumentId(m.instrument);
                    meta.venue = self.specs[i].venue;
                    let mut d = RiskDecision::new(
                        meta,
                        m.strategy,
                        RiskDecisionKind::Breaker,
                        RiskReason::RejectStorm,
                    );
                    d.value = i64::from(count);
                    d.limit = i64::from(mc.min(mw));
                    out.push(Output::Risk(d));
                    out.push(Output::Alert(Alert::new(
                        meta,
                        AlertCode::RejectStorm,
                        u64::from(count),
                    )));
                    self.escalate(
                        m.strategy,
                        RiskLevel::ReduceOnly,
                        RiskReason::RejectStorm,
                        meta,
                        out,
                    );
                }
            }
            Input::Exec(ExecReport::Ack(a)) => {
                if let Some(m) = self.orders.get(&a.cl_ord_id) {
                    self.inst[m.instrument as usize].breaker.on_success();
                }
            }
            Input::Exec(ExecReport::Fill(f)) => {
                if let Some(m) = self.orders.get(&f.cl_ord_id) {
                    self.inst[m.instrument as usize].breaker.on_success();
                }
            }
            Input::Exec(ExecReport::Status(st)) => {
                let Some(m) = self.orders.get(&st.cl_ord_id).copied() else {
                    return;
                };
                if st.filled_qty.raw() <= m.filled {
                    return;
                }
                if let Some(d) = self.debts.iter_mut().find(|d| d.id == st.cl_ord_id) {
                    d.venue_filled = d.venue_filled.max(st.filled_qty.raw());
                    return;
                }
                let i = m.instrument as usize;
                let mut meta = st.meta;
                meta.instrument = InstrumentId(m.instrument);
                meta.venue = self.specs[i].venue;
                let mut d = RiskDecision::new(
                    meta,
                    m.strategy,
                    RiskDecisionKind::Anomaly,
                    RiskReason::FillDebt,
                );
                d.value = st.filled_qty.raw();
                d.limit = m.filled;
                out.push(Output::Risk(d));
                if self.debts.len() < MAX_DEBTS {
                    self.inst[i].debts += 1;
                    self.debts.push(Debt {
                        id: st.cl_ord_id,
                        instrument: m.instrument,
                        venue: meta.venue,
                        venue_filled: st.filled_qty.raw(),
                        next_at: now.saturating_add(self.cfg.fill_debt_timeout_ns),
                        queries: 0,
                    });
                } else {
                    out.push(Output::Alert(Alert::new(
                        meta,
                        AlertCode::FillDebt,
                        st.cl_ord_id.0,
                    )));
                }
            }
            _ => {}
        }
    }

    fn settle_debt(
        &mut self,
        id: ClientOrderId,
        filled: i64,
        terminal: bool,
        out: &mut Vec<Output>,
    ) {
        let Some(k) = self.debts.iter().position(|d| d.id == id) else {
            return;
        };
        let d = self.debts[k];
        if filled < d.venue_filled && !terminal {
            return;
        }
        self.debts.swap_remove(k);
        let i = d.instrument as usize;
        self.inst[i].debts = self.inst[i].debts.saturating_sub(1);
        let meta = Meta::new(d.venue, InstrumentId(d.instrument), 0);
        let mut r = RiskDecision::new(
            meta,
            id.strategy(),
            RiskDecisionKind::Anomaly,
            RiskReason::Recovered,
        );
        r.value = filled;
        r.limit = d.venue_filled;
        out.push(Output::Risk(r));
    }

    /// Timer work: chase fill debt, age unhedged legs, evaluate loss limits.
    pub(crate) fn on_timer(
        &mut self,
        markets: &crate::market::Markets,
        trigger: &Meta,
        now: u64,
        out: &mut Vec<Output>,
    ) {
        // Fill-health monitor: a status that claims fills we never received is chased by
        // query (exec answers with a status and the fill records), a bounded number of times.
        for k in 0..self.debts.len() {
            let d = self.debts[k];
            if now < d.next_at || d.queries > self.cfg.fill_debt_max_queries {
                continue;
            }
            let mut meta = *trigger;
            meta.venue = d.venue;
            meta.instrument = InstrumentId(d.instrument);
            out.push(Output::Alert(Alert::new(meta, AlertCode::FillDebt, d.id.0)));
            if d.queries < self.cfg.fill_debt_max_queries {
                out.push(Output::Command(OrderCommand::Query(QueryOrder {
                    meta,
                    cl_ord_id: d.id,
                })));
            }
            let e = &mut self.debts[k];
            e.queries += 1;
            e.next_at = now.saturating_add(self.cfg.fill_debt_timeout_ns);
        }
        // Marks follow fresh mids so P&L and notional stay current between fills.
        for i in 0..self.specs.len() {
            if let Some(mid) = markets.get(InstrumentId(i as u32)).and_then(|v| v.mid()) {
                self.revalue(i, Some(mid.raw()));
            }
        }
        for s in 0..self.strat.len() {
            let sid = StrategyId(s as u16);
            let mut overdue = false;
            for leg in self.strat[s].legs.iter_mut().flatten() {
                if !leg.overdue && now.saturating_sub(leg.since) > self.cfg.max_leg_age_ns {
                    leg.overdue = true;
                    overdue = true;
                }
            }
            if overdue {
                out.push(Output::Alert(Alert::new(
                    *trigger,
                    AlertCode::UnhedgedLeg,
                    s as u64,
                )));
                self.escalate(
                    sid,
                    RiskLevel::ReduceOnly,
                    RiskReason::UnhedgedLeg,
                    *trigger,
                    out,
                );
            }
            let pnl = self.pnl(sid).raw();
            if let Some(hard) = self.cfg.daily_loss_hard
                && pnl <= -hard.raw()
                && self.strat[s].level.code() < RiskLevel::Flattening.code()
            {
                out.push(Output::Alert(Alert::new(
                    *trigger,
                    AlertCode::LossLimit,
                    s as u64,
                )));
                self.escalate(
                    sid,
                    RiskLevel::Flattening,
                    RiskReason::DailyLoss,
                    *trigger,
                    out,
                );
            } else if let Some(soft) = self.cfg.daily_loss_soft
                && pnl <= -soft.raw()
                && self.strat[s].level == RiskLevel::Active
            {
                out.push(Output::Alert(Alert::new(
                    *trigger,
                    AlertCode::LossLimit,
                    s as u64,
                )));
                self.escalate(
                    sid,
                    RiskLevel::ReduceOnly,
                    RiskReason::DailyLoss,
                    *trigger,
                    out,
                );
            }
        }
    }

    // ----- legs -----

    /// Declares an unhedged leg of `qty` on `instrument`.
    pub(crate) fn open_leg(
        &mut self,
        strategy: StrategyId,
        instrument: InstrumentId,
        qty: Qty,
        now: u64,
    ) -> Result<LegId, Refusal> {
        let max_age = self.cfg.max_leg_age_ns;
        let max_qty = self.cfg.max_leg_qty;
        let st = self
            .strat
            .get_mut(usize::from(strategy.0))
            .ok_or(Refusal::new(RiskReason::UnhedgedLeg, 0, 0))?;
        if let Some(max) = max_qty
            && qty.abs() > max
        {
            return Err(Refusal::new(RiskReason::UnhedgedLeg, qty.raw(), max.raw()));
        }
        if let Some(old) = st
            .legs
            .iter()
            .flatten()
            .find(|l| now.saturating_sub(l.since) > max_age)
        {
            return Err(Refusal::new(
                RiskReason::UnhedgedLeg,
                now.saturating_sub(old.since) as i64,
                max_age as i64,
            ));
        }
        let slot = st
            .legs
            .iter()
            .position(Option::is_none)
            .ok_or(Refusal::new(
                RiskReason::UnhedgedLeg,
                MAX_LEGS as i64,
                MAX_LEGS as i64,
            ))?;
        st.legs[slot] = Some(Leg {
            instrument,
            qty: qty.abs(),
            since: now,
            overdue: false,
        });
        Ok(LegId(slot as u8))
    }

    /// Marks a declared leg hedged.
    pub(crate) fn close_leg(&mut self, strategy: StrategyId, leg: LegId) -> bool {
        self.strat
            .get_mut(usize::from(strategy.0))
            .and_then(|s| s.legs.get_mut(usize::from(leg.0)))
            .and_then(Option::take)
            .is_some()
    }

    // ----- pre-trade -----

    fn effect(&self, strategy: StrategyId, req: &OrderRequest) -> Effect {
        let n = self.specs.len();
        let si = usize::from(strategy.0) * n + req.instrument.0 as usize;
        let pos = self.strat_pos.get(si).copied().unwrap_or(0);
        let l = self.strat_leaves.get(si).copied().unwrap_or_default();
        // Reducing: even if every open order of this strategy on the order's side fills, the
        // position moves toward zero and does not cross it.
        let q = req.qty.raw();
        let reducing = match (pos.signum(), req.side) {
            (1, Side::Sell) => pos - l.sell - q >= 0,
            (-1, Side::Buy) => pos + l.buy + q <= 0,
            _ => false,
        };
        Effect { reducing }
    }

    /// True if the request would only reduce the strategy's position (open orders included).
    pub fn is_reducing(&self, strategy: StrategyId, req: &OrderRequest) -> bool {
        self.effect(strategy, req).reducing
    }

    /// True if the strategy has an open order on the instrument on `side`.
    pub fn has_open(&self, strategy: StrategyId, instrument: InstrumentId, side: Side) -> bool {
        let n = self.specs.len();
        let l = self
            .strat_leaves
            .get(usize::from(strategy.0) * n + instrument.0 as usize)
            .copied()
            .unwrap_or_default();
        match side {
            Side::Buy => l.buy > 0,
            Side::Sell => l.sell > 0,
        }
    }

    fn refresh_extremes(&mut self, i: usize) {
        let inst = &mut self.inst[i];
        if !inst.extremes_dirty {
            return;
        }
        inst.max_buy = i64::MIN;
        inst.min_sell = i64::MAX;
        for m in self
            .orders
            .values()
            .filter(|m| m.instrument as usize == i && m.leaves > 0 && m.px > 0)
        {
            match m.side {
                Side::Buy => inst.max_buy = inst.max_buy.max(m.px),
                Side::Sell => inst.min_sell = inst.min_sell.min(m.px),
            }
        }
        inst.extremes_dirty = false;
    }

    /// Pre-trade checks of a new order. O(1) (the self-trade extremes are rescanned only after
    /// the extreme order leaves), no allocation.
    pub(crate) fn check_new(
        &mut self,
        strategy: StrategyId,
        req: &OrderRequest,
        view: &MarketView,
        now: u64,
    ) -> Result<(), Refusal> {
        self.checks += 1;
        let r = self.check_inner(strategy, req, view, now);
        if r.is_err() {
            self.refusals += 1;
        }
        r
    }

    fn check_inner(
        &mut self,
        strategy: StrategyId,
        req: &OrderRequest,
        view: &MarketView,
        now: u64,
    ) -> Result<(), Refusal> {
        use RiskReason as R;
        let i = req.instrument.0 as usize;
        let level = self.level(strategy);
        if matches!(level, RiskLevel::Flattening | RiskLevel::Stopped) {
            return Err(Refusal::new(R::Halted, i64::from(level.code()), 0));
        }
        let inst = self.inst[i];
        if inst.breaker.is_tripped() {
            return Err(Refusal::new(R::Breaker, 0, 0));
        }
        let eff = self.effect(strategy, req);
        if level == RiskLevel::ReduceOnly {
            if !eff.reducing {
                return Err(Refusal::new(R::ReduceOnly, req.qty.raw(), 0));
            }
            // Duplicate-close guard: one closing order at a time while reducing.
            if self.has_open(strategy, req.instrument, req.side) {
                return Err(Refusal::new(R::DuplicateClose, req.qty.raw(), 0));
            }
        }
        if !eff.reducing && (inst.feed_bad || inst.debts > 0 || !view.is_healthy()) {
            return Err(Refusal::new(R::DataAnomaly, i64::from(inst.debts), 0));
        }
        let limits = self.cfg.limits(i);
        if let Some(max) = limits.max_order_qty
            && req.qty > max
        {
            return Err(Refusal::new(R::MaxOrderQty, req.qty.raw(), max.raw()));
        }
        // Fresh mid: data older than max_mid_age prices nothing new. A reducing order may use
        // the last known mid, so open positions stay manageable through a stale feed.
        let age = now.saturating_sub(view.last_update_ns);
        let mid = match view.mid() {
            Some(m) if age <= self.cfg.max_mid_age_ns => m.raw(),
            Some(m) if eff.reducing => m.raw(),
            _ => {
                return Err(Refusal::new(
                    R::NoFreshMid,
                    age as i64,
                    self.cfg.max_mid_age_ns as i64,
                ));
            }
        };
        let px = if req.order_type == OrderType::Market {
            mid
        } else {
            req.px.raw()
        };
        if let Some(max) = limits.max_order_notional {
            let notional = i128::from(req.qty.raw()) * i128::from(px) / NANO;
            if notional > i128::from(max.raw()) {
                return Err(Refusal::new(
                    R::MaxOrderNotional,
                    clamp64(notional),
                    max.raw(),
                ));
            }
        }
        if let Some(band) = limits.price_band_bps
            && req.order_type != OrderType::Market
        {
            let dist = i128::from((px - mid).abs()) * 10_000;
            if dist > i128::from(band) * i128::from(mid) {
                return Err(Refusal::new(R::PriceBand, px, mid));
            }
        }
        if let Some(max) = limits.max_open_orders
            && self.leaves[i].open >= max
        {
            return Err(Refusal::new(
                R::OpenOrders,
                i64::from(self.leaves[i].open),
                i64::from(max),
            ));
        }
        if !eff.reducing {
            let l = self.leaves[i];
            let worst_after = worst(inst.net_pos, l.buy, l.sell, req.qty.raw(), req.side);
            if let Some(max) = limits.max_position
                && worst_after > max.raw()
            {
                return Err(Refusal::new(R::InstrumentPosition, worst_after, max.raw()));
            }
            let notional_after = i128::from(worst_after) * i128::from(mid) / NANO;
            let d = notional_after - inst.notional;
            let v = self.venue_of[i];
            if let Some(max) = self.cfg.max_venue_notional
                && self.venue_notional[v] + d > i128::from(max.raw())
            {
                return Err(Refusal::new(
                    R::VenueNotional,
                    clamp64(self.venue_notional[v] + d),
                    max.raw(),
                ));
            }
            if let Some(max) = self.cfg.max_global_notional
                && self.global_notional + d > i128::from(max.raw())
            {
                return Err(Refusal::new(
                    R::GlobalNotional,
                    clamp64(self.global_notional + d),
                    max.raw(),
                ));
            }
        }
        if self.cfg.self_trade_prevention && req.order_type != OrderType::Market {
            self.refresh_extremes(i);
            let inst = &self.inst[i];
            let crosses = match req.side {
                Side::Buy => inst.min_sell != i64::MAX && req.px.raw() >= inst.min_sell,
                Side::Sell => inst.max_buy != i64::MIN && req.px.raw() <= inst.max_buy,
            };
            if crosses {
                let theirs = match req.side {
                    Side::Buy => inst.min_sell,
                    Side::Sell => inst.max_buy,
                };
                return Err(Refusal::new(R::SelfTrade, req.px.raw(), theirs));
            }
        }
        let v = self.venue_of[i];
        if let Some(b) = self.buckets[v].as_mut()
            && !b.has_token(now)
        {
            return Err(Refusal::new(R::RateLimit, b.tokens(), 1));
        }
        // Remember the mid this order was priced on: worst-case notionals use it.
        self.inst[i].mark = mid;
        Ok(())
    }

    /// Checks of an amend to `px`/`qty` of an open order: halted levels, size, band, rate.
    pub(crate) fn check_amend(
        &mut self,
        strategy: StrategyId,
        id: ClientOrderId,
        px: Px,
        qty: Qty,
        view: &MarketView,
        now: u64,
    ) -> Result<(), Refusal> {
        use RiskReason as R;
        self.checks += 1;
        let level = self.level(strategy);
        let Some(m) = self.orders.get(&id).copied() else {
            return Ok(());
        };
        let req = OrderRequest {
            instrument: InstrumentId(m.instrument),
            side: m.side,
            px,
            qty: Qty::from_raw((qty.raw() - m.filled - m.leaves).max(0)),
            order_type: OrderType::Limit,
            tif: crate::event::TimeInForce::Gtc,
        };
        let grows = req.qty.is_positive();
        let r = if matches!(level, RiskLevel::Flattening | RiskLevel::Stopped) {
            Err(Refusal::new(R::Halted, i64::from(level.code()), 0))
        } else if grows {
            // More quantity is a new order's worth of risk: the full checks apply to the
            // increase (without the open-order count, which does not change).
            self.check_inner(strategy, &req, view, now)
        } else {
            let limits = self.cfg.limits(m.instrument as usize);
            match (limits.price_band_bps, view.mid()) {
                (Some(band), Some(mid))
                    if i128::from((px.raw() - mid.raw()).abs()) * 10_000
                        > i128::from(band) * i128::from(mid.raw()) =>
                {
                    Err(Refusal::new(R::PriceBand, px.raw(), mid.raw()))
                }
                _ => Ok(()),
            }
        };
        if r.is_err() {
            self.refusals += 1;
        }
        r
    }

    /// The refusal record for a request.
    pub(crate) fn refusal_record(
        meta: Meta,
        strategy: StrategyId,
        req: &OrderRequest,
        r: Refusal,
    ) -> RiskDecision {
        let mut d = RiskDecision::new(meta, strategy, RiskDecisionKind::Reject, r.reason);
        d.side = req.side.code();
        d.px = req.px;
        d.qty = req.qty;
        d.value = r.value;
        d.limit = r.limit;
        d
    }

    /// The strategy's position in an instrument as risk last saw it.
    pub fn position(&self, strategy: StrategyId, instrument: InstrumentId) -> Qty {
        let n = self.specs.len();
        Qty::from_raw(
            self.strat_pos
                .get(usize::from(strategy.0) * n + instrument.0 as usize)
                .copied()
                .unwrap_or(0),
        )
    }
}

/// Largest absolute position the instrument could reach if every open order (plus a new one
/// of `extra` on `side`) filled.
fn worst(net: i64, buy: i64, sell: i64, extra: i64, side: Side) -> i64 {
    let (b, s) = match side {
        Side::Buy => (buy + extra, sell),
        Side::Sell => (buy, sell + extra),
    };
    (net + b).abs().max((net - s).abs())
}

fn clamp64(v: i128) -> i64 {
    v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}
