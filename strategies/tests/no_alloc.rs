//! Allocations inside `Engine::process` with each strategy active, after warm-up, counted by a
//! global allocator. In its own test binary so no other test's allocations land in the count;
//! only the engine call is counted (the exchange and the harness around it may allocate).

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

use std::collections::VecDeque;

use tickwire_core::config::Section;
use tickwire_core::engine::{Engine, EngineConfig};
use tickwire_core::event::{ExecReport, Input, Meta, Output, TimerTick};
use tickwire_core::ids::{InstrumentId, VenueId};
use tickwire_core::num::{InstrumentSpec, Px, Qty};
use tickwire_exec::sim_exchange::{FeeSchedule, SimExchange};
use tickwire_feeds::synthetic::{SyntheticInstrument, SyntheticMarket};
use tickwire_testkit::alloc::{CountingAlloc, allocations};

const CONFIGS: &[&str] = &[
    r#"kind = "arb"
       name = "arb"
       instrument_a = "BTC-A"
       instrument_b = "BTC-B"
       threshold_bps = "0.1"
       max_order_qty = "0.01"
       max_position = "10"
       max_unhedged_qty = "0.01""#,
    r#"kind = "mm"
       name = "mm"
       instrument = "BTC-A"
       order_qty = "0.001"
       max_position = "0.004"
       min_edge_bps = "0.05"
       gamma = 0.0001
       kappa = 5
       initial_vol_bps = 5
       vol_floor_bps = 2
       requote_ticks = 3
       vol_sample_ms = 1
       max_actions_per_sec = 1000
       action_burst = 50"#,
    r#"kind = "trend"
       name = "trend"
       instrument = "BTC-A"
       bar_ms = 20
       fast_bars = 3
       slow_bars = 8
       position_qty = "0.01"
       allow_short = true
       retry_ms = 5"#,
    r#"kind = "mean_reversion"
       name = "mr"
       instrument = "BTC-A"
       bar_ms = 20
       window_bars = 10
       entry_z = "1.2"
       exit_z = "0.3"
       position_qty = "0.01"
       allow_short = true
       retry_ms = 5"#,
];

fn instruments() -> Vec<SyntheticInstrument> {
    ["BTC-A", "BTC-B"]
        .iter()
        .enumerate()
        .map(|(i, s)| SyntheticInstrument {
            spec: InstrumentSpec {
                id: InstrumentId(i as u32),
                venue: VenueId::SYNTHETIC,
                symbol: (*s).into(),
                tick: Px::parse("0.1").expect("literal"),
                lot: Qty::parse("0.0001").expect("literal"),
                min_qty: Qty::parse("0.0001").expect("literal"),
                min_notional: Px::ZERO,
            },
            mid: Px::parse("60000").expect("literal"),
            depth: 10,
            max_level_lots: 100,
        })
        .collect()
}

/// Runs `warm + counted` market events; returns (allocations during the counted engine calls,
/// commands the strategy sent while counted).
fn count(config: &str, warm: u64, counted: u64) -> (u64, usize) {
    let insts = instruments();
    let specs: Vec<InstrumentSpec> = insts.iter().map(|i| i.spec.clone()).collect();
    let table: toml::Table = toml::from_str(config).expect("valid toml");
    let mut section = Section::new("strategy[0]", &table);
    let strategy = tickwire_strategies::build(&mut section, &specs).expect("valid strategy");
    assert!(section.finish().is_empty());
    let mut engine = Engine::new(
        &EngineConfig {
            instruments: specs.clone(),
            max_open_orders: 64,
            book_depth: 32,
            // The engine's fill de-duplicator grows its hash table once, after about
            // `fill_memory` fills (tombstones from evictions); a small memory makes that
            // happen during the warm-up, so the count is of the strategies' own work.
            fill_memory: 64,
        },
        vec![strategy],
    );
    let mut market = SyntheticMarket::new(5, &insts);
    let mut exchange = SimExchange::new(&specs, FeeSchedule::default(), 64);
    let mut reports: Vec<ExecReport> = Vec::with_capacity(256);
    let mut inputs: VecDeque<Input> = VecDeque::with_capacity(1024);
    let mut outputs: Vec<Output> = Vec::with_capacity(1024);
    let (mut allocs, mut commands) = (0, 0);
    for t in 0..warm + counted {
        let now = t * 100_000;
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
            let before = allocations();
            let produced = engine.process(&input);
            let after = allocations();
            outputs.clear();
            outputs.extend_from_slice(produced);
            if t >= warm {
                allocs += after - before;
                commands += outputs
                    .iter()
                    .filter(|o| matches!(o, Output::Command(_)))
                    .count();
            }
            for out in &outputs {
                if let Output::Command(cmd) = out {
                    exchange.on_command(cmd, now + 1, &mut |r| reports.push(r));
                }
            }
            inputs.extend(reports.drain(..).map(Input::Exec));
        }
    }
    (allocs, commands)
}

#[test]
fn strategies_allocate_nothing_per_event_after_warm_up() {
    let before = allocations();
    drop(std::hint::black_box(vec![1u8; 64]));
    assert!(allocations() > before, "the counter works");
    for config in CONFIGS {
        let (allocs, commands) = count(config, 2_000, 20_000);
        assert!(commands > 0, "the strategy traded while counted: {config}");
        assert_eq!(allocs, 0, "allocations in Engine::process: {config}");
    }
}
