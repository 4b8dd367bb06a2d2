//! The fixed-size records that cross thread boundaries and fill the journal.
//!
//! Every record is `#[repr(C)]`, `Copy` and `bytemuck::Pod` with explicit padding, so that it
//! can be copied into a ring slot or a journal page as plain bytes, and any byte pattern read
//! back is a valid value. Enumerations are stored as raw `u8` codes (see [`super::types`]).

use bytemuck::{Pod, Zeroable};
use serde::Serialize;

use super::meta::Meta;
use super::types::{
    AlertCode, FeeUnit, FeedState, Liquidity, OperatorAction, OrderState, OrderStatus, OrderType,
    RejectReason, RiskDecisionKind, RiskLevel, RiskReason, SessionAction, Side, TimeInForce,
    UnknownCause,
};
use crate::ids::{ClientOrderId, StrategyId};
use crate::num::{Px, Qty};

macro_rules! ser_code {
    ($fn_name:ident, $enum:ty) => {
        fn $fn_name<S: serde::Serializer>(raw: &u8, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(&<$enum>::describe(*raw))
        }
    };
}
ser_code!(ser_side, Side);
ser_code!(ser_order_type, OrderType);
ser_code!(ser_tif, TimeInForce);
ser_code!(ser_feed_state, FeedState);
ser_code!(ser_liquidity, Liquidity);
ser_code!(ser_fee_unit, FeeUnit);
ser_code!(ser_reject, RejectReason);
ser_code!(ser_status, OrderStatus);
ser_code!(ser_unknown, UnknownCause);
ser_code!(ser_action, OperatorAction);
ser_code!(ser_state, OrderState);
ser_code!(ser_alert, AlertCode);
ser_code!(ser_risk_kind, RiskDecisionKind);
ser_code!(ser_risk_reason, RiskReason);
ser_code!(ser_risk_level, RiskLevel);

fn ser_opt_side<S: serde::Serializer>(raw: &u8, s: S) -> Result<S::Ok, S::Error> {
    if *raw == 0 {
        s.serialize_str("")
    } else {
        s.serialize_str(&Side::describe(*raw))
    }
}

fn ser_opt_level<S: serde::Serializer>(raw: &u8, s: S) -> Result<S::Ok, S::Error> {
    if *raw == 0 {
        s.serialize_str("")
    } else {
        ser_risk_level(raw, s)
    }
}
ser_code!(ser_session_action, SessionAction);

/// Best bid and offer.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable, Serialize)]
pub struct TopOfBook {
    /// Header.
    pub meta: Meta,
    /// Best bid price.
    pub bid_px: Px,
    /// Quantity at the best bid.
    pub bid_qty: Qty,
    /// Best ask price.
    pub ask_px: Px,
    /// Quantity at the best ask.
    pub ask_qty: Qty,
    /// Venue update id (0 if none).
    pub update_id: u64,
}

/// One price level set to an absolute quantity (zero removes it).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable, Serialize)]
pub struct BookDelta {
    /// Header.
    pub meta: Meta,
    /// Level price.
    pub px: Px,
    /// New absolute quantity at the level; zero deletes it.
    pub qty: Qty,
    /// Venue update id of the message this level came from.
    pub update_id: u64,
    /// [`Side`] code.
    #[serde(serialize_with = "ser_side")]
    pub side: u8,
    /// `BookDelta::BATCH_BEGIN | BATCH_END | CLEAR` flags.
    pub flags: u8,
    #[serde(skip)]
    _pad: [u8; 6],
}

impl BookDelta {
    /// First level of one venue message: strategies see the book only after `BATCH_END`.
    pub const BATCH_BEGIN: u8 = 1;
    /// Last level of one venue message: the book is consistent again.
    pub const BATCH_END: u8 = 2;
    /// Clear the book before applying this level (a snapshot starts).
    pub const CLEAR: u8 = 4;

