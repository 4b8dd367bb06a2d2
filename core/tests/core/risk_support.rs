//! A scripted strategy and an engine harness for risk tests: each timer tick runs the next
//! scripted action, so a test is a plain sequence of inputs with their outputs.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tickwire_core::engine::replay::RestoreLog;
use tickwire_core::engine::{Ctx, Engine, EngineConfig, PlaceError, Strategy};
use tickwire_core::event::Record;
use tickwire_core::event::{
    Ack, ExecReport, FeedState, FeedStatus, Fill, Input, Liquidity, MarketEvent, Meta,
    OperatorAction, OperatorCmd, OrderCommand, OrderStatus, OrderType, Output, Reject,
    RejectReason, RiskDecision, Side, StatusReport, TimeInForce, TimerTick, TopOfBook,
};
use tickwire_core::ids::{ClientOrderId, InstrumentId, StrategyId, VenueId};
use tickwire_core::num::{InstrumentSpec, Px, Qty};
use tickwire_core::order::OrderRequest;
use tickwire_core::risk::RiskConfig;

pub fn px(s: &str) -> Px {
    Px::parse(s).expect("literal")
}
pub fn qty(s: &str) -> Qty {
    Qty::parse(s).expect("literal")
}

pub fn spec(id: u32, venue: VenueId, symbol: &str) -> InstrumentSpec {
    InstrumentSpec {
        id: InstrumentId(id),
        venue,
        symbol: symbol.into(),
        tick: px("0.1"),
        lot: qty("0.001"),
        min_qty: qty("0.001"),
        min_notional: Px::ZERO,
    }
}

/// One scripted action.
#[derive(Clone, Copy, Debug)]
pub enum Act {
    Place(OrderRequest),
    Leg(InstrumentId, Qty),
}

type Results = Arc<Mutex<Vec<Result<ClientOrderId, PlaceError>>>>;

pub struct Script {
    plan: Arc<Mutex<VecDeque<Act>>>,
    results: Results,
}

impl Strategy for Script {
    fn name(&self) -> &str {
        "script"
    }
    fn on_timer(&mut self, ctx: &mut Ctx<'_>, _tick: &TimerTick) {
        let act = self.plan.lock().expect("test lock").pop_front();
        let r = match act {
            Some(Act::Place(req)) => ctx.place(req),
            Some(Act::Leg(i, q)) => ctx.open_leg(i, q).map(|_| ClientOrderId(0)),
            None => return,
        };
        self.results.lock().expect("test lock").push(r);
    }
}

pub struct Harness {
    pub e: Engine,
    pub t: u64,
    tick: u64,
    plan: Arc<Mutex<VecDeque<Act>>>,
    results: Results,
    next_trade: u64,
    /// What a journal of this session would give a restart: every input and output.
    pub log: RestoreLog,
}

pub const MS: u64 = 1_000_000;

impl Harness {
    pub fn new(cfg: RiskConfig) -> Self {
        Self::with(cfg, vec![spec(0, VenueId::OKX, "BTC-USDT")])
    }

    pub fn with(cfg: RiskConfig, specs: Vec<InstrumentSpec>) -> Self {
        let plan = Arc::new(Mutex::new(VecDeque::new()));
        let results: Results = Arc::new(Mutex::new(Vec::new()));
        let strat = Script {
            plan: Arc::clone(&plan),
            results: Arc::clone(&results),
        };
        let mut e = Engine::new(
            &EngineConfig {
                instruments: specs,
                max_open_orders: 64,
                book_depth: 8,
                fill_memory: 1024,
            },
            vec![Box::new(strat)],
        );
        e.set_risk(cfg);
        Self {
            e,
            t: 1_000 * MS,
            tick: 0,
            plan,
            results,
            next_trade: 1,
            log: RestoreLog::default(),
        }
    }

    /// A new engine with `cfg` rebuilt from this session's log, as after a restart.
    pub fn restarted(&self, cfg: RiskConfig) -> Self {
        let specs = self.e.markets().iter().map(|m| m.spec.clone()).collect();
        let mut h = Self::with(cfg, specs);
        self.log.apply(&mut h.e);
        h.t = self.t;
        h.next_trade = self.next_trade;
        h
    }

    pub fn input(&mut self, input: Input) -> Vec<Output> {
        let out = self.e.process(&input).to_vec();
        self.log.push(&Record::Input(input));
        for o in &out {
            self.log.push(&Record::Output(*o));
        }
        out
    }

    pub fn advance(&mut self, ns: u64) {
        self.t += ns;
    }

    pub fn meta(&self, i: u32) -> Meta {
        let venue = self
            .e
            .markets()
            .get(InstrumentId(i))
            .map_or(VenueId::OKX, |m| m.spec.venue);
        Meta::new(venue, InstrumentId(i), self.t)
    }

