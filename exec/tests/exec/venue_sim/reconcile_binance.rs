//! The reconciliation poller with `BinanceQueries` (its own REST client) beside the real core
//! and the venue exec thread driving `BinanceSession`, against the simulator's Binance private
//! side with the `no_fill_reports` fault: every venue trade is booked once, and the poller
//! alone forwards every one of them.

use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

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
use tickwire_exec::credentials::{Credentials, Secret};
use tickwire_exec::queries::VenueQueries;
use tickwire_exec::reconcile::{
    PollAlert, PollerConfig, PollerVenue, ReconcileConfig, start as start_poller,
};
use tickwire_exec::session::VenueSession;
use tickwire_exec::venue::binance::session::{
    BinanceInstrumentSpec, BinanceSession, BinanceSessionConfig,
};
use tickwire_exec::venue::binance::{BinanceInstrument, BinanceQueries, VenueClock};
use tickwire_exec::venue_thread::{VenueExecIo, run_venue_exec};
use tickwire_net::{ReconnectPolicy, tls};
use tickwire_sim::{EndpointKind, SimConfig, start};

const KEY: &str = "reconcileKey0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ";
const SECRET: &str = "reconcileSecret9876543210zyxwvutsrqponmlkjihgfedcbaZYXWVUTSRQPON";
const INST: InstrumentId = InstrumentId(0);
const T: Duration = Duration::from_secs(30);

fn mono_ns() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    u64::try_from(EPOCH.get_or_init(Instant::now).elapsed().as_nanos()).unwrap_or(u64::MAX)
}

fn px(s: &str) -> Px {
    Px::parse(s).expect("price literal")
}

fn qty(s: &str) -> Qty {
    Qty::parse(s).expect("quantity literal")
}

