//! [`repair`]: cut a damaged journal after its last good record, keeping a backup.
//!
//! Corruption is never cut silently (see [`verify`](super::verify)): a writer refuses to open
//! over it. When the operator has decided what to keep, `repair` makes that decision explicit
//! and reversible: it copies the whole directory aside first, then removes every record after
//! `to_seq` (zeroing the rest of that record's segment and deleting the segments after it),
//! so the journal ends cleanly at `to_seq` and the next run resumes from there.

use std::fs;
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use super::format::{SegMap, io_err, list_contiguous, segment_path, span, sync_dir};
use super::writer::LOCK_FILE;
use super::{JournalError, Reader};

/// What [`repair`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepairReport {
    /// Where the untouched copy of the journal is.
    pub backup: PathBuf,
    /// The last record kept.
    pub kept_to_seq: u64,
    /// The segment the journal now ends in, and the offset where the next record goes.
    pub end_segment: u32,
    /// Offset in `end_segment` after the last record kept.
    pub end_offset: u64,
    /// Segment files removed after it.
    pub removed_segments: u32,
}

/// Cuts the journal in `dir` after record `to_seq`, which must be readable (every record up to
/// it intact), after copying the whole directory to `backup` (which must not exist). Holds the
/// writer lock throughout: fails with [`JournalError::Locked`] while a writer has it open.
pub fn repair(dir: &Path, to_seq: u64, backup: &Path) -> Result<RepairReport, JournalError> {
    let lock_path = dir.join(LOCK_FILE);
    let lock = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(|e| io_err("open lock file", &lock_path, e))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Err(JournalError::Locked { path: lock_path }),
        Err(TryLockError::Error(e)) => return Err(io_err("lock", &lock_path, e)),
    }
    // Where record `to_seq` ends: read up to it (every record before it is validated).
    let mut reader = Reader::open(dir)?;
    let beyond = |why: String| JournalError::Corrupt {
        segment: 0,
        offset: 0,
        reason: format!(
            "record {to_seq} is not in the journal's readable part ({why}): repair keeps only intact records"
        ),
    };
    let (end_segment, end_offset) = loop {
        match reader.next() {
            Ok(Some(r)) if r.seq == to_seq => {
                break (r.pos.segment, r.pos.offset + span(r.payload.len()) as u64);
            }
            Ok(Some(_)) => {}
            Ok(None) => return Err(beyond("the journal ends before it".into())),
            Err(e) => return Err(beyond(format!("reading stops before it: {e}"))),
        }
    };
    drop(reader);
    copy_dir(dir, backup)?;
    let path = segment_path(dir, end_segment);
    let seg = SegMap::open(&path, end_segment, true)?;
    let off = end_offset as usize;
    if let Some(last) = seg.last_nonzero(off, seg.size) {
        seg.zero(off, (last + 1).next_multiple_of(8));
    }
    seg.sync_range(off, seg.size)?;
    drop(seg);
    let mut removed = 0;
    // Highest first, so an interruption leaves no gap in the numbering.
    for i in list_contiguous(dir)?
        .into_iter()
        .rev()
        .filter(|&i| i > end_segment)
    {
        let p = segment_path(dir, i);
        fs::remove_file(&p).map_err(|e| io_err("remove segment", &p, e))?;
        removed += 1;
    }
    sync_dir(dir)?;
    Ok(RepairReport {
        backup: backup.to_path_buf(),
        kept_to_seq: to_seq,
        end_segment,
        end_offset,
        removed_segments: removed,
    })
}

/// Copies every file of `from` (a journal directory: no subdirectories) into a new `to`.
fn copy_dir(from: &Path, to: &Path) -> Result<(), JournalError> {
    fs::create_dir(to).map_err(|e| io_err("create backup directory", to, e))?;
    let entries = fs::read_dir(from).map_err(|e| io_err("read directory", from, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| io_err("read directory", from, e))?;
        let src = entry.path();
        if !src.is_file() || entry.file_name() == LOCK_FILE {
            continue;
        }
        let dst = to.join(entry.file_name());
        fs::copy(&src, &dst).map_err(|e| io_err("copy to backup", &dst, e))?;
        File::open(&dst)
            .and_then(|f| f.sync_all())
            .map_err(|e| io_err("sync backup", &dst, e))?;
    }
    sync_dir(to)
}
