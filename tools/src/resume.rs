//! Restart on an existing journal: rebuild the engine from the earlier sessions, then journal a
//! `resume` input that puts every restored open order in doubt until the venue confirms it.
//!
//! The rebuild goes through [`RestoreLog`], the same code `replay` uses for a resumed session,
//! so `tickwire replay --verify` reproduces the new session exactly.

use std::path::Path;
use std::time::Duration;

use tickwire_core::engine::Engine;
use tickwire_core::engine::replay::RestoreLog;
use tickwire_core::event::{
    ExecReport, Input, Meta, OrderCommand, Output, Record, SessionAction, SessionCtl,
};
use tickwire_core::ids::{ClientOrderId, InstrumentId, StrategyId, VenueId};
use tickwire_core::journal::{Reader, Writer};
use tickwire_core::ring::Producer;
use tickwire_exec::queries::{QueryError, VenueQueries};
use tickwire_sim::SimHandle;

use crate::Failure;
use crate::clock::mono_ns;
use crate::config::RunConfig;

/// What a journal's earlier sessions leave to resume from.
pub struct Resumable {
    /// What the engine is rebuilt from.
    pub log: RestoreLog,
    /// The config text the last session ran with (as journaled), to check the new one against.
    pub config: Option<String>,
}

/// Reads what the journal's earlier sessions need to be resumed; `None` when `dir` holds no
/// journal yet (the writer will create one there).
pub fn read_log(dir: &Path) -> Result<Option<Resumable>, Failure> {
    let has_segments = std::fs::read_dir(dir)
        .map_err(|e| Failure::new(format!("journal {}: {e}", dir.display())))?
        .filter_map(Result::ok)
        .any(|e| e.file_name().to_string_lossy().ends_with(".twj"));
    if !has_segments {
        return Ok(None);
    }
    let mut reader = Reader::open(dir).map_err(|e| refuse_open(dir, &e))?;
    let mut log = RestoreLog::default();
    let mut config = None;
    while let Some(rec) = reader.next().map_err(|e| refuse_open(dir, &e))? {
        // An undecodable record ends the log there, as in `RestoreLog::read` (what follows
        // cannot be trusted; `replay --verify` reports it).
        let Ok(r) = Record::decode(rec.kind, rec.payload) else {
            break;
        };
        if let Record::Config(text) = r {
            config = Some(String::from_utf8_lossy(text).into_owned());
        }
        log.push(&r);
    }
    Ok(Some(Resumable { log, config }))
}

/// Refuses to resume a journal under a config that does not describe the same trading: the
/// instrument table (ids index every account and position) must be identical; the strategies
/// (ids index positions and orders, names identify them) and venues must be the same unless
/// the operator says the change is deliberate (`--new-session-config`; the new session's
/// config record then journals it).
pub fn check_compatible(recorded: &str, new: &RunConfig, deliberate: bool) -> Result<(), Failure> {
    let old = RunConfig::parse_for_replay(recorded).map_err(|e| {
        Failure::new(format!(
            "the journal's last config cannot be read ({e}); refusing to resume under a config it cannot be compared with"
        ))
    })?;
    let instruments = |c: &RunConfig| -> Vec<String> {
        c.instruments()
            .iter()
            .map(|i| format!("{} {} tick {} lot {}", i.venue, i.symbol, i.tick, i.lot))
            .collect()
    };
    let (was, now) = (instruments(&old), instruments(new));
    if was != now {
        return Err(Failure::new(format!(
            "refusing to resume: this config trades other instruments than the journal ([{}] recorded, [{}] now); positions are kept by instrument. Use a new journal directory for another instrument table",
            was.join(", "),
            now.join(", ")
        )));
    }
    let strategies = |c: &RunConfig| -> Vec<String> {
        c.build_engine()
            .strategy_names()
            .map(str::to_owned)
            .collect()
    };
    let venues =
        |c: &RunConfig| -> Vec<String> { c.venues.iter().map(|v| v.venue.to_string()).collect() };
    let mut changes = Vec::new();
    let (was, now) = (strategies(&old), strategies(new));
    if was != now {
        changes.push(format!(
            "strategies [{}] recorded, [{}] now",
            was.join(", "),
            now.join(", ")
        ));
    }
    let (was, now) = (venues(&old), venues(new));
    if was != now {
        changes.push(format!(
            "venues [{}] recorded, [{}] now",
            was.join(", "),
            now.join(", ")
        ));
    }
    if changes.is_empty() {
        return Ok(());
    }
    if deliberate {
        outln!(
            "resume: config changed deliberately (--new-session-config): {}",
            changes.join("; ")
        );
        return Ok(());
    }
    Err(Failure::new(format!(
        "refusing to resume: this config is not the journal's ({}); strategies' positions and orders would be dropped or given to others. Pass --new-session-config if the change is deliberate",
        changes.join("; ")
    )))
}

