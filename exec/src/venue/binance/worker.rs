//! The Binance session's helper thread: everything blocking (signed REST queries, the
//! server-time sync, listenKey create/keepalive) runs here so the exec loop never waits on a
//! socket. The session talks to it through a bounded job queue (a full queue is counted, never
//! waited on) and reads what it learned from a result channel with `try_recv`.
//!
//! The worker owns the [`UnknownResolver`]: orders whose outcome is unknown are queried here,
//! with bounded, backed-off attempts, and the reports flow back to the session.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::Duration;

use tickwire_core::event::ExecReport;
use tickwire_core::ids::{ClientOrderId, InstrumentId};

use super::queries::BinanceQueries;
use super::rate::RateLimit;
use crate::queries::{ResolvePolicy, ResolveStats, UnknownResolver};

/// Work for the helper thread.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Job {
    /// Resolve this order's state by query.
    Resolve(InstrumentId, ClientOrderId),
    /// Venue order id → client id, for attributing queried trades.
    LearnOrderId(u64, ClientOrderId),
    /// Re-measure the clock offset.
    SyncTime,
    /// Create a listenKey (`POST /api/v3/userDataStream`).
    CreateListenKey,
    /// Keep the listenKey alive (`PUT /api/v3/userDataStream`).
    KeepAliveListenKey(String),
    /// Fetch `exchangeInfo.rateLimits`.
    FetchRateLimits,
}

/// What the helper thread tells the session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WorkerEvent {
    /// A report learned by a query.
    Report(ExecReport),
    /// A listenKey was created.
    ListenKey(String),
    /// A listenKey request failed (the session retries with backoff); the text names no secret.
    ListenKeyFailed(String),
    /// The venue's published rate limits.
    RateLimits(Vec<RateLimit>),
}

/// Counters shared with the session.
#[derive(Debug, Default)]
pub struct WorkerCounters {
    /// Orders resolved.
    pub resolved: AtomicU64,
    /// Orders given up on (still unknown).
    pub gave_up: AtomicU64,
    /// Queries made by the resolver.
    pub queries: AtomicU64,
    /// Orders currently pending resolution.
    pub pending: AtomicU64,
    /// Clock syncs that failed.
    pub time_sync_failures: AtomicU64,
}

/// The session's handle on its helper thread.
#[derive(Debug)]
pub struct Worker {
    jobs: Option<SyncSender<Job>>,
    events: Receiver<WorkerEvent>,
    thread: Option<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
    counters: Arc<WorkerCounters>,
    dropped_jobs: u64,
}

/// Jobs that may wait (resolution of a burst of orders after a disconnect fits easily).
const JOB_QUEUE: usize = 4096;

impl Worker {
    /// Starts the helper thread owning `queries`; `mono` is the monotonic clock of the resolver.
    pub fn spawn(
        name: &str,
        mut queries: BinanceQueries,
        policy: ResolvePolicy,
        mono: fn() -> u64,
    ) -> std::io::Result<Self> {
        let (jobs_tx, jobs_rx) = mpsc::sync_channel::<Job>(JOB_QUEUE);
        let (ev_tx, ev_rx) = mpsc::channel::<WorkerEvent>();
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(WorkerCounters::default());
        let (stop2, counters2) = (stop.clone(), counters.clone());
        let thread = std::thread::Builder::new()
            .name(format!("{name}-rest"))
            .spawn(move || {
                let mut resolver = UnknownResolver::new(policy);
                loop {
                    if stop2.load(Ordering::Relaxed) {
                        return;
                    }
                    let now = mono();
                    // Wake for the next due query, or at least every 100 ms to see `stop`.
                    let wait = resolver
                        .next_due_ns()
                        .map_or(100_000_000, |due| due.saturating_sub(now))
                        .min(100_000_000);
                    match jobs_rx.recv_timeout(Duration::from_nanos(wait)) {
                        Ok(job) => {
                            run_job(job, &mut queries, &mut resolver, &ev_tx, &counters2, mono)
                        }
                        Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Disconnected) => return,
                    }
                    let mut sink = |r: ExecReport| {
                        let _ = ev_tx.send(WorkerEvent::Report(r));
                    };
                    resolver.step(&mut queries, mono(), &mut sink);
                    publish(&resolver.stats(), resolver.len(), &counters2);
                }
            })?;
        Ok(Self {
            jobs: Some(jobs_tx),
            events: ev_rx,
            thread: Some(thread),
            stop,
            counters,
            dropped_jobs: 0,
        })
    }

    /// Queues `job` without waiting; a full queue drops it and counts (the order then stays
    /// unknown for the reconciliation poller).
    pub fn send(&mut self, job: Job) -> bool {
        let Some(tx) = &self.jobs else {
            return false;
        };
        match tx.try_send(job) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped_jobs += 1;
                false
            }
        }
    }

    /// The next thing the worker learned, if any (never blocks).
    pub fn try_event(&mut self) -> Option<WorkerEvent> {
        self.events.try_recv().ok()
    }

    /// Shared counters.
    pub fn counters(&self) -> &WorkerCounters {
        &self.counters
    }

    /// Jobs dropped because the queue was full.
    pub fn dropped_jobs(&self) -> u64 {
        self.dropped_jobs
    }

    /// Stops and joins the thread (it finishes its current request first, bounded by the HTTP
    /// timeouts).
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.stop();
    }
}

fn publish(s: &ResolveStats, pending: usize, c: &WorkerCounters) {
    c.resolved.store(s.resolved, Ordering::Relaxed);
    c.gave_up.store(s.gave_up, Ordering::Relaxed);
    c.queries.store(s.queries, Ordering::Relaxed);
    c.pending.store(pending as u64, Ordering::Relaxed);
}

fn run_job(
    job: Job,
    queries: &mut BinanceQueries,
    resolver: &mut UnknownResolver,
    events: &mpsc::Sender<WorkerEvent>,
    counters: &WorkerCounters,
    mono: fn() -> u64,
) {
    match job {
        Job::Resolve(inst, id) => resolver.add(inst, id, mono()),
        Job::LearnOrderId(order_id, id) => queries.learn_order_id(order_id, id),
        Job::SyncTime => {
            if queries.sync_time().is_err() {
                counters.time_sync_failures.fetch_add(1, Ordering::Relaxed);
            }
        }
        Job::CreateListenKey => {
            let ev = match queries.create_listen_key() {
                Ok(k) => WorkerEvent::ListenKey(k),
                Err(e) => WorkerEvent::ListenKeyFailed(e.to_string()),
            };
            let _ = events.send(ev);
        }
        Job::FetchRateLimits => {
            // On failure the configured limits stay.
            if let Ok(limits) = queries.rate_limits()
                && !limits.is_empty()
            {
                let _ = events.send(WorkerEvent::RateLimits(limits));
            }
        }
        Job::KeepAliveListenKey(key) => {
            if let Err(e) = queries.keep_alive_listen_key(&key) {
                let _ = events.send(WorkerEvent::ListenKeyFailed(e.to_string()));
            }
        }
    }
}
