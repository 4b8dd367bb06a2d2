//! The exec thread for real venues: owns one [`VenueSession`] per venue, routes each order
//! command by `meta.venue`, drives every session's I/O, and forwards the reports to the core.
//!
//! Reports that do not fit in the report ring wait in a local queue while the thread keeps
//! consuming commands and polling sockets, so a full report ring can never deadlock against a
//! core blocked on a full command ring (the pattern of [`crate::sim_thread`]). Per-venue
//! latency histograms live in the sessions ([`VenueSession::latency`]); the summary returned
//! here carries their printed tables.

use std::collections::VecDeque;

use tickwire_core::event::{ExecReport, Meta, OrderCommand, Reject, RejectReason};
use tickwire_core::ring::{Consumer, Producer};
use tickwire_core::wait::Backoff;

use crate::session::VenueSession;

/// The exec thread's connections.
pub struct VenueExecIo {
    /// Order commands from the core.
    pub commands: Consumer<OrderCommand>,
    /// Execution reports to the core.
    pub reports: Producer<ExecReport>,
    /// How to wait when idle.
    pub backoff: Backoff,
    /// Monotonic clock (ns) for command stamps.
    pub clock: fn() -> u64,
}

/// What the exec thread did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VenueExecSummary {
    /// Commands handled.
    pub commands: u64,
    /// Commands for a venue without a session (rejected).
    pub unroutable: u64,
    /// Reports sent.
    pub reports: u64,
    /// Reports that could not be delivered because the core was gone.
    pub undelivered: u64,
    /// Per venue: its latency table ([`crate::latency::ExecLatency::summary`]).
    pub latency: Vec<String>,
}

/// Runs until the core closes the command ring, then shuts the sessions down (closing their
/// connections) and delivers the remaining reports.
pub fn run_venue_exec(
    sessions: &mut [Box<dyn VenueSession>],
    names: &[String],
    io: VenueExecIo,
) -> VenueExecSummary {
    let VenueExecIo {
        mut commands,
        mut reports,
        mut backoff,
        clock,
    } = io;
    let mut pending: VecDeque<ExecReport> = VecDeque::with_capacity(reports.capacity().max(64));
    let mut summary = VenueExecSummary::default();
    loop {
        let mut worked = flush(&mut pending, &mut reports, &mut summary);
        while let Some(cmd) = commands.try_pop() {
            let now = clock();
            summary.commands += 1;
            worked = true;
            let venue = cmd.meta().venue;
            match sessions.iter_mut().find(|s| s.venue() == venue) {
                Some(s) => s.submit(&cmd, now, &mut |r| pending.push_back(r)),
                None => {
                    summary.unroutable += 1;
                    pending.extend(unroutable(&cmd, now));
                }
            }
        }
        for s in sessions.iter_mut() {
            worked |= s.poll(clock(), &mut |r| pending.push_back(r));
        }
        if commands.is_finished() {
            break;
        }
        if worked {
            backoff.reset();
        } else {
            backoff.idle();
        }
    }
    for s in sessions.iter_mut() {
        // Collect what arrived since the last poll, then close.
        s.poll(clock(), &mut |r| pending.push_back(r));
        s.shutdown();
    }
    for (i, s) in sessions.iter().enumerate() {
        let name = names.get(i).map_or("venue", String::as_str);
        summary.latency.push(s.latency().summary(name));
    }
    // The core keeps draining reports until this thread drops its producer.
    while let Some(r) = pending.pop_front() {
        match reports.forward(r, &mut backoff) {
            Ok(()) => summary.reports += 1,
            Err(_) => {
                summary.undelivered += 1 + pending.len() as u64;
                break;
            }
        }
    }
    summary
}

/// A reject for a command no session can take (its venue has no exec session).
fn unroutable(cmd: &OrderCommand, now: u64) -> Option<ExecReport> {
    let m = cmd.meta();
    let meta = Meta::new(m.venue, m.instrument, now);
    let r = |id| Reject::new(meta, id, RejectReason::VenueUnavailable, 0);
    match cmd {
        OrderCommand::New(o) => Some(ExecReport::Reject(r(o.cl_ord_id))),
        OrderCommand::Cancel(c) => Some(ExecReport::CancelReject(r(c.cl_ord_id))),
        OrderCommand::Amend(a) => Some(ExecReport::CancelReject(r(a.cl_ord_id))),
        // Nothing of ours can be open on a venue we cannot reach through a session.
        OrderCommand::CancelAll(_) => None,
        // A status query about a venue without a session has no one to answer it.
        OrderCommand::Query(_) => None,
    }
}

