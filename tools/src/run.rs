//! `tickwire run`: the feed, core and exec threads wired through rings, per the config's
//! topology, with the ops work (timer ticks, duration, signals) on the main thread.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tickwire_core::engine::runner::{CoreIo, CoreSummary, run_core};
use tickwire_core::event::{
    FeedState, FeedStatus, Input, Kind, MarketEvent, Meta, SessionStart, TimerTick,
};
use tickwire_core::ids::VenueId;
use tickwire_core::journal::{JournalConfig, Writer};
use tickwire_core::ring::{Producer, PushError, StopFlag, channel};
use tickwire_core::synthetic::SyntheticMarket;
use tickwire_core::topology::{Role, ThreadCtx, plan_for_this_host, spawn};
use tickwire_core::wait::WaitPolicy;
use tickwire_exec::sim_exchange::SimExchange;
use tickwire_exec::sim_thread::{SimExecIo, SimExecSummary, run_sim_exec};

use crate::Failure;
use crate::clock::{mono_ns, wall_ns};
use crate::config::RunConfig;
use crate::venue_feeds::{self, VenueFeeds};

/// Journal format version written into session records.
const FORMAT_VERSION: u32 = 1;

fn open_journal(dir: &Path, cfg: &RunConfig) -> Result<Writer, Failure> {
    let jcfg = JournalConfig {
        segment_bytes: cfg.journal.segment_bytes,
        flush_interval: cfg.journal.flush_interval,
        ..JournalConfig::default()
    };
    let (mut writer, report) = Writer::open(dir, jcfg)
        .map_err(|e| Failure::new(format!("journal {}: {e}", dir.display())))?;
    if let Some(t) = report.torn_tail {
        println!(
            "journal: cut a torn tail of {} bytes at segment {} offset {} (an unfinished append)",
            t.bytes, t.segment, t.offset
        );
    }
    if !report.created {
        println!(
            "journal: appending to {} from seq {}",
            dir.display(),
            report.next_seq
        );
    }
    // Every session starts with its metadata and the exact config text, so `replay` can
    // rebuild the engine it ran with.
    let session = SessionStart {
        wall_ns: wall_ns(),
        mono_ns: mono_ns(),
        format_version: FORMAT_VERSION,
        config_crc: crc32(cfg.text.as_bytes()),
    };
    let append = |w: &mut Writer, kind: Kind, bytes: &[u8]| {
        w.append(kind.code(), session.mono_ns, bytes)
            .map_err(|e| Failure::new(format!("journal {}: {e}", dir.display())))
    };
    append(&mut writer, Kind::Session, bytemuck::bytes_of(&session))?;
    append(&mut writer, Kind::Config, cfg.text.as_bytes())?;
    Ok(writer)
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(bytes);
    h.finalize()
}

struct FeedPlan {
    market: SyntheticMarket,
    events: u64,
    rate: u64,
    to_core: Producer<MarketEvent>,
    to_exchange: Producer<MarketEvent>,
    stop: StopFlag,
}

/// The feed thread: generates market events, stamps them as received, pushes them to the
/// simulated exchange and to the core, paced to `rate` events/s if set.
fn run_feed(mut f: FeedPlan, ctx: ThreadCtx) -> u64 {
    let mut backoff = ctx.backoff();
    let start = mono_ns();
    let mut sent = 0u64;
    // The last step is completed so the books end consistent.
    while f.events == 0 || sent < f.events || f.market.mid_batch() {
        if f.stop.is_set() && !f.market.mid_batch() {
            break;
        }
        if f.rate > 0 {
            let due = start + (u128::from(sent) * 1_000_000_000 / u128::from(f.rate)) as u64;
            while mono_ns() < due && !f.stop.is_set() {
                backoff.idle();
            }
            backoff.reset();
        }
        let now = mono_ns();
        let mut ev = f.market.next_event(now);
        ev.meta_mut().stamps.parsed_ns = mono_ns();
        // The exchange must see the market before any order decided on it; if it is gone the
        // run is ending anyway.
        let _ = f.to_exchange.forward(ev, &mut backoff);
        match f.to_core.push_wait(ev, &mut backoff, &f.stop) {
            Ok(()) => sent += 1,
            Err(PushError::Stopped(_) | PushError::Abandoned(_)) => break,
        }
    }
    let meta = Meta::new(VenueId::SYNTHETIC, Meta::ALL_INSTRUMENTS, mono_ns());
    let ended = MarketEvent::Status(FeedStatus::new(meta, FeedState::Ended, sent, 0));
    let _ = f.to_core.forward(ended, &mut backoff);
    sent
}

