//! `tickwire run` trading on the embedded simulator's OKX private side: a `[[venue]]` with
//! `venue = "okx"`, `trade = true` gets an `OkxSession` on the exec thread (login, `orders`
//! channel and order ops over TLS on loopback), fed by the real OKX capture in
//! `../shared/data/okx/`, with the reconciliation poller beside it on its own REST clients.
//! Also: the OKX exec keys are validated with clear one-line errors.

use crate::support::BIN;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const KEY: &str = "okxRunKey-0123456789abcdef";
const SECRET: &str = "okxRunSecret-FEDCBA9876543210zyxwvu";
const PASS: &str = "okxRunPass-42";

fn capture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/okx/cryptofeed_OKX.ws.1.0")
}

fn config(dir: &Path, venue_extra: &str) -> String {
    let cap = capture().display().to_string();
    let text = format!(
        r#"[engine]
topology = "shared"
wait = "spin-then-park"

[[venue]]
venue = "okx"
mode = "sim"
channels = ["books", "trades"]
{venue_extra}

[[venue.instrument]]
symbol = "BTC-USDT"
tick = "0.1"
lot = "0.00000001"
min_qty = "0.00001"

[[strategy]]
kind = "probe"
name = "probe"
instrument = "BTC-USDT"
order_qty = "0.001"
max_position = "0.01"
every = 5
take_every = 2

[reconcile]
interval_ms = 300
grace_ms = 1000
drift_tolerance = "0.001"   # OKX charges a buy's fee in the base asset

[sim]
[[sim.venue]]
venue = "okx"
captures = [{cap:?}]
pace = "recorded"

[sim.venue.private]
maker_fee = "-0.0001"
taker_fee = "0.001"

[[sim.venue.private.account]]
name = "run"
api_key = "{KEY}"
secret = "{SECRET}"
passphrase = "{PASS}"
balances = ["USDT:1000000", "BTC:10"]
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

fn number_after(all: &str, prefix: &str) -> u64 {
    all.lines()
        .find_map(|l| l.trim_start().strip_prefix(prefix))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no line starting {prefix:?}:\n{all}"))
}

#[test]
fn run_trades_on_the_simulated_okx_venue_with_the_poller() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(
        dir.path(),
        "trade = true\n\n[venue.okx]\nop_timeout_ms = 3000",
    );
    let journal = dir.path().join("j");
    let j = journal.display().to_string();
    let o = Command::new(BIN)
        .args(["run", "--config", &cfg, "--duration", "8", "--journal", &j])
        .output()
        .expect("tickwire runs");
    let all = output(&o);
    assert!(o.status.success(), "{all}");
    assert!(all.contains("exec latency okx"), "{all}");
    assert!(
        number_after(&all, "exec: ") > 0,
        "orders reached the exec thread: {all}"
    );
    // Written→ack samples: the venue answered over the private WebSocket.
    assert!(number_after(&all, "written→ack") > 0, "{all}");
    // The probe takes liquidity every other order: fills were booked.
    let fills: u64 = all
        .lines()
        .find_map(|l| l.strip_prefix("engine: "))
        .and_then(|l| l.split(", ").find(|p| p.ends_with("duplicates ignored)")))
        .and_then(|p| p.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no engine fills: {all}"));
    assert!(fills > 0, "{all}");
    // The poller ran beside the stream and its forwarded fills were de-duplicated.
    assert!(all.contains("reconcile: "), "{all}");
    assert!(
        !all.contains(SECRET) && !all.contains(PASS),
        "no secret in output"
    );
    let v = Command::new(BIN)
        .args(["replay", &j, "--verify"])
        .output()
        .expect("replay runs");
    assert!(v.status.success(), "{}", output(&v));
}

#[test]
fn okx_exec_keys_are_validated() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (extra, expect) in [
        ("trade = true\norder_entry = \"rest\"", "a Binance key"),
        ("trade = true\n\n[venue.okx]\nrate_limit = 61", "rate_limit"),
        (
            "[venue.okx]\nop_timeout_ms = 1000",
            "only meaningful on an okx venue",
        ),
    ] {
        let cfg = config(dir.path(), extra);
        let o = Command::new(BIN)
            .args(["run", "--config", &cfg, "--duration", "1"])
            .output()
            .expect("runs");
        let all = output(&o);
        assert!(!o.status.success(), "{extra}: accepted:\n{all}");
        assert!(
            all.contains(expect),
            "{extra}: expected {expect:?} in:\n{all}"
        );
    }
}
