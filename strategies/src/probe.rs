//! `probe`: quotes one lot-sized order on each side at the touch, requotes when the touch moves
//! away, and periodically takes liquidity to work its inventory back toward flat. It is not
//! meant to make money; it makes the engine, the exchange and the journal see every kind of
//! order event (place, ack, cancel, maker fill, taker fill) in a deterministic pattern.

use tickwire_core::config::Section;
use tickwire_core::engine::{Ctx, Strategy};
use tickwire_core::event::{OrderType, OrderUpdate, Side, TimeInForce};
use tickwire_core::ids::{ClientOrderId, InstrumentId};
use tickwire_core::market::through_touch;
use tickwire_core::num::{InstrumentSpec, Px, Qty};
use tickwire_core::order::OrderRequest;

use crate::common::exposure;

/// Probe parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeConfig {
    /// Strategy name.
    pub name: String,
    /// Instrument traded.
    pub instrument: InstrumentId,
    /// Size of each order.
    pub order_qty: Qty,
    /// Largest absolute position it will quote into.
    pub max_position: Qty,
    /// Act on every n-th book update.
    pub every: u32,
    /// Every n-th action, take liquidity to reduce inventory (0 = never).
    pub take_every: u32,
}

/// The probe strategy.
pub struct Probe {
    cfg: ProbeConfig,
    books: u64,
    actions: u64,
    bid: Option<ClientOrderId>,
    ask: Option<ClientOrderId>,
    reducing: Option<ClientOrderId>,
    /// A take is due but waits for our own crossing quote's cancel to be confirmed.
    take_due: bool,
    /// The side our due or in-flight take would cross: no quote is placed there meanwhile.
    blocked: Option<Side>,
}

impl Probe {
    /// A probe with `cfg`.
    pub fn new(cfg: ProbeConfig) -> Self {
        Self {
            cfg,
            books: 0,
            actions: 0,
            bid: None,
            ask: None,
            reducing: None,
            take_due: false,
            blocked: None,
        }
    }

    /// Reads a `[[strategy]] kind = "probe"` section.
    pub fn from_config(s: &mut Section<'_>, instruments: &[InstrumentSpec]) -> Option<Self> {
        let name = s.str("name");
        let symbol = s.str("instrument");
        let order_qty = s.qty("order_qty");
        let max_position = s.qty("max_position");
        let every = s.int_or("every", 1, 1_000_000, 1) as u32;
        let take_every = s.int_or("take_every", 0, 1_000_000, 4) as u32;
        let instrument = symbol.and_then(|sym| {
            let found = instruments.iter().find(|i| i.symbol == sym).map(|i| i.id);
            if found.is_none() {
                s.error("instrument", format!("no instrument {sym:?} is configured"));
            }
            found
        });
        if order_qty.is_some_and(|q| q.is_zero()) {
            s.error("order_qty", "must be > 0");
            return None;
        }
        Some(Self::new(ProbeConfig {
            name: name?.to_owned(),
            instrument: instrument?,
            order_qty: order_qty?,
            max_position: max_position?,
            every,
            take_every,
        }))
    }

    fn quote(&mut self, ctx: &mut Ctx<'_>, side: Side) {
        let inst = self.cfg.instrument;
        let Some(view) = ctx.market(inst) else { return };
        let touch = match side {
            Side::Buy => view.best_bid(),
            Side::Sell => view.best_ask(),
        };
        let Some(touch) = touch else { return };
        if let Some(id) = self.slot(side) {
            // Requote only when the touch moved away from our price.
            if ctx.order(id).is_some_and(|o| o.px != touch) {
                let _ = ctx.cancel(id);
            }
            return;
        }
        // Never quote into our own orders: not while a take would cross this side, and not
        // through our resting opposite quote when the touch ran past it (it is requoted).
        if self.take_in_progress(ctx) && self.blocked == Some(side) {
            return;
        }
        if self.own_crossing(ctx, side, touch).is_some() {
            return;
        }
        let after = exposure(ctx, inst) + side.sign() * self.cfg.order_qty.raw();
        if after.abs() > self.cfg.max_position.raw() {
            return;
        }
        let req = OrderRequest {
            instrument: inst,
            side,
            px: touch,
            qty: self.cfg.order_qty,
            order_type: OrderType::Limit,
            tif: TimeInForce::Gtc,
        };
        if let Ok(id) = ctx.place(req) {
            match side {
                Side::Buy => self.bid = Some(id),
                Side::Sell => self.ask = Some(id),
            }
        }
    }

