//! A non-blocking TLS stream over a mio socket: the `Read + Write` that tungstenite frames on.
//!
//! rustls is a state machine with no I/O of its own; this type pumps bytes between it and the
//! socket without ever blocking, surfaces `WouldBlock` to the caller, and stamps the clock at
//! every socket read and write that moved bytes (the receive stamp of a market-data message is
//! the time its last bytes left the kernel, not when it was parsed).

use std::io::{self, Read, Write};

use mio::net::TcpStream;
use rustls::ClientConnection;

use super::Clock;

/// A client TLS session over a non-blocking TCP socket.
#[derive(Debug)]
pub(crate) struct TlsStream {
    pub(crate) tcp: TcpStream,
    pub(crate) tls: ClientConnection,
    clock: Clock,
    /// Clock at the last socket read that returned bytes.
    pub(crate) last_rx_ns: u64,
    /// Clock at the last socket write that sent bytes.
    pub(crate) last_tx_ns: u64,
}

impl TlsStream {
    /// Wraps a connected socket and a fresh client session; `now_ns` seeds both stamps so that
    /// idle timers count from the connection's start.
    pub(crate) fn new(tcp: TcpStream, tls: ClientConnection, clock: Clock, now_ns: u64) -> Self {
        Self {
            tcp,
            tls,
            clock,
            last_rx_ns: now_ns,
            last_tx_ns: now_ns,
        }
    }

    /// Writes queued TLS records to the socket until rustls has none left (`Ok(true)`) or the
    /// socket would block (`Ok(false)`).
    pub(crate) fn write_pending(&mut self) -> io::Result<bool> {
        while self.tls.wants_write() {
            match self.tls.write_tls(&mut self.tcp) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        "socket accepted no bytes",
                    ));
                }
                Ok(_) => self.last_tx_ns = (self.clock)(),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// One socket read into rustls, then decryption. `Ok(0)` is end of stream (the caller asks
    /// the plaintext reader whether it was clean). rustls errors come back as
    /// `io::Error(InvalidData)` wrapping the `rustls::Error`, which
    /// [`NetError::from_io`](super::NetError) unwraps.
    pub(crate) fn read_socket(&mut self) -> io::Result<usize> {
        let n = loop {
            match self.tls.read_tls(&mut self.tcp) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        };
        if n > 0 {
            self.last_rx_ns = (self.clock)();
        }
        if let Err(err) = self.tls.process_new_packets() {
            // rustls queued an alert telling the peer why; send it, best effort, so the
            // server's log says "bad certificate" rather than "connection reset".
            let _ = self.write_pending();
            return Err(io::Error::new(io::ErrorKind::InvalidData, err));
        }
        // Post-handshake messages (key update) may need an answer.
        if self.tls.wants_write() {
            self.write_pending()?;
        }
        Ok(n)
    }

    /// Advances the TLS handshake as far as the socket allows: `Ok(true)` once it is complete.
    pub(crate) fn drive_handshake(&mut self) -> io::Result<bool> {
        loop {
            self.write_pending()?;
            if !self.tls.is_handshaking() {
                return Ok(true);
            }
            if !self.tls.wants_read() {
                // Waiting to send, and the socket is full: try again on the next poll.
                return Ok(false);
            }
            match self.read_socket() {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "server closed the connection during the TLS handshake",
                    ));
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
    }
}

impl Read for TlsStream {
    /// Plaintext already decrypted is returned first; the socket is read only when there is
    /// none, so a receive stamp always belongs to the bytes that completed the message.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.tls.reader().read(buf) {
                // Ok(0) with a non-empty buf: the peer sent close_notify.
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // UnexpectedEof: TCP closed without close_notify.
                Err(e) => return Err(e),
            }
            // After an end of stream the reader above answers Ok(0) or UnexpectedEof, so this
            // loop ends; WouldBlock from the socket goes straight to the caller.
            self.read_socket()?;
        }
    }
}

impl Write for TlsStream {
    /// Encrypts into rustls's send buffer and pushes what the socket takes at once (latency
    /// over batching: tungstenite already hands over a whole frame per call). Returns
    /// `WouldBlock` only when rustls's buffer is at its limit and the socket is full.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut n = self.tls.writer().write(buf)?;
        if n == 0 && !buf.is_empty() {
            self.write_pending()?;
            n = self.tls.writer().write(buf)?;
            if n == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
        }
        self.write_pending()?;
        Ok(n)
    }

    /// Done when every TLS record is in the kernel; `WouldBlock` when some are still queued
    /// (they go out on a later flush, when the socket is writable again).
    fn flush(&mut self) -> io::Result<()> {
        if self.write_pending()? {
            Ok(())
        } else {
            Err(io::ErrorKind::WouldBlock.into())
        }
    }
}
