//! Every strategy against the synthetic market and the simulated exchange, in one thread with
//! a fixed interleaving: the whole decision path is deterministic (same inputs twice → the
//! same outputs and the same metrics), and the engine's positions always equal what the
//! exchange filled.

use tickwire_core::config::Section;
use tickwire_core::engine::{Engine, EngineConfig};
use tickwire_core::event::{
    ExecReport, Input, Meta, OrderCommand, Output, RiskDecisionKind, Side, TimeInForce, TimerTick,
};
use tickwire_core::ids::{InstrumentId, StrategyId, VenueId};
use tickwire_core::metrics::StrategyMetrics;
use tickwire_core::num::{InstrumentSpec, Px, Qty};
use tickwire_exec::sim_exchange::{FeeSchedule, SimExchange};
use tickwire_feeds::synthetic::{SyntheticInstrument, SyntheticMarket};

fn instrument(id: u32, symbol: &str) -> SyntheticInstrument {
    SyntheticInstrument {
        spec: InstrumentSpec {
            id: InstrumentId(id),
            venue: VenueId::SYNTHETIC,
            symbol: symbol.into(),
            tick: Px::parse("0.1").expect("literal"),
            lot: Qty::parse("0.0001").expect("literal"),
            min_qty: Qty::parse("0.0001").expect("literal"),
            min_notional: Px::ZERO,
        },
        mid: Px::parse("60000").expect("literal"),
        depth: 10,
        max_level_lots: 100,
    }
}

fn engine(config: &str, specs: &[InstrumentSpec]) -> Engine {
    let table: toml::Table = toml::from_str(config).expect("valid toml");
    let mut section = Section::new("strategy[0]", &table);
    let strategy = tickwire_strategies::build(&mut section, specs).expect("valid strategy");
    let errors = section.finish();
    assert!(errors.is_empty(), "{errors:?}");
    let cfg = EngineConfig {
        instruments: specs.to_vec(),
        max_open_orders: 64,
        book_depth: 32,
        fill_memory: 1024,
    };
    Engine::new(&cfg, vec![strategy])
}

struct Session {
    outputs: Vec<Output>,
    /// Net filled quantity per instrument, as the exchange reported it.
    net: Vec<Qty>,
    engine: Engine,
}

impl Session {
    fn metrics(&self) -> Option<StrategyMetrics> {
        let (_, m) = self.engine.strategy_metrics().next().expect("one strategy");
        m
    }

    fn commands(&self) -> usize {
        self.outputs
            .iter()
            .filter(|o| matches!(o, Output::Command(_)))
            .count()
    }
}

/// Runs `events` market events `step_ns` apart (with a timer tick every 10 events) through
/// the strategy of `config` and the simulated exchange.
fn session(config: &str, symbols: &[&str], events: u64, step_ns: u64) -> Session {
    let insts: Vec<SyntheticInstrument> = symbols
        .iter()
        .enumerate()
        .map(|(i, s)| instrument(i as u32, s))
        .collect();
    let specs: Vec<InstrumentSpec> = insts.iter().map(|i| i.spec.clone()).collect();
    let mut market = SyntheticMarket::new(11, &insts);
    let fees = FeeSchedule {
        maker_ppb: 0,
        taker_ppb: 100_000, // 1 bp
    };
    let mut exchange = SimExchange::new(&specs, fees, 64);
    let mut engine = engine(config, &specs);
    let mut outputs = Vec::new();
    let mut net = vec![0i64; specs.len()];
    let mut reports: Vec<ExecReport> = Vec::new();
    let mut inputs: std::collections::VecDeque<Input> = std::collections::VecDeque::new();
    for t in 0..events {
        let now = t * step_ns;
        let ev = market.next_event(now);
        exchange.on_market(&ev, now, &mut |r| reports.push(r));
        inputs.extend(reports.drain(..).map(Input::Exec));
        inputs.push_back(Input::Market(ev));
        if t % 10 == 9 {
            inputs.push_back(Input::Timer(TimerTick {
                meta: Meta::new(VenueId::SYNTHETIC, Meta::ALL_INSTRUMENTS, now),
                tick: t,
            }));
        }
        while let Some(input) = inputs.pop_front() {
            if let Input::Exec(ExecReport::Fill(f)) = input {
                net[f.meta.instrument.0 as usize] += f.side().map_or(0, Side::sign) * f.qty.raw();
            }
            let produced = engine.process(&input).to_vec();
            for out in &produced {
                if let Output::Command(cmd) = out {
                    exchange.on_command(cmd, now + 1, &mut |r| reports.push(r));
                }
            }
            outputs.extend(produced);
            inputs.extend(reports.drain(..).map(Input::Exec));
        }
    }
    Session {
        outputs,
        net: net.into_iter().map(Qty::from_raw).collect(),
        engine,
    }
}

