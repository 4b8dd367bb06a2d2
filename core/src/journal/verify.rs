//! [`verify`]: a full check of a journal directory.

use std::path::Path;

use super::format::{
    H_FIRST_SEQ, SEG_HEADER, SegMap, Slot, end_state, list_segments, segment_path,
};
use super::{JournalError, TornTail};

/// Damage found by [`verify`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Corruption {
    /// Segment index.
    pub segment: u32,
    /// Byte offset in the segment.
    pub offset: u64,
    /// What is wrong.
    pub reason: String,
}

/// What [`verify`] found. Counts cover the valid records before the first problem.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Segment files in the directory.
    pub segments: u32,
    /// Valid records.
    pub records: u64,
    /// Payload bytes of the valid records.
    pub bytes: u64,
    /// Seq of the first record.
    pub first_seq: Option<u64>,
    /// Seq of the last valid record.
    pub last_seq: Option<u64>,
    /// Timestamp of the first record.
    pub first_ts: Option<u64>,
    /// Timestamp of the last valid record.
    pub last_ts: Option<u64>,
    /// An unfinished append after the last valid record (acceptable; a writer reopening the
    /// journal cuts it).
    pub torn_tail: Option<TornTail>,
    /// The first damage found (checking stops there).
    pub corruption: Option<Corruption>,
}

impl VerifyReport {
    /// Neither a torn tail nor corruption.
    pub fn is_clean(&self) -> bool {
        self.torn_tail.is_none() && self.corruption.is_none()
    }
}

/// Checks every byte of every segment in `dir`.
///
/// Valid records must form one continuous seq run (starting at 1 if segment 0 is present),
/// each segment's header must be valid and its file full-size, bytes after a rollover marker
/// and unused padding must be zero. Nonzero bytes after the last valid record that lie within
/// one maximal record of it are a torn tail (an unfinished append); anything else is
/// corruption. Pre-allocated segments after the last one in use must be empty.
///
/// Returns `Err` only when the directory cannot be read or holds no segments; damage is
/// reported in [`VerifyReport::corruption`]. Safe to run on a live journal (what is being
/// appended may show up as a torn tail).
pub fn verify(dir: &Path) -> Result<VerifyReport, JournalError> {
    // On a live journal the writer may move on while the tail is being checked (appending
    // past what was taken for the end, rolling into a segment checked as unused); damage found
    // after the end is then re-checked from scratch (a bounded number of times).
    let mut attempt = 0;
    loop {
        let (rep, end) = verify_once(dir)?;
        let moved = end.is_some_and(|e| e.moved(dir));
        attempt += 1;
        if rep.corruption.is_none() || !moved || attempt == 20 {
            return Ok(rep);
        }
    }
}

/// Where a pass found the end of the records, and the head word it saw there.
#[derive(Clone, Copy)]
struct End {
    segment: u32,
    offset: usize,
    head: Option<(u32, u32)>,
}

impl End {
    /// Whether the slot at the end has changed since (a writer published there).
    fn moved(&self, dir: &Path) -> bool {
        SegMap::open(&segment_path(dir, self.segment), self.segment, false)
            .is_ok_and(|seg| seg.load_head(self.offset) != self.head)
    }
}

fn verify_once(dir: &Path) -> Result<(VerifyReport, Option<End>), JournalError> {
    let mut segs = list_segments(dir)?;
    if segs.is_empty() {
        return Err(JournalError::NotAJournal {
            path: dir.to_path_buf(),
            reason: "no segment files (NNNNNNNN.twj)",
        });
    }
    let mut rep = VerifyReport::default();
    let mut end = None;
    let walked = walk(dir, &mut segs, &mut rep, &mut end);
    rep.segments = segs.len() as u32;
    match walked {
        Ok(()) => {}
        Err(JournalError::Corrupt {
            segment,
            offset,
            reason,
        }) => {
            rep.corruption = Some(Corruption {
                segment,
                offset,
                reason,
            })
        }
        Err(
            e @ (JournalError::BadHeader { segment, .. } | JournalError::Truncated { segment, .. }),
        ) => {
            rep.corruption = Some(Corruption {
                segment,
                offset: 0,
                reason: e.to_string(),
            })
        }
        Err(e) => return Err(e),
    }
    Ok((rep, end))
}

fn corrupt(segment: u32, offset: usize, reason: impl Into<String>) -> JournalError {
    JournalError::Corrupt {
        segment,
        offset: offset as u64,
        reason: reason.into(),
    }
}

