//! `tickwire replay DIR [--verify | --with CONFIG] [--until SEQ] [--print-books]`.

use std::path::Path;

use tickwire_core::engine::Engine;
use tickwire_core::engine::replay::replay as replay_journal;
use tickwire_core::journal::Reader;

use crate::Failure;
use crate::config::RunConfig;
use crate::journal_cmd::open_reader;

fn build(text: &[u8]) -> Result<Engine, String> {
    let text = std::str::from_utf8(text).map_err(|_| "config text is not UTF-8".to_owned())?;
    RunConfig::parse_for_replay(text)
        .map(|c| c.build_engine())
        .map_err(|e| e.to_string())
}

fn print_books(engine: &Engine) {
    print_markets(engine.markets());
}

fn print_markets(markets: &tickwire_core::market::Markets) {
    for view in markets.iter() {
        let (bids, asks) = view.book.depth();
        let d = view.spec.venue.wire_decimals() as usize;
        let side =
            |l: Option<(String, String)>| l.map_or("-".to_owned(), |(p, q)| format!("{p} x {q}"));
        // Venue precision, so the strings compare with what the venue itself sends.
        let pair = |p: tickwire_core::num::Px, q: tickwire_core::num::Qty| {
            (format!("{p:.d$}"), format!("{q:.d$}"))
        };
        let bid = view
            .book
            .best_bid()
            .map(|l| pair(l.px, l.qty))
            .or_else(|| view.top.map(|t| pair(t.bid_px, t.bid_qty)));
        let ask = view
            .book
            .best_ask()
            .map(|l| pair(l.px, l.qty))
            .or_else(|| view.top.map(|t| pair(t.ask_px, t.ask_qty)));
        outln!(
            "book {} {}: bid {} | ask {} | levels {bids}/{asks} | update id {} | feed {}",
            view.spec.venue,
            view.spec.symbol,
            side(bid),
            side(ask),
            view.book.update_id(),
            view.feed,
        );
    }
}

/// Builds a session's engine from its recorded config text.
type Builder<'a> = dyn FnMut(&[u8]) -> Result<Engine, String> + 'a;

/// What `replay` does with a journal.
pub enum ReplayMode<'a> {
    /// Rebuild each session from its recorded config and compare every output; with
    /// `verify`, a divergence is a failure (exit 1).
    Recorded {
        /// Fail on the first divergence.
        verify: bool,
    },
    /// Counterfactual: the recorded inputs through an engine built from another config (the
    /// same instruments, other limits or strategy settings), reporting the first decision
    /// that differs from the recorded one.
    With(&'a Path),
}

/// An engine builder for a counterfactual replay: every session is rebuilt from `text`
/// instead of its recorded config, provided both trade the same instruments (the recorded
/// inputs mean nothing to an engine with another instrument table).
fn build_with(text: &str) -> impl FnMut(&[u8]) -> Result<Engine, String> + '_ {
    move |recorded: &[u8]| {
        let recorded =
            std::str::from_utf8(recorded).map_err(|_| "config text is not UTF-8".to_owned())?;
        let recorded = RunConfig::parse_for_replay(recorded).map_err(|e| e.to_string())?;
        let with = RunConfig::parse_for_replay(text).map_err(|e| e.to_string())?;
        if recorded.instruments() != with.instruments() {
            let names = |c: &RunConfig| {
                c.instruments()
                    .iter()
                    .map(|i| format!("{} {}", i.venue, i.symbol))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(format!(
                "--with CONFIG trades other instruments ({}) than the recorded session ({}); a counterfactual replay needs the same instrument table",
                names(&with),
                names(&recorded)
            ));
        }
        Ok(with.build_engine())
    }
}

