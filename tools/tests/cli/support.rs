//! What every module of this test binary uses to run `tickwire`: the binary, the shared data,
//! the example config, and runs that must succeed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `tickwire` binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_tickwire");

/// The repository root (demo and simulator configs name captures relative to it).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The shared venue captures beside the repository.
pub fn data() -> PathBuf {
    root().join("../shared/data")
}

/// The annotated synthetic example config.
pub fn example() -> PathBuf {
    root().join("examples/synthetic.toml")
}

/// Runs `tickwire ARGS` to completion.
pub fn tw(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("tickwire binary runs")
}

/// Standard output then standard error.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs `tickwire ARGS`, which must succeed; returns both streams.
pub fn ok(args: &[&str]) -> String {
    let o = tw(args);
    let all = text(&o);
    assert!(o.status.success(), "tickwire {args:?} failed:\n{all}");
    all
}

/// Like [`ok`], but only standard output: `journal inspect` notes a torn tail (left by a
/// SIGKILL mid-append) on stderr, which is not a record.
pub fn ok_stdout(args: &[&str]) -> String {
    let o = tw(args);
    assert!(
        o.status.success(),
        "tickwire {args:?} failed:\n{}",
        text(&o)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}
