//! Event records and the typed messages built from them.
//!
//! Each ring carries one of the enums below ([`MarketEvent`], [`OrderCommand`], [`ExecReport`]);
//! the core consumes [`Input`]s and produces [`Output`]s. In the journal each variant is stored
//! under its own [`Kind`] with its Pod record as the payload.

mod meta;
mod records;
mod types;

use core::fmt;

use bytemuck::{Pod, bytes_of};

use crate::ids::InstrumentId;

pub use meta::{Meta, Stamps};
pub use records::{
    Ack, Alert, AmendOrder, BookDelta, CancelAck, CancelAll, CancelOrder, FeedStatus, Fill,
    NewOrder, OperatorCmd, OrderUpdate, PositionUpdate, QueryOrder, Reject, RiskDecision,
    SessionCtl, SessionStart, StatusReport, TimerTick, TopOfBook, Trade, Unknown,
};
pub use types::{
    AlertCode, FeeUnit, FeedState, Liquidity, OperatorAction, OrderState, OrderStatus, OrderType,
    RejectReason, RiskDecisionKind, RiskLevel, RiskReason, SessionAction, Side, TimeInForce,
    UnknownCause,
};

/// Market data, feed thread → core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarketEvent {
    /// Best bid/offer.
    Top(TopOfBook),
    /// One level of a book update.
    Delta(BookDelta),
    /// Public trade.
    Trade(Trade),
    /// Feed health.
    Status(FeedStatus),
}

/// Order commands, core → exec thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderCommand {
    /// Place.
    New(NewOrder),
    /// Cancel one.
    Cancel(CancelOrder),
    /// Amend one.
    Amend(AmendOrder),
    /// Cancel many.
    CancelAll(CancelAll),
    /// Query one order's status (fill-health chase, cancel confirmation).
    Query(QueryOrder),
}

/// Execution reports, exec thread → core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecReport {
    /// Order accepted.
    Ack(Ack),
    /// Order rejected.
    Reject(Reject),
    /// Execution.
    Fill(Fill),
    /// Cancel confirmed.
    CancelAck(CancelAck),
    /// Cancel refused.
    CancelReject(Reject),
    /// Status from a venue query.
    Status(StatusReport),
    /// State unknown after an order-entry failure.
    Unknown(Unknown),
}

/// Everything the core consumes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// Market data.
    Market(MarketEvent),
    /// Execution report.
    Exec(ExecReport),
    /// Timer tick.
    Timer(TimerTick),
    /// Operator command.
    Operator(OperatorCmd),
    /// Session lifecycle (restart, reconciliation).
    Session(SessionCtl),
}

/// Everything the core produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// A command for the exec thread.
    Command(OrderCommand),
    /// An order state transition.
    OrderUpdate(OrderUpdate),
    /// A position change.
    Position(PositionUpdate),
    /// An alert.
    Alert(Alert),
    /// A risk decision (refusal, level transition, breaker, anomaly, flattener action).
    Risk(RiskDecision),
}

