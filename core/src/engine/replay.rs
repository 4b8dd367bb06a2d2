//! Replay: re-run a journal's inputs through a fresh engine and prove, record by record, that it
//! produces the journaled outputs.
//!
//! A journal holds one or more sessions (`session` record, then `config`, then inputs each
//! followed by the outputs they caused). Each session is replayed with an engine built from its
//! own config text. Outputs an input caused but that were never journaled because the writer was
//! killed before appending them are expected only at the end of a session; they are counted, not
//! treated as a divergence.
//!
//! A session that resumed an earlier one (its first input is a `session-ctl` resume) ran on an
//! engine rebuilt from every earlier session with [`RestoreLog`]; replay rebuilds it the same
//! way before feeding that input.

use std::collections::VecDeque;
use std::fmt;

use super::Engine;
use crate::event::{
    ExecReport, Input, OperatorCmd, OrderCommand, Output, Record, SessionAction, SessionCtl,
};
use crate::journal::{JournalError, Reader};

/// A difference between what the journal says and what the engine did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// Journal sequence where it was found.
    pub seq: u64,
    /// What went wrong, with both sides shown.
    pub detail: String,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "first divergence at seq {}: {}", self.seq, self.detail)
    }
}

/// What a replay found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplayReport {
    /// Sessions replayed.
    pub sessions: u32,
    /// Inputs fed to the engine.
    pub inputs: u64,
    /// Journaled outputs compared and found identical.
    pub outputs_matched: u64,
    /// Outputs the engine produced at the end of a session that the journal never received
    /// (the writer stopped between an input and its outputs).
    pub unjournaled_tail: u64,
    /// Last journal sequence processed.
    pub last_seq: u64,
    /// The first divergence, if any (replay stops there).
    pub divergence: Option<Divergence>,
}

/// Why a replay could not run.
#[derive(Debug)]
pub enum ReplayError {
    /// The journal could not be read.
    Journal(JournalError),
    /// A session's config could not be turned into an engine.
    Config {
        /// Sequence of the config record.
        seq: u64,
        /// The problem.
        message: String,
    },
    /// Inputs before any config record: the engine cannot be built.
    NoConfig {
        /// Sequence of the first orphan input.
        seq: u64,
    },
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Journal(e) => write!(f, "{e}"),
            Self::Config { seq, message } => {
                write!(f, "config recorded at seq {seq} is unusable: {message}")
            }
            Self::NoConfig { seq } => write!(
                f,
                "input at seq {seq} comes before any config record: not a tickwire run journal"
            ),
        }
    }
}

impl std::error::Error for ReplayError {}

impl From<JournalError> for ReplayError {
    fn from(e: JournalError) -> Self {
        Self::Journal(e)
    }
}

/// What an engine needs from earlier sessions to resume where they stopped: their execution
/// reports and session inputs (orders, fills, positions, fees, fill de-duplication), their
/// operator commands (modes, risk levels, breaker resets) and the
/// new-order and cancel commands they sent (open orders and id sequences). Market data is not
/// kept: books are rebuilt from live data after a restart.
#[derive(Clone, Debug, Default)]
pub struct RestoreLog {
    items: Vec<Kept>,
    sessions: u32,
}

#[derive(Clone, Copy, Debug)]
enum Kept {
    Exec(ExecReport),
    Session(SessionCtl),
    Operator(OperatorCmd),
    Command(OrderCommand),
}

impl RestoreLog {
    /// Keeps `rec` if restoring needs it.
    pub fn push(&mut self, rec: &Record<'_>) {
        match rec {
            Record::Input(Input::Exec(r)) => self.items.push(Kept::Exec(*r)),
            Record::Input(Input::Session(c)) => self.items.push(Kept::Session(*c)),
            Record::Input(Input::Operator(c)) => self.items.push(Kept::Operator(*c)),
            Record::Output(Output::Command(
                c @ (OrderCommand::New(_) | OrderCommand::Cancel(_)),
            )) => self.items.push(Kept::Command(*c)),
            Record::Session(_) => self.sessions += 1,
            _ => {}
        }
    }

