//! Market data end to end: `tickwire run` with venue feeds against the embedded simulator, over
//! real TLS on loopback, with the real captures in `../shared/data`; the books the engine had
//! (as `replay --print-books` shows them) must equal the oracles in
//! `vectors/book_expectations.json`, also after injected faults.

use crate::support::{BIN, data, ok};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The oracle line `replay --print-books` must print for BTCUSDT.
fn btcusdt_oracle() -> String {
    let text = std::fs::read_to_string(data().join("vectors/book_expectations.json"))
        .expect("book_expectations.json");
    let v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let o = &v["binance_spot_btcusdt_hftbacktest_20240808+20240809"]["btcusdt"];
    let s = |x: &serde_json::Value| x.as_str().expect("string").to_owned();
    format!(
        "book binance BTCUSDT: bid {} x {} | ask {} x {} | levels {}/{} | update id {}",
        s(&o["final_best_bid"][0]),
        s(&o["final_best_bid"][1]),
        s(&o["final_best_ask"][0]),
        s(&o["final_best_ask"][1]),
        o["final_levels"][0],
        o["final_levels"][1],
        o["final_update_id"],
    )
}

/// A BTCUSDT config through the embedded simulator, with extra `[[sim.venue.fault]]` text and
/// venue keys.
fn binance_config(dir: &Path, venue_extra: &str, faults: &str) -> PathBuf {
    let captures = ["btcusdt_20240808.gz", "btcusdt_20240809.gz"]
        .map(|f| format!("{:?}", data().join("binance").join(f).display().to_string()));
    let text = format!(
        r#"[engine]
book_depth = 8192

[[venue]]
venue = "binance"
mode = "sim"
channels = ["depth@100ms", "bookTicker", "trade"]
snapshot_limit = 5000
{venue_extra}

[[venue.instrument]]
symbol = "BTCUSDT"
tick = "0.01"
lot = "0.00001"
min_qty = "0.00001"

[sim]
[[sim.venue]]
venue = "binance"
captures = [{}]
pace = "fast"
{faults}
"#,
        captures.join(", ")
    );
    let path = dir.join("binance.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

fn run_and_books(config: &Path, journal: &Path) -> (String, String) {
    let run = ok(&[
        "run",
        "--config",
        config.to_str().expect("utf-8"),
        "--journal",
        journal.to_str().expect("utf-8"),
    ]);
    let books = ok(&[
        "replay",
        journal.to_str().expect("utf-8"),
        "--verify",
        "--print-books",
    ]);
    (run, books)
}

fn statuses(journal: &Path) -> Vec<String> {
    let out = ok(&[
        "journal",
        "inspect",
        journal.to_str().expect("utf-8"),
        "--kind",
        "feed-status",
        "--json",
    ]);
    out.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json line");
            v["record"]["state"].as_str().expect("state").to_owned()
        })
        .collect()
}

#[test]
fn binance_capture_over_tls_ends_with_the_oracle_book() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cfg = binance_config(tmp.path(), "", "");
    let j = tmp.path().join("J");
    let (run, books) = run_and_books(&cfg, &j);
    assert!(run.contains("0 malformed, 1 connect(s)"), "{run}");
    assert!(
        books.contains(&btcusdt_oracle()),
        "books:\n{books}\nexpected:\n{}",
        btcusdt_oracle()
    );
    assert!(books.contains("verify: OK"), "{books}");
    let st = statuses(&j);
    assert!(!st.iter().any(|s| s == "gap" || s == "malformed"), "{st:?}");
}

#[test]
fn the_shipped_example_config_replays_the_capture() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let j = tmp.path().join("J");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let o = Command::new(BIN)
        .current_dir(&root)
        .args(["run", "--config", "examples/binance-sim.toml", "--journal"])
        .arg(&j)
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let books = ok(&["replay", j.to_str().expect("utf-8"), "--print-books"]);
    assert!(books.contains(&btcusdt_oracle()), "{books}");
}

