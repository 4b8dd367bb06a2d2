//! The reconciliation poller against a fake venue (a shared in-memory order book of truth
//! behind a `VenueQueries`): the cycle's logic step by step, and the whole poller thread next
//! to the real core runner, with a streaming path that looks healthy but never reports fills.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use tickwire_core::engine::runner::{CoreIo, run_core};
use tickwire_core::engine::{Ctx, Engine, EngineConfig, Strategy};
use tickwire_core::event::{
    Ack, ExecReport, Fill, Liquidity, MarketEvent, Meta, OrderCommand, OrderStatus, OrderType,
    Reject, RejectReason, Side, StatusReport, TimeInForce, TopOfBook,
};
use tickwire_core::ids::{ClientOrderId, InstrumentId, StrategyId, VenueId};
use tickwire_core::num::{InstrumentSpec, Px, Qty};
use tickwire_core::order::OrderRequest;
use tickwire_core::ring::{StopFlag, channel};
use tickwire_core::wait::{Backoff, WaitPolicy};
use tickwire_exec::queries::{QueryError, VenueQueries};
use tickwire_exec::reconcile::{
    PollAlert, PollerConfig, PollerIo, PollerVenue, VenueBalances, VenueView, ViewConfig,
    spawn_poller,
};
use tickwire_exec::session::ReportSink;

const INST: InstrumentId = InstrumentId(0);

fn px(s: &str) -> Px {
    Px::parse(s).expect("literal")
}
fn qty(s: &str) -> Qty {
    Qty::parse(s).expect("literal")
}
fn oid(seq: u64) -> ClientOrderId {
    ClientOrderId::new(StrategyId(0), seq).expect("small seq")
}

/// An order as the fake venue holds it.
#[derive(Clone, Copy, Debug)]
struct VenueOrder {
    venue_id: u64,
    side: Side,
    qty: Qty,
    filled: Qty,
    status: OrderStatus,
}

/// The venue's truth: orders and the account's trades.
#[derive(Debug, Default)]
struct Truth {
    orders: BTreeMap<ClientOrderId, VenueOrder>,
    trades: Vec<Fill>,
    next_trade: u64,
    /// When set, every query fails with this (transport trouble, rate limit).
    fail: Option<QueryError>,
    /// How many queries were made.
    queries: u64,
    /// Base-asset balance before any trade here; trades move it.
    base_start: Qty,
    /// Moves of the balance that are not trades (a deposit, trading outside the engine).
    base_other: Qty,
}

impl Truth {
    fn place(&mut self, id: ClientOrderId, side: Side, q: Qty) {
        let venue_id = 1000 + id.seq();
        self.orders.insert(
            id,
            VenueOrder {
                venue_id,
                side,
                qty: q,
                filled: Qty::ZERO,
                status: OrderStatus::New,
            },
        );
    }

    /// Executes `q` of order `id` at `p`, as a trade with a fresh id; returns the fill.
    fn execute(&mut self, id: ClientOrderId, p: Px, q: Qty, venue_ts_ns: i64) -> Fill {
        self.next_trade += 1;
        let o = self.orders.get_mut(&id).expect("order exists");
        o.filled = o.filled.saturating_add(q);
        o.status = if o.filled >= o.qty {
            OrderStatus::Filled
        } else {
            OrderStatus::PartiallyFilled
        };
        let mut meta = Meta::new(VenueId::OKX, INST, 0);
        meta.venue_ts_ns = venue_ts_ns;
        let f = Fill::new(
            meta,
            id,
            o.venue_id,
            500 + self.next_trade,
            o.side,
            p,
            q,
            Px::ZERO,
            Liquidity::Maker,
        );
        self.trades.push(f);
        f
    }

    fn position(&self) -> Qty {
        self.trades.iter().fold(Qty::ZERO, |acc, f| {
            if f.side() == Some(Side::Sell) {
                acc.saturating_sub(f.qty)
            } else {
                acc.saturating_add(f.qty)
            }
        })
    }
}