    pub fn top(&mut self, i: u32, bid: &str, ask: &str) -> Vec<Output> {
        self.t += MS;
        let ev = TopOfBook {
            meta: self.meta(i),
            bid_px: px(bid),
            bid_qty: qty("5"),
            ask_px: px(ask),
            ask_qty: qty("5"),
            update_id: self.t,
        };
        self.input(Input::Market(MarketEvent::Top(ev)))
    }

    pub fn feed(&mut self, i: u32, state: FeedState) -> Vec<Output> {
        self.t += MS;
        let st = FeedStatus::new(self.meta(i), state, 0, 0);
        self.input(Input::Market(MarketEvent::Status(st)))
    }

    pub fn tick(&mut self) -> Vec<Output> {
        self.t += MS;
        self.tick += 1;
        let meta = Meta::new(VenueId::SYNTHETIC, Meta::ALL_INSTRUMENTS, self.t);
        self.input(Input::Timer(TimerTick {
            meta,
            tick: self.tick,
        }))
    }

    /// Runs one scripted action on the next tick; returns its result and the tick's outputs.
    pub fn act(&mut self, act: Act) -> (Result<ClientOrderId, PlaceError>, Vec<Output>) {
        self.plan.lock().expect("test lock").push_back(act);
        let out = self.tick();
        let r = self
            .results
            .lock()
            .expect("test lock")
            .pop()
            .expect("the script ran");
        (r, out)
    }

    pub fn place(
        &mut self,
        side: Side,
        p: &str,
        q: &str,
    ) -> (Result<ClientOrderId, PlaceError>, Vec<Output>) {
        self.place_on(0, side, p, q)
    }

    pub fn place_on(
        &mut self,
        i: u32,
        side: Side,
        p: &str,
        q: &str,
    ) -> (Result<ClientOrderId, PlaceError>, Vec<Output>) {
        self.act(Act::Place(OrderRequest {
            instrument: InstrumentId(i),
            side,
            px: px(p),
            qty: qty(q),
            order_type: OrderType::Limit,
            tif: TimeInForce::Gtc,
        }))
    }

    pub fn ack(&mut self, id: ClientOrderId) -> Vec<Output> {
        self.t += MS;
        let meta = self.order_meta(id);
        self.input(Input::Exec(ExecReport::Ack(Ack {
            meta,
            cl_ord_id: id,
            venue_order_id: id.0,
        })))
    }

    pub fn reject(&mut self, id: ClientOrderId) -> Vec<Output> {
        self.t += MS;
        let meta = self.order_meta(id);
        self.input(Input::Exec(ExecReport::Reject(Reject::new(
            meta,
            id,
            RejectReason::InsufficientFunds,
            -2010,
        ))))
    }

    pub fn fill(&mut self, id: ClientOrderId, side: Side, p: &str, q: &str) -> Vec<Output> {
        self.t += MS;
        self.next_trade += 1;
        let meta = self.order_meta(id);
        self.input(Input::Exec(ExecReport::Fill(Fill::new(
            meta,
            id,
            id.0,
            self.next_trade,
            side,
            px(p),
            qty(q),
            Px::ZERO,
            Liquidity::Taker,
        ))))
    }

    pub fn status(&mut self, id: ClientOrderId, status: OrderStatus, filled: &str) -> Vec<Output> {
        self.t += MS;
        let meta = self.order_meta(id);
        self.input(Input::Exec(ExecReport::Status(StatusReport::new(
            meta,
            id,
            id.0,
            status,
            qty(filled),
        ))))
    }

    /// An IOC that the venue expired (cancelled remainder) after `filled`.
    pub fn expired(&mut self, id: ClientOrderId, filled: &str) -> Vec<Output> {
        self.status(id, OrderStatus::Expired, filled)
    }

    pub fn operator(&mut self, action: OperatorAction) -> Vec<Output> {
        self.t += MS;
        let meta = Meta::new(VenueId::SYNTHETIC, Meta::ALL_INSTRUMENTS, self.t);
        self.input(Input::Operator(OperatorCmd::new(
            meta,
            tickwire_core::event::CancelAll::EVERY_STRATEGY,
            action,
        )))
    }

    fn order_meta(&self, id: ClientOrderId) -> Meta {
        let i = self
            .e
            .orders()
            .get(id)
            .map_or(InstrumentId(0), |o| o.instrument);
        self.meta(i.0)
    }

    pub fn position(&self) -> Qty {
        self.e.position(StrategyId(0), InstrumentId(0))
    }
}

pub fn risk(out: &[Output]) -> Vec<RiskDecision> {
    out.iter()
        .filter_map(|o| match o {
            Output::Risk(r) => Some(*r),
            _ => None,
        })
        .collect()
}

pub fn new_orders(out: &[Output]) -> Vec<tickwire_core::event::NewOrder> {
    out.iter()
        .filter_map(|o| match o {
            Output::Command(OrderCommand::New(n)) => Some(*n),
            _ => None,
        })
        .collect()
}

pub fn has_alert(out: &[Output], code: tickwire_core::event::AlertCode) -> bool {
    out.iter()
        .any(|o| matches!(o, Output::Alert(a) if a.code() == Some(code)))
}
