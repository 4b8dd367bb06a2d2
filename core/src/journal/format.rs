//! The on-disk format and bounds-checked access to a mapped segment.
//!
//! Everything that touches mapped memory through a raw pointer lives in [`SegMap`] (plus the
//! writer's hot path, which relies on the same invariants), so the soundness argument is made
//! once, here. Every accessor checks its range against the mapped length, which equals the
//! file length observed when the file was opened: no access can fault unless another process
//! truncates the file afterwards (see the module docs of [`crate::journal`]).

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering, fence};

use memmap2::{MmapOptions, MmapRaw};

use super::{JournalError, TornTail};

/// Segment header magic: the first 8 bytes of every segment file.
pub(crate) const MAGIC: [u8; 8] = *b"TWJRNL\r\n";
/// Current format version. Version 1 used CRC-32 (IEEE) where version 2 uses CRC-32C
/// (Castagnoli); segments of any other version are refused with
/// [`JournalError::UnsupportedVersion`].
pub(crate) const VERSION: u32 = 2;
/// Bytes reserved for the segment header; the first record starts here.
pub(crate) const SEG_HEADER: usize = 64;
/// Bytes of the record header that precedes every payload.
pub(crate) const REC_HEADER: usize = 32;
/// Length word of the "continue in the next segment" marker.
pub(crate) const ROLLOVER: u32 = u32::MAX;
/// Segment sizes must be a multiple of this (the page size of every supported platform).
pub(crate) const PAGE: u64 = 4096;
/// Largest segment index representable in the 8-digit file name.
pub(crate) const MAX_SEGMENT_INDEX: u32 = 99_999_999;
/// File name suffix of a segment.
pub(crate) const SEG_SUFFIX: &str = ".twj";
/// Suffix of a segment still being prepared (`NNNNNNNN.<tag>.tmp`); it is renamed to its final
/// name once complete, so a reader never sees a half-initialised segment under a real name.
const TMP_SUFFIX: &str = ".tmp";

/// Offsets inside the segment header.
const H_VERSION: usize = 8;
const H_INDEX: usize = 12;
const H_SIZE: usize = 16;
const H_MAX_RECORD: usize = 24;
const H_CRC: usize = 28;
/// `first_seq` is not covered by the header CRC: it is written later, when the writer
/// activates the (pre-allocated) segment.
pub(crate) const H_FIRST_SEQ: usize = 32;

/// Offsets inside a record header.
pub(crate) const R_KIND: usize = 8;
pub(crate) const R_SEQ: usize = 16;
pub(crate) const R_TS: usize = 24;

/// Rounds `n` up to the record alignment (8).
#[inline(always)]
pub(crate) const fn align8(n: usize) -> usize {
    (n + 7) & !7
}

/// Bytes a record with an `n`-byte payload occupies, header and padding included.
#[inline(always)]
pub(crate) const fn span(n: usize) -> usize {
    REC_HEADER + align8(n)
}

/// Bytes of the header part of the CRC input: record header bytes 8..32 (kind, reserved,
/// reserved2, seq, ts) followed by the length word as a little-endian `u64`.
pub(crate) const CRC_TAIL: usize = 32;

/// The header part of the CRC input (see [`record_crc`]).
#[inline(always)]
pub(crate) fn crc_tail(kind_word: u64, seq: u64, ts: u64, len_word: u32) -> [u8; CRC_TAIL] {
    let words = [kind_word, seq, ts, u64::from(len_word)];
    let mut out = [0u8; CRC_TAIL];
    for (chunk, w) in out.chunks_exact_mut(8).zip(words) {
        chunk.copy_from_slice(&w.to_le_bytes());
    }
    out
}

/// The CRC of a record: CRC-32C (Castagnoli, as in iSCSI and ext4) of the payload followed by
/// record header bytes 8..32 (kind, reserved, reserved2, seq, ts) and the length word as a
/// little-endian `u64`; it covers kind, seq, ts, len and payload.
pub(crate) fn record_crc(len_word: u32, header_tail: &[u8], payload: &[u8]) -> u32 {
    let crc = crc32c::crc32c_append(crc32c::crc32c(payload), header_tail);
    crc32c::crc32c_append(crc, &u64::from(len_word).to_le_bytes())
}

/// [`record_crc`] with the header part already laid out by [`crc_tail`]: one chain over the
/// payload, then the tail, using the CPU's `crc32` instruction where there is one (the `crc32c`
/// crate checks the feature through the standard library's cached detection, one load per
/// call, and falls back to tables elsewhere).
#[inline(always)]
pub(crate) fn record_crc_tail(payload: &[u8], tail: &[u8; CRC_TAIL]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(payload), tail)
}