/// Runs twice and checks determinism and that positions follow the exchange's fills.
fn deterministic(config: &str, symbols: &[&str], events: u64, step_ns: u64) -> Session {
    let a = session(config, symbols, events, step_ns);
    let b = session(config, symbols, events, step_ns);
    assert_eq!(
        a.outputs, b.outputs,
        "identical inputs give identical outputs"
    );
    assert_eq!(a.metrics(), b.metrics(), "and identical metrics");
    for (i, net) in a.net.iter().enumerate() {
        assert_eq!(
            a.engine.position(StrategyId(0), InstrumentId(i as u32)),
            *net,
            "every fill the exchange made is in the engine's position, once"
        );
    }
    a
}

#[test]
fn probe_same_market_same_decisions() {
    let s = deterministic(
        r#"kind = "probe"
           name = "p"
           instrument = "BTC-SYN"
           order_qty = "0.001"
           max_position = "0.005"
           every = 2
           take_every = 3"#,
        &["BTC-SYN"],
        30_000,
        1_000,
    );
    assert!(s.commands() > 50, "the probe traded ({})", s.commands());
    assert!(s.engine.stats().fills > 10, "{:?}", s.engine.stats());
    assert!(s.net[0].abs() <= Qty::parse("0.006").expect("literal"));
}

#[test]
fn probe_never_takes_through_its_own_quote() {
    // Risk refuses an order that would cross one of our own resting orders; the probe's takes
    // used to go straight through its resting quote on the other side (about a third of its
    // orders in examples/synthetic.toml were refused). It now cancels that quote first.
    let s = session(
        r#"kind = "probe"
           name = "p"
           instrument = "BTC-SYN"
           order_qty = "0.001"
           max_position = "0.01"
           every = 5
           take_every = 4"#,
        &["BTC-SYN"],
        60_000,
        1_000,
    );
    let refused: Vec<_> = s
        .outputs
        .iter()
        .filter_map(|o| match o {
            Output::Risk(r) if r.kind() == Some(RiskDecisionKind::Reject) => r.reason(),
            _ => None,
        })
        .collect();
    assert!(refused.is_empty(), "risk refused probe orders: {refused:?}");
    let takes = s
        .outputs
        .iter()
        .filter(|o| {
            matches!(o, Output::Command(OrderCommand::New(p)) if p.tif() == Some(TimeInForce::Ioc))
        })
        .count();
    assert!(
        takes > 20,
        "the probe still takes liquidity ({takes} IOC orders)"
    );
    assert!(s.engine.stats().fills > 10, "{:?}", s.engine.stats());
}

#[test]
fn arb_same_market_same_decisions_and_stays_hedged() {
    let s = deterministic(
        r#"kind = "arb"
           name = "arb"
           instrument_a = "BTC-A"
           instrument_b = "BTC-B"
           threshold_bps = "0.1"
           max_order_qty = "0.01"
           max_position = "0.05"
           max_unhedged_qty = "0.01""#,
        &["BTC-A", "BTC-B"],
        20_000,
        100_000,
    );
    let m = s.metrics().expect("tracked");
    assert!(m.orders_placed >= 10 && m.trades >= 10, "{m:?}");
    let limit = Qty::parse("0.05").expect("literal");
    assert!(s.net.iter().all(|q| q.abs() <= limit), "{:?}", s.net);
    // Whatever was left unhedged is within one arbitrage.
    let unhedged = s.net[0].saturating_add(s.net[1]).abs();
    assert!(
        unhedged <= Qty::parse("0.01").expect("literal"),
        "{unhedged}"
    );
}

#[test]
fn mm_same_market_same_decisions_within_limits() {
    let s = deterministic(
        r#"kind = "mm"
           name = "mm"
           instrument = "BTC-SYN"
           order_qty = "0.001"
           max_position = "0.004"
           min_edge_bps = "0.05"
           gamma = 0.0001
           kappa = 5
           max_actions_per_sec = 1000
           action_burst = 50
           initial_vol_bps = 5
           vol_floor_bps = 2
           requote_ticks = 20
           vol_sample_ms = 1"#,
        &["BTC-SYN"],
        20_000,
        100_000,
    );
    let m = s.metrics().expect("tracked");
    assert!(m.orders_placed > 20 && m.trades > 5, "{m:?}");
    assert!(s.net[0].abs() <= Qty::parse("0.004").expect("literal"));
}

#[test]
fn bar_strategies_same_market_same_decisions() {
    for config in [
        r#"kind = "trend"
           name = "trend"
           instrument = "BTC-SYN"
           bar_ms = 20
           fast_bars = 3
           slow_bars = 8
           position_qty = "0.01"
           allow_short = true
           retry_ms = 5"#,
        r#"kind = "mean_reversion"
           name = "mr"
           instrument = "BTC-SYN"
           bar_ms = 20
           window_bars = 10
           entry_z = "1.2"
           exit_z = "0.3"
           position_qty = "0.01"
           allow_short = true
           retry_ms = 5"#,
    ] {
        let s = deterministic(config, &["BTC-SYN"], 30_000, 100_000);
        let m = s.metrics().expect("tracked");
        assert!(m.trades >= 2, "{config}: {m:?}");
        assert!(s.net[0].abs() <= Qty::parse("0.01").expect("literal"));
        assert!(m.elapsed_ns > 0);
    }
}
