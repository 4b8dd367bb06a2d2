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
use tickwire_core::topology::{Role, ThreadCtx, plan_for_this_host, spawn};
use tickwire_core::wait::WaitPolicy;
use tickwire_exec::reconcile::{self, PollerHandle, PollerSummary};
use tickwire_exec::session::VenueSession;
use tickwire_exec::sim_exchange::SimExchange;
use tickwire_exec::sim_thread::{SimExecIo, SimExecSummary, run_sim_exec};
use tickwire_exec::venue_thread::{VenueExecIo, VenueExecSummary, run_venue_exec};
use tickwire_feeds::synthetic::SyntheticMarket;

use crate::Failure;
use crate::alerts::{AlertStats, Alerter, Names};
use crate::clock::{mono_ns, wall_ns};
use crate::config::RunConfig;
use crate::ctl::{self, ControlSocket, CtlRequest, OpsPlan};
use crate::demo_progress::{Counted, Progress, VenueCounters};
use crate::venue_feeds::{self, VenueFeeds};

/// Journal format version written into session records.
const FORMAT_VERSION: u32 = 1;

fn open_journal(dir: &Path, cfg: &RunConfig) -> Result<Writer, Failure> {
    let jcfg = JournalConfig {
        segment_bytes: cfg.journal.segment_bytes,
        flush_interval: cfg.journal.flush_interval,
        ..JournalConfig::default()
    };
    // Secrets (the webhook URL, simulator credentials) never enter the journal.
    let text = crate::config::journaled_text(&cfg.text);
    // Checked before anything is created: a config that cannot be journaled leaves nothing.
    if text.len() > jcfg.max_record_bytes as usize {
        return Err(Failure::new(format!(
            "the config is {} bytes as journaled; a journal record holds at most {}",
            text.len(),
            jcfg.max_record_bytes
        )));
    }
    let (mut writer, report) =
        Writer::open(dir, jcfg).map_err(|e| crate::resume::refuse_open(dir, &e))?;
    if let Some(t) = report.torn_tail {
        outln!(
            "journal: cut a torn tail of {} bytes at segment {} offset {} (an unfinished append)",
            t.bytes,
            t.segment,
            t.offset
        );
    }
    if !report.created {
        outln!(
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
        config_crc: crc32(text.as_bytes()),
    };
    let append = |w: &mut Writer, kind: Kind, bytes: &[u8]| {
        w.append(kind.code(), session.mono_ns, bytes)
            .map_err(|e| Failure::new(format!("journal {}: {e}", dir.display())))
    };
    append(&mut writer, Kind::Session, bytemuck::bytes_of(&session))?;
    append(&mut writer, Kind::Config, text.as_bytes())?;
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
    new_session_config: bool,
) -> Result<(), Failure> {
    let text = crate::config::read_config(config_path)?;
    let plan = RunPlan {
        events,
        duration,
        progress: false,
        new_session_config,
    };
    run_text(&text, &config_path.display().to_string(), journal_dir, plan)
}

/// How one run is bounded and shown, beside its config.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunPlan {
    /// Stop after this many market events (overrides `synthetic.events`).
    pub events: Option<u64>,
    /// Stop after this many seconds.
    pub duration: Option<f64>,
    /// Print a progress line every second.
    pub progress: bool,
    /// Resuming under a config whose strategies or venues differ from the journal's is
    /// deliberate.
    pub new_session_config: bool,
}

