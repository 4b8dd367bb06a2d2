//! `OkxSession` against the simulator's OKX private side over real TLS on loopback: login and
//! subscribe, place/amend/cancel round trips, fills from the `orders` channel, the local rate
//! budget, a disconnect with an order in flight (unknown → resolved by query), and the REST
//! fallback while the WebSocket cannot connect.

use super::okx_support::*;
use serde_json::Value;
use tickwire_core::event::{
    AmendOrder, CancelOrder, ExecReport, Liquidity, Meta, NewOrder, OrderCommand, OrderStatus,
    OrderType, RejectReason, Side, TimeInForce, UnknownCause,
};
use tickwire_core::ids::{ClientOrderId, StrategyId, VenueId};
use tickwire_core::num::{Px, Qty};
use tickwire_exec::queries::VenueQueries;
use tickwire_exec::session::VenueSession;
use tickwire_exec::venue::okx::OkxSession;

fn oid(seq: u64) -> ClientOrderId {
    ClientOrderId::new(StrategyId(3), seq).expect("small seq")
}

fn meta() -> Meta {
    let mut m = Meta::new(VenueId::OKX, INST, mono_ns());
    m.stamps.exec_in_ns = mono_ns();
    m
}

fn new_order(
    id: ClientOrderId,
    side: Side,
    ty: OrderType,
    tif: TimeInForce,
    p: Px,
    q: Qty,
) -> OrderCommand {
    OrderCommand::New(NewOrder::new(meta(), id, side, ty, tif, p, q))
}

fn ready(s: &mut OkxSession, got: &mut Vec<ExecReport>) {
    drive_until(s, got, "login and subscribe", |s, _| s.is_ready());
}

fn submit(s: &mut OkxSession, cmd: OrderCommand, got: &mut Vec<ExecReport>) {
    s.submit(&cmd, mono_ns(), &mut |r| got.push(r));
}

fn acks(got: &[ExecReport], id: ClientOrderId) -> usize {
    got.iter()
        .filter(|r| matches!(r, ExecReport::Ack(a) if a.cl_ord_id == id && a.venue_order_id != 0))
        .count()
}

/// The venue's view of one order, straight from `GET /api/v5/trade/order`.
fn venue_order(sim: &tickwire_sim::SimHandle, id: ClientOrderId) -> Value {
    let rest = sim
        .endpoint("okx", tickwire_sim::EndpointKind::Rest)
        .expect("rest");
    let mut r =
        tickwire_exec::venue::okx::OkxRest::new(rest, tls(sim), Default::default(), encoder())
            .expect("rest client");
    let resp = r
        .query(&format!("/api/v5/trade/order?instId=BTC-USDT&clOrdId={id}"))
        .expect("query");
    let v: Value = serde_json::from_slice(&resp.body).expect("json");
    assert_eq!(v["code"], "0", "{v}");
    v["data"][0].clone()
}

#[test]
fn place_amend_cancel_round_trip_over_the_private_ws() {
    let sim = sim("");
    finish_tape(&sim);
    let ((bid, _), _) = top(&sim);
    let mut s = session(&sim, session_config(&sim));
    let mut got = Vec::new();
    ready(&mut s, &mut got);
    assert_eq!(s.stats().logins, 1);

    let id = oid(1);
    let p = bid.checked_sub(px("100")).expect("price");
    submit(
        &mut s,
        new_order(
            id,
            Side::Buy,
            OrderType::Limit,
            TimeInForce::Gtc,
            p,
            qty("0.01"),
        ),
        &mut got,
    );
    // The op reply and the `live` push each acknowledge it.
    drive_until(&mut s, &mut got, "the order's acks", |_, g| {
        acks(g, id) >= 2
    });
    let v = venue_order(&sim, id);
    assert_eq!(
        (v["state"].as_str(), v["sz"].as_str()),
        (Some("live"), Some("0.01")),
        "{v}"
    );

    let p2 = bid.checked_sub(px("50")).expect("price");
    let amend = OrderCommand::Amend(AmendOrder {
        meta: meta(),
        cl_ord_id: id,
        new_px: p2,
        new_qty: qty("0.02"),
    });
    submit(&mut s, amend, &mut got);
    // The amended order is pushed again as `live`.
    drive_until(&mut s, &mut got, "the amend's push", |_, g| {
        acks(g, id) >= 3
    });
    let v = venue_order(&sim, id);
    assert_eq!(v["sz"].as_str(), Some("0.02"), "{v}");
    assert_eq!(
        Px::parse(v["px"].as_str().expect("px")).ok(),
        Some(p2),
        "{v}"
    );

    submit(
        &mut s,
        OrderCommand::Cancel(CancelOrder {
            meta: meta(),
            cl_ord_id: id,
        }),
        &mut got,
    );
    drive_until(&mut s, &mut got, "the cancel ack", |_, g| {
        g.iter()
            .any(|r| matches!(r, ExecReport::CancelAck(c) if c.cl_ord_id == id))
    });
    assert_eq!(venue_order(&sim, id)["state"].as_str(), Some("canceled"));
    assert!(
        !got.iter().any(|r| matches!(
            r,
            ExecReport::Reject(_) | ExecReport::CancelReject(_) | ExecReport::Unknown(_)
        )),
        "{got:#?}"
    );
    let st = s.stats();
    assert_eq!(
        (st.ws_requests, st.rest_requests, st.unknowns, st.bad_frames),
        (3, 0, 0, 0)
    );
    assert!(!s.latency().written.is_empty() && !s.latency().ack.is_empty());

    // A refusal by the venue comes back with its sCode mapped.
    let id2 = oid(2);
    submit(
        &mut s,
        new_order(
            id2,
            Side::Buy,
            OrderType::Limit,
            TimeInForce::Gtc,
            p,
            qty("100000"),
        ),
        &mut got,
    );
    drive_until(&mut s, &mut got, "the reject", |_, g| {
        g.iter()
            .any(|r| matches!(r, ExecReport::Reject(x) if x.cl_ord_id == id2))
    });
    let rej = got.iter().find_map(|r| match r {
        ExecReport::Reject(x) if x.cl_ord_id == id2 => Some(*x),
        _ => None,
    });
    let rej = rej.expect("reject");
    assert_eq!(
        (rej.reason(), rej.venue_code),
        (Some(RejectReason::InsufficientFunds), 51008)
    );
    s.shutdown();
    sim.shutdown();
}

