//! `tickwire`: run the engine, and inspect, verify and replay its journals.

#[macro_use]
mod out;

mod alerts;
mod clock;
mod config;
mod ctl;
mod demo;
mod demo_progress;
mod disk;
mod drill_cmd;
mod journal_cmd;
mod replay_cmd;
mod resume;
mod run;
mod sim_cmd;
mod venue_config;
mod venue_feeds;
mod venues;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// tickwire: a low-latency, deterministic trading core.
#[derive(Parser)]
#[command(name = "tickwire", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The demo: Binance from a real capture and a derived OKX venue in the embedded simulator,
    /// cross-venue arb and market making through the full thread topology, then the strategy
    /// and latency tables (run it from the repository root).
    Demo {
        /// Seconds to run.
        #[arg(long, default_value_t = 60.0, value_name = "SECS")]
        duration: f64,
        /// Journal directory (must not exist; default `./tickwire-demo-<unix seconds>`).
        #[arg(long, value_name = "DIR")]
        journal: Option<PathBuf>,
    },
    /// Run the engine per a config file: synthetic or venue market data, the in-process
    /// exchange, paper or real order entry; journaled, resumed from an existing journal.
    Run {
        /// Config file (TOML).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Journal directory (created if missing; an existing journal is resumed).
        #[arg(long, value_name = "DIR")]
        journal: Option<PathBuf>,
        /// Stop after this many market events (overrides `synthetic.events`).
        #[arg(long, value_name = "N")]
        events: Option<u64>,
        /// Stop after this many seconds.
        #[arg(long, value_name = "SECS")]
        duration: Option<f64>,
        /// Resume an existing journal although this config's strategies or venues differ from
        /// the journal's (a deliberate change; the instrument table must still be the same).
        #[arg(long)]
        new_session_config: bool,
    },
    /// Re-parse a raw frame journal (a `[[venue]]`'s `raw_journal`) through the venue's decoder
    /// and book sync, and print the books: replays a parser bug from the exact bytes received.
    ReplayRaw {
        /// Raw frame journal directory.
        #[arg(value_name = "DIR")]
        dir: PathBuf,
        /// The run config that recorded it.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Which `[[venue]]` (binance, binance-us, okx).
        #[arg(long, value_name = "NAME")]
        venue: String,
    },
    /// Run the venue simulator standalone: prints `READY <venue> <kind> <url>` per endpoint and
    /// `CA <path>` (the certificate clients must trust).
    Sim {
        /// Config file: its `[sim]` section, or a standalone simulator file.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Exit once every capture has been served to its subscribers.
        #[arg(long)]
        until_finished: bool,
    },
    /// Operator control of a running engine through its control socket (`[control] socket`).
    Ctl {
        /// The control socket path.
        #[arg(long, value_name = "PATH")]
        socket: PathBuf,
        /// What to do.
        #[arg(value_enum)]
        command: ctl::CtlCommand,
        /// Only this strategy (default: every strategy).
        #[arg(long, value_name = "S")]
        strategy: Option<String>,
    },
    /// Scripted incident drills against the embedded simulator (`drill list`, `drill run`).
    Drill {
        #[command(subcommand)]
        command: DrillCommand,
    },
    /// Journal tools.
    Journal {
        #[command(subcommand)]
        command: JournalCommand,
    },
    /// Re-run a journal's inputs through the engine and compare every output; with `--with`,
    /// through an engine built from another config, reporting the first decision that differs.
    Replay {
        /// Journal directory.
        #[arg(value_name = "DIR")]
        dir: PathBuf,
        /// Fail (exit 1) unless every output is reproduced identically.
        #[arg(long, conflicts_with = "with")]
        verify: bool,
        /// Counterfactual replay: the recorded inputs under this config (same instruments,
        /// other limits or strategy settings).
        #[arg(long, value_name = "CONFIG")]
        with: Option<PathBuf>,
        /// Stop after this sequence number.
        #[arg(long, value_name = "SEQ")]
        until: Option<u64>,
        /// Print the top of book per instrument at the end.
        #[arg(long)]
        print_books: bool,
    },
}