fn flush(
    pending: &mut VecDeque<ExecReport>,
    reports: &mut Producer<ExecReport>,
    summary: &mut VenueExecSummary,
) -> bool {
    let mut any = false;
    while let Some(r) = pending.pop_front() {
        if let Err(r) = reports.try_push(r) {
            pending.push_front(r);
            break;
        }
        summary.reports += 1;
        any = true;
    }
    any
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latency::ExecLatency;
    use crate::session::ReportSink;
    use tickwire_core::event::{Ack, NewOrder, OrderType, Side, TimeInForce};
    use tickwire_core::ids::{ClientOrderId, InstrumentId, StrategyId, VenueId};
    use tickwire_core::num::{Px, Qty};
    use tickwire_core::ring;

    /// A session that acks every order on its next poll (a loopback venue, to exercise the
    /// thread's routing and queueing; the Binance session is tested against a venue).
    struct Loopback {
        venue: VenueId,
        queued: Vec<ExecReport>,
        latency: ExecLatency,
        shut: bool,
    }

    impl VenueSession for Loopback {
        fn venue(&self) -> VenueId {
            self.venue
        }
        fn submit(&mut self, cmd: &OrderCommand, now_ns: u64, _out: &mut dyn ReportSink) {
            if let OrderCommand::New(o) = cmd {
                self.queued.push(ExecReport::Ack(Ack {
                    meta: Meta::new(self.venue, o.meta.instrument, now_ns),
                    cl_ord_id: o.cl_ord_id,
                    venue_order_id: o.cl_ord_id.seq(),
                }));
                self.latency.record_written(now_ns, now_ns + 1);
            }
        }
        fn poll(&mut self, _now_ns: u64, out: &mut dyn ReportSink) -> bool {
            let any = !self.queued.is_empty();
            for r in self.queued.drain(..) {
                out.report(r);
            }
            any
        }
        fn is_ready(&self) -> bool {
            !self.shut
        }
        fn latency(&self) -> &ExecLatency {
            &self.latency
        }
        fn shutdown(&mut self) {
            self.shut = true;
        }
    }

    fn clock() -> u64 {
        use std::sync::OnceLock;
        use std::time::Instant;
        static T0: OnceLock<Instant> = OnceLock::new();
        T0.get_or_init(Instant::now).elapsed().as_nanos() as u64 + 1
    }

    #[test]
    fn routes_by_venue_queues_past_a_full_ring_and_ends_with_the_commands() {
        // A report ring of 4 while 200 orders are acked: the local queue must absorb it.
        let (mut cmd_tx, cmd_rx) = ring::channel::<OrderCommand>(256);
        let (rep_tx, mut rep_rx) = ring::channel::<ExecReport>(4);
        let n = 200u64;
        for i in 1..=n {
            let venue = VenueId(if i % 2 == 0 { 1 } else { 2 });
            let venue = if i == n { VenueId(9) } else { venue };
            let o = NewOrder::new(
                Meta::new(venue, InstrumentId(1), 0),
                ClientOrderId::new(StrategyId(1), i).unwrap(),
                Side::Buy,
                OrderType::Limit,
                TimeInForce::Gtc,
                Px::ONE,
                Qty::ONE,
            );
            cmd_tx.try_push(OrderCommand::New(o)).unwrap();
        }
        drop(cmd_tx);
        let handle = std::thread::spawn(move || {
            let mut sessions: Vec<Box<dyn VenueSession>> = [1u16, 2]
                .into_iter()
                .map(|v| {
                    Box::new(Loopback {
                        venue: VenueId(v),
                        queued: Vec::new(),
                        latency: ExecLatency::new(),
                        shut: false,
                    }) as Box<dyn VenueSession>
                })
                .collect();
            let s = run_venue_exec(
                &mut sessions,
                &["a".into(), "b".into()],
                VenueExecIo {
                    commands: cmd_rx,
                    reports: rep_tx,
                    backoff: Backoff::default(),
                    clock,
                },
            );
            let written = sessions
                .iter()
                .map(|s| s.latency().written.len())
                .sum::<u64>();
            // Every session was shut down: none is ready any more.
            let all_shut = sessions.iter().all(|s| !s.is_ready());
            (s, written, all_shut)
        });
        let mut got = Vec::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while got.len() < n as usize && std::time::Instant::now() < deadline {
            match rep_rx.try_pop() {
                Some(r) => got.push(r),
                None => std::thread::yield_now(),
            }
        }
        let (summary, written, all_shut) = handle.join().unwrap();
        assert!(all_shut);
        assert_eq!(got.len(), n as usize, "every command answered exactly once");
        assert_eq!(summary.commands, n);
        assert_eq!(summary.unroutable, 1);
        assert_eq!(summary.reports, n);
        assert_eq!(written, n - 1);
        let last = ClientOrderId::new(StrategyId(1), n).unwrap();
        assert!(got.iter().any(|r| matches!(r, ExecReport::Reject(x)
            if x.cl_ord_id == last && x.reason() == Some(RejectReason::VenueUnavailable))));
        let acks = got
            .iter()
            .filter(|r| matches!(r, ExecReport::Ack(_)))
            .count();
        assert_eq!(acks, n as usize - 1);
        assert_eq!(summary.latency.len(), 2);
    }
}
