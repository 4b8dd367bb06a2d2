//! Small enumerations stored as `u8` inside Pod records.
//!
//! Records keep the raw byte so that any byte pattern is a valid record (a `Pod` requirement and
//! what makes decoding a damaged or newer journal safe); these enums are the checked view.

use core::fmt;

macro_rules! code_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $var:ident = $val:literal => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[repr(u8)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $var = $val),+
        }

        impl $name {
            /// Every value, in code order.
            pub const ALL: &'static [Self] = &[$(Self::$var),+];

            /// Decodes a stored byte.
            pub fn from_code(code: u8) -> Option<Self> {
                match code {
                    $($val => Some(Self::$var),)+
                    _ => None,
                }
            }

            /// The stored byte.
            pub fn code(self) -> u8 {
                self as u8
            }

            /// A stable lower-case name (journal JSON, config, CLI).
            pub fn name(self) -> &'static str {
                match self {
                    $(Self::$var => $text),+
                }
            }

            /// Looks a value up by its name.
            pub fn from_name(name: &str) -> Option<Self> {
                match name {
                    $($text => Some(Self::$var),)+
                    _ => None,
                }
            }

            /// Name of a stored byte, or `"?<byte>"` for one this build does not know.
            pub fn describe(code: u8) -> String {
                Self::from_code(code).map_or_else(|| format!("?{code}"), |v| v.name().to_owned())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

code_enum!(
    /// Book side or order direction.
    Side {
        /// Bid / buy.
        Buy = 1 => "buy",
        /// Ask / sell.
        Sell = 2 => "sell",
    }
);

impl Side {
    /// The other side.
    pub fn opposite(self) -> Self {
        match self {
            Self::Buy => Self::Sell,
            Self::Sell => Self::Buy,
        }
    }

    /// +1 for buy, -1 for sell (position sign).
    pub fn sign(self) -> i64 {
        match self {
            Self::Buy => 1,
            Self::Sell => -1,
        }
    }
}

code_enum!(
    /// Order type.
    OrderType {
        /// Limit order.
        Limit = 1 => "limit",
        /// Market order.
        Market = 2 => "market",
    }
);

code_enum!(
    /// Time in force.
    TimeInForce {
        /// Good till cancelled.
        Gtc = 1 => "gtc",
        /// Immediate or cancel.
        Ioc = 2 => "ioc",
        /// Fill or kill.
        Fok = 3 => "fok",
        /// Post only (Binance LIMIT_MAKER, OKX post_only): rejected if it would take.
        PostOnly = 4 => "post-only",
    }
);

code_enum!(
    /// Market-data health as seen by a feed.
    FeedState {
        /// Connected and subscribed.
        Connected = 1 => "connected",
        /// Connection lost.
        Disconnected = 2 => "disconnected",
        /// No data within the staleness threshold.
        Stale = 3 => "stale",
        /// A sequence gap: the book is invalid until resynced.
        Gap = 4 => "gap",
        /// Book rebuilt after a gap or reconnect.
        Resynced = 5 => "resynced",
        /// A frame could not be parsed (kept raw, counted).
        Malformed = 6 => "malformed",
        /// The source has no more data (end of a capture or synthetic run).
        Ended = 7 => "ended",
    }
);

code_enum!(
    /// The asset a fill's fee was charged in. Code 0 is the quote currency so that fills
    /// journaled before the field existed (zero padding) read back as quote fees.
    FeeUnit {
        /// The instrument's quote currency (USDT on BTCUSDT): enters P&L.
        Quote = 0 => "quote",
        /// The instrument's base asset (BTC on BTCUSDT): reduces the inventory received.
        Base = 1 => "base",
        /// Any other asset (BNB): booked apart, in its own unit.
        Other = 2 => "other",
    }
);

code_enum!(
    /// Whether a fill added or took liquidity.
    Liquidity {
        /// Resting order was hit.
        Maker = 1 => "maker",
        /// Order crossed the spread.
        Taker = 2 => "taker",
    }
);

code_enum!(
    /// Why an order or cancel was rejected, normalised across venues (the venue's own code is
    /// kept beside it).
    RejectReason {
        /// Venue said no for a reason not listed here.
        Other = 1 => "other",
        /// Insufficient balance or margin.
        InsufficientFunds = 2 => "insufficient-funds",
        /// Price or quantity filter (tick, lot, min notional).
        InvalidOrder = 3 => "invalid-order",
        /// Post-only order would have crossed.
        WouldTake = 4 => "would-take",
        /// Rate limited by the venue.
        RateLimited = 5 => "rate-limited",
        /// Unknown order (cancel of a closed or never-seen order).
        UnknownOrder = 6 => "unknown-order",
        /// Timestamp outside the venue's receive window.
        Timestamp = 7 => "timestamp",
        /// Signature or credentials refused.
        Auth = 8 => "auth",
        /// Refused by the engine's own risk checks.
        Risk = 9 => "risk",
        /// The venue is not reachable or not trading.
        VenueUnavailable = 10 => "venue-unavailable",
    }
);

code_enum!(
    /// Order status as a venue reports it.
    OrderStatus {
        /// Accepted, resting, nothing filled.
        New = 1 => "new",
        /// Partially filled and still working.
        PartiallyFilled = 2 => "partially-filled",
        /// Completely filled.
        Filled = 3 => "filled",
        /// Cancelled (possibly after partial fills).
        Canceled = 4 => "canceled",
        /// Rejected.
        Rejected = 5 => "rejected",
        /// Expired (IOC remainder, GTD).
        Expired = 6 => "expired",
        /// The venue does not know the order.
        NotFound = 7 => "not-found",
    }
);

code_enum!(
    /// Why an order's state became unknown.
    UnknownCause {
        /// HTTP 5xx from order entry.
        ServerError = 1 => "server-error",
        /// No answer within the timeout.
        Timeout = 2 => "timeout",
        /// Connection lost with the request in flight.
        Disconnect = 3 => "disconnect",
    }
);

code_enum!(
    /// Session lifecycle inputs (restart from a journal, reconciliation).
    SessionAction {
        /// The engine was rebuilt from the journal: every open order must be verified.
        Resume = 1 => "resume",
        /// Every order the venue in the header knows has been reported: orders still
        /// unverified there are unknown to it.
        Reconciled = 2 => "reconciled",
    }
);

code_enum!(
    /// Operator commands (control socket, CLI).
    OperatorAction {
        /// Stop opening new orders; keep managing open ones.
        Pause = 1 => "pause",
        /// Back to normal.
        Resume = 2 => "resume",
        /// Only orders that reduce position.
        ReduceOnly = 3 => "reduce-only",
        /// Close positions under the flattening budget.
        Flatten = 4 => "flatten",
        /// Cancel everything, confirm, flatten.
        Kill = 5 => "kill",
        /// Stop the engine cleanly.
        Shutdown = 6 => "shutdown",
    }
);

code_enum!(
    /// Engine-side order lifecycle state (the result of a transition).
    OrderState {
        /// Sent, not yet acknowledged.
        PendingNew = 1 => "pending-new",
        /// Acknowledged and working.
        Working = 2 => "working",
        /// Partially filled, still working.
        PartiallyFilled = 3 => "partially-filled",
        /// Completely filled.
        Filled = 4 => "filled",
        /// Cancel sent, not yet confirmed.
        PendingCancel = 5 => "pending-cancel",
        /// Cancelled.
        Canceled = 6 => "canceled",
        /// Rejected.
        Rejected = 7 => "rejected",
        /// State unknown: must be resolved by querying the venue.
        Unknown = 8 => "unknown",
    }
);

impl OrderState {
    /// True once the order can no longer trade.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Filled | Self::Canceled | Self::Rejected)
    }
}