#[test]
fn taker_fills_arrive_on_the_orders_channel() {
    let sim = sim("");
    finish_tape(&sim);
    let ((bid, bid_sz), _) = top(&sim);
    let mut s = session(&sim, session_config(&sim));
    let mut got = Vec::new();
    ready(&mut s, &mut got);
    let q = bid_sz.min(qty("0.5"));
    let id = oid(7);
    submit(
        &mut s,
        new_order(
            id,
            Side::Sell,
            OrderType::Market,
            TimeInForce::Gtc,
            Px::ZERO,
            q,
        ),
        &mut got,
    );
    drive_until(&mut s, &mut got, "the fill", |_, g| {
        g.iter()
            .any(|r| matches!(r, ExecReport::Fill(f) if f.cl_ord_id == id))
    });
    let f = got
        .iter()
        .find_map(|r| match r {
            ExecReport::Fill(f) if f.cl_ord_id == id => Some(*f),
            _ => None,
        })
        .expect("fill");
    assert_eq!((f.px, f.qty, f.side()), (bid, q, Some(Side::Sell)));
    assert_eq!(f.liquidity, Liquidity::Taker.code());
    assert_ne!(f.trade_id, 0);
    // Taker fee 0.1 % of the USDT received, booked as paid (positive).
    let notional = bid.to_decimal() * q.to_decimal() * rust_decimal::Decimal::new(1, 3);
    assert_eq!(f.fee.to_decimal(), notional.round_dp(8));
    assert!(!s.latency().fill.is_empty());

    // The venue's fills endpoint lists the same trade.
    let mut venue_fills = Vec::new();
    queries(&sim)
        .fills_after(INST, 0, &mut |r| venue_fills.push(r))
        .expect("fills query");
    assert!(
        matches!(&venue_fills[..], [ExecReport::Fill(v)] if v.trade_id == f.trade_id && v.qty == q)
    );
    s.shutdown();
    sim.shutdown();
}

#[test]
fn the_local_rate_budget_rejects_before_the_venue_does() {
    let sim = sim("");
    finish_tape(&sim);
    let ((bid, _), _) = top(&sim);
    let mut cfg = session_config(&sim);
    cfg.rate_limit = 2;
    cfg.rate_window = std::time::Duration::from_secs(60);
    let mut s = session(&sim, cfg);
    let mut got = Vec::new();
    ready(&mut s, &mut got);
    let p = bid.checked_sub(px("100")).expect("price");
    for seq in 1..=3 {
        submit(
            &mut s,
            new_order(
                oid(seq),
                Side::Buy,
                OrderType::Limit,
                TimeInForce::Gtc,
                p,
                qty("0.01"),
            ),
            &mut got,
        );
    }
    // The third is refused at once, locally.
    assert!(matches!(got.last(), Some(ExecReport::Reject(r))
        if r.cl_ord_id == oid(3) && r.reason() == Some(RejectReason::RateLimited) && r.venue_code == 0));
    drive_until(&mut s, &mut got, "two acks", |_, g| {
        acks(g, oid(1)) >= 1 && acks(g, oid(2)) >= 1
    });
    let mut open = Vec::new();
    let n = queries(&sim)
        .open_orders(&mut |r| open.push(r))
        .expect("open orders");
    assert_eq!(n, 2, "{open:#?}");
    assert_eq!(s.stats().rate_rejects, 1);
    s.shutdown();
    sim.shutdown();
}

