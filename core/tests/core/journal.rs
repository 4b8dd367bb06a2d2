//! Journal behaviour: round trips, rollover, reopening, torn tails, corruption, errors.

use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use tickwire_core::event::{Input, Kind, MarketEvent, Meta, Record, TopOfBook};
use tickwire_core::journal::{
    JournalConfig, JournalError, Position, Reader, TornTail, Writer, verify,
};

const SEG: u64 = 64 << 10;
const MAX: u32 = 4096;

fn cfg() -> JournalConfig {
    JournalConfig {
        segment_bytes: SEG,
        flush_interval: Duration::from_millis(10),
        max_record_bytes: MAX,
    }
}

fn open(dir: &Path, cfg: JournalConfig) -> Writer {
    match Writer::open(dir, cfg) {
        Ok((w, _)) => w,
        Err(e) => panic!("open writer: {e}"),
    }
}

/// Payload for seq `s`: length and bytes derived from the seq.
fn payload(s: u64) -> Vec<u8> {
    let len = (s * 7919 % 301) as usize;
    (0..len).map(|i| (s as usize * 31 + i) as u8).collect()
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rec {
    kind: u16,
    seq: u64,
    ts: u64,
    payload: Vec<u8>,
    pos: Position,
}

/// Everything the reader returns until it stops, and the error it stopped with, if any.
fn read_all(dir: &Path) -> (Vec<Rec>, Option<JournalError>) {
    let mut r = match Reader::open(dir) {
        Ok(r) => r,
        Err(e) => return (Vec::new(), Some(e)),
    };
    let mut out = Vec::new();
    loop {
        match r.next() {
            Ok(Some(rec)) => out.push(Rec {
                kind: rec.kind,
                seq: rec.seq,
                ts: rec.ts,
                payload: rec.payload.to_vec(),
                pos: rec.pos,
            }),
            Ok(None) => return (out, None),
            Err(e) => return (out, Some(e)),
        }
    }
}

/// Appends records `first..=last` (payload from the seq) and checks the seqs returned.
fn append_range(w: &mut Writer, first: u64, last: u64) {
    for s in first..=last {
        let got = w
            .append((s % 5) as u16, s * 10, &payload(s))
            .expect("append");
        assert_eq!(got, s);
    }
}

fn check_records(recs: &[Rec], first: u64, last: u64) {
    assert_eq!(recs.len() as u64, last + 1 - first, "record count");
    for (r, s) in recs.iter().zip(first..) {
        assert_eq!(r.seq, s);
        assert_eq!(r.kind, (s % 5) as u16);
        assert_eq!(r.ts, s * 10);
        assert_eq!(r.payload, payload(s), "payload of seq {s}");
    }
}

fn seg_path(dir: &Path, i: u32) -> PathBuf {
    dir.join(format!("{i:08}.twj"))
}

fn poke(path: &Path, offset: u64, bytes: &[u8]) {
    let mut f = OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open segment");
    f.seek(SeekFrom::Start(offset)).expect("seek");
    f.write_all(bytes).expect("write");
}

fn flip(path: &Path, offset: u64) {
    let data = std::fs::read(path).expect("read segment");
    poke(path, offset, &[data[offset as usize] ^ 0x41]);
}

#[test]
fn round_trip_and_verify_counts() {
    let dir = tempfile::tempdir().unwrap();
    let (mut w, rep) = Writer::open(dir.path(), cfg()).unwrap();
    assert!(rep.created);
    assert_eq!(rep.next_seq, 1);
    assert_eq!(w.next_seq(), 1);
    append_range(&mut w, 1, 50);
    assert_eq!(w.append(9, 77, b"").unwrap(), 51);
    // Readable while the writer is open.
    let (recs, err) = read_all(dir.path());
    assert!(err.is_none());
    assert_eq!(recs.len(), 51);
    assert_eq!(recs[50].payload, b"");
    assert_eq!(
        recs[0].pos,
        Position {
            segment: 0,
            offset: 64
        }
    );
    drop(w);
    let (recs, err) = read_all(dir.path());
    assert!(err.is_none());
    check_records(&recs[..50], 1, 50);
    let v = verify(dir.path()).unwrap();
    assert!(v.is_clean(), "{v:?}");
    assert_eq!(v.records, 51);
    assert_eq!(v.first_seq, Some(1));
    assert_eq!(v.last_seq, Some(51));
    assert_eq!(v.first_ts, Some(10));
    assert_eq!(v.last_ts, Some(77));
    assert_eq!(
        v.bytes,
        (1..=50).map(|s| payload(s).len() as u64).sum::<u64>()
    );
}

#[test]
fn rollover_across_many_segments() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = open(dir.path(), cfg());
    append_range(&mut w, 1, 6000);
    let stats = w.stats();
    assert!(stats.rollovers >= 10, "{stats:?}");
    assert_eq!(
        stats.rollovers,
        u64::from(w.position().segment),
        "one rollover per segment"
    );
    drop(w);
    let (recs, err) = read_all(dir.path());
    assert!(err.is_none(), "{err:?}");
    check_records(&recs, 1, 6000);
    assert!(
        recs.windows(2)
            .any(|p| p[1].pos.segment == p[0].pos.segment + 1)
    );
    let v = verify(dir.path()).unwrap();
    assert!(v.is_clean(), "{v:?}");
    assert!(v.segments > 10);
    assert_eq!(v.records, 6000);
}

