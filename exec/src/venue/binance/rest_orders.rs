//! REST order entry (`POST` / `DELETE /api/v3/order`) on a helper thread, for
//! `order_entry = "rest"`.
//!
//! [`HttpClient`] is blocking, and a request can take up to its read timeout: it must never
//! run in the exec loop. The session encodes and signs the query string on the exec thread
//! into one of a fixed pool of request buffers and hands it over a bounded queue (the pool
//! size *is* the bound: with no free buffer the command is rejected, never queued without
//! limit, never waited on). The helper sends it, decodes the response (or turns a transport
//! failure into `Unknown`, since a POST that got no answer may have been executed) and sends
//! the reports, the usage headers and the buffer back. Requests go out one at a time, in
//! command order, on one keep-alive connection.

use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TrySendError};
use std::thread::JoinHandle;

use tickwire_core::event::{ExecReport, Meta, Unknown, UnknownCause};
use tickwire_core::ids::VenueId;
use tickwire_net::{HttpClient, HttpOptions, Method, NetError};

use super::encode::{API_KEY_HEADER, ORDER_PATH};
use super::rate::{LimitKind, parse_usage_header};
use super::reports::{BinanceReportDecoder, RequestCtx, RequestKind};
use crate::venue::SymbolTable;

/// Size of one request buffer (a signed order query string is ~300 bytes).
pub const REST_REQ_BUF: usize = 1024;
/// Requests that may be queued or in flight at once.
pub const REST_POOL: usize = 64;

/// A request buffer from the pool.
pub type ReqBuf = Box<[u8; REST_REQ_BUF]>;

/// One request for the helper.
#[derive(Debug)]
pub struct RestJob {
    /// The session's request id.
    pub req_id: u64,
    /// What the request is about (for decoding errors).
    pub ctx: RequestCtx,
    /// The signed query string is `buf[..len]`.
    pub buf: ReqBuf,
    /// Its length.
    pub len: usize,
}

/// What the helper reports back.
#[derive(Debug)]
pub enum RestEvent {
    /// The request `req_id` was written at `written_ns`; its response was read at `done_ns`
    /// (0 when none came).
    Done {
        /// Request id.
        req_id: u64,
        /// When the request went out.
        written_ns: u64,
        /// When the response was complete (0 on failure).
        done_ns: u64,
        /// The buffer, back to the pool.
        buf: ReqBuf,
    },
    /// A report decoded from a response (or `Unknown` for a failure).
    Report(ExecReport),
    /// A usage header: counter, window ms, count.
    Used(LimitKind, u64, u32),
    /// HTTP 429/418 with `Retry-After` seconds (if sent).
    RateLimited(Option<u64>),
}

/// The session's handle on the REST order thread.
#[derive(Debug)]
pub struct RestOrders {
    jobs: Option<SyncSender<RestJob>>,
    events: Receiver<RestEvent>,
    free: Vec<ReqBuf>,
    thread: Option<JoinHandle<()>>,
}