    /// A level update.
    pub fn new(meta: Meta, side: Side, px: Px, qty: Qty, update_id: u64, flags: u8) -> Self {
        Self {
            meta,
            px,
            qty,
            update_id,
            side: side.code(),
            flags,
            _pad: [0; 6],
        }
    }

    /// The side, if the code is valid.
    pub fn side(&self) -> Option<Side> {
        Side::from_code(self.side)
    }
}

/// A public trade.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable, Serialize)]
pub struct Trade {
    /// Header.
    pub meta: Meta,
    /// Trade price.
    pub px: Px,
    /// Trade quantity.
    pub qty: Qty,
    /// Venue trade id.
    pub trade_id: u64,
    /// Aggressor [`Side`] code.
    #[serde(serialize_with = "ser_side")]
    pub aggressor: u8,
    #[serde(skip)]
    _pad: [u8; 7],
}

impl Trade {
    /// A trade.
    pub fn new(meta: Meta, px: Px, qty: Qty, trade_id: u64, aggressor: Side) -> Self {
        Self {
            meta,
            px,
            qty,
            trade_id,
            aggressor: aggressor.code(),
            _pad: [0; 7],
        }
    }
}

/// Feed health change.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable, Serialize)]
pub struct FeedStatus {
    /// Header (instrument may be [`Meta::ALL_INSTRUMENTS`]).
    pub meta: Meta,
    /// [`FeedState`] code.
    #[serde(serialize_with = "ser_feed_state")]
    pub state: u8,
    #[serde(skip)]
    _pad: [u8; 7],
    /// State-specific detail (expected update id on a gap, silence in ns when stale).
    pub detail: u64,
    /// Second detail (received update id on a gap).
    pub detail2: u64,
}

impl FeedStatus {
    /// A status record.
    pub fn new(meta: Meta, state: FeedState, detail: u64, detail2: u64) -> Self {
        Self {
            meta,
            state: state.code(),
            _pad: [0; 7],
            detail,
            detail2,
        }
    }

    /// The state, if the code is valid.
    pub fn state(&self) -> Option<FeedState> {
        FeedState::from_code(self.state)
    }
}

/// Place an order.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable, Serialize)]
pub struct NewOrder {
    /// Header.
    pub meta: Meta,
    /// Deterministic client order id.
    pub cl_ord_id: ClientOrderId,
    /// Limit price (ignored for market orders).
    pub px: Px,
    /// Quantity.
    pub qty: Qty,
    /// [`Side`] code.
    #[serde(serialize_with = "ser_side")]
    pub side: u8,
    /// [`OrderType`] code.
    #[serde(serialize_with = "ser_order_type")]
    pub order_type: u8,
    /// [`TimeInForce`] code.
    #[serde(serialize_with = "ser_tif")]
    pub tif: u8,
    /// `NewOrder::REDUCE_ONLY` flag.
    pub flags: u8,
    #[serde(skip)]
    _pad: [u8; 4],
}

impl NewOrder {
    /// The order may only reduce a position.
    pub const REDUCE_ONLY: u8 = 1;

    /// A new order.
    pub fn new(
        meta: Meta,
        cl_ord_id: ClientOrderId,
        side: Side,
        order_type: OrderType,
        tif: TimeInForce,
        px: Px,
        qty: Qty,
    ) -> Self {
        Self {
            meta,
            cl_ord_id,
            px,
            qty,
            side: side.code(),
            order_type: order_type.code(),
            tif: tif.code(),
            flags: 0,
            _pad: [0; 4],
        }
    }

    /// The side, if the code is valid.
    pub fn side(&self) -> Option<Side> {
        Side::from_code(self.side)
    }

    /// The time in force, if the code is valid.
    pub fn tif(&self) -> Option<TimeInForce> {
        TimeInForce::from_code(self.tif)
    }

    /// The order type, if the code is valid.
    pub fn order_type(&self) -> Option<OrderType> {
        OrderType::from_code(self.order_type)
    }
}

/// Cancel one order.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable, Serialize)]
pub struct CancelOrder {
    /// Header.
    pub meta: Meta,
    /// Order to cancel.
    pub cl_ord_id: ClientOrderId,
}

