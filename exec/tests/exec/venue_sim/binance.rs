//! The Binance exec session (`tickwire_exec::venue::binance::session`) against the simulator's
//! Binance private side over real TLS on loopback: round trips over the WS API and REST, fills
//! from both user-data forms, and each private fault the simulator can inject. Every test
//! checks that each venue trade reaches the core exactly once after its de-duplication by
//! trade id, that unknown outcomes are resolved by query, and that retries are bounded.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tickwire_core::event::{
    AmendOrder, CancelOrder, ExecReport, Meta, NewOrder, OrderCommand, OrderStatus, OrderType,
    RejectReason, Side, TimeInForce, UnknownCause,
};
use tickwire_core::ids::{ClientOrderId, InstrumentId, StrategyId, VenueId};
use tickwire_core::num::{Px, Qty};
use tickwire_exec::credentials::{Credentials, Secret};
use tickwire_exec::queries::{ResolvePolicy, VenueQueries};
use tickwire_exec::session::VenueSession;
use tickwire_exec::venue::binance::session::{
    BinanceInstrumentSpec, BinanceSession, BinanceSessionConfig, OrderEntry, UserData,
};
use tickwire_exec::venue::binance::{BinanceInstrument, BinanceQueries, VenueClock};
use tickwire_net::{ReconnectPolicy, tls};
use tickwire_sim::{EndpointKind, SimConfig, SimHandle, start};

const KEY: &str = "execTestKey0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQR";
const SECRET: &str = "execTestSecret9876543210zyxwvutsrqponmlkjihgfedcbaZYXWVUTSRQPONM";
const LIMIT: Duration = Duration::from_secs(20);
const INST: InstrumentId = InstrumentId(1);

fn clock() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as u64 + 1
}

/// A snapshot of TESTUSDT (bids 99 x3, 98 x5; asks 100 x1, 100.50 x2, 101 x5) and a diff that
/// changes nothing.
fn write_capture(dir: &Path) -> String {
    let p = dir.join("testusdt.txt");
    let lines = [
        r#"1000000000 {"lastUpdateId":100,"bids":[["99.00000000","3.00000000"],["98.00000000","5.00000000"]],"asks":[["100.00000000","1.00000000"],["100.50000000","2.00000000"],["101.00000000","5.00000000"]]}"#,
        // A diff names the symbol the snapshot belongs to.
        r#"2000000000 {"stream":"testusdt@depth@100ms","data":{"e":"depthUpdate","E":1700000000100,"s":"TESTUSDT","U":101,"u":101,"b":[["99.00000000","3.00000000"]],"a":[]}}"#,
    ];
    std::fs::write(&p, lines.join("\n") + "\n").expect("write capture");
    p.display().to_string()
}

struct Venue {
    sim: Option<SimHandle>,
    _dir: tempfile::TempDir,
}

impl Venue {
    /// The simulator with one account and `faults` (TOML `[[venue.private.fault]]` tables).
    fn start(faults: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let cap = write_capture(dir.path());
        let text = format!(
            r#"
[[venue]]
venue = "binance"
captures = [{cap:?}]
pace = "fast"

[[venue.symbol]]
symbol = "TESTUSDT"
tick = "0.01"
lot = "0.001"
min_notional = "5"

[venue.private]
maker_fee = "0"
taker_fee = "0.001"

[[venue.private.account]]
name = "exec"
api_key = "{KEY}"
secret = "{SECRET}"
balances = ["USDT:100000", "TEST:100"]
{faults}
"#
        );
        let cfg = SimConfig::parse(&text).unwrap_or_else(|e| panic!("{e}"));
        let sim = start(&cfg).unwrap_or_else(|e| panic!("start: {e}"));
        Self {
            sim: Some(sim),
            _dir: dir,
        }
    }

    fn sim(&self) -> &SimHandle {
        self.sim.as_ref().expect("running")
    }

    fn url(&self, kind: EndpointKind) -> String {
        self.sim()
            .endpoint("binance", kind)
            .expect("endpoint")
            .to_owned()
    }

    fn config(&self, entry: OrderEntry, user_data: UserData) -> BinanceSessionConfig {
        let tls = tls::client_config_from_ca_file(self.sim().ca_path()).expect("ca");
        let mut cfg =
            BinanceSessionConfig::binance_spot(VenueId::BINANCE, vec![spec()], tls, clock);
        let ws = self.url(EndpointKind::Ws);
        cfg.ws_api_url = format!("{ws}/ws-api/v3");
        cfg.stream_url = ws;
        cfg.rest_url = self.url(EndpointKind::Rest);
        cfg.order_entry = entry;
        cfg.user_data = user_data;
        cfg.reconnect = ReconnectPolicy {
            initial: Duration::from_millis(50),
            max: Duration::from_millis(500),
            healthy_after: Duration::from_secs(60),
        };
        cfg.resolve = ResolvePolicy {
            first_delay_ns: 20_000_000,
            max_delay_ns: 300_000_000,
            max_attempts: 8,
        };
        cfg
    }

