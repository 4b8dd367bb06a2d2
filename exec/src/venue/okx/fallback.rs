//! The OKX session's helper thread: blocking REST work the exec thread must never wait for —
//! resolving orders whose outcome is unknown (order status, then that order's fills), and
//! order entry over REST while the private WebSocket is down.
//!
//! Jobs arrive on a channel and results go back on another, which the session drains in its
//! `poll`. These channels allocate per message; they carry only failure-path and fallback
//! traffic, never the WebSocket hot path.

use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use simd_json::prelude::*;
use tickwire_core::event::Unknown;
use tickwire_core::event::{
    Ack, AmendOrder, CancelOrder, ExecReport, Meta, NewOrder, Reject, RejectReason, UnknownCause,
};
use tickwire_core::ids::{ClientOrderId, InstrumentId, VenueId};
use tickwire_net::NetError;
use tickwire_net::http::Method;

use super::queries::OkxQueries;
use super::reports::map_okx_code;
use super::rest::{OkxMarket, OkxRest};
use crate::queries::VenueQueries;
use crate::venue::report::{JsonScratch, field, str_of, u64_str};
use crate::venue::write_client_order_id;

/// Work for the helper thread.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Job {
    /// Find out what happened to an order (status, then its fills).
    Resolve {
        /// Instrument.
        inst: InstrumentId,
        /// Order.
        id: ClientOrderId,
    },
    /// Place over REST.
    Place(NewOrder),
    /// Cancel over REST.
    Cancel(CancelOrder),
    /// Amend over REST.
    Amend(AmendOrder),
}

/// Tuning of the helper.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HelperConfig {
    pub venue: VenueId,
    /// Wait before the first status query of an unknown order (an order still in flight is
    /// unknown to the venue).
    pub resolve_delay: Duration,
    /// Status queries per unknown order before giving up (each waits twice as long).
    pub resolve_attempts: u32,
    pub clock: fn() -> u64,
}

/// A scheduled job and how often it has been tried.
struct Pending {
    due: Instant,
    job: Job,
    attempt: u32,
}

struct Helper {
    cfg: HelperConfig,
    queries: OkxQueries,
    rest: OkxRest,
    markets: Vec<OkxMarket>,
    out: Sender<ExecReport>,
    scratch: JsonScratch,
    pending: Vec<Pending>,
}

/// Starts the helper thread; it ends when `jobs`' sender is dropped (pending resolutions
/// still due are abandoned: the reconciliation poller covers them).
pub(crate) fn spawn(
    cfg: HelperConfig,
    queries: OkxQueries,
    rest: OkxRest,
    markets: Vec<OkxMarket>,
    jobs: Receiver<Job>,
    out: Sender<ExecReport>,
) -> std::io::Result<JoinHandle<()>> {
    let mut h = Helper {
        cfg,
        queries,
        rest,
        markets,
        out,
        scratch: JsonScratch::new(),
        pending: Vec::new(),
    };
    thread::Builder::new()
        .name("okx-rest".into())
        .spawn(move || h.run(&jobs))
}

