//! The reconciliation poller recovering fills the stream never delivered, end to end: the real
//! core runner, an exec thread driving `OkxSession` over the simulator's private WebSocket, and
//! the poller thread with its own `OkxQueries` over REST and its own ring to the core. The
//! simulator's `no_fill_reports` fault pushes the first fill's state change without the fill
//! (a status without fills): only the poller can book it.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::okx_support::*;
use serde_json::Value;
use tickwire_core::engine::runner::{CoreIo, run_core};
use tickwire_core::engine::{Ctx, Engine, EngineConfig, Strategy};
use tickwire_core::event::{
    ExecReport, MarketEvent, Meta, OrderCommand, OrderType, Side, TimeInForce, TopOfBook,
};
use tickwire_core::ids::{InstrumentId, StrategyId, VenueId};
use tickwire_core::num::{InstrumentSpec, Px, Qty};
use tickwire_core::order::OrderRequest;
use tickwire_core::ring::{StopFlag, channel};
use tickwire_core::wait::{Backoff, WaitPolicy};
use tickwire_exec::queries::VenueQueries;
use tickwire_exec::reconcile::{PollerConfig, PollerVenue, ReconcileConfig, start as start_poller};
use tickwire_exec::session::VenueSession;
use tickwire_exec::venue_thread::{VenueExecIo, run_venue_exec};

/// Sells `q` twice, at once, on the first book it sees, below the bid (so both take).
struct SellTwice {
    q: Qty,
    done: bool,
}

impl Strategy for SellTwice {
    fn name(&self) -> &str {
        "sell-twice"
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
            side: Side::Sell,
            px: bid.checked_sub(px("10")).expect("price"),
            qty: self.q,
            order_type: OrderType::Limit,
            tif: TimeInForce::Gtc,
        };
        let a = ctx.place(req).is_ok();
        let b = ctx.place(req).is_ok();
        self.done = a && b;
    }
}

fn backoff() -> Backoff {
    Backoff::new(WaitPolicy::SpinThenPark {
        spins: 16,
        yields: 4,
        park: Duration::from_micros(500),
    })
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + T;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(5));
    }
}

fn btc_balance(sim: &tickwire_sim::SimHandle) -> Qty {
    let rest = sim
        .endpoint("okx", tickwire_sim::EndpointKind::Rest)
        .expect("rest");
    let mut r =
        tickwire_exec::venue::okx::OkxRest::new(rest, tls(sim), Default::default(), encoder())
            .expect("rest client");
    let resp = r
        .query("/api/v5/account/balance?ccy=BTC")
        .expect("balance query");
    let v: Value = serde_json::from_slice(&resp.body).expect("json");
    qty(v["data"][0]["details"][0]["cashBal"]
        .as_str()
        .unwrap_or_else(|| panic!("no BTC balance: {v}")))
}

/// The venue's trades on BTC-USDT (trade id, signed qty).
fn venue_trades(sim: &tickwire_sim::SimHandle) -> Vec<(u64, Qty)> {
    let mut got = Vec::new();
    queries(sim)
        .fills_after(INST, 0, &mut |r| got.push(r))
        .expect("fills query");
    got.iter()
        .filter_map(|r| match r {
            ExecReport::Fill(f) => Some((
                f.trade_id,
                if f.side() == Some(Side::Sell) {
                    f.qty.neg()
                } else {
                    f.qty
                },
            )),
            _ => None,
        })
        .collect()
}

