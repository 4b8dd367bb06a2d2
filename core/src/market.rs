//! The engine's view of each instrument's market: book, top of book, last trade, feed health.

use crate::book::L2Book;
use crate::event::{BookDelta, FeedState, MarketEvent, Side, TopOfBook, Trade};
use crate::ids::InstrumentId;
use crate::num::{InstrumentSpec, Px};

/// What the engine knows about one instrument's market.
#[derive(Clone, Debug)]
pub struct MarketView {
    /// Trading rules.
    pub spec: InstrumentSpec,
    /// Depth book built from deltas (empty for top-of-book-only feeds).
    pub book: L2Book,
    /// Last best bid/offer message, if the feed sends them.
    pub top: Option<TopOfBook>,
    /// Last public trade.
    pub last_trade: Option<Trade>,
    /// Feed health: only `Connected` and `Resynced` count as healthy.
    pub feed: FeedState,
    /// Event time of the last market record for this instrument.
    pub last_update_ns: u64,
    /// True while a delta batch is being applied (the book is mid-update).
    in_batch: bool,
}

impl MarketView {
    fn new(spec: InstrumentSpec, depth: usize) -> Self {
        Self {
            spec,
            book: L2Book::with_capacity(depth),
            top: None,
            last_trade: None,
            feed: FeedState::Connected,
            last_update_ns: 0,
            in_batch: false,
        }
    }

    /// True if new risk may be added on this data: the feed is healthy and no book update is
    /// half-applied.
    pub fn is_healthy(&self) -> bool {
        self.feed_ok() && !self.in_batch
    }

    /// True if the feed is connected and in sequence (a delta batch may be half-applied).
    pub fn feed_ok(&self) -> bool {
        matches!(self.feed, FeedState::Connected | FeedState::Resynced)
    }

    /// Best bid price: from the depth book if it has one, else from the last top of book.
    pub fn best_bid(&self) -> Option<Px> {
        self.book
            .best_bid()
            .map(|l| l.px)
            .or_else(|| self.top.map(|t| t.bid_px).filter(|p| p.is_positive()))
    }

    /// Best ask price (see [`MarketView::best_bid`]).
    pub fn best_ask(&self) -> Option<Px> {
        self.book
            .best_ask()
            .map(|l| l.px)
            .or_else(|| self.top.map(|t| t.ask_px).filter(|p| p.is_positive()))
    }

    /// Mid price, if both sides are known.
    pub fn mid(&self) -> Option<Px> {
        let (b, a) = (self.best_bid()?, self.best_ask()?);
        Some(Px::from_raw(
            ((i128::from(b.raw()) + i128::from(a.raw())) / 2) as i64,
        ))
    }
}

/// Every instrument's market view, indexed by [`InstrumentId`].
#[derive(Clone, Debug)]
pub struct Markets {
    views: Vec<MarketView>,
}

/// What applying a market event changed, for dispatch to strategies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarketChange {
    /// The book (or top of book) is consistent and changed.
    Book(InstrumentId),
    /// A trade printed.
    Trade(InstrumentId),
    /// Feed health changed.
    Feed(InstrumentId),
    /// Nothing for strategies yet (mid-batch), or an unknown instrument.
    None,
}

impl Markets {
    /// Views for `specs` (whose ids must equal their index) with `depth` levels reserved.
    pub fn new(specs: &[InstrumentSpec], depth: usize) -> Self {
        Self {
            views: specs
                .iter()
                .map(|s| MarketView::new(s.clone(), depth))
                .collect(),
        }
    }

    /// The view of one instrument.
    pub fn get(&self, id: InstrumentId) -> Option<&MarketView> {
        self.views.get(id.0 as usize)
    }

    /// All views, in id order.
    pub fn iter(&self) -> impl Iterator<Item = &MarketView> {
        self.views.iter()
    }

    /// Applies a market event.
    pub fn apply(&mut self, ev: &MarketEvent, now: u64) -> MarketChange {
        let id = ev.meta().instrument;
        if let MarketEvent::Status(s) = ev {
            return self.apply_status(id, s.state(), now);
        }
        let Some(view) = self.views.get_mut(id.0 as usize) else {
            return MarketChange::None;
        };
        view.last_update_ns = now;
        match ev {
            MarketEvent::Top(t) => {
                view.top = Some(*t);
                MarketChange::Book(id)
            }
            MarketEvent::Delta(d) => Self::apply_delta(view, d, id),
            MarketEvent::Trade(t) => {
                view.last_trade = Some(*t);
                MarketChange::Trade(id)
            }
            MarketEvent::Status(_) => MarketChange::None,
        }
    }

    fn apply_delta(view: &mut MarketView, d: &BookDelta, id: InstrumentId) -> MarketChange {
        if d.flags & BookDelta::CLEAR != 0 {
            view.book.clear();
        }
        if d.flags & BookDelta::BATCH_BEGIN != 0 {
            view.in_batch = true;
        }
        if let Some(side) = d.side() {
            view.book.set(side, d.px, d.qty);
        }
        view.book.set_update_id(d.update_id);
        if d.flags & BookDelta::BATCH_END != 0 {
            view.in_batch = false;
            MarketChange::Book(id)
        } else {
            MarketChange::None
        }
    }

    fn apply_status(
        &mut self,
        id: InstrumentId,
        state: Option<FeedState>,
        now: u64,
    ) -> MarketChange {
        let Some(state) = state else {
            return MarketChange::None;
        };
        // A venue-wide status applies to every instrument it covers.
        let all = id == crate::event::Meta::ALL_INSTRUMENTS;
        for (i, view) in self.views.iter_mut().enumerate() {
            if all || i == id.0 as usize {
                if state != FeedState::Malformed {
                    view.feed = state;
                }
                if state == FeedState::Gap || state == FeedState::Disconnected {
                    // The book is unusable until a snapshot rebuilds it.
                    view.book.clear();
                    view.in_batch = false;
                }
                view.last_update_ns = now;
            }
        }
        MarketChange::Feed(id)
    }
}

/// A marketable price `ticks` ticks through the opposite touch, for aggressive orders.
pub fn through_touch(view: &MarketView, side: Side, ticks: i64) -> Option<Px> {
    let tick = view.spec.tick.raw();
    match side {
        Side::Buy => view
            .best_ask()
            .and_then(|p| p.raw().checked_add(tick.checked_mul(ticks)?))
            .map(Px::from_raw),
        Side::Sell => view
            .best_bid()
            .and_then(|p| p.raw().checked_sub(tick.checked_mul(ticks)?))
            .map(Px::from_raw),
    }
}