#[test]
fn reopen_continues_the_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let mut last = 0;
    for round in 0..6u64 {
        let (mut w, rep) = Writer::open(dir.path(), cfg()).unwrap();
        assert_eq!(rep.created, round == 0);
        assert_eq!(rep.next_seq, last + 1);
        assert_eq!(rep.torn_tail, None);
        let n = 150 + round * 97;
        append_range(&mut w, last + 1, last + n);
        last += n;
    }
    let (recs, err) = read_all(dir.path());
    assert!(err.is_none());
    check_records(&recs, 1, last);
    assert!(verify(dir.path()).unwrap().is_clean());
}

#[test]
fn reopen_with_other_config_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = open(dir.path(), cfg());
    append_range(&mut w, 1, 400);
    drop(w);
    // Larger records than the active segment was made for: continue in a new segment.
    let big = JournalConfig {
        segment_bytes: 128 << 10,
        max_record_bytes: 20_000,
        ..cfg()
    };
    let (mut w, rep) = Writer::open(dir.path(), big).unwrap();
    assert!(rep.removed_segments <= 1);
    let seg_before = w.position().segment;
    assert_eq!(w.append(1, 1, &[7u8; 10_000]).unwrap(), 401);
    assert_eq!(w.position().segment, seg_before + 1);
    drop(w);
    let (recs, err) = read_all(dir.path());
    assert!(err.is_none(), "{err:?}");
    check_records(&recs[..400], 1, 400);
    assert_eq!(recs[400].payload, vec![7u8; 10_000]);
    assert!(verify(dir.path()).unwrap().is_clean());
}

#[test]
fn torn_tail_without_length_is_cut_on_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = open(dir.path(), cfg());
    append_range(&mut w, 1, 300);
    let end = w.position();
    drop(w);
    // An append that wrote header fields and payload but died before storing the length.
    let path = seg_path(dir.path(), end.segment);
    poke(&path, end.offset + 8, &[0xAB; 100]);

    let v = verify(dir.path()).unwrap();
    assert_eq!(v.corruption, None);
    assert_eq!(
        v.torn_tail,
        Some(TornTail {
            segment: end.segment,
            offset: end.offset,
            bytes: 108
        })
    );
    assert_eq!(v.records, 300);

    let mut r = Reader::open(dir.path()).unwrap();
    let mut n = 0;
    while r.next().unwrap().is_some() {
        n += 1;
    }
    assert_eq!(n, 300);
    assert_eq!(r.torn_tail().map(|t| t.offset), Some(end.offset));

    let (mut w, rep) = Writer::open(dir.path(), cfg()).unwrap();
    assert_eq!(rep.torn_tail.map(|t| t.offset), Some(end.offset));
    assert_eq!(rep.next_seq, 301);
    append_range(&mut w, 301, 320);
    drop(w);
    let (recs, err) = read_all(dir.path());
    assert!(err.is_none());
    check_records(&recs, 1, 320);
    assert!(verify(dir.path()).unwrap().is_clean());
}

