//! tickwire-matching: the one matching engine of tickwire's venue models — the in-process
//! exchange, paper mode, the backtest and the TLS simulator (under its venue account layer)
//! use it.
//!
//! Our orders match, in price-time priority, against a **public book** that someone else moves
//! (a recorded capture, a live feed): the rest of the market. Our orders are not in that book,
//! so the engine keeps a private overlay:
//!
//! * **Taking, and market impact.** An order that crosses walks the visible opposite levels
//!   best first, one fill per level at that level's price, and *consumes* what it took: the
//!   consumed quantity stays subtracted from that level in our view until the feed rewrites
//!   the level's quantity (then the market has moved on and the feed's number is the truth
//!   again). A second order right after the first therefore sees the level depleted, as it
//!   would on the venue; one after the next book update at that level sees the feed's number.
//! * **Resting, queue position.** A resting order's place in the queue at its price is kept
//!   by a [`QueueModel`] ([`VisibleQueue`]: behind everything visible at its price when it
//!   arrived, plus our own earlier orders there). Public trades at its price eat the queue
//!   ahead first, then fill it; a trade *through* its price (a buy resting at 100, a trade at
//!   99) fills it without queue, for at most the trade's quantity, shared with our other
//!   orders it went through (best price, then time). A level that shrinks shortens the queue
//!   ahead (cancellations ahead of us). When the opposite side of the book reaches its price
//!   it fills as maker, at its own price, against the visible quantity there (consuming it
//!   like a taker would): levels *through* its price first, then a level *at* its price,
//!   which like a trade there reaches it only after the queue ahead (the recorded book does
//!   not contain our order, so a locked level means a counterparty at our price meeting the
//!   queue we joined).
//! * **Order types.** Limit GTC (the remainder rests), IOC (the remainder expires), FOK (expires
//!   without any fill unless the whole quantity can be taken now), post-only (refused if it
//!   would take), market (takes what is visible, the rest expires; refused on an empty book).
//!   Amend keeps time priority only when the price is unchanged and the quantity does not
//!   grow; otherwise the order goes to the back of the queue, and a new price that crosses
//!   takes like a new order. Our orders never trade with each other.
//! * **Fees.** Per fill on notional, maker or taker rate in parts per billion (negative is a
//!   rebate), truncated toward zero to the nano-unit.
//!
//! Exact fixed point throughout ([`Px`](tickwire_core::num::Px), [`Qty`](tickwire_core::num::Qty),
//! i64 nano-units); no clock (callers pass the time), no randomness, no hash-order iteration:
//! the same book updates, trades and orders give the same events. Tables are sized at
//! construction and nothing allocates afterwards (`tests/no_alloc.rs`).

mod book;
mod engine;
mod queue;

pub use book::PublicBook;
pub use engine::{
    Engine, EngineConfig, Event, EventKind, Fees, Fill, Kind, Order, OrderId, OrderSpec, Reject,
    Status, Tif,
};
pub use queue::{QueueModel, VisibleQueue};
