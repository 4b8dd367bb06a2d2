//! The core thread: drains the rings in priority order, journals every input and output, runs
//! the engine, forwards order commands, and shuts down without losing a record.
//!
//! Priority within one iteration (DESIGN §5): execution reports first (fills change risk
//! state), then market data (a bounded batch per source so reports are never starved), then
//! timer ticks and operator commands.
//!
//! The runner stamps `core_in_ns` and `decided_ns` with a clock the caller injects; the engine
//! never sees a clock. Journaled outputs are the engine's outputs as produced — the decision
//! stamp is added to the copy sent to the exec thread only — so replay compares like with like.
//!
//! Commands that do not fit in the exec ring wait in a local queue (reserved up front) while the
//! loop keeps draining reports: blocking on a full ring here could deadlock against an exec
//! thread blocked on a full report ring.
//!
//! Shutdown: when the stop flag is set, every market source has ended, or an operator asked
//! for it, the runner journals and processes a `shutdown` operator input (strategies stop,
//! open orders are cancelled), delivers the remaining commands, closes the command ring, and
//! keeps processing reports until the exec thread closes its ring.

use std::collections::VecDeque;
use std::fmt;

use super::Engine;
use crate::event::CancelAll;
use crate::event::{
    ExecReport, Input, MarketEvent, Meta, OperatorAction, OperatorCmd, OrderCommand, Output,
};
use crate::ids::{InstrumentId, VenueId};
use crate::journal::{JournalError, Writer};
use crate::latency::StageHistogram;
use crate::ring::{Consumer, Producer, StopFlag};
use crate::wait::Backoff;

/// The core thread's connections.
pub struct CoreIo {
    /// Market data, one ring per feed thread.
    pub market: Vec<Consumer<MarketEvent>>,
    /// Execution reports: the exec thread's ring first, then any independent source (the
    /// reconciliation poller has its own ring, so neither path can block or stop the other).
    /// Drained in this order every iteration; the run ends once all of them are finished.
    pub reports: Vec<Consumer<ExecReport>>,
    /// Timer ticks and operator commands from the ops thread.
    pub control: Consumer<Input>,
    /// Order commands to the exec thread.
    pub commands: Producer<OrderCommand>,
    /// The journal (none: run unjournaled, e.g. in benchmarks).
    pub journal: Option<Writer>,
    /// How to wait when there is nothing to do.
    pub backoff: Backoff,
    /// Set to stop the run (signals, duration, operator); the runner also sets it when the
    /// engine shuts down, so feeds stop.
    pub stop: StopFlag,
    /// Monotonic clock for latency stamps.
    pub clock: fn() -> u64,
    /// Market events taken per source per iteration.
    pub market_batch: usize,
}

/// What the core thread did.
#[derive(Default)]
pub struct CoreSummary {
    /// Market events processed.
    pub market_events: u64,
    /// Execution reports processed.
    pub exec_reports: u64,
    /// Timer ticks and operator commands processed.
    pub control_inputs: u64,
    /// Order commands handed to the exec thread.
    pub commands_sent: u64,
    /// Largest number of commands that had to wait for room in the exec ring.
    pub max_pending_commands: usize,
    /// Commands the engine produced after the command ring was closed at shutdown (journaled,
    /// never sent).
    pub unsent_after_close: usize,
    /// The journal, handed back for a final report (flushed when dropped); `None` after a
    /// failed append.
    pub journal: Option<Writer>,
    /// The append that failed (a full disk, a read-only directory), if one did. The engine
    /// then stopped the safe way — a shutdown, every order cancelled, reports drained — with
    /// nothing more journaled: it could not be. The run must exit non-zero and say so.
    pub journal_lost: Option<JournalError>,
    /// Latency per stage, from the records' stamps.
    pub latency: CoreLatency,
}

