//! The engine: orders, the consumption overlay, and the matching rules of the crate docs.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, DefaultHasher};

use tickwire_core::event::Side;
use tickwire_core::ids::InstrumentId;
use tickwire_core::num::{InstrumentSpec, Notional, Px, Qty};

use crate::book::PublicBook;
use crate::queue::{QueueModel, VisibleQueue};

/// The engine's order id (unique, increasing from 1 or from [`Engine::start_ids_at`]).
pub type OrderId = u64;

/// Fixed-key hashing: nothing depends on a per-process seed (and the map is never iterated).
type Fixed = BuildHasherDefault<DefaultHasher>;

/// Consumed levels remembered per instrument; past this the oldest is forgotten (its level
/// shows the feed's number again). Far more than one order walks in practice.
const OVERLAY_LEVELS: usize = 64;

/// Order type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Limit order with a time in force.
    Limit,
    /// Market order: takes what the book shows up to its quantity; the rest expires.
    Market,
    /// Post-only limit (Binance `LIMIT_MAKER`, OKX `post_only`): refused if it would take.
    PostOnly,
}

/// Time in force of a limit order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tif {
    /// Good till cancelled: the remainder rests.
    Gtc,
    /// Immediate or cancel: the remainder expires.
    Ioc,
    /// Fill or kill: expires without any fill unless the whole quantity can be taken now.
    Fok,
}

/// Order status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Accepted, nothing filled.
    New,
    /// Partly filled and still working.
    PartiallyFilled,
    /// Completely filled.
    Filled,
    /// Cancelled by its owner (possibly after partial fills).
    Canceled,
    /// Ended by the engine: an IOC/FOK/market remainder.
    Expired,
}

impl Status {
    /// True while the order can still fill.
    pub fn is_open(self) -> bool {
        matches!(self, Status::New | Status::PartiallyFilled)
    }
}

/// A new order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderSpec {
    /// Instrument (its index in [`EngineConfig::instruments`]).
    pub instrument: InstrumentId,
    /// The caller's id for the order, carried on every event (not checked for uniqueness).
    pub client: u64,
    /// Side.
    pub side: Side,
    /// Type.
    pub kind: Kind,
    /// Time in force (ignored for market orders; post-only orders are GTC).
    pub tif: Tif,
    /// Limit price (ignored for market orders).
    pub px: Px,
    /// Quantity.
    pub qty: Qty,
}

/// Why an order, cancel or amend is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reject {
    /// No such instrument.
    UnknownInstrument,
    /// Price not positive or off the tick grid.
    PriceFilter,
    /// Quantity not positive, off the lot grid, or below the minimum quantity.
    LotSize,
    /// Notional below the minimum (market orders are priced at the best opposite level).
    MinNotional,
    /// A post-only order would take.
    WouldTake,
    /// A market order with nothing to take.
    NoLiquidity,
    /// The order table is full.
    TableFull,
    /// Cancel or amend of an order that is not open.
    UnknownOrder,
    /// An amend that changes nothing, of a market order, or to a quantity not above the
    /// filled quantity.
    BadAmend,
}

/// Maker and taker fee rates in parts per billion of notional (1 bp = 100 000 ppb; negative is
/// a rebate).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fees {
    /// Rate on fills of resting orders.
    pub maker_ppb: i64,
    /// Rate on fills of orders that take.
    pub taker_ppb: i64,
}

impl Fees {
    /// The fee of a fill, in quote nano-units, truncated toward zero.
    pub fn fee(&self, px: Px, qty: Qty, maker: bool) -> Px {
        let rate = if maker {
            self.maker_ppb
        } else {
            self.taker_ppb
        };
        // The notional is in 1e-18 units; × ppb / 1e9 gives 1e-18 units of fee; / 1e9 → nano.
        let fee = Notional::of(px, qty).raw().abs() * i128::from(rate) / 1_000_000_000_000_000_000;
        Px::from_raw(i64::try_from(fee).unwrap_or(if fee < 0 { i64::MIN } else { i64::MAX }))
    }
}

