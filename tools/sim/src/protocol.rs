//! Each venue's own wire protocol, written from the venue documentation: one directory per
//! venue, split the same way into `public` (market data: tape building, WS subscriptions, REST
//! snapshots) and `private` (order entry and account pushes), plus what only that venue needs.

pub(crate) mod binance;
pub(crate) mod okx;