impl RestOrders {
    /// Starts the thread with its own keep-alive connection to `base_url`.
    #[allow(clippy::too_many_arguments)]
    pub fn spawn(
        name: &str,
        venue: VenueId,
        base_url: &str,
        tls: Arc<rustls::ClientConfig>,
        api_key: String,
        mut decoder: BinanceReportDecoder,
        symbols: SymbolTable,
        mono: fn() -> u64,
    ) -> Result<Self, NetError> {
        let mut http = HttpClient::new(base_url, tls, HttpOptions::default())?;
        let (tx, rx) = mpsc::sync_channel::<RestJob>(REST_POOL);
        let (ev_tx, ev_rx) = mpsc::channel::<RestEvent>();
        let thread = std::thread::Builder::new()
            .name(format!("{name}-orders"))
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    run(
                        &mut http,
                        &api_key,
                        &mut decoder,
                        &symbols,
                        (venue, mono),
                        job,
                        &ev_tx,
                    );
                }
            })
            .map_err(NetError::Io)?;
        Ok(Self {
            jobs: Some(tx),
            events: ev_rx,
            free: (0..REST_POOL)
                .map(|_| Box::new([0u8; REST_REQ_BUF]))
                .collect(),
            thread: Some(thread),
        })
    }

    /// A free request buffer, if any (none: too many requests outstanding).
    pub fn take_buf(&mut self) -> Option<ReqBuf> {
        self.free.pop()
    }

    /// Returns an unused buffer to the pool.
    pub fn put_buf(&mut self, buf: ReqBuf) {
        self.free.push(buf);
    }

    /// Hands `job` to the thread; gives the job back if the thread is gone.
    pub fn send(&mut self, job: RestJob) -> Result<(), RestJob> {
        match &self.jobs {
            Some(tx) => tx.try_send(job).map_err(|e| match e {
                TrySendError::Full(j) | TrySendError::Disconnected(j) => j,
            }),
            None => Err(job),
        }
    }

    /// The next event, if any (never blocks). A `Done` event's buffer should go back with
    /// [`put_buf`](Self::put_buf).
    pub fn try_event(&mut self) -> Option<RestEvent> {
        self.events.try_recv().ok()
    }

    /// Requests outstanding (buffers not in the pool).
    pub fn outstanding(&self) -> usize {
        REST_POOL - self.free.len()
    }

    /// Stops and joins the thread after the queued requests.
    pub fn stop(&mut self) {
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for RestOrders {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(
    http: &mut HttpClient,
    api_key: &str,
    decoder: &mut BinanceReportDecoder,
    symbols: &SymbolTable,
    (venue, mono): (VenueId, fn() -> u64),
    job: RestJob,
    events: &Sender<RestEvent>,
) {
    let method = match job.ctx.kind {
        RequestKind::Place => Method::Post,
        RequestKind::Cancel => Method::Delete,
    };
    // The query string is ASCII (percent-encoded symbol, digits, hex): valid UTF-8.
    let query = std::str::from_utf8(&job.buf[..job.len]).unwrap_or_default();
    let url = format!("{ORDER_PATH}?{query}");
    let written_ns = mono();
    let result = http.request(method, &url, &[(API_KEY_HEADER, api_key)], Some(b""));
    let done_ns = mono();
    let mut emit = |r: ExecReport| {
        let _ = events.send(RestEvent::Report(r));
    };
    let ok = match result {
        Ok(mut resp) => {
            for (n, v) in &resp.headers {
                if let Some((k, i, c)) = parse_usage_header(n, v) {
                    let _ = events.send(RestEvent::Used(k, i, c));
                }
            }
            if resp.status == 429 || resp.status == 418 {
                let after = resp
                    .header("Retry-After")
                    .and_then(|v| v.trim().parse().ok());
                let _ = events.send(RestEvent::RateLimited(after));
            }
            let status = resp.status;
            if decoder
                .decode_rest_response(status, &mut resp.body, job.ctx, symbols, done_ns, &mut emit)
                .is_err()
            {
                // A 2xx we cannot read: the order may well exist.
                unknown(
                    venue,
                    job.ctx,
                    done_ns,
                    UnknownCause::ServerError,
                    &mut emit,
                );
            }
            true
        }
        Err(e) => {
            let cause = if e.is_timeout() {
                UnknownCause::Timeout
            } else {
                UnknownCause::Disconnect
            };
            unknown(venue, job.ctx, done_ns, cause, &mut emit);
            false
        }
    };
    let _ = events.send(RestEvent::Done {
        req_id: job.req_id,
        written_ns,
        done_ns: if ok { done_ns } else { 0 },
        buf: job.buf,
    });
}

fn unknown(
    venue: VenueId,
    ctx: RequestCtx,
    now: u64,
    cause: UnknownCause,
    emit: &mut impl FnMut(ExecReport),
) {
    let meta = Meta::new(venue, ctx.instrument, now);
    emit(ExecReport::Unknown(Unknown::new(
        meta,
        ctx.cl_ord_id,
        cause,
    )));
}
