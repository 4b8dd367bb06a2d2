//! What a connection's thread and the tape (or a private push) share: the queue items a
//! connection writes and its control block. A leaf, so that the venue, the private core and the
//! servers can all use it without depending on each other.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize};

/// What a connection's writer is told to do, in order.
#[derive(Debug)]
pub(crate) enum Out {
    /// Send tape frame `i`.
    Frame(u32),
    /// Send a truncated copy of tape frame `i`.
    Malformed(u32),
    /// Close the socket abruptly.
    Disconnect,
    /// Send this text (private pushes: user-data events).
    Text(Arc<str>),
}

/// Shared between a connection's thread and the tape.
#[derive(Debug, Default)]
pub(crate) struct ConnCtl {
    /// Set when the tape dropped this connection (too slow) without being able to queue
    /// `Out::Disconnect`.
    pub kill: AtomicBool,
    /// Items queued and not yet written.
    pub queued: AtomicUsize,
}
