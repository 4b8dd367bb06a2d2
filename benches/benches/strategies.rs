//! Core decision time per market event with each strategy active, against the engine with a
//! no-op strategy measured in the same run (the floor: book update and dispatch alone).
//!
//! `cargo bench -p tickwire-benches --profile fastrel --bench strategies -- --warm-up-time 1 --measurement-time 3`
//!
//! Each case runs the synthetic market (two instruments on "two venues", so the arbitrage has
//! something to compare) through an `Engine` holding one strategy, with the in-process
//! simulated exchange answering its orders. Only `Engine::process` of the market event is
//! timed; generating the event, the exchange, and processing the exec reports it returns are
//! done between timings, so every case times the same work plus its strategy's decision.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use tickwire_core::config::Section;
use tickwire_core::engine::{Engine, EngineConfig, Strategy};
use tickwire_core::event::{ExecReport, Input, Output};
use tickwire_core::ids::{InstrumentId, VenueId};
use tickwire_core::num::{InstrumentSpec, Px, Qty};
use tickwire_exec::sim_exchange::{FeeSchedule, SimExchange};
use tickwire_feeds::synthetic::{SyntheticInstrument, SyntheticMarket};

/// The floor: a strategy that looks at nothing and decides nothing.
struct Noop;

impl Strategy for Noop {
    fn name(&self) -> &str {
        "noop"
    }
}

const CASES: &[(&str, &str)] = &[
    ("noop (baseline)", ""),
    (
        "arb",
        r#"kind = "arb"
           name = "arb"
           instrument_a = "BTC-A"
           instrument_b = "BTC-B"
           threshold_bps = "0.1"
           max_order_qty = "0.01"
           max_position = "0.05"
           max_unhedged_qty = "0.01""#,
    ),
    (
        "mm",
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
    ),
    (
        "trend",
        r#"kind = "trend"
           name = "trend"
           instrument = "BTC-A"
           bar_ms = 20
           fast_bars = 3
           slow_bars = 8
           position_qty = "0.01"
           allow_short = true
           retry_ms = 5"#,
    ),
    (
        "mean_reversion",
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
    ),
];

fn instruments() -> Vec<SyntheticInstrument> {
    ["BTC-A", "BTC-B"]
        .iter()
        .enumerate()
        .map(|(i, s)| SyntheticInstrument {
            spec: InstrumentSpec {
                id: InstrumentId(i as u32),
                venue: if i == 0 {
                    VenueId::OKX
                } else {
                    VenueId::BINANCE
                },
                symbol: (*s).into(),
                tick: Px::parse("0.1").expect("literal"),
                lot: Qty::parse("0.0001").expect("literal"),
                min_qty: Qty::parse("0.0001").expect("literal"),
                min_notional: Px::ZERO,
            },
            mid: Px::parse("60000").expect("literal"),
            depth: 20,
            max_level_lots: 100,
        })
        .collect()
}

fn strategy(config: &str, specs: &[InstrumentSpec]) -> Box<dyn Strategy> {
    if config.is_empty() {
        return Box::new(Noop);
    }
    let table: toml::Table = toml::from_str(config).expect("valid toml");
    let mut section = Section::new("strategy[0]", &table);
    let s = tickwire_strategies::build(&mut section, specs).expect("valid strategy");
    assert!(section.finish().is_empty());
    s
}

/// The engine, market and exchange of one case, advanced one market event at a time.
struct Rig {
    engine: Engine,
    market: SyntheticMarket,
    exchange: SimExchange,
    reports: Vec<ExecReport>,
    pending: Vec<ExecReport>,
    commands: Vec<Output>,
    t: u64,
}

impl Rig {
    fn new(config: &str) -> Self {
        let insts = instruments();
        let specs: Vec<InstrumentSpec> = insts.iter().map(|i| i.spec.clone()).collect();
        let engine = Engine::new(
            &EngineConfig {
                instruments: specs.clone(),
                max_open_orders: 256,
                book_depth: 64,
                fill_memory: 4096,
            },
            vec![strategy(config, &specs)],
        );
        Self {
            engine,
            market: SyntheticMarket::new(7, &insts),
            exchange: SimExchange::new(&specs, FeeSchedule::default(), 256),
            reports: Vec::with_capacity(64),
            pending: Vec::with_capacity(64),
            commands: Vec::with_capacity(256),
            t: 0,
        }
    }

    /// One market event; returns the time `Engine::process` took on it.
    fn step(&mut self) -> Duration {
        self.t += 100_000;
        let now = self.t;
        let ev = self.market.next_event(now);
        let reports = &mut self.reports;
        self.exchange.on_market(&ev, now, &mut |r| reports.push(r));
        self.settle(now);
        let input = Input::Market(ev);
        let start = Instant::now();
        let out = black_box(self.engine.process(&input));
        let took = start.elapsed();
        self.commands.extend_from_slice(out);
        self.settle(now);
        took
    }

    /// Sends pending commands to the exchange and feeds its reports back, untimed.
    fn settle(&mut self, now: u64) {
        loop {
            for out in self.commands.drain(..) {
                if let Output::Command(cmd) = out {
                    let reports = &mut self.reports;
                    self.exchange
                        .on_command(&cmd, now + 1, &mut |r| reports.push(r));
                }
            }
            if self.reports.is_empty() {
                return;
            }
            std::mem::swap(&mut self.reports, &mut self.pending);
            for r in self.pending.drain(..) {
                let out = self.engine.process(&Input::Exec(r));
                self.commands.extend_from_slice(out);
            }
        }
    }
}

fn strategies(c: &mut Criterion) {
    let mut g = c.benchmark_group("strategies/decision per market event");
    for (name, config) in CASES {
        let mut rig = Rig::new(config);
        // Warm the books and the strategy's state before measuring.
        for _ in 0..20_000 {
            rig.step();
        }
        g.bench_function(*name, |b| {
            b.iter_custom(|iters| (0..iters).map(|_| rig.step()).sum())
        });
        let stats = rig.engine.stats();
        eprintln!(
            "{name}: {} inputs, {} commands, {} fills",
            stats.inputs, stats.commands, stats.fills
        );
    }
    g.finish();
}

criterion_group!(benches, strategies);
criterion_main!(benches);