#[test]
fn torn_tail_with_bad_crc_is_cut_on_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = open(dir.path(), cfg());
    append_range(&mut w, 1, 299);
    // Make sure the last record has a payload byte to damage.
    assert_eq!(w.append(3, 1, &[1, 2, 3, 4, 5]).unwrap(), 300);
    drop(w);
    let (recs, _) = read_all(dir.path());
    let last = recs[299].pos;
    // The length was stored but part of the record never reached the disk.
    flip(&seg_path(dir.path(), last.segment), last.offset + 32 + 2);

    let v = verify(dir.path()).unwrap();
    assert_eq!(v.corruption, None);
    assert_eq!(
        v.torn_tail.map(|t| (t.segment, t.offset)),
        Some((last.segment, last.offset))
    );
    assert_eq!(v.records, 299);

    let mut r = Reader::open(dir.path()).unwrap();
    let mut n = 0;
    while r.next().unwrap().is_some() {
        n += 1;
    }
    assert_eq!(n, 299);
    assert_eq!(r.torn_tail().map(|t| t.offset), Some(last.offset));
    // Asking again gives the same answer (the reader stays put).
    assert!(r.next().unwrap().is_none());

    let (mut w, rep) = Writer::open(dir.path(), cfg()).unwrap();
    assert!(rep.torn_tail.is_some());
    assert_eq!(rep.next_seq, 300, "the torn record's seq is reused");
    append_range(&mut w, 300, 310);
    drop(w);
    let (recs, err) = read_all(dir.path());
    assert!(err.is_none());
    check_records(&recs, 1, 310);
    assert!(verify(dir.path()).unwrap().is_clean());
}

/// Damages the payload of the first record with seq >= `from` and a payload, in segment
/// `segment` (any if `None`); returns it.
fn damage(dir: &Path, from: u64, segment: Option<u32>) -> Rec {
    let (recs, _) = read_all(dir);
    let victim = recs
        .iter()
        .find(|r| {
            r.seq >= from && !r.payload.is_empty() && segment.is_none_or(|s| r.pos.segment == s)
        })
        .expect("a victim")
        .clone();
    flip(&seg_path(dir, victim.pos.segment), victim.pos.offset + 32);
    victim
}

#[test]
fn corruption_in_the_middle_is_reported_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = open(dir.path(), cfg());
    append_range(&mut w, 1, 500);
    let active = w.position().segment;
    drop(w);
    // In an older segment: verify and readers report it; the writer only scans the active
    // segment when it opens, so it does not notice (by design: opening stays O(1) segments).
    let victim = damage(dir.path(), 100, Some(0));
    let v = verify(dir.path()).unwrap();
    let c = v.corruption.expect("corruption reported");
    assert_eq!(
        (c.segment, c.offset),
        (victim.pos.segment, victim.pos.offset)
    );
    assert!(c.reason.contains("CRC"), "{}", c.reason);
    assert_eq!(v.records, victim.seq - 1);
    let (got, err) = read_all(dir.path());
    check_records(&got, 1, victim.seq - 1);
    match err {
        Some(JournalError::Corrupt {
            segment, offset, ..
        }) => {
            assert_eq!((segment, offset), (victim.pos.segment, victim.pos.offset))
        }
        other => panic!("expected corruption, got {other:?}"),
    }
    drop(open(dir.path(), cfg()));

    // In the active segment, with valid records after it: the writer refuses to append.
    let dir = tempfile::tempdir().unwrap();
    let mut w = open(dir.path(), cfg());
    append_range(&mut w, 1, 500);
    drop(w);
    let (recs, _) = read_all(dir.path());
    let first_in_active = recs.iter().find(|r| r.pos.segment == active).unwrap().seq;
    damage(dir.path(), first_in_active, Some(active));
    let v = verify(dir.path()).unwrap();
    assert!(v.corruption.is_some());
    match Writer::open(dir.path(), cfg()) {
        Err(e @ JournalError::Corrupt { .. }) => assert!(e.to_string().contains("CRC")),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("opened a corrupt journal for append"),
    }
}

