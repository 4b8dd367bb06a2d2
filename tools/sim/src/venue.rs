//! A running venue: its tape thread, its book, and the connections subscribed to it.
//!
//! One tape per venue, like the real market: a client joins the live stream at the tape's
//! current position, and REST snapshots come from the one book that the tape moves. The book
//! is updated under the same lock that picks a frame's recipients, so a snapshot taken at any
//! moment is exactly the state after the frames already handed to the connections.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::book::{BinanceBook, DiffOutcome};
use super::config::{Pace, PrivateConfig, StartMode, VenueConfig};
use super::fault::{FaultKind, FaultPlan, FiredFault};
use super::matching::{AccountId, Engine};
use super::private::Listener;
use super::protocol::binance::private as binance_private;
use super::protocol::binance::public as binance;
use super::protocol::okx::private as okx_private;
use super::protocol::okx::public::{self as okx, OkxBook};
use super::server::conn::{ConnCtl, Out};
use super::tape::{BookOp, Frame, Tape};

/// Frames a `fast` connection may have queued: small, so the tape (and the book REST serves)
/// stays close to what the client has actually been written.
const FAST_QUEUE: usize = 64;

/// A venue's static market data.
#[derive(Debug)]
pub(crate) enum Market {
    Binance(binance::Market),
    Okx(okx::Market),
}

/// A venue's live books.
#[derive(Debug)]
pub(crate) enum Books {
    Binance(Vec<BinanceBook>),
    Okx(Vec<Option<OkxBook>>),
}

struct Conn {
    id: u64,
    subs: Vec<bool>,
    /// Subscriptions, including streams the tape does not carry.
    count: usize,
    tx: SyncSender<Out>,
    ctl: Arc<ConnCtl>,
}

pub(crate) struct State {
    conns: Vec<Conn>,
    pub books: Books,
    /// Next tape index to publish.
    pos: usize,
    first_subscription: Option<Instant>,
    done: bool,
    faults: FaultPlan,
    pub fired: Vec<FiredFault>,
    next_conn: u64,
    /// Capture gaps met while applying diffs (not injected ones).
    pub capture_gaps: u64,
    /// The private side, when configured.
    pub private: Option<PrivateSide>,
}

/// A venue's private side, by venue: the one place where the tape and the connection registry
/// pick a venue's private protocol.
pub(crate) enum PrivateSide {
    /// The venue-neutral private core with Binance's push forms.
    Binance(binance_private::Private),
    /// OKX's accounts, orders and `orders` channel pushes.
    Okx(okx_private::Private),
}

impl PrivateSide {
    /// The private side of a venue with `market`'s instruments.
    fn new(cfg: &PrivateConfig, market: &Market) -> Self {
        match market {
            Market::Binance(m) => Self::Binance(binance_private::new(cfg, m)),
            Market::Okx(m) => Self::Okx(okx_private::Private::new(cfg, m)),
        }
    }

    /// Orders, fills and balances.
    pub(crate) fn engine(&self) -> &Engine {
        match self {
            Self::Binance(p) => &p.engine,
            Self::Okx(p) => p.engine(),
        }
    }

    /// The Binance private side, if this venue speaks Binance.
    pub(crate) fn binance(&self) -> Option<&binance_private::Private> {
        match self {
            Self::Binance(p) => Some(p),
            Self::Okx(_) => None,
        }
    }

    /// The Binance private side, if this venue speaks Binance.
    pub(crate) fn binance_mut(&mut self) -> Option<&mut binance_private::Private> {
        match self {
            Self::Binance(p) => Some(p),
            Self::Okx(_) => None,
        }
    }

    /// The OKX private side, if this venue speaks OKX.
    pub(crate) fn okx(&self) -> Option<&okx_private::Private> {
        match self {
            Self::Okx(p) => Some(p),
            Self::Binance(_) => None,
        }
    }

    /// The OKX private side, if this venue speaks OKX.
    pub(crate) fn okx_mut(&mut self) -> Option<&mut okx_private::Private> {
        match self {
            Self::Okx(p) => Some(p),
            Self::Binance(_) => None,
        }
    }