/// Runs the replay and prints its report.
pub fn replay(
    dir: &Path,
    mode: ReplayMode<'_>,
    until: Option<u64>,
    books: bool,
) -> Result<(), Failure> {
    let with_text = match mode {
        ReplayMode::With(path) => {
            let text = crate::config::read_config(path)?;
            // Every problem of the file up front, with its name, before any journal is read.
            RunConfig::parse_for_replay(&text)
                .map_err(|e| Failure::new(format!("{}: {e}", path.display())))?;
            Some(text)
        }
        ReplayMode::Recorded { .. } => None,
    };
    let verify = matches!(mode, ReplayMode::Recorded { verify: true });
    let mut reader: Reader = open_reader(dir)?;
    let mut last: Option<String> = None;
    let builder: Box<Builder<'_>> = match &with_text {
        Some(text) => Box::new(build_with(text)),
        None => Box::new(build),
    };
    let report = replay_journal(&mut reader, builder, until, |engine| {
        if books {
            print_books(engine);
        }
        let stats = engine.stats();
        last = Some(format!(
            "engine: {} inputs, {} outputs, {} commands, {} fills ({} duplicates ignored), {} alerts",
            stats.inputs, stats.outputs, stats.commands, stats.fills, stats.duplicate_fills, stats.alerts
        ));
    })
    .map_err(|e| Failure::new(e.to_string()))?;
    if let Some(line) = last {
        outln!("{line}");
    }
    outln!(
        "replayed {} session(s) to seq {}: {} inputs, {} outputs identical",
        report.sessions,
        report.last_seq,
        report.inputs,
        report.outputs_matched
    );
    if report.unjournaled_tail > 0 {
        outln!(
            "note: {} output(s) of a session's last input were never journaled (the writer stopped first)",
            report.unjournaled_tail
        );
    }
    if reader.torn_tail().is_some() {
        outln!("note: the journal ends in a torn record (an unfinished append); replayed up to it");
    }
    if report.sessions == 0 {
        return Err(Failure::new(format!(
            "{} holds no session to replay",
            dir.display()
        )));
    }
    if let ReplayMode::With(path) = mode {
        match report.divergence {
            None => outln!(
                "counterfactual {}: no decision differs from the recorded session(s)",
                path.display()
            ),
            // The inputs after it (fills of orders one side never sent) no longer describe
            // what the other engine would have seen, so the replay stops at the first one.
            Some(d) => outln!(
                "counterfactual {}: the first decision that differs is at seq {}: {}",
                path.display(),
                d.seq,
                d.detail
            ),
        }
        return Ok(());
    }
    match report.divergence {
        None => {
            if verify {
                outln!("verify: OK, every output identical");
            }
            Ok(())
        }
        Some(d) if verify => Err(Failure::new(format!("verify FAILED: {d}"))),
        Some(d) => {
            outln!("warning: {d}");
            Ok(())
        }
    }
}

/// `tickwire replay-raw DIR --config FILE --venue NAME`: re-parses a raw frame journal through
/// the venue's decoder and book sync and prints the books it ends with.
pub fn replay_raw(dir: &Path, config: &Path, venue: &str) -> Result<(), Failure> {
    let text = crate::config::read_config(config)?;
    let cfg = RunConfig::parse_for_replay(&text)
        .map_err(|e| Failure::new(format!("{}: {e}", config.display())))?;
    let section = cfg
        .venues
        .iter()
        .find(|v| v.venue.name() == Some(venue))
        .ok_or_else(|| Failure::new(format!("{}: no [[venue]] {venue:?}", config.display())))?;
    let symbols: Vec<_> = section
        .instruments
        .iter()
        .map(|s| (s.symbol.clone(), s.id))
        .collect();
    let mut markets =
        tickwire_core::market::Markets::new(&cfg.instruments(), cfg.engine.book_depth);
    let mut reader = open_reader(dir)?;
    let stats = tickwire_feeds::feed::replay_raw(&mut reader, section.venue, &symbols, &mut |ev| {
        let now = ev.meta().event_time();
        markets.apply(&ev, now);
    })
    .map_err(Failure::new)?;
    print_markets(&markets);
    outln!(
        "re-parsed {} frame(s) and {} snapshot(s), {} malformed",
        stats.frames,
        stats.snapshots,
        stats.malformed
    );
    Ok(())
}