#[test]
fn injected_gap_is_flagged_resynced_and_the_book_is_right_afterwards() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cfg = binance_config(
        tmp.path(),
        "",
        "[[sim.venue.fault]]\nkind = \"gap\"\nat = 30000\n",
    );
    let j = tmp.path().join("J");
    let (run, books) = run_and_books(&cfg, &j);
    let st = statuses(&j);
    let gap = st.iter().position(|s| s == "gap").expect("a gap status");
    assert!(
        st[gap..].iter().any(|s| s == "resynced"),
        "resynced after the gap: {st:?}"
    );
    assert!(
        run.contains("2 snapshot(s)"),
        "a second snapshot after the gap: {run}"
    );
    assert!(books.contains(&btcusdt_oracle()), "{books}");
}

#[test]
fn malformed_frame_is_counted_and_flagged_and_the_feed_survives() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cfg = binance_config(
        tmp.path(),
        "",
        "[[sim.venue.fault]]\nkind = \"malformed\"\nat = 20000\n",
    );
    let j = tmp.path().join("J");
    let (run, books) = run_and_books(&cfg, &j);
    assert!(run.contains("1 malformed"), "{run}");
    assert!(statuses(&j).iter().any(|s| s == "malformed"));
    assert!(books.contains(&btcusdt_oracle()), "{books}");
}

#[test]
fn disconnect_reconnects_and_resyncs() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cfg = binance_config(
        tmp.path(),
        "",
        "[[sim.venue.fault]]\nkind = \"disconnect\"\nat = 40000\n",
    );
    let j = tmp.path().join("J");
    let (run, books) = run_and_books(&cfg, &j);
    assert!(run.contains("2 connect(s)"), "{run}");
    let st = statuses(&j);
    let down = st
        .iter()
        .position(|s| s == "disconnected")
        .expect("disconnected status");
    assert!(st[down..].iter().any(|s| s == "resynced"), "{st:?}");
    // Frames sent while the feed was away are lost to it, but the book is rebuilt from a fresh
    // snapshot of the simulator's own book, so it still ends exactly right.
    assert!(books.contains(&btcusdt_oracle()), "{books}");
}

#[test]
fn pause_makes_the_feed_stale_then_live_again() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cfg = binance_config(
        tmp.path(),
        "stale_ms = 200",
        "[[sim.venue.fault]]\nkind = \"pause\"\nat = 10000\nms = 1500\n",
    );
    let j = tmp.path().join("J");
    let (_, books) = run_and_books(&cfg, &j);
    let st = statuses(&j);
    let stale = st.iter().position(|s| s == "stale").expect("stale status");
    assert!(st[stale..].iter().any(|s| s == "connected"), "{st:?}");
    assert!(books.contains(&btcusdt_oracle()), "{books}");
}

#[test]
fn okx_capture_verifies_every_checksum() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let j = tmp.path().join("J");
    let o = Command::new(BIN)
        .current_dir(&root)
        .args(["run", "--config", "examples/okx-sim.toml", "--journal"])
        .arg(&j)
        .output()
        .expect("run");
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("0 malformed"), "{out}");
    let st = statuses(&j);
    // A checksum mismatch or sequence break would emit a gap; every book was synced once.
    assert!(!st.iter().any(|s| s == "gap"), "{st:?}");
    assert_eq!(st.iter().filter(|s| *s == "resynced").count(), 3, "{st:?}");
    let books = ok(&[
        "replay",
        j.to_str().expect("utf-8"),
        "--verify",
        "--print-books",
    ]);
    assert!(books.contains("book okx BTC-USDT: bid 30236.1"), "{books}");
}