#[derive(Subcommand)]
enum JournalCommand {
    /// Print records, human-readable or as JSON lines.
    Inspect {
        /// Journal directory.
        #[arg(value_name = "DIR")]
        dir: PathBuf,
        /// First sequence to print.
        #[arg(long, value_name = "SEQ")]
        from: Option<u64>,
        /// Last sequence to print.
        #[arg(long, value_name = "SEQ")]
        to: Option<u64>,
        /// Only records of this kind; repeatable.
        #[arg(long, value_name = "KIND", value_parser = journal_cmd::kind_names())]
        kind: Vec<String>,
        /// JSON lines instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Follow a journal another process is writing.
    Tail {
        /// Journal directory.
        #[arg(value_name = "DIR")]
        dir: PathBuf,
        /// JSON lines instead of text.
        #[arg(long)]
        json: bool,
        /// Only records of this kind; repeatable.
        #[arg(long, value_name = "KIND", value_parser = journal_cmd::kind_names())]
        kind: Vec<String>,
        /// Exit after this many seconds without a new record (default: follow forever).
        #[arg(long, value_name = "SECS")]
        idle_exit: Option<f64>,
    },
    /// Counts per kind, time span, segments, bytes, rate.
    Stats {
        /// Journal directory.
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// Check CRCs and sequence continuity; report a torn tail.
    Verify {
        /// Journal directory.
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// Cut a damaged journal after its last good record, keeping a backup copy first.
    Repair {
        /// Journal directory.
        #[arg(value_name = "DIR")]
        dir: PathBuf,
        /// The last record to keep (every record up to it must be intact).
        #[arg(long, value_name = "SEQ")]
        to: u64,
        /// Where to copy the journal first (must not exist; default `DIR.backup-<unix secs>`).
        #[arg(long, value_name = "PATH")]
        backup: Option<PathBuf>,
    },
}

/// A command's failure: one line for the operator; the process exits 1.
pub struct Failure {
    message: String,
}

impl Failure {
    /// A failure with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl<E: std::error::Error> From<E> for Failure {
    fn from(e: E) -> Self {
        Self::new(e.to_string())
    }
}

/// Restores the default SIGPIPE action for the listing commands, so `tickwire journal inspect J
/// | head` ends quietly like any Unix tool instead of failing on a closed pipe. Only for them:
/// commands with sockets (`run`, `sim`) keep Rust's default of ignoring SIGPIPE, so a peer
/// closing a connection is an error to handle, not a process kill.
fn default_sigpipe() {
    // SAFETY: called from main before any other thread exists; setting a standard signal to
    // SIG_DFL installs no handler code and cannot violate memory safety.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// `tickwire drill` subcommands.
#[derive(Subcommand)]
enum DrillCommand {
    /// Print every drill and what it proves.
    List,
    /// Run drills: PASS/FAIL per check, then `N/M drills passed`; fails unless all pass.
    Run {
        /// The drill to run.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        name: Option<String>,
        /// Run every drill.
        #[arg(long)]
        all: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(
        cli.command,
        Command::Journal { .. } | Command::Replay { .. }
    ) {
        default_sigpipe();
    }
    let result = match cli.command {
        Command::Demo { duration, journal } => demo::demo(duration, journal.as_deref()),
        Command::Run {
            config,
            journal,
            events,
            duration,
            new_session_config,
        } => run::run(
            &config,
            journal.as_deref(),
            events,
            duration,
            new_session_config,
        ),
        Command::Sim {
            config,
            until_finished,
        } => sim_cmd::sim(&config, until_finished),
        Command::Ctl {
            socket,
            command,
            strategy,
        } => ctl::ctl(&socket, command, strategy.as_deref()),
        Command::ReplayRaw { dir, config, venue } => replay_cmd::replay_raw(&dir, &config, &venue),
        Command::Journal { command } => match command {
            JournalCommand::Inspect {
                dir,
                from,
                to,
                kind,
                json,
            } => journal_cmd::inspect(&dir, from, to, &kind, json),
            JournalCommand::Tail {
                dir,
                json,
                kind,
                idle_exit,
            } => journal_cmd::tail(&dir, &kind, json, idle_exit),
            JournalCommand::Stats { dir } => journal_cmd::stats(&dir),
            JournalCommand::Verify { dir } => journal_cmd::verify(&dir),
            JournalCommand::Repair { dir, to, backup } => {
                journal_cmd::repair(&dir, to, backup.as_deref())
            }
        },
        Command::Replay {
            dir,
            verify,
            with,
            until,
            print_books,
        } => {
            let mode = match &with {
                Some(path) => replay_cmd::ReplayMode::With(path),
                None => replay_cmd::ReplayMode::Recorded { verify },
            };
            replay_cmd::replay(&dir, mode, until, print_books)
        }
        Command::Drill { command } => match command {
            DrillCommand::List => drill_cmd::list(),
            DrillCommand::Run { name, .. } => drill_cmd::run(name.as_deref()),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            errln!("error: {}", f.message);
            ExitCode::FAILURE
        }
    }
}
