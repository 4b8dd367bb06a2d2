//! Blocking REST queries of a venue's order state ([`VenueQueries`]), shared by the order-entry
//! sessions (to resolve orders whose outcome is unknown) and the reconciliation poller.

use core::fmt;

use tickwire_core::ids::{ClientOrderId, InstrumentId, VenueId};

use crate::session::ReportSink;

/// Blocking REST queries of one venue's order state, used to resolve unknown orders and by the
/// reconciliation poller. Each call emits what it learned as ordinary exec reports
/// (`Status` for order state incl. filled qty, `Fill` per trade with the venue trade id — the core
/// de-duplicates by (venue, trade id) — `Reject` with reason UnknownOrder when the venue does not
/// know a client order id).
pub trait VenueQueries: Send {
    /// The venue queried.
    fn venue(&self) -> VenueId;
    /// Every open order on the venue for the configured instruments; returns how many.
    fn open_orders(&mut self, out: &mut dyn ReportSink) -> Result<usize, QueryError>;
    /// One order by client order id.
    fn order_status(
        &mut self,
        instrument: InstrumentId,
        id: ClientOrderId,
        out: &mut dyn ReportSink,
    ) -> Result<(), QueryError>;
    /// Our trades on `instrument` with venue trade id > `after_trade_id` (0 = recent window).
    /// Returns the highest trade id seen.
    fn fills_after(
        &mut self,
        instrument: InstrumentId,
        after_trade_id: u64,
        out: &mut dyn ReportSink,
    ) -> Result<u64, QueryError>;
}

/// Why a query failed (transport, HTTP status, venue error code, decode) — never contains a
/// secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueryError {
    /// Connect, TLS, read or write failed, or the request timed out.
    Transport(String),
    /// The venue answered with an HTTP error status (and its error code, 0 if none).
    Http {
        /// HTTP status.
        status: u16,
        /// The venue's error code from the body (Binance `code`, OKX `sCode`), 0 if none.
        venue_code: i32,
    },
    /// The venue refuses for now (HTTP 429/418): retry no earlier than `retry_after_s`.
    RateLimited {
        /// Seconds from `Retry-After` (0 if absent).
        retry_after_s: u64,
    },
    /// The body could not be decoded.
    Decode(String),
    /// The instrument is not configured for this venue.
    UnknownInstrument(InstrumentId),
    /// The request could not be encoded (buffer too small, unsafe text).
    Encode(String),
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Transport(why) => write!(f, "query transport failed: {why}"),
            Self::Http { status, venue_code } => {
                write!(
                    f,
                    "query failed with HTTP {status} (venue code {venue_code})"
                )
            }
            Self::RateLimited { retry_after_s } => {
                write!(f, "query rate limited; retry after {retry_after_s} s")
            }
            Self::Decode(why) => write!(f, "query reply not decodable: {why}"),
            Self::UnknownInstrument(id) => write!(f, "instrument {} not configured", id.0),
            Self::Encode(why) => write!(f, "query not encodable: {why}"),
        }
    }
}

impl std::error::Error for QueryError {}
