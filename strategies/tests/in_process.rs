//! The probe strategy against the synthetic market and the simulated exchange, in one thread
//! with a fixed interleaving: the whole decision path is deterministic, and the engine's
//! positions always equal what the exchange filled.

use tickwire_core::config::Section;
use tickwire_core::engine::{Engine, EngineConfig};
use tickwire_core::event::{ExecReport, Input, Output, Side};
use tickwire_core::ids::{InstrumentId, StrategyId, VenueId};
use tickwire_core::num::{InstrumentSpec, Px, Qty};
use tickwire_core::synthetic::{SyntheticInstrument, SyntheticMarket};
use tickwire_exec::sim_exchange::{FeeSchedule, SimExchange};

fn instrument() -> SyntheticInstrument {
    SyntheticInstrument {
        spec: InstrumentSpec {
            id: InstrumentId(0),
            venue: VenueId::SYNTHETIC,
            symbol: "BTC-SYN".into(),
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

fn engine(specs: &[InstrumentSpec]) -> Engine {
    let table: toml::Table = toml::from_str(
        r#"kind = "probe"
           name = "p"
           instrument = "BTC-SYN"
           order_qty = "0.001"
           max_position = "0.005"
           every = 2
           take_every = 3"#,
    )
    .expect("valid toml");
    let mut section = Section::new("strategy[0]", &table);
    let probe = tickwire_strategies::build(&mut section, specs).expect("valid probe");
    assert!(section.finish().is_empty());
    let cfg = EngineConfig {
        instruments: specs.to_vec(),
        max_open_orders: 64,
        book_depth: 32,
        fill_memory: 1024,
    };
    Engine::new(&cfg, vec![probe])
}

/// Runs `events` market events; returns every engine output, the exchange's net fills and the
/// engine.
fn session(events: u64) -> (Vec<Output>, Qty, Engine) {
    let inst = instrument();
    let specs = vec![inst.spec.clone()];
    let mut market = SyntheticMarket::new(11, &[inst]);
    let mut exchange = SimExchange::new(&specs, FeeSchedule::default(), 64);
    let mut engine = engine(&specs);
    let mut outputs = Vec::new();
    let mut net = 0i64;
    let mut reports: Vec<ExecReport> = Vec::new();
    let mut inputs: std::collections::VecDeque<Input> = std::collections::VecDeque::new();
    for t in 0..events {
        let now = t * 1_000;
        let ev = market.next_event(now);
        exchange.on_market(&ev, now, &mut |r| reports.push(r));
        inputs.extend(reports.drain(..).map(Input::Exec));
        inputs.push_back(Input::Market(ev));
        while let Some(input) = inputs.pop_front() {
            if let Input::Exec(ExecReport::Fill(f)) = input {
                net += f.side().map_or(0, Side::sign) * f.qty.raw();
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
    (outputs, Qty::from_raw(net), engine)
}

#[test]
fn same_market_same_decisions_and_positions_match_the_exchange() {
    let (a, net_a, engine_a) = session(30_000);
    let (b, _, _) = session(30_000);
    assert_eq!(a, b, "identical inputs give identical outputs");
    let commands = a.iter().filter(|o| matches!(o, Output::Command(_))).count();
    assert!(commands > 50, "the probe traded ({commands} commands)");
    assert!(engine_a.stats().fills > 10, "{:?}", engine_a.stats());
    assert_eq!(
        engine_a.position(StrategyId(0), InstrumentId(0)),
        net_a,
        "every fill the exchange made is in the engine's position, once"
    );
    let limit = Qty::parse("0.006").expect("literal");
    assert!(net_a.abs() <= limit, "position limit respected: {net_a}");
}