fn status_of(id: ClientOrderId, o: &VenueOrder) -> ExecReport {
    ExecReport::Status(StatusReport::new(
        Meta::new(VenueId::OKX, INST, 0),
        id,
        o.venue_id,
        o.status,
        o.filled,
    ))
}

/// `VenueQueries` over the shared truth, as a REST client would see it.
struct FakeQueries(Arc<Mutex<Truth>>);

impl FakeQueries {
    fn truth(&self) -> Result<MutexGuard<'_, Truth>, QueryError> {
        let mut t = self.0.lock().expect("truth lock");
        t.queries += 1;
        match t.fail.clone() {
            Some(e) => Err(e),
            None => Ok(t),
        }
    }
}

impl VenueBalances for FakeQueries {
    fn base_balance(&mut self, _instrument: InstrumentId) -> Result<Qty, QueryError> {
        let t = self.truth()?;
        Ok(t.base_start
            .saturating_add(t.position())
            .saturating_add(t.base_other))
    }
}

impl VenueQueries for FakeQueries {
    fn venue(&self) -> VenueId {
        VenueId::OKX
    }

    fn open_orders(&mut self, out: &mut dyn ReportSink) -> Result<usize, QueryError> {
        let t = self.truth()?;
        let mut n = 0;
        for (id, o) in &t.orders {
            if matches!(o.status, OrderStatus::New | OrderStatus::PartiallyFilled) {
                out.report(status_of(*id, o));
                n += 1;
            }
        }
        Ok(n)
    }

    fn order_status(
        &mut self,
        _instrument: InstrumentId,
        id: ClientOrderId,
        out: &mut dyn ReportSink,
    ) -> Result<(), QueryError> {
        let t = self.truth()?;
        match t.orders.get(&id) {
            Some(o) => out.report(status_of(id, o)),
            None => out.report(ExecReport::Reject(Reject::new(
                Meta::new(VenueId::OKX, INST, 0),
                id,
                RejectReason::UnknownOrder,
                51603,
            ))),
        }
        Ok(())
    }

    fn fills_after(
        &mut self,
        _instrument: InstrumentId,
        after_trade_id: u64,
        out: &mut dyn ReportSink,
    ) -> Result<u64, QueryError> {
        let t = self.truth()?;
        let mut hi = after_trade_id;
        for f in t.trades.iter().filter(|f| f.trade_id > after_trade_id) {
            out.report(ExecReport::Fill(*f));
            hi = hi.max(f.trade_id);
        }
        Ok(hi)
    }
}

fn view(not_before: i64) -> VenueView {
    VenueView::new(
        VenueId::OKX,
        ViewConfig {
            instruments: vec![INST],
            not_before_venue_ns: not_before,
            grace_ns: 1_000,
            debt_alert_cycles: 2,
            drift_tolerance: Qty::ZERO,
        },
    )
}

/// Runs one cycle, returning what was forwarded and the alerts.
fn cycle(v: &mut VenueView, q: &mut FakeQueries, now: u64) -> (Vec<ExecReport>, Vec<PollAlert>) {
    let mut out = Vec::new();
    let mut alerts = Vec::new();
    v.cycle(q, None, now, &mut |r| out.push(r), &mut |a| alerts.push(a));
    (out, alerts)
}

fn fills(rs: &[ExecReport]) -> Vec<u64> {
    rs.iter()
        .filter_map(|r| match r {
            ExecReport::Fill(f) => Some(f.trade_id),
            _ => None,
        })
        .collect()
}