#[test]
fn garbage_beyond_one_record_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = open(dir.path(), cfg());
    append_range(&mut w, 1, 20);
    let end = w.position();
    drop(w);
    let far = end.offset + 32 + u64::from(MAX) + 64;
    poke(&seg_path(dir.path(), end.segment), far, &[1]);
    let v = verify(dir.path()).unwrap();
    assert_eq!(v.torn_tail, None);
    let c = v.corruption.expect("corruption");
    assert_eq!((c.segment, c.offset), (end.segment, far));
    assert!(matches!(
        Writer::open(dir.path(), cfg()),
        Err(JournalError::Corrupt { .. })
    ));
    // The reader still returns everything before it and stops.
    let (recs, err) = read_all(dir.path());
    assert!(err.is_none());
    assert_eq!(recs.len(), 20);
}

#[test]
fn truncated_and_missing_segments_are_reported() {
    // Damage segment 1 of at least four, so that segments with records follow it whether or
    // not the next one was pre-allocated before the writer closed.
    let dir = tempfile::tempdir().unwrap();
    let mut w = open(dir.path(), cfg());
    append_range(&mut w, 1, 1500);
    assert!(w.position().segment >= 3);
    drop(w);
    let f = OpenOptions::new()
        .write(true)
        .open(seg_path(dir.path(), 1))
        .unwrap();
    f.set_len(SEG / 2).unwrap();
    drop(f);
    let v = verify(dir.path()).unwrap();
    let c = v.corruption.expect("corruption");
    assert_eq!(c.segment, 1);
    assert!(c.reason.contains("truncated"), "{}", c.reason);
    let (recs, err) = read_all(dir.path());
    assert!(
        matches!(err, Some(JournalError::Truncated { segment: 1, .. })),
        "{err:?}"
    );
    assert_eq!(recs.last().unwrap().pos.segment, 0);
    assert!(err.unwrap().to_string().contains("segment 1"));

    std::fs::remove_file(seg_path(dir.path(), 1)).unwrap();
    let v = verify(dir.path()).unwrap();
    assert!(v.corruption.unwrap().reason.contains("missing"));
    let (_, err) = read_all(dir.path());
    assert!(
        matches!(err, Some(JournalError::Corrupt { segment: 1, .. })),
        "{err:?}"
    );
    assert!(Writer::open(dir.path(), cfg()).is_err());
}

#[test]
fn oversized_records_are_rejected_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = open(dir.path(), cfg());
    append_range(&mut w, 1, 5);
    let before = w.position();
    let err = w.append(1, 1, &vec![0u8; MAX as usize + 1]).unwrap_err();
    assert!(
        matches!(err, JournalError::RecordTooLarge { len, max } if len == MAX as usize + 1 && max == MAX)
    );
    assert_eq!(w.next_seq(), 6);
    assert_eq!(w.position(), before);
    assert_eq!(w.append(1, 1, &vec![9u8; MAX as usize]).unwrap(), 6);
    drop(w);
    let v = verify(dir.path()).unwrap();
    assert!(v.is_clean());
    assert_eq!(v.records, 6);
}

#[test]
fn invalid_configs_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let bad = [
        JournalConfig {
            segment_bytes: SEG + 8,
            ..cfg()
        },
        JournalConfig {
            segment_bytes: 4096,
            max_record_bytes: 8192,
            ..cfg()
        },
        JournalConfig {
            max_record_bytes: 0,
            ..cfg()
        },
        JournalConfig {
            segment_bytes: 32 << 30,
            ..cfg()
        },
    ];
    for c in bad {
        assert!(matches!(
            Writer::open(dir.path(), c),
            Err(JournalError::InvalidConfig { .. })
        ));
    }
    assert!(JournalConfig::default().validate().is_ok());
    assert_eq!(JournalConfig::default().segment_bytes, 64 << 20);
}

#[test]
fn a_second_writer_is_locked_out() {
    let dir = tempfile::tempdir().unwrap();
    let w = open(dir.path(), cfg());
    assert!(matches!(
        Writer::open(dir.path(), cfg()),
        Err(JournalError::Locked { .. })
    ));
    drop(w);
    let _w = open(dir.path(), cfg());
}