fn install_signal_flag() -> Result<Arc<AtomicBool>, Failure> {
    let flag = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&flag))
            .map_err(|e| Failure::new(format!("installing signal handler: {e}")))?;
    }
    Ok(flag)
}

fn join<T>(h: JoinHandle<T>, what: &str) -> Result<T, Failure> {
    h.join()
        .map_err(|_| Failure::new(format!("{what} thread panicked")))
}

/// Runs the engine per `config_path`.
pub fn run(
    config_path: &Path,
    journal_dir: Option<&Path>,
    events: Option<u64>,
    duration: Option<f64>,
) -> Result<(), Failure> {
    let text = std::fs::read_to_string(config_path)
        .map_err(|e| Failure::new(format!("{}: {e}", config_path.display())))?;
    let cfg = RunConfig::parse(&text)
        .map_err(|e| Failure::new(format!("{}: {e}", config_path.display())))?;
    if let Some(d) = duration
        && !(d.is_finite() && d > 0.0)
    {
        return Err(Failure::new(format!(
            "--duration must be a positive number of seconds, got {d}"
        )));
    }
    let synthetic = !cfg.synthetic.instruments.is_empty();
    let events = events.unwrap_or(cfg.synthetic.events);
    if synthetic && cfg.venues.is_empty() && events == 0 && duration.is_none() {
        return Err(Failure::new(
            "nothing bounds this run: give --events, --duration or synthetic.events",
        ));
    }
    let journal = journal_dir.map(|d| open_journal(d, &cfg)).transpose()?;
    let signals = install_signal_flag()?;

    let cap = cfg.engine.ring_capacity;
    let (cmd_tx, cmd_rx) = channel(cap);
    let (rep_tx, rep_rx) = channel(cap);
    let (ctl_tx, ctl_rx) = channel::<Input>(1024);
    let (feed_exch_tx, feed_exch_rx) = channel(cap);

    let wait = cfg.engine.wait;
    let mut roles: Vec<(Role, WaitPolicy)> = Vec::new();
    if synthetic {
        roles.push((Role::Feed(0), wait));
    }
    roles.extend(venue_feeds::roles(&cfg).map(|r| (r, wait)));
    roles.push((Role::Core, wait));
    roles.push((Role::Exec, wait));
    roles.push((Role::Ops, WaitPolicy::spin_then_park()));
    let plan = plan_for_this_host(cfg.engine.topology, &roles);
    for w in &plan.warnings {
        eprintln!("warning: {w}");
    }
    let stop = StopFlag::new();
    let started = Instant::now();
    let spawn_err = |e: std::io::Error| Failure::new(format!("starting threads: {e}"));

    let mut market_rings = Vec::new();
    let feed_h = if synthetic {
        let (feed_core_tx, feed_core_rx) = channel(cap);
        market_rings.push(feed_core_rx);
        let feed = FeedPlan {
            market: SyntheticMarket::new(cfg.synthetic.seed, &cfg.synthetic.instruments),
            events,
            rate: cfg.synthetic.rate,
            to_core: feed_core_tx,
            to_exchange: feed_exch_tx,
            stop: stop.clone(),
        };
        Some(spawn(Role::Feed(0), &plan, move |ctx| run_feed(feed, ctx)).map_err(spawn_err)?)
    } else {
        drop(feed_exch_tx);
        None
    };
    let (mut venues, venue_rings) = VenueFeeds::start(&cfg, &plan, &stop)?;
    market_rings.extend(venue_rings);

    let mut exchange = SimExchange::new(
        &cfg.instruments(),
        cfg.exchange.fees,
        cfg.exchange.max_resting,
    );
    let exec_h = spawn(Role::Exec, &plan, move |ctx| {
        let io = SimExecIo {
            commands: cmd_rx,
            market: feed_exch_rx,
            reports: rep_tx,
            backoff: ctx.backoff(),
            clock: mono_ns,
        };
        run_sim_exec(&mut exchange, io)
    })
    .map_err(spawn_err)?;

    let mut engine = cfg.build_engine();
    let core_stop = stop.clone();
    let core_h = spawn(Role::Core, &plan, move |ctx| {
        let io = CoreIo {
            market: market_rings,
            reports: vec![rep_rx],
            control: ctl_rx,
            commands: cmd_tx,
            journal,
            backoff: ctx.backoff(),
            stop: core_stop,
            clock: mono_ns,
            market_batch: 64,
        };
        let result = run_core(&mut engine, io);
        (engine, result)
    })
    .map_err(spawn_err)?;

    let timer = ops_loop(
        &cfg,
        &stop,
        &signals,
        duration,
        ctl_tx,
        &core_h,
        &mut venues,
    );
    let (engine, core_result) = join(core_h, "core")?;
    let sent = match feed_h {
        Some(h) => join(h, "feed")?,
        None => 0,
    };
    let exec = join(exec_h, "exec")?;
    let feed_lines = venues.finish();
    let elapsed = started.elapsed();
    let summary = core_result.map_err(|e| Failure::new(e.to_string()))?;
    for line in feed_lines {
        println!("{line}");
    }
    print_summary(
        &cfg,
        &engine,
        &summary,
        &exec,
        sent,
        timer,
        elapsed,
        journal_dir,
    );
    Ok(())
}

