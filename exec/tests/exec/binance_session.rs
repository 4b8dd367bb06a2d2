//! `BinanceSession` against a scripted Binance private side over real TLS on loopback
//! (`binance_support`): WS-API and REST order entry, fills from the WS-API user-data stream,
//! amend as cancel+new, a disconnect with an order in flight (→ `Unknown`, resolved by query,
//! the fill recovered exactly once), a 5xx with the order live, a 429, and the local rate
//! budget refusing before the venue would.

use crate::binance_support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use binance_support::{API_KEY, MiniBinance, PushTiming, SECRET, clock};
use tickwire_core::event::{
    AmendOrder, CancelOrder, ExecReport, Meta, NewOrder, OrderCommand, OrderStatus, OrderType,
    RejectReason, Side, TimeInForce, UnknownCause,
};
use tickwire_core::ids::{ClientOrderId, InstrumentId, StrategyId, VenueId};
use tickwire_core::num::{Px, Qty};
use tickwire_exec::credentials::{Credentials, Secret};
use tickwire_exec::queries::ResolvePolicy;
use tickwire_exec::session::VenueSession;
use tickwire_exec::venue::binance::rate::{LimitKind, RateLimit};
use tickwire_exec::venue::binance::session::{
    BinanceInstrumentSpec, BinanceSession, BinanceSessionConfig, OrderEntry, UserData,
};
use tickwire_net::ReconnectPolicy;

const LIMIT: Duration = Duration::from_secs(20);
const INST: InstrumentId = InstrumentId(1);

fn creds() -> Credentials {
    Credentials {
        api_key: Secret::new(API_KEY),
        api_secret: Secret::new(SECRET),
        passphrase: None,
    }
}

fn config(v: &MiniBinance, entry: OrderEntry) -> BinanceSessionConfig {
    let mut cfg = BinanceSessionConfig::binance_spot(
        VenueId::BINANCE,
        vec![BinanceInstrumentSpec {
            id: INST,
            symbol: "BTCUSDT".into(),
            quote: "USDT".into(),
            px_decimals: 2,
            qty_decimals: 8,
        }],
        v.pki.client_config(),
        clock,
    );
    cfg.ws_api_url = v.ws_url.clone();
    cfg.rest_url = v.rest_url.clone();
    cfg.order_entry = entry;
    cfg.user_data = UserData::WsApi;
    cfg.reconnect = ReconnectPolicy {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(400),
        healthy_after: Duration::from_secs(60),
    };
    cfg.resolve = ResolvePolicy {
        first_delay_ns: 20_000_000,
        max_delay_ns: 200_000_000,
        max_attempts: 6,
    };
    cfg
}

struct Harness {
    s: BinanceSession,
    got: Vec<ExecReport>,
    polls: u64,
}

impl Harness {
    fn new(cfg: BinanceSessionConfig) -> Self {
        let s = BinanceSession::start(cfg, &creds()).unwrap();
        let mut h = Self {
            s,
            got: Vec::new(),
            polls: 0,
        };
        h.until("ready", |h| h.s.is_ready());
        h
    }