    /// The venue's trade ids for our account (its truth).
    fn trade_ids(&self) -> BTreeSet<u64> {
        let mut q = self.queries();
        let mut fills = Vec::new();
        q.fills_after(INST, 0, &mut |r| fills.push(r))
            .expect("myTrades");
        distinct_fills(&fills)
    }

    /// The venue's open orders for our account (its truth), as client order ids.
    fn open_orders(&self) -> Vec<ClientOrderId> {
        let mut q = self.queries();
        let mut got = Vec::new();
        q.open_orders(&mut |r| got.push(r)).expect("openOrders");
        got.iter()
            .filter_map(|r| match r {
                ExecReport::Status(s) => Some(s.cl_ord_id),
                _ => None,
            })
            .collect()
    }

    /// A REST query client for our account, clock synced.
    fn queries(&self) -> BinanceQueries {
        let tls = tls::client_config_from_ca_file(self.sim().ca_path()).expect("ca");
        let mut q = BinanceQueries::new(
            VenueId::BINANCE,
            &self.url(EndpointKind::Rest),
            tls,
            &creds(),
            vec![BinanceInstrument {
                id: INST,
                symbol: "TESTUSDT".into(),
                quote: "USDT".into(),
            }],
            VenueClock::new(),
            clock,
            5000,
        )
        .expect("queries");
        q.sync_time().expect("time");
        q
    }
}

impl Drop for Venue {
    fn drop(&mut self) {
        if let Some(s) = self.sim.take() {
            s.shutdown();
        }
    }
}

fn spec() -> BinanceInstrumentSpec {
    BinanceInstrumentSpec {
        id: INST,
        symbol: "TESTUSDT".into(),
        quote: "USDT".into(),
        px_decimals: 2,
        qty_decimals: 3,
    }
}

fn creds() -> Credentials {
    Credentials {
        api_key: Secret::new(KEY),
        api_secret: Secret::new(SECRET),
        passphrase: None,
    }
}

struct Harness {
    s: BinanceSession,
    got: Vec<ExecReport>,
}

impl Harness {
    fn new(cfg: BinanceSessionConfig) -> Self {
        let s = BinanceSession::start(cfg, &creds()).expect("session");
        let mut h = Self { s, got: Vec::new() };
        h.until("ready", |h| h.s.is_ready());
        h
    }