/// One order as the engine keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Order {
    /// Engine order id.
    pub id: OrderId,
    /// The caller's id.
    pub client: u64,
    /// Instrument.
    pub instrument: InstrumentId,
    /// Side.
    pub side: Side,
    /// Type.
    pub kind: Kind,
    /// Time in force.
    pub tif: Tif,
    /// Limit price (zero for market orders).
    pub px: Px,
    /// Quantity ordered (after amends).
    pub qty: Qty,
    /// Quantity filled.
    pub filled: Qty,
    /// `Σ price × qty` of its fills.
    pub quote: Notional,
    /// Status.
    pub status: Status,
    /// Time priority (lower is earlier); renewed when an amend loses priority.
    pub seq: u64,
    /// Quantity ahead of it in the queue at its price (resting orders).
    pub queue_ahead: Qty,
    /// Whether it has rested (Binance `isWorking`).
    pub working: bool,
    /// Time accepted.
    pub created: u64,
    /// Time of the last change.
    pub updated: u64,
}

impl Order {
    /// Quantity still to fill.
    pub fn leaves(&self) -> Qty {
        self.qty.saturating_sub(self.filled).max(Qty::ZERO)
    }
}

/// One fill of one of our orders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fill {
    /// Trade id (unique, increasing).
    pub trade_id: u64,
    /// The order filled.
    pub order_id: OrderId,
    /// The caller's id of the order.
    pub client: u64,
    /// Instrument.
    pub instrument: InstrumentId,
    /// The order's side.
    pub side: Side,
    /// Price.
    pub px: Px,
    /// Quantity.
    pub qty: Qty,
    /// The order was resting (maker) rather than taking.
    pub maker: bool,
    /// Fee in quote nano-units (negative: rebate).
    pub fee: Px,
    /// Time.
    pub time: u64,
}

/// What happened to an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// Accepted.
    New,
    /// Filled, partly or completely; the event carries the fill.
    Trade,
    /// Cancelled by its owner.
    Canceled,
    /// Expired (IOC/FOK/market remainder).
    Expired,
    /// Amended (price and/or quantity).
    Amended,
}

/// One event of an order, with the order as it is right after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// The order after the event.
    pub order: Order,
    /// The fill, for [`EventKind::Trade`].
    pub fill: Option<Fill>,
}

/// Sizes and rates of an engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineConfig {
    /// Trading rules per instrument; `instruments[i].id` must be `InstrumentId(i)`.
    pub instruments: Vec<InstrumentSpec>,
    /// Open orders the engine holds at most (across instruments).
    pub max_orders: usize,
    /// Fee rates.
    pub fees: Fees,
}

/// A level we took from: the public quantity when we did, and how much of it we used.
#[derive(Clone, Copy, Debug)]
struct Consumed {
    side: Side,
    px: Px,
    at: Qty,
    used: Qty,
}

#[derive(Debug)]
struct SymbolState {
    consumed: Vec<Consumed>,
    /// Slots of resting orders, in time priority.
    resting: Vec<u32>,
}

/// A resting order a public trade reaches.
#[derive(Clone, Copy, Debug)]
struct Hit {
    side: Side,
    px: Px,
    seq: u64,
    slot: u32,
}

/// The matching engine; see the [crate docs](crate) for its rules.
#[derive(Debug)]
pub struct Engine<Q: QueueModel = VisibleQueue> {
    specs: Vec<InstrumentSpec>,
    symbols: Vec<SymbolState>,
    slots: Vec<Option<Order>>,
    free: Vec<u32>,
    index: HashMap<OrderId, u32, Fixed>,
    fees: Fees,
    queue: Q,
    next_order_id: u64,
    next_trade_id: u64,
    next_seq: u64,
    /// Scratch: takeable levels of the order being matched.
    levels: Vec<(Px, Qty)>,
    /// Scratch: resting slots of the instrument being updated.
    ids: Vec<u32>,
    /// Scratch: resting orders a trade reaches.
    hits: Vec<Hit>,
}

impl Engine<VisibleQueue> {
    /// An engine with today's queue model ([`VisibleQueue`]).
    pub fn new(cfg: EngineConfig) -> Self {
        Self::with_queue(cfg, VisibleQueue)
    }
}

