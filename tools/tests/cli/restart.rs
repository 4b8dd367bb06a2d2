//! Restart on an existing journal: `tickwire run --journal J` after a clean stop and after
//! SIGKILL rebuilds positions, open orders and order ids from the journal, places nothing
//! before the venue confirms the restored orders, and `replay --verify` reproduces both
//! sessions.

use std::collections::{BTreeMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{BIN, example, ok, ok_stdout};
use tickwire_core::num::Qty;

/// Strategy names in the example config, by strategy id.
const STRATEGIES: [&str; 2] = ["probe-btc", "probe-eth"];

fn run_args<'a>(journal: &'a str, events: &'a str, cfg: &'a str) -> [&'a str; 7] {
    [
        "run",
        "--config",
        cfg,
        "--events",
        events,
        "--journal",
        journal,
    ]
}

/// Every record of the journal as JSON, in sequence.
fn records(js: &str) -> Vec<serde_json::Value> {
    ok_stdout(&["journal", "inspect", js, "--json"])
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

/// Splits records into sessions.
fn sessions(recs: &[serde_json::Value]) -> Vec<&[serde_json::Value]> {
    let starts: Vec<usize> = recs
        .iter()
        .enumerate()
        .filter(|(_, r)| r["kind"] == "session")
        .map(|(i, _)| i)
        .collect();
    starts
        .iter()
        .enumerate()
        .map(|(k, &s)| &recs[s..starts.get(k + 1).copied().unwrap_or(recs.len())])
        .collect()
}

/// (strategy, seq) of a `tw<s>x<seq>` id.
fn parse_id(v: &serde_json::Value) -> (u16, u64) {
    let s = v.as_str().expect("id string");
    let (a, b) = s
        .strip_prefix("tw")
        .and_then(|r| r.split_once('x'))
        .expect("tw<s>x<seq>");
    (a.parse().expect("strategy"), b.parse().expect("seq"))
}

/// Positions by strategy name computed independently: the signed sum of the journal's
/// distinct fills.
fn positions_from_fills(recs: &[serde_json::Value]) -> BTreeMap<String, Qty> {
    let mut seen = HashSet::new();
    let mut pos: BTreeMap<String, Qty> = BTreeMap::new();
    for r in recs.iter().filter(|r| r["kind"] == "fill") {
        let f = &r["record"];
        let trade = (f["meta"]["venue"].to_string(), f["trade_id"].to_string());
        if !seen.insert(trade) {
            continue;
        }
        let (s, _) = parse_id(&f["cl_ord_id"]);
        let q = Qty::parse(f["qty"].as_str().expect("qty string")).expect("qty");
        let q = if f["side"] == "buy" { q } else { q.neg() };
        let e = pos
            .entry(STRATEGIES[usize::from(s)].to_owned())
            .or_insert(Qty::ZERO);
        *e = e.saturating_add(q);
    }
    pos.retain(|_, q| !q.is_zero());
    pos
}

/// `prefix NAME SYMBOL QTY` lines of a run's output, by name.
fn positions_printed(out: &str, prefix: &str) -> BTreeMap<String, Qty> {
    out.lines()
        .filter_map(|l| l.strip_prefix(prefix))
        .map(|rest| {
            let parts: Vec<&str> = rest.split_whitespace().collect();
            (
                parts[0].to_owned(),
                Qty::parse_signed(parts[2]).expect("printed qty"),
            )
        })
        .collect()
}

/// The in-process exchange never sends a fill twice: every fill in the journal has its own
/// (venue, trade id), across sessions too (or a resumed engine would drop real fills as
/// duplicates).
fn assert_fills_distinct(recs: &[serde_json::Value]) {
    let mut seen = HashSet::new();
    for r in recs.iter().filter(|r| r["kind"] == "fill") {
        let f = &r["record"];
        let key = (f["meta"]["venue"].to_string(), f["trade_id"].to_string());
        assert!(seen.insert(key), "fill trade id repeated: {r}");
    }
}

/// Checks the second session against the first: ids continue, nothing is placed before the
/// restored orders are verified, and every restored order was put in doubt.
fn check_resumed_session(first: &[serde_json::Value], second: &[serde_json::Value]) -> usize {
    let ids = |recs: &[serde_json::Value]| -> Vec<(u16, u64)> {
        recs.iter()
            .filter(|r| r["kind"] == "new-order")
            .map(|r| parse_id(&r["record"]["cl_ord_id"]))
            .collect()
    };
    let (a, b) = (ids(first), ids(second));
    assert!(!a.is_empty(), "the first session traded");
    assert!(!b.is_empty(), "the resumed session traded");
    for s in 0..STRATEGIES.len() as u16 {
        let max_a = a
            .iter()
            .filter(|i| i.0 == s)
            .map(|i| i.1)
            .max()
            .unwrap_or(0);
        let min_b = b.iter().filter(|i| i.0 == s).map(|i| i.1).min();
        if let Some(min_b) = min_b {
            assert_eq!(min_b, max_a + 1, "strategy {s}: ids continue without reuse");
        }
    }
    // The first input of the resumed session is the resume.
    let first_input = second
        .iter()
        .find(|r| r["kind"] != "session" && r["kind"] != "config")
        .expect("records");
    assert_eq!(first_input["kind"], "session-ctl", "{first_input}");
    assert_eq!(first_input["record"]["action"], "resume");
    let restored = first_input["record"]["arg"].as_u64().expect("arg") as usize;
    let in_doubt = second
        .iter()
        .take_while(|r| r["kind"] != "new-order")
        .filter(|r| r["kind"] == "order-update" && r["record"]["state"] == "unknown")
        .count();
    assert!(in_doubt >= restored, "{in_doubt} >= {restored}");
    if restored > 0 {
        // No order before the venue's reconciliation answered.
        let reconciled = second
            .iter()
            .position(|r| r["kind"] == "session-ctl" && r["record"]["action"] == "reconciled")
            .expect("a reconciled input");
        let first_new = second
            .iter()
            .position(|r| r["kind"] == "new-order")
            .expect("orders");
        assert!(reconciled < first_new, "{reconciled} < {first_new}");
    }
    restored
}

#[test]
fn clean_stop_then_restart_continues_positions_and_ids() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let j = tmp.path().join("J");
    let js = j.to_str().expect("utf-8 path");
    let cfg = example();
    let cfg = cfg.to_str().expect("utf-8 path");
    let out1 = ok(&run_args(js, "20000", cfg));
    let end_of_first = positions_printed(&out1, "position: ");
    let out2 = ok(&run_args(js, "20000", cfg));
    assert!(
        out2.contains("resume: rebuilt from 1 earlier session(s)"),
        "{out2}"
    );
    assert_eq!(positions_printed(&out2, "resume: position "), end_of_first);
    let recs = records(js);
    let s = sessions(&recs);
    assert_eq!(s.len(), 2);
    assert_fills_distinct(&recs);
    assert!(out2.contains("(0 duplicates ignored)"), "{out2}");
    assert_eq!(positions_from_fills(s[0]), end_of_first);
    check_resumed_session(s[0], s[1]);
    // The final positions are those of both sessions' fills.
    assert_eq!(
        positions_from_fills(&recs),
        positions_printed(&out2, "position: ")
    );
    let replay = ok(&["replay", js, "--verify"]);
    assert!(replay.contains("replayed 2 session(s)"), "{replay}");
    assert!(replay.contains("verify: OK"), "{replay}");
}