#[test]
fn reader_follows_a_writer_thread_across_segments() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = open(dir.path(), cfg());
    let mut r = Reader::open(dir.path()).unwrap();
    assert!(r.next().unwrap().is_none());
    assert_eq!(r.torn_tail(), None);
    const N: u64 = 5000;
    let writer = thread::spawn(move || {
        for s in 1..=N {
            assert_eq!(w.append((s % 5) as u16, s * 10, &payload(s)).unwrap(), s);
            if s % 256 == 0 {
                thread::sleep(Duration::from_micros(200));
            }
        }
        w.stats()
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut next = 1;
    while next <= N {
        assert!(Instant::now() < deadline, "reader stuck at seq {next}");
        match r.next().unwrap() {
            Some(rec) => {
                assert_eq!(rec.seq, next);
                assert_eq!(rec.payload, payload(next).as_slice());
                next += 1;
            }
            None => thread::sleep(Duration::from_micros(50)),
        }
    }
    let stats = writer.join().unwrap();
    assert!(stats.rollovers > 5);
    assert_eq!(r.next_seq(), N + 1);
}

#[test]
fn pod_records_decode_as_events() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = open(dir.path(), cfg());
    let top = TopOfBook {
        meta: Meta::default(),
        update_id: 5,
        ..TopOfBook::default()
    };
    let seq = w
        .append_pod(Kind::Top.code(), top.meta.event_time(), &top)
        .unwrap();
    assert_eq!(seq, 1);
    let mut r = Reader::open(dir.path()).unwrap();
    let rec = r.next().unwrap().unwrap();
    assert_eq!(rec.kind, Kind::Top.code());
    assert_eq!(
        Record::decode(rec.kind, rec.payload).unwrap(),
        Record::Input(Input::Market(MarketEvent::Top(top)))
    );
}

#[test]
fn flush_works_with_and_without_the_flush_thread() {
    for interval in [Duration::ZERO, Duration::from_millis(1)] {
        let dir = tempfile::tempdir().unwrap();
        let c = JournalConfig {
            flush_interval: interval,
            ..cfg()
        };
        let mut w = open(dir.path(), c);
        append_range(&mut w, 1, 100);
        w.flush().unwrap();
        append_range(&mut w, 101, 2000);
        thread::sleep(Duration::from_millis(5));
        w.flush().unwrap();
        w.flush().unwrap();
        assert_eq!(w.stats().flush_errors, 0);
        drop(w);
        assert_eq!(verify(dir.path()).unwrap().records, 2000);
    }
}

#[test]
fn open_errors_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let e = Reader::open(&missing).err().unwrap();
    assert!(matches!(e, JournalError::Io { .. }));
    assert!(e.to_string().contains("nope"));
    let e = Reader::open(dir.path()).err().unwrap();
    assert!(matches!(e, JournalError::NotAJournal { .. }));
    assert!(matches!(
        verify(dir.path()),
        Err(JournalError::NotAJournal { .. })
    ));
    std::fs::write(seg_path(dir.path(), 0), vec![0u8; 4096]).unwrap();
    let e = Reader::open(dir.path()).err().unwrap();
    assert!(
        matches!(e, JournalError::BadHeader { segment: 0, .. }),
        "{e}"
    );
    std::fs::write(seg_path(dir.path(), 0), b"short").unwrap();
    let e = Reader::open(dir.path()).err().unwrap();
    assert!(
        matches!(
            e,
            JournalError::Truncated {
                segment: 0,
                len: 5,
                ..
            }
        ),
        "{e}"
    );
    let v = verify(dir.path()).unwrap();
    assert!(v.corruption.is_some());
}