impl<Q: QueueModel> Engine<Q> {
    /// An engine with its own queue model. Everything it needs is allocated here.
    pub fn with_queue(cfg: EngineConfig, queue: Q) -> Self {
        let max = cfg.max_orders.max(1);
        let symbols = cfg
            .instruments
            .iter()
            .map(|_| SymbolState {
                consumed: Vec::with_capacity(OVERLAY_LEVELS),
                resting: Vec::with_capacity(max),
            })
            .collect();
        // Removals leave hash-table tombstones; with at most half the table live the std
        // table cleans them in place instead of reallocating (see core's order table).
        let index = HashMap::with_capacity_and_hasher(max.saturating_mul(2) + 1, Fixed::default());
        Self {
            specs: cfg.instruments,
            symbols,
            slots: vec![None; max],
            free: (0..max as u32).rev().collect(),
            index,
            fees: cfg.fees,
            queue,
            next_order_id: 1,
            next_trade_id: 1,
            next_seq: 1,
            levels: Vec::with_capacity(256),
            ids: Vec::with_capacity(max),
            hits: Vec::with_capacity(max),
        }
    }

    /// Starts order and trade ids at `base + 1`: an engine started again in a later session
    /// must not repeat an earlier one's trade ids, or its fills would look like duplicates.
    pub fn start_ids_at(&mut self, base: u64) {
        self.next_order_id = base + 1;
        self.next_trade_id = base + 1;
    }

    /// The fee rates.
    pub fn fees(&self) -> Fees {
        self.fees
    }

    /// An open order.
    pub fn order(&self, id: OrderId) -> Option<&Order> {
        let slot = *self.index.get(&id)?;
        self.slots[slot as usize].as_ref()
    }

    /// Open orders, in table order (deterministic).
    pub fn open_orders(&self) -> impl Iterator<Item = &Order> {
        self.slots.iter().flatten()
    }

    /// Number of open orders.
    pub fn open_count(&self) -> usize {
        self.index.len()
    }

    /// Resting orders of an instrument, in time priority.
    pub fn resting(&self, instrument: InstrumentId) -> impl Iterator<Item = &Order> {
        self.symbols
            .get(instrument.0 as usize)
            .into_iter()
            .flat_map(|s| s.resting.iter())
            .filter_map(|&slot| self.slots[slot as usize].as_ref())
    }

    /// Calls `f(px, qty)` for the opposite levels an order of `side` limited at `limit` (`None`:
    /// a market order) would take on `instrument` now, best first, with the quantity visible in
    /// the engine's view (the public quantity less what our orders consumed): what
    /// [`Engine::place`] would walk. A caller with checks of its own that depend on it (a
    /// venue's balances: a market buy's cost, a post-only order that would take) can make them
    /// before placing, in the venue's order of checks. Changes nothing.
    pub fn takeable<B: PublicBook + ?Sized>(
        &self,
        instrument: InstrumentId,
        side: Side,
        limit: Option<Px>,
        book: &B,
        f: &mut impl FnMut(Px, Qty),
    ) {
        if let Some(sym) = self.symbols.get(instrument.0 as usize) {
            each_takeable(sym, book, side, limit, f);
        }
    }

    /// Places an order against `book` (the instrument's public book now). Events go to `out`:
    /// `New`, a `Trade` per fill, then `Expired` for an IOC/FOK/market remainder.
    pub fn place<B: PublicBook + ?Sized>(
        &mut self,
        spec: &OrderSpec,
        book: &B,
        now: u64,
        out: &mut impl FnMut(&Event),
    ) -> Result<OrderId, Reject> {
        let inst = spec.instrument.0 as usize;
        let rules = self.specs.get(inst).ok_or(Reject::UnknownInstrument)?;
        let limit = match spec.kind {
            Kind::Market => None,
            Kind::Limit | Kind::PostOnly => Some(spec.px),
        };
        if let Some(p) = limit
            && (!p.is_positive() || !rules.on_tick(p))
        {
            return Err(Reject::PriceFilter);
        }
        if !spec.qty.is_positive() || !rules.on_lot(spec.qty) || spec.qty < rules.min_qty {
            return Err(Reject::LotSize);
        }
        let min_notional = Notional::from_quote(rules.min_notional);
        takeable(
            &self.symbols[inst],
            book,
            spec.side,
            limit,
            &mut self.levels,
        );
        let ref_px = match limit {
            Some(p) => p,
            None => self
                .levels
                .first()
                .map(|l| l.0)
                .ok_or(Reject::NoLiquidity)?,
        };
        if Notional::of(ref_px, spec.qty) < min_notional {
            return Err(Reject::MinNotional);
        }
        if spec.kind == Kind::PostOnly && !self.levels.is_empty() {
            return Err(Reject::WouldTake);
        }
        let slot = self.free.pop().ok_or(Reject::TableFull)?;
        let id = self.next_order_id;
        self.next_order_id += 1;
        let seq = self.next_seq;
        self.next_seq += 1;
        let tif = match spec.kind {
            Kind::PostOnly => Tif::Gtc,
            _ => spec.tif,
        };
        let order = Order {
            id,
            client: spec.client,
            instrument: spec.instrument,
            side: spec.side,
            kind: spec.kind,
            tif,
            px: limit.unwrap_or(Px::ZERO),
            qty: spec.qty,
            filled: Qty::ZERO,
            quote: Notional::ZERO,
            status: Status::New,
            seq,
            queue_ahead: Qty::ZERO,
            working: false,
            created: now,
            updated: now,
        };
        self.slots[slot as usize] = Some(order);
        self.index.insert(id, slot);
        out(&Event {
            kind: EventKind::New,
            order,
            fill: None,
        });
        let visible_total = self
            .levels
            .iter()
            .fold(Qty::ZERO, |a, l| a.saturating_add(l.1));
        let fok_short = tif == Tif::Fok && spec.kind == Kind::Limit && visible_total < spec.qty;
        if !fok_short {
            self.take(slot, book, now, out);
        }
        self.settle(slot, id, book, now, out);
        // What it took was ahead of our orders resting at those levels: they move up.
        self.recap(inst, book);
        Ok(id)
    }

