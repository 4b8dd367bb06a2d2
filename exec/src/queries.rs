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

/// How the unknown-order resolver retries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResolvePolicy {
    /// Delay before the first query (the venue may still be processing the request).
    pub first_delay_ns: u64,
    /// Ceiling of the doubling delay between attempts.
    pub max_delay_ns: u64,
    /// Queries per order before giving up (the order then stays `Unknown` for the
    /// reconciliation poller and the operator).
    pub max_attempts: u32,
}

impl Default for ResolvePolicy {
    /// 200 ms, doubling to 5 s, 8 attempts (about 25 s in all).
    fn default() -> Self {
        Self {
            first_delay_ns: 200_000_000,
            max_delay_ns: 5_000_000_000,
            max_attempts: 8,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Pending {
    instrument: InstrumentId,
    id: ClientOrderId,
    attempts: u32,
    next_ns: u64,
}

/// Counters of an [`UnknownResolver`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResolveStats {
    /// Orders added.
    pub added: u64,
    /// Orders whose state a query established.
    pub resolved: u64,
    /// Orders given up on after [`ResolvePolicy::max_attempts`] (still `Unknown`).
    pub gave_up: u64,
    /// Queries made (status and fill queries).
    pub queries: u64,
    /// Queries that failed.
    pub failures: u64,
}

/// Resolves orders whose outcome is unknown (5xx, timeout, disconnect with the request in
/// flight) by asking the venue, never by guessing: each order is queried by client id until
/// the venue states its status (or that it does not know it), with a doubling delay between
/// attempts and a bounded number of attempts. When the venue reports a filled quantity the
/// recent fills are fetched too, so fills missed during a disconnect reach the core (which
/// drops the ones it already has by trade id).
///
/// Blocking (it calls [`VenueQueries`]): run it off the exec thread's loop, on the session's
/// query helper thread.
#[derive(Debug)]
pub struct UnknownResolver {
    policy: ResolvePolicy,
    pending: Vec<Pending>,
    stats: ResolveStats,
}

impl UnknownResolver {
    /// An empty resolver.
    pub fn new(policy: ResolvePolicy) -> Self {
        Self {
            policy,
            pending: Vec::new(),
            stats: ResolveStats::default(),
        }
    }

    /// Queues `id` for resolution (first query after the policy's first delay). Adding an id
    /// already queued changes nothing.
    pub fn add(&mut self, instrument: InstrumentId, id: ClientOrderId, now_ns: u64) {
        if self.pending.iter().any(|p| p.id == id) {
            return;
        }
        self.stats.added += 1;
        self.pending.push(Pending {
            instrument,
            id,
            attempts: 0,
            next_ns: now_ns.saturating_add(self.policy.first_delay_ns),
        });
    }

    /// Orders still unresolved.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// True when nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// When the next query is due, if any order is pending.
    pub fn next_due_ns(&self) -> Option<u64> {
        self.pending.iter().map(|p| p.next_ns).min()
    }

    /// Counters.
    pub fn stats(&self) -> ResolveStats {
        self.stats
    }

    /// Queries every order that is due at `now_ns`, forwarding all reports to `out`. Returns
    /// how many orders were resolved by this call.
    pub fn step(
        &mut self,
        queries: &mut dyn VenueQueries,
        now_ns: u64,
        out: &mut dyn ReportSink,
    ) -> usize {
        use tickwire_core::event::ExecReport;
        let mut resolved = 0;
        let mut i = 0;
        while i < self.pending.len() {
            let p = self.pending[i];
            if p.next_ns > now_ns {
                i += 1;
                continue;
            }
            let mut decided = false;
            let mut filled = false;
            self.stats.queries += 1;
            let r = queries.order_status(p.instrument, p.id, &mut |r: ExecReport| {
                match r {
                    ExecReport::Status(s) if s.cl_ord_id == p.id => {
                        decided = true;
                        filled |= s.filled_qty.is_positive();
                    }
                    ExecReport::Reject(s) if s.cl_ord_id == p.id => decided = true,
                    _ => {}
                }
                out.report(r);
            });
            match r {
                Ok(()) if decided => {
                    if filled {
                        // Fills may have been missed while the outcome was unknown.
                        self.stats.queries += 1;
                        if queries.fills_after(p.instrument, 0, out).is_err() {
                            self.stats.failures += 1;
                        }
                    }
                    self.pending.swap_remove(i);
                    self.stats.resolved += 1;
                    resolved += 1;
                    continue;
                }
                Ok(()) => {}
                Err(_) => self.stats.failures += 1,
            }
            let wait = match r {
                Err(QueryError::RateLimited { retry_after_s }) => {
                    retry_after_s.saturating_mul(1_000_000_000)
                }
                _ => 0,
            };
            let pe = &mut self.pending[i];
            pe.attempts += 1;
            if pe.attempts >= self.policy.max_attempts {
                self.pending.swap_remove(i);
                self.stats.gave_up += 1;
                continue;
            }
            let backoff = self
                .policy
                .first_delay_ns
                .saturating_mul(1u64 << pe.attempts.min(30))
                .min(self.policy.max_delay_ns);
            pe.next_ns = now_ns.saturating_add(backoff.max(wait));
            i += 1;
        }
        resolved
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickwire_core::event::{
        ExecReport, Fill, Liquidity, Meta, OrderStatus, Reject, RejectReason, Side, StatusReport,
    };
    use tickwire_core::ids::StrategyId;
    use tickwire_core::num::{Px, Qty};

    /// A venue whose answers are scripted per call: `Err` until `fail_first` calls have been
    /// made, then the order's true state.
    struct Scripted {
        fail_first: u32,
        calls: u32,
        fill_calls: u32,
        known: Option<(OrderStatus, Qty)>,
        error: QueryError,
    }

    impl VenueQueries for Scripted {
        fn venue(&self) -> VenueId {
            VenueId(1)
        }
        fn open_orders(&mut self, _out: &mut dyn ReportSink) -> Result<usize, QueryError> {
            Ok(0)
        }
        fn order_status(
            &mut self,
            instrument: InstrumentId,
            id: ClientOrderId,
            out: &mut dyn ReportSink,
        ) -> Result<(), QueryError> {
            self.calls += 1;
            if self.calls <= self.fail_first {
                return Err(self.error.clone());
            }
            let meta = Meta::new(VenueId(1), instrument, 0);
            match self.known {
                Some((st, filled)) => out.report(ExecReport::Status(StatusReport::new(
                    meta, id, 9, st, filled,
                ))),
                None => out.report(ExecReport::Reject(Reject::new(
                    meta,
                    id,
                    RejectReason::UnknownOrder,
                    -2013,
                ))),
            }
            Ok(())
        }
        fn fills_after(
            &mut self,
            instrument: InstrumentId,
            _after: u64,
            out: &mut dyn ReportSink,
        ) -> Result<u64, QueryError> {
            self.fill_calls += 1;
            let meta = Meta::new(VenueId(1), instrument, 0);
            let id = ClientOrderId::new(StrategyId(1), 1).unwrap();
            out.report(ExecReport::Fill(Fill::new(
                meta,
                id,
                9,
                77,
                Side::Buy,
                Px::ONE,
                Qty::parse("0.5").unwrap(),
                Px::ZERO,
                Liquidity::Maker,
            )));
            Ok(77)
        }
    }

    fn id() -> ClientOrderId {
        ClientOrderId::new(StrategyId(1), 1).unwrap()
    }

    fn run(q: &mut Scripted, r: &mut UnknownResolver, until_ns: u64) -> Vec<ExecReport> {
        let mut got = Vec::new();
        let mut now = 0;
        // Step on a 10 ms grid, as a helper thread would wake.
        while now <= until_ns && !r.is_empty() {
            r.step(q, now, &mut |x: ExecReport| got.push(x));
            now += 10_000_000;
        }
        got
    }

    #[test]
    fn resolves_after_transient_failures_with_backoff() {
        let mut q = Scripted {
            fail_first: 2,
            calls: 0,
            fill_calls: 0,
            known: Some((OrderStatus::PartiallyFilled, Qty::parse("0.5").unwrap())),
            error: QueryError::Transport("reset".into()),
        };
        let mut r = UnknownResolver::new(ResolvePolicy::default());
        r.add(InstrumentId(3), id(), 0);
        r.add(InstrumentId(3), id(), 0);
        assert_eq!(r.len(), 1, "an order is queued once");
        assert_eq!(r.next_due_ns(), Some(200_000_000));
        let got = run(&mut q, &mut r, 10_000_000_000);
        assert!(r.is_empty());
        // 2 failures then the answer: 3 status queries, spaced 200 ms, 400 ms, 800 ms.
        assert_eq!(q.calls, 3);
        assert_eq!(q.fill_calls, 1, "a filled quantity fetches the fills");
        assert!(matches!(got[0], ExecReport::Status(s) if s.cl_ord_id == id()));
        assert!(matches!(got[1], ExecReport::Fill(f) if f.trade_id == 77));
        let s = r.stats();
        assert_eq!((s.resolved, s.gave_up, s.failures), (1, 0, 2));
    }

    #[test]
    fn venue_not_knowing_the_order_is_an_answer() {
        let mut q = Scripted {
            fail_first: 0,
            calls: 0,
            fill_calls: 0,
            known: None,
            error: QueryError::Transport("x".into()),
        };
        let mut r = UnknownResolver::new(ResolvePolicy::default());
        r.add(InstrumentId(3), id(), 0);
        let got = run(&mut q, &mut r, 1_000_000_000);
        assert_eq!(q.calls, 1);
        assert_eq!(q.fill_calls, 0);
        assert!(
            matches!(got[..], [ExecReport::Reject(x)] if x.reason() == Some(RejectReason::UnknownOrder))
        );
    }

    #[test]
    fn gives_up_after_bounded_attempts_and_honours_retry_after() {
        let mut q = Scripted {
            fail_first: u32::MAX,
            calls: 0,
            fill_calls: 0,
            known: None,
            error: QueryError::RateLimited { retry_after_s: 2 },
        };
        let policy = ResolvePolicy {
            first_delay_ns: 100_000_000,
            max_delay_ns: 1_000_000_000,
            max_attempts: 4,
        };
        let mut r = UnknownResolver::new(policy);
        r.add(InstrumentId(3), id(), 0);
        let mut now = 0;
        let mut times = Vec::new();
        while !r.is_empty() && now < 60_000_000_000 {
            let before = q.calls;
            r.step(&mut q, now, &mut |_x: ExecReport| {});
            if q.calls > before {
                times.push(now);
            }
            now += 10_000_000;
        }
        assert!(r.is_empty());
        assert_eq!(q.calls, 4, "bounded attempts, no spinning");
        assert_eq!(r.stats().gave_up, 1);
        for w in times.windows(2) {
            assert!(
                w[1] - w[0] >= 2_000_000_000,
                "Retry-After honoured: {times:?}"
            );
        }
    }
}
