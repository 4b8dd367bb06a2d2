//! The header every record carries: venue, instrument, venue time and latency stamps.

use bytemuck::{Pod, Zeroable};
use serde::Serialize;

use crate::ids::{InstrumentId, VenueId};

/// Monotonic-nanosecond stamps collected as a record moves through the pipeline; zero means
/// "not reached". They measure latency only: no decision ever reads them, except `recv_ns`,
/// which is the record's event time (see [`Meta::event_time`]).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable, Serialize)]
pub struct Stamps {
    /// Bytes read from the socket (or the synthetic source's clock for generated data).
    pub recv_ns: u64,
    /// Parsed into a record.
    pub parsed_ns: u64,
    /// Taken off the ring by the core thread.
    pub core_in_ns: u64,
    /// The core emitted a command in response.
    pub decided_ns: u64,
    /// Taken off the ring by the exec thread.
    pub exec_in_ns: u64,
    /// Request bytes written to the venue socket.
    pub sent_ns: u64,
}

/// The common head of every record.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable, Serialize)]
pub struct Meta {
    /// Venue the record concerns.
    pub venue: VenueId,
    #[serde(skip)]
    _pad: u16,
    /// Instrument the record concerns (`InstrumentId(u32::MAX)` for "all").
    pub instrument: InstrumentId,
    /// The venue's own timestamp in nanoseconds since the epoch (0 when it sent none).
    pub venue_ts_ns: i64,
    /// Latency stamps.
    pub stamps: Stamps,
}

impl Meta {
    /// Instrument id meaning "every instrument" (for cancel-all and venue-wide status).
    pub const ALL_INSTRUMENTS: InstrumentId = InstrumentId(u32::MAX);

    /// A header for `venue`/`instrument` received at `recv_ns`.
    pub fn new(venue: VenueId, instrument: InstrumentId, recv_ns: u64) -> Self {
        Self {
            venue,
            _pad: 0,
            instrument,
            venue_ts_ns: 0,
            stamps: Stamps {
                recv_ns,
                ..Stamps::default()
            },
        }
    }

    /// The time this record happened from the engine's point of view: when it was received.
    /// The core's clock is nothing but this value, so replaying the journal replays time.
    pub fn event_time(&self) -> u64 {
        self.stamps.recv_ns
    }
}