    /// Cancels an open order; the orders behind it at its price move up.
    pub fn cancel<B: PublicBook + ?Sized>(
        &mut self,
        id: OrderId,
        book: &B,
        now: u64,
        out: &mut impl FnMut(&Event),
    ) -> Result<(), Reject> {
        let slot = *self.index.get(&id).ok_or(Reject::UnknownOrder)?;
        let Some(o) = self.slots[slot as usize] else {
            return Err(Reject::UnknownOrder);
        };
        self.close(slot, Status::Canceled, EventKind::Canceled, now, out);
        self.recap(o.instrument.0 as usize, book);
        Ok(())
    }

    /// Amends an open limit order to a new total quantity and/or price (`None`: unchanged).
    /// It keeps its time priority only when the price is unchanged and the quantity does not
    /// grow; otherwise it goes to the back of the queue at its (new) price, and a new price
    /// that crosses takes like a new order (a post-only order is refused instead). Events:
    /// `Amended`, then any fills (and `Expired` if an IOC remainder ends).
    pub fn amend<B: PublicBook + ?Sized>(
        &mut self,
        id: OrderId,
        qty: Option<Qty>,
        px: Option<Px>,
        book: &B,
        now: u64,
        out: &mut impl FnMut(&Event),
    ) -> Result<(), Reject> {
        let slot = *self.index.get(&id).ok_or(Reject::UnknownOrder)?;
        let o = self.slots[slot as usize].ok_or(Reject::UnknownOrder)?;
        let inst = o.instrument.0 as usize;
        let rules = self.specs.get(inst).ok_or(Reject::UnknownInstrument)?;
        if o.kind == Kind::Market {
            return Err(Reject::BadAmend);
        }
        let new_qty = qty.unwrap_or(o.qty);
        let new_px = px.unwrap_or(o.px);
        if (new_qty == o.qty && new_px == o.px) || new_qty <= o.filled {
            return Err(Reject::BadAmend);
        }
        if !new_px.is_positive() || !rules.on_tick(new_px) {
            return Err(Reject::PriceFilter);
        }
        if !rules.on_lot(new_qty) {
            return Err(Reject::LotSize);
        }
        if Notional::of(new_px, new_qty) < Notional::from_quote(rules.min_notional) {
            return Err(Reject::MinNotional);
        }
        takeable(
            &self.symbols[inst],
            book,
            o.side,
            Some(new_px),
            &mut self.levels,
        );
        if o.kind == Kind::PostOnly && !self.levels.is_empty() {
            return Err(Reject::WouldTake);
        }
        let keeps_priority = new_px == o.px && new_qty <= o.qty;
        let seq = if keeps_priority {
            o.seq
        } else {
            let s = self.next_seq;
            self.next_seq += 1;
            s
        };
        let amended = Order {
            qty: new_qty,
            px: new_px,
            seq,
            updated: now,
            ..o
        };
        self.slots[slot as usize] = Some(amended);
        if !keeps_priority {
            self.symbols[inst].resting.retain(|&s| s != slot);
        }
        out(&Event {
            kind: EventKind::Amended,
            order: amended,
            fill: None,
        });
        if !keeps_priority {
            self.take(slot, book, now, out);
            self.settle(slot, id, book, now, out);
        }
        self.recap(inst, book);
        Ok(())
    }