/// Bitwise CRC-32 (IEEE, reflected polynomial 0xEDB88320), the checksum of format version 1.
fn reference_crc32_ieee(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

#[test]
fn old_format_version_is_refused_not_called_corrupt() {
    assert_eq!(reference_crc32_ieee(b"123456789"), 0xCBF4_3926);
    let dir = tempfile::tempdir().unwrap();
    let mut w = open(dir.path(), cfg());
    for i in 0..10u64 {
        w.append(1, i, &[7u8; 24]).unwrap();
    }
    drop(w);
    // Turn every segment header into a version-1 one (CRC-32 (IEEE) era): version 1 and the
    // header CRC-32 over bytes 0..28.
    let mut n = 0;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "twj") {
            let mut h = std::fs::read(&path).unwrap()[..28].to_vec();
            h[8..12].copy_from_slice(&1u32.to_le_bytes());
            h.extend_from_slice(&reference_crc32_ieee(&h).to_le_bytes());
            poke(&path, 0, &h);
            n += 1;
        }
    }
    assert!(n >= 1);
    let is_v1 = |e: &JournalError| {
        matches!(
            e,
            JournalError::UnsupportedVersion {
                version: 1,
                supported: 2,
                ..
            }
        ) && e.to_string().contains("unsupported format version 1")
    };
    let e = Reader::open(dir.path()).err().unwrap();
    assert!(is_v1(&e), "{e}");
    let e = Writer::open(dir.path(), cfg()).err().unwrap();
    assert!(is_v1(&e), "{e}");
    let e = verify(dir.path()).err().unwrap();
    assert!(is_v1(&e), "{e}");
    // A version field that is merely damaged (header CRC not valid for it) is corruption.
    poke(&seg_path(dir.path(), 0), 8, &7u32.to_le_bytes());
    let e = Reader::open(dir.path()).err().unwrap();
    assert!(
        matches!(e, JournalError::BadHeader { segment: 0, .. }),
        "{e}"
    );
    let v = verify(dir.path()).unwrap();
    assert!(v.corruption.is_some(), "{v:?}");
}

#[test]
fn error_messages_are_one_line() {
    let errs = [
        JournalError::Io {
            op: "open segment",
            path: "/x/y".into(),
            source: std::io::Error::other("boom"),
        },
        JournalError::NotAJournal {
            path: "d".into(),
            reason: "r",
        },
        JournalError::Locked { path: "l".into() },
        JournalError::BadHeader {
            segment: 1,
            reason: "bad magic".into(),
        },
        JournalError::UnsupportedVersion {
            segment: 1,
            version: 1,
            supported: 2,
        },
        JournalError::Truncated {
            segment: 1,
            len: 2,
            expected: Some(3),
        },
        JournalError::Truncated {
            segment: 1,
            len: 2,
            expected: None,
        },
        JournalError::Corrupt {
            segment: 1,
            offset: 2,
            reason: "x".into(),
        },
        JournalError::RecordTooLarge { len: 1, max: 0 },
        JournalError::SegmentLimit,
        JournalError::InvalidConfig { reason: "r" },
        JournalError::Interrupted,
    ];
    for e in errs {
        let s = e.to_string();
        assert!(!s.is_empty() && !s.contains('\n'), "{s:?}");
    }
    let io = JournalError::Io {
        op: "x",
        path: "p".into(),
        source: std::io::Error::other("inner"),
    };
    assert!(std::error::Error::source(&io).is_some());
}

/// Waits (bounded) until `path` exists.
fn wait_for_file(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn segment_activated_without_its_marker_is_recovered() {
    // The writer sets the next segment's first seq just before writing the rollover marker
    // that leads to it. Simulate dying in between: the pre-allocated next segment gets its
    // first seq, the current one has no marker.
    let dir = tempfile::tempdir().unwrap();
    let mut w = open(dir.path(), cfg());
    append_range(&mut w, 1, 40);
    let active = w.position().segment;
    let next = seg_path(dir.path(), active + 1);
    wait_for_file(&next); // prepared in the background
    drop(w);
    poke(&next, 32, &41u64.to_le_bytes());

    let v = verify(dir.path()).unwrap();
    assert!(v.corruption.is_none(), "{v:?}");
    assert_eq!(v.records, 40);
    let (recs, err) = read_all(dir.path());
    assert!(err.is_none());
    assert_eq!(recs.len(), 40);

    let (mut w, rep) = Writer::open(dir.path(), cfg()).unwrap();
    assert_eq!(rep.active_segment, active);
    assert_eq!(rep.next_seq, 41);
    assert!(rep.removed_segments >= 1);
    append_range(&mut w, 41, 600);
    drop(w);
    let (recs, err) = read_all(dir.path());
    assert!(err.is_none(), "{err:?}");
    check_records(&recs, 1, 600);
    assert!(verify(dir.path()).unwrap().is_clean());
}

#[test]
fn verify_and_readers_agree_with_a_live_writer() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = open(dir.path(), cfg());
    append_range(&mut w, 1, 10);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = std::sync::Arc::clone(&stop);
    let writer = thread::spawn(move || {
        let mut s = 11;
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) && s < 40_000 {
            assert_eq!(w.append((s % 5) as u16, s * 10, &payload(s)).unwrap(), s);
            s += 1;
            if s % 64 == 0 {
                thread::yield_now();
            }
        }
        s - 1
    });
    let mut seen_last = 0;
    for _ in 0..12 {
        let v = verify(dir.path()).unwrap();
        assert_eq!(v.corruption, None, "{v:?}");
        let last = v.last_seq.unwrap();
        assert!(last >= seen_last);
        seen_last = last;
        // A reader opened now sees a prefix of what is being written.
        let (recs, err) = read_all(dir.path());
        assert!(err.is_none(), "{err:?}");
        assert!(recs.len() as u64 >= last);
        check_records(&recs[..last as usize], 1, last);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let last = writer.join().unwrap();
    let v = verify(dir.path()).unwrap();
    assert!(v.is_clean(), "{v:?}");
    assert_eq!(v.last_seq, Some(last));
}