    /// Our resting orders meet the market `frame` moved (`books` already show it).
    fn on_frame(&mut self, market: &Market, books: &Books, tape: &Tape, frame: &Frame) {
        match (self, market, books) {
            (Self::Binance(p), Market::Binance(m), Books::Binance(books)) => {
                binance_private::on_frame(p, m, books, frame.op, super::now_ms());
            }
            (Self::Okx(p), Market::Okx(m), Books::Okx(books)) => {
                p.on_frame(m, books, tape, frame, super::now_ms());
            }
            _ => {}
        }
    }

    /// Connection `conn` closed.
    fn drop_conn(&mut self, conn: u64) {
        match self {
            Self::Binance(p) => p.drop_conn(conn),
            // The OKX private WebSocket drops its own subscriptions when it ends.
            Self::Okx(_) => {}
        }
    }
}

/// A running venue.
pub(crate) struct Venue {
    pub cfg: VenueConfig,
    pub tape: Tape,
    pub market: Market,
    state: Mutex<State>,
    cond: Condvar,
    stop: Arc<AtomicBool>,
    /// REST weight used in the current minute: (minute since epoch, weight).
    weight: Mutex<(u64, u64)>,
}

impl Venue {
    pub(crate) fn new(cfg: VenueConfig, tape: Tape, market: Market, stop: Arc<AtomicBool>) -> Self {
        let books = match &market {
            Market::Binance(m) => Books::Binance(m.initial_books()),
            Market::Okx(m) => Books::Okx(vec![None; m.insts.len()]),
        };
        let faults = FaultPlan::new(cfg.faults.iter().map(|f| (f.at, f.kind)).collect());
        let private = cfg.private.as_ref().map(|pc| PrivateSide::new(pc, &market));
        Self {
            cfg,
            tape,
            market,
            state: Mutex::new(State {
                conns: Vec::new(),
                books,
                pos: 0,
                first_subscription: None,
                done: false,
                faults,
                fired: Vec::new(),
                next_conn: 1,
                capture_gaps: 0,
                private,
            }),
            cond: Condvar::new(),
            stop,
            weight: Mutex::new((0, 0)),
        }
    }

    /// The state, even if a thread panicked while holding it (the data stays usable: every
    /// update is a single assignment or push).
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a request's weight to the current minute; returns the minute's total.
    pub(crate) fn add_weight(&self, w: u32) -> u64 {
        let minute = super::now_ms() / 60_000;
        let mut g = self.weight.lock().unwrap_or_else(|p| p.into_inner());
        if g.0 != minute {
            *g = (minute, 0);
        }
        g.1 += u64::from(w);
        g.1
    }

