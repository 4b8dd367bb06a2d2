//! Restart on an existing journal: rebuild the engine from the earlier sessions, then journal a
//! `resume` input that puts every restored open order in doubt until the venue confirms it.
//!
//! The rebuild goes through [`RestoreLog`], the same code `replay` uses for a resumed session,
//! so `tickwire replay --verify` reproduces the new session exactly.

use std::path::Path;

use tickwire_core::engine::Engine;
use tickwire_core::engine::replay::RestoreLog;
use tickwire_core::event::{Input, Meta, SessionAction, SessionCtl};
use tickwire_core::ids::{StrategyId, VenueId};
use tickwire_core::journal::{Reader, Writer};

use crate::Failure;
use crate::clock::mono_ns;
use crate::config::RunConfig;

/// Reads what the journal's earlier sessions need to be resumed; `None` when `dir` holds no
/// journal yet (the writer will create one there).
pub fn read_log(dir: &Path) -> Result<Option<RestoreLog>, Failure> {
    let has_segments = std::fs::read_dir(dir)
        .map_err(|e| Failure::new(format!("journal {}: {e}", dir.display())))?
        .filter_map(Result::ok)
        .any(|e| e.file_name().to_string_lossy().ends_with(".twj"));
    if !has_segments {
        return Ok(None);
    }
    let mut reader =
        Reader::open(dir).map_err(|e| Failure::new(format!("journal {}: {e}", dir.display())))?;
    RestoreLog::read(&mut reader).map(Some).map_err(|e| {
        Failure::new(format!(
            "journal {}: cannot rebuild the state to resume from: {e}",
            dir.display()
        ))
    })
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
    let journal_err = |e| Failure::new(format!("journal: {e}"));
    let (kind, bytes) = input.encode();
    let now = engine.now().max(input.meta().event_time());
    journal
        .append(kind.code(), input.meta().event_time(), bytes)
        .map_err(journal_err)?;
    for out in engine.process(&input) {
        let (kind, bytes) = out.encode();
        journal
            .append(kind.code(), now, bytes)
            .map_err(journal_err)?;
    }
    println!(
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
                println!("resume: position {name} {} {pos}", spec.symbol);
            }
        }
        println!(
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
