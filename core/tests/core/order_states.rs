//! The engine's order state machine on constructed venue report sequences: fill before ack,
//! cancel ack after a fill, duplicate fills, fill debt, rounded completions, overfills,
//! unknown states, vanished orders, and restart verification.

use proptest::prelude::*;
use tickwire_core::engine::replay::RestoreLog;
use tickwire_core::engine::{Ctx, Engine, EngineConfig, PlaceError, Strategy};
use tickwire_core::event::{
    Ack, AlertCode, CancelAck, ExecReport, Fill, Input, Liquidity, MarketEvent, Meta, NewOrder,
    OrderCommand, OrderState, OrderStatus, OrderType, Output, Record, Reject, RejectReason,
    SessionAction, SessionCtl, Side, StatusReport, TimeInForce, TopOfBook, Unknown, UnknownCause,
};
use tickwire_core::ids::{ClientOrderId, InstrumentId, StrategyId, VenueId};
use tickwire_core::num::{InstrumentSpec, Px, Qty};
use tickwire_core::order::OrderRequest;

fn px(s: &str) -> Px {
    Px::parse(s).expect("literal")
}
fn qty(s: &str) -> Qty {
    Qty::parse(s).expect("literal")
}

const I0: InstrumentId = InstrumentId(0);
const S0: StrategyId = StrategyId(0);

fn spec() -> InstrumentSpec {
    InstrumentSpec {
        id: I0,
        venue: VenueId::OKX,
        symbol: "BTC-USDT".into(),
        tick: px("0.1"),
        lot: qty("0.0001"),
        min_qty: qty("0.0001"),
        min_notional: Px::ZERO,
    }
}

/// Places one buy of `size` at the bid on every book update while it has fewer than three open
/// orders; keeps the last placement error so tests can see refusals.
struct Buyer {
    size: Qty,
    last_error: std::sync::Arc<std::sync::Mutex<Option<PlaceError>>>,
}

impl Strategy for Buyer {
    fn name(&self) -> &str {
        "buyer"
    }
    fn on_book(&mut self, ctx: &mut Ctx<'_>, instrument: InstrumentId) {
        let Some(bid) = ctx.market(instrument).and_then(|m| m.best_bid()) else {
            return;
        };
        if ctx.open_orders().count() >= 3 {
            return;
        }
        let req = OrderRequest {
            instrument,
            side: Side::Buy,
            px: bid,
            qty: self.size,
            order_type: OrderType::Limit,
            tif: TimeInForce::Gtc,
        };
        let r = ctx.place(req);
        *self.last_error.lock().expect("lock") = r.err();
    }
}

type LastError = std::sync::Arc<std::sync::Mutex<Option<PlaceError>>>;

fn engine(size: &str) -> (Engine, LastError) {
    let cfg = EngineConfig {
        instruments: vec![spec()],
        max_open_orders: 8,
        book_depth: 8,
        fill_memory: 64,
    };
    let last_error = LastError::default();
    let e = Engine::new(
        &cfg,
        vec![Box::new(Buyer {
            size: qty(size),
            last_error: last_error.clone(),
        })],
    );
    (e, last_error)
}

fn meta(t: u64) -> Meta {
    Meta::new(VenueId::OKX, I0, t)
}

fn top(t: u64) -> Input {
    Input::Market(MarketEvent::Top(TopOfBook {
        meta: meta(t),
        bid_px: px("100"),
        bid_qty: qty("1"),
        ask_px: px("100.2"),
        ask_qty: qty("1"),
        update_id: t,
    }))
}

fn fill_at(t: u64, id: ClientOrderId, trade: u64, q: &str, price: &str, fee: &str) -> Input {
    Input::Exec(ExecReport::Fill(Fill::new(
        meta(t),
        id,
        77,
        trade,
        Side::Buy,
        px(price),
        qty(q),
        Px::parse_signed(fee).expect("fee"),
        Liquidity::Maker,
    )))
}

fn fill(t: u64, id: ClientOrderId, trade: u64, q: &str) -> Input {
    fill_at(t, id, trade, q, "100", "0")
}

fn ack(t: u64, id: ClientOrderId) -> Input {
    Input::Exec(ExecReport::Ack(Ack {
        meta: meta(t),
        cl_ord_id: id,
        venue_order_id: 77,
    }))
}

fn status(t: u64, id: ClientOrderId, st: OrderStatus, filled: &str) -> Input {
    Input::Exec(ExecReport::Status(StatusReport::new(
        meta(t),
        id,
        77,
        st,
        qty(filled),
    )))
}