    /// Wakes the tape (stop, new subscriber, injected fault).
    pub(crate) fn notify(&self) {
        self.cond.notify_all();
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Registers a connection; returns its id, its queue and its control block. A `private`
    /// connection (user data, WS-API) gets the full `queue_frames` queue whatever the pace: it
    /// never holds the tape back, and a burst of reports must not drop it.
    pub(crate) fn register(&self, private: bool) -> (u64, Receiver<Out>, Arc<ConnCtl>) {
        let cap = match self.cfg.pace {
            Pace::Fast if !private => FAST_QUEUE,
            _ => self.cfg.queue_frames,
        };
        let (tx, rx) = mpsc::sync_channel(cap);
        let ctl = Arc::new(ConnCtl::default());
        let mut st = self.lock();
        let id = st.next_conn;
        st.next_conn += 1;
        st.conns.push(Conn {
            id,
            subs: vec![false; self.tape.streams.len()],
            count: 0,
            tx,
            ctl: ctl.clone(),
        });
        (id, rx, ctl)
    }

    pub(crate) fn unregister(&self, id: u64) {
        let mut st = self.lock();
        st.conns.retain(|c| c.id != id);
        if let Some(p) = &mut st.private {
            p.drop_conn(id);
        }
        drop(st);
        self.notify();
    }

    /// Subscribes connection `id` to stream keys, all at one tape position. `under_lock` runs
    /// while the tape is held still (OKX uses it to snapshot its book exactly at that point).
    pub(crate) fn subscribe<R>(
        &self,
        id: u64,
        keys: &[&str],
        under_lock: impl FnOnce(&State) -> R,
    ) -> R {
        let mut st = self.lock();
        if let Some(c) = st.conns.iter_mut().find(|c| c.id == id) {
            for key in keys {
                if let Some(s) = self.tape.stream_id(key) {
                    c.subs[s as usize] = true;
                }
                c.count += 1;
            }
        }
        if st.first_subscription.is_none() {
            st.first_subscription = Some(Instant::now());
        }
        let r = under_lock(&st);
        drop(st);
        self.notify();
        r
    }

    pub(crate) fn unsubscribe(&self, id: u64, key: &str) {
        let sid = self.tape.stream_id(key);
        let mut st = self.lock();
        if let Some(c) = st.conns.iter_mut().find(|c| c.id == id) {
            if let Some(s) = sid {
                c.subs[s as usize] = false;
            }
            c.count = c.count.saturating_sub(1);
        }
    }

    /// Runs one Binance private request under the venue lock; `None` if the venue has no Binance
    /// private side.
    pub(crate) fn binance_request(
        &self,
        op: binance_private::Op,
        call: &binance_private::Call,
        now_ms: u64,
    ) -> Option<binance_private::Outcome> {
        let Market::Binance(market) = &self.market else {
            return None;
        };
        let mut st = self.lock();
        let State { books, private, .. } = &mut *st;
        let (Some(p), Books::Binance(books)) =
            (private.as_mut().and_then(PrivateSide::binance_mut), books)
        else {
            return None;
        };
        let add_weight = |w| self.add_weight(w);
        Some(binance_private::handle(
            p, market, books, add_weight, op, call, now_ms,
        ))
    }

    /// Makes connection `id` receive `account`'s user-data pushes in `form`; false if the
    /// connection is gone or the venue has no private side.
    pub(crate) fn add_listener(
        &self,
        id: u64,
        account: AccountId,
        form: binance_private::PushForm,
    ) -> bool {
        let mut st = self.lock();
        let State { conns, private, .. } = &mut *st;
        let (Some(p), Some(c)) = (
            private.as_mut().and_then(PrivateSide::binance_mut),
            conns.iter().find(|c| c.id == id),
        ) else {
            return false;
        };
        p.listeners.push(Listener {
            conn: id,
            account,
            form,
            tx: c.tx.clone(),
            ctl: c.ctl.clone(),
        });
        true
    }

    /// Stops pushes of subscription `sub` (all of the connection's with `None`) on connection
    /// `id`; false if there was none.
    pub(crate) fn remove_listener(&self, id: u64, sub: Option<u64>) -> bool {
        let mut st = self.lock();
        let Some(p) = st.private.as_mut().and_then(PrivateSide::binance_mut) else {
            return false;
        };
        let before = p.listeners.len();
        p.listeners.retain(|l| {
            l.conn != id
                || sub.is_some_and(|s| l.form != binance_private::PushForm::Subscription(s))
        });
        p.listeners.len() != before
    }

    /// Queues a fault at the next frame.
    pub(crate) fn inject(&self, kind: FaultKind) {
        let mut st = self.lock();
        let seq = self
            .tape
            .frames
            .get(st.pos)
            .map_or(self.tape.captured, |f| f.seq);
        if kind == FaultKind::Disconnect {
            // A disconnect is an event in time, not in the data: it cuts the connections now.
            // Waiting for the next frame raced the tape — in fast pace the whole capture can
            // already sit in the socket buffers, and then no frame ever comes to carry it.
            st.fired.push(FiredFault { kind, frame: seq });
            let cut = Self::cut_subscribed(&mut st);
            drop(st);
            Self::send_disconnects(cut);
        } else {
            st.faults.push(seq, kind);
            drop(st);
        }
        self.notify();
    }

    /// Removes every subscribed connection; their queues and control blocks, to be told.
    fn cut_subscribed(st: &mut State) -> Vec<(SyncSender<Out>, Arc<ConnCtl>)> {
        let mut cut = Vec::new();
        st.conns.retain(|c| {
            if c.count > 0 {
                cut.push((c.tx.clone(), c.ctl.clone()));
                false
            } else {
                true
            }
        });
        cut
    }

    /// Queues a disconnect behind what each connection was already sent; a full queue kills
    /// the connection at once instead.
    fn send_disconnects(cut: Vec<(SyncSender<Out>, Arc<ConnCtl>)>) {
        for (tx, ctl) in cut {
            ctl.queued.fetch_add(1, Ordering::AcqRel);
            if tx.try_send(Out::Disconnect).is_err() {
                ctl.queued.fetch_sub(1, Ordering::AcqRel);
                ctl.kill.store(true, Ordering::Release);
            }
        }
    }

    /// The tape is over and every connection has written everything queued to it.
    pub(crate) fn finished(&self) -> bool {
        let st = self.lock();
        st.done
            && st
                .conns
                .iter()
                .all(|c| c.ctl.queued.load(Ordering::Acquire) == 0)
    }

    /// (capture frames published, capture frames in total, connections).
    pub(crate) fn progress(&self) -> (u64, u64, usize) {
        let st = self.lock();
        let published = if st.done {
            self.tape.captured
        } else {
            self.tape
                .frames
                .get(st.pos)
                .map_or(self.tape.captured, |f| f.seq)
        };
        (published, self.tape.captured, st.conns.len())
    }

    /// Waits on the condvar until `deadline` or a notification; false once stopping.
    fn wait_until<'a>(
        &self,
        st: MutexGuard<'a, State>,
        deadline: Instant,
    ) -> (MutexGuard<'a, State>, bool) {
        let now = Instant::now();
        if now >= deadline {
            return (st, !self.stopped());
        }
        let (st, _) = self
            .cond
            .wait_timeout(st, deadline - now)
            .unwrap_or_else(|p| p.into_inner());
        (st, !self.stopped())
    }