code_enum!(
    /// Alert classes raised by the core.
    AlertCode {
        /// A fill that the order model could not place (overfill beyond tolerance, unknown id).
        FillAnomaly = 1 => "fill-anomaly",
        /// The exec ring stayed full; commands are being delayed.
        ExecBackpressure = 2 => "exec-backpressure",
        /// An order was rejected by the venue.
        Rejected = 3 => "rejected",
        /// Market data is unhealthy (stale, gap, disconnected).
        DataAnomaly = 4 => "data-anomaly",
        /// The order table is full; a strategy's order was refused.
        OrderTableFull = 5 => "order-table-full",
        /// A venue status reports more filled than the fills received: fills are missing
        /// (arg: the order id). Cleared when the fills arrive.
        FillDebt = 6 => "fill-debt",
        /// The venue does not know an order the engine thought open; it was closed
        /// (arg: the order id).
        OrderVanished = 7 => "order-vanished",
        /// Venue rejects tripped the reject breaker: the instrument is paused (arg: rejects).
        RejectStorm = 8 => "reject-storm",
        /// A fill flipped a position that was meant to be reduced (arg: strategy id).
        PositionFlip = 9 => "position-flip",
        /// Flattening spent its budget and still holds a position: operator action needed
        /// (arg: strategy id).
        FlattenStuck = 10 => "flatten-stuck",
        /// A strategy's risk level escalated (arg: strategy id).
        RiskEscalation = 11 => "risk-escalation",
        /// A strategy's loss crossed a daily-loss limit (arg: strategy id).
        LossLimit = 12 => "loss-limit",
        /// An unhedged leg stayed open past its age limit (arg: strategy id).
        UnhedgedLeg = 13 => "unhedged-leg",
    }
);