/// Why a journal could not be opened for a run, and, for damage, how to recover: the run
/// never resumes over corruption (committed records would be cut or state forgotten).
pub(crate) fn refuse_open(dir: &Path, e: &tickwire_core::journal::JournalError) -> Failure {
    use tickwire_core::journal::JournalError as E;
    let damaged = matches!(
        e,
        E::Corrupt { .. } | E::BadHeader { .. } | E::Truncated { .. }
    );
    if !damaged {
        return Failure::new(format!("journal {}: {e}", dir.display()));
    }
    let intact = tickwire_core::journal::verify(dir)
        .ok()
        .and_then(|r| r.last_seq);
    let how = match intact {
        Some(seq) => format!(
            "copy it aside, then `tickwire journal repair {d} --to {seq}` keeps every intact record (seq 1..={seq}) and a backup, or start a new journal directory",
            d = dir.display()
        ),
        None => "start a new journal directory (no intact record to keep)".to_owned(),
    };
    Failure::new(format!(
        "journal {}: {e}: refusing to resume over damaged records (nothing was changed); {how}",
        dir.display()
    ))
}

/// Rebuilds `engine` from `log`, journals the `resume` input and its outputs as the first input
/// of the new session, and prints what was restored. Returns the `reconciled` inputs the
/// in-process exchange's venues can send at once (it starts empty and knows no order).
pub fn resume(
    engine: &mut Engine,
    log: &RestoreLog,
    journal: &mut Writer,
    cfg: &RunConfig,
) -> Result<Vec<Input>, Failure> {
    let open = log.apply(engine);
    let meta = Meta::new(VenueId::SYNTHETIC, Meta::ALL_INSTRUMENTS, mono_ns());
    let input = Input::Session(SessionCtl::new(meta, SessionAction::Resume, open as u64));
    // Restored orders are unverified: the engine refuses every order of their strategies,
    // so this input cannot produce a command.
    let _ = process_journaled(engine, journal, &input)?;
    outln!(
        "resume: rebuilt from {} earlier session(s): {open} open order(s) to verify",
        log.sessions()
    );
    let specs = cfg.instruments();
    let names: Vec<String> = engine.strategy_names().map(str::to_owned).collect();
    for (sid, name) in names.iter().enumerate() {
        let sid = StrategyId(sid as u16);
        for spec in &specs {
            let pos = engine.position(sid, spec.id);
            if !pos.is_zero() {
                outln!("resume: position {name} {} {pos}", spec.symbol);
            }
        }
        outln!(
            "resume: {name} next order seq {}",
            engine.next_order_seq(sid).unwrap_or(1)
        );
    }
    let mut venues: Vec<VenueId> = engine
        .orders()
        .iter()
        .filter(|o| o.verifying)
        .map(|o| o.venue)
        .collect();
    venues.sort_unstable();
    venues.dedup();
    Ok(venues
        .into_iter()
        .map(|v| {
            let meta = Meta::new(v, Meta::ALL_INSTRUMENTS, mono_ns());
            Input::Session(SessionCtl::new(meta, SessionAction::Reconciled, 0))
        })
        .collect())
}

/// Processes `input` as the core thread would: journals it, then its outputs; returns the
/// commands among the outputs (the caller must send them to the venue).
fn process_journaled(
    engine: &mut Engine,
    journal: &mut Writer,
    input: &Input,
) -> Result<Vec<OrderCommand>, Failure> {
    let journal_err = |e| Failure::new(format!("journal: {e}"));
    let (kind, bytes) = input.encode();
    let now = engine.now().max(input.meta().event_time());
    journal
        .append(kind.code(), input.meta().event_time(), bytes)
        .map_err(journal_err)?;
    let mut commands = Vec::new();
    for out in engine.process(input) {
        let (kind, bytes) = out.encode();
        journal
            .append(kind.code(), now, bytes)
            .map_err(journal_err)?;
        if let Output::Command(c) = out {
            commands.push(*c);
        }
    }
    Ok(commands)
}

