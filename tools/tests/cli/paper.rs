//! Paper mode end to end: `tickwire run` with a `paper = true` venue whose market data is the
//! embedded simulator's real Binance capture over TLS on loopback; the probe strategy's orders
//! are filled in-process by the paper model (maker and taker), nothing goes to the venue, and
//! the journal replays. Also: paper's config errors are one clear line.

use crate::support::{data, ok, text, tw};
use std::path::{Path, PathBuf};

/// A paper BTCUSDT venue on the embedded simulator (which has no private side: an order that
/// left the process would have nowhere to go), with extra venue keys.
fn paper_config(dir: &Path, venue_extra: &str) -> PathBuf {
    let capture = data().join("binance/btcusdt_20240808.gz");
    let text = format!(
        r#"[engine]
book_depth = 8192

[exchange]
maker_fee_bps = "-1"
taker_fee_bps = "4"

[[venue]]
venue = "binance"
mode = "sim"
paper = true
channels = ["depth@100ms", "bookTicker", "trade"]
snapshot_limit = 5000
{venue_extra}

[[venue.instrument]]
symbol = "BTCUSDT"
tick = "0.01"
lot = "0.00001"
min_qty = "0.00001"

[[strategy]]
kind = "probe"
name = "probe"
instrument = "BTCUSDT"
order_qty = "0.001"
max_position = "0.05"
every = 2
take_every = 6

[sim]
[[sim.venue]]
venue = "binance"
captures = [{:?}]
pace = "fast"
"#,
        capture.display().to_string()
    );
    let path = dir.join("paper.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

#[test]
fn paper_venue_fills_maker_and_taker_in_process_and_replays() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cfg = paper_config(tmp.path(), "");
    let j = tmp.path().join("J");
    let js = j.to_str().expect("utf-8");
    let run = ok(&[
        "run",
        "--config",
        cfg.to_str().expect("utf-8"),
        "--journal",
        js,
    ]);
    // The in-process exchange handled the orders: no venue session, nothing unroutable.
    assert!(run.contains("1 connect(s)"), "{run}");
    assert!(!run.contains("written→ack"), "a venue session ran: {run}");
    assert!(!run.contains("without order entry"), "{run}");
    let handled: u64 = run
        .lines()
        .find_map(|l| l.strip_prefix("exec: "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exec line: {run}"));
    assert!(handled > 0, "{run}");

    let fills = ok(&["journal", "inspect", js, "--kind", "fill", "--json"]);
    let (mut maker, mut taker) = (0, 0);
    for line in fills.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("json line");
        match v["record"]["liquidity"].as_str() {
            Some("maker") => maker += 1,
            Some("taker") => taker += 1,
            other => panic!("fill without liquidity {other:?}: {line}"),
        }
    }
    assert!(
        maker > 0 && taker > 0,
        "maker {maker}, taker {taker}:\n{run}"
    );

    let replay = ok(&["replay", js, "--verify"]);
    assert!(replay.contains("verify: OK"), "{replay}");
}

#[test]
fn paper_with_trade_or_exec_keys_is_a_one_line_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for (extra, want) in [
        ("trade = true", "cannot also trade = true"),
        (
            "credentials_env = \"X\"",
            "not meaningful with paper = true",
        ),
    ] {
        let cfg = paper_config(tmp.path(), extra);
        let o = tw(&["run", "--config", cfg.to_str().expect("utf-8")]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{extra}: accepted");
        assert!(err.contains(want), "{extra}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{extra}: {err}");
    }
}

#[test]
fn paper_and_trading_venues_in_one_run_is_a_one_line_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cfg = paper_config(tmp.path(), "");
    let mut toml = std::fs::read_to_string(&cfg).expect("read config");
    toml = toml.replace(
        "[[strategy]]",
        "[[venue]]\nvenue = \"binance-us\"\nmode = \"external\"\nws_url = \"wss://127.0.0.1:1\"\nrest_url = \"https://127.0.0.1:1\"\ncredentials_env = \"PAPER_TEST\"\norder_entry = \"rest\"\nuser_data = \"listen-key\"\ntrade = true\n\n[[venue.instrument]]\nsymbol = \"ETHUSD\"\ntick = \"0.01\"\nlot = \"0.0001\"\nmin_qty = \"0.0001\"\n\n[[strategy]]",
    );
    std::fs::write(&cfg, toml).expect("write config");
    let o = tw(&["run", "--config", cfg.to_str().expect("utf-8")]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "accepted: {}", text(&o));
    assert!(
        err.contains("paper = true venues cannot run alongside trade = true venues"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}