/// The CRC of a segment header's bytes 0..28: CRC-32C, like records.
fn header_crc(bytes: &[u8]) -> u32 {
    crc32c::crc32c(bytes)
}

/// The file name of segment `index`.
pub(crate) fn segment_name(index: u32) -> String {
    format!("{index:08}{SEG_SUFFIX}")
}

/// The path of segment `index` in `dir`.
pub(crate) fn segment_path(dir: &Path, index: u32) -> PathBuf {
    dir.join(segment_name(index))
}

/// Parses `NNNNNNNN.twj`.
fn parse_segment_name(name: &str) -> Option<u32> {
    let digits = name.strip_suffix(SEG_SUFFIX)?;
    if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Whether `name` is a temporary segment (`NNNNNNNN.<tag>.tmp`) left by an interrupted
/// preparation.
pub(crate) fn is_tmp_name(name: &str) -> bool {
    name.len() > 13
        && name.ends_with(TMP_SUFFIX)
        && name.as_bytes()[..8].iter().all(u8::is_ascii_digit)
        && name.as_bytes()[8] == b'.'
}

/// Wraps an I/O error with the path and the operation that failed.
pub(crate) fn io_err(op: &'static str, path: &Path, source: io::Error) -> JournalError {
    JournalError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Segment indices present in `dir`, ascending.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<u32>, JournalError> {
    let rd = fs::read_dir(dir).map_err(|e| io_err("read directory", dir, e))?;
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| io_err("read directory", dir, e))?;
        if let Some(i) = entry.file_name().to_str().and_then(parse_segment_name) {
            out.push(i);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Segment indices, failing if there are none or if there is a gap in the numbering (older
/// segments may have been removed by retention, so the first index need not be 0).
pub(crate) fn list_contiguous(dir: &Path) -> Result<Vec<u32>, JournalError> {
    let segs = list_segments(dir)?;
    if segs.is_empty() {
        return Err(JournalError::NotAJournal {
            path: dir.to_path_buf(),
            reason: "no segment files (NNNNNNNN.twj)",
        });
    }
    if segs[0] != 0 {
        // The journal starts in segment 0 (seq 1): without it the sessions, configs and
        // positions it held are gone, and whatever follows cannot be trusted as a whole.
        return Err(JournalError::Corrupt {
            segment: 0,
            offset: 0,
            reason: format!(
                "segment file {:08}.twj missing: the journal starts at segment {:08}",
                0, segs[0]
            ),
        });
    }
    for w in segs.windows(2) {
        if w[1] != w[0] + 1 {
            return Err(JournalError::Corrupt {
                segment: w[0] + 1,
                offset: 0,
                reason: "segment file missing (gap in numbering)".into(),
            });
        }
    }
    Ok(segs)
}

/// A decoded segment header.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SegHeader {
    pub index: u32,
    pub size: u64,
    pub max_record: u32,
}

impl SegHeader {
    /// The 64 header bytes, with `first_seq`.
    pub(crate) fn encode(&self, first_seq: u64) -> [u8; SEG_HEADER] {
        let mut h = [0u8; SEG_HEADER];
        h[..8].copy_from_slice(&MAGIC);
        h[H_VERSION..H_VERSION + 4].copy_from_slice(&VERSION.to_le_bytes());
        h[H_INDEX..H_INDEX + 4].copy_from_slice(&self.index.to_le_bytes());
        h[H_SIZE..H_SIZE + 8].copy_from_slice(&self.size.to_le_bytes());
        h[H_MAX_RECORD..H_MAX_RECORD + 4].copy_from_slice(&self.max_record.to_le_bytes());
        let crc = header_crc(&h[..H_CRC]);
        h[H_CRC..H_CRC + 4].copy_from_slice(&crc.to_le_bytes());
        h[H_FIRST_SEQ..H_FIRST_SEQ + 8].copy_from_slice(&first_seq.to_le_bytes());
        h
    }

    /// The smallest legal segment for `max_record`: header, one maximal record, the rollover
    /// marker slot.
    pub(crate) fn min_size(max_record: u32) -> u64 {
        (SEG_HEADER + span(max_record as usize) + REC_HEADER) as u64
    }
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(w)
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

/// What lies at a record slot.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Slot {
    /// Length word 0: no record (yet).
    Empty,
    /// Rollover marker: continue at the start of the next segment.
    Rollover,
    /// A whole, CRC-valid record.
    Record(RecMeta),
    /// A stored length word whose record does not validate.
    Bad(&'static str),
}

/// A validated record's header fields; the payload is at `off + REC_HEADER`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RecMeta {
    pub kind: u16,
    pub seq: u64,
    pub ts: u64,
    pub len: usize,
    pub span: usize,
}

/// One mapped segment file.
///
/// Invariants relied on by every accessor: `map.len() == size` (the file length when it was
/// opened, equal to the header's size once validated); `map` is page aligned, so any 8-aligned
/// offset is 8-aligned in memory.
pub(crate) struct SegMap {
    pub index: u32,
    pub path: PathBuf,
    map: MmapRaw,
    /// Mapped length in bytes.
    pub size: usize,
    /// The maximum payload length recorded in the header (0 until validated).
    pub max_record: u32,
    writable: bool,
}

impl SegMap {
    /// Opens and maps an existing segment, validating its header. The mapping covers the whole
    /// file; a file shorter than the header claims is reported, never mapped past its end.
    pub(crate) fn open(path: &Path, index: u32, writable: bool) -> Result<Self, JournalError> {
        let file = OpenOptions::new()
            .read(true)
            .write(writable)
            .open(path)
            .map_err(|e| io_err("open segment", path, e))?;
        let len = file
            .metadata()
            .map_err(|e| io_err("stat segment", path, e))?
            .len();
        if len < SEG_HEADER as u64 {
            return Err(JournalError::Truncated {
                segment: index,
                len,
                expected: None,
            });
        }
        let size = usize::try_from(len).map_err(|_| JournalError::BadHeader {
            segment: index,
            reason: "segment larger than the address space".into(),
        })?;
        let mut opts = MmapOptions::new();
        opts.len(size);
        let map = if writable {
            opts.map_raw(&file)
        } else {
            opts.map_raw_read_only(&file)
        }
        .map_err(|e| io_err("map segment", path, e))?;
        let mut seg = SegMap {
            index,
            path: path.to_path_buf(),
            map,
            size,
            max_record: 0,
            writable,
        };
        seg.validate_header(index)?;
        Ok(seg)
    }

    /// Creates segment `hdr.index` under a temporary name (`NNNNNNNN.<tag>.tmp`), sized,
    /// mapped and with its header written. `tag` keeps the temporary files of the preparer and
    /// of the writer apart, since both may be making a segment at once. When `prefault` is given,
    /// the header is synced and every page is touched with a write, so that the writer's first
    /// store to it does not fault; the flag aborts the work (the writer is closing). The caller
    /// publishes the segment with [`SegMap::publish`].
    pub(crate) fn create(
        dir: &Path,
        hdr: SegHeader,
        first_seq: u64,
        prefault: Option<&AtomicBool>,
        tag: &str,
    ) -> Result<Self, JournalError> {
        let tmp = dir.join(format!("{:08}.{tag}{TMP_SUFFIX}", hdr.index));
        let mut opts = OpenOptions::new();
        opts.read(true).write(true).create(true).truncate(true);
        // Journals hold fills, positions and configs: readable by their owner only.
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let file = opts
            .open(&tmp)
            .map_err(|e| io_err("create segment", &tmp, e))?;
        // Reserve the disk blocks before the file is used, whoever creates it (the first
        // segment, the preparer, the writer's synchronous fallback): a full disk is then an
        // error here, never a SIGBUS at the first store to a page of a sparse file.
        if let Err(e) = allocate(&file, 0, hdr.size) {
            let _ = fs::remove_file(&tmp);
            return Err(io_err("allocate segment", &tmp, e));
        }
        // Sets the size where blocks cannot be allocated ahead (file systems without
        // fallocate, other systems).
        file.set_len(hdr.size)
            .map_err(|e| io_err("size segment", &tmp, e))?;
        let size = usize::try_from(hdr.size).map_err(|_| JournalError::InvalidConfig {
            reason: "segment_bytes larger than the address space",
        })?;
        let map = MmapOptions::new()
            .len(size)
            .map_raw(&file)
            .map_err(|e| io_err("map segment", &tmp, e))?;
        let mut seg = SegMap {
            index: hdr.index,
            path: tmp,
            map,
            size,
            max_record: hdr.max_record,
            writable: true,
        };
        seg.write_header(hdr, first_seq);
        if let Some(stop) = prefault {
            seg.map
                .flush_range(0, SEG_HEADER)
                .map_err(|e| io_err("sync segment header", &seg.path, e))?;
            let mut off = PAGE as usize;
            while off < size {
                if off.is_multiple_of(256 * PAGE as usize) && stop.load(Ordering::Relaxed) {
                    let _ = fs::remove_file(&seg.path);
                    return Err(JournalError::Interrupted);
                }
                // SAFETY: `off < size`, the mapping is writable and still private to this thread
                // (temporary name, not yet handed to the writer). Storing the zero the page
                // already holds changes nothing; the volatile store just cannot be elided, so the
                // kernel really maps the page writable now rather than in the writer's hot path.
                unsafe { ptr::write_volatile(seg.map.as_mut_ptr().add(off), 0u8) };
                off += PAGE as usize;
            }
        }
        Ok(seg)
    }

    /// Writes the header of a segment that is not published yet.
    fn write_header(&mut self, hdr: SegHeader, first_seq: u64) {
        debug_assert!(self.writable && self.size >= SEG_HEADER);
        let bytes = hdr.encode(first_seq);
        // SAFETY: the mapping is writable and at least SEG_HEADER long (segment sizes are
        // validated against `min_size`), and `&mut self` on a segment that still has its
        // temporary name means no other handle or process can be looking at these bytes.
        unsafe { ptr::copy_nonoverlapping(bytes.as_ptr(), self.map.as_mut_ptr(), SEG_HEADER) };
        self.index = hdr.index;
    }

    /// Renumbers a prepared segment that has not been published (the preparer made it for an
    /// index the writer then created itself; it serves for the next one instead of being
    /// thrown away with all its pre-faulting).
    pub(crate) fn renumber(&mut self, index: u32) {
        let hdr = SegHeader {
            index,
            size: self.size as u64,
            max_record: self.max_record,
        };
        self.write_header(hdr, 0);
    }

    /// Renames a segment made by [`SegMap::create`] to its final name, so that the file appears
    /// complete (sized, with a header) or not at all. Does not sync the directory: callers off
    /// the hot path do that with [`sync_dir`], the flush thread does it after a rollover.
    pub(crate) fn publish(&mut self, dir: &Path) -> Result<(), JournalError> {
        let dst = segment_path(dir, self.index);
        fs::rename(&self.path, &dst).map_err(|e| io_err("rename segment", &dst, e))?;
        self.path = dst;
        Ok(())
    }

    fn validate_header(&mut self, expect_index: u32) -> Result<(), JournalError> {
        let bad = |reason: String| JournalError::BadHeader {
            segment: expect_index,
            reason,
        };
        // The header bytes other than first_seq never change after the file got its final name;
        // first_seq may be stored by the writer right now, so it is only ever loaded atomically.
        let h = self
            .bytes(0, H_FIRST_SEQ)
            .ok_or_else(|| bad("header out of range".into()))?;
        let pad = self
            .bytes(H_FIRST_SEQ + 8, SEG_HEADER - H_FIRST_SEQ - 8)
            .ok_or_else(|| bad("header out of range".into()))?;
        if h[..8] != MAGIC {
            return Err(bad("bad magic (not a tickwire journal segment)".into()));
        }
        let version = le_u32(h, H_VERSION);
        let stored_crc = le_u32(h, H_CRC);
        if version != VERSION {
            // A genuine segment of another version, as opposed to a damaged version field: its
            // header CRC holds under that version's algorithm (CRC-32 for version 1; later
            // versions are to keep the CRC-32C header).
            let genuine = (version == 1 && stored_crc == crc32fast::hash(&h[..H_CRC]))
                || stored_crc == header_crc(&h[..H_CRC]);
            if genuine {
                return Err(JournalError::UnsupportedVersion {
                    segment: expect_index,
                    version,
                    supported: VERSION,
                });
            }
        }
        if stored_crc != header_crc(&h[..H_CRC]) {
            return Err(bad("header CRC mismatch".into()));
        }
        if pad.iter().any(|&b| b != 0) {
            return Err(bad("nonzero reserved header bytes".into()));
        }
        let index = le_u32(h, H_INDEX);
        if index != expect_index {
            return Err(bad(format!("header says segment {index}")));
        }
        let size = le_u64(h, H_SIZE);
        let max_record = le_u32(h, H_MAX_RECORD);
        if !size.is_multiple_of(8) || max_record == 0 || size < SegHeader::min_size(max_record) {
            return Err(bad(format!(
                "inconsistent size {size} / max record {max_record}"
            )));
        }
        if (self.size as u64) < size {
            return Err(JournalError::Truncated {
                segment: expect_index,
                len: self.size as u64,
                expected: Some(size),
            });
        }
        if (self.size as u64) > size {
            return Err(bad(format!(
                "file is {} bytes, header says {size}",
                self.size
            )));
        }
        self.max_record = max_record;
        Ok(())
    }

    /// The header's `first_seq` (0 while the segment is pre-allocated but not yet in use).
    pub(crate) fn first_seq(&self) -> u64 {
        u64::from_le(self.load_u64(H_FIRST_SEQ).unwrap_or(0))
    }

    /// Sets `first_seq` (writer only, when it activates the segment).
    pub(crate) fn set_first_seq(&self, seq: u64) {
        self.store_u64(H_FIRST_SEQ, seq.to_le());
    }

    /// Bytes a maximal record occupies in this segment: the torn-tail window.
    pub(crate) fn max_span(&self) -> usize {
        span(self.max_record as usize)
    }

    /// Raw base pointer for the writer's hot path.
    pub(crate) fn base(&self) -> *mut u8 {
        self.map.as_mut_ptr()
    }

    /// The published bytes `[off, off + len)`, or `None` if out of range.
    ///
    /// Only for bytes that no one writes any more: the segment header (immutable once the file
    /// has its final name) and records whose length word was loaded with acquire semantics
    /// (immutable once published; see the module docs).
    pub(crate) fn bytes(&self, off: usize, len: usize) -> Option<&[u8]> {
        let end = off.checked_add(len)?;
        if end > self.size {
            return None;
        }
        // SAFETY: `[off, end)` lies inside the live mapping (`end <= size == map.len()`), which
        // outlives `&self`. The caller only asks for bytes that are immutable while mapped (see
        // above), so no write can overlap the returned shared slice.
        Some(unsafe { std::slice::from_raw_parts(self.map.as_ptr().add(off), len) })
    }

    /// Loads the first word of a record slot: `(len, crc)`. The writer publishes a record by
    /// storing this whole 8-byte word last, with release ordering; here it is a relaxed 8-byte
    /// load followed by an acquire fence, which synchronises the same way, and is the form the
    /// standard library guarantees to work on read-only mappings (how readers map segments).
    pub(crate) fn load_head(&self, off: usize) -> Option<(u32, u32)> {
        let w = u64::from_le(self.load_u64(off)?);
        fence(Ordering::Acquire);
        Some((w as u32, (w >> 32) as u32))
    }

    /// A relaxed 8-byte atomic load.
    ///
    /// Every access to a word that may be written concurrently (record space beyond the last
    /// published record, `first_seq`) is an aligned 8-byte atomic on both sides, so there is
    /// neither a data race nor a mixed-size access.
    pub(crate) fn load_u64(&self, off: usize) -> Option<u64> {
        if !off.is_multiple_of(8) || off.checked_add(8)? > self.size {
            return None;
        }
        // SAFETY: `off` is 8-aligned and the mapping page aligned, so the pointer is aligned for
        // `AtomicU64`; `[off, off + 8)` is inside the mapping, which outlives the reference.
        // Concurrent writers of such words use 8-byte atomic stores (see above). The reference
        // is only used for a relaxed load, which is valid on read-only mappings on the 64-bit
        // targets this crate supports (see the `core::sync::atomic` docs).
        let a = unsafe { AtomicU64::from_ptr(self.map.as_mut_ptr().add(off).cast::<u64>()) };
        Some(a.load(Ordering::Relaxed))
    }

    /// A relaxed 8-byte store (writer only, off the hot path).
    pub(crate) fn store_u64(&self, off: usize, v: u64) {
        self.store_word(off, v, Ordering::Relaxed);
    }

    /// Publishes a record head (length word and CRC) or a rollover marker: a release store that
    /// makes everything written before it visible to a reader that loads the word.
    pub(crate) fn store_head(&self, off: usize, len: u32, crc: u32) {
        let w = u64::from(len) | (u64::from(crc) << 32);
        self.store_word(off, w.to_le(), Ordering::Release);
    }

    fn store_word(&self, off: usize, v: u64, order: Ordering) {
        assert!(self.writable && off.is_multiple_of(8) && off + 8 <= self.size);
        // SAFETY: a writable mapping; aligned and in bounds (asserted: this is never on the hot
        // path). Atomic, so it cannot race with the 8-byte atomic loads of readers.
        let a = unsafe { AtomicU64::from_ptr(self.map.as_mut_ptr().add(off).cast::<u64>()) };
        a.store(v, order);
    }

    /// Zeroes `[from, to)` (writer only; 8-aligned bounds). Ascending, so a torn record's
    /// length word, at `from`, is cleared before its body.
    pub(crate) fn zero(&self, from: usize, to: usize) {
        let to = to.min(self.size);
        let mut off = from;
        while off + 8 <= to {
            self.store_u64(off, 0);
            off += 8;
        }
    }

    /// The nonzero bytes of the aligned word at `word` that lie in `[from, to)`, as offsets.
    fn nonzero_in_word(
        &self,
        word: usize,
        from: usize,
        to: usize,
    ) -> impl DoubleEndedIterator<Item = usize> {
        let bytes = self.load_u64(word).unwrap_or(0).to_ne_bytes();
        (0..8).filter_map(move |i| {
            let o = word + i;
            (o >= from && o < to && bytes[i] != 0).then_some(o)
        })
    }

    /// The first offset in `[from, to)` holding a nonzero byte (8-byte atomic loads only).
    pub(crate) fn first_nonzero(&self, from: usize, to: usize) -> Option<usize> {
        let to = to.min(self.size);
        let mut word = from & !7;
        while word < to {
            // Zero words are the common case by far: test the whole word first.
            if self.load_u64(word).is_some_and(|w| w != 0)
                && let Some(o) = self.nonzero_in_word(word, from, to).next()
            {
                return Some(o);
            }
            word += 8;
        }
        None
    }

    /// The last offset in `[from, to)` holding a nonzero byte (8-byte atomic loads only).
    pub(crate) fn last_nonzero(&self, from: usize, to: usize) -> Option<usize> {
        let to = to.min(self.size);
        if from >= to {
            return None;
        }
        let mut word = (to - 1) & !7;
        loop {
            if self.load_u64(word).is_some_and(|w| w != 0)
                && let Some(o) = self.nonzero_in_word(word, from, to).next_back()
            {
                return Some(o);
            }
            if word <= from & !7 {
                return None;
            }
            word -= 8;
        }
    }

    /// Examines the record slot at `off` (8-aligned, at or after the segment header).
    pub(crate) fn slot(&self, off: usize) -> Slot {
        if !off.is_multiple_of(8) || off < SEG_HEADER || off + REC_HEADER > self.size {
            return Slot::Bad("record offset outside the segment");
        }
        let Some((lw, crc)) = self.load_head(off) else {
            return Slot::Bad("record offset outside the segment");
        };
        match lw {
            0 => return Slot::Empty,
            // The marker is the whole word; anything else in it is damage.
            ROLLOVER if crc == 0 => return Slot::Rollover,
            _ => {}
        }
        let lw_us = lw as usize;
        if lw_us < REC_HEADER {
            return Slot::Bad("length word smaller than the record header");
        }
        let len = lw_us - REC_HEADER;
        if len > self.max_record as usize {
            return Slot::Bad("length word exceeds the segment's maximum record size");
        }
        let span = span(len);
        // The last REC_HEADER bytes of a segment are reserved for the rollover marker.
        if off + span > self.size - REC_HEADER {
            return Slot::Bad("record overruns the end of the segment");
        }
        // The length word was loaded with acquire semantics, so the whole span is published and
        // immutable (or the record is an abandoned torn one, see the module docs).
        let Some(rec) = self.bytes(off, span) else {
            return Slot::Bad("record offset outside the segment");
        };
        if crc
            != record_crc(
                lw,
                &rec[R_KIND..REC_HEADER],
                &rec[REC_HEADER..REC_HEADER + len],
            )
        {
            return Slot::Bad("CRC mismatch");
        }
        if rec[R_KIND + 2..R_SEQ].iter().any(|&b| b != 0) {
            return Slot::Bad("nonzero reserved header field");
        }
        if rec[REC_HEADER + len..].iter().any(|&b| b != 0) {
            return Slot::Bad("nonzero padding after the payload");
        }
        Slot::Record(RecMeta {
            kind: u16::from_le_bytes([rec[R_KIND], rec[R_KIND + 1]]),
            seq: le_u64(rec, R_SEQ),
            ts: le_u64(rec, R_TS),
            len,
            span,
        })
    }

    /// Maps the pages of `[from, to)` writable without accessing them (Linux
    /// `MADV_POPULATE_WRITE`; an error elsewhere or on kernels before 5.14).
    pub(crate) fn populate(&self, from: usize, to: usize) -> Result<(), JournalError> {
        let to = to.min(self.size);
        if from >= to {
            return Ok(());
        }
        #[cfg(target_os = "linux")]
        let r = self
            .map
            .advise_range(memmap2::Advice::PopulateWrite, from, to - from);
        #[cfg(not(target_os = "linux"))]
        let r = Err(std::io::Error::from(std::io::ErrorKind::Unsupported));
        r.map_err(|e| io_err("pre-fault segment", &self.path, e))
    }

    /// Synchronously writes `[from, to)` back to the file (`msync(MS_SYNC)`).
    pub(crate) fn sync_range(&self, from: usize, to: usize) -> Result<(), JournalError> {
        let to = to.min(self.size);
        if from >= to {
            return Ok(());
        }
        self.map
            .flush_range(from, to - from)
            .map_err(|e| io_err("msync segment", &self.path, e))
    }
}

/// Classifies the end of the data in `seg` at `off`, where the slot is empty (`bad` is `None`)
/// or holds a record that does not validate (`bad` says why).
///
/// An interrupted append leaves the bytes of *one* record and nothing after it: the record is
/// published by its length word, stored last, so a process crash leaves either a whole record
/// or one without a length; a power cut may also leave a record whose length reached the disk
/// before the rest of it. Such bytes are a torn tail, cut when the journal is next opened for
/// append. Anything else is damage to committed data, reported as corruption and never cut:
/// - a valid record anywhere after `off` (committed data follows the hole);
/// - for a record whose length word is intact, any nonzero byte past that record's own span;
/// - otherwise, nonzero bytes beyond one maximal record of `off`.
pub(crate) fn end_state(
    seg: &SegMap,
    off: usize,
    bad: Option<&'static str>,
) -> Result<Option<TornTail>, JournalError> {
    let Some(last) = seg.last_nonzero(off, seg.size) else {
        return Ok(None);
    };
    let what = bad.unwrap_or("bytes of an unpublished record");
    if let Some(at) = valid_record_after(seg, off, last) {
        return Err(JournalError::Corrupt {
            segment: seg.index,
            offset: off as u64,
            reason: format!(
                "{what}, followed by a valid record at offset {at}: committed data, not an unfinished append"
            ),
        });
    }
    // With an intact length word the torn record's extent is known.
    let own_span = seg
        .load_head(off)
        .map(|(lw, _)| lw as usize)
        .filter(|&lw| lw >= REC_HEADER && lw - REC_HEADER <= seg.max_record as usize)
        .map(|lw| span(lw - REC_HEADER));
    let window_end = off
        .saturating_add(own_span.unwrap_or_else(|| seg.max_span()))
        .min(seg.size);
    if last < window_end {
        return Ok(Some(TornTail {
            segment: seg.index,
            offset: off as u64,
            bytes: (last + 1 - off) as u64,
        }));
    }
    Err(match bad {
        Some(reason) => JournalError::Corrupt {
            segment: seg.index,
            offset: off as u64,
            reason: format!("{reason} (with more data after it)"),
        },
        None => {
            let at = seg
                .first_nonzero(window_end, seg.size)
                .unwrap_or(window_end);
            JournalError::Corrupt {
                segment: seg.index,
                offset: at as u64,
                reason: format!("nonzero bytes {} past the end of the records", at - off),
            }
        }
    })
}

/// The first 8-aligned offset in `(off, last]` holding a record that validates, if any. Only
/// read on the recovery and verify paths, over at most the bytes after the end of the records.
fn valid_record_after(seg: &SegMap, off: usize, last: usize) -> Option<usize> {
    let limit = last.min(seg.size.saturating_sub(REC_HEADER));
    (off + 8..=limit)
        .step_by(8)
        .find(|&o| matches!(seg.slot(o), Slot::Record(_)))
}

/// Reserves disk blocks for `[offset, offset + len)` of `file` (Linux `fallocate`, mode 0: no
/// data changes, the file grows if needed). Elsewhere, or where the file system cannot do it,
/// nothing happens: the file stays sparse and blocks are allocated as pages are first written.
pub(crate) fn allocate(file: &File, offset: u64, len: u64) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let (Ok(off), Ok(len)) = (libc::off_t::try_from(offset), libc::off_t::try_from(len)) else {
            return Err(io::ErrorKind::InvalidInput.into());
        };
        // SAFETY: fallocate(2) on a descriptor `file` owns and keeps open for the call; it
        // takes no pointers. Mode 0 only allocates blocks (and extends the size), it never
        // changes data, so it is harmless even while the range is being written through a
        // mapping.
        let r = unsafe { libc::fallocate(file.as_raw_fd(), 0, off, len) };
        if r != 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EOPNOTSUPP) {
                return Err(e);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (file, offset, len);
    Ok(())
}

/// Syncs a directory so that renames and unlinks in it are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), JournalError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err("sync directory", dir, e))
}

/// Syncs a whole segment file by path (used for finished segments, where there are no
/// pre-faulted pages ahead of the writer whose write-back would cost it a fault).
pub(crate) fn sync_file(path: &Path) -> Result<(), JournalError> {
    File::open(path)
        .and_then(|f| f.sync_data())
        .map_err(|e| io_err("sync segment", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(segment_name(0), "00000000.twj");
        assert_eq!(segment_name(42), "00000042.twj");
        assert_eq!(parse_segment_name("00000042.twj"), Some(42));
        assert_eq!(parse_segment_name("0000042.twj"), None);
        assert_eq!(parse_segment_name("00000042.twj.tmp"), None);
        assert_eq!(parse_segment_name("0000004x.twj"), None);
        assert!(is_tmp_name("00000042.prep.tmp"));
        assert!(!is_tmp_name("00000042.twj"));
        assert!(!is_tmp_name("writer.lock"));
    }

    /// Bitwise CRC-32C (reflected polynomial 0x82F63B78), independent of the `crc32c` crate.
    fn reference_crc32c(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = (crc >> 1) ^ (0x82F6_3B78 & (crc & 1).wrapping_neg());
            }
        }
        !crc
    }

    #[test]
    fn record_crc_is_crc32c_of_payload_then_tail() {
        // The standard check value of CRC-32C.
        assert_eq!(reference_crc32c(b"123456789"), 0xE306_9283);
        let data: Vec<u8> = (0..3000u32).map(|i| (i * 37 + 11) as u8).collect();
        for n in [0usize, 1, 7, 8, 15, 16, 64, 88, 127, 128, 129, 2000] {
            for (i, lw) in [32u32, 96, 4128, u32::MAX - 1].into_iter().enumerate() {
                let tail = crc_tail(0x1234 + i as u64, 99 + n as u64, 1 << 40, lw);
                let payload = &data[i..i + n];
                let mut all = payload.to_vec();
                all.extend_from_slice(&tail);
                let want = reference_crc32c(&all);
                assert_eq!(record_crc(lw, &tail[..24], payload), want, "n {n}");
                assert_eq!(record_crc_tail(payload, &tail), want, "n {n}");
            }
        }
    }

    #[test]
    fn header_crc_is_crc32c() {
        let hdr = SegHeader {
            index: 5,
            size: 1 << 20,
            max_record: 4096,
        };
        let h = hdr.encode(9);
        assert_eq!(le_u32(&h, H_VERSION), 2);
        assert_eq!(le_u32(&h, H_CRC), reference_crc32c(&h[..H_CRC]));
    }

    #[test]
    fn header_round_trip_and_scans() {
        let dir = tempfile::tempdir().unwrap();
        let hdr = SegHeader {
            index: 2,
            size: 8192,
            max_record: 512,
        };
        let stop = AtomicBool::new(false);
        let mut seg = SegMap::create(dir.path(), hdr, 0, Some(&stop), "t").unwrap();
        // Made for 2, used for 3.
        seg.renumber(3);
        seg.publish(dir.path()).unwrap();
        seg.set_first_seq(7);
        drop(seg);
        assert!(!segment_path(dir.path(), 2).exists());
        let seg = SegMap::open(&segment_path(dir.path(), 3), 3, false).unwrap();
        assert_eq!(seg.first_seq(), 7);
        assert_eq!(seg.max_record, 512);
        assert_eq!(seg.max_span(), 32 + 512);
        assert!(matches!(seg.slot(64), Slot::Empty));
        assert!(matches!(seg.slot(60), Slot::Bad(_)));
        assert!(matches!(seg.slot(8192 - 16), Slot::Bad(_)));
        assert_eq!(seg.first_nonzero(64, 8192), None);
        assert_eq!(seg.last_nonzero(0, 64), Some(H_FIRST_SEQ));
        assert_eq!(seg.first_nonzero(1, 64), Some(1));
        assert_eq!(seg.load_head(8190), None);
        assert_eq!(seg.load_head(8184), Some((0, 0)));
        assert_eq!(seg.bytes(8000, 193), None);
        assert!(SegMap::open(&segment_path(dir.path(), 3), 4, false).is_err());
    }
}
