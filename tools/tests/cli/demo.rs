//! `tickwire demo`: the embedded simulator serving Binance from the real BTCUSDT capture and a
//! derived OKX venue, `arb` and `mm` trading through the full thread topology (TLS feeds, core,
//! exec thread with both venue sessions, reconciliation poller, risk). Both strategies must
//! trade, both tables must be printed, and the journal must replay and verify.

use crate::support::BIN;
use std::path::Path;
use std::process::{Command, Output};

fn output(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The `trades` column of a strategy's row in the strategy table.
fn trades(stdout: &str, strategy: &str) -> u64 {
    let mut lines = stdout.lines().skip_while(|l| l.trim() != "strategies:");
    let header: Vec<&str> = lines
        .nth(1)
        .unwrap_or_else(|| panic!("no strategy table:\n{stdout}"))
        .split_whitespace()
        .collect();
    let col = header
        .iter()
        .position(|h| *h == "trades")
        .unwrap_or_else(|| panic!("no trades column:\n{stdout}"));
    lines
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|cols| cols.first() == Some(&strategy))
        .and_then(|cols| cols.get(col).and_then(|n| n.parse().ok()))
        .unwrap_or_else(|| panic!("no row for {strategy}:\n{stdout}"))
}

#[test]
fn demo_trades_both_strategies_and_its_journal_verifies() {
    // The demo reads ../shared/data relative to the repository root, as users run it.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = dir.path().join("demo-journal");
    let j = journal.display().to_string();
    let o = Command::new(BIN)
        .current_dir(&root)
        .args(["demo", "--duration", "15", "--journal", &j])
        .output()
        .expect("tickwire demo runs");
    let all = output(&o);
    assert!(o.status.success(), "{all}");
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        stdout.contains("OKX is derived from the Binance capture: lag 150 ms"),
        "{all}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("[   5s] market events")),
        "progress lines: {all}"
    );
    assert!(trades(&stdout, "arb") > 0, "arb traded: {all}");
    assert!(trades(&stdout, "mm") > 0, "mm traded: {all}");
    // The latency table: core stages and both venues' exec stages, with the tail columns.
    assert!(stdout.contains("tick-to-trade latency per stage"), "{all}");
    assert!(stdout.contains("p99.9"), "{all}");
    for stage in ["tick→decision", "exec latency binance", "exec latency okx"] {
        assert!(stdout.contains(stage), "{stage}: {all}");
    }
    assert!(
        stdout.contains(&format!("tickwire replay {j} --verify")),
        "{all}"
    );
    let v = Command::new(BIN)
        .args(["replay", &j, "--verify"])
        .output()
        .expect("replay runs");
    assert!(v.status.success(), "replay --verify: {}", output(&v));
    // Strategies start only once every venue session is ready, so no order meets a session
    // still connecting; the OKX `books` channel decodes (400-level snapshots).
    let rejects = Command::new(BIN)
        .args(["journal", "inspect", &j, "--kind", "reject"])
        .output()
        .expect("journal inspect runs");
    assert!(rejects.status.success(), "{}", output(&rejects));
    assert!(
        !output(&rejects).contains("venue-unavailable"),
        "rejected venue-unavailable: {}",
        output(&rejects)
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("feed okx:") && l.contains(" 0 malformed")),
        "{all}"
    );
    // A second demo never appends to an existing journal.
    let again = Command::new(BIN)
        .current_dir(&root)
        .args(["demo", "--duration", "1", "--journal", &j])
        .output()
        .expect("runs");
    assert!(!again.status.success());
    assert!(
        output(&again).contains("already exists"),
        "{}",
        output(&again)
    );
}

/// `tickwire demo | head -3`: the reader goes away mid-run. The engine must not panic on the
/// closed stdout; it stops the normal way — a journaled shutdown, open orders cancelled — and
/// exits 0, and the journal verifies.
#[test]
fn a_closed_stdout_stops_the_demo_safely() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = dir.path().join("demo-journal");
    let j = journal.display().to_string();
    let mut child = Command::new(BIN)
        .current_dir(&root)
        .args(["demo", "--duration", "40", "--journal", &j])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tickwire demo starts");
    {
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        for _ in 0..3 {
            let line = lines.next().expect("a line").expect("utf-8");
            assert!(!line.is_empty());
        }
        // Dropping the reader closes the pipe, as `head -3` exiting does.
    }
    let o = child.wait_with_output().expect("demo exits");
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "exit {:?}: {err}", o.status.code());
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.contains("stdout closed: stopping the run safely"),
        "{err}"
    );
    let inspect = Command::new(BIN)
        .args(["journal", "inspect", &j, "--kind", "operator", "--json"])
        .output()
        .expect("inspect");
    let ops = String::from_utf8_lossy(&inspect.stdout);
    assert!(ops.contains("\"shutdown\""), "a journaled shutdown: {ops}");
    let verify = Command::new(BIN)
        .args(["journal", "verify", &j])
        .output()
        .expect("verify");
    assert!(verify.status.success(), "{}", output(&verify));
}