macro_rules! kinds {
    ($($(#[$doc:meta])* $var:ident = $code:literal => $name:literal),+ $(,)?) => {
        /// The journal record kind: which record a payload holds.
        #[repr(u16)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Kind {
            $($(#[$doc])* $var = $code),+
        }

        impl Kind {
            /// Every kind, in code order.
            pub const ALL: &'static [Kind] = &[$(Kind::$var),+];

            /// Decodes a stored kind code.
            pub fn from_code(code: u16) -> Option<Self> {
                match code {
                    $($code => Some(Self::$var),)+
                    _ => None,
                }
            }

            /// A stable name, used by `journal inspect --kind` and in JSON output.
            pub fn name(self) -> &'static str {
                match self {
                    $(Self::$var => $name),+
                }
            }

            /// Looks a kind up by name.
            pub fn from_name(name: &str) -> Option<Self> {
                match name {
                    $($name => Some(Self::$var),)+
                    _ => None,
                }
            }
        }
    };
}

kinds!(
    /// [`TopOfBook`] (input).
    Top = 1 => "top",
    /// [`BookDelta`] (input).
    Delta = 2 => "delta",
    /// [`Trade`] (input).
    Trade = 3 => "trade",
    /// [`FeedStatus`] (input).
    FeedStatus = 4 => "feed-status",
    /// [`Ack`] (input).
    Ack = 10 => "ack",
    /// [`Reject`] of an order (input).
    Reject = 11 => "reject",
    /// [`Fill`] (input).
    Fill = 12 => "fill",
    /// [`CancelAck`] (input).
    CancelAck = 13 => "cancel-ack",
    /// [`Reject`] of a cancel (input).
    CancelReject = 14 => "cancel-reject",
    /// [`StatusReport`] (input).
    Status = 15 => "status",
    /// [`Unknown`] (input).
    Unknown = 16 => "unknown",
    /// [`TimerTick`] (input).
    Timer = 20 => "timer",
    /// [`OperatorCmd`] (input).
    Operator = 21 => "operator",
    /// [`SessionCtl`] (input).
    SessionCtl = 22 => "session-ctl",
    /// [`NewOrder`] (output).
    NewOrder = 40 => "new-order",
    /// [`CancelOrder`] (output).
    Cancel = 41 => "cancel",
    /// [`AmendOrder`] (output).
    Amend = 42 => "amend",
    /// [`CancelAll`] (output).
    CancelAll = 43 => "cancel-all",
    /// [`QueryOrder`] (output).
    Query = 44 => "query",
    /// [`OrderUpdate`] (output).
    OrderUpdate = 50 => "order-update",
    /// [`PositionUpdate`] (output).
    Position = 51 => "position",
    /// [`Alert`] (output).
    Alert = 52 => "alert",
    /// [`RiskDecision`] (output).
    Risk = 53 => "risk",
    /// [`SessionStart`] (metadata).
    Session = 100 => "session",
    /// The UTF-8 config text the session ran with (metadata).
    Config = 101 => "config",
    /// A wire frame as a feed connection received it (raw frame journals only).
    RawFrame = 110 => "raw-frame",
    /// A REST snapshot body a feed fetched: the instrument id (u32, little-endian), then the
    /// body (raw frame journals only).
    RawSnapshot = 111 => "raw-snapshot",
);

impl Kind {
    /// The stored code.
    pub fn code(self) -> u16 {
        self as u16
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl MarketEvent {
    /// The record header.
    pub fn meta(&self) -> &Meta {
        match self {
            Self::Top(r) => &r.meta,
            Self::Delta(r) => &r.meta,
            Self::Trade(r) => &r.meta,
            Self::Status(r) => &r.meta,
        }
    }

    /// Mutable record header (to add latency stamps in flight).
    pub fn meta_mut(&mut self) -> &mut Meta {
        match self {
            Self::Top(r) => &mut r.meta,
            Self::Delta(r) => &mut r.meta,
            Self::Trade(r) => &mut r.meta,
            Self::Status(r) => &mut r.meta,
        }
    }
}

impl ExecReport {
    /// The record header.
    pub fn meta(&self) -> &Meta {
        match self {
            Self::Ack(r) => &r.meta,
            Self::Reject(r) | Self::CancelReject(r) => &r.meta,
            Self::Fill(r) => &r.meta,
            Self::CancelAck(r) => &r.meta,
            Self::Status(r) => &r.meta,
            Self::Unknown(r) => &r.meta,
        }
    }

    /// Mutable record header.
    pub fn meta_mut(&mut self) -> &mut Meta {
        match self {
            Self::Ack(r) => &mut r.meta,
            Self::Reject(r) | Self::CancelReject(r) => &mut r.meta,
            Self::Fill(r) => &mut r.meta,
            Self::CancelAck(r) => &mut r.meta,
            Self::Status(r) => &mut r.meta,
            Self::Unknown(r) => &mut r.meta,
        }
    }
}

impl OrderCommand {
    /// The record header.
    pub fn meta(&self) -> &Meta {
        match self {
            Self::New(r) => &r.meta,
            Self::Cancel(r) => &r.meta,
            Self::Amend(r) => &r.meta,
            Self::CancelAll(r) => &r.meta,
            Self::Query(r) => &r.meta,
        }
    }

    /// Mutable record header.
    pub fn meta_mut(&mut self) -> &mut Meta {
        match self {
            Self::New(r) => &mut r.meta,
            Self::Cancel(r) => &mut r.meta,
            Self::Amend(r) => &mut r.meta,
            Self::CancelAll(r) => &mut r.meta,
            Self::Query(r) => &mut r.meta,
        }
    }
}

impl Input {
    /// The record header.
    pub fn meta(&self) -> &Meta {
        match self {
            Self::Market(m) => m.meta(),
            Self::Exec(e) => e.meta(),
            Self::Timer(t) => &t.meta,
            Self::Operator(o) => &o.meta,
            Self::Session(c) => &c.meta,
        }
    }

    /// Mutable record header.
    pub fn meta_mut(&mut self) -> &mut Meta {
        match self {
            Self::Market(m) => m.meta_mut(),
            Self::Exec(e) => e.meta_mut(),
            Self::Timer(t) => &mut t.meta,
            Self::Operator(o) => &mut o.meta,
            Self::Session(c) => &mut c.meta,
        }
    }

    /// Journal kind and payload bytes.
    pub fn encode(&self) -> (Kind, &[u8]) {
        match self {
            Self::Market(MarketEvent::Top(r)) => (Kind::Top, bytes_of(r)),
            Self::Market(MarketEvent::Delta(r)) => (Kind::Delta, bytes_of(r)),
            Self::Market(MarketEvent::Trade(r)) => (Kind::Trade, bytes_of(r)),
            Self::Market(MarketEvent::Status(r)) => (Kind::FeedStatus, bytes_of(r)),
            Self::Exec(ExecReport::Ack(r)) => (Kind::Ack, bytes_of(r)),
            Self::Exec(ExecReport::Reject(r)) => (Kind::Reject, bytes_of(r)),
            Self::Exec(ExecReport::Fill(r)) => (Kind::Fill, bytes_of(r)),
            Self::Exec(ExecReport::CancelAck(r)) => (Kind::CancelAck, bytes_of(r)),
            Self::Exec(ExecReport::CancelReject(r)) => (Kind::CancelReject, bytes_of(r)),
            Self::Exec(ExecReport::Status(r)) => (Kind::Status, bytes_of(r)),
            Self::Exec(ExecReport::Unknown(r)) => (Kind::Unknown, bytes_of(r)),
            Self::Timer(r) => (Kind::Timer, bytes_of(r)),
            Self::Operator(r) => (Kind::Operator, bytes_of(r)),
            Self::Session(r) => (Kind::SessionCtl, bytes_of(r)),
        }
    }
}

impl Output {
    /// The record header.
    pub fn meta(&self) -> &Meta {
        match self {
            Self::Command(c) => c.meta(),
            Self::OrderUpdate(r) => &r.meta,
            Self::Position(r) => &r.meta,
            Self::Alert(r) => &r.meta,
            Self::Risk(r) => &r.meta,
        }
    }

    /// Journal kind and payload bytes.
    pub fn encode(&self) -> (Kind, &[u8]) {
        match self {
            Self::Command(OrderCommand::New(r)) => (Kind::NewOrder, bytes_of(r)),
            Self::Command(OrderCommand::Cancel(r)) => (Kind::Cancel, bytes_of(r)),
            Self::Command(OrderCommand::Amend(r)) => (Kind::Amend, bytes_of(r)),
            Self::Command(OrderCommand::CancelAll(r)) => (Kind::CancelAll, bytes_of(r)),
            Self::Command(OrderCommand::Query(r)) => (Kind::Query, bytes_of(r)),
            Self::OrderUpdate(r) => (Kind::OrderUpdate, bytes_of(r)),
            Self::Position(r) => (Kind::Position, bytes_of(r)),
            Self::Alert(r) => (Kind::Alert, bytes_of(r)),
            Self::Risk(r) => (Kind::Risk, bytes_of(r)),
        }
    }
}

/// A decoded journal payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Record<'a> {
    /// A core input.
    Input(Input),
    /// A core output.
    Output(Output),
    /// Session metadata.
    Session(SessionStart),
    /// The config text (UTF-8 TOML, as given).
    Config(&'a [u8]),
    /// A raw wire frame (raw frame journals).
    RawFrame(&'a [u8]),
    /// A raw REST snapshot: the instrument it was fetched for, and its body.
    RawSnapshot(InstrumentId, &'a [u8]),
}

/// Why a payload could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The kind code is not one this build knows.
    UnknownKind(u16),
    /// The payload length does not match the kind's record size.
    BadLength {
        /// Kind.
        kind: Kind,
        /// Bytes present.
        len: usize,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownKind(k) => write!(f, "unknown record kind {k}"),
            Self::BadLength { kind, len } => {
                write!(f, "{kind} record has {len} payload bytes (wrong size)")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

fn pod<T: Pod>(kind: Kind, bytes: &[u8]) -> Result<T, DecodeError> {
    bytemuck::try_pod_read_unaligned(bytes).map_err(|_| DecodeError::BadLength {
        kind,
        len: bytes.len(),
    })
}

impl<'a> Record<'a> {
    /// Decodes a payload stored under `kind`.
    pub fn decode(kind: u16, payload: &'a [u8]) -> Result<Self, DecodeError> {
        let k = Kind::from_code(kind).ok_or(DecodeError::UnknownKind(kind))?;
        let p = payload;
        use ExecReport as E;
        use MarketEvent as M;
        use OrderCommand as C;
        Ok(match k {
            Kind::Top => Record::Input(Input::Market(M::Top(pod(k, p)?))),
            Kind::Delta => Record::Input(Input::Market(M::Delta(pod(k, p)?))),
            Kind::Trade => Record::Input(Input::Market(M::Trade(pod(k, p)?))),
            Kind::FeedStatus => Record::Input(Input::Market(M::Status(pod(k, p)?))),
            Kind::Ack => Record::Input(Input::Exec(E::Ack(pod(k, p)?))),
            Kind::Reject => Record::Input(Input::Exec(E::Reject(pod(k, p)?))),
            Kind::Fill => Record::Input(Input::Exec(E::Fill(pod(k, p)?))),
            Kind::CancelAck => Record::Input(Input::Exec(E::CancelAck(pod(k, p)?))),
            Kind::CancelReject => Record::Input(Input::Exec(E::CancelReject(pod(k, p)?))),
            Kind::Status => Record::Input(Input::Exec(E::Status(pod(k, p)?))),
            Kind::Unknown => Record::Input(Input::Exec(E::Unknown(pod(k, p)?))),
            Kind::Timer => Record::Input(Input::Timer(pod(k, p)?)),
            Kind::Operator => Record::Input(Input::Operator(pod(k, p)?)),
            Kind::SessionCtl => Record::Input(Input::Session(pod(k, p)?)),
            Kind::NewOrder => Record::Output(Output::Command(C::New(pod(k, p)?))),
            Kind::Cancel => Record::Output(Output::Command(C::Cancel(pod(k, p)?))),
            Kind::Amend => Record::Output(Output::Command(C::Amend(pod(k, p)?))),
            Kind::CancelAll => Record::Output(Output::Command(C::CancelAll(pod(k, p)?))),
            Kind::Query => Record::Output(Output::Command(C::Query(pod(k, p)?))),
            Kind::OrderUpdate => Record::Output(Output::OrderUpdate(pod(k, p)?)),
            Kind::Position => Record::Output(Output::Position(pod(k, p)?)),
            Kind::Alert => Record::Output(Output::Alert(pod(k, p)?)),
            Kind::Risk => Record::Output(Output::Risk(pod(k, p)?)),
            Kind::Session => Record::Session(pod(k, p)?),
            Kind::Config => Record::Config(payload),
            Kind::RawFrame => Record::RawFrame(payload),
            Kind::RawSnapshot => match payload.split_first_chunk::<4>() {
                Some((id, body)) => {
                    Record::RawSnapshot(InstrumentId(u32::from_le_bytes(*id)), body)
                }
                None => {
                    return Err(DecodeError::BadLength {
                        kind: k,
                        len: payload.len(),
                    });
                }
            },
        })
    }
}

impl serde::Serialize for Record<'_> {
    /// The payload's fields (for `journal inspect --json` and tooling); config text as a string.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use ExecReport as E;
        use MarketEvent as M;
        use OrderCommand as C;
        match self {
            Record::Input(Input::Market(M::Top(r))) => r.serialize(s),
            Record::Input(Input::Market(M::Delta(r))) => r.serialize(s),
            Record::Input(Input::Market(M::Trade(r))) => r.serialize(s),
            Record::Input(Input::Market(M::Status(r))) => r.serialize(s),
            Record::Input(Input::Exec(E::Ack(r))) => r.serialize(s),
            Record::Input(Input::Exec(E::Reject(r) | E::CancelReject(r))) => r.serialize(s),
            Record::Input(Input::Exec(E::Fill(r))) => r.serialize(s),
            Record::Input(Input::Exec(E::CancelAck(r))) => r.serialize(s),
            Record::Input(Input::Exec(E::Status(r))) => r.serialize(s),
            Record::Input(Input::Exec(E::Unknown(r))) => r.serialize(s),
            Record::Input(Input::Timer(r)) => r.serialize(s),
            Record::Input(Input::Operator(r)) => r.serialize(s),
            Record::Input(Input::Session(r)) => r.serialize(s),
            Record::Output(Output::Command(C::New(r))) => r.serialize(s),
            Record::Output(Output::Command(C::Cancel(r))) => r.serialize(s),
            Record::Output(Output::Command(C::Amend(r))) => r.serialize(s),
            Record::Output(Output::Command(C::CancelAll(r))) => r.serialize(s),
            Record::Output(Output::Command(C::Query(r))) => r.serialize(s),
            Record::Output(Output::OrderUpdate(r)) => r.serialize(s),
            Record::Output(Output::Position(r)) => r.serialize(s),
            Record::Output(Output::Alert(r)) => r.serialize(s),
            Record::Output(Output::Risk(r)) => r.serialize(s),
            Record::Session(r) => r.serialize(s),
            Record::Config(text) | Record::RawFrame(text) => {
                s.serialize_str(&String::from_utf8_lossy(text))
            }
            Record::RawSnapshot(id, body) => {
                use serde::ser::SerializeStruct;
                let mut st = s.serialize_struct("RawSnapshot", 2)?;
                st.serialize_field("instrument", id)?;
                st.serialize_field("body", &String::from_utf8_lossy(body))?;
                st.end()
            }
        }
    }
}
