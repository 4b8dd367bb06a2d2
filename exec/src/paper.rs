//! Paper execution: a venue's real (live or simulated) market data, orders filled in-process.
//!
//! Paper trading is the [`SimExchange`](crate::sim_exchange::SimExchange) fed a venue's market
//! data instead of the synthetic market, so paper, the synthetic runs and the backtest share
//! one fill model, the matching engine of `tickwire-matching`:
//!
//! - **Taker, with market impact**: an order that crosses takes the visible opposite levels up
//!   to its limit, level by level, and what it took stays taken in the exchange's view until
//!   the feed rewrites that level.
//! - **Maker, queue position**: a resting order joins behind the quantity visible at its price
//!   (and our own earlier orders there). Public trades at its price consume the queue ahead
//!   first, then fill it; a trade through its price fills it for at most the trade's
//!   quantity. A level that shrinks shortens the queue ahead. The opposite side reaching its
//!   price fills it against the visible quantity, a level exactly at its price only after
//!   the queue ahead.
//! - GTC, IOC, FOK, post-only and market orders; fees per fill on notional.
//!
//! Everything is a pure function of the market events and commands in order: deterministic.