/// Stage latencies the core thread measures.
pub struct CoreLatency {
    /// Market data: socket read → parsed record.
    pub wire_to_parsed: StageHistogram,
    /// Market data: parsed record → taken off the ring by the core.
    pub parsed_to_core: StageHistogram,
    /// Market data: socket read → visible to the core (the feed's whole latency).
    pub wire_to_core: StageHistogram,
    /// Order commands: input taken by the core → command emitted (engine decision time).
    pub decision: StageHistogram,
    /// Order commands: socket read of the triggering input → command emitted (tick to decision).
    pub tick_to_decision: StageHistogram,
    /// Execution reports: read by the exec thread → visible to the core.
    pub report_to_core: StageHistogram,
}

impl Default for CoreLatency {
    fn default() -> Self {
        Self {
            wire_to_parsed: StageHistogram::new("market wire→parsed"),
            parsed_to_core: StageHistogram::new("market parsed→core"),
            wire_to_core: StageHistogram::new("market wire→core"),
            decision: StageHistogram::new("core decision"),
            tick_to_decision: StageHistogram::new("tick→decision"),
            report_to_core: StageHistogram::new("exec report→core"),
        }
    }
}

impl CoreLatency {
    /// The stages, in pipeline order.
    pub fn stages(&self) -> [&StageHistogram; 6] {
        [
            &self.wire_to_parsed,
            &self.parsed_to_core,
            &self.wire_to_core,
            &self.decision,
            &self.tick_to_decision,
            &self.report_to_core,
        ]
    }
}

/// Why the core thread stopped early.
#[derive(Debug)]
pub enum CoreError {
    /// The exec thread went away with commands still undelivered.
    ExecGone {
        /// Commands that could not be delivered.
        undelivered: usize,
    },
}

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ExecGone { undelivered } => write!(
                f,
                "exec thread exited with {undelivered} order command(s) undelivered"
            ),
        }
    }
}

impl std::error::Error for CoreError {}

/// The core's journal, and the append that failed, if one did.
struct Journaling {
    writer: Option<Writer>,
    lost: Option<JournalError>,
}

impl Journaling {
    /// Journals one record, unless the journal was lost. A failed append loses it: the engine
    /// keeps processing — a fill must still move the position, and the shutdown that follows
    /// must cancel what is open — but nothing is journaled any more (the journal cannot take
    /// it) and the main loop stops the run at once.
    fn append(&mut self, kind: u16, ts: u64, bytes: &[u8]) {
        if let Some(w) = self.writer.as_mut()
            && let Err(e) = w.append(kind, ts, bytes)
        {
            self.writer = None;
            self.lost.get_or_insert(e);
        }
    }
}

struct Core<'e> {
    engine: &'e mut Engine,
    journal: Journaling,
    commands: Option<Producer<OrderCommand>>,
    pending: VecDeque<OrderCommand>,
    clock: fn() -> u64,
    summary: CoreSummary,
}

impl Core<'_> {
    fn handle(&mut self, mut input: Input) -> Result<(), CoreError> {
        input.meta_mut().stamps.core_in_ns = (self.clock)();
        let st = input.meta().stamps;
        let lat = &mut self.summary.latency;
        match input {
            Input::Market(_) => {
                lat.wire_to_parsed.record_span(st.recv_ns, st.parsed_ns);
                lat.parsed_to_core.record_span(st.parsed_ns, st.core_in_ns);
                lat.wire_to_core.record_span(st.recv_ns, st.core_in_ns);
            }
            Input::Exec(_) => lat.report_to_core.record_span(st.recv_ns, st.core_in_ns),
            Input::Timer(_) | Input::Operator(_) | Input::Session(_) => {}
        }
        let (kind, bytes) = input.encode();
        self.journal
            .append(kind.code(), input.meta().event_time(), bytes);
        let now = self.engine.now().max(input.meta().event_time());
        for out in self.engine.process(&input) {
            let (kind, bytes) = out.encode();
            self.journal.append(kind.code(), now, bytes);
            if let Output::Command(cmd) = out {
                let mut cmd = *cmd;
                let decided = (self.clock)();
                cmd.meta_mut().stamps.decided_ns = decided;
                let lat = &mut self.summary.latency;
                lat.decision
                    .record_span(cmd.meta().stamps.core_in_ns, decided);
                lat.tick_to_decision
                    .record_span(cmd.meta().stamps.recv_ns, decided);
                self.pending.push_back(cmd);
            }
        }
        self.flush_commands()
    }

    /// Moves queued commands into the exec ring while it has room.
    fn flush_commands(&mut self) -> Result<(), CoreError> {
        let Some(tx) = self.commands.as_mut() else {
            return Ok(());
        };
        self.summary.max_pending_commands =
            self.summary.max_pending_commands.max(self.pending.len());
        while let Some(cmd) = self.pending.pop_front() {
            if let Err(cmd) = tx.try_push(cmd) {
                self.pending.push_front(cmd);
                if tx.is_abandoned() {
                    return Err(CoreError::ExecGone {
                        undelivered: self.pending.len(),
                    });
                }
                break;
            }
            self.summary.commands_sent += 1;
        }
        Ok(())
    }
}