#[test]
fn fills_are_forwarded_once_and_before_statuses() {
    let truth = Arc::new(Mutex::new(Truth::default()));
    let mut q = FakeQueries(Arc::clone(&truth));
    let mut v = view(0);
    {
        let mut t = truth.lock().unwrap();
        t.place(oid(1), Side::Buy, qty("1"));
        t.execute(oid(1), px("100"), qty("0.25"), 10);
    }
    let (out, alerts) = cycle(&mut v, &mut q, 1);
    assert!(alerts.is_empty(), "{alerts:?}");
    assert_eq!(fills(&out), vec![501]);
    // The fill comes first, then the open order's status.
    assert!(matches!(out[0], ExecReport::Fill(_)));
    assert!(matches!(out.last(), Some(ExecReport::Status(s)) if s.filled_qty == qty("0.25")));

    // Nothing new: no fill re-sent, the status repeated.
    let (out, _) = cycle(&mut v, &mut q, 2);
    assert!(fills(&out).is_empty());
    assert_eq!(out.len(), 1);

    truth
        .lock()
        .unwrap()
        .execute(oid(1), px("100"), qty("0.75"), 20);
    let (out, alerts) = cycle(&mut v, &mut q, 3);
    assert!(alerts.is_empty(), "{alerts:?}");
    assert_eq!(fills(&out), vec![502]);
    // The order left the open list: looked up, final status forwarded, then forgotten.
    assert!(out.iter().any(|r| matches!(r,
        ExecReport::Status(s) if s.status == OrderStatus::Filled.code() && s.filled_qty == qty("1"))));
    assert_eq!(v.tracked_orders(), 0);
    assert_eq!(v.position(INST), qty("1"));
    assert_eq!(v.stats().fills_forwarded, 2);
}

#[test]
fn fills_before_the_session_are_not_forwarded() {
    let truth = Arc::new(Mutex::new(Truth::default()));
    let mut q = FakeQueries(Arc::clone(&truth));
    let mut v = view(1_000);
    {
        let mut t = truth.lock().unwrap();
        t.place(oid(1), Side::Sell, qty("2"));
        t.execute(oid(1), px("100"), qty("1"), 999);
        t.execute(oid(1), px("100"), qty("1"), 1_000);
    }
    let (out, _) = cycle(&mut v, &mut q, 1);
    assert_eq!(fills(&out), vec![502]);
    assert_eq!(v.stats().fills_before_session, 1);
    assert_eq!(v.position(INST), qty("1").neg());
}

#[test]
fn fill_debt_is_chased_and_alerted_when_it_persists() {
    let truth = Arc::new(Mutex::new(Truth::default()));
    let mut q = FakeQueries(Arc::clone(&truth));
    let mut v = view(0);
    {
        let mut t = truth.lock().unwrap();
        // Another order traded normally: the trade cursor moves past its trade id (501).
        t.place(oid(2), Side::Buy, qty("1"));
        t.execute(oid(2), px("100"), qty("1"), 1);
        t.place(oid(1), Side::Buy, qty("1"));
        // Status says 0.5 filled, but the fills endpoint has nothing (yet).
        let o = t.orders.get_mut(&oid(1)).unwrap();
        o.filled = qty("0.5");
        o.status = OrderStatus::PartiallyFilled;
    }
    let (out, alerts) = cycle(&mut v, &mut q, 1);
    assert!(alerts.is_empty(), "{alerts:?}");
    assert_eq!(fills(&out), vec![501]);
    assert_eq!(v.stats().debt_rescans, 1);
    let (_, alerts) = cycle(&mut v, &mut q, 2);
    assert!(
        matches!(&alerts[..], [PollAlert::FillDebt { order, venue_filled, fills_seen, cycles: 2, .. }]
            if *order == oid(1) && *venue_filled == qty("0.5") && fills_seen.is_zero()),
        "{alerts:?}"
    );
    // The trade shows up with an id below the cursor (indexed late): only the debt rescan of
    // the recent window can find it.
    {
        let mut t = truth.lock().unwrap();
        t.orders.get_mut(&oid(1)).unwrap().filled = Qty::ZERO;
        let mut f = t.execute(oid(1), px("99"), qty("0.5"), 5);
        f.trade_id = 1;
        t.trades.pop();
        t.trades.push(f);
    }
    let (out, alerts) = cycle(&mut v, &mut q, 3);
    assert!(alerts.is_empty(), "{alerts:?}");
    assert_eq!(fills(&out), vec![1]);
    assert_eq!(v.stats().fills_repeated, 3); // 501 again in each of the three rescans
    assert_eq!(v.position(INST), qty("1.5"));
    // Debt settled: the next cycle raises nothing and re-scans nothing.
    let rescans = v.stats().debt_rescans;
    let (_, alerts) = cycle(&mut v, &mut q, 4);
    assert!(alerts.is_empty());
    assert_eq!(v.stats().debt_rescans, rescans);
}

