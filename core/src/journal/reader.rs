//! [`Reader`]: reads closed journals and follows live ones.

use std::io;
use std::path::{Path, PathBuf};

use super::format::{
    H_FIRST_SEQ, MAX_SEGMENT_INDEX, REC_HEADER, SEG_HEADER, SegMap, Slot, end_state, list_segments,
    segment_path,
};
use super::{JournalError, Position, TornTail};

/// One record, borrowed from the reader's mapping of its segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordRef<'a> {
    /// Record kind (see [`crate::event::Kind`] for the core's kinds).
    pub kind: u16,
    /// Sequence number.
    pub seq: u64,
    /// Timestamp given to `append`.
    pub ts: u64,
    /// The payload, exactly as appended.
    pub payload: &'a [u8],
    /// Where the record starts.
    pub pos: Position,
}

/// Reads a journal from its first segment, in order, verifying every record's CRC and the
/// continuity of seqs.
///
/// Works on a closed journal and on one a [`Writer`](super::Writer) is appending to, in this
/// or another process: [`Reader::next`] returns `Ok(None)` when no further whole record is
/// available *yet*, and a later call returns what has been appended since (following the
/// writer into new segments). A reader never returns a record that failed validation: damage
/// is an error naming segment and offset, and an unfinished append (torn tail) is where the
/// reader stops ([`Reader::torn_tail`]).
pub struct Reader {
    dir: PathBuf,
    /// The mapped segment `index`, or `None` after a rollover marker until that file is open.
    seg: Option<SegMap>,
    index: u32,
    pos: usize,
    /// The seq the next record must have.
    expect: u64,
    /// The record at `pos` failed validation and looked like an unfinished append.
    torn: Option<TornTail>,
    /// The head word of that record, to notice when a writer replaces it.
    torn_head: Option<(u32, u32)>,
}

impl Reader {
    /// Opens the journal in `dir` at its first record.
    pub fn open(dir: &Path) -> Result<Reader, JournalError> {
        let segs = list_segments(dir)?;
        let Some(&first) = segs.first() else {
            return Err(JournalError::NotAJournal {
                path: dir.to_path_buf(),
                reason: "no segment files (NNNNNNNN.twj)",
            });
        };
        if first != 0 {
            // Reading from a later segment would replay a journal without its start (the
            // sessions, configs and positions of segment 0): refuse it, as verify does.
            return Err(JournalError::Corrupt {
                segment: 0,
                offset: 0,
                reason: format!(
                    "segment file 00000000.twj missing: the journal starts at segment {first:08}"
                ),
            });
        }
        let seg = SegMap::open(&segment_path(dir, first), first, false)?;
        let fs = seg.first_seq();
        // A writer sets first_seq before a segment can hold records, and segment 0 starts
        // the journal at seq 1.
        if fs != 1 {
            return Err(JournalError::Corrupt {
                segment: first,
                offset: H_FIRST_SEQ as u64,
                reason: format!("first segment starts at seq {fs}"),
            });
        }
        let expect = fs;
        Ok(Reader {
            dir: dir.to_path_buf(),
            seg: Some(seg),
            index: first,
            pos: SEG_HEADER,
            expect,
            torn: None,
            torn_head: None,
        })
    }