    /// Our resting quote on `side`.
    fn slot(&self, side: Side) -> Option<ClientOrderId> {
        match side {
            Side::Buy => self.bid,
            Side::Sell => self.ask,
        }
    }

    /// Our quote on the side opposite `side` that an order at `px` would trade against.
    fn own_crossing(&self, ctx: &Ctx<'_>, side: Side, px: Px) -> Option<ClientOrderId> {
        let id = self.slot(side.opposite())?;
        let o = ctx.order(id)?;
        let crosses = match side {
            Side::Buy => px >= o.px,
            Side::Sell => px <= o.px,
        };
        crosses.then_some(id)
    }

    /// A take is due, or our reducing order is still open.
    fn take_in_progress(&self, ctx: &Ctx<'_>) -> bool {
        self.take_due || self.reducing.is_some_and(|id| ctx.order(id).is_some())
    }

    /// Takes liquidity toward flat. `false` if the take must wait: our own resting quote on
    /// the other side would be crossed (risk refuses self-trades), so it is cancelled first
    /// and the take goes out once the cancel is confirmed.
    fn reduce(&mut self, ctx: &mut Ctx<'_>) -> bool {
        let inst = self.cfg.instrument;
        // One reducing order at a time: fills of earlier ones may still be in flight.
        if self.reducing.is_some_and(|id| ctx.order(id).is_some()) {
            return true;
        }
        let pos = ctx.position(inst);
        if pos.is_zero() {
            return true;
        }
        let side = if pos.is_positive() {
            Side::Sell
        } else {
            Side::Buy
        };
        let Some(view) = ctx.market(inst) else {
            return true;
        };
        let Some(px) = through_touch(view, side, 0) else {
            return true;
        };
        let lot = view.spec.lot;
        let qty = pos.abs().min(self.cfg.order_qty);
        // Only whole lots can be ordered; a sub-lot residue (a rounded fill) stays.
        let qty = Qty::from_raw(qty.raw() - qty.raw() % lot.raw());
        if qty.is_zero() {
            return true;
        }
        self.blocked = Some(side.opposite());
        if let Some(own) = self.own_crossing(ctx, side, px) {
            // Already pending cancel is fine: the request is idempotent from our side.
            let _ = ctx.cancel(own);
            return false;
        }
        let req = OrderRequest {
            instrument: inst,
            side,
            px,
            qty,
            order_type: OrderType::Limit,
            tif: TimeInForce::Ioc,
        };
        self.reducing = ctx.place(req).ok();
        true
    }
}

impl Strategy for Probe {
    fn name(&self) -> &str {
        &self.cfg.name
    }

    fn on_book(&mut self, ctx: &mut Ctx<'_>, instrument: InstrumentId) {
        if instrument != self.cfg.instrument {
            return;
        }
        self.books += 1;
        if !self.books.is_multiple_of(u64::from(self.cfg.every)) {
            return;
        }
        if !ctx.market(instrument).is_some_and(|m| m.is_healthy()) {
            ctx.cancel_all(Some(instrument));
            return;
        }
        self.actions += 1;
        if self.cfg.take_every > 0 && self.actions.is_multiple_of(u64::from(self.cfg.take_every)) {
            self.take_due = true;
        }
        if self.take_due {
            self.take_due = !self.reduce(ctx);
        }
        self.quote(ctx, Side::Buy);
        self.quote(ctx, Side::Sell);
    }

    fn on_order_update(&mut self, _ctx: &mut Ctx<'_>, update: &OrderUpdate) {
        if update.state().is_some_and(|s| s.is_terminal()) {
            if self.bid == Some(update.cl_ord_id) {
                self.bid = None;
            }
            if self.ask == Some(update.cl_ord_id) {
                self.ask = None;
            }
        }
    }
}