fn placed(e: &mut Engine, t: u64) -> ClientOrderId {
    let out = e.process(&top(t)).to_vec();
    match out.first() {
        Some(Output::Command(OrderCommand::New(n))) => n.cl_ord_id,
        other => panic!("expected a new order, got {other:?}"),
    }
}

fn alerts(out: &[Output], code: AlertCode) -> usize {
    out.iter()
        .filter(|o| matches!(o, Output::Alert(a) if a.code() == Some(code)))
        .count()
}

fn last_state(out: &[Output]) -> Option<OrderState> {
    out.iter().rev().find_map(|o| match o {
        Output::OrderUpdate(u) => u.state(),
        _ => None,
    })
}

#[test]
fn fill_before_ack_then_cancel_ack_after_the_last_fill() {
    let (mut e, _) = engine("0.5");
    let id = placed(&mut e, 1);
    let out = e.process(&fill(2, id, 1, "0.2")).to_vec();
    assert_eq!(last_state(&out), Some(OrderState::PartiallyFilled));
    e.process(&ack(3, id));
    assert_eq!(
        e.orders().get(id).map(|o| o.state),
        Some(OrderState::PartiallyFilled),
        "a late ack does not regress the state"
    );
    let out = e.process(&fill(4, id, 2, "0.3")).to_vec();
    assert_eq!(last_state(&out), Some(OrderState::Filled));
    let cancel_ack = Input::Exec(ExecReport::CancelAck(CancelAck {
        meta: meta(5),
        cl_ord_id: id,
    }));
    let out = e.process(&cancel_ack).to_vec();
    assert!(out.is_empty() || alerts(&out, AlertCode::FillAnomaly) == 0);
    assert!(e.orders().get(id).is_none());
    let a = e.ledger().account(S0, I0).expect("account");
    assert_eq!(a.position(), qty("0.5"));
    assert_eq!(a.trades(), 2);
}

#[test]
fn duplicate_fills_from_two_channels_count_once_in_position_and_fees() {
    let (mut e, _) = engine("0.5");
    let id = placed(&mut e, 1);
    e.process(&fill_at(2, id, 9, "0.2", "100", "0.01"));
    let dup = e.process(&fill_at(3, id, 9, "0.2", "100", "0.01")).to_vec();
    assert!(dup.is_empty(), "a duplicate produces nothing: {dup:?}");
    assert_eq!(e.position(S0, I0), qty("0.2"));
    assert_eq!(e.strategy_fees(S0), "0.01".parse().expect("dec"));
    assert_eq!(e.stats().duplicate_fills, 1);
}

#[test]
fn status_with_more_filled_is_fill_debt_until_the_fills_arrive() {
    let (mut e, _) = engine("0.5");
    let id = placed(&mut e, 1);
    e.process(&ack(2, id));
    e.process(&fill(3, id, 1, "0.1"));
    let out = e
        .process(&status(4, id, OrderStatus::PartiallyFilled, "0.3"))
        .to_vec();
    assert_eq!(alerts(&out, AlertCode::FillDebt), 1);
    let o = e.orders().get(id).copied().expect("open");
    assert_eq!(o.fill_debt(), qty("0.2"));
    assert_eq!(
        e.position(S0, I0),
        qty("0.1"),
        "positions move only on fills"
    );
    // The same status again is not a new debt.
    let out = e
        .process(&status(5, id, OrderStatus::PartiallyFilled, "0.3"))
        .to_vec();
    assert_eq!(alerts(&out, AlertCode::FillDebt), 0);
    e.process(&fill(6, id, 2, "0.2"));
    let o = e.orders().get(id).copied().expect("still open");
    assert_eq!(o.fill_debt(), Qty::ZERO);
    assert_eq!(o.state, OrderState::PartiallyFilled);
    // A stale status (sent before the fills) does not regress the order.
    let out = e.process(&status(7, id, OrderStatus::New, "0")).to_vec();
    assert!(
        out.iter().all(|o| !matches!(o, Output::Alert(_))),
        "{out:?}"
    );
    assert_eq!(
        e.orders().get(id).map(|o| o.state),
        Some(OrderState::PartiallyFilled)
    );
}

#[test]
fn filled_status_with_debt_closes_only_when_the_fills_arrive() {
    let (mut e, _) = engine("0.5");
    let id = placed(&mut e, 1);
    e.process(&ack(2, id));
    let out = e
        .process(&status(3, id, OrderStatus::Filled, "0.5"))
        .to_vec();
    assert_eq!(alerts(&out, AlertCode::FillDebt), 1);
    assert!(
        e.orders().get(id).is_some(),
        "kept open until its fills arrive"
    );
    e.process(&fill(4, id, 1, "0.25"));
    assert!(e.orders().get(id).is_some());
    let out = e.process(&fill(5, id, 2, "0.25")).to_vec();
    assert_eq!(last_state(&out), Some(OrderState::Filled));
    assert!(e.orders().get(id).is_none());
    assert_eq!(e.position(S0, I0), qty("0.5"));
}

