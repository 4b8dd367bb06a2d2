//! Property tests: arbitrary records round-trip exactly (with rollover and reopening), and
//! truncation or any single-byte corruption is detected, never misread.

use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use proptest::prelude::*;
use proptest::sample::Index;
use tickwire_core::journal::{JournalConfig, Reader, Writer, verify};

const SEG: u64 = 64 << 10;

fn cfg() -> JournalConfig {
    JournalConfig {
        segment_bytes: SEG,
        // No flush thread: these tests care about content, and syncing costs time.
        flush_interval: Duration::ZERO,
        max_record_bytes: 4096,
    }
}

type Rec = (u16, u64, Vec<u8>);

fn records() -> impl Strategy<Value = Vec<Rec>> {
    prop::collection::vec(
        (
            any::<u16>(),
            any::<u64>(),
            prop::collection::vec(any::<u8>(), 0..=2000),
        ),
        0..160,
    )
}

/// Writes `recs` to a new journal in `dir`, reopening the writer before record `split`.
fn write(dir: &Path, recs: &[Rec], split: usize) -> Result<(), TestCaseError> {
    let split = split.min(recs.len());
    for (part, first) in [(&recs[..split], 0), (&recs[split..], split)] {
        let (mut w, rep) =
            Writer::open(dir, cfg()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(rep.next_seq, first as u64 + 1);
        for (i, (kind, ts, payload)) in part.iter().enumerate() {
            let seq = w
                .append(*kind, *ts, payload)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(seq, (first + i) as u64 + 1);
        }
    }
    Ok(())
}

/// Reads until the reader stops; every record must equal the written one at its position.
/// Returns how many were read and whether the reader stopped with an error.
fn read_prefix(dir: &Path, recs: &[Rec]) -> Result<(usize, bool), TestCaseError> {
    let mut r = match Reader::open(dir) {
        Ok(r) => r,
        Err(_) => return Ok((0, true)),
    };
    let mut n = 0;
    loop {
        match r.next() {
            Ok(Some(rec)) => {
                prop_assert!(n < recs.len(), "reader returned more records than written");
                let (kind, ts, payload) = &recs[n];
                prop_assert_eq!(rec.seq, n as u64 + 1);
                prop_assert_eq!(rec.kind, *kind);
                prop_assert_eq!(rec.ts, *ts);
                prop_assert_eq!(rec.payload, payload.as_slice());
                n += 1;
            }
            Ok(None) => return Ok((n, false)),
            Err(_) => return Ok((n, true)),
        }
    }
}

/// The segment holding the last record (0 for an empty journal).
fn last_record_segment(dir: &Path) -> u32 {
    let mut r = Reader::open(dir).expect("reader");
    let mut seg = 0;
    while let Ok(Some(rec)) = r.next() {
        seg = rec.pos.segment;
    }
    seg
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "twj"))
        .collect();
    v.sort();
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn records_round_trip(recs in records(), split in 0usize..200) {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), &recs, split)?;
        let (n, err) = read_prefix(dir.path(), &recs)?;
        prop_assert!(!err);
        prop_assert_eq!(n, recs.len());
        let v = verify(dir.path()).unwrap();
        prop_assert!(v.is_clean(), "{:?}", v);
        prop_assert_eq!(v.records, recs.len() as u64);
        prop_assert_eq!(v.bytes, recs.iter().map(|r| r.2.len() as u64).sum::<u64>());
        prop_assert_eq!(v.last_ts, recs.last().map(|r| r.1));
    }

    #[test]
    fn truncation_is_detected(recs in records(), last_file in any::<bool>(), cut in any::<Index>()) {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), &recs, usize::MAX)?;
        // The last file (often a pre-allocated, empty segment), or the last holding records.
        let path = if last_file {
            segments(dir.path()).last().unwrap().clone()
        } else {
            dir.path().join(format!("{:08}.twj", last_record_segment(dir.path())))
        };
        let len = std::fs::metadata(&path).unwrap().len();
        let new_len = cut.index(len as usize) as u64;
        OpenOptions::new().write(true).open(&path).unwrap().set_len(new_len).unwrap();
        let v = verify(dir.path()).unwrap();
        prop_assert!(!v.is_clean(), "truncation of {:?} to {} not detected: {:?}", path, new_len, v);
        read_prefix(dir.path(), &recs)?;
        // Opening for append must not panic either.
        let _ = Writer::open(dir.path(), cfg());
    }

    #[test]
    fn single_byte_corruption_is_detected(recs in records(), file in any::<Index>(), at in any::<Index>(), xor in 1u8..=255) {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), &recs, usize::MAX)?;
        let segs = segments(dir.path());
        let path = file.get(&segs).clone();
        let data = std::fs::read(&path).unwrap();
        let off = at.index(data.len());
        let mut f = OpenOptions::new().write(true).open(&path).unwrap();
        f.seek(SeekFrom::Start(off as u64)).unwrap();
        f.write_all(&[data[off] ^ xor]).unwrap();
        drop(f);
        let v = verify(dir.path()).unwrap();
        prop_assert!(!v.is_clean(), "flip at {:?}+{} not detected: {:?}", path, off, v);
        read_prefix(dir.path(), &recs)?;
        // Recovery either refuses (corruption) or cuts a torn tail and keeps a valid journal.
        if let Ok((w, _)) = Writer::open(dir.path(), cfg()) {
            drop(w);
            read_prefix(dir.path(), &recs)?;
        }
    }
}
