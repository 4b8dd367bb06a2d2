//! The `tickwire` binary end to end: run → verify → stats → inspect → replay, crash recovery
//! after SIGKILL, live tailing, and the errors an operator sees.

use crate::support::{BIN, example, ok, ok_stdout, tw};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn run_synthetic(journal: &Path, events: &str) -> String {
    ok(&[
        "run",
        "--config",
        example().to_str().expect("utf-8 path"),
        "--events",
        events,
        "--journal",
        journal.to_str().expect("utf-8 path"),
    ])
}

fn records_in(dir: &Path) -> u64 {
    let out = tw(&["journal", "verify", dir.to_str().expect("utf-8 path")]);
    let s = String::from_utf8_lossy(&out.stdout).to_string();
    s.split(", ")
        .find_map(|part| part.strip_suffix(" records").and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

#[test]
fn run_verify_stats_inspect_replay() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let j = tmp.path().join("J");
    let js = j.to_str().expect("utf-8 path");
    let out = run_synthetic(&j, "20000");
    assert!(
        out.contains("run: 20000 market events") || out.contains("run: 2000"),
        "{out}"
    );
    assert!(out.contains("fills"), "{out}");

    let verify = ok(&["journal", "verify", js]);
    assert!(verify.contains("OK: every record intact"), "{verify}");

    let stats = ok(&["journal", "stats", js]);
    for kind in ["delta", "new-order", "fill", "ack", "session", "config"] {
        assert!(stats.contains(kind), "stats lacks {kind}:\n{stats}");
    }

    let replay = ok(&["replay", js, "--verify", "--print-books"]);
    assert!(
        replay.contains("verify: OK, every output identical"),
        "{replay}"
    );
    assert!(replay.contains("book synthetic BTC-SYN: bid"), "{replay}");

    // JSON lines parse, filters apply, ranges hold.
    let fills = ok(&["journal", "inspect", js, "--kind", "fill", "--json"]);
    let mut n = 0;
    for line in fills.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("one JSON object per line");
        assert_eq!(v["kind"], "fill");
        assert!(
            v["record"]["px"].is_string(),
            "prices are exact strings: {line}"
        );
        n += 1;
    }
    assert!(n > 0, "the probe strategy traded");
    let some = ok(&["journal", "inspect", js, "--from", "10", "--to", "19"]);
    assert_eq!(some.lines().count(), 10, "{some}");

    // Replay stops early on request.
    let early = ok(&["replay", js, "--verify", "--until", "500"]);
    assert!(early.contains("to seq 500"), "{early}");
}