#[test]
fn the_poller_recovers_fills_the_stream_only_reported_as_status() {
    let sim = sim("[[venue.private.fault]]\nkind = \"no_fill_reports\"\ncount = 1\n");
    finish_tape(&sim);
    let ((bid, bid_sz), (ask, ask_sz)) = top(&sim);
    // Two sells that both fit in the best bid level.
    let q = Qty::from_raw((bid_sz.raw() / 4 / 100_000) * 100_000).max(qty("0.0001"));
    let balance_before = btc_balance(&sim);
    let session_start_ns = i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_nanos(),
    )
    .expect("epoch ns");

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
            fill_memory: 256,
        },
        vec![Box::new(SellTwice { q, done: false })],
    );

    let (mut mkt_tx, mkt_rx) = channel::<MarketEvent>(16);
    let (cmd_tx, cmd_rx) = channel::<OrderCommand>(64);
    let (stream_tx, stream_rx) = channel::<ExecReport>(64);
    let (_ctl_tx, ctl_rx) = channel(4);
    let stop = StopFlag::new();

    // The exec thread (the streaming path): the real venue exec thread driving the session,
    // logged in before the core can send anything.
    // The session's own fill-debt chase is off: only the poller can book the missing fill.
    let mut cfg = session_config(&sim);
    cfg.chase_fill_debt = false;
    let mut s = session(&sim, cfg);
    let mut early = Vec::new();
    drive_until(&mut s, &mut early, "login and subscribe", |s, _| {
        s.is_ready()
    });
    assert!(early.is_empty(), "{early:#?}");
    let exec = thread::spawn(move || {
        let mut sessions: Vec<Box<dyn VenueSession>> = vec![Box::new(s)];
        run_venue_exec(
            &mut sessions,
            &["okx".to_owned()],
            VenueExecIo {
                commands: cmd_rx,
                reports: stream_tx,
                backoff: backoff(),
                clock: mono_ns,
            },
        )
    });

    let alerts = Arc::new(std::sync::Mutex::new(Vec::new()));
    let alerts_tx = Arc::clone(&alerts);
    let cfg = ReconcileConfig {
        poller: PollerConfig {
            interval: Duration::from_millis(100),
        },
        ..ReconcileConfig::default()
    };
    let (poller, poll_rx) = start_poller(
        &cfg,
        vec![PollerVenue {
            queries: Box::new(queries(&sim)),
            balances: Some(Box::new(queries(&sim))),
            view: cfg.view(vec![INST], session_start_ns),
        }],
        stop.clone(),
        mono_ns,
        backoff(),
        Box::new(move |a| alerts_tx.lock().expect("alerts").push(a.clone())),
    )
    .expect("start poller");

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

    let t = TopOfBook {
        meta: Meta::new(VenueId::OKX, INST, mono_ns()),
        bid_px: bid,
        bid_qty: bid_sz,
        ask_px: ask,
        ask_qty: ask_sz,
        update_id: 1,
    };
    mkt_tx.try_push(MarketEvent::Top(t)).expect("market ring");

    // The venue's truth: both orders traded.
    let mut trades = Vec::new();
    wait_for("both sells to trade at the venue", || {
        trades = venue_trades(&sim);
        trades.iter().fold(Qty::ZERO, |a, t| a.saturating_add(t.1)) == q.saturating_add(q).neg()
    });
    wait_for("the poller to forward every trade", || {
        poller.counters().fills() >= trades.len() as u64
    });
    // The cycle that forwarded them may still be running: let three more complete, so the
    // drift check has fixed its baseline (two agreeing reads) and compared against it.
    let cycles = poller.counters().cycles();
    wait_for("three more poll cycles", || {
        poller.counters().cycles() >= cycles + 3
    });

    stop.request();
    drop(mkt_tx);
    let summary = poller.join().expect("poller thread");
    let (engine, _core_summary) = core.join().expect("core thread");
    let exec_summary = exec.join().expect("exec thread");
    assert_eq!((exec_summary.commands, exec_summary.undelivered), (2, 0));

    // Every fill counted exactly once. The poller delivered all of them, the stream all but
    // the one it only reported as a status: exactly that one is not a duplicate.
    assert_eq!(engine.stats().fills, trades.len() as u64);
    assert_eq!(engine.stats().duplicate_fills, trades.len() as u64 - 1);
    assert_eq!(summary.venues[0].stats.fills_forwarded, trades.len() as u64);
    // The balances agree with the fills: no drift, no debt left, nothing unknown.
    let alerts = alerts.lock().expect("alerts");
    assert!(
        !alerts.iter().any(|a| matches!(
            a,
            tickwire_exec::reconcile::PollAlert::PositionDrift { .. }
                | tickwire_exec::reconcile::PollAlert::UnknownOrder { .. }
                | tickwire_exec::reconcile::PollAlert::QueryFailed { .. }
        )),
        "{alerts:?}"
    );
    assert!(summary.venues[0].stats.balance_checks >= 3);
    // The engine's position is the venue's: its trades, and its balance.
    let venue_position = trades.iter().fold(Qty::ZERO, |a, t| a.saturating_add(t.1));
    let position = engine.position(StrategyId(0), INST);
    assert_eq!(position, venue_position);
    assert_eq!(
        btc_balance(&sim),
        balance_before.saturating_add(position),
        "sells pay their fee in USDT, so BTC moves by the position exactly"
    );
    sim.shutdown();
}
