//! `tickwire run` trading against the embedded simulator's Binance private side: a `[[venue]]`
//! with `trade = true` gets the real exec thread (WS-API order entry over TLS on loopback),
//! the probe strategy's orders reach the simulated venue, and the run summary prints the
//! venue's exec latency. Also: the exec keys are validated with clear one-line errors.

use crate::support::{BIN, tw};
use std::path::Path;
use std::process::{Command, Output};

const KEY: &str = "runTestKey0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRS";
const SECRET: &str = "runTestSecret9876543210zyxwvutsrqponmlkjihgfedcbaZYXWVUTSRQPONM";

/// A TESTUSDT capture: a snapshot, then `n` diffs moving the best bid back and forth, so the
/// probe strategy sees many book updates.
fn write_capture(dir: &Path, n: u64) -> String {
    let mut lines = vec![
        r#"1000000000 {"lastUpdateId":100,"bids":[["99.00000000","3.00000000"],["98.00000000","5.00000000"]],"asks":[["100.00000000","1.00000000"],["100.50000000","2.00000000"],["101.00000000","5.00000000"]]}"#.to_owned(),
    ];
    for i in 0..n {
        let u = 101 + i;
        let qty = if i % 2 == 0 {
            "4.00000000"
        } else {
            "3.00000000"
        };
        lines.push(format!(
            r#"{} {{"stream":"testusdt@depth@100ms","data":{{"e":"depthUpdate","E":{},"s":"TESTUSDT","U":{u},"u":{u},"b":[["99.00000000","{qty}"]],"a":[]}}}}"#,
            2_000_000_000 + i * 10_000_000,
            1_700_000_000_100 + i
        ));
    }
    let p = dir.join("testusdt.txt");
    std::fs::write(&p, lines.join("\n") + "\n").expect("write capture");
    p.display().to_string()
}

fn config(dir: &Path, venue_extra: &str, private: bool) -> String {
    let cap = write_capture(dir, 200);
    let private = if private {
        format!(
            r#"
[sim.venue.private]
taker_fee = "0.001"

[[sim.venue.private.account]]
name = "run"
api_key = "{KEY}"
secret = "{SECRET}"
balances = ["USDT:100000", "TEST:100"]
"#
        )
    } else {
        String::new()
    };
    let text = format!(
        r#"[engine]
topology = "shared"
wait = "spin-then-park"

[[venue]]
venue = "binance"
mode = "sim"
channels = ["depth@100ms"]
{venue_extra}

[[venue.instrument]]
symbol = "TESTUSDT"
tick = "0.01"
lot = "0.001"
min_qty = "0.001"

[[strategy]]
kind = "probe"
name = "probe"
instrument = "TESTUSDT"
order_qty = "0.01"
max_position = "0.1"
every = 10
take_every = 3

[sim]
[[sim.venue]]
venue = "binance"
captures = [{cap:?}]
pace = "recorded"

[[sim.venue.symbol]]
symbol = "TESTUSDT"
tick = "0.01"
lot = "0.001"
min_notional = "0.5"
{private}
"#
    );
    let path = dir.join("run.toml");
    std::fs::write(&path, text).expect("write config");
    path.display().to_string()
}

fn output(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn run_trades_against_the_simulator_and_reports_exec_latency() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(dir.path(), "trade = true", true);
    let o = tw(&["run", "--config", &cfg, "--duration", "6"]);
    let all = output(&o);
    assert!(o.status.success(), "{all}");
    assert!(all.contains("exec latency binance"), "{all}");
    let handled: u64 = all
        .lines()
        .find_map(|l| l.strip_prefix("exec: "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exec line: {all}"));
    assert!(
        handled > 0,
        "the strategy's orders reached the exec thread: {all}"
    );
    // Written→ack samples: the venue answered over the WS API.
    let ack = all
        .lines()
        .find(|l| l.trim_start().starts_with("written→ack"))
        .unwrap_or_else(|| panic!("no ack line: {all}"));
    let samples: u64 = ack
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(samples > 0, "{all}");
    assert!(!all.contains(SECRET), "the secret never appears in output");
}

#[test]
fn exec_keys_are_validated() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (extra, private, expect) in [
        (
            "order_entry = \"rest\"",
            true,
            "only meaningful with trade = true",
        ),
        (
            "trade = true\norder_entry = \"fix\"",
            true,
            "is not one of ws-api, rest",
        ),
        (
            "trade = true\nuser_data = \"poll\"",
            true,
            "is not one of ws-api, listen-key",
        ),
        (
            "trade = true\ncredentials_env = \"TW\"\ncredentials_file = \"/nonexistent\"",
            true,
            "not both",
        ),
        (
            "trade = true\ncredentials_env = \"tw-x\"",
            true,
            "environment variable prefix",
        ),
        (
            "trade = true",
            false,
            "needs a [[sim.venue.private.account]]",
        ),
    ] {
        let cfg = config(dir.path(), extra, private);
        let o = tw(&["run", "--config", &cfg, "--duration", "1"]);
        let all = output(&o);
        assert!(!o.status.success(), "{extra}: accepted:\n{all}");
        assert!(
            all.contains(expect),
            "{extra}: expected {expect:?} in:\n{all}"
        );
    }
}

#[test]
fn missing_credentials_fail_clearly_without_secrets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(
        dir.path(),
        "trade = true\ncredentials_env = \"TW_EXEC_TEST_UNSET\"",
        true,
    );
    let o = Command::new(BIN)
        .args(["run", "--config", &cfg, "--duration", "1"])
        .env_remove("TW_EXEC_TEST_UNSET_API_KEY")
        .env_remove("TW_EXEC_TEST_UNSET_API_SECRET")
        .output()
        .expect("runs");
    let all = output(&o);
    assert!(!o.status.success(), "{all}");
    assert!(all.contains("TW_EXEC_TEST_UNSET_API_KEY"), "{all}");
}