    /// The public book of `instrument` changed: forgets consumption of levels the feed has
    /// rewritten since, fills resting orders the opposite side has reached (as maker, at their
    /// own price, against the visible quantity; a level at their price first eats their queue
    /// ahead), and shrinks queues.
    pub fn on_book<B: PublicBook + ?Sized>(
        &mut self,
        instrument: InstrumentId,
        book: &B,
        now: u64,
        out: &mut impl FnMut(&Event),
    ) {
        let inst = instrument.0 as usize;
        let Some(sym) = self.symbols.get_mut(inst) else {
            return;
        };
        sym.consumed.retain(|c| book.qty_at(c.side, c.px) == c.at);
        self.ids.clear();
        self.ids.extend_from_slice(&sym.resting);
        for i in 0..self.ids.len() {
            let slot = self.ids[i];
            let Some(o) = self.slots[slot as usize] else {
                continue;
            };
            takeable(
                &self.symbols[inst],
                book,
                o.side,
                Some(o.px),
                &mut self.levels,
            );
            for j in 0..self.levels.len() {
                let (lpx, avail) = self.levels[j];
                let Some(r) = self.live(slot, o.id).copied() else {
                    break;
                };
                let rem = r.leaves();
                if rem.is_zero() {
                    break;
                }
                // An opposite level *at* our price is a counterparty at our price: like a
                // trade there it reaches us only after the queue ahead. One *through* our
                // price reaches us first.
                let (ahead_used, q) = if lpx == r.px {
                    let (ahead, q) = self.queue.on_trade(r.queue_ahead, avail, rem);
                    if let Some(m) = self.slots[slot as usize].as_mut() {
                        m.queue_ahead = ahead;
                    }
                    (r.queue_ahead.saturating_sub(ahead), q)
                } else {
                    (Qty::ZERO, rem.min(avail))
                };
                let used = ahead_used.saturating_add(q);
                if used.is_positive() {
                    consume(&mut self.symbols[inst], book, o.side.opposite(), lpx, used);
                }
                if q.is_positive() {
                    self.fill(slot, o.px, q, true, now, out);
                }
            }
        }
        self.recap(inst, book);
    }

    /// A public trade of `qty` at `px` printed on `instrument`; `taker` is the aggressor's side
    /// if the venue says (`None` lets it reach resting orders of either side). Resting orders
    /// it went through fill first (best price, then time), sharing its quantity; at its own
    /// price each order works through its queue ahead.
    pub fn on_trade(
        &mut self,
        instrument: InstrumentId,
        px: Px,
        qty: Qty,
        taker: Option<Side>,
        now: u64,
        out: &mut impl FnMut(&Event),
    ) {
        let Some(sym) = self.symbols.get(instrument.0 as usize) else {
            return;
        };
        self.hits.clear();
        for &slot in &sym.resting {
            let Some(o) = &self.slots[slot as usize] else {
                continue;
            };
            if taker.is_some_and(|s| s != o.side.opposite()) {
                continue;
            }
            let reached = match o.side {
                Side::Buy => o.px >= px,
                Side::Sell => o.px <= px,
            };
            if reached {
                self.hits.push(Hit {
                    side: o.side,
                    px: o.px,
                    seq: o.seq,
                    slot,
                });
            }
        }
        // Buys first, then sells; best price (furthest through the trade) first; then time.
        // `seq` is unique, so the order is total and the unstable sort deterministic (and it
        // does not allocate, unlike the stable one).
        self.hits.sort_unstable_by(|a, b| {
            let side = |s: Side| u8::from(s == Side::Sell);
            let by_px = match a.side {
                Side::Buy => b.px.cmp(&a.px),
                Side::Sell => a.px.cmp(&b.px),
            };
            side(a.side)
                .cmp(&side(b.side))
                .then(by_px)
                .then(a.seq.cmp(&b.seq))
        });
        let mut through_left = [qty, qty];
        let inst = instrument.0 as usize;
        for i in 0..self.hits.len() {
            let h = self.hits[i];
            let s = usize::from(h.side == Side::Sell);
            // A trade through the price took everything public there; what is still ahead is
            // our own older orders at the price it did not fill (earlier in this loop).
            let ours = self.ours_ahead(inst, h.side, h.px, h.seq);
            let Some(o) = self.slots[h.slot as usize].as_mut() else {
                continue;
            };
            let rem = o.leaves();
            let q = if h.px != px {
                let q = rem.min(through_left[s]);
                through_left[s] = through_left[s].saturating_sub(q);
                o.queue_ahead = ours;
                q
            } else {
                let (ahead, q) = self.queue.on_trade(o.queue_ahead, through_left[s], rem);
                o.queue_ahead = ahead;
                q
            };
            if q.is_positive() {
                self.fill(h.slot, h.px, q, true, now, out);
            }
        }
    }