/// Runs the core loop on the calling thread until shutdown completes.
pub fn run_core(engine: &mut Engine, io: CoreIo) -> Result<CoreSummary, CoreError> {
    let CoreIo {
        mut market,
        mut reports,
        mut control,
        commands,
        journal,
        mut backoff,
        stop,
        clock,
        market_batch,
    } = io;
    let capacity = commands.capacity();
    let mut core = Core {
        engine,
        journal: Journaling {
            writer: journal,
            lost: None,
        },
        commands: Some(commands),
        pending: VecDeque::with_capacity(capacity),
        clock,
        summary: CoreSummary::default(),
    };
    let mut shutdown_done = false;
    loop {
        let mut worked = false;
        core.flush_commands()?;
        for ring in reports.iter_mut() {
            while let Some(r) = ring.try_pop() {
                core.handle(Input::Exec(r))?;
                core.summary.exec_reports += 1;
                worked = true;
            }
        }
        for source in market.iter_mut() {
            for _ in 0..market_batch.max(1) {
                let Some(ev) = source.try_pop() else { break };
                core.handle(Input::Market(ev))?;
                core.summary.market_events += 1;
                worked = true;
            }
        }
        while let Some(c) = control.try_pop() {
            core.handle(c)?;
            core.summary.control_inputs += 1;
            worked = true;
        }

        let markets_done = market.iter().all(Consumer::is_finished);
        let stopping = stop.is_set() || markets_done || core.journal.lost.is_some();
        if !shutdown_done && (stopping || core.engine.is_shutting_down()) {
            if !core.engine.is_shutting_down() {
                let meta = Meta::new(VenueId::SYNTHETIC, InstrumentId(u32::MAX), clock());
                let cmd =
                    OperatorCmd::new(meta, CancelAll::EVERY_STRATEGY, OperatorAction::Shutdown);
                core.handle(Input::Operator(cmd))?;
            }
            // Feeds stop producing; what they already pushed is still processed below.
            stop.request();
            shutdown_done = true;
            worked = true;
        }
        if shutdown_done && core.pending.is_empty() && core.commands.is_some() {
            // Closing the command ring is how the exec thread learns it may finish.
            core.commands = None;
        }
        let reports_done = reports.iter().all(Consumer::is_finished);
        if shutdown_done && core.commands.is_none() && reports_done && markets_done {
            break;
        }
        if worked {
            backoff.reset();
        } else {
            backoff.idle();
        }
    }
    // Timer ticks or operator commands that arrived meanwhile are still inputs: process them.
    while let Some(c) = control.try_pop() {
        core.handle(c)?;
        core.summary.control_inputs += 1;
    }
    let mut summary = core.summary;
    summary.unsent_after_close = core.pending.len();
    summary.journal = core.journal.writer;
    summary.journal_lost = core.journal.lost;
    Ok(summary)
}