/// A damaged record followed by intact ones is corruption, not a torn tail, wherever it is in
/// the active segment: verify reports it (exit 1 for the CLI), readers stop at it with an
/// error, and the writer refuses to open — nothing is cut, not one byte changes.
#[test]
fn damage_followed_by_valid_records_is_never_cut_as_a_torn_tail() {
    for back in [1u64, 2, 10, 50, 120] {
        let dir = tempfile::tempdir().unwrap();
        let mut w = open(dir.path(), cfg());
        append_range(&mut w, 1, 400);
        let active = w.position().segment;
        drop(w);
        let (recs, _) = read_all(dir.path());
        let in_active: Vec<&Rec> = recs
            .iter()
            .filter(|r| r.pos.segment == active && !r.payload.is_empty())
            .collect();
        // `back` records before the last one (the last one alone would be a torn tail).
        let Some(victim) = in_active.iter().rev().nth(back as usize).copied() else {
            continue;
        };
        let victim = victim.clone();
        let path = seg_path(dir.path(), active);
        flip(&path, victim.pos.offset + 32);
        let before = std::fs::read(&path).unwrap();

        let v = verify(dir.path()).unwrap();
        assert_eq!(v.torn_tail, None, "{back} back: {v:?}");
        let c = v.corruption.expect("corruption");
        assert_eq!(
            (c.segment, c.offset),
            (active, victim.pos.offset),
            "{back} back"
        );
        assert!(
            c.reason.contains("followed by a valid record"),
            "{}",
            c.reason
        );

        let (got, err) = read_all(dir.path());
        check_records(&got, 1, victim.seq - 1);
        assert!(matches!(err, Some(JournalError::Corrupt { .. })), "{err:?}");

        match Writer::open(dir.path(), cfg()) {
            Err(JournalError::Corrupt {
                segment, offset, ..
            }) => {
                assert_eq!((segment, offset), (active, victim.pos.offset))
            }
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("{back} back: opened for append over committed records"),
        }
        assert_eq!(std::fs::read(&path).unwrap(), before, "nothing was cut");
    }
}

/// A record whose length word is intact but whose bytes fail, with stray bytes past its own
/// extent, is damage too (an unfinished append writes within its own record).
#[test]
fn bytes_past_a_bad_records_own_span_are_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = open(dir.path(), cfg());
    append_range(&mut w, 1, 30);
    assert_eq!(w.append(3, 1, &[1, 2, 3, 4, 5]).unwrap(), 31);
    let end = w.position();
    drop(w);
    let (recs, _) = read_all(dir.path());
    let last = recs[30].pos;
    let path = seg_path(dir.path(), last.segment);
    flip(&path, last.offset + 32 + 2);
    // Within one maximal record of the bad one, but past its own 40 bytes.
    poke(&path, end.offset + 256, &[7]);
    let v = verify(dir.path()).unwrap();
    assert_eq!(v.torn_tail, None);
    assert!(v.corruption.is_some(), "{v:?}");
    assert!(Writer::open(dir.path(), cfg()).is_err());
}