    /// The order in `slot` if it is still order `id` (fills may have closed it).
    fn live(&self, slot: u32, id: OrderId) -> Option<&Order> {
        self.slots[slot as usize].as_ref().filter(|o| o.id == id)
    }

    /// Crosses the order in `slot` against the takeable levels in `self.levels`.
    fn take<B: PublicBook + ?Sized>(
        &mut self,
        slot: u32,
        book: &B,
        now: u64,
        out: &mut impl FnMut(&Event),
    ) {
        let Some(o) = self.slots[slot as usize] else {
            return;
        };
        let inst = o.instrument.0 as usize;
        for i in 0..self.levels.len() {
            let (px, avail) = self.levels[i];
            let Some(rem) = self.live(slot, o.id).map(Order::leaves) else {
                return;
            };
            if rem.is_zero() {
                return;
            }
            let q = rem.min(avail);
            consume(&mut self.symbols[inst], book, o.side.opposite(), px, q);
            self.fill(slot, px, q, false, now, out);
        }
    }

    /// After taking: the remainder rests (limit GTC) or expires (IOC, FOK, market).
    fn settle<B: PublicBook + ?Sized>(
        &mut self,
        slot: u32,
        id: OrderId,
        book: &B,
        now: u64,
        out: &mut impl FnMut(&Event),
    ) {
        let Some(o) = self.live(slot, id).copied() else {
            return;
        };
        if o.kind == Kind::Market || o.tif != Tif::Gtc {
            self.close(slot, Status::Expired, EventKind::Expired, now, out);
            return;
        }
        let inst = o.instrument.0 as usize;
        let visible = visible(&self.symbols[inst], book, o.side, o.px);
        let ours = self.ours_ahead(inst, o.side, o.px, o.seq);
        let ahead = self.queue.join(visible, ours);
        // The newest sequence number is the largest: pushing keeps time priority.
        self.symbols[inst].resting.push(slot);
        if let Some(r) = self.slots[slot as usize].as_mut() {
            r.queue_ahead = ahead;
            r.working = true;
        }
    }

    /// Remaining quantity of our resting orders on `side` at `px` older than `seq`.
    fn ours_ahead(&self, inst: usize, side: Side, px: Px, seq: u64) -> Qty {
        self.symbols[inst]
            .resting
            .iter()
            .filter_map(|&s| self.slots[s as usize].as_ref())
            .filter(|o| o.side == side && o.px == px && o.seq < seq)
            .fold(Qty::ZERO, |a, o| a.saturating_add(o.leaves()))
    }

    /// Caps each resting order's queue ahead at what is there now.
    fn recap<B: PublicBook + ?Sized>(&mut self, inst: usize, book: &B) {
        let Some(sym) = self.symbols.get(inst) else {
            return;
        };
        self.ids.clear();
        self.ids.extend_from_slice(&sym.resting);
        for i in 0..self.ids.len() {
            let slot = self.ids[i];
            let Some(o) = self.slots[slot as usize] else {
                continue;
            };
            let visible = visible(&self.symbols[inst], book, o.side, o.px);
            let ours = self.ours_ahead(inst, o.side, o.px, o.seq);
            let ahead = self.queue.on_level(o.queue_ahead, visible, ours);
            if let Some(r) = self.slots[slot as usize].as_mut() {
                r.queue_ahead = ahead;
            }
        }
    }