/// Change an order's price and/or quantity in place (where the venue supports it).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable, Serialize)]
pub struct AmendOrder {
    /// Header.
    pub meta: Meta,
    /// Order to amend.
    pub cl_ord_id: ClientOrderId,
    /// New price.
    pub new_px: Px,
    /// New total quantity.
    pub new_qty: Qty,
}

/// Cancel every open order of a strategy (or all strategies) on the venue/instrument in `meta`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable, Serialize)]
pub struct CancelAll {
    /// Header (instrument may be [`Meta::ALL_INSTRUMENTS`]).
    pub meta: Meta,
    /// Strategy whose orders to cancel; `CancelAll::EVERY_STRATEGY` for all.
    pub strategy: StrategyId,
    #[serde(skip)]
    _pad: [u8; 6],
}

impl CancelAll {
    /// Strategy id meaning "every strategy".
    pub const EVERY_STRATEGY: StrategyId = StrategyId(u16::MAX);

    /// A cancel-all.
    pub fn new(meta: Meta, strategy: StrategyId) -> Self {
        Self {
            meta,
            strategy,
            _pad: [0; 6],
        }
    }
}

/// The venue accepted an order.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable, Serialize)]
pub struct Ack {
    /// Header.
    pub meta: Meta,
    /// Order.
    pub cl_ord_id: ClientOrderId,
    /// The venue's order id.
    pub venue_order_id: u64,
}

/// The venue (or risk) refused an order, or a cancel.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable, Serialize)]
pub struct Reject {
    /// Header.
    pub meta: Meta,
    /// Order.
    pub cl_ord_id: ClientOrderId,
    /// Normalised [`RejectReason`] code.
    #[serde(serialize_with = "ser_reject")]
    pub reason: u8,
    #[serde(skip)]
    _pad: [u8; 3],
    /// The venue's own error code (Binance `-2010`, OKX `sCode`), 0 if none.
    pub venue_code: i32,
}

impl Reject {
    /// A reject.
    pub fn new(
        meta: Meta,
        cl_ord_id: ClientOrderId,
        reason: RejectReason,
        venue_code: i32,
    ) -> Self {
        Self {
            meta,
            cl_ord_id,
            reason: reason.code(),
            _pad: [0; 3],
            venue_code,
        }
    }

    /// The reason, if the code is valid.
    pub fn reason(&self) -> Option<RejectReason> {
        RejectReason::from_code(self.reason)
    }
}

/// An execution.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable, Serialize)]
pub struct Fill {
    /// Header.
    pub meta: Meta,
    /// Order.
    pub cl_ord_id: ClientOrderId,
    /// The venue's order id.
    pub venue_order_id: u64,
    /// The venue's trade id: fills are idempotent by (venue, trade id).
    pub trade_id: u64,
    /// Execution price.
    pub px: Px,
    /// Executed quantity (may be more precise than the lot, e.g. 0.024098).
    pub qty: Qty,
    /// Fee in the unit given by `fee_asset`, signed: negative is a rebate.
    pub fee: Px,
    /// [`Side`] code of the order.
    #[serde(serialize_with = "ser_side")]
    pub side: u8,
    /// [`Liquidity`] code.
    #[serde(serialize_with = "ser_liquidity")]
    pub liquidity: u8,
    /// [`FeeUnit`] code of `fee` (0 = quote, so older journals read back unchanged).
    #[serde(serialize_with = "ser_fee_unit")]
    pub fee_asset: u8,
    #[serde(skip)]
    _pad: [u8; 5],
}