/// Without segment 0 the journal has lost its start (sessions, configs, positions): verify,
/// readers and the writer all refuse it, naming the missing file.
#[test]
fn a_missing_first_segment_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = open(dir.path(), cfg());
    append_range(&mut w, 1, 800);
    assert!(w.position().segment >= 2);
    drop(w);
    std::fs::remove_file(seg_path(dir.path(), 0)).unwrap();
    let v = verify(dir.path()).unwrap();
    let c = v.corruption.expect("corruption");
    assert!(c.reason.contains("00000000.twj missing"), "{}", c.reason);
    assert_eq!(v.records, 0);
    let (recs, err) = read_all(dir.path());
    assert!(recs.is_empty());
    assert!(err.is_some_and(|e| e.to_string().contains("00000000.twj missing")));
    let e = Writer::open(dir.path(), cfg()).err().expect("refused");
    assert!(e.to_string().contains("00000000.twj missing"), "{e}");
}

/// `repair` cuts after the chosen record, keeps a byte-identical backup, and the journal then
/// verifies clean and continues from there; it refuses to run beside a writer or past the
/// readable part, changing nothing.
#[test]
fn repair_cuts_after_the_last_good_record_and_keeps_a_backup() {
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("J");
    let mut w = open(&j, cfg());
    append_range(&mut w, 1, 400);
    let active = w.position().segment;
    // Not while a writer has it open.
    let e = tickwire_core::journal::repair(&j, 10, &dir.path().join("early")).unwrap_err();
    assert!(matches!(e, JournalError::Locked { .. }), "{e}");
    assert!(!dir.path().join("early").exists());
    drop(w);
    let (recs, _) = read_all(&j);
    let victim = recs
        .iter()
        .rev()
        .filter(|r| r.pos.segment == active && !r.payload.is_empty())
        .nth(5)
        .unwrap()
        .clone();
    flip(&seg_path(&j, active), victim.pos.offset + 32);
    let damaged: Vec<(String, Vec<u8>)> = list_files(&j);
    assert!(Writer::open(&j, cfg()).is_err());

    // Past the readable part: refused, nothing copied or changed.
    let e = tickwire_core::journal::repair(&j, victim.seq, &dir.path().join("b0")).unwrap_err();
    assert!(
        e.to_string().contains("not in the journal's readable part"),
        "{e}"
    );
    assert!(!dir.path().join("b0").exists());
    assert_eq!(list_files(&j), damaged);

    let backup = dir.path().join("backup");
    let rep = tickwire_core::journal::repair(&j, victim.seq - 1, &backup).unwrap();
    assert_eq!(rep.kept_to_seq, victim.seq - 1);
    assert_eq!(
        list_files(&backup),
        damaged,
        "the backup is the journal as it was"
    );
    let v = verify(&j).unwrap();
    assert!(v.is_clean(), "{v:?}");
    assert_eq!(v.last_seq, Some(victim.seq - 1));
    let (mut w, rep) = Writer::open(&j, cfg()).unwrap();
    assert_eq!(rep.next_seq, victim.seq);
    append_range(&mut w, victim.seq, victim.seq + 20);
    drop(w);
    let (recs, err) = read_all(&j);
    assert!(err.is_none());
    assert_eq!(recs.last().map(|r| r.seq), Some(victim.seq + 20));
}

/// The journal files of a directory (not the lock file), by name, with their bytes.
fn list_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".twj"))
        .map(|n| {
            let bytes = std::fs::read(dir.join(&n)).unwrap();
            (n, bytes)
        })
        .collect();
    v.sort();
    v
}

/// A journal holds fills, positions and configs: its directory and files are the owner's only.
#[cfg(unix)]
#[test]
fn journal_files_are_private_to_their_owner() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("new").join("J");
    let mut w = open(&j, cfg());
    append_range(&mut w, 1, 600);
    drop(w);
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&j), 0o700);
    let files: Vec<_> = std::fs::read_dir(&j)
        .unwrap()
        .filter_map(Result::ok)
        .collect();
    assert!(files.len() >= 3, "segments and the lock file");
    for f in files {
        assert_eq!(mode(&f.path()), 0o600, "{}", f.path().display());
    }
}