/// Runs the engine per a config `text` (named `label` in errors); with `progress`, prints a
/// progress line once a second (market events, orders, fills and position per trading venue,
/// P&L per strategy from the control socket's status, if one is configured).
pub fn run_text(
    text: &str,
    label: &str,
    journal_dir: Option<&Path>,
    plan: RunPlan,
) -> Result<(), Failure> {
    let RunPlan {
        events,
        duration,
        progress,
        new_session_config,
    } = plan;
    let cfg = RunConfig::parse(text).map_err(|e| Failure::new(format!("{label}: {e}")))?;
    if let Some(d) = duration {
        crate::config::seconds("--duration", d)?;
    }
    let synthetic = !cfg.synthetic.instruments.is_empty();
    // One exec thread per run: the in-process exchange (synthetic and paper venues) or the venue
    // sessions (`trade = true`); a run has one or the other.
    if cfg.venues.iter().any(|v| v.paper) && cfg.venues.iter().any(|v| v.exec.is_some()) {
        return Err(Failure::new(format!(
            "{label}: paper = true venues cannot run alongside trade = true venues; run them in separate processes"
        )));
    }
    let events = events.unwrap_or(cfg.synthetic.events);
    if synthetic && cfg.venues.is_empty() && events == 0 && duration.is_none() {
        return Err(Failure::new(
            "nothing bounds this run: give --events, --duration or synthetic.events",
        ));
    }
    // Restarting on an existing journal: read what earlier sessions left before this session
    // appends its own header.
    let restore = journal_dir
        .filter(|d| d.is_dir())
        .map(crate::resume::read_log)
        .transpose()?
        .flatten()
        .filter(|r| r.log.sessions() > 0);
    // Before anything is appended: a resume under an unrelated config is refused.
    if let Some(recorded) = restore.as_ref().and_then(|r| r.config.as_deref()) {
        crate::resume::check_compatible(recorded, &cfg, new_session_config)?;
    }
    let mut journal = journal_dir.map(|d| open_journal(d, &cfg)).transpose()?;
    let mut engine = cfg.build_engine();
    let reconcile = match (&restore, journal.as_mut()) {
        (Some(r), Some(w)) => crate::resume::resume(&mut engine, &r.log, w, &cfg)?,
        _ => Vec::new(),
    };
    let signals = install_signal_flag()?;

    let cap = cfg.engine.ring_capacity;
    let (mut cmd_tx, cmd_rx) = channel(cap);
    let (rep_tx, rep_rx) = channel(cap);
    let (mut ctl_tx, ctl_rx) = channel::<Input>(1024);
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
        errln!("warning: {w}");
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
    let (mut venues, venue_rings, paper_rings) = VenueFeeds::start(&cfg, &plan, &stop)?;
    market_rings.extend(venue_rings);
    // Restored orders on trading venues are verified with the venue before any thread trades.
    let reconcile = crate::resume::verify_on_venues(
        &mut engine,
        journal.as_mut(),
        &cfg,
        venues.sim(),
        reconcile,
        &mut cmd_tx,
    )?;

    // Venues with `trade = true` get the real exec thread; otherwise the in-process exchange.
    let mut poller: Option<(PollerHandle, _)> = None;
    let mut counters: Vec<Arc<VenueCounters>> = Vec::new();
    let exec_h = if cfg.venues.iter().any(|v| v.exec.is_some()) {
        drop(feed_exch_rx);
        let rc = cfg.reconcile.as_ref().filter(|r| r.enabled);
        let crate::venues::Trading {
            sessions,
            names,
            pollers,
        } = crate::venues::start_sessions(&cfg, venues.sim(), rc, wall_ns())?;
        let sessions: Sessions = if progress {
            sessions
                .into_iter()
                .map(|s| {
                    let (counted, c) = Counted::new(s);
                    counters.push(c);
                    Box::new(counted) as Box<dyn VenueSession>
                })
                .collect()
        } else {
            sessions
        };
        let mut sessions = sessions;
        let mut rep_tx = rep_tx;
        await_sessions_ready(&mut sessions, &names, &mut rep_tx, SESSION_READY_TIMEOUT)?;
        if let Some(rc) = rc {
            let backoff = tickwire_core::wait::Backoff::new(WaitPolicy::spin_then_park());
            let started = reconcile::start(
                rc,
                pollers,
                stop.clone(),
                mono_ns,
                backoff,
                Box::new(|a| errln!("{a}")),
            )
            .map_err(spawn_err)?;
            poller = Some(started);
        }
        ExecHandle::Venue(
            spawn(Role::Exec, &plan, move |ctx| {
                let io = VenueExecIo {
                    commands: cmd_rx,
                    reports: rep_tx,
                    backoff: ctx.backoff(),
                    clock: mono_ns,
                };
                run_venue_exec(&mut sessions, &names, io)
            })
            .map_err(spawn_err)?,
        )
    } else {
        let mut exchange = SimExchange::new(
            &cfg.instruments(),
            cfg.exchange.fees,
            cfg.exchange.max_resting,
        );
        if let Some(log) = &restore {
            // Ids unique per session of this journal (2^40 per session).
            exchange.start_ids_at(u64::from(log.log.sessions()) << 40);
        }
        ExecHandle::Sim(
            spawn(Role::Exec, &plan, move |ctx| {
                let mut market = vec![feed_exch_rx];
                // Paper venues: the exchange sees their live books ahead of the core.
                market.extend(paper_rings);
                let io = SimExecIo {
                    commands: cmd_rx,
                    market,
                    reports: rep_tx,
                    backoff: ctx.backoff(),
                    clock: mono_ns,
                };
                run_sim_exec(&mut exchange, io)
            })
            .map_err(spawn_err)?,
        )
    };

    // The ops thread: control socket, status snapshots and alerts, fed by rings from the core.
    let (status_tx, status_rx) = channel(1024);
    let (alert_tx, alert_rx) = channel(4096);
    engine.attach_status(tickwire_core::engine::StatusPort::new(
        status_tx,
        cfg.control.status_every_ticks,
    ));
    engine.attach_alerts(alert_tx);
    let (req_tx, req_rx) = crossbeam::channel::unbounded::<CtlRequest>();
    let ops_stop = StopFlag::new();
    let ops_plan = OpsPlan {
        socket: cfg
            .control
            .socket
            .as_deref()
            .map(ControlSocket::bind)
            .transpose()?,
        status: status_rx,
        alerts: alert_rx,
        alerter: Alerter::new(&cfg.alerts)?,
        names: Names {
            strategies: engine.strategy_names().map(str::to_owned).collect(),
            instruments: cfg.instruments().iter().map(|s| s.symbol.clone()).collect(),
        },
        requests: req_tx,
        stop: ops_stop.clone(),
        // Room for the segment in use, the one prepared next and one more.
        disk: journal_dir.map(|d| crate::disk::DiskWatch::new(d, 3 * cfg.journal.segment_bytes)),
    };
    let ops_h = spawn(Role::Ops, &plan, move |_| ctl::serve(ops_plan)).map_err(spawn_err)?;
    // The in-process exchange starts empty: it knows none of the restored orders, so the
    // reconciliation for its venues is complete at once.
    for input in reconcile {
        let _ = ctl_tx.try_push(input);
    }
    let core_stop = stop.clone();
    // The exec thread's ring first, then the poller's.
    let mut report_rings = vec![rep_rx];
    let poller = poller.map(|(h, rx)| {
        report_rings.push(rx);
        h
    });
    let core_h = spawn(Role::Core, &plan, move |ctx| {
        let io = CoreIo {
            market: market_rings,
            reports: report_rings,
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

    let mut show = progress.then(|| Progress::new(&counters, cfg.control.socket.clone()));
    let timer = ops_loop(
        &cfg,
        &stop,
        &signals,
        duration,
        ctl_tx,
        &req_rx,
        &core_h,
        &mut venues,
        show.as_mut(),
    );
    let (engine, core_result) = join(core_h, "core")?;
    // The poller reads only the stop flag; the core has finished, so it is set.
    stop.request();
    let poll_summary = match poller {
        Some(h) => Some(
            h.join()
                .map_err(|_| Failure::new("reconcile thread panicked"))?,
        ),
        None => None,
    };
    ops_stop.request();
    let alert_stats = join(ops_h, "ops")?;
    let sent = match feed_h {
        Some(h) => join(h, "feed")?,
        None => 0,
    };
    let exec = match exec_h {
        ExecHandle::Sim(h) => ExecSummary::Sim(join(h, "exec")?),
        ExecHandle::Venue(h) => ExecSummary::Venue(join(h, "exec")?),
    };
    let feed_lines = venues.finish();
    let elapsed = started.elapsed();
    let summary = core_result.map_err(|e| Failure::new(e.to_string()))?;
    for line in feed_lines {
        outln!("{line}");
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
    if let Some(p) = &poll_summary {
        print_poller(p);
    }
    print_risk(&engine, &alert_stats);
    if let Some(e) = &summary.journal_lost {
        let open = engine.orders().len();
        return Err(Failure::new(format!(
            "the journal could not be written ({e}): the engine stopped the safe way, unjournaled from there on (orders cancelled; {open} still open in the engine at exit). Free space or fix the directory, then run again on the same journal to resume"
        )));
    }
    Ok(())
}

/// The ops work on the main thread: timer ticks, the duration limit and signals, until the core
/// thread finishes. Returns the number of ticks sent.
#[allow(clippy::too_many_arguments)]
fn ops_loop(
    cfg: &RunConfig,
    stop: &StopFlag,
    signals: &AtomicBool,
    duration: Option<f64>,
    mut ctl: Producer<Input>,
    requests: &crossbeam::channel::Receiver<CtlRequest>,
    core: &JoinHandle<(
        tickwire_core::engine::Engine,
        Result<CoreSummary, tickwire_core::engine::runner::CoreError>,
    )>,
    venues: &mut VenueFeeds,
    mut progress: Option<&mut Progress>,
) -> u64 {
    let start = Instant::now();
    let mut next_progress = start + Duration::from_secs(1);
    // Checked by `run_text` (at most 1e9 s): the sum cannot overflow.
    let deadline = duration
        .and_then(|d| Duration::try_from_secs_f64(d).ok())
        .and_then(|d| start.checked_add(d));
    let interval = cfg.engine.timer_interval;
    let mut next_tick = start + interval;
    let mut ticks = 0u64;
    let mut waiting: Option<Input> = None;
    while !core.is_finished() {
        // Operator commands become core inputs here, stamped with the time they arrived.
        loop {
            let next = waiting.take().or_else(|| {
                requests.try_recv().ok().map(|r| {
                    let meta = Meta::new(VenueId::SYNTHETIC, Meta::ALL_INSTRUMENTS, mono_ns());
                    Input::Operator(tickwire_core::event::OperatorCmd::new(
                        meta, r.strategy, r.action,
                    ))
                })
            });
            let Some(input) = next else { break };
            if let Err(input) = ctl.try_push(input) {
                // Full: keep it and retry on the next pass; a command is never dropped.
                waiting = Some(input);
                break;
            }
        }
        let now = Instant::now();
        // Nobody reads the run's output any more (`| head` exited): stop the normal way,
        // cancelling and journaling, rather than trade on unwatched.
        let unwatched = crate::out::stdout_lost();
        if unwatched && !stop.is_set() {
            errln!(
                "stdout closed: stopping the run safely (open orders are cancelled, the shutdown is journaled)"
            );
        }
        if signals.load(Ordering::Relaxed)
            || unwatched
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
        if let Some(p) = progress.as_deref_mut()
            && now >= next_progress
        {
            p.print(now - start, venues.events());
            next_progress += Duration::from_secs(1);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    ticks
}

fn print_poller(p: &PollerSummary) {
    outln!(
        "reconcile: {} reports forwarded, {} alerts{}",
        p.reports,
        p.alerts,
        if p.core_gone { " (core gone)" } else { "" }
    );
    for v in &p.venues {
        outln!("reconcile: {} {:?}", v.venue, v.stats);
    }
}

fn print_risk(engine: &tickwire_core::engine::Engine, alerts: &AlertStats) {
    let (checks, refused) = engine.risk().counts();
    outln!(
        "risk: {checks} pre-trade checks, {refused} refused; alerts: {} logged, {} posted, {} deduplicated, {} rate-limited{}",
        alerts.logged,
        alerts.posted,
        alerts.deduplicated,
        alerts.rate_limited,
        if engine.alerts_dropped() > 0 {
            format!(
                ", {} dropped (ops thread behind; all are in the journal)",
                engine.alerts_dropped()
            )
        } else {
            String::new()
        }
    );
    for (sid, name) in engine.strategy_names().enumerate() {
        let sid = tickwire_core::ids::StrategyId(sid as u16);
        let split = engine.risk().attribution(sid);
        outln!(
            "risk: {name} level {}, net P&L {} from the strategy, {} during incidents",
            engine.risk().level(sid),
            split.strategy.round_dp(6),
            split.incident.round_dp(6)
        );
    }
}

#[allow(clippy::too_many_arguments)]
fn print_summary(
    cfg: &RunConfig,
    engine: &tickwire_core::engine::Engine,
    core: &CoreSummary,
    exec: &ExecSummary,
    sent: u64,
    ticks: u64,
    elapsed: Duration,
    journal_dir: Option<&Path>,
) {
    let secs = elapsed.as_secs_f64();
    let stats = engine.stats();
    if sent > 0 {
        outln!(
            "run: {sent} synthetic market events in {secs:.2} s ({:.0} events/s), {ticks} timer ticks",
            sent as f64 / secs.max(1e-9)
        );
    } else {
        outln!("run: {secs:.2} s, {ticks} timer ticks");
    }
    outln!(
        "engine: {} inputs, {} outputs, {} order commands ({} sent), {} fills ({} duplicates ignored), {} alerts",
        stats.inputs,
        stats.outputs,
        stats.commands,
        core.commands_sent,
        stats.fills,
        stats.duplicate_fills,
        stats.alerts
    );
    let (commands, reports, undelivered) = match exec {
        ExecSummary::Sim(e) => (e.commands, e.reports, e.undelivered),
        ExecSummary::Venue(e) => (e.commands, e.reports, e.undelivered),
    };
    outln!(
        "exec: {commands} commands handled, {reports} reports sent{}",
        if undelivered > 0 {
            format!(", {undelivered} UNDELIVERED")
        } else {
            String::new()
        }
    );
    if let ExecSummary::Venue(e) = exec {
        if e.unroutable > 0 {
            outln!(
                "exec: {} command(s) for venues without order entry, rejected",
                e.unroutable
            );
        }
        for table in &e.latency {
            for line in table.lines() {
                outln!("  {line}");
            }
        }
    }
    if core.unsent_after_close > 0 {
        outln!(
            "note: {} command(s) produced after the command ring closed were journaled but not sent",
            core.unsent_after_close
        );
    }
    let specs = cfg.instruments();
    for (sid, name) in engine.strategy_names().enumerate() {
        for spec in &specs {
            let pos = engine.position(tickwire_core::ids::StrategyId(sid as u16), spec.id);
            if !pos.is_zero() {
                outln!("position: {name} {} {pos}", spec.symbol);
            }
        }
        let sid = tickwire_core::ids::StrategyId(sid as u16);
        let pnl = engine.strategy_pnl(sid);
        outln!(
            "pnl: {name} realized {} unrealized {} fees {} net {}",
            pnl.realized.round_dp(6),
            pnl.unrealized.round_dp(6),
            pnl.fees.round_dp(6),
            pnl.net().round_dp(6)
        );
    }
    outln!("open orders at exit: {}", engine.orders().len());
    let rows: Vec<(&str, tickwire_core::metrics::StrategyMetrics)> = engine
        .strategy_metrics()
        .filter_map(|(name, m)| m.map(|m| (name, m)))
        .collect();
    if !rows.is_empty() {
        outln!("strategies:");
        for line in tickwire_strategies::metrics::table(&rows).lines() {
            outln!("  {line}");
        }
    }
    outln!("tick-to-trade latency per stage, from the records' monotonic stamps:");
    outln!("  {}", tickwire_core::latency::StageHistogram::header());
    for stage in core.latency.stages() {
        if !stage.is_empty() {
            outln!("  {}", stage.summary());
        }
    }
    if let (Some(dir), Some(w)) = (journal_dir, core.journal.as_ref()) {
        outln!(
            "journal: {} (next seq {}) — check it with `tickwire journal verify {0}` and `tickwire replay {0} --verify`",
            dir.display(),
            w.next_seq()
        );
    }
}

/// The exec thread of this run: the in-process exchange or the real venue sessions.
enum ExecHandle {
    Sim(JoinHandle<SimExecSummary>),
    Venue(JoinHandle<VenueExecSummary>),
}

/// What the exec thread did.
enum ExecSummary {
    Sim(SimExecSummary),
    Venue(VenueExecSummary),
}

/// How long `run` waits for every trading venue's session to connect, log in and subscribe.
const SESSION_READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Drives the trading sessions until each `is_ready()`, before the core starts: strategies
/// must not fire orders at a venue whose session is still connecting (they would only be
/// rejected `venue-unavailable`). Reports a session emits meanwhile go to the core's ring
/// first, so nothing is lost. Fails with the names of the venues not ready at `timeout`.
fn await_sessions_ready(
    sessions: &mut Sessions,
    names: &[String],
    reports: &mut Producer<tickwire_core::event::ExecReport>,
    timeout: Duration,
) -> Result<(), Failure> {
    let deadline = Instant::now() + timeout;
    let mut held = Vec::new();
    while sessions.iter().any(|s| !s.is_ready()) {
        if Instant::now() >= deadline {
            let waiting: Vec<&str> = sessions
                .iter()
                .zip(names)
                .filter(|(s, _)| !s.is_ready())
                .map(|(_, n)| n.as_str())
                .collect();
            return Err(Failure::new(format!(
                "trading session(s) {} not ready after {} s (connect, login or fill-stream subscribe failed)",
                waiting.join(", "),
                timeout.as_secs()
            )));
        }
        let mut busy = false;
        for s in sessions.iter_mut() {
            busy |= s.poll(mono_ns(), &mut |r: tickwire_core::event::ExecReport| {
                held.push(r)
            });
        }
        if !busy {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    for r in held {
        if reports.try_push(r).is_err() {
            return Err(Failure::new("report ring full while sessions connected"));
        }
    }
    Ok(())
}

/// The exec thread's venue sessions.
type Sessions = Vec<Box<dyn VenueSession>>;
