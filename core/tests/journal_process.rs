//! Cross-process behaviour: a reader in another process follows a live writer, and a writer
//! killed with SIGKILL at random moments loses nothing whose append had returned.
//!
//! The test binary re-executes itself (`current_exe`) to run the other process: the
//! `child_entry` test does nothing unless `TWJ_CHILD_ROLE` is set.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use tickwire_core::journal::{JournalConfig, Reader, Writer, verify};

const ROLE: &str = "TWJ_CHILD_ROLE";
const DIR: &str = "TWJ_CHILD_DIR";
const COUNT: &str = "TWJ_CHILD_COUNT";

fn cfg() -> JournalConfig {
    JournalConfig {
        segment_bytes: 64 << 10,
        flush_interval: Duration::from_millis(5),
        max_record_bytes: 4096,
    }
}

fn payload(seq: u64) -> Vec<u8> {
    let len = (seq * 2654435761 % 300) as usize;
    (0..len).map(|i| (seq as usize ^ (i * 13)) as u8).collect()
}

fn kind(seq: u64) -> u16 {
    (seq % 11) as u16
}

fn ts(seq: u64) -> u64 {
    seq.wrapping_mul(1_000_003)
}

/// The child side, selected by environment variables; a no-op in a normal test run.
#[test]
fn child_entry() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let dir = std::env::var(DIR).expect("child dir");
    let dir = Path::new(&dir);
    match role.as_str() {
        "tail" => child_tail(dir),
        "append" => child_append(dir),
        other => panic!("unknown child role {other}"),
    }
}

/// Reads `COUNT` records as they are appended by the parent, checking each, then reports.
fn child_tail(dir: &Path) {
    let count: u64 = std::env::var(COUNT).expect("count").parse().expect("count");
    let mut out = std::io::stdout().lock();
    let mut r = Reader::open(dir).expect("reader");
    writeln!(out, "READY").unwrap();
    out.flush().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut next = 1;
    let mut polls_empty = 0u64;
    while next <= count {
        if Instant::now() > deadline {
            writeln!(out, "FAIL timeout at seq {next}").unwrap();
            return;
        }
        match r.next() {
            Ok(Some(rec)) => {
                let ok = rec.seq == next
                    && rec.kind == kind(next)
                    && rec.ts == ts(next)
                    && rec.payload == payload(next).as_slice();
                if !ok {
                    writeln!(out, "FAIL mismatch at seq {next}: got seq {}", rec.seq).unwrap();
                    return;
                }
                next += 1;
            }
            Ok(None) => {
                polls_empty += 1;
                thread::sleep(Duration::from_micros(100));
            }
            Err(e) => {
                writeln!(out, "FAIL error at seq {next}: {e}").unwrap();
                return;
            }
        }
    }
    writeln!(out, "DONE {} {}", next - 1, polls_empty).unwrap();
}

/// Appends until killed (or a generous cap), printing each seq once its append returned.
fn child_append(dir: &Path) {
    let (mut w, _) = Writer::open(dir, cfg()).expect("child writer");
    let mut out = std::io::stdout().lock();
    for _ in 0..1_000_000 {
        let seq = w.next_seq();
        let got = w.append(kind(seq), ts(seq), &payload(seq)).expect("append");
        assert_eq!(got, seq);
        // A line per record: the pipe write is what makes the kill land mid-append often.
        writeln!(out, "SEQ {got}").unwrap();
    }
}