/// The ops work on the main thread: timer ticks, the duration limit and signals, until the core
/// thread finishes. Returns the number of ticks sent.
fn ops_loop(
    cfg: &RunConfig,
    stop: &StopFlag,
    signals: &AtomicBool,
    duration: Option<f64>,
    mut ctl: Producer<Input>,
    core: &JoinHandle<(
        tickwire_core::engine::Engine,
        Result<CoreSummary, tickwire_core::engine::runner::CoreError>,
    )>,
    venues: &mut VenueFeeds,
) -> u64 {
    let start = Instant::now();
    let deadline = duration.map(|d| start + Duration::from_secs_f64(d));
    let interval = cfg.engine.timer_interval;
    let mut next_tick = start + interval;
    let mut ticks = 0u64;
    while !core.is_finished() {
        let now = Instant::now();
        if signals.load(Ordering::Relaxed)
            || deadline.is_some_and(|d| now >= d)
            || venues.capture_done()
            || venues.any_exited()
        {
            stop.request();
        }
        if !interval.is_zero() && now >= next_tick && !stop.is_set() {
            ticks += 1;
            let meta = Meta::new(VenueId::SYNTHETIC, Meta::ALL_INSTRUMENTS, mono_ns());
            // A full control ring means the core is far behind; skipping a tick is harmless
            // because the next one carries a later time.
            if ctl
                .try_push(Input::Timer(TimerTick { meta, tick: ticks }))
                .is_err()
            {
                ticks -= 1;
            }
            next_tick += interval;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    ticks
}

#[allow(clippy::too_many_arguments)]
fn print_summary(
    cfg: &RunConfig,
    engine: &tickwire_core::engine::Engine,
    core: &CoreSummary,
    exec: &SimExecSummary,
    sent: u64,
    ticks: u64,
    elapsed: Duration,
    journal_dir: Option<&Path>,
) {
    let secs = elapsed.as_secs_f64();
    let stats = engine.stats();
    if sent > 0 {
        println!(
            "run: {sent} synthetic market events in {secs:.2} s ({:.0} events/s), {ticks} timer ticks",
            sent as f64 / secs.max(1e-9)
        );
    } else {
        println!("run: {secs:.2} s, {ticks} timer ticks");
    }
    println!(
        "engine: {} inputs, {} outputs, {} order commands ({} sent), {} fills ({} duplicates ignored), {} alerts",
        stats.inputs,
        stats.outputs,
        stats.commands,
        core.commands_sent,
        stats.fills,
        stats.duplicate_fills,
        stats.alerts
    );
    println!(
        "exec: {} commands handled, {} reports sent{}",
        exec.commands,
        exec.reports,
        if exec.undelivered > 0 {
            format!(", {} UNDELIVERED", exec.undelivered)
        } else {
            String::new()
        }
    );
    if core.unsent_after_close > 0 {
        println!(
            "note: {} command(s) produced after the command ring closed were journaled but not sent",
            core.unsent_after_close
        );
    }
    let specs = cfg.instruments();
    for (sid, name) in engine.strategy_names().enumerate() {
        for spec in &specs {
            let pos = engine.position(tickwire_core::ids::StrategyId(sid as u16), spec.id);
            if !pos.is_zero() {
                println!("position: {name} {} {pos}", spec.symbol);
            }
        }
    }
    println!("open orders at exit: {}", engine.orders().len());
    println!("latency, from the records' monotonic stamps:");
    println!("  {}", tickwire_core::latency::StageHistogram::header());
    for stage in core.latency.stages() {
        if !stage.is_empty() {
            println!("  {}", stage.summary());
        }
    }
    if let (Some(dir), Some(w)) = (journal_dir, core.journal.as_ref()) {
        println!(
            "journal: {} (next seq {}) — check it with `tickwire journal verify {0}` and `tickwire replay {0} --verify`",
            dir.display(),
            w.next_seq()
        );
    }
}
