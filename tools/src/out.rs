//! Operator output that can never stop a run: every line the CLI prints goes through here.
//!
//! `println!` panics when stdout is gone (`tickwire demo | head -3` closes it after three
//! lines), and a panic in a run would leave orders working and positions open with no
//! shutdown record. Here a failed write is not an error: the line is dropped, and a lost
//! stdout is remembered ([`stdout_lost`]) so a running engine can stop the normal, safe way
//! (cancel, confirm, journal the shutdown) instead of trading on unwatched. A lost stderr is
//! ignored: it carries warnings and the final error line, never a decision.

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static STDOUT_LOST: AtomicBool = AtomicBool::new(false);

/// True once a write to stdout failed (closed pipe, full disk behind a redirect, ...).
pub fn stdout_lost() -> bool {
    STDOUT_LOST.load(Ordering::Relaxed)
}

/// Writes to stdout, with a newline if `newline`; remembers a failure instead of panicking.
pub fn stdout(args: fmt::Arguments<'_>, newline: bool) {
    let mut out = std::io::stdout().lock();
    let written = out.write_fmt(args).and_then(|()| {
        if newline {
            out.write_all(b"\n")?;
        }
        // Line by line, so an operator watching a pipe sees each line as it happens.
        out.flush()
    });
    if written.is_err() {
        STDOUT_LOST.store(true, Ordering::Relaxed);
    }
}

/// Writes a line to stderr; a failure is ignored (see the module docs).
pub fn stderr(args: fmt::Arguments<'_>) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_fmt(args).and_then(|()| err.write_all(b"\n"));
}

/// `println!` that never panics (see [`crate::out`]).
macro_rules! outln {
    () => { $crate::out::stdout(format_args!(""), true) };
    ($($arg:tt)*) => { $crate::out::stdout(format_args!($($arg)*), true) };
}

/// `print!` that never panics (see [`crate::out`]).
macro_rules! out {
    ($($arg:tt)*) => { $crate::out::stdout(format_args!($($arg)*), false) };
}

/// `eprintln!` that never panics (see [`crate::out`]).
macro_rules! errln {
    ($($arg:tt)*) => { $crate::out::stderr(format_args!($($arg)*)) };
}

#[cfg(test)]
mod tests {
    #[test]
    fn formatting_goes_through() {
        // Under the test harness stdout is captured, never closed: nothing is lost.
        super::stdout(format_args!("x = {}", 1), true);
        assert!(!super::stdout_lost());
    }
}