#[test]
fn orders_the_venue_does_not_know_are_rejected_after_the_grace_period() {
    let truth = Arc::new(Mutex::new(Truth::default()));
    let mut q = FakeQueries(Arc::clone(&truth));
    let mut v = view(0);
    let cmd = OrderCommand::New(tickwire_core::event::NewOrder::new(
        Meta::new(VenueId::OKX, INST, 0),
        oid(7),
        Side::Buy,
        OrderType::Limit,
        TimeInForce::Gtc,
        px("1"),
        qty("1"),
    ));
    v.watch(&cmd, 100);
    // Within the grace period the order may still be in flight: not looked up.
    let (out, alerts) = cycle(&mut v, &mut q, 500);
    assert!(out.is_empty() && alerts.is_empty());
    let (out, alerts) = cycle(&mut v, &mut q, 1_100);
    assert!(matches!(&out[..], [ExecReport::Reject(r)]
        if r.cl_ord_id == oid(7) && r.reason() == Some(RejectReason::UnknownOrder)));
    assert!(matches!(&alerts[..], [PollAlert::UnknownOrder { order, .. }] if *order == oid(7)));
    assert_eq!(v.tracked_orders(), 0);
    // An order on another venue is not this view's business.
    let mut other = cmd;
    if let OrderCommand::New(n) = &mut other {
        n.meta.venue = VenueId::BINANCE;
    }
    v.watch(&other, 100);
    assert_eq!(v.tracked_orders(), 0);
}

#[test]
fn a_rate_limited_cycle_ends_early_and_the_next_one_recovers() {
    let truth = Arc::new(Mutex::new(Truth::default()));
    let mut q = FakeQueries(Arc::clone(&truth));
    let mut v = view(0);
    {
        let mut t = truth.lock().unwrap();
        t.place(oid(1), Side::Buy, qty("1"));
        t.execute(oid(1), px("100"), qty("1"), 1);
        t.fail = Some(QueryError::RateLimited { retry_after_s: 1 });
    }
    let (out, alerts) = cycle(&mut v, &mut q, 1);
    assert!(out.is_empty());
    assert!(matches!(&alerts[..], [PollAlert::QueryFailed { .. }]));
    // One refused query, then the cycle stopped asking.
    assert_eq!(truth.lock().unwrap().queries, 1);
    truth.lock().unwrap().fail = None;
    let (out, alerts) = cycle(&mut v, &mut q, 2);
    assert!(alerts.is_empty());
    assert_eq!(fills(&out), vec![501]);
}

#[test]
fn balance_moves_the_fills_do_not_explain_raise_a_drift_alert() {
    let truth = Arc::new(Mutex::new(Truth {
        base_start: qty("5"),
        ..Truth::default()
    }));
    let mut q = FakeQueries(Arc::clone(&truth));
    let mut b = FakeQueries(Arc::clone(&truth));
    let mut v = view(0);
    let mut run = |v: &mut VenueView, now: u64| {
        let mut alerts = Vec::new();
        v.cycle(&mut q, Some(&mut b), now, &mut |_| {}, &mut |a| {
            alerts.push(a)
        });
        alerts
    };
    {
        let mut t = truth.lock().unwrap();
        t.place(oid(1), Side::Buy, qty("2"));
        t.execute(oid(1), px("100"), qty("1"), 1);
    }
    // Trades explain every move: no drift, however long.
    for now in 1..=4 {
        assert!(run(&mut v, now).is_empty());
    }
    truth
        .lock()
        .unwrap()
        .execute(oid(1), px("100"), qty("1"), 2);
    assert!(run(&mut v, 5).is_empty());
    // Something else moves the balance: an alert once it has lasted two cycles.
    truth.lock().unwrap().base_other = qty("0.5");
    assert!(run(&mut v, 6).is_empty());
    let alerts = run(&mut v, 7);
    assert!(
        matches!(&alerts[..], [PollAlert::PositionDrift { venue_balance, expected, cycles: 2, .. }]
            if *venue_balance == qty("7.5") && *expected == qty("7")),
        "{alerts:?}"
    );
    assert_eq!(
        alerts[0].to_string(),
        "reconcile: venue 3 instrument 0: base balance 7.5, fills explain 7, for 2 cycles"
    );
    assert_eq!(v.stats().balance_checks, 7);
    // Back in line: the drift count restarts.
    truth.lock().unwrap().base_other = Qty::ZERO;
    assert!(run(&mut v, 8).is_empty());
}