impl Fill {
    /// A fill.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        meta: Meta,
        cl_ord_id: ClientOrderId,
        venue_order_id: u64,
        trade_id: u64,
        side: Side,
        px: Px,
        qty: Qty,
        fee: Px,
        liquidity: Liquidity,
    ) -> Self {
        Self {
            meta,
            cl_ord_id,
            venue_order_id,
            trade_id,
            px,
            qty,
            fee,
            side: side.code(),
            liquidity: liquidity.code(),
            fee_asset: FeeUnit::Quote.code(),
            _pad: [0; 5],
        }
    }

    /// The same fill with its fee charged in `unit` (a fill from [`Fill::new`] is quote).
    pub fn with_fee_unit(mut self, unit: FeeUnit) -> Self {
        self.fee_asset = unit.code();
        self
    }

    /// The order side, if the code is valid.
    pub fn side(&self) -> Option<Side> {
        Side::from_code(self.side)
    }

    /// The fee's asset, if the code is valid.
    pub fn fee_unit(&self) -> Option<FeeUnit> {
        FeeUnit::from_code(self.fee_asset)
    }

    /// The fee in base units when charged in the base asset (zero otherwise): what the
    /// inventory received falls short of `qty` by.
    pub fn base_fee(&self) -> Qty {
        if self.fee_asset == FeeUnit::Base.code() {
            Qty::from_raw(self.fee.raw())
        } else {
            Qty::ZERO
        }
    }

    /// Signed change of the inventory: `±qty` less a base-asset fee, i.e. the venue's balance
    /// change in the base asset.
    pub fn inventory_delta(&self, side: Side) -> Qty {
        let q = match side {
            Side::Buy => self.qty,
            Side::Sell => self.qty.neg(),
        };
        q.saturating_sub(self.base_fee())
    }
}

/// The venue confirmed a cancel.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable, Serialize)]
pub struct CancelAck {
    /// Header.
    pub meta: Meta,
    /// Order.
    pub cl_ord_id: ClientOrderId,
}

/// Order status from a query (the reconciliation poller), not from the stream.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable, Serialize)]
pub struct StatusReport {
    /// Header.
    pub meta: Meta,
    /// Order.
    pub cl_ord_id: ClientOrderId,
    /// The venue's order id (0 if not found).
    pub venue_order_id: u64,
    /// Cumulative filled quantity according to the venue.
    pub filled_qty: Qty,
    /// [`OrderStatus`] code.
    #[serde(serialize_with = "ser_status")]
    pub status: u8,
    #[serde(skip)]
    _pad: [u8; 7],
}

impl StatusReport {
    /// A status report.
    pub fn new(
        meta: Meta,
        cl_ord_id: ClientOrderId,
        venue_order_id: u64,
        status: OrderStatus,
        filled_qty: Qty,
    ) -> Self {
        Self {
            meta,
            cl_ord_id,
            venue_order_id,
            filled_qty,
            status: status.code(),
            _pad: [0; 7],
        }
    }
}

/// Order entry could not tell whether the order exists (5xx, timeout, disconnect).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable, Serialize)]
pub struct Unknown {
    /// Header.
    pub meta: Meta,
    /// Order.
    pub cl_ord_id: ClientOrderId,
    /// [`UnknownCause`] code.
    #[serde(serialize_with = "ser_unknown")]
    pub cause: u8,
    #[serde(skip)]
    _pad: [u8; 7],
}

impl Unknown {
    /// An unknown-state report.
    pub fn new(meta: Meta, cl_ord_id: ClientOrderId, cause: UnknownCause) -> Self {
        Self {
            meta,
            cl_ord_id,
            cause: cause.code(),
            _pad: [0; 7],
        }
    }
}

/// A timer tick: the only way time advances when no other input arrives.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable, Serialize)]
pub struct TimerTick {
    /// Header (`recv_ns` is the tick time).
    pub meta: Meta,
    /// Tick counter.
    pub tick: u64,
}

/// An operator command, journaled as a core input so replay reproduces it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable, Serialize)]
pub struct OperatorCmd {
    /// Header.
    pub meta: Meta,
    /// Target strategy; [`CancelAll::EVERY_STRATEGY`] for all.
    pub strategy: StrategyId,
    /// [`OperatorAction`] code.
    #[serde(serialize_with = "ser_action")]
    pub action: u8,
    #[serde(skip)]
    _pad: [u8; 5],
}