    /// Reads a whole journal. An undecodable record ends the log there (what follows cannot be
    /// trusted; `replay --verify` reports it).
    pub fn read(reader: &mut Reader) -> Result<Self, ReplayError> {
        let mut log = Self::default();
        while let Some(rec) = reader.next()? {
            match Record::decode(rec.kind, rec.payload) {
                Ok(r) => log.push(&r),
                Err(_) => break,
            }
        }
        Ok(log)
    }

    /// Sessions seen.
    pub fn sessions(&self) -> u32 {
        self.sessions
    }

    /// True if nothing worth restoring was kept.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Rebuilds `engine` (freshly built) to the state the logged sessions ended in; returns
    /// the number of orders left open.
    pub fn apply(&self, engine: &mut Engine) -> usize {
        for item in &self.items {
            let rec = match *item {
                Kept::Exec(r) => Record::Input(Input::Exec(r)),
                Kept::Session(c) => Record::Input(Input::Session(c)),
                Kept::Operator(c) => Record::Input(Input::Operator(c)),
                Kept::Command(c) => Record::Output(Output::Command(c)),
            };
            engine.restore(&rec);
        }
        engine.orders().len()
    }
}

/// Replays the journal `reader` reads.
///
/// `build` turns a session's config text into an engine; `until` stops after that sequence;
/// `at_end` sees the last session's engine when the replay stops (to print books).
pub fn replay(
    reader: &mut Reader,
    mut build: impl FnMut(&[u8]) -> Result<Engine, String>,
    until: Option<u64>,
    mut at_end: impl FnMut(&Engine),
) -> Result<ReplayReport, ReplayError> {
    let mut report = ReplayReport::default();
    let mut engine: Option<Engine> = None;
    let mut expected: VecDeque<Output> = VecDeque::with_capacity(1024);
    let mut log = RestoreLog::default();
    let mut fresh = false;
    while let Some(rec) = reader.next()? {
        if until.is_some_and(|u| rec.seq > u) {
            break;
        }
        report.last_seq = rec.seq;
        let decoded = match Record::decode(rec.kind, rec.payload) {
            Ok(r) => r,
            Err(e) => {
                report.divergence = Some(Divergence {
                    seq: rec.seq,
                    detail: format!("undecodable record: {e}"),
                });
                break;
            }
        };
        match decoded {
            Record::Input(Input::Session(c))
                if fresh && c.action() == Some(SessionAction::Resume) =>
            {
                if let Some(e) = engine.as_mut() {
                    log.apply(e);
                }
            }
            _ => {}
        }
        if matches!(decoded, Record::Input(_)) {
            fresh = false;
        }
        log.push(&decoded);
        match decoded {
            Record::Session(_) => {
                report.unjournaled_tail += expected.len() as u64;
                expected.clear();
                if let Some(e) = engine.take() {
                    at_end(&e);
                }
            }
            // Raw frames belong to feed journals; they are not engine inputs.
            Record::RawFrame(_) | Record::RawSnapshot(..) => {}
            Record::Config(text) => {
                let e = build(text).map_err(|message| ReplayError::Config {
                    seq: rec.seq,
                    message,
                })?;
                engine = Some(e);
                fresh = true;
                report.sessions += 1;
            }
            Record::Input(input) => {
                if let Some(missing) = expected.front() {
                    report.divergence = Some(Divergence {
                        seq: rec.seq,
                        detail: format!(
                            "engine produced {missing:?} but the journal moves on to the next input"
                        ),
                    });
                    break;
                }
                let e = engine
                    .as_mut()
                    .ok_or(ReplayError::NoConfig { seq: rec.seq })?;
                expected.extend(e.process(&input).iter().copied());
                report.inputs += 1;
            }
            Record::Output(journaled) => {
                let Some(produced) = expected.pop_front() else {
                    report.divergence = Some(Divergence {
                        seq: rec.seq,
                        detail: format!(
                            "journal has {journaled:?} but the engine produced nothing more"
                        ),
                    });
                    break;
                };
                let (pk, pb) = produced.encode();
                if pk.code() != rec.kind || pb != rec.payload {
                    report.divergence = Some(Divergence {
                        seq: rec.seq,
                        detail: format!("journal has {journaled:?}, engine produced {produced:?}"),
                    });
                    break;
                }
                report.outputs_matched += 1;
            }
        }
    }
    report.unjournaled_tail += expected.len() as u64;
    if let Some(e) = engine.as_ref() {
        at_end(e);
    }
    Ok(report)
}