fn spawn(role: &str, dir: &Path, count: u64) -> Child {
    let child = Command::new(std::env::current_exe().expect("current exe"))
        .args([
            "--exact",
            "child_entry",
            "--nocapture",
            "--test-threads=1",
            "-q",
        ])
        .env(ROLE, role)
        .env(DIR, dir)
        .env(COUNT, count.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child");
    if let Some(out) = &child.stdout {
        use std::os::fd::AsRawFd;
        // SAFETY: fcntl(2) on a pipe descriptor we own; F_SETPIPE_SZ takes an int and touches
        // no memory. A small pipe keeps an appending child at most a few hundred records ahead
        // of what the parent has read, so the journal stays small and the kill lands while it
        // is appending. Failure only makes the test slower.
        unsafe { libc::fcntl(out.as_raw_fd(), libc::F_SETPIPE_SZ, 4096) };
    }
    child
}

/// A child process that a watchdog kills (SIGKILL) if the test has not finished with it within
/// a time limit: a stuck child must fail the test, not hang it in a blocking read.
struct Guarded {
    child: Arc<Mutex<Child>>,
    done: Arc<AtomicBool>,
}

impl Guarded {
    fn new(child: Child, limit: Duration) -> Guarded {
        let child = Arc::new(Mutex::new(child));
        let done = Arc::new(AtomicBool::new(false));
        let (c, d) = (Arc::clone(&child), Arc::clone(&done));
        thread::spawn(move || {
            let end = Instant::now() + limit;
            while Instant::now() < end {
                if d.load(Ordering::Acquire) {
                    return;
                }
                thread::sleep(Duration::from_millis(20));
            }
            let _ = c.lock().unwrap().kill();
        });
        Guarded { child, done }
    }

    fn kill(&self) {
        self.child.lock().unwrap().kill().unwrap();
    }

    /// Waits for the child to exit (polling, so the watchdog can still kill it).
    fn wait(&self) -> ExitStatus {
        loop {
            if let Some(status) = self.child.lock().unwrap().try_wait().unwrap() {
                self.done.store(true, Ordering::Release);
                return status;
            }
            thread::sleep(Duration::from_millis(2));
        }
    }
}

/// Reads lines until one starting with one of `prefixes` (returned) or end of file (`None`).
fn line_with(
    lines: &mut std::io::Lines<BufReader<ChildStdout>>,
    prefixes: &[&str],
) -> Option<String> {
    lines
        .map_while(Result::ok)
        .find(|l| prefixes.iter().any(|p| l.starts_with(p)))
}

#[test]
fn reader_in_another_process_follows_a_live_writer() {
    const N: u64 = 20_000;
    let dir = tempfile::tempdir().unwrap();
    let (mut w, _) = Writer::open(dir.path(), cfg()).unwrap();
    let mut child = spawn("tail", dir.path(), N);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let child = Guarded::new(child, Duration::from_secs(90));
    assert!(
        line_with(&mut lines, &["READY"]).is_some(),
        "child did not start"
    );
    for seq in 1..=N {
        assert_eq!(w.append(kind(seq), ts(seq), &payload(seq)).unwrap(), seq);
        if seq % 1000 == 0 {
            // Let the reader catch up now and then, so it really reads a live journal.
            thread::sleep(Duration::from_millis(2));
        }
    }
    let result = line_with(&mut lines, &["DONE", "FAIL"]);
    let status = child.wait();
    let stats = w.stats();
    drop(w);
    let result = result.unwrap_or_else(|| "no result".into());
    assert!(
        result.starts_with(&format!("DONE {N} ")),
        "child said: {result}"
    );
    assert!(status.success());
    assert!(stats.rollovers >= 20, "{stats:?}");
}

#[test]
fn sigkill_loop_loses_no_returned_append() {
    const ITERATIONS: usize = 100;
    let dir = tempfile::tempdir().unwrap();
    drop(Writer::open(dir.path(), cfg()).unwrap());
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut next_rand = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut max_reported = 0u64;
    let mut checked = 0u64;
    let mut torn_seen = 0;
    for iter in 0..ITERATIONS {
        let mut child = spawn("append", dir.path(), 0);
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let child = Guarded::new(child, Duration::from_secs(30));
        // Kill after a random number of returned appends (sometimes before the first, while
        // the child is still opening and recovering), sometimes after a short extra delay.
        let wait_for = match next_rand() % 8 {
            0 => 0,
            _ => next_rand() % 400,
        };
        let mut seen = 0;
        while seen < wait_for {
            match lines.next() {
                Some(Ok(l)) => {
                    if let Some(s) = l.strip_prefix("SEQ ") {
                        max_reported = max_reported.max(s.parse().unwrap());
                        seen += 1;
                    }
                }
                _ => break,
            }
        }
        if next_rand() % 2 == 0 {
            thread::sleep(Duration::from_micros(next_rand() % 300));
        }
        child.kill();
        // Appends reported before the kill landed count too.
        for l in lines.map_while(Result::ok) {
            if let Some(s) = l.strip_prefix("SEQ ") {
                max_reported = max_reported.max(s.parse().unwrap());
            }
        }
        child.wait();

        // verify checks every record's CRC and the seq run; the content of records appended
        // since the previous iteration is compared with what the child wrote.
        let v = verify(dir.path()).unwrap();
        assert_eq!(v.corruption, None, "iteration {iter}: {v:?}");
        torn_seen += usize::from(v.torn_tail.is_some());
        let mut r = Reader::open(dir.path()).unwrap();
        let mut last = 0;
        while let Some(rec) = r.next().unwrap() {
            assert_eq!(rec.seq, last + 1);
            if rec.seq > checked {
                assert_eq!(rec.kind, kind(rec.seq));
                assert_eq!(rec.ts, ts(rec.seq));
                assert_eq!(rec.payload, payload(rec.seq).as_slice(), "seq {}", rec.seq);
            }
            last = rec.seq;
        }
        checked = last;
        assert!(
            last >= max_reported,
            "iteration {iter}: seq {max_reported} was returned but the journal ends at {last}"
        );
        assert_eq!(v.last_seq.unwrap_or(0), last);
        let (w, rep) = Writer::open(dir.path(), cfg()).unwrap();
        assert_eq!(rep.next_seq, last + 1);
        assert_eq!(rep.torn_tail, v.torn_tail);
        drop(w);
        assert!(verify(dir.path()).unwrap().is_clean());
    }
    assert!(
        max_reported > 1000,
        "the children appended only {max_reported} records"
    );
    // Not asserted (timing-dependent), but useful when reading the output.
    eprintln!("sigkill loop: {max_reported} records, {torn_seen} torn tails cut");
}
