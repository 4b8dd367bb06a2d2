//! `tickwire drill`: scripted incident scenarios against the embedded venue simulator. Each
//! drill starts the simulator in this process with its faults, runs the engine as a child
//! `tickwire run` trading against it over TLS (`mode = "external"`) with the `script`
//! strategy, then checks outcomes: the engine's position against the venue's balances, every
//! fill counted once, retries bounded, the breaker tripping in time, `replay --verify`.

mod harness;
mod kill;
mod restart;
mod scenarios;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// One checked outcome of a drill.
#[derive(Clone, Debug)]
pub struct Check {
    /// What is asserted.
    pub what: String,
    /// Whether it held.
    pub pass: bool,
    /// The measured values.
    pub detail: String,
}

/// A drill's result: every check, in order.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The drill.
    pub name: &'static str,
    /// Its checks (a drill that could not run has one failed check saying why).
    pub checks: Vec<Check>,
}

impl Outcome {
    /// Every check passed (and there was at least one).
    pub fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.pass)
    }

    /// `PASS`/`FAIL` per check, one line each.
    pub fn report(&self) -> String {
        let mut s = String::new();
        for c in &self.checks {
            s.push_str(&format!(
                "{} {}: {} ({})\n",
                if c.pass { "PASS" } else { "FAIL" },
                self.name,
                c.what,
                c.detail
            ));
        }
        s
    }
}

/// Collects checks while a drill runs.
pub(crate) struct Checks(Vec<Check>);

impl Checks {
    pub(crate) fn new() -> Self {
        Self(Vec::new())
    }

    /// Records `what` as passed if `pass`, with `detail` as evidence.
    pub(crate) fn check(&mut self, what: &str, pass: bool, detail: impl Into<String>) {
        self.0.push(Check {
            what: what.to_owned(),
            pass,
            detail: detail.into(),
        });
    }
}

/// The drills: name and what it proves.
pub const DRILLS: &[(&str, &str)] = scenarios::DRILLS;

/// Runs drill `name`, spawning `bin` (the `tickwire` binary) as the engine.
pub fn run(name: &str, bin: &Path) -> Result<Outcome, String> {
    let (&(name, _), f) = DRILLS
        .iter()
        .zip(scenarios::RUNNERS)
        .find(|((n, _), _)| *n == name)
        .ok_or_else(|| {
            let known: Vec<&str> = DRILLS.iter().map(|(n, _)| *n).collect();
            format!("unknown drill {name:?} (known: {})", known.join(", "))
        })?;
    let mut checks = Checks::new();
    if let Err(e) = f(bin, &mut checks) {
        checks.check("drill ran to completion", false, e);
    }
    Ok(Outcome {
        name,
        checks: checks.0,
    })
}

/// A number unique within this process (temp directory names).
pub(crate) fn unique() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