impl Helper {
    fn run(&mut self, jobs: &Receiver<Job>) {
        loop {
            let now = Instant::now();
            let wait = self
                .pending
                .iter()
                .map(|p| p.due.saturating_duration_since(now))
                .min()
                .unwrap_or(Duration::from_secs(3600));
            match jobs.recv_timeout(wait) {
                Ok(job) => {
                    let due = match job {
                        Job::Resolve { .. } => Instant::now() + self.cfg.resolve_delay,
                        _ => Instant::now(),
                    };
                    self.pending.push(Pending {
                        due,
                        job,
                        attempt: 0,
                    });
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            self.run_due();
        }
    }

    fn run_due(&mut self) {
        let now = Instant::now();
        let (due, later): (Vec<Pending>, Vec<Pending>) =
            self.pending.drain(..).partition(|p| p.due <= now);
        self.pending = later;
        for p in due {
            match p.job {
                Job::Resolve { inst, id } => self.resolve(inst, id, p.attempt),
                Job::Place(n) => self.place(&n),
                Job::Cancel(c) => self.cancel(&c),
                Job::Amend(a) => self.amend(&a),
            }
        }
    }

    fn send(&self, r: ExecReport) {
        // The session is gone when this fails: nothing left to tell.
        let _ = self.out.send(r);
    }

    fn meta(&self, inst: InstrumentId) -> Meta {
        Meta::new(self.cfg.venue, inst, (self.cfg.clock)())
    }

    fn schedule_resolve(&mut self, inst: InstrumentId, id: ClientOrderId, attempt: u32) {
        let delay = self.cfg.resolve_delay * 2u32.saturating_pow(attempt.min(8));
        self.pending.push(Pending {
            due: Instant::now() + delay,
            job: Job::Resolve { inst, id },
            attempt,
        });
    }

    /// Order status, then the order's fills from the recent window (the core de-duplicates by
    /// trade id, so fills the stream already delivered count once).
    fn resolve(&mut self, inst: InstrumentId, id: ClientOrderId, attempt: u32) {
        let out = self.out.clone();
        let mut sink = |r: ExecReport| {
            let _ = out.send(r);
        };
        let status = self.queries.order_status(inst, id, &mut sink);
        let fills = status.and_then(|()| {
            let mut only_this = |r: ExecReport| {
                if matches!(r, ExecReport::Fill(f) if f.cl_ord_id == id) {
                    let _ = out.send(r);
                }
            };
            self.queries.fills_after(inst, 0, &mut only_this)
        });
        if fills.is_err() && attempt + 1 < self.cfg.resolve_attempts {
            self.schedule_resolve(inst, id, attempt + 1);
        }
    }

    fn market(&self, inst: InstrumentId) -> Option<&OkxMarket> {
        self.markets.iter().find(|m| m.id == inst)
    }

    /// Sends a REST order-entry request and turns the answer into reports for `id`.
    fn order_entry(
        &mut self,
        inst: InstrumentId,
        id: ClientOrderId,
        path: &str,
        body: &[u8],
        kind: EntryKind,
    ) {
        let meta = self.meta(inst);
        let resp = match self.rest.send(Method::Post, path, body) {
            Ok(r) => r,
            Err(NetError::Connect { .. } | NetError::Resolve { .. } | NetError::Url(_)) => {
                // Never sent: a plain refusal.
                self.send(kind.reject(meta, id, RejectReason::VenueUnavailable, 0));
                return;
            }
            Err(e) => {
                let cause = if e.is_timeout() {
                    UnknownCause::Timeout
                } else {
                    UnknownCause::Disconnect
                };
                self.send(ExecReport::Unknown(Unknown::new(meta, id, cause)));
                self.schedule_resolve(inst, id, 0);
                return;
            }
        };
        if resp.status == 429 {
            self.send(kind.reject(meta, id, RejectReason::RateLimited, 50011));
            return;
        }
        if resp.status >= 500 {
            self.send(ExecReport::Unknown(Unknown::new(
                meta,
                id,
                UnknownCause::ServerError,
            )));
            self.schedule_resolve(inst, id, 0);
            return;
        }
        let mut body = resp.body;
        let parsed = self.scratch.with_root(&mut body, |root| {
            let code = str_of(root, "code")?.parse::<i32>().unwrap_or(-1);
            let data = field(root, "data")?.as_array();
            let first = data.and_then(|d| d.iter().next());
            match first {
                Some(d) => {
                    let s_code = str_of(d, "sCode")?.parse::<i32>().unwrap_or(-1);
                    let ord_id = u64_str(d, "ordId").unwrap_or(0);
                    Ok((s_code, ord_id))
                }
                None => Ok((if code == 0 { -1 } else { code }, 0)),
            }
        });
        match parsed {
            Ok((0, ord_id)) => match kind {
                EntryKind::Place => self.send(ExecReport::Ack(Ack {
                    meta,
                    cl_ord_id: id,
                    venue_order_id: ord_id,
                })),
                // Accepted cancels and amends are confirmed by the order's status.
                EntryKind::Cancel | EntryKind::Amend => self.schedule_resolve(inst, id, 0),
            },
            Ok((code, _)) => {
                if kind == EntryKind::Amend {
                    // There is no amend-reject report: the status query tells the core the
                    // order's real state.
                    self.schedule_resolve(inst, id, 0);
                } else {
                    self.send(kind.reject(meta, id, map_okx_code(code), code));
                }
            }
            Err(_) => {
                // An answer we cannot read: the request may have been acted on.
                self.send(ExecReport::Unknown(Unknown::new(
                    meta,
                    id,
                    UnknownCause::ServerError,
                )));
                self.schedule_resolve(inst, id, 0);
            }
        }
    }

    fn place(&mut self, n: &NewOrder) {
        let inst = n.meta.instrument;
        let Some(m) = self.market(inst).cloned() else {
            self.send(EntryKind::Place.reject(
                self.meta(inst),
                n.cl_ord_id,
                RejectReason::InvalidOrder,
                0,
            ));
            return;
        };
        let mut body = [0u8; 512];
        let mut sign = [0u8; 44];
        let ts = [b'0'; 24];
        match self
            .rest
            .encoder()
            .rest_order(n, &m.instrument(), &ts, &mut body, &mut sign)
        {
            Ok(len) => {
                let body = body[..len].to_vec();
                self.order_entry(
                    inst,
                    n.cl_ord_id,
                    "/api/v5/trade/order",
                    &body,
                    EntryKind::Place,
                );
            }
            Err(_) => self.send(EntryKind::Place.reject(
                self.meta(inst),
                n.cl_ord_id,
                RejectReason::InvalidOrder,
                0,
            )),
        }
    }

    fn cancel(&mut self, c: &CancelOrder) {
        let inst = c.meta.instrument;
        let Some(m) = self.market(inst).cloned() else {
            self.send(EntryKind::Cancel.reject(
                self.meta(inst),
                c.cl_ord_id,
                RejectReason::InvalidOrder,
                0,
            ));
            return;
        };
        let body = format!(
            "{{\"instId\":\"{}\",\"clOrdId\":\"{}\"}}",
            m.inst_id,
            cl_text(c.cl_ord_id)
        );
        self.order_entry(
            inst,
            c.cl_ord_id,
            "/api/v5/trade/cancel-order",
            body.as_bytes(),
            EntryKind::Cancel,
        );
    }

    fn amend(&mut self, a: &AmendOrder) {
        let inst = a.meta.instrument;
        let Some(m) = self.market(inst).cloned() else {
            return;
        };
        let mut px = [0u8; 32];
        let mut sz = [0u8; 32];
        let px = core::str::from_utf8(a.new_px.write_to(0, &mut px)).unwrap_or_default();
        let sz = core::str::from_utf8(a.new_qty.write_to(0, &mut sz)).unwrap_or_default();
        let body = format!(
            "{{\"instId\":\"{}\",\"clOrdId\":\"{}\",\"newSz\":\"{sz}\",\"newPx\":\"{px}\"}}",
            m.inst_id,
            cl_text(a.cl_ord_id)
        );
        self.order_entry(
            inst,
            a.cl_ord_id,
            "/api/v5/trade/amend-order",
            body.as_bytes(),
            EntryKind::Amend,
        );
    }
}

fn cl_text(id: ClientOrderId) -> String {
    let mut b = [0u8; crate::venue::CLIENT_ORDER_ID_MAX];
    let n = write_client_order_id(id, &mut b);
    String::from_utf8_lossy(&b[..n]).into_owned()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EntryKind {
    Place,
    Cancel,
    Amend,
}

impl EntryKind {
    fn reject(self, meta: Meta, id: ClientOrderId, reason: RejectReason, code: i32) -> ExecReport {
        let r = Reject::new(meta, id, reason, code);
        match self {
            Self::Place => ExecReport::Reject(r),
            Self::Cancel | Self::Amend => ExecReport::CancelReject(r),
        }
    }
}