#[test]
fn raw_frame_journal_replays_the_parser_from_bytes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let raw = tmp.path().join("RAW");
    let cfg = binance_config(
        tmp.path(),
        &format!("raw_journal = {:?}", raw.display().to_string()),
        "",
    );
    let j = tmp.path().join("J");
    let (run, _) = run_and_books(&cfg, &j);
    let messages: u64 = run
        .split("feed binance: ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("feed line with a message count");
    let stats = ok(&["journal", "stats", raw.to_str().expect("utf-8")]);
    let count = |kind: &str| -> u64 {
        stats
            .lines()
            .find(|l| l.split_whitespace().next() == Some(kind))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    assert_eq!(
        count("raw-frame"),
        messages,
        "every received frame journaled:\n{stats}"
    );
    assert_eq!(count("raw-snapshot"), 1, "{stats}");
    let replayed = ok(&[
        "replay-raw",
        raw.to_str().expect("utf-8"),
        "--config",
        cfg.to_str().expect("utf-8"),
        "--venue",
        "binance",
    ]);
    assert!(replayed.contains(&btcusdt_oracle()), "{replayed}");
    assert!(replayed.contains("0 malformed"), "{replayed}");
}

/// A standalone `tickwire sim` on the Binance capture, and its WS URL, REST URL and CA file.
/// Killed when dropped (the simulator holds no state worth a clean exit).
struct StandaloneSim {
    child: std::process::Child,
    ws: String,
    rest: String,
    ca: String,
}

impl Drop for StandaloneSim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn standalone_sim(dir: &Path) -> StandaloneSim {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let sim_cfg = binance_config(dir, "", "");
    let mut child = Command::new(BIN)
        .args(["sim", "--config", sim_cfg.to_str().expect("utf-8")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn sim");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let (mut ws, mut rest, mut ca) = (None, None, None);
    for line in lines.by_ref() {
        let line = line.expect("utf-8 line");
        let parts: Vec<&str> = line.split(' ').collect();
        match parts.as_slice() {
            ["READY", "binance", "ws", url] => ws = Some(url.to_string()),
            ["READY", "binance", "rest", url] => rest = Some(url.to_string()),
            ["CA", path] => {
                ca = Some(path.to_string());
                break;
            }
            _ => {}
        }
    }
    StandaloneSim {
        child,
        ws: ws.expect("ws"),
        rest: rest.expect("rest"),
        ca: ca.expect("ca"),
    }
}

#[test]
fn standalone_simulator_serves_an_external_feed() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let sim = standalone_sim(tmp.path());
    let (ws, rest, ca) = (sim.ws.clone(), sim.rest.clone(), sim.ca.clone());
    let run_cfg = tmp.path().join("external.toml");
    std::fs::write(
        &run_cfg,
        format!(
            r#"[engine]
book_depth = 8192
[[venue]]
venue = "binance"
mode = "external"
ws_url = "{ws}"
rest_url = "{rest}"
ca_file = {ca:?}
snapshot_limit = 5000
[[venue.instrument]]
symbol = "BTCUSDT"
tick = "0.01"
lot = "0.00001"
min_qty = "0.00001"
"#
        ),
    )
    .expect("write");
    let j = tmp.path().join("J");
    let out = ok(&[
        "run",
        "--config",
        run_cfg.to_str().expect("utf-8"),
        "--journal",
        j.to_str().expect("utf-8"),
        "--duration",
        "6",
    ]);
    // A fresh simulator, and a REST host that never answers (nothing listens there): the
    // snapshot that cannot be had is a data anomaly in the journal, not silence.
    let second = tempfile::tempdir().expect("tempdir");
    let sim2 = standalone_sim(second.path());
    let dead_cfg = tmp.path().join("dead-rest.toml");
    let dead = std::fs::read_to_string(&run_cfg)
        .expect("config")
        .replace(&ws, &sim2.ws)
        .replace(&ca, &sim2.ca)
        .replace(
            &format!("rest_url = \"{rest}\""),
            "rest_url = \"https://127.0.0.1:1\"",
        );
    std::fs::write(&dead_cfg, dead).expect("write");
    let dj = tmp.path().join("DJ");
    ok(&[
        "run",
        "--config",
        dead_cfg.to_str().expect("utf-8"),
        "--journal",
        dj.to_str().expect("utf-8"),
        "--duration",
        "3",
    ]);
    let failed = ok(&[
        "journal",
        "inspect",
        dj.to_str().expect("utf-8"),
        "--kind",
        "feed-status",
        "--json",
    ]);
    assert!(
        failed
            .lines()
            .any(|l| l.contains("\"malformed\"") && l.contains("\"detail2\":3")),
        "{failed}"
    );
    drop((sim, sim2));
    assert!(out.contains("1 connect(s), 1 snapshot(s)"), "{out}");
    let books = ok(&[
        "replay",
        j.to_str().expect("utf-8"),
        "--verify",
        "--print-books",
    ]);
    assert!(books.contains("book binance BTCUSDT: bid "), "{books}");
    assert!(books.contains("verify: OK"), "{books}");
}
