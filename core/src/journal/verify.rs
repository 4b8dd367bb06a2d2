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
    let segs = list_segments(dir)?;
    if segs.is_empty() {
        return Err(JournalError::NotAJournal {
            path: dir.to_path_buf(),
            reason: "no segment files (NNNNNNNN.twj)",
        });
    }
    let mut rep = VerifyReport {
        segments: segs.len() as u32,
        ..VerifyReport::default()
    };
    match walk(dir, &segs, &mut rep) {
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
    Ok(rep)
}

fn corrupt(segment: u32, offset: usize, reason: impl Into<String>) -> JournalError {
    JournalError::Corrupt {
        segment,
        offset: offset as u64,
        reason: reason.into(),
    }
}

fn walk(dir: &Path, segs: &[u32], rep: &mut VerifyReport) -> Result<(), JournalError> {
    let mut expect: Option<u64> = None;
    // The end of the data has been seen; later segments must be untouched pre-allocations.
    let mut ended = false;
    let mut end_k = 0;
    for (k, &idx) in segs.iter().enumerate() {
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
            continue;
        }
        if k == 0 {
            // A writer sets first_seq before a segment can hold records, and segment 0 starts
            // the journal at seq 1.
            if fs == 0 || (idx == 0 && fs != 1) {
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
                        return Err(corrupt(
                            idx + 1,
                            0,
                            "segment missing after a rollover marker",
                        ));
                    }
                    break;
                }
                Slot::Empty => {
                    rep.torn_tail = end_state(&seg, off, None)?;
                    (ended, end_k) = (true, k);
                    break;
                }
                Slot::Bad(reason) => {
                    rep.torn_tail = end_state(&seg, off, Some(reason))?;
                    (ended, end_k) = (true, k);
                    break;
                }
            }
        }
    }
    Ok(())
}