    /// Ends an open order (cancel or expiry) and removes it.
    fn close(
        &mut self,
        slot: u32,
        status: Status,
        kind: EventKind,
        now: u64,
        out: &mut impl FnMut(&Event),
    ) {
        let Some(mut o) = self.slots[slot as usize].take() else {
            return;
        };
        o.status = status;
        o.updated = now;
        self.forget(slot, &o);
        out(&Event {
            kind,
            order: o,
            fill: None,
        });
    }

    /// Frees `slot` (its order `o` is done).
    fn forget(&mut self, slot: u32, o: &Order) {
        self.index.remove(&o.id);
        self.free.push(slot);
        if let Some(sym) = self.symbols.get_mut(o.instrument.0 as usize) {
            sym.resting.retain(|&s| s != slot);
        }
    }

    /// Records a fill of `qty` at `px` for the order in `slot`.
    fn fill(
        &mut self,
        slot: u32,
        px: Px,
        qty: Qty,
        maker: bool,
        now: u64,
        out: &mut impl FnMut(&Event),
    ) {
        let Some(o) = self.slots[slot as usize].as_mut() else {
            return;
        };
        let trade_id = self.next_trade_id;
        self.next_trade_id += 1;
        o.filled = o.filled.saturating_add(qty);
        o.quote = o
            .quote
            .checked_add(Notional::of(px, qty))
            .unwrap_or(o.quote);
        o.updated = now;
        o.status = if o.filled >= o.qty {
            Status::Filled
        } else {
            Status::PartiallyFilled
        };
        let fill = Fill {
            trade_id,
            order_id: o.id,
            client: o.client,
            instrument: o.instrument,
            side: o.side,
            px,
            qty,
            maker,
            fee: self.fees.fee(px, qty, maker),
            time: now,
        };
        let order = *o;
        if order.status == Status::Filled {
            self.slots[slot as usize] = None;
            self.forget(slot, &order);
        }
        out(&Event {
            kind: EventKind::Trade,
            order,
            fill: Some(fill),
        });
    }
}

/// Visible quantity of a level in our view: the public quantity less what we consumed, unless
/// the feed has changed the level since.
fn visible<B: PublicBook + ?Sized>(sym: &SymbolState, book: &B, side: Side, px: Px) -> Qty {
    overlay(sym, side, px, book.qty_at(side, px))
}

fn overlay(sym: &SymbolState, side: Side, px: Px, public: Qty) -> Qty {
    match sym.consumed.iter().find(|c| c.side == side && c.px == px) {
        Some(c) if c.at == public => public.saturating_sub(c.used).max(Qty::ZERO),
        _ => public,
    }
}

/// The opposite levels an order of `side` limited at `limit` can take, best first, with their
/// visible quantity in our view, into `out`.
fn takeable<B: PublicBook + ?Sized>(
    sym: &SymbolState,
    book: &B,
    side: Side,
    limit: Option<Px>,
    out: &mut Vec<(Px, Qty)>,
) {
    out.clear();
    each_takeable(sym, book, side, limit, &mut |px, qty| out.push((px, qty)));
}

/// Calls `f(px, qty)` for what [`takeable`] collects.
fn each_takeable<B: PublicBook + ?Sized>(
    sym: &SymbolState,
    book: &B,
    side: Side,
    limit: Option<Px>,
    f: &mut impl FnMut(Px, Qty),
) {
    let level_side = side.opposite();
    book.each_level(level_side, &mut |px, qty| {
        let within = match (side, limit) {
            (_, None) => true,
            (Side::Buy, Some(l)) => px <= l,
            (Side::Sell, Some(l)) => px >= l,
        };
        if !within {
            return false;
        }
        let v = overlay(sym, level_side, px, qty);
        if v.is_positive() {
            f(px, v);
        }
        true
    });
}

/// Records that we took `qty` at `px` on `side`.
fn consume<B: PublicBook + ?Sized>(sym: &mut SymbolState, book: &B, side: Side, px: Px, qty: Qty) {
    let public = book.qty_at(side, px);
    if let Some(c) = sym
        .consumed
        .iter_mut()
        .find(|c| c.side == side && c.px == px)
    {
        if c.at != public {
            c.at = public;
            c.used = Qty::ZERO;
        }
        c.used = c.used.saturating_add(qty);
        return;
    }
    if sym.consumed.len() == OVERLAY_LEVELS {
        sym.consumed.remove(0);
    }
    sym.consumed.push(Consumed {
        side,
        px,
        at: public,
        used: qty,
    });
}