/// Query attempts per venue before the restart gives up (the venue must answer before any
/// trading: an engine that cannot verify its restored orders must not start).
const VERIFY_ATTEMPTS: u32 = 4;

/// Verifies the restored orders of every trading venue among `reconcile` (from [`resume`])
/// with the venue itself, before any thread trades: each restored order is queried by client
/// order id, the recent trades of its instrument and the open-order list are fetched, and every
/// report is processed and journaled as a core input; then that venue's `reconciled` input
/// closes what the venue did not report. Commands the engine emits meanwhile go to `commands`
/// (the exec thread sends them once started). Returns the `reconciled` inputs left for the
/// caller: those of venues traded on the in-process exchange.
pub fn verify_on_venues(
    engine: &mut Engine,
    journal: Option<&mut Writer>,
    cfg: &RunConfig,
    sim: Option<&SimHandle>,
    reconcile: Vec<Input>,
    commands: &mut Producer<OrderCommand>,
) -> Result<Vec<Input>, Failure> {
    let Some(journal) = journal else {
        return Ok(reconcile);
    };
    let mut rest = Vec::new();
    for input in reconcile {
        let venue = input.meta().venue;
        let Some(section) = cfg
            .venues
            .iter()
            .find(|v| v.venue == venue && v.exec.is_some())
        else {
            rest.push(input);
            continue;
        };
        let restored: Vec<(InstrumentId, ClientOrderId)> = engine
            .orders()
            .iter()
            .filter(|o| o.verifying && o.venue == venue)
            .map(|o| (o.instrument, o.id))
            .collect();
        let mut queries = crate::venues::venue_queries(section, cfg, sim)?;
        let (reports, requests) = query_restored(queries.as_mut(), &restored).map_err(|e| {
            Failure::new(format!(
                "venue {venue}: cannot verify the restored orders before trading: {e}"
            ))
        })?;
        let mut sent = Vec::new();
        for r in &reports {
            sent.extend(process_journaled(engine, journal, &Input::Exec(*r))?);
        }
        let done = Input::Session(SessionCtl::new(
            Meta::new(venue, Meta::ALL_INSTRUMENTS, mono_ns()),
            SessionAction::Reconciled,
            0,
        ));
        sent.extend(process_journaled(engine, journal, &done)?);
        outln!(
            "resume: {venue} verified {} restored order(s) with the venue ({} report(s), {} request(s))",
            restored.len(),
            reports.len(),
            requests
        );
        for c in sent {
            commands.try_push(c).map_err(|_| {
                Failure::new("resume: command ring full while verifying restored orders")
            })?;
        }
    }
    Ok(rest)
}

/// The venue's answers about `restored`: recent trades of their instruments first (so a
/// filled order's fills precede its status), then each order, then the open-order list.
/// Retries the whole round on a transport error or a rate limit, a bounded number of times.
/// Returns the reports and the number of queries made.
fn query_restored(
    q: &mut dyn VenueQueries,
    restored: &[(InstrumentId, ClientOrderId)],
) -> Result<(Vec<ExecReport>, usize), QueryError> {
    let mut instruments: Vec<InstrumentId> = restored.iter().map(|(i, _)| *i).collect();
    instruments.sort_unstable();
    instruments.dedup();
    let mut attempt = 0;
    let mut requests = 0;
    loop {
        let mut reports = Vec::new();
        let round = (|| {
            for &i in &instruments {
                requests += 1;
                q.fills_after(i, 0, &mut |r| reports.push(r))?;
            }
            for &(i, id) in restored {
                requests += 1;
                q.order_status(i, id, &mut |r| reports.push(r))?;
            }
            requests += 1;
            q.open_orders(&mut |r| reports.push(r))
        })();
        match round {
            Ok(_) => return Ok((reports, requests)),
            Err(e) if attempt + 1 >= VERIFY_ATTEMPTS => return Err(e),
            Err(QueryError::RateLimited { retry_after_s }) => {
                std::thread::sleep(Duration::from_secs(retry_after_s.clamp(1, 10)));
            }
            Err(QueryError::Transport(_) | QueryError::Http { .. }) => {
                std::thread::sleep(Duration::from_millis(250 << attempt));
            }
            Err(e) => return Err(e),
        }
        attempt += 1;
    }
}