// ---- the poller thread beside the real core ---------------------------------------------

/// Buys 1 at the bid once, when flat with nothing open.
struct BuyOnce {
    done: bool,
}

impl Strategy for BuyOnce {
    fn name(&self) -> &str {
        "buy-once"
    }
    fn on_book(&mut self, ctx: &mut Ctx<'_>, instrument: InstrumentId) {
        if self.done {
            return;
        }
        let Some(bid) = ctx.market(instrument).and_then(|m| m.best_bid()) else {
            return;
        };
        let req = OrderRequest {
            instrument,
            side: Side::Buy,
            px: bid,
            qty: qty("1"),
            order_type: OrderType::Limit,
            tif: TimeInForce::Gtc,
        };
        self.done = ctx.place(req).is_ok();
    }
}

static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
fn mono_ns() -> u64 {
    u64::try_from(EPOCH.get_or_init(Instant::now).elapsed().as_nanos()).unwrap_or(u64::MAX)
}

fn backoff() -> Backoff {
    Backoff::new(WaitPolicy::SpinThenPark {
        spins: 16,
        yields: 4,
        park: Duration::from_micros(200),
    })
}

/// Waits up to 20 s for `cond`, failing loudly.
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn poller_books_fills_the_healthy_looking_stream_never_sent() {
    let truth = Arc::new(Mutex::new(Truth::default()));
    let spec = InstrumentSpec {
        id: INST,
        venue: VenueId::OKX,
        symbol: "BTC-USDT".into(),
        tick: px("0.1"),
        lot: qty("0.0001"),
        min_qty: qty("0.0001"),
        min_notional: Px::ZERO,
    };
    let mut engine = Engine::new(
        &EngineConfig {
            instruments: vec![spec],
            max_open_orders: 8,
            book_depth: 8,
            fill_memory: 64,
        },
        vec![Box::new(BuyOnce { done: false })],
    );

    let (mut mkt_tx, mkt_rx) = channel::<MarketEvent>(16);
    let (cmd_tx, mut cmd_rx) = channel::<OrderCommand>(16);
    let (mut stream_tx, stream_rx) = channel::<ExecReport>(16);
    // Small on purpose: the poller must wait for room rather than lose a report.
    let (poll_tx, poll_rx) = channel::<ExecReport>(2);
    let (_ctl_tx, ctl_rx) = channel(4);
    let stop = StopFlag::new();

    // The streaming path: acks every order and then stays silent (no fills, ever), except
    // the first trade, which it does deliver — so the core sees that one from both paths.
    let stream_sends_first = Arc::new(AtomicU64::new(0));
    let exec_truth = Arc::clone(&truth);
    let first = Arc::clone(&stream_sends_first);
    let exec = thread::spawn(move || {
        let mut b = backoff();
        let mut acks = 0u64;
        loop {
            if let Some(cmd) = cmd_rx.try_pop() {
                if let OrderCommand::New(n) = cmd {
                    exec_truth
                        .lock()
                        .unwrap()
                        .place(n.cl_ord_id, Side::Buy, n.qty);
                    let ack = Ack {
                        meta: Meta::new(VenueId::OKX, INST, mono_ns()),
                        cl_ord_id: n.cl_ord_id,
                        venue_order_id: 1000 + n.cl_ord_id.seq(),
                    };
                    stream_tx.forward(ExecReport::Ack(ack), &mut b).unwrap();
                    acks += 1;
                }
                continue;
            }
            let trade = first.swap(0, Ordering::AcqRel);
            if trade != 0 {
                let mut f = exec_truth
                    .lock()
                    .unwrap()
                    .trades
                    .iter()
                    .find(|f| f.trade_id == trade)
                    .copied()
                    .unwrap();
                f.meta.stamps.recv_ns = mono_ns();
                stream_tx.forward(ExecReport::Fill(f), &mut b).unwrap();
            }
            if cmd_rx.is_finished() {
                return acks;
            }
            b.idle();
        }
    });

    let poller = spawn_poller(
        PollerConfig {
            interval: Duration::from_millis(30),
        },
        vec![PollerVenue {
            queries: Box::new(FakeQueries(Arc::clone(&truth))),
            balances: Some(Box::new(FakeQueries(Arc::clone(&truth)))),
            view: ViewConfig {
                instruments: vec![INST],
                ..ViewConfig::default()
            },
        }],
        PollerIo {
            reports: poll_tx,
            watch: None,
            stop: stop.clone(),
            clock: mono_ns,
            backoff: backoff(),
        },
        Box::new(|_| {}),
    )
    .expect("spawn poller");

    let core_stop = stop.clone();
    let core = thread::spawn(move || {
        let io = CoreIo {
            market: vec![mkt_rx],
            reports: vec![stream_rx, poll_rx],
            control: ctl_rx,
            commands: cmd_tx,
            journal: None,
            backoff: backoff(),
            stop: core_stop,
            clock: mono_ns,
            market_batch: 16,
        };
        let summary = run_core(&mut engine, io).expect("core runs");
        (engine, summary)
    });

    let top = TopOfBook {
        meta: Meta::new(VenueId::OKX, INST, mono_ns()),
        bid_px: px("100"),
        bid_qty: qty("1"),
        ask_px: px("100.1"),
        ask_qty: qty("1"),
        update_id: 1,
    };
    mkt_tx.try_push(MarketEvent::Top(top)).unwrap();
    wait_for("the order at the venue", || {
        !truth.lock().unwrap().orders.is_empty()
    });
    let id = *truth.lock().unwrap().orders.keys().next().unwrap();
    let cycles_before = poller.counters().cycles();
    {
        let mut t = truth.lock().unwrap();
        let f = t.execute(id, px("100"), qty("0.3"), 1);
        stream_sends_first.store(f.trade_id, Ordering::Release);
        t.execute(id, px("100"), qty("0.3"), 2);
        t.execute(id, px("99.9"), qty("0.4"), 3);
    }
    wait_for("the stream to send its one fill", || {
        stream_sends_first.load(Ordering::Acquire) == 0
    });
    wait_for("the poller to forward the three fills", || {
        poller.counters().fills() >= 3
    });
    // It keeps polling although nothing changes and the stream still looks fine.
    let after = poller.counters().cycles();
    wait_for("two more poll cycles", || {
        poller.counters().cycles() >= after + 2
    });
    assert!(after > cycles_before);

    stop.request();
    drop(mkt_tx);
    let summary = poller.join().expect("poller thread");
    let (engine, core_summary) = core.join().expect("core thread");
    let acks = exec.join().expect("exec thread");

    assert_eq!(acks, 1);
    let venue_position = truth.lock().unwrap().position();
    assert_eq!(venue_position, qty("1"));
    assert_eq!(engine.position(StrategyId(0), INST), venue_position);
    // Three trades, each counted once; the one the stream also sent was a duplicate.
    assert_eq!(engine.stats().fills, 3);
    assert_eq!(engine.stats().duplicate_fills, 1);
    assert_eq!(summary.venues[0].stats.fills_forwarded, 3);
    assert_eq!(summary.venues[0].positions, vec![(INST, venue_position)]);
    assert!(!summary.core_gone);
    assert!(core_summary.exec_reports >= 5);
}