    fn poll(&mut self) {
        let got = &mut self.got;
        if !self.s.poll(clock(), &mut |r| got.push(r)) {
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    fn until(&mut self, what: &str, mut done: impl FnMut(&Self) -> bool) {
        let deadline = Instant::now() + LIMIT;
        while !done(self) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {:#?}",
                self.got
            );
            self.poll();
        }
    }

    /// Polls for `d` more (lets late pushes arrive).
    fn settle(&mut self, d: Duration) {
        let t = Instant::now();
        while t.elapsed() < d {
            self.poll();
        }
    }

    fn submit(&mut self, cmd: OrderCommand) {
        let got = &mut self.got;
        self.s.submit(&cmd, clock(), &mut |r| got.push(r));
    }

    fn count(&self, f: impl Fn(&ExecReport) -> bool) -> usize {
        self.got.iter().filter(|r| f(r)).count()
    }

    fn acked(&self, seq: u64) -> bool {
        self.count(|r| matches!(r, ExecReport::Ack(a) if a.cl_ord_id == id(seq))) > 0
    }
}

fn id(seq: u64) -> ClientOrderId {
    ClientOrderId::new(StrategyId(1), seq).expect("id")
}

fn buy(seq: u64, px: &str, qty: &str) -> OrderCommand {
    OrderCommand::New(NewOrder::new(
        Meta::new(VenueId::BINANCE, INST, clock()),
        id(seq),
        Side::Buy,
        OrderType::Limit,
        TimeInForce::Gtc,
        Px::parse(px).expect("px"),
        Qty::parse(qty).expect("qty"),
    ))
}

fn cancel(seq: u64) -> OrderCommand {
    OrderCommand::Cancel(CancelOrder {
        meta: Meta::new(VenueId::BINANCE, INST, clock()),
        cl_ord_id: id(seq),
    })
}

fn distinct_fills(got: &[ExecReport]) -> BTreeSet<u64> {
    got.iter()
        .filter_map(|r| match r {
            ExecReport::Fill(f) => Some(f.trade_id),
            _ => None,
        })
        .collect()
}

/// Place resting, amend, cancel; then a taking order whose two trades arrive as fills.
fn round_trip(entry: OrderEntry, user_data: UserData) {
    let v = Venue::start("");
    let mut h = Harness::new(v.config(entry, user_data));
    // The budget takes the venue's published limits (ORDERS 200 000 a day on the simulator,
    // 160 000 in the defaults).
    h.until("limits from exchangeInfo", |h| {
        h.s.budget().limits().any(|l| l.limit == 200_000)
    });
    h.submit(buy(1, "95", "1"));
    h.until("ack", |h| h.acked(1));
    h.submit(OrderCommand::Amend(AmendOrder {
        meta: Meta::new(VenueId::BINANCE, INST, clock()),
        cl_ord_id: id(1),
        new_px: Px::parse("96").expect("px"),
        new_qty: Qty::parse("2").expect("qty"),
    }));
    let first_leg = h
        .got
        .iter()
        .find_map(|r| match r {
            ExecReport::Ack(a) if a.cl_ord_id == id(1) => Some(a.venue_order_id),
            _ => None,
        })
        .expect("first ack");
    h.until("new leg acked", |h| {
        h.count(|r| matches!(r, ExecReport::Ack(a) if a.cl_ord_id == id(1) && a.venue_order_id != first_leg)) >= 1
    });
    h.settle(Duration::from_millis(100));
    assert_eq!(
        h.count(|r| matches!(r, ExecReport::CancelAck(_))),
        0,
        "an amend is not a cancel to the core: {:#?}",
        h.got
    );
    h.submit(cancel(1));
    h.until("cancel ack", |h| {
        h.count(|r| matches!(r, ExecReport::CancelAck(c) if c.cl_ord_id == id(1))) > 0
    });

    // Takes 1 @ 100 and 1 @ 100.50: two trades.
    h.submit(buy(2, "100.50", "2"));
    h.until("two fills", |h| distinct_fills(&h.got).len() == 2);
    h.settle(Duration::from_millis(100));
    assert_eq!(
        distinct_fills(&h.got),
        v.trade_ids(),
        "every trade, once after de-dup"
    );
    let lat = h.s.latency();
    assert!(lat.written.len() >= 4 && lat.ack.len() >= 3 && lat.fill.len() == 1);
    assert_eq!(h.s.stats().unknowns, 0);
    h.s.shutdown();
}

#[test]
fn ws_api_round_trip_with_ws_api_user_data() {
    round_trip(OrderEntry::WsApi, UserData::WsApi);
}

#[test]
fn rest_round_trip_with_listen_key_user_data() {
    round_trip(OrderEntry::Rest, UserData::ListenKey);
}

#[test]
fn ws_api_orders_with_listen_key_user_data() {
    round_trip(OrderEntry::WsApi, UserData::ListenKey);
}

fn fault(kind: &str, extra: &str) -> String {
    format!("\n[[venue.private.fault]]\nkind = \"{kind}\"\n{extra}\n")
}

#[test]
fn rounded_fill_quantity_is_reported_as_the_venue_booked_it() {
    let v = Venue::start(&fault("short_fill", "by = \"0.000002\"\ncount = 1"));
    let mut h = Harness::new(v.config(OrderEntry::WsApi, UserData::WsApi));
    h.submit(buy(1, "100.50", "2"));
    h.until("two fills", |h| distinct_fills(&h.got).len() == 2);
    let short = Qty::parse("0.999998").expect("qty");
    assert!(h.count(|r| matches!(r, ExecReport::Fill(f) if f.qty == short)) >= 1);
    assert_eq!(distinct_fills(&h.got), v.trade_ids());
    h.s.shutdown();
}

#[test]
fn status_without_fill_records_fetches_the_fills() {
    let v = Venue::start(&fault("no_fill_reports", ""));
    let mut h = Harness::new(v.config(OrderEntry::WsApi, UserData::WsApi));
    h.submit(buy(1, "100.50", "2"));
    h.until("fills", |h| distinct_fills(&h.got).len() == 2);
    h.until("pushes without fill records spotted and queried", |h| {
        h.s.stats().fills_missing >= 1 && h.s.resolver_counts().0 >= 1
    });
    h.settle(Duration::from_millis(100));
    assert_eq!(distinct_fills(&h.got), v.trade_ids());
    h.s.shutdown();
}

#[test]
fn duplicate_fill_reports_count_once() {
    let v = Venue::start(&fault("duplicate_fill", ""));
    let mut h = Harness::new(v.config(OrderEntry::WsApi, UserData::WsApi));
    h.submit(buy(1, "100.50", "2"));
    h.until("fills", |h| distinct_fills(&h.got).len() == 2);
    h.settle(Duration::from_millis(200));
    let raw = h.count(|r| matches!(r, ExecReport::Fill(_)));
    assert!(raw > 2, "the venue sent duplicates ({raw} fill reports)");
    assert_eq!(distinct_fills(&h.got), v.trade_ids(), "once after de-dup");
    h.s.shutdown();
}

#[test]
fn reject_storm_is_reported_with_the_venue_code() {
    let v = Venue::start(&fault("reject", "count = 3"));
    let mut h = Harness::new(v.config(OrderEntry::WsApi, UserData::WsApi));
    for seq in 1..=4 {
        h.submit(buy(seq, "95", "1"));
    }
    h.until("3 rejects and an ack", |h| {
        h.count(|r| matches!(r, ExecReport::Reject(x) if x.venue_code == -2010)) == 3 && h.acked(4)
    });
    assert_eq!(h.s.stats().unknowns, 0);
    h.s.shutdown();
}

#[test]
fn rate_limit_429_backs_off_and_refuses_locally() {
    let v = Venue::start(&fault("rate_limit", "count = 1"));
    let mut h = Harness::new(v.config(OrderEntry::WsApi, UserData::WsApi));
    h.submit(buy(1, "95", "1"));
    h.until("429 reject", |h| {
        h.count(|r| matches!(r, ExecReport::Reject(x) if x.cl_ord_id == id(1) && x.reason() == Some(RejectReason::RateLimited))) == 1
    });
    let sent = h.s.stats().requests;
    h.submit(buy(2, "95", "1"));
    assert_eq!(
        h.s.stats().requests,
        sent,
        "refused locally while backing off"
    );
    assert!(
        matches!(h.got.last(), Some(ExecReport::Reject(x)) if x.cl_ord_id == id(2) && x.reason() == Some(RejectReason::RateLimited))
    );
    h.s.shutdown();
}

fn server_error_with_the_order_live(kind: &str) {
    let v = Venue::start(&fault(kind, "count = 1"));
    let mut h = Harness::new(v.config(OrderEntry::WsApi, UserData::WsApi));
    h.submit(buy(1, "95", "1"));
    h.until("resolved as New", |h| {
        h.count(|r| matches!(r, ExecReport::Status(s) if s.cl_ord_id == id(1) && s.status == OrderStatus::New.code())) >= 1
    });
    assert_eq!(
        h.count(
            |r| matches!(r, ExecReport::Unknown(u) if u.cause == UnknownCause::ServerError.code())
        ),
        1
    );
    h.until("resolver counted it", |h| h.s.resolver_counts().0 == 1);
    let (resolved, gave_up, queries) = h.s.resolver_counts();
    assert_eq!((resolved, gave_up), (1, 0));
    assert!(queries <= 3, "bounded queries: {queries}");
    h.submit(cancel(1));
    h.until("cancel ack", |h| {
        h.count(|r| matches!(r, ExecReport::CancelAck(_))) > 0
    });
    h.s.shutdown();
}

#[test]
fn http_503_with_the_order_live_is_resolved_by_query() {
    server_error_with_the_order_live("http_503");
}

#[test]
fn http_500_with_the_order_live_is_resolved_by_query() {
    server_error_with_the_order_live("http_500");
}

#[test]
fn disconnect_mid_order_resolves_and_recovers_the_fills_once() {
    let v = Venue::start(&fault("disconnect", "count = 1"));
    let mut h = Harness::new(v.config(OrderEntry::WsApi, UserData::WsApi));
    h.submit(buy(1, "100.50", "2"));
    h.until("unknown", |h| {
        h.count(
            |r| matches!(r, ExecReport::Unknown(u) if u.cause == UnknownCause::Disconnect.code()),
        ) == 1
    });
    h.until("fills recovered", |h| distinct_fills(&h.got).len() == 2);
    h.until("reconnected", |h| h.s.is_ready());
    h.settle(Duration::from_millis(100));
    assert_eq!(distinct_fills(&h.got), v.trade_ids());
    let st = h.s.stats();
    assert!(st.connects <= 3, "bounded reconnects: {st:?}");
    h.s.shutdown();
}

#[test]
fn disconnect_before_placing_resolves_as_unknown_order() {
    let v = Venue::start(&fault("disconnect", "count = 1\nplaced = false"));
    let mut h = Harness::new(v.config(OrderEntry::WsApi, UserData::WsApi));
    h.submit(buy(1, "95", "1"));
    h.until("venue does not know it", |h| {
        h.count(|r| matches!(r, ExecReport::Reject(x) if x.cl_ord_id == id(1) && x.reason() == Some(RejectReason::UnknownOrder))) == 1
    });
    assert!(distinct_fills(&h.got).is_empty());
    h.s.shutdown();
}

/// WS-API order entry: the venue places a resting order, then drops the connection instead
/// of answering. The order left, so it is `Unknown(Disconnect)`, never a `Reject`, and the
/// query resolves it to the venue's truth (live, `New`); exactly one order stands there.
#[test]
fn ws_api_disconnect_after_placing_resolves_live_by_query() {
    let v = Venue::start(&fault("disconnect", "count = 1\nplaced = true"));
    let mut h = Harness::new(v.config(OrderEntry::WsApi, UserData::WsApi));
    h.submit(buy(1, "95", "1"));
    h.until("resolved as New by the query", |h| {
        h.count(|r| matches!(r, ExecReport::Status(s) if s.cl_ord_id == id(1) && s.status == OrderStatus::New.code())) >= 1
    });
    let first_unknown = h.got.iter().position(
        |r| matches!(r, ExecReport::Unknown(u) if u.cl_ord_id == id(1) && u.cause == UnknownCause::Disconnect.code()),
    );
    let first_status = h
        .got
        .iter()
        .position(|r| matches!(r, ExecReport::Status(s) if s.cl_ord_id == id(1)));
    assert!(
        first_unknown.is_some() && first_unknown < first_status,
        "unknown before the resolution: {:#?}",
        h.got
    );
    h.until("reconnected", |h| h.s.is_ready());
    h.settle(Duration::from_millis(200));
    assert_eq!(
        h.count(|r| matches!(r, ExecReport::Reject(_))),
        0,
        "an order that left is never rejected: {:#?}",
        h.got
    );
    assert_eq!(
        v.open_orders(),
        vec![id(1)],
        "exactly one order at the venue"
    );
    h.s.shutdown();
}

/// WS-API order entry: the venue drops the connection before placing. The session cannot know
/// that, so the order is `Unknown(Disconnect)` first; the query then finds no order.
#[test]
fn ws_api_disconnect_before_placing_is_unknown_then_not_found() {
    let v = Venue::start(&fault("disconnect", "count = 1\nplaced = false"));
    let mut h = Harness::new(v.config(OrderEntry::WsApi, UserData::WsApi));
    h.submit(buy(1, "95", "1"));
    h.until("resolved as not found", |h| {
        h.count(|r| matches!(r, ExecReport::Reject(x) if x.cl_ord_id == id(1) && x.reason() == Some(RejectReason::UnknownOrder))) == 1
    });
    let first_unknown = h.got.iter().position(
        |r| matches!(r, ExecReport::Unknown(u) if u.cl_ord_id == id(1) && u.cause == UnknownCause::Disconnect.code()),
    );
    let first_reject = h
        .got
        .iter()
        .position(|r| matches!(r, ExecReport::Reject(_)));
    assert!(
        first_unknown.is_some() && first_unknown < first_reject,
        "unknown before the resolution: {:#?}",
        h.got
    );
    assert_eq!(
        h.count(|r| matches!(r, ExecReport::Reject(x) if x.reason() == Some(RejectReason::VenueUnavailable))),
        0
    );
    assert!(v.open_orders().is_empty(), "no order at the venue");
    h.s.shutdown();
}

#[test]
fn slow_ack_times_out_to_unknown_then_resolves() {
    let v = Venue::start(&fault("slow_ack", "ms = 1500\ncount = 1"));
    let mut cfg = v.config(OrderEntry::WsApi, UserData::WsApi);
    cfg.reply_timeout = Duration::from_millis(300);
    let mut h = Harness::new(cfg);
    h.submit(buy(1, "95", "1"));
    h.until("timeout", |h| {
        h.count(|r| matches!(r, ExecReport::Unknown(u) if u.cause == UnknownCause::Timeout.code()))
            == 1
    });
    h.until("resolved", |h| {
        h.count(|r| matches!(r, ExecReport::Status(s) if s.cl_ord_id == id(1))) >= 1 || h.acked(1)
    });
    h.settle(Duration::from_millis(1500));
    assert!(h.acked(1), "the order's push or late reply says it lives");
    h.s.shutdown();
}