code_enum!(
    /// What a [`super::RiskDecision`] record says.
    RiskDecisionKind {
        /// An order request was refused by a pre-trade check.
        Reject = 1 => "reject",
        /// A strategy's risk level changed (`from` → `to`).
        Level = 2 => "level",
        /// A circuit breaker tripped or was reset on an instrument.
        Breaker = 3 => "breaker",
        /// A data anomaly was flagged or cleared on an instrument.
        Anomaly = 4 => "anomaly",
        /// The flattener acted (sent a closing order, queried, gave up).
        Flatten = 5 => "flatten",
    }
);

code_enum!(
    /// Why risk refused an order or changed a level.
    RiskReason {
        /// Order quantity above `max_order_qty`.
        MaxOrderQty = 1 => "max-order-qty",
        /// Order notional above `max_order_notional`.
        MaxOrderNotional = 2 => "max-order-notional",
        /// Price outside the band around the mid (fat finger).
        PriceBand = 3 => "price-band",
        /// No mid fresher than `max_mid_age`.
        NoFreshMid = 4 => "no-fresh-mid",
        /// Worst-case instrument position above `max_position`.
        InstrumentPosition = 5 => "instrument-position",
        /// Worst-case venue notional above `max_venue_notional`.
        VenueNotional = 6 => "venue-notional",
        /// Worst-case global notional above `max_global_notional`.
        GlobalNotional = 7 => "global-notional",
        /// Too many open orders on the instrument.
        OpenOrders = 8 => "open-orders",
        /// The venue's order-rate budget is spent.
        RateLimit = 9 => "rate-limit",
        /// The order would cross one of our own resting orders.
        SelfTrade = 10 => "self-trade",
        /// An unhedged leg is too large or too old.
        UnhedgedLeg = 11 => "unhedged-leg",
        /// Daily loss limit.
        DailyLoss = 12 => "daily-loss",
        /// Market data stale, gapped or disconnected: no new risk.
        DataAnomaly = 13 => "data-anomaly",
        /// The instrument's reject breaker is tripped.
        Breaker = 14 => "breaker",
        /// The strategy's risk level allows only reducing orders.
        ReduceOnly = 15 => "reduce-only",
        /// A closing order is already working on the instrument.
        DuplicateClose = 16 => "duplicate-close",
        /// The strategy is flattening or stopped: only the flattener trades.
        Halted = 17 => "halted",
        /// Venue rejects came too fast or too many in a row.
        RejectStorm = 18 => "reject-storm",
        /// The actual position exceeded its limit (fills, not requests).
        PositionBreach = 19 => "position-breach",
        /// A position flipped sign while it was being reduced.
        PositionFlip = 20 => "position-flip",
        /// An operator command.
        Operator = 21 => "operator",
        /// Flat with no open orders: flattening is complete.
        Flat = 22 => "flat",
        /// Fill debt: status ahead of the fills received.
        FillDebt = 23 => "fill-debt",
        /// The flattening budget (orders or attempts) is spent.
        FlattenBudget = 24 => "flatten-budget",
        /// Data healthy again.
        Recovered = 25 => "recovered",
        /// The market-data source ended (end of a capture or synthetic run): no new risk, but
        /// nothing is wrong, so no alert.
        FeedEnded = 26 => "feed-ended",
    }
);

code_enum!(
    /// A strategy's risk escalation level (DESIGN §8): `active → reduce-only → flattening →
    /// stopped`, and `stopped` only when flat.
    RiskLevel {
        /// Normal trading.
        Active = 1 => "active",
        /// Only orders that reduce the position.
        ReduceOnly = 2 => "reduce-only",
        /// The engine is closing the strategy's positions; the strategy may not trade.
        Flattening = 3 => "flattening",
        /// Flat, no open orders, no trading until an operator resumes it.
        Stopped = 4 => "stopped",
    }
);