fn walk(
    dir: &Path,
    segs: &mut Vec<u32>,
    rep: &mut VerifyReport,
    end: &mut Option<End>,
) -> Result<(), JournalError> {
    let mut expect: Option<u64> = None;
    // The end of the data has been seen; later segments must be untouched pre-allocations.
    let mut ended = false;
    let mut end_k = 0;
    let mut k = 0;
    while k < segs.len() {
        let idx = segs[k];
        if k > 0 && idx != segs[k - 1] + 1 {
            return Err(corrupt(segs[k - 1] + 1, 0, "segment file missing"));
        }
        let seg = SegMap::open(&segment_path(dir, idx), idx, false)?;
        let fs = seg.first_seq();
        if ended {
            // The writer activates the next segment just before writing the marker that leads
            // to it; dying in between leaves it activated (first_seq = the next seq), empty and
            // unreachable. Any other first_seq after the end is damage.
            let activated_early = fs != 0 && k == end_k + 1 && Some(fs) == expect;
            if fs != 0 && !activated_early {
                return Err(corrupt(
                    idx,
                    H_FIRST_SEQ,
                    "first seq set in a segment after the end",
                ));
            }
            if let Some(at) = seg.first_nonzero(SEG_HEADER, seg.size) {
                return Err(corrupt(
                    idx,
                    at,
                    "data in a segment after the end of the journal",
                ));
            }
            k += 1;
            continue;
        }
        if k == 0 {
            // The journal starts in segment 0: a missing first segment takes the sessions,
            // configs and positions it held with it.
            if idx != 0 {
                return Err(corrupt(
                    0,
                    0,
                    format!(
                        "segment file 00000000.twj missing: the journal starts at segment {idx:08}"
                    ),
                ));
            }
            // A writer sets first_seq before a segment can hold records, and segment 0 starts
            // the journal at seq 1.
            if fs == 0 || fs != 1 {
                return Err(corrupt(
                    idx,
                    H_FIRST_SEQ,
                    format!("first segment starts at seq {fs}"),
                ));
            }
            expect = Some(fs);
        } else if fs != 0 && Some(fs) != expect {
            // Entered through a rollover marker: the writer sets first_seq before the marker.
            return Err(corrupt(
                idx,
                H_FIRST_SEQ,
                format!("segment first seq {fs}, expected {}", expect.unwrap_or(0)),
            ));
        }
        let mut off = SEG_HEADER;
        loop {
            // Loaded before the slot is examined, to tell later whether it changed meanwhile.
            let head = seg.load_head(off);
            match seg.slot(off) {
                Slot::Record(m) => {
                    if let Some(e) = expect
                        && m.seq != e
                    {
                        return Err(corrupt(
                            idx,
                            off,
                            format!("seq {} where {e} was expected", m.seq),
                        ));
                    }
                    if off == SEG_HEADER && fs != m.seq {
                        return Err(corrupt(
                            idx,
                            H_FIRST_SEQ,
                            format!("segment first seq {fs}, its first record has {}", m.seq),
                        ));
                    }
                    expect = Some(m.seq + 1);
                    rep.records += 1;
                    rep.bytes += m.len as u64;
                    rep.first_seq.get_or_insert(m.seq);
                    rep.first_ts.get_or_insert(m.ts);
                    rep.last_seq = Some(m.seq);
                    rep.last_ts = Some(m.ts);
                    off += m.span;
                }
                Slot::Rollover => {
                    if let Some(at) = seg.first_nonzero(off + 8, seg.size) {
                        return Err(corrupt(idx, at, "data after a rollover marker"));
                    }
                    if k + 1 == segs.len() {
                        // A live writer may have created it after the listing.
                        *segs = list_segments(dir)?;
                        if segs.get(k + 1) != Some(&(idx + 1)) {
                            return Err(corrupt(
                                idx + 1,
                                0,
                                "segment missing after a rollover marker",
                            ));
                        }
                    }
                    break;
                }
                slot @ (Slot::Empty | Slot::Bad(_)) => {
                    let bad = match slot {
                        Slot::Bad(reason) => Some(reason),
                        _ => None,
                    };
                    let state = end_state(&seg, off, bad);
                    if state.is_err() && seg.load_head(off) != head {
                        // A live writer published here and went on while the tail was being
                        // scanned: continue with what it wrote.
                        continue;
                    }
                    *end = Some(End {
                        segment: idx,
                        offset: off,
                        head,
                    });
                    rep.torn_tail = state?;
                    (ended, end_k) = (true, k);
                    break;
                }
            }
        }
        k += 1;
    }
    Ok(())
}