#[test]
fn a_disconnect_with_an_order_in_flight_is_resolved_by_query_never_guessed() {
    let sim = sim("[[venue.private.fault]]\nkind = \"disconnect\"\ncount = 1\n");
    finish_tape(&sim);
    let ((bid, _), _) = top(&sim);
    let mut s = session(&sim, session_config(&sim));
    let mut got = Vec::new();
    ready(&mut s, &mut got);
    let id = oid(11);
    let p = bid.checked_sub(px("100")).expect("price");
    submit(
        &mut s,
        new_order(
            id,
            Side::Buy,
            OrderType::Limit,
            TimeInForce::Gtc,
            p,
            qty("0.01"),
        ),
        &mut got,
    );
    drive_until(&mut s, &mut got, "the resolved status", |_, g| {
        g.iter()
            .any(|r| matches!(r, ExecReport::Status(st) if st.cl_ord_id == id))
    });
    let unknown = got.iter().position(|r| {
        matches!(r, ExecReport::Unknown(u) if u.cl_ord_id == id && u.cause == UnknownCause::Disconnect.code())
    });
    let status = got.iter().position(|r| {
        matches!(r, ExecReport::Status(st)
        if st.cl_ord_id == id && st.status == OrderStatus::New.code() && st.venue_order_id != 0)
    });
    assert!(
        matches!((unknown, status), (Some(u), Some(s)) if u < s),
        "{got:#?}"
    );
    // No ack was invented for it.
    assert_eq!(acks(&got, id), 0, "{got:#?}");
    // The session reconnects and trades again.
    drive_until(&mut s, &mut got, "the reconnect", |s, _| s.is_ready());
    assert_eq!(
        (s.stats().connects, s.stats().logins, s.stats().disconnects),
        (2, 2, 1)
    );
    let id2 = oid(12);
    submit(
        &mut s,
        new_order(
            id2,
            Side::Buy,
            OrderType::Limit,
            TimeInForce::Gtc,
            p,
            qty("0.01"),
        ),
        &mut got,
    );
    drive_until(&mut s, &mut got, "the second order's ack", |_, g| {
        acks(g, id2) >= 1
    });
    s.shutdown();
    sim.shutdown();
}

#[test]
fn orders_go_over_rest_while_the_websocket_cannot_connect() {
    let sim = sim("");
    finish_tape(&sim);
    let ((bid, _), _) = top(&sim);
    let mut cfg = session_config(&sim);
    // Nothing listens there: every connect attempt fails (and is retried with backoff).
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    cfg.ws_url = format!("wss://127.0.0.1:{port}/ws/v5/private");
    let mut s = session(&sim, cfg);
    let mut got = Vec::new();
    // A few failed attempts, spaced by the backoff (not a spin: bounded by its delays).
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_millis(300) {
        s.poll(mono_ns(), &mut |r| got.push(r));
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(!s.is_ready());
    let id = oid(21);
    let p = bid.checked_sub(px("100")).expect("price");
    submit(
        &mut s,
        new_order(
            id,
            Side::Buy,
            OrderType::Limit,
            TimeInForce::Gtc,
            p,
            qty("0.01"),
        ),
        &mut got,
    );
    drive_until(&mut s, &mut got, "the REST ack", |_, g| acks(g, id) >= 1);
    submit(
        &mut s,
        OrderCommand::Cancel(CancelOrder {
            meta: meta(),
            cl_ord_id: id,
        }),
        &mut got,
    );
    drive_until(&mut s, &mut got, "the canceled status", |_, g| {
        g.iter().any(|r| matches!(r, ExecReport::Status(st) if st.cl_ord_id == id && st.status == OrderStatus::Canceled.code()))
    });
    assert_eq!(s.stats().rest_requests, 2);
    assert_eq!(s.stats().ws_requests, 0);
    s.shutdown();
    sim.shutdown();
}

#[test]
fn a_push_with_fill_progress_but_no_fill_record_is_chased_over_rest() {
    let sim = sim("[[venue.private.fault]]\nkind = \"no_fill_reports\"\ncount = 1\n");
    finish_tape(&sim);
    let ((_, bid_sz), _) = top(&sim);
    let mut s = session(&sim, session_config(&sim));
    let mut got = Vec::new();
    ready(&mut s, &mut got);
    let q = bid_sz.min(qty("0.5"));
    let id = oid(31);
    submit(
        &mut s,
        new_order(
            id,
            Side::Sell,
            OrderType::Market,
            TimeInForce::Gtc,
            Px::ZERO,
            q,
        ),
        &mut got,
    );
    drive_until(&mut s, &mut got, "the chased fill", |_, g| {
        g.iter()
            .any(|r| matches!(r, ExecReport::Fill(f) if f.cl_ord_id == id))
    });
    // First the status the push implied, then the fill fetched for it.
    let status = got.iter().position(|r| {
        matches!(r, ExecReport::Status(st)
        if st.cl_ord_id == id && st.status == OrderStatus::Filled.code() && st.filled_qty == q)
    });
    let fill = got
        .iter()
        .position(|r| matches!(r, ExecReport::Fill(f) if f.cl_ord_id == id && f.qty == q));
    assert!(
        matches!((status, fill), (Some(a), Some(b)) if a < b),
        "{got:#?}"
    );
    assert_eq!(s.stats().fill_debts, 1);
    s.shutdown();
    sim.shutdown();
}