    /// The next record, `Ok(None)` if there is no further whole record right now (call again
    /// later to follow a live writer), or an error for damaged data (the same error again on
    /// every later call).
    #[allow(clippy::should_implement_trait)] // A lending iterator: records borrow the reader.
    pub fn next(&mut self) -> Result<Option<RecordRef<'_>>, JournalError> {
        let (off, len, kind, seq, ts) = loop {
            if self.seg.is_none() && !self.open_next()? {
                return Ok(None);
            }
            let Some(seg) = self.seg.as_ref() else {
                return Ok(None);
            };
            let off = self.pos;
            // Loaded before the slot is examined, to tell later whether it changed meanwhile.
            let head = seg.load_head(off);
            match seg.slot(off) {
                Slot::Empty => {
                    self.torn = None;
                    return Ok(None);
                }
                Slot::Rollover => {
                    if self.index >= MAX_SEGMENT_INDEX {
                        return Err(JournalError::Corrupt {
                            segment: self.index,
                            offset: off as u64,
                            reason: "rollover marker in the last possible segment".into(),
                        });
                    }
                    self.seg = None;
                    self.index += 1;
                    self.pos = SEG_HEADER;
                }
                Slot::Record(m) => {
                    if m.seq != self.expect {
                        return Err(JournalError::Corrupt {
                            segment: self.index,
                            offset: off as u64,
                            reason: format!("seq {} where {} was expected", m.seq, self.expect),
                        });
                    }
                    self.expect = m.seq + 1;
                    self.pos = off + m.span;
                    self.torn = None;
                    break (off, m.len, m.kind, m.seq, m.ts);
                }
                Slot::Bad(reason) => {
                    // A record with a stored length that does not validate: a writer died
                    // while the bytes were reaching the disk (power loss) if nothing follows
                    // it, damage otherwise.
                    if self.torn.is_some() && self.torn_head == head {
                        // Already classified; classifying scans the rest of the segment.
                        return Ok(None);
                    }
                    let state = end_state(seg, off, Some(reason)).and_then(|torn| {
                        if self.next_segment_has_data()? {
                            return Err(JournalError::Corrupt {
                                segment: self.index,
                                offset: off as u64,
                                reason: format!("{reason} (with a later segment in use)"),
                            });
                        }
                        Ok(torn)
                    });
                    if state.is_err() && seg.load_head(off) != head {
                        // A writer reopening the journal cut this record and appended after
                        // it while it was being examined: look again.
                        continue;
                    }
                    self.torn = state?;
                    self.torn_head = head;
                    return Ok(None);
                }
            }
        };
        let payload = self
            .seg
            .as_ref()
            .and_then(|s| s.bytes(off + REC_HEADER, len))
            .ok_or_else(|| JournalError::Corrupt {
                segment: self.index,
                offset: off as u64,
                reason: "record outside the mapped segment".into(),
            })?;
        Ok(Some(RecordRef {
            kind,
            seq,
            ts,
            payload,
            pos: Position {
                segment: self.index,
                offset: off as u64,
            },
        }))
    }

    /// Where the next record is expected.
    pub fn position(&self) -> Position {
        Position {
            segment: self.index,
            offset: self.pos as u64,
        }
    }

    /// The seq the next record must have.
    pub fn next_seq(&self) -> u64 {
        self.expect
    }

    /// Whether the reader stopped at a torn tail: nonzero bytes where the next record would
    /// be, without a valid record. On a closed journal this is an append its writer did not
    /// finish (it is cut when a writer reopens the journal); while a writer is live it may
    /// simply be an append in progress. `None` when the reader stopped at clean, empty space
    /// or has not stopped.
    pub fn torn_tail(&self) -> Option<TornTail> {
        if self.torn.is_some() {
            return self.torn;
        }
        let seg = self.seg.as_ref()?;
        if !matches!(seg.slot(self.pos), Slot::Empty) {
            return None;
        }
        let end = self.pos.saturating_add(seg.max_span()).min(seg.size);
        let last = seg.last_nonzero(self.pos, end)?;
        Some(TornTail {
            segment: seg.index,
            offset: self.pos as u64,
            bytes: (last + 1 - self.pos) as u64,
        })
    }

    /// Opens segment `self.index` after a rollover marker. `Ok(false)` if it does not exist
    /// yet.
    fn open_next(&mut self) -> Result<bool, JournalError> {
        let path = segment_path(&self.dir, self.index);
        match SegMap::open(&path, self.index, false) {
            Ok(seg) => {
                let fs = seg.first_seq();
                // A writer sets it before writing the marker; 0 only if that store did not reach
                // the disk before a power loss.
                if fs != 0 && fs != self.expect {
                    return Err(JournalError::Corrupt {
                        segment: self.index,
                        offset: H_FIRST_SEQ as u64,
                        reason: format!("segment starts at seq {fs}, {} was expected", self.expect),
                    });
                }
                self.seg = Some(seg);
                Ok(true)
            }
            Err(JournalError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                // A writer publishes a segment before writing the marker that leads to it, so
                // a missing file is a gap if anything comes after it.
                if list_segments(&self.dir)?.iter().any(|&i| i > self.index) {
                    return Err(JournalError::Corrupt {
                        segment: self.index,
                        offset: 0,
                        reason: "segment file missing after a rollover marker".into(),
                    });
                }
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Whether the segment after the current one holds a record or a started one.
    fn next_segment_has_data(&self) -> Result<bool, JournalError> {
        let next = self.index + 1;
        let path = segment_path(&self.dir, next);
        if !path.exists() {
            return Ok(false);
        }
        let seg = SegMap::open(&path, next, false)?;
        Ok(seg
            .first_nonzero(SEG_HEADER, SEG_HEADER + seg.max_span())
            .is_some())
    }
}