    fn any_subscribed(st: &State) -> bool {
        st.conns.iter().any(|c| c.count > 0)
    }

    /// The tape thread: paces, applies each frame to the book, fans it out, injects faults.
    pub(crate) fn run_tape(self: Arc<Self>) {
        // Wait for the start condition.
        if self.cfg.start == StartMode::FirstSubscribe {
            let mut st = self.lock();
            loop {
                if self.stopped() {
                    return;
                }
                if let Some(t) = st.first_subscription {
                    let go = t + self.cfg.start_delay;
                    if Instant::now() >= go {
                        break;
                    }
                    st = self.wait_until(st, go).0;
                } else {
                    st = self
                        .wait_until(st, Instant::now() + Duration::from_millis(200))
                        .0;
                }
            }
        }
        let t0 = Instant::now();
        let ts0 = self
            .tape
            .origin_ns
            .unwrap_or_else(|| self.tape.frames.first().map_or(0, |f| f.ts_ns));
        let mut last_offset = Duration::ZERO;
        let mut pause_debt = Duration::ZERO;
        let n = self.tape.frames.len();
        let mut i = 0;
        while i < n {
            let frame = &self.tape.frames[i];
            let mut st = self.lock();
            // Pace.
            match self.cfg.pace {
                Pace::Fast => {
                    while !Self::any_subscribed(&st) {
                        let (g, ok) =
                            self.wait_until(st, Instant::now() + Duration::from_millis(200));
                        st = g;
                        if !ok {
                            return;
                        }
                    }
                }
                Pace::Recorded | Pace::Scaled(_) => {
                    let scale = match self.cfg.pace {
                        Pace::Scaled(f) => f,
                        _ => 1.0,
                    };
                    let since = Duration::from_nanos(frame.ts_ns.saturating_sub(ts0));
                    let offset = since.div_f64(scale).max(last_offset);
                    last_offset = offset;
                    let due = t0 + offset + pause_debt;
                    loop {
                        if self.stopped() {
                            return;
                        }
                        if Instant::now() >= due {
                            break;
                        }
                        st = self.wait_until(st, due).0;
                    }
                }
            }
            if self.stopped() {
                return;
            }
            // Derived frames (Binance 1 s depth) never carry faults: `at` counts capture frames.
            let due_faults = if frame.derived {
                Vec::new()
            } else {
                st.faults.due(frame.seq, frame.is_diff)
            };
            // A pause holds the tape before the frame, then re-evaluates nothing else: the
            // remaining faults of this frame still apply after it.
            let pause: Duration = due_faults
                .iter()
                .map(|k| match k {
                    FaultKind::Pause(d) => *d,
                    _ => Duration::ZERO,
                })
                .sum();
            for k in &due_faults {
                st.fired.push(FiredFault {
                    kind: *k,
                    frame: frame.seq,
                });
            }
            if !pause.is_zero() {
                let until = Instant::now() + pause;
                loop {
                    if self.stopped() {
                        return;
                    }
                    if Instant::now() >= until {
                        break;
                    }
                    st = self.wait_until(st, until).0;
                }
                pause_debt += pause;
            }
            // The book moves whether or not anybody receives the frame; our resting orders
            // meet the moved book and the public trades.
            let State {
                books,
                private,
                capture_gaps,
                ..
            } = &mut *st;
            match (&mut *books, &self.market, frame.op) {
                (Books::Binance(books), Market::Binance(m), BookOp::BinanceDiff { book, diff }) => {
                    let sym = &m.symbols[book as usize];
                    if books[book as usize].apply(&sym.diffs[diff as usize]) == DiffOutcome::Gap {
                        *capture_gaps += 1;
                    }
                }
                (Books::Okx(books), Market::Okx(m), op) => okx::apply(m, books, op),
                _ => {}
            }
            if let Some(p) = private {
                p.on_frame(&self.market, books, &self.tape, frame);
            }
            let has = |k: FaultKind| due_faults.contains(&k);
            let disconnects = if has(FaultKind::Disconnect) {
                Self::cut_subscribed(&mut st)
            } else {
                Vec::new()
            };
            let targets: Vec<(u64, SyncSender<Out>, Arc<ConnCtl>)> = st
                .conns
                .iter()
                .filter(|c| c.subs[frame.stream as usize])
                .map(|c| (c.id, c.tx.clone(), c.ctl.clone()))
                .collect();
            st.pos = i + 1;
            drop(st);

            let mut outs: Vec<Out> = Vec::with_capacity(2);
            if has(FaultKind::Malformed) {
                outs.push(Out::Malformed(i as u32));
            }
            if !(has(FaultKind::Gap) && frame.is_diff) {
                outs.push(Out::Frame(i as u32));
                if has(FaultKind::Duplicate) {
                    outs.push(Out::Frame(i as u32));
                }
            }
            Self::send_disconnects(disconnects);
            let mut gone: Vec<u64> = Vec::new();
            for (id, tx, ctl) in &targets {
                for o in &outs {
                    let o = match o {
                        Out::Frame(i) => Out::Frame(*i),
                        Out::Malformed(i) => Out::Malformed(*i),
                        Out::Disconnect => Out::Disconnect,
                        Out::Text(t) => Out::Text(t.clone()),
                    };
                    ctl.queued.fetch_add(1, Ordering::AcqRel);
                    let sent = match self.cfg.pace {
                        // Backpressure: the tape goes at the pace of the slowest reader.
                        Pace::Fast => tx.send(o).is_ok(),
                        _ => match tx.try_send(o) {
                            Ok(()) => true,
                            Err(TrySendError::Full(_)) => {
                                // Too slow for a paced feed: dropped, as a venue drops
                                // consumers that fall behind.
                                ctl.kill.store(true, Ordering::Release);
                                false
                            }
                            Err(TrySendError::Disconnected(_)) => false,
                        },
                    };
                    if !sent {
                        ctl.queued.fetch_sub(1, Ordering::AcqRel);
                        gone.push(*id);
                        break;
                    }
                }
            }
            if !gone.is_empty() {
                self.lock().conns.retain(|c| !gone.contains(&c.id));
            }
            i += 1;
        }
        self.lock().done = true;
        self.notify();
    }
}