#[test]
fn filled_status_within_tolerance_closes_without_an_overfill_alarm() {
    // The OKX incident: 0.024098 reported filled of an order of 0.0241.
    let (mut e, _) = engine("0.0241");
    let id = placed(&mut e, 1);
    e.process(&ack(2, id));
    let out = e
        .process(&status(3, id, OrderStatus::Filled, "0.024098"))
        .to_vec();
    assert_eq!(
        alerts(&out, AlertCode::FillDebt),
        1,
        "the fill is still owed"
    );
    let out = e.process(&fill(4, id, 1, "0.024098")).to_vec();
    assert_eq!(last_state(&out), Some(OrderState::Filled));
    assert_eq!(alerts(&out, AlertCode::FillAnomaly), 0);
    assert!(e.orders().get(id).is_none());
    // And the other order: the fill first, then the status.
    let id = placed(&mut e, 5);
    e.process(&fill(6, id, 2, "0.0240"));
    let out = e
        .process(&status(7, id, OrderStatus::Filled, "0.0240"))
        .to_vec();
    assert_eq!(last_state(&out), Some(OrderState::Filled));
    assert!(
        out.iter().all(|o| !matches!(o, Output::Alert(_))),
        "{out:?}"
    );
    assert!(e.orders().get(id).is_none());
}

#[test]
fn overfill_beyond_tolerance_alerts_and_is_still_applied() {
    let (mut e, _) = engine("0.5");
    let id = placed(&mut e, 1);
    let out = e.process(&fill(2, id, 1, "0.6")).to_vec();
    assert_eq!(alerts(&out, AlertCode::FillAnomaly), 1);
    assert_eq!(e.position(S0, I0), qty("0.6"));
    assert_eq!(
        e.ledger().account(S0, I0).expect("a").position(),
        qty("0.6")
    );
}

#[test]
fn unknown_waits_for_a_status_ack_or_reject() {
    for resolution in 0..3 {
        let (mut e, _) = engine("0.5");
        let id = placed(&mut e, 1);
        let unknown = Input::Exec(ExecReport::Unknown(Unknown::new(
            meta(2),
            id,
            UnknownCause::Timeout,
        )));
        let out = e.process(&unknown).to_vec();
        assert_eq!(last_state(&out), Some(OrderState::Unknown));
        let (input, want) = match resolution {
            0 => (status(3, id, OrderStatus::New, "0"), OrderState::Working),
            1 => (ack(3, id), OrderState::Working),
            _ => (
                Input::Exec(ExecReport::Reject(Reject::new(
                    meta(3),
                    id,
                    RejectReason::InsufficientFunds,
                    -2010,
                ))),
                OrderState::Rejected,
            ),
        };
        let out = e.process(&input).to_vec();
        assert_eq!(last_state(&out), Some(want), "resolution {resolution}");
    }
}

#[test]
fn unknown_order_reject_for_an_open_order_closes_it_with_an_alert() {
    let (mut e, _) = engine("0.5");
    let id = placed(&mut e, 1);
    e.process(&ack(2, id));
    let reject = Input::Exec(ExecReport::Reject(Reject::new(
        meta(3),
        id,
        RejectReason::UnknownOrder,
        -2013,
    )));
    let out = e.process(&reject).to_vec();
    assert_eq!(alerts(&out, AlertCode::OrderVanished), 1);
    assert_eq!(last_state(&out), Some(OrderState::Canceled));
    assert!(e.orders().get(id).is_none());
}

fn new_order_record(id: ClientOrderId, q: &str) -> NewOrder {
    NewOrder::new(
        meta(1),
        id,
        Side::Buy,
        OrderType::Limit,
        TimeInForce::Gtc,
        px("100"),
        qty(q),
    )
}