impl OperatorCmd {
    /// An operator command.
    pub fn new(meta: Meta, strategy: StrategyId, action: OperatorAction) -> Self {
        Self {
            meta,
            strategy,
            action: action.code(),
            _pad: [0; 5],
        }
    }

    /// The action, if the code is valid.
    pub fn action(&self) -> Option<OperatorAction> {
        OperatorAction::from_code(self.action)
    }
}

/// Ask the venue for an order's status (exec answers with a [`StatusReport`] and, where the
/// venue has them, the order's fill records as [`Fill`]s — fills are idempotent by trade id, so
/// re-sending ones already delivered is harmless). Sent by the fill-health monitor and the
/// kill switch to resolve fill debt and unconfirmed cancels.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable, Serialize)]
pub struct QueryOrder {
    /// Header (venue and instrument of the order).
    pub meta: Meta,
    /// Order to query.
    pub cl_ord_id: ClientOrderId,
}

/// Output: a decision of the risk layer — a refused order request (with the request), a
/// strategy's level transition, a breaker trip, a data-anomaly flag, a flattener action.
/// Journaled, so replay reproduces every refusal and transition.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable, Serialize)]
pub struct RiskDecision {
    /// Header (the instrument concerned, or [`Meta::ALL_INSTRUMENTS`]).
    pub meta: Meta,
    /// Strategy concerned ([`CancelAll::EVERY_STRATEGY`] for instrument-wide decisions).
    pub strategy: StrategyId,
    /// [`RiskDecisionKind`] code.
    #[serde(serialize_with = "ser_risk_kind")]
    pub kind: u8,
    /// [`RiskReason`] code.
    #[serde(serialize_with = "ser_risk_reason")]
    pub reason: u8,
    /// [`Side`] code of the refused request (0 if none).
    #[serde(serialize_with = "ser_opt_side")]
    pub side: u8,
    /// Level before a transition ([`RiskLevel`] code, 0 if none).
    #[serde(serialize_with = "ser_opt_level")]
    pub from: u8,
    /// Level after a transition ([`RiskLevel`] code, 0 if none).
    #[serde(serialize_with = "ser_opt_level")]
    pub to: u8,
    #[serde(skip)]
    _pad: u8,
    /// Price of the refused request.
    pub px: Px,
    /// Quantity of the refused request.
    pub qty: Qty,
    /// The measured value that broke the limit (raw 9-decimal units, or a count).
    pub value: i64,
    /// The limit it broke (same units).
    pub limit: i64,
}

impl RiskDecision {
    /// A decision of `kind` for `reason`; the other fields start zero.
    pub fn new(
        meta: Meta,
        strategy: StrategyId,
        kind: RiskDecisionKind,
        reason: RiskReason,
    ) -> Self {
        Self {
            meta,
            strategy,
            kind: kind.code(),
            reason: reason.code(),
            ..Self::default()
        }
    }

    /// The kind, if valid.
    pub fn kind(&self) -> Option<RiskDecisionKind> {
        RiskDecisionKind::from_code(self.kind)
    }

    /// The reason, if valid.
    pub fn reason(&self) -> Option<RiskReason> {
        RiskReason::from_code(self.reason)
    }
}

/// A session lifecycle input ([`SessionAction`]), journaled so replay reproduces restarts.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable, Serialize)]
pub struct SessionCtl {
    /// Header (`venue` is the venue a `Reconciled` is about).
    pub meta: Meta,
    /// [`SessionAction`] code.
    #[serde(serialize_with = "ser_session_action")]
    pub action: u8,
    #[serde(skip)]
    _pad: [u8; 7],
    /// Action detail (for `Resume`: the number of orders restored open).
    pub arg: u64,
}

impl SessionCtl {
    /// A lifecycle input.
    pub fn new(meta: Meta, action: SessionAction, arg: u64) -> Self {
        Self {
            meta,
            action: action.code(),
            _pad: [0; 7],
            arg,
        }
    }

    /// The action, if the code is valid.
    pub fn action(&self) -> Option<SessionAction> {
        SessionAction::from_code(self.action)
    }
}