fn creds() -> Credentials {
    Credentials {
        api_key: Secret::new(KEY),
        api_secret: Secret::new(SECRET),
        passphrase: None,
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

/// Buys 2 at 100.50 once: it takes the 1 at 100 and 1 of the 2 at 100.50 (two trades).
struct BuyTwo {
    done: bool,
}

impl Strategy for BuyTwo {
    fn name(&self) -> &str {
        "buy-two"
    }
    fn on_book(&mut self, ctx: &mut Ctx<'_>, instrument: InstrumentId) {
        if self.done {
            return;
        }
        let req = OrderRequest {
            instrument,
            side: Side::Buy,
            px: px("100.50"),
            qty: qty("2"),
            order_type: OrderType::Limit,
            tif: TimeInForce::Gtc,
        };
        self.done = ctx.place(req).is_ok();
    }
}

#[test]
fn the_poller_forwards_every_binance_trade_and_each_is_booked_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cap = dir.path().join("testusdt.txt");
    // A TESTUSDT snapshot (asks 100 x1, 100.50 x2) and a diff that changes nothing.
    std::fs::write(
        &cap,
        concat!(
            r#"1000000000 {"lastUpdateId":100,"bids":[["99.00000000","3.00000000"]],"asks":[["100.00000000","1.00000000"],["100.50000000","2.00000000"]]}"#,
            "\n",
            r#"2000000000 {"stream":"testusdt@depth@100ms","data":{"e":"depthUpdate","E":1700000000100,"s":"TESTUSDT","U":101,"u":101,"b":[["99.00000000","3.00000000"]],"a":[]}}"#,
            "\n"
        ),
    )
    .expect("write capture");
    let text = format!(
        "[[venue]]\nvenue = \"binance\"\ncaptures = [{:?}]\npace = \"fast\"\n\n\
         [[venue.symbol]]\nsymbol = \"TESTUSDT\"\ntick = \"0.01\"\nlot = \"0.001\"\nmin_notional = \"5\"\n\n\
         [venue.private]\nmaker_fee = \"0\"\ntaker_fee = \"0.001\"\n\n\
         [[venue.private.account]]\nname = \"r\"\napi_key = \"{KEY}\"\nsecret = \"{SECRET}\"\n\
         balances = [\"USDT:100000\", \"TEST:100\"]\n\n\
         [[venue.private.fault]]\nkind = \"no_fill_reports\"\n",
        cap.display().to_string()
    );
    let sim = start(&SimConfig::parse(&text).expect("sim config")).expect("sim");
    let ws = sim
        .endpoint("binance", EndpointKind::Ws)
        .expect("ws")
        .to_owned();
    let rest = sim
        .endpoint("binance", EndpointKind::Rest)
        .expect("rest")
        .to_owned();
    let tls = tls::client_config_from_ca_file(sim.ca_path()).expect("ca");

    let spec = BinanceInstrumentSpec {
        id: INST,
        symbol: "TESTUSDT".into(),
        quote: "USDT".into(),
        px_decimals: 2,
        qty_decimals: 3,
    };
    let mut cfg =
        BinanceSessionConfig::binance_spot(VenueId::BINANCE, vec![spec], Arc::clone(&tls), mono_ns);
    cfg.ws_api_url = format!("{ws}/ws-api/v3");
    cfg.stream_url = ws;
    cfg.rest_url = rest.clone();
    cfg.reconnect = ReconnectPolicy {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(500),
        healthy_after: Duration::from_secs(60),
    };
    let mut session = BinanceSession::start(cfg, &creds()).expect("session");
    let deadline = Instant::now() + T;
    while !session.is_ready() {
        assert!(Instant::now() < deadline, "session never ready");
        if !session.poll(mono_ns(), &mut |_| {}) {
            thread::sleep(Duration::from_millis(1));
        }
    }
    let queries = || {
        let mut q = BinanceQueries::new(
            VenueId::BINANCE,
            &rest,
            Arc::clone(&tls),
            &creds(),
            vec![BinanceInstrument {
                id: INST,
                symbol: "TESTUSDT".into(),
                quote: "USDT".into(),
            }],
            VenueClock::new(),
            mono_ns,
            5000,
        )
        .expect("queries");
        q.sync_time().expect("server time");
        q
    };

    let engine_spec = InstrumentSpec {
        id: INST,
        venue: VenueId::BINANCE,
        symbol: "TESTUSDT".into(),
        tick: px("0.01"),
        lot: qty("0.001"),
        min_qty: qty("0.001"),
        min_notional: Px::ZERO,
    };
    let mut engine = Engine::new(
        &EngineConfig {
            instruments: vec![engine_spec],
            max_open_orders: 8,
            book_depth: 8,
            fill_memory: 256,
        },
        vec![Box::new(BuyTwo { done: false })],
    );
    let (mut mkt_tx, mkt_rx) = channel::<MarketEvent>(16);
    let (cmd_tx, cmd_rx) = channel::<OrderCommand>(64);
    let (stream_tx, stream_rx) = channel::<ExecReport>(64);
    let (_ctl_tx, ctl_rx) = channel(4);
    let stop = StopFlag::new();

    let exec = thread::spawn(move || {
        let mut sessions: Vec<Box<dyn VenueSession>> = vec![Box::new(session)];
        run_venue_exec(
            &mut sessions,
            &["binance".to_owned()],
            VenueExecIo {
                commands: cmd_rx,
                reports: stream_tx,
                backoff: backoff(),
                clock: mono_ns,
            },
        )
    });
    let rc = ReconcileConfig {
        poller: PollerConfig {
            interval: Duration::from_millis(100),
        },
        ..ReconcileConfig::default()
    };
    let alerts = Arc::new(Mutex::new(Vec::<PollAlert>::new()));
    let alerts_tx = Arc::clone(&alerts);
    let (poller, poll_rx) = start_poller(
        &rc,
        vec![PollerVenue {
            queries: Box::new(queries()),
            balances: None,
            view: rc.view(vec![INST], 0),
        }],
        stop.clone(),
        mono_ns,
        backoff(),
        Box::new(move |a| alerts_tx.lock().expect("alerts").push(a.clone())),
    )
    .expect("poller");
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

    // The simulator's tape applies the capture's snapshot shortly after the first
    // subscription: order only once its book holds it, or on a loaded machine the buy rests
    // on an empty book and fills as maker (another fee) when the snapshot lands.
    let mut depth = tickwire_net::HttpClient::new(
        &rest,
        Arc::clone(&tls),
        tickwire_net::HttpOptions::default(),
    )
    .expect("REST client");
    wait_for(
        "the simulator's book to hold the capture's snapshot",
        || {
            depth
                .get("/api/v3/depth?symbol=TESTUSDT&limit=5", &[])
                .is_ok_and(|r| {
                    r.status == 200 && String::from_utf8_lossy(&r.body).contains("100.50000000")
                })
        },
    );
    let t = TopOfBook {
        meta: Meta::new(VenueId::BINANCE, INST, mono_ns()),
        bid_px: px("99"),
        bid_qty: qty("3"),
        ask_px: px("100"),
        ask_qty: qty("1"),
        update_id: 1,
    };
    mkt_tx.try_push(MarketEvent::Top(t)).expect("market ring");

    let mut checker = queries();
    let mut trades: Vec<(u64, Qty)> = Vec::new();
    wait_for("the buy to trade 2 at the venue", || {
        let mut got = Vec::new();
        checker
            .fills_after(INST, 0, &mut |r| got.push(r))
            .expect("myTrades");
        trades = got
            .iter()
            .filter_map(|r| match r {
                ExecReport::Fill(f) => Some((f.trade_id, f.qty)),
                _ => None,
            })
            .collect();
        trades.iter().fold(Qty::ZERO, |a, t| a.saturating_add(t.1)) == qty("2")
    });
    wait_for("the poller to forward every trade", || {
        poller.counters().fills() >= trades.len() as u64
    });
    let cycles = poller.counters().cycles();
    wait_for("two more poll cycles", || {
        poller.counters().cycles() >= cycles + 2
    });

    stop.request();
    drop(mkt_tx);
    let summary = poller.join().expect("poller thread");
    let (engine, _) = core.join().expect("core thread");
    let exec_summary = exec.join().expect("exec thread");

    assert_eq!((exec_summary.commands, exec_summary.undelivered), (1, 0));
    assert_eq!(trades.len(), 2);
    assert_eq!(engine.stats().fills, 2, "each trade booked once");
    assert_eq!(summary.venues[0].stats.fills_forwarded, 2);
    // A buyer's commission is charged in the base asset: the engine's position is the venue's
    // balance change, 2 bought less the 0.1 % taker fee.
    assert_eq!(engine.position(StrategyId(0), INST), qty("1.998"));
    let alerts = alerts.lock().expect("alerts");
    assert!(
        !alerts.iter().any(|a| matches!(
            a,
            PollAlert::QueryFailed { .. } | PollAlert::UnknownOrder { .. }
        )),
        "{alerts:?}"
    );
    sim.shutdown();
}
