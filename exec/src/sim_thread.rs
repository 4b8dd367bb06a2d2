//! The exec thread for synthetic runs and paper trading: feeds the [`SimExchange`] market data
//! and order commands and sends its reports back to the core.
//!
//! Market data is always drained before a command is handled, so the exchange has seen at least
//! the market the core decided on (the feed pushes to this thread's ring before the core's).
//! Reports that do not fit in the ring wait in a local queue while the thread keeps consuming
//! commands, so a full report ring can never deadlock against a core blocked on commands.

use std::collections::VecDeque;

use tickwire_core::event::{ExecReport, MarketEvent, OrderCommand};
use tickwire_core::ring::{Consumer, Producer};
use tickwire_core::wait::Backoff;

use crate::sim_exchange::SimExchange;

/// The exec thread's connections.
pub struct SimExecIo {
    /// Order commands from the core.
    pub commands: Consumer<OrderCommand>,
    /// Market data, one ring per feed that serves a simulated or paper venue (the exchange's
    /// view of the market).
    pub market: Vec<Consumer<MarketEvent>>,
    /// Execution reports to the core.
    pub reports: Producer<ExecReport>,
    /// How to wait when idle.
    pub backoff: Backoff,
    /// Monotonic clock for receive stamps.
    pub clock: fn() -> u64,
}

/// What the exec thread did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimExecSummary {
    /// Commands handled.
    pub commands: u64,
    /// Reports sent.
    pub reports: u64,
    /// Reports that could not be delivered because the core was gone.
    pub undelivered: u64,
}

/// Runs until the core closes the command ring, then delivers the remaining reports.
pub fn run_sim_exec(exchange: &mut SimExchange, io: SimExecIo) -> SimExecSummary {
    let SimExecIo {
        mut commands,
        mut market,
        mut reports,
        mut backoff,
        clock,
    } = io;
    let mut pending: VecDeque<ExecReport> = VecDeque::with_capacity(reports.capacity());
    let mut summary = SimExecSummary::default();
    loop {
        let mut worked = flush(&mut pending, &mut reports, &mut summary);
        for ring in &mut market {
            while let Some(ev) = ring.try_pop() {
                exchange.on_market(&ev, clock(), &mut |r| pending.push_back(r));
                worked = true;
            }
        }
        // Every queued command, each against the market as it stands now.
        while let Some(cmd) = commands.try_pop() {
            exchange.on_command(&cmd, clock(), &mut |r| pending.push_back(r));
            summary.commands += 1;
            worked = true;
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
    // The core keeps draining reports until this thread drops its producer.
    while let Some(r) = pending.pop_front() {
        match reports.forward(r, &mut backoff) {
            Ok(()) => summary.reports += 1,
            Err(_) => summary.undelivered += 1 + pending.len() as u64,
        }
        if summary.undelivered > 0 {
            break;
        }
    }
    summary
}

fn flush(
    pending: &mut VecDeque<ExecReport>,
    reports: &mut Producer<ExecReport>,
    summary: &mut SimExecSummary,
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