#[test]
fn operator_errors_are_one_clear_line() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let missing = tmp.path().join("nope");
    let ms = missing.to_str().expect("utf-8 path");
    for args in [
        vec!["journal", "verify", ms],
        vec!["journal", "inspect", ms],
        vec!["journal", "stats", ms],
        vec!["replay", ms, "--verify"],
    ] {
        let o = tw(&args);
        assert!(!o.status.success(), "{args:?} should fail");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains("no such journal directory"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }

    // A directory that is not a journal.
    let not = tmp.path().join("plain");
    std::fs::create_dir(&not).expect("mkdir");
    std::fs::write(not.join("notes.txt"), "hello").expect("write");
    let o = tw(&["journal", "verify", not.to_str().expect("utf-8 path")]);
    assert!(!o.status.success());
    assert!(!String::from_utf8_lossy(&o.stderr).contains("panicked"));

    // Unknown record kind.
    let j = tmp.path().join("J");
    run_synthetic(&j, "1000");
    let o = tw(&[
        "journal",
        "inspect",
        j.to_str().expect("utf-8 path"),
        "--kind",
        "fils",
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("invalid value 'fils' for '--kind <KIND>'"),
        "{err}"
    );
    assert!(
        err.contains("possible values:") && err.contains("'fill'"),
        "the kinds and the likely one: {err}"
    );

    // A bad config: every problem listed, nothing started, no journal created.
    let cfg = tmp.path().join("bad.toml");
    std::fs::write(
        &cfg,
        "[engine]\ntopology = \"sideways\"\nwiat = \"spin\"\n[[instrument]]\nsymbol = \"X\"\n",
    )
    .expect("write");
    let bad_j = tmp.path().join("never");
    let o = tw(&[
        "run",
        "--config",
        cfg.to_str().expect("utf-8 path"),
        "--journal",
        bad_j.to_str().expect("utf-8 path"),
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    for needle in [
        "engine.topology",
        "engine.wiat: unknown key",
        "instrument[0].mid: missing",
        "instrument[0].tick: missing",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in {err}");
    }
    assert!(!bad_j.exists(), "a bad config must not create a journal");
}

fn spawn_run(journal: &Path, events: &str) -> Child {
    Command::new(BIN)
        .args([
            "run",
            "--config",
            example().to_str().expect("utf-8 path"),
            "--events",
            events,
            "--journal",
            journal.to_str().expect("utf-8 path"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn run")
}

fn wait_for_records(dir: &Path, at_least: u64, child: &mut Child) {
    let start = Instant::now();
    while records_in(dir) < at_least {
        assert!(
            child.try_wait().expect("poll child").is_none(),
            "run ended before it could be killed"
        );
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "journal never reached {at_least} records"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigkill_mid_run_then_verify_inspect_replay_and_append() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let j = tmp.path().join("J");
    let js = j.to_str().expect("utf-8 path");
    let mut child = spawn_run(&j, "50000000");
    wait_for_records(&j, 30_000, &mut child);
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");

    let verify = ok(&["journal", "verify", js]);
    assert!(verify.contains("OK"), "{verify}");
    let before = records_in(&j);
    assert!(before >= 30_000);

    // Every whole record is readable, in sequence.
    let listing = ok_stdout(&["journal", "inspect", js]);
    assert_eq!(
        listing.lines().count() as u64,
        before,
        "inspect shows every whole record"
    );

    // The surviving prefix replays identically.
    let replay = ok(&["replay", js, "--verify"]);
    assert!(replay.contains("verify: OK"), "{replay}");

    // A new run appends after it; the journal now holds two sessions, both verifiable.
    let out = run_synthetic(&j, "5000");
    assert!(out.contains("appending to"), "{out}");
    let after = records_in(&j);
    assert!(after > before, "{after} > {before}");
    let verify = ok(&["journal", "verify", js]);
    assert!(verify.contains("OK: every record intact"), "{verify}");
    let replay = ok(&["replay", js, "--verify"]);
    assert!(replay.contains("replayed 2 session(s)"), "{replay}");
    assert!(replay.contains("verify: OK"), "{replay}");
}

#[test]
fn tail_follows_a_live_writer() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let j = tmp.path().join("J");
    // Create the journal so the tail can open it, then append a second, longer session while
    // the tail follows.
    run_synthetic(&j, "1000");
    let mut tail = Command::new(BIN)
        .args([
            "journal",
            "tail",
            j.to_str().expect("utf-8 path"),
            "--kind",
            "session",
            "--kind",
            "fill",
            "--json",
            "--idle-exit",
            "3",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn tail");
    run_synthetic(&j, "60000");
    let stdout = tail.stdout.take().expect("piped stdout");
    let tailed: Vec<String> = BufReader::new(stdout)
        .lines()
        .map(|l| l.expect("utf-8 line"))
        .collect();
    assert!(tail.wait().expect("tail exits after idling").success());
    let listed = ok(&[
        "journal",
        "inspect",
        j.to_str().expect("utf-8 path"),
        "--kind",
        "session",
        "--kind",
        "fill",
        "--json",
    ]);
    let listed: Vec<&str> = listed.lines().collect();
    assert_eq!(
        tailed.len(),
        listed.len(),
        "tail saw every record inspect sees"
    );
    assert!(tailed.iter().zip(&listed).all(|(a, b)| a == b));
    assert_eq!(
        tailed
            .iter()
            .filter(|l| l.contains("\"kind\":\"session\""))
            .count(),
        2
    );
}

/// `replay --with CONFIG`: the recorded inputs through an engine built from another config.
/// The same config changes nothing; a different order size changes the first order; another
/// instrument table is refused in one line.
#[test]
fn counterfactual_replay_reports_the_first_decision_that_differs() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let j = tmp.path().join("J");
    let js = j.to_str().expect("utf-8 path");
    run_synthetic(&j, "5000");
    let original = std::fs::read_to_string(example()).expect("example config");

    let same = tmp.path().join("same.toml");
    std::fs::write(&same, &original).expect("write");
    let out = ok(&["replay", js, "--with", same.to_str().expect("utf-8")]);
    assert!(out.contains("no decision differs"), "{out}");

    let bigger = tmp.path().join("bigger.toml");
    let changed = original.replacen("order_qty = \"0.001\"", "order_qty = \"0.002\"", 1);
    assert_ne!(
        changed, original,
        "the example still has the probe's order size"
    );
    std::fs::write(&bigger, changed).expect("write");
    let out = ok(&["replay", js, "--with", bigger.to_str().expect("utf-8")]);
    assert!(
        out.contains("the first decision that differs is at seq"),
        "{out}"
    );
    assert!(
        out.contains("NewOrder"),
        "the first difference is an order: {out}"
    );

    let other = tmp.path().join("other.toml");
    std::fs::write(
        &other,
        original.replacen("tick = \"0.01\"", "tick = \"0.05\"", 1),
    )
    .expect("write");
    let o = tw(&["replay", js, "--with", other.to_str().expect("utf-8")]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("other instruments"), "{err}");

    // --with and --verify ask different questions.
    let o = tw(&[
        "replay",
        js,
        "--verify",
        "--with",
        same.to_str().expect("utf-8"),
    ]);
    assert!(!o.status.success(), "conflicting flags are refused");
}

/// The positions of a closed journal's records, read with the core's reader.
fn record_positions(dir: &Path) -> Vec<(u64, tickwire_core::journal::Position, usize)> {
    let mut r = tickwire_core::journal::Reader::open(dir).expect("reader");
    let mut v = Vec::new();
    while let Some(rec) = r.next().expect("intact journal") {
        v.push((rec.seq, rec.pos, rec.payload.len()));
    }
    v
}

/// A flipped byte in a committed record near the end of a closed journal: `journal verify`
/// exits 1 naming it and the last intact seq, `run` refuses to resume over it (nothing is
/// cut), `journal repair` keeps a backup and cuts after the last intact record, and `run`
/// then resumes. A deleted first segment is refused the same way.
#[test]
fn damage_is_never_resumed_over_and_repair_is_explicit() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let j = tmp.path().join("J");
    let js = j.to_str().expect("utf-8 path");
    run_synthetic(&j, "3000");
    let recs = record_positions(&j);
    let (victim_seq, pos, _) = recs
        .iter()
        .rev()
        .filter(|r| r.2 > 0)
        .nth(20)
        .copied()
        .expect("a record with a payload");
    let seg = j.join(format!("{:08}.twj", pos.segment));
    let mut bytes = std::fs::read(&seg).expect("segment");
    bytes[pos.offset as usize + 32] ^= 0x41;
    std::fs::write(&seg, &bytes).expect("flip a payload byte");

    let o = tw(&["journal", "verify", js]);
    assert!(!o.status.success(), "corruption is exit 1");
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        err.contains("CORRUPT") && err.contains(&format!("offset {}", pos.offset)),
        "{err}"
    );
    assert!(err.contains(&format!("--to {}", victim_seq - 1)), "{err}");

    let o = tw(&[
        "run",
        "--config",
        example().to_str().expect("utf-8 path"),
        "--events",
        "100",
        "--journal",
        js,
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        err.contains("refusing to resume over damaged records"),
        "{err}"
    );
    assert!(err.contains("journal repair"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(
        std::fs::read(&seg).expect("segment"),
        bytes,
        "nothing was cut"
    );

    let backup = tmp.path().join("backup");
    let out = ok(&[
        "journal",
        "repair",
        js,
        "--to",
        &(victim_seq - 1).to_string(),
        "--backup",
        backup.to_str().expect("utf-8 path"),
    ]);
    assert!(
        out.contains(&format!("kept seq 1..={}", victim_seq - 1)),
        "{out}"
    );
    assert_eq!(
        std::fs::read(backup.join(seg.file_name().expect("name"))).expect("backup"),
        bytes
    );
    assert!(ok(&["journal", "verify", js]).contains("OK: every record intact"));
    let out = run_synthetic(&j, "1000");
    assert!(out.contains("appending to"), "{out}");

    // Without its first segment the journal is refused everywhere.
    let k = tmp.path().join("K");
    run_synthetic(&k, "200000");
    assert!(
        k.join("00000001.twj").exists(),
        "the run used more than one segment"
    );
    std::fs::remove_file(k.join("00000000.twj")).expect("delete segment 0");
    let ks = k.to_str().expect("utf-8 path");
    let o = tw(&["journal", "verify", ks]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("00000000.twj missing"));
    let o = tw(&[
        "run",
        "--config",
        example().to_str().expect("utf-8 path"),
        "--events",
        "100",
        "--journal",
        ks,
    ]);
    assert!(
        !o.status.success(),
        "a run must not resume without the journal's start"
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("00000000.twj missing"));
}

/// Hostile or mistaken command lines: one clear error line and exit 1, never a panic, never a
/// read without end, never a silent success.
#[test]
fn hostile_command_lines_get_one_clear_line() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let j = tmp.path().join("J");
    let js = j.to_str().expect("utf-8 path");
    run_synthetic(&j, "500");
    let file = tmp.path().join("a-file");
    std::fs::write(&file, b"not a journal").expect("write");
    let cfg = example();
    let cfg = cfg.to_str().expect("utf-8 path");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["run", "--config", cfg, "--duration", "18446744073709551615"],
            "--duration must be a positive number of seconds up to 1e9",
        ),
        (
            vec!["journal", "tail", js, "--idle-exit", "99999999999999999999"],
            "--idle-exit must be a positive number of seconds up to 1e9",
        ),
        (vec!["run", "--config", "/dev/zero"], "not a regular file"),
        (
            vec!["journal", "inspect", js, "--from", "100", "--to", "10"],
            "--from 100 is after --to 10",
        ),
        (
            vec!["journal", "inspect", file.to_str().expect("utf-8")],
            "is a file: a journal is a directory",
        ),
        (
            vec!["journal", "verify", file.to_str().expect("utf-8")],
            "is a file: a journal is a directory",
        ),
    ];
    for (args, want) in cases {
        let o = tw(&args);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    }
}

/// Resuming under an unrelated config is refused before anything is appended; a deliberate
/// strategy change is accepted with `--new-session-config`; another instrument table never.
#[test]
fn resume_under_another_config_is_refused_unless_deliberate() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let j = tmp.path().join("J");
    let js = j.to_str().expect("utf-8 path");
    run_synthetic(&j, "2000");
    let records = records_in(&j);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let other = root.join("examples/binance-sim.toml");
    // From the repository root, where its capture paths resolve.
    let o = Command::new(BIN)
        .current_dir(&root)
        .args([
            "run",
            "--config",
            other.to_str().expect("utf-8"),
            "--journal",
            js,
            "--new-session-config",
        ])
        .output()
        .expect("tickwire runs");
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!o.status.success());
    assert!(err.contains("other instruments"), "{err}");
    assert_eq!(records_in(&j), records, "nothing appended");

    let renamed = tmp.path().join("renamed.toml");
    let text = std::fs::read_to_string(example())
        .expect("example")
        .replacen("name = \"probe-eth\"", "name = \"probe-eth-v2\"", 1);
    std::fs::write(&renamed, text).expect("write");
    let r = renamed.to_str().expect("utf-8");
    let o = tw(&["run", "--config", r, "--events", "500", "--journal", js]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!o.status.success());
    assert!(
        err.contains("refusing to resume") && err.contains("probe-eth-v2"),
        "{err}"
    );
    assert!(err.contains("--new-session-config"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(records_in(&j), records, "nothing appended");

    let out = ok(&[
        "run",
        "--config",
        r,
        "--events",
        "500",
        "--journal",
        js,
        "--new-session-config",
    ]);
    assert!(out.contains("config changed deliberately"), "{out}");
    assert!(records_in(&j) > records);
}

/// A full disk mid-run (a 3 MiB tmpfs for 1 MiB segments): no SIGBUS, no panic — the engine
/// stops the safe way, the run exits 1 saying why, everything journaled before the fault
/// verifies, and the same journal on a bigger disk resumes. Needs the right to mount a tmpfs
/// (root on the test machines and in CI); where it is missing the test says so and passes.
#[test]
fn a_full_disk_stops_the_run_safely_and_the_journal_resumes_elsewhere() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mnt = tmp.path().join("small-disk");
    std::fs::create_dir(&mnt).expect("mount point");
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=3m", "tmpfs"])
        .arg(&mnt)
        .output()
        .is_ok_and(|o| o.status.success());
    if !mounted {
        eprintln!("skipped: cannot mount a tmpfs here (needs CAP_SYS_ADMIN)");
        return;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(mnt.clone());
    let cfg = tmp.path().join("small-segments.toml");
    let text = std::fs::read_to_string(example())
        .expect("example")
        .replacen("segment_mb = 64", "segment_mb = 1", 1);
    std::fs::write(&cfg, text).expect("config");
    let j = mnt.join("J");
    let o = tw(&[
        "run",
        "--config",
        cfg.to_str().expect("utf-8"),
        "--events",
        "2000000",
        "--journal",
        j.to_str().expect("utf-8"),
    ]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(
        o.status.code(),
        Some(1),
        "a clean failure, not a signal: {err}"
    );
    assert!(err.contains("the journal could not be written"), "{err}");
    assert!(
        err.contains("alert: journal disk low"),
        "alerted before it was full: {err}"
    );
    assert!(err.contains("stopped the safe way"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let verify = ok(&["journal", "verify", j.to_str().expect("utf-8")]);
    assert!(verify.contains("OK"), "{verify}");

    // A bigger disk: the journal is copied there and resumed.
    let big = tmp.path().join("J");
    std::fs::create_dir(&big).expect("dir");
    for e in std::fs::read_dir(&j).expect("journal") {
        let e = e.expect("entry");
        std::fs::copy(e.path(), big.join(e.file_name())).expect("copy");
    }
    let out = ok(&[
        "run",
        "--config",
        cfg.to_str().expect("utf-8"),
        "--events",
        "2000",
        "--journal",
        big.to_str().expect("utf-8"),
    ]);
    assert!(out.contains("appending to"), "{out}");
}