    fn poll(&mut self) {
        let got = &mut self.got;
        let worked = self.s.poll(clock(), &mut |r| got.push(r));
        self.polls += 1;
        if !worked {
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    fn until(&mut self, what: &str, mut done: impl FnMut(&Self) -> bool) {
        let deadline = Instant::now() + LIMIT;
        while !done(self) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {:?}",
                self.got
            );
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
}

fn id(seq: u64) -> ClientOrderId {
    ClientOrderId::new(StrategyId(1), seq).unwrap()
}

fn new_order(seq: u64, px: &str) -> OrderCommand {
    OrderCommand::New(NewOrder::new(
        Meta::new(VenueId::BINANCE, INST, clock()),
        id(seq),
        Side::Buy,
        OrderType::Limit,
        TimeInForce::Gtc,
        Px::parse(px).unwrap(),
        Qty::parse("0.01").unwrap(),
    ))
}

fn cancel(seq: u64) -> OrderCommand {
    OrderCommand::Cancel(CancelOrder {
        meta: Meta::new(VenueId::BINANCE, INST, clock()),
        cl_ord_id: id(seq),
    })
}

/// Fills the core would book: de-duplicated by (venue, trade id) as the core does.
fn distinct_fills(got: &[ExecReport]) -> BTreeSet<u64> {
    got.iter()
        .filter_map(|r| match r {
            ExecReport::Fill(f) => Some(f.trade_id),
            _ => None,
        })
        .collect()
}

#[test]
fn ws_api_place_fill_cancel_and_amend() {
    let v = MiniBinance::start();
    let mut h = Harness::new(config(&v, OrderEntry::WsApi));

    // Resting order: ack, then cancel.
    h.submit(new_order(1, "50000.5"));
    h.until("ack 1", |h| {
        h.count(|r| matches!(r, ExecReport::Ack(a) if a.cl_ord_id == id(1))) >= 1
    });
    h.submit(cancel(1));
    h.until("cancel ack 1", |h| {
        h.count(|r| matches!(r, ExecReport::CancelAck(c) if c.cl_ord_id == id(1))) >= 1
    });
    assert_eq!(v.with(|s| s.orders[0].px.clone()), "50000.50");

    // Amend: cancel + new under the same id; the core sees an Ack, never a CancelAck.
    h.submit(new_order(2, "49000"));
    h.until("ack 2", |h| {
        h.count(|r| matches!(r, ExecReport::Ack(a) if a.cl_ord_id == id(2))) >= 1
    });
    h.submit(OrderCommand::Amend(AmendOrder {
        meta: Meta::new(VenueId::BINANCE, INST, clock()),
        cl_ord_id: id(2),
        new_px: Px::parse("49100").unwrap(),
        new_qty: Qty::parse("0.01").unwrap(),
    }));
    h.until("amended order live", |_| {
        v.with(|s| {
            s.orders
                .iter()
                .any(|o| o.cl == "tw1x2" && o.px == "49100.00" && o.status == "NEW")
        })
    });
    h.until("acks of the new leg", |h| {
        h.count(|r| matches!(r, ExecReport::Ack(a) if a.cl_ord_id == id(2))) >= 3
    });
    // Let any late push arrive, then check nothing said "cancelled" to the core.
    let t = Instant::now();
    while t.elapsed() < Duration::from_millis(200) {
        h.poll();
    }
    assert_eq!(
        h.count(|r| matches!(r, ExecReport::CancelAck(c) if c.cl_ord_id == id(2))),
        0
    );

    // Fills through the user-data stream.
    v.with(|s| s.fill_on_place = true);
    h.submit(new_order(3, "51000"));
    h.until("fill 3", |h| {
        h.count(|r| matches!(r, ExecReport::Fill(f) if f.cl_ord_id == id(3))) >= 1
    });
    assert_eq!(distinct_fills(&h.got).len(), 1);
    assert_eq!(
        v.with(|s| s.bad_signatures),
        0,
        "every request was signed right"
    );
    let lat = h.s.latency();
    assert!(lat.written.len() >= 5 && lat.ack.len() >= 4 && lat.fill.len() == 1);
    h.s.shutdown();
}

#[test]
fn disconnect_mid_order_is_unknown_then_resolved_with_its_fill_once() {
    let v = MiniBinance::start();
    let mut h = Harness::new(config(&v, OrderEntry::WsApi));
    v.with(|s| s.faults.drop_on_place = true);
    h.submit(new_order(7, "50000"));
    h.until("unknown", |h| {
        h.count(|r| matches!(r, ExecReport::Unknown(u) if u.cl_ord_id == id(7) && u.cause == UnknownCause::Disconnect.code())) == 1
    });
    h.until("status by query", |h| {
        h.count(|r| matches!(r, ExecReport::Status(s) if s.cl_ord_id == id(7) && s.status == OrderStatus::Filled.code())) >= 1
    });
    h.until("fill recovered", |h| {
        h.count(|r| matches!(r, ExecReport::Fill(f) if f.cl_ord_id == id(7))) >= 1
    });
    h.until("reconnected", |h| h.s.is_ready());
    let trades = v.with(|s| s.trades.iter().map(|t| t.id).collect::<BTreeSet<_>>());
    assert_eq!(
        distinct_fills(&h.got),
        trades,
        "every fill reported, once after de-dup"
    );
    let (resolved, gave_up, _) = h.s.resolver_counts();
    assert_eq!((resolved, gave_up), (1, 0));
    // Bounded reconnects: the one lost connection plus the new one.
    assert!(v.with(|s| s.ws_connections) <= 3, "no reconnect storm");
    h.s.shutdown();
}

#[test]
fn server_error_with_the_order_live_is_resolved_not_guessed() {
    let v = MiniBinance::start();
    let mut h = Harness::new(config(&v, OrderEntry::WsApi));
    v.with(|s| s.faults.status_500_on_place = true);
    h.submit(new_order(9, "50000"));
    h.until("status New by query", |h| {
        h.count(|r| matches!(r, ExecReport::Status(s) if s.cl_ord_id == id(9) && s.status == OrderStatus::New.code())) >= 1
    });
    assert_eq!(
        h.count(
            |r| matches!(r, ExecReport::Unknown(u) if u.cause == UnknownCause::ServerError.code())
        ),
        1
    );
    assert!(v.with(|s| s.rest_requests.iter().any(|r| r == "GET /api/v3/order")));
    // The order is live: it can be cancelled.
    h.submit(cancel(9));
    h.until("cancel ack", |h| {
        h.count(|r| matches!(r, ExecReport::CancelAck(c) if c.cl_ord_id == id(9))) >= 1
    });
    h.s.shutdown();
}

#[test]
fn rate_limits_refuse_locally_and_honour_429() {
    let v = MiniBinance::start();
    let mut cfg = config(&v, OrderEntry::WsApi);
    cfg.rate_limits = vec![RateLimit {
        kind: LimitKind::Orders,
        interval_ms: 10_000,
        limit: 3,
    }];
    cfg.rate_headroom_pct = 0;
    cfg.fetch_rate_limits = false;
    let mut h = Harness::new(cfg);
    let t0 = h.s.venue_clock().now_ms();
    for seq in 1..=5 {
        h.submit(new_order(seq, "50000"));
    }
    let t1 = h.s.venue_clock().now_ms();
    let refused = h.count(
        |r| matches!(r, ExecReport::Reject(x) if x.reason() == Some(RejectReason::RateLimited)),
    );
    if t0 / 10_000 == t1 / 10_000 {
        // All five in one 10 s window of 3 orders: two refused here.
        assert_eq!(refused, 2);
    }
    // Distinct orders acknowledged: an order is acked by the WS-API reply and again by its
    // user-data `NEW` push, so counting acks reached 3 with only 2 orders at the venue.
    let acked = |h: &Harness| {
        (1..=5)
            .filter(|&seq| {
                h.count(|r| matches!(r, ExecReport::Ack(a) if a.cl_ord_id == id(seq))) > 0
            })
            .count()
    };
    h.until("acks", |h| acked(h) >= 5 - refused);
    assert_eq!(
        v.with(|s| s.ws_places) as usize,
        5 - refused,
        "refused orders never reached the venue"
    );

    // A 429 from the venue blocks sending until its retryAfter.
    let v2 = MiniBinance::start();
    let mut h2 = Harness::new(config(&v2, OrderEntry::WsApi));
    v2.with(|s| s.faults.status_429_on_place = true);
    h2.submit(new_order(1, "50000"));
    h2.until("429 reject", |h| {
        h.count(
            |r| matches!(r, ExecReport::Reject(x) if x.reason() == Some(RejectReason::RateLimited)),
        ) == 1
    });
    h2.submit(new_order(2, "50000"));
    assert_eq!(
        h2.count(|r| matches!(r, ExecReport::Reject(x) if x.cl_ord_id == id(2) && x.reason() == Some(RejectReason::RateLimited))),
        1,
        "refused locally while backing off"
    );
    assert_eq!(v2.with(|s| s.ws_places), 1);
    h.s.shutdown();
    h2.s.shutdown();
}

#[test]
fn rest_order_entry_round_trip() {
    let v = MiniBinance::start();
    let mut h = Harness::new(config(&v, OrderEntry::Rest));
    h.submit(new_order(4, "50000"));
    h.until("ack", |h| {
        h.count(|r| matches!(r, ExecReport::Ack(a) if a.cl_ord_id == id(4))) >= 1
    });
    h.submit(cancel(4));
    h.until("cancel ack", |h| {
        h.count(|r| matches!(r, ExecReport::CancelAck(c) if c.cl_ord_id == id(4))) >= 1
    });
    assert!(v.with(|s| s.rest_requests.iter().any(|r| r == "POST /api/v3/order")));
    assert!(v.with(|s| s.rest_requests.iter().any(|r| r == "DELETE /api/v3/order")));
    assert_eq!(v.with(|s| s.ws_places), 0, "orders went over REST");
    assert!(h.s.latency().ack.len() >= 2);
    h.s.shutdown();
}

#[test]
fn venue_down_rejects_at_once_and_retries_with_backoff() {
    // Nothing listens on this port: connects fail, the session backs off instead of spinning.
    let v = MiniBinance::start();
    let mut cfg = config(&v, OrderEntry::WsApi);
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    cfg.ws_api_url = format!(
        "wss://localhost:{}/ws-api/v3",
        dead.local_addr().unwrap().port()
    );
    drop(dead);
    let mut s = BinanceSession::start(cfg, &creds()).unwrap();
    let mut got = Vec::new();
    let t = Instant::now();
    while t.elapsed() < Duration::from_millis(1500) {
        s.poll(clock(), &mut |r| got.push(r));
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(!s.is_ready());
    let connects = s.stats().connects;
    // 50 ms doubling to a 400 ms cap over 1.5 s: a handful of attempts, not hundreds.
    assert!((2..=12).contains(&connects), "{connects} connect attempts");
    s.submit(&new_order(1, "50000"), clock(), &mut |r| got.push(r));
    assert!(
        matches!(got.last(), Some(ExecReport::Reject(x)) if x.reason() == Some(RejectReason::VenueUnavailable))
    );
    s.shutdown();
}

fn amend(seq: u64, px: &str) -> OrderCommand {
    OrderCommand::Amend(AmendOrder {
        meta: Meta::new(VenueId::BINANCE, INST, clock()),
        cl_ord_id: id(seq),
        new_px: Px::parse(px).unwrap(),
        new_qty: Qty::parse("0.01").unwrap(),
    })
}

/// The venue order ids of the `Ack`s for `seq` in `got`, in arrival order.
fn acked_legs(got: &[ExecReport], seq: u64) -> Vec<u64> {
    got.iter()
        .filter_map(|r| match r {
            ExecReport::Ack(a) if a.cl_ord_id == id(seq) => Some(a.venue_order_id),
            _ => None,
        })
        .collect()
}

/// A resting order acked by its reply only: its `NEW` push is held at the venue. Returns the
/// harness, the order's venue id and the pushes received so far.
fn resting_with_push_held(v: &MiniBinance) -> (Harness, u64, u64) {
    v.with(|s| s.push_timing = PushTiming::Held);
    let mut h = Harness::new(config(v, OrderEntry::WsApi));
    h.submit(new_order(1, "50000"));
    h.until("ack by reply", |h| {
        acked_legs(&h.got, 1).len() == 1 && h.s.in_flight() == 0
    });
    let leg = acked_legs(&h.got, 1)[0];
    let pushes = h.s.stats().pushes;
    (h, leg, pushes)
}

/// The venue's view of our order: (price, status) of each leg, oldest first.
fn venue_legs(v: &MiniBinance) -> Vec<(String, &'static str)> {
    v.with(|s| {
        s.orders
            .iter()
            .filter(|o| o.cl == "tw1x1")
            .map(|o| (o.px.clone(), o.status))
            .collect()
    })
}

/// Every push before the reply it travels with: the original's late `NEW` push and the
/// cancel's push both arrive before the cancel's reply, the new leg's push before its reply.
/// The late `NEW` push once ended the amend early, so the cancel push was passed as a plain
/// cancel, the order forgotten and the new leg never sent.
#[test]
fn amend_with_pushes_before_replies_is_an_ack_never_a_cancel() {
    let v = MiniBinance::start();
    let (mut h, old_leg, pushes) = resting_with_push_held(&v);
    let mark = h.got.len();
    v.with(|s| s.push_timing = PushTiming::BeforeNextReply);
    h.submit(amend(1, "50100"));
    // Frames, in this order on one connection: NEW(old) push, CANCELED(old) push, cancel
    // reply; NEW(new) push, new-leg reply.
    h.until("new leg acked by push and reply", |h| {
        h.s.in_flight() == 0
            && h.s.stats().pushes == pushes + 3
            && acked_legs(&h.got[mark..], 1)
                .iter()
                .filter(|&&l| l != old_leg)
                .count()
                == 2
    });
    assert_eq!(
        h.count(|r| matches!(r, ExecReport::CancelAck(_))),
        0,
        "an amend is not a cancel to the core: {:?}",
        h.got
    );
    let after = acked_legs(&h.got[mark..], 1);
    let new_leg = after[after.len() - 1];
    assert_ne!(new_leg, old_leg);
    assert_eq!(
        after,
        vec![old_leg, new_leg, new_leg],
        "the original's late push, then the new leg's push and reply: {:?}",
        h.got
    );
    assert_eq!(
        venue_legs(&v),
        vec![
            ("50000.00".to_owned(), "CANCELED"),
            ("50100.00".to_owned(), "NEW")
        ]
    );
    // The session still tracks the order (the new leg): a plain cancel of it is passed to
    // the core, by its reply and its push as any cancel.
    v.with(|s| s.push_timing = PushTiming::AfterReply);
    h.submit(cancel(1));
    h.until("cancel ack (reply and push)", |h| {
        h.s.in_flight() == 0 && h.s.stats().pushes == pushes + 4
    });
    assert_eq!(
        h.count(|r| matches!(r, ExecReport::CancelAck(c) if c.cl_ord_id == id(1))),
        2
    );
    assert_eq!(venue_legs(&v)[1].1, "CANCELED");
    h.s.shutdown();
}

/// Every push after every reply (a lagging user-data stream): the original's `NEW` push, the
/// cancel's push and the new leg's push all arrive after the new leg's reply. The old leg's
/// late reports are withheld: no cancel, and the core's venue id never reverts to the old leg.
#[test]
fn amend_with_pushes_after_replies_keeps_the_new_leg() {
    let v = MiniBinance::start();
    let (mut h, old_leg, pushes) = resting_with_push_held(&v);
    let mark = h.got.len();
    h.submit(amend(1, "50100"));
    h.until("new leg acked by reply", |h| {
        h.s.in_flight() == 0 && !acked_legs(&h.got[mark..], 1).is_empty()
    });
    let new_leg = acked_legs(&h.got[mark..], 1)[0];
    assert_ne!(new_leg, old_leg);
    v.with(|s| s.push_timing = PushTiming::AfterReply);
    h.until("the three late pushes", |h| {
        h.s.stats().pushes == pushes + 3
    });
    assert_eq!(
        h.count(|r| matches!(r, ExecReport::CancelAck(_))),
        0,
        "{:?}",
        h.got
    );
    assert_eq!(
        acked_legs(&h.got[mark..], 1),
        vec![new_leg, new_leg],
        "the old leg's late NEW push is withheld: {:?}",
        h.got
    );
    h.s.shutdown();
}

/// The new leg is rejected (429), then the old leg's pushes arrive: the core sees the
/// `Reject` (the original is gone) and nothing after it.
#[test]
fn amend_whose_new_leg_is_rejected_ends_with_the_reject_alone() {
    let v = MiniBinance::start();
    let (mut h, _, pushes) = resting_with_push_held(&v);
    let mark = h.got.len();
    v.with(|s| s.faults.status_429_on_place = true);
    h.submit(amend(1, "50100"));
    h.until("new leg rejected", |h| {
        h.s.in_flight() == 0 && h.count(|r| matches!(r, ExecReport::Reject(_))) == 1
    });
    v.with(|s| s.push_timing = PushTiming::AfterReply);
    h.until("the two late pushes", |h| h.s.stats().pushes == pushes + 2);
    let after: Vec<_> = h.got[mark..].to_vec();
    assert!(
        matches!(after.as_slice(), [ExecReport::Reject(x)] if x.cl_ord_id == id(1) && x.reason() == Some(RejectReason::RateLimited)),
        "only the new leg's reject: {after:?}"
    );
    assert_eq!(venue_legs(&v), vec![("50000.00".to_owned(), "CANCELED")]);
    h.s.shutdown();
}