#[test]
fn restored_orders_block_placement_until_the_venue_confirms_them() {
    let id = |seq| ClientOrderId::new(S0, seq).expect("id");
    // Session 1 as journaled: three orders sent, the first filled, two left open.
    let mut log = RestoreLog::default();
    for seq in 1..=3 {
        log.push(&Record::Output(Output::Command(OrderCommand::New(
            new_order_record(id(seq), "0.5"),
        ))));
        log.push(&Record::Input(ack(2, id(seq))));
    }
    log.push(&Record::Input(fill_at(3, id(1), 1, "0.5", "100", "0.02")));
    // A duplicate the venue will resend after the restart.
    let (mut e, last_error) = engine("0.5");
    assert_eq!(log.apply(&mut e), 2);
    assert_eq!(e.position(S0, I0), qty("0.5"));
    assert_eq!(e.next_order_seq(S0), Some(4));
    assert_eq!(e.strategy_fees(S0), "0.02".parse().expect("dec"));

    let resume = Input::Session(SessionCtl::new(meta(10), SessionAction::Resume, 2));
    let out = e.process(&resume).to_vec();
    let unknowns = out
        .iter()
        .filter(|o| matches!(o, Output::OrderUpdate(u) if u.state() == Some(OrderState::Unknown)))
        .count();
    assert_eq!(unknowns, 2);
    assert_eq!(e.unverified_orders(S0), 2);
    // Nothing may be placed while the restored orders are unverified.
    let out = e.process(&top(11)).to_vec();
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(
        *last_error.lock().expect("lock"),
        Some(PlaceError::Unverified)
    );
    // The venue confirms one; the resent fill of the first order is recognised.
    let out = e
        .process(&status(12, id(2), OrderStatus::New, "0"))
        .to_vec();
    assert_eq!(last_state(&out), Some(OrderState::Working));
    assert!(
        e.process(&fill_at(13, id(1), 1, "0.5", "100", "0.02"))
            .is_empty()
    );
    assert_eq!(e.unverified_orders(S0), 1);
    // Reconciled: the venue does not know the third one; it is closed, nothing leaks.
    let rec = Input::Session(SessionCtl::new(meta(14), SessionAction::Reconciled, 0));
    let out = e.process(&rec).to_vec();
    assert_eq!(alerts(&out, AlertCode::OrderVanished), 1);
    assert!(e.orders().get(id(3)).is_none());
    assert!(e.orders().get(id(2)).is_some());
    assert_eq!(e.unverified_orders(S0), 0);
    // Cancel the surviving order; the strategy may trade again, with a fresh id.
    e.process(&Input::Exec(ExecReport::CancelAck(CancelAck {
        meta: meta(15),
        cl_ord_id: id(2),
    })));
    let next = placed(&mut e, 16);
    assert_eq!(next, id(4));
}

#[derive(Clone, Debug)]
struct F {
    trade: u64,
    qty: i64,
    px: i64,
    fee: i64,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any interleaving and duplication of the same fills (and of acks and statuses among
    /// them) gives the same final position, ledger and order state.
    #[test]
    fn fills_in_any_order_with_duplicates_give_the_same_state(
        fills in prop::collection::vec((1i64..100_000_000, 1_000_000_000i64..2_000_000_000_000, -10_000_000i64..100_000_000), 1..12),
        order in any::<u64>(),
        dups in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let fills: Vec<F> = fills.iter().enumerate().map(|(i, &(q, p, fee))| F {
            trade: i as u64 + 1, qty: q, px: p, fee,
        }).collect();
        let total: i64 = fills.iter().map(|f| f.qty).sum();
        let run = |seq: &[usize], with_dups: bool| {
            let (mut e, _) = engine("1");
            let id = placed(&mut e, 1);
            let mut inputs: Vec<Input> = seq.iter().map(|&i| {
                let f = &fills[i];
                Input::Exec(ExecReport::Fill(Fill::new(
                    meta(2), id, 77, f.trade, Side::Buy, Px::from_raw(f.px),
                    Qty::from_raw(f.qty), Px::from_raw(f.fee), Liquidity::Maker,
                )))
            }).collect();
            if with_dups {
                for d in &dups {
                    let copy = inputs[d.index(inputs.len())];
                    inputs.insert(d.index(inputs.len() + 1), copy);
                }
                inputs.insert(order as usize % (inputs.len() + 1), ack(2, id));
            }
            for i in &inputs {
                e.process(i);
            }
            let a = *e.ledger().account(S0, I0).expect("account");
            let o = e.orders().get(id).map(|o| (o.filled, o.state));
            (a.position(), a.fees(), a.turnover(), a.trades(), a.pnl(px("100")).net(), o)
        };
        let straight: Vec<usize> = (0..fills.len()).collect();
        let mut shuffled = straight.clone();
        let mut x = order | 1;
        for i in (1..shuffled.len()).rev() {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            shuffled.swap(i, (x % (i as u64 + 1)) as usize);
        }
        let a = run(&straight, false);
        let b = run(&shuffled, true);
        prop_assert_eq!(a, b);
        prop_assert_eq!(a.0, Qty::from_raw(total));
        prop_assert_eq!(a.3, fills.len() as u64);
    }
}