/// Output: an order's engine-side state changed.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable, Serialize)]
pub struct OrderUpdate {
    /// Header.
    pub meta: Meta,
    /// Order.
    pub cl_ord_id: ClientOrderId,
    /// Cumulative filled quantity.
    pub filled_qty: Qty,
    /// Remaining open quantity.
    pub leaves_qty: Qty,
    /// New [`OrderState`] code.
    #[serde(serialize_with = "ser_state")]
    pub state: u8,
    #[serde(skip)]
    _pad: [u8; 7],
}

impl OrderUpdate {
    /// A state change.
    pub fn new(
        meta: Meta,
        cl_ord_id: ClientOrderId,
        state: OrderState,
        filled_qty: Qty,
        leaves_qty: Qty,
    ) -> Self {
        Self {
            meta,
            cl_ord_id,
            filled_qty,
            leaves_qty,
            state: state.code(),
            _pad: [0; 7],
        }
    }

    /// The state, if the code is valid.
    pub fn state(&self) -> Option<OrderState> {
        OrderState::from_code(self.state)
    }
}

/// Output: a strategy's position in an instrument changed.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable, Serialize)]
pub struct PositionUpdate {
    /// Header.
    pub meta: Meta,
    /// Strategy.
    pub strategy: StrategyId,
    #[serde(skip)]
    _pad: [u8; 6],
    /// Signed position after the fill.
    pub position: Qty,
    /// Price of the fill that changed it.
    pub last_px: Px,
}

impl PositionUpdate {
    /// A position change.
    pub fn new(meta: Meta, strategy: StrategyId, position: Qty, last_px: Px) -> Self {
        Self {
            meta,
            strategy,
            _pad: [0; 6],
            position,
            last_px,
        }
    }
}

/// Output: an alert raised by the core.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable, Serialize)]
pub struct Alert {
    /// Header.
    pub meta: Meta,
    /// [`AlertCode`] code.
    #[serde(serialize_with = "ser_alert")]
    pub code: u8,
    #[serde(skip)]
    _pad: [u8; 7],
    /// Code-specific value (an order id, a count).
    pub arg: u64,
}

impl Alert {
    /// An alert.
    pub fn new(meta: Meta, code: AlertCode, arg: u64) -> Self {
        Self {
            meta,
            code: code.code(),
            _pad: [0; 7],
            arg,
        }
    }

    /// The code, if valid.
    pub fn code(&self) -> Option<AlertCode> {
        AlertCode::from_code(self.code)
    }
}

/// Journal metadata: where a session started, pairing the wall clock with the monotonic clock so
/// that monotonic stamps can be shown as wall time.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable, Serialize)]
pub struct SessionStart {
    /// Wall-clock nanoseconds since the Unix epoch at session start.
    pub wall_ns: i64,
    /// Monotonic nanoseconds at the same instant.
    pub mono_ns: u64,
    /// Journal format version the writer used.
    pub format_version: u32,
    /// CRC32 of the config text recorded right after this record.
    pub config_crc: u32,
}

macro_rules! assert_sizes {
    ($($t:ty => $n:expr),+ $(,)?) => {$(
        const _: () = assert!(core::mem::size_of::<$t>() == $n);
        const _: () = assert!(core::mem::align_of::<$t>() <= 8);
    )+};
}

assert_sizes!(
    Meta => 64,
    TopOfBook => 104,
    BookDelta => 96,
    Trade => 96,
    FeedStatus => 88,
    NewOrder => 96,
    CancelOrder => 72,
    AmendOrder => 88,
    CancelAll => 72,
    Ack => 80,
    Reject => 80,
    Fill => 120,
    CancelAck => 72,
    StatusReport => 96,
    Unknown => 80,
    TimerTick => 72,
    OperatorCmd => 72,
    SessionCtl => 80,
    OrderUpdate => 96,
    PositionUpdate => 88,
    Alert => 80,
    QueryOrder => 72,
    RiskDecision => 104,
    SessionStart => 24,
);