fn records_in(js: &str) -> u64 {
    let out = Command::new(BIN)
        .args(["journal", "verify", js])
        .output()
        .expect("verify runs");
    String::from_utf8_lossy(&out.stdout)
        .split(", ")
        .find_map(|part| part.strip_suffix(" records").and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

fn spawn_run(js: &str, cfg: &str) -> Child {
    Command::new(BIN)
        .args(run_args(js, "50000000", cfg))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn run")
}

#[test]
fn sigkill_then_restart_verifies_open_orders_before_trading() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let j = tmp.path().join("J");
    let js = j.to_str().expect("utf-8 path");
    let cfg = example();
    let cfg = cfg.to_str().expect("utf-8 path");
    // Kill runs until one leaves orders open (the probe quotes most of the time, so the first
    // almost always does); each killed run is a session the next one resumes.
    let mut restored = 0;
    for attempt in 0..5 {
        let mut child = spawn_run(js, cfg);
        let start = Instant::now();
        let target = records_in(js) + 20_000;
        while records_in(js) < target {
            assert!(child.try_wait().expect("poll").is_none(), "run ended early");
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "journal never grew"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
        let recs = records(js);
        let expected = positions_from_fills(&recs);
        let out = ok(&run_args(js, "20000", cfg));
        assert!(
            out.contains(&format!(
                "resume: rebuilt from {} earlier session(s)",
                attempt + 1
            )),
            "{out}"
        );
        assert_eq!(positions_printed(&out, "resume: position "), expected);
        let recs = records(js);
        assert_fills_distinct(&recs);
        let s = sessions(&recs);
        let n = s.len();
        restored = check_resumed_session(s[n - 2], s[n - 1]);
        let replay = ok(&["replay", js, "--verify"]);
        assert!(replay.contains("verify: OK"), "{replay}");
        if restored > 0 {
            break;
        }
    }
    assert!(restored > 0, "no killed run left an order open to verify");
}

#[test]
fn an_existing_empty_directory_starts_a_new_journal_without_resuming() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let js = tmp.path().to_str().expect("utf-8 path");
    let cfg = example();
    let out = ok(&run_args(js, "2000", cfg.to_str().expect("utf-8 path")));
    assert!(!out.contains("resume:"), "{out}");
    let replay = ok(&["replay", js, "--verify"]);
    assert!(replay.contains("replayed 1 session(s)"), "{replay}");
}
