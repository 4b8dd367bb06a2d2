//! [`Writer`]: appends records, recovers a crashed journal, runs the background threads.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::format::{
    MAX_SEGMENT_INDEX, PAGE, R_KIND, R_SEQ, R_TS, REC_HEADER, ROLLOVER, SEG_HEADER, SegHeader,
    SegMap, Slot, allocate, crc_tail, end_state, io_err, is_tmp_name, list_contiguous,
    list_segments, record_crc_tail, segment_path, span, sync_dir, sync_file,
};
use super::{JournalConfig, JournalError, Position, TornTail};

/// Name of the lock file that keeps a second writer out.
/// The writer's lock file in a journal directory (held by the writer and by `repair`).
pub(crate) const LOCK_FILE: &str = "writer.lock";

/// How long a rollover waits for a segment the preparer has claimed (it is only renaming and
/// syncing the directory by then) before adopting or creating it itself.
const PREPARE_WAIT: Duration = Duration::from_secs(30);

/// What [`Writer::open`] found and did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenReport {
    /// The journal did not exist and was created.
    pub created: bool,
    /// The segment appends continue in.
    pub active_segment: u32,
    /// The seq the next append gets.
    pub next_seq: u64,
    /// The unfinished append that was cut (zeroed), if any.
    pub torn_tail: Option<TornTail>,
    /// Pre-allocated segments after the active one that were deleted (they are re-created as
    /// needed; deleting them makes a config change of `segment_bytes` take effect at once).
    pub removed_segments: u32,
}

/// Counters of the writer's slow paths.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Segment switches.
    pub rollovers: u64,
    /// Rollovers that found no prepared segment and created one in the appending thread.
    pub sync_creates: u64,
    /// Rollovers that waited for the preparer to finish publishing a segment.
    pub prepare_waits: u64,
    /// Background segment preparations that failed (the writer then creates synchronously).
    pub prepare_errors: u64,
    /// Background write-backs that failed (retried at the next interval).
    pub flush_errors: u64,
}

/// The writer's position, padded to its own cache line: the hot path stores it on every append
/// and the background threads read it rarely, so it must not share a line with anything else.
#[repr(align(64))]
struct Published(AtomicU64);

/// State shared with the background threads.
struct Shared {
    /// `(segment << 32) | (offset / 8)` of the end of the last published record.
    pos: Published,
    /// Highest segment index whose creation has been claimed (by the preparer or the writer),
    /// so that the two never make the same segment.
    created: AtomicU32,
    /// Every segment below this index has been fully written back by the flusher.
    synced_below: AtomicU32,
    stop: AtomicBool,
    prepare_errors: AtomicU64,
    flush_errors: AtomicU64,
}

#[inline(always)]
fn pack(index: u32, pos: usize) -> u64 {
    (u64::from(index) << 32) | (pos as u64 >> 3)
}

fn unpack(w: u64) -> (u32, usize) {
    ((w >> 32) as u32, ((w & 0xffff_ffff) << 3) as usize)
}

/// A segment the preparer made, for index `.0`.
type Prepared = (u32, Result<SegMap, JournalError>);

/// The single writer of a journal directory.
///
/// Appends are wait-free in the common case: they copy the payload into the mapped segment,
/// compute the CRC and publish the record with one release store. Two background threads
/// (`twj-prepare`, `twj-flush`) prepare the next segment and write appended data back to disk.
/// Dropping the writer flushes synchronously and stops them.
///
/// ```no_run
/// use tickwire_core::journal::{JournalConfig, Writer};
/// # fn main() -> Result<(), tickwire_core::journal::JournalError> {
/// let (mut w, report) = Writer::open("journal".as_ref(), JournalConfig::default())?;
/// let seq = w.append(7, 1_700_000_000_000_000_000, b"payload")?;
/// assert_eq!(seq, report.next_seq);
/// # Ok(()) }
/// ```
pub struct Writer {
    // Hot fields, read on every append.
    /// Base of the active segment's mapping (owned by `seg`).
    base: *mut u8,
    /// Offset where the next record goes.
    pos: usize,
    /// A record must end at or before this offset (the rest is reserved for the marker).
    limit: usize,
    /// Largest payload the active segment accepts without rolling over.
    seg_max: usize,
    next_seq: u64,
    index: u32,
    shared: Arc<Shared>,
    seg: SegMap,
    // Cold fields.
    dir: PathBuf,
    cfg: JournalConfig,
    ready_rx: Receiver<Prepared>,
    retire_tx: SyncSender<SegMap>,
    preparer: Option<JoinHandle<()>>,
    flusher: Option<JoinHandle<()>>,
    /// `flush` has written back the active segment up to here.
    synced_pos: usize,
    /// Segments below this index hold nothing `flush` still has to write back.
    unsynced_from: u32,
    stats: WriterStats,
    _lock: File,
}

// SAFETY: the only field that is not `Send` is `base`, a pointer into the mapping owned by
// `self.seg`; the mapping moves with the writer and no other thread dereferences `base`. The
// background threads share only `Shared` (atomics) and their own mappings.
unsafe impl Send for Writer {}

impl Writer {
    /// Opens the journal in `dir` for appending, creating the directory and the journal if they
    /// do not exist.
    ///
    /// An existing journal is recovered: the active segment is scanned, every valid record is
    /// kept, an unfinished append at the end (a torn tail: bytes without a stored length, or a
    /// final record whose CRC fails) is zeroed, and the sequence continues after the last valid
    /// record. Anything else that does not validate is reported as
    /// [`JournalError::Corrupt`] and nothing is modified. Fails with [`JournalError::Locked`] if
    /// another writer has the journal open.
    pub fn open(dir: &Path, cfg: JournalConfig) -> Result<(Writer, OpenReport), JournalError> {
        cfg.validate()?;
        let mut mkdir = fs::DirBuilder::new();
        mkdir.recursive(true);
        // The owner's only: a journal holds fills, positions and configs.
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut mkdir, 0o700);
        mkdir
            .create(dir)
            .map_err(|e| io_err("create directory", dir, e))?;
        let lock_path = dir.join(LOCK_FILE);
        let mut opts = OpenOptions::new();
        opts.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let lock = opts
            .open(&lock_path)
            .map_err(|e| io_err("open lock file", &lock_path, e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(JournalError::Locked { path: lock_path }),
            Err(TryLockError::Error(e)) => return Err(io_err("lock", &lock_path, e)),
        }
        remove_tmp_files(dir)?;

        let (seg, pos, report, unsynced) = if list_segments(dir)?.is_empty() {
            let mut seg = SegMap::create(dir, header(0, &cfg), 1, None, "sync")?;
            seg.sync_range(0, SEG_HEADER)?;
            seg.publish(dir)?;
            sync_dir(dir)?;
            let report = OpenReport {
                created: true,
                active_segment: 0,
                next_seq: 1,
                torn_tail: None,
                removed_segments: 0,
            };
            (seg, SEG_HEADER, report, 0)
        } else {
            recover(dir, &cfg)?
        };

        let index = seg.index;
        let shared = Arc::new(Shared {
            pos: Published(AtomicU64::new(pack(index, pos))),
            created: AtomicU32::new(index),
            synced_below: AtomicU32::new(unsynced),
            stop: AtomicBool::new(false),
            prepare_errors: AtomicU64::new(0),
            flush_errors: AtomicU64::new(0),
        });
        // Capacity for a few segments: the preparer never blocks on these channels.
        let (ready_tx, ready_rx) = mpsc::sync_channel(4);
        let (retire_tx, retire_rx) = mpsc::sync_channel(8);
        let preparer = {
            let (dir, shared) = (dir.to_path_buf(), Arc::clone(&shared));
            thread::Builder::new()
                .name("twj-prepare".into())
                .spawn(move || preparer_loop(&dir, cfg, &shared, &ready_tx, &retire_rx))
                .map_err(|e| io_err("spawn thread", Path::new("twj-prepare"), e))?
        };
        let flusher = if cfg.flush_interval.is_zero() {
            None
        } else {
            let (dir, sh) = (dir.to_path_buf(), Arc::clone(&shared));
            let spawned = thread::Builder::new()
                .name("twj-flush".into())
                .spawn(move || flusher_loop(&dir, cfg.flush_interval, &sh, unsynced));
            match spawned {
                Ok(h) => Some(h),
                Err(e) => {
                    shared.stop.store(true, Ordering::Release);
                    preparer.thread().unpark();
                    let _ = preparer.join();
                    return Err(io_err("spawn thread", Path::new("twj-flush"), e));
                }
            }
        };
        let writer = Writer {
            base: seg.base(),
            pos,
            limit: seg.size - REC_HEADER,
            seg_max: seg.max_record.min(cfg.max_record_bytes) as usize,
            next_seq: report.next_seq,
            index,
            shared,
            seg,
            dir: dir.to_path_buf(),
            cfg,
            ready_rx,
            retire_tx,
            preparer: Some(preparer),
            flusher,
            synced_pos: 0,
            unsynced_from: unsynced,
            stats: WriterStats::default(),
            _lock: lock,
        };
        Ok((writer, report))
    }

    /// Appends a record and returns its seq (1 for the first record of a journal, then
    /// consecutive, across segments and reopening).
    ///
    /// A payload longer than `max_record_bytes` is rejected with
    /// [`JournalError::RecordTooLarge`] and nothing is written. Other errors can only come from
    /// a segment switch (creating the next segment failed); the journal is unchanged then too.
    #[inline]
    pub fn append(&mut self, kind: u16, ts: u64, payload: &[u8]) -> Result<u64, JournalError> {
        if payload.len() > self.seg_max {
            return self.append_large(kind, ts, payload);
        }
        let span = span(payload.len());
        if self.pos + span > self.limit {
            self.roll()?;
        }
        Ok(self.write_record(kind, ts, payload, span))
    }

    /// Appends a Pod value's bytes as the payload (see [`Writer::append`]).
    #[inline]
    pub fn append_pod<T: bytemuck::Pod>(
        &mut self,
        kind: u16,
        ts: u64,
        value: &T,
    ) -> Result<u64, JournalError> {
        self.append(kind, ts, bytemuck::bytes_of(value))
    }

    /// The seq the next append will get.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Where the next record will be written.
    pub fn position(&self) -> Position {
        Position {
            segment: self.index,
            offset: self.pos as u64,
        }
    }

    /// Slow-path counters.
    pub fn stats(&self) -> WriterStats {
        WriterStats {
            prepare_errors: self.shared.prepare_errors.load(Ordering::Relaxed),
            flush_errors: self.shared.flush_errors.load(Ordering::Relaxed),
            ..self.stats
        }
    }

    /// The journal directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The configuration the writer was opened with.
    pub fn config(&self) -> &JournalConfig {
        &self.cfg
    }

    /// Writes everything appended so far back to disk and waits for it (`msync(MS_SYNC)` of
    /// the appended range, `fdatasync` of finished segments the flush thread has not reached).
    /// After it returns, a power loss cannot lose those records. This is a system call: keep it
    /// off the hot path.
    pub fn flush(&mut self) -> Result<(), JournalError> {
        let from = self
            .unsynced_from
            .max(self.shared.synced_below.load(Ordering::Acquire));
        for i in from..self.index {
            sync_file(&segment_path(&self.dir, i))?;
        }
        if self.unsynced_from < self.index {
            // Segments created since the last flush: make their directory entries durable.
            sync_dir(&self.dir)?;
        }
        self.unsynced_from = self.index;
        self.seg.sync_range(self.synced_pos, self.pos)?;
        self.synced_pos = self.pos;
        Ok(())
    }

    /// Writes one record that is known to fit at `self.pos`.
    #[inline(always)]
    fn write_record(&mut self, kind: u16, ts: u64, payload: &[u8], span: usize) -> u64 {
        let seq = self.next_seq;
        let len = payload.len();
        let len_word = (REC_HEADER + len) as u32;
        let kind_word = u64::from(kind);
        // The CRC first, from the caller's buffer (in cache) and the header values (see
        // `record_crc`): its latency is most of an append, and nothing below has to wait for it
        // except the final publishing store.
        let crc = record_crc_tail(payload, &crc_tail(kind_word, seq, ts, len_word));
        // SAFETY: `pos + span <= limit < seg.size == mapping length` (checked by the caller;
        // `limit` and `seg_max` are derived from the segment), so every byte touched below is
        // inside the writable mapping `base` points to, which `self.seg` keeps alive. `pos` is a
        // multiple of 8 and the mapping is page aligned, so each word pointer is 8-aligned. The
        // bytes are beyond the last published record: the journal lock makes this the only
        // writer, and readers touch unpublished words only with 8-byte atomic loads, which the
        // 8-byte atomic stores below do not race with.
        unsafe {
            let rec = self.base.add(self.pos);
            store(rec.add(R_KIND), kind_word);
            store(rec.add(R_SEQ), seq);
            store(rec.add(R_TS), ts);
            copy_payload(rec.add(REC_HEADER), payload);
            // Publish: length and CRC together, last, with release ordering.
            let head = u64::from(len_word) | (u64::from(crc) << 32);
            AtomicU64::from_ptr(rec.cast::<u64>()).store(head.to_le(), Ordering::Release);
        }
        self.pos += span;
        self.next_seq = seq + 1;
        self.shared
            .pos
            .0
            .store(pack(self.index, self.pos), Ordering::Relaxed);
        seq
    }

    /// A payload larger than the active segment's limit: reject it, or (when the segment was
    /// created by an earlier writer with a smaller `max_record_bytes`) continue in a new segment.
    #[cold]
    #[inline(never)]
    fn append_large(&mut self, kind: u16, ts: u64, payload: &[u8]) -> Result<u64, JournalError> {
        if payload.len() > self.cfg.max_record_bytes as usize {
            return Err(JournalError::RecordTooLarge {
                len: payload.len(),
                max: self.cfg.max_record_bytes,
            });
        }
        self.roll()?;
        Ok(self.write_record(kind, ts, payload, span(payload.len())))
    }

    /// Switches to the next segment: takes the prepared one (or makes it), marks it with the
    /// next seq, then writes the rollover marker into the current one.
    #[cold]
    #[inline(never)]
    fn roll(&mut self) -> Result<(), JournalError> {
        let want = self
            .index
            .checked_add(1)
            .filter(|&i| i <= MAX_SEGMENT_INDEX)
            .ok_or(JournalError::SegmentLimit)?;
        let seg = self.take_next(want)?;
        // first_seq before the marker: a reader that follows the marker finds it set.
        seg.set_first_seq(self.next_seq);
        self.seg.store_head(self.pos, ROLLOVER, 0);
        let old = std::mem::replace(&mut self.seg, seg);
        self.index = want;
        self.base = self.seg.base();
        self.pos = SEG_HEADER;
        self.limit = self.seg.size - REC_HEADER;
        self.seg_max = self.seg.max_record.min(self.cfg.max_record_bytes) as usize;
        self.synced_pos = 0;
        self.shared
            .pos
            .0
            .store(pack(self.index, self.pos), Ordering::Release);
        // Unmapping a large populated mapping takes long: the preparer does it.
        let _ = self.retire_tx.try_send(old);
        if let Some(p) = &self.preparer {
            p.thread().unpark();
        }
        self.stats.rollovers += 1;
        Ok(())
    }

    /// The segment `want`, from the preparer if it is ready, otherwise made here.
    fn take_next(&mut self, want: u32) -> Result<SegMap, JournalError> {
        while let Ok((i, r)) = self.ready_rx.try_recv() {
            if i == want {
                // A failed preparation has claimed `want`; making it is up to us now.
                return r.or_else(|_| self.create_sync(want));
            }
        }
        let created = &self.shared.created;
        if created
            .compare_exchange(want - 1, want, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            return self.create_sync(want);
        }
        // The preparer has claimed it: it is renaming it into place.
        self.stats.prepare_waits += 1;
        let deadline = Instant::now() + PREPARE_WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.ready_rx.recv_timeout(left) {
                Ok((i, r)) if i == want => return r.or_else(|_| self.create_sync(want)),
                Ok(_) => continue,
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
            }
        }
        // The preparer is gone or stuck: adopt its file if it got published, else make one.
        let path = segment_path(&self.dir, want);
        match SegMap::open(&path, want, true) {
            Ok(seg) if seg.first_seq() == 0 => Ok(seg),
            _ => self.create_sync(want),
        }
    }

    /// Creates segment `want` in the appending thread: no pre-faulting (that would take longer
    /// than the page faults it saves) and no syncing (the flush thread or `flush` syncs the
    /// header and the directory), only the file, its size, the mapping and the rename.
    fn create_sync(&mut self, want: u32) -> Result<SegMap, JournalError> {
        self.stats.sync_creates += 1;
        let made = SegMap::create(&self.dir, header(want, &self.cfg), 0, None, "sync")
            .and_then(|mut seg| seg.publish(&self.dir).map(|()| seg));
        if made.is_err() {
            // Let a later rollover (ours or the preparer's) claim it again.
            self.shared.created.store(want - 1, Ordering::Release);
        }
        made
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Nothing can report an error from drop; callers who care call `flush` first.
        let _ = self.flush();
        self.shared.stop.store(true, Ordering::Release);
        for h in [self.preparer.take(), self.flusher.take()]
            .into_iter()
            .flatten()
        {
            h.thread().unpark();
            let _ = h.join();
        }
    }
}

/// One relaxed 8-byte store of a little-endian word.
///
/// # Safety
/// `p` must be 8-aligned and valid for an 8-byte write in the active segment, and only ever
/// accessed atomically by other threads while this store can race with them.
#[inline(always)]
unsafe fn store(p: *mut u8, v: u64) {
    // SAFETY: guaranteed by the caller (see above).
    unsafe { AtomicU64::from_ptr(p.cast::<u64>()).store(v.to_le(), Ordering::Relaxed) };
}

/// Copies `src` to `dst` as 8-byte atomic stores, zero-padding the last word.
///
/// # Safety
/// `dst` must be 8-aligned and valid for `align8(src.len())` bytes of writes, with the same
/// access rule as [`store`].
#[inline(always)]
unsafe fn copy_payload(dst: *mut u8, src: &[u8]) {
    let (words, tail) = src.as_chunks::<8>();
    for (i, w) in words.iter().enumerate() {
        // SAFETY: `i * 8 + 8 <= src.len()`, within the caller's range. Native byte order keeps
        // the bytes in memory in payload order.
        unsafe {
            AtomicU64::from_ptr(dst.add(i * 8).cast::<u64>())
                .store(u64::from_ne_bytes(*w), Ordering::Relaxed)
        };
    }
    if !tail.is_empty() {
        let mut last = [0u8; 8];
        last[..tail.len()].copy_from_slice(tail);
        // SAFETY: the padded last word ends at `align8(src.len())`, within the caller's range.
        unsafe {
            AtomicU64::from_ptr(dst.add(words.len() * 8).cast::<u64>())
                .store(u64::from_ne_bytes(last), Ordering::Relaxed)
        };
    }
}

/// The header of a new segment `index` under `cfg`.
fn header(index: u32, cfg: &JournalConfig) -> SegHeader {
    SegHeader {
        index,
        size: cfg.segment_bytes,
        max_record: cfg.max_record_bytes,
    }
}

/// Deletes leftovers of segment preparation interrupted by a crash.
fn remove_tmp_files(dir: &Path) -> Result<(), JournalError> {
    let rd = fs::read_dir(dir).map_err(|e| io_err("read directory", dir, e))?;
    for entry in rd {
        let entry = entry.map_err(|e| io_err("read directory", dir, e))?;
        if entry.file_name().to_str().is_some_and(is_tmp_name) {
            let p = entry.path();
            fs::remove_file(&p).map_err(|e| io_err("remove temporary segment", &p, e))?;
        }
    }
    Ok(())
}

/// Recovers an existing journal: finds the active segment, validates it, cuts a torn tail and
/// removes pre-allocated segments after it. Returns the active segment, the append offset, the
/// report and the first segment that may hold data not yet written back.
fn recover(
    dir: &Path,
    cfg: &JournalConfig,
) -> Result<(SegMap, usize, OpenReport, u32), JournalError> {
    let segs = list_contiguous(dir)?;
    // The active segment is the last one the writer started using (first_seq set); only it and
    // the ones a rollover marker leads to from it need scanning.
    let mut active = None;
    for &i in segs.iter().rev() {
        let s = SegMap::open(&segment_path(dir, i), i, true)?;
        if s.first_seq() != 0 {
            active = Some(s);
            break;
        }
    }
    let Some(mut seg) = active else {
        return Err(JournalError::Corrupt {
            segment: segs[0],
            offset: 0,
            reason: "no segment has a first seq: cannot tell where the journal starts".into(),
        });
    };
    // A segment is activated (first_seq set) just before the rollover marker that leads to it
    // is written. If the writer died in between, the segment is still empty and unreachable:
    // the previous one is the active segment then.
    if seg.index > segs[0]
        && seg
            .first_nonzero(SEG_HEADER, SEG_HEADER + seg.max_span())
            .is_none()
    {
        let prev = SegMap::open(&segment_path(dir, seg.index - 1), seg.index - 1, true)?;
        if !ends_with_rollover(&prev) {
            seg = prev;
        }
    }
    if seg.index == 0 && seg.first_seq() != 1 {
        return Err(JournalError::Corrupt {
            segment: 0,
            offset: 32,
            reason: format!("segment 0 starts at seq {}, not 1", seg.first_seq()),
        });
    }
    let mut next_seq = seg.first_seq();
    let mut pos = SEG_HEADER;
    let bad = loop {
        match seg.slot(pos) {
            Slot::Record(m) => {
                if m.seq != next_seq {
                    return Err(JournalError::Corrupt {
                        segment: seg.index,
                        offset: pos as u64,
                        reason: format!("seq {} where {next_seq} was expected", m.seq),
                    });
                }
                next_seq += 1;
                pos += m.span;
            }
            Slot::Rollover => {
                if let Some(at) = seg.first_nonzero(pos + 8, seg.size) {
                    return Err(JournalError::Corrupt {
                        segment: seg.index,
                        offset: at as u64,
                        reason: "data after a rollover marker".into(),
                    });
                }
                // A marker is only written once the next segment exists, but a crash can leave
                // its activation (first_seq) unwritten; a missing file is re-created.
                let next = seg.index + 1;
                let path = segment_path(dir, next);
                let nseg = if path.exists() {
                    SegMap::open(&path, next, true)?
                } else {
                    let mut s = SegMap::create(dir, header(next, cfg), 0, None, "sync")?;
                    s.sync_range(0, SEG_HEADER)?;
                    s.publish(dir)?;
                    sync_dir(dir)?;
                    s
                };
                let fs = nseg.first_seq();
                if fs != 0 && fs != next_seq {
                    return Err(JournalError::Corrupt {
                        segment: next,
                        offset: 32,
                        reason: format!("segment first seq {fs}, expected {next_seq}"),
                    });
                }
                nseg.set_first_seq(next_seq);
                seg = nseg;
                pos = SEG_HEADER;
            }
            Slot::Empty => break None,
            Slot::Bad(reason) => break Some(reason),
        }
    };
    let torn = end_state(&seg, pos, bad)?;
    if let Some(t) = torn {
        // Zero the unfinished append so the next record can take its place.
        let end = (pos + t.bytes as usize).next_multiple_of(8);
        seg.zero(pos, end);
    }
    // Nothing is synced here: the recovered data is in the page cache already, and the flush
    // thread's first pass writes back the active segment and the one before it (a crashed
    // writer may not have synced its end), off the opening thread. A torn tail zeroed here but
    // lost in a power cut before that pass is simply cut again. The directory is not synced
    // after removing unused segments either: should they reappear, they are unused again.
    let mut removed = 0;
    // Highest first, so that dying halfway leaves no gap in the numbering.
    for &i in segs.iter().rev().filter(|&&i| i > seg.index) {
        let p = segment_path(dir, i);
        fs::remove_file(&p).map_err(|e| io_err("remove unused segment", &p, e))?;
        removed += 1;
    }
    let report = OpenReport {
        created: false,
        active_segment: seg.index,
        next_seq,
        torn_tail: torn,
        removed_segments: removed,
    };
    let unsynced = seg.index.saturating_sub(1).max(segs[0]);
    Ok((seg, pos, report, unsynced))
}

/// Whether the records of `seg` are followed by a rollover marker.
fn ends_with_rollover(seg: &SegMap) -> bool {
    let mut pos = SEG_HEADER;
    loop {
        match seg.slot(pos) {
            Slot::Record(m) => pos += m.span,
            Slot::Rollover => return true,
            Slot::Empty | Slot::Bad(_) => return false,
        }
    }
}

/// The preparer: keeps the segment after the active one created, sized, mapped and
/// pre-faulted, pre-faults the rest of an active segment it did not prepare (the first one, one
/// the writer had to create itself), and unmaps retired segments. Woken by the writer at each
/// rollover.
fn preparer_loop(
    dir: &Path,
    cfg: JournalConfig,
    shared: &Shared,
    ready_tx: &SyncSender<Prepared>,
    retire_rx: &Receiver<SegMap>,
) {
    // The active segment already taken care of, and the last segment this thread prepared.
    let mut handled: Option<u32> = None;
    let mut prepared: Option<u32> = None;
    loop {
        while let Ok(old) = retire_rx.try_recv() {
            drop(old);
        }
        if shared.stop.load(Ordering::Acquire) {
            return;
        }
        let (active, pos) = unpack(shared.pos.0.load(Ordering::Acquire));
        if handled != Some(active) {
            if prepared != Some(active) {
                populate_active(dir, active, pos, shared);
            }
            handled = Some(active);
            continue;
        }
        let want = active + 1;
        if want <= MAX_SEGMENT_INDEX && shared.created.load(Ordering::Acquire) < want {
            match SegMap::create(dir, header(want, &cfg), 0, Some(&shared.stop), "prep") {
                Ok(seg) => prepared = hand_over(dir, shared, ready_tx, seg).or(prepared),
                Err(JournalError::Interrupted) => return,
                Err(_) => {
                    shared.prepare_errors.fetch_add(1, Ordering::Relaxed);
                    thread::park();
                }
            }
            continue;
        }
        thread::park();
    }
}

/// Pre-faults the not yet written part of the active segment `index`, ahead of the writer, in
/// chunks (stopping when the writer moves on or closes). This uses `MADV_POPULATE_WRITE`, which
/// maps the pages writable without touching their contents: unlike the touching done for a
/// segment nobody uses yet, it is harmless while the writer is storing into the same pages.
fn populate_active(dir: &Path, index: u32, pos: usize, shared: &Shared) {
    const CHUNK: usize = 2 << 20;
    // Work this far ahead of the writer: populating the page it is about to fault in itself
    // would only make the two wait for each other.
    const LEAD: usize = 1 << 20;
    let path = segment_path(dir, index);
    let Ok(seg) = SegMap::open(&path, index, true) else {
        shared.prepare_errors.fetch_add(1, Ordering::Relaxed);
        return;
    };
    // Reserve the blocks of the rest first (a segment the writer created itself is sparse):
    // a full disk then shows up here, not as a SIGBUS in the writer.
    let reserved = fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|f| allocate(&f, pos as u64, (seg.size - pos) as u64));
    if reserved.is_err() {
        shared.prepare_errors.fetch_add(1, Ordering::Relaxed);
    }
    let mut off = pos;
    while off < seg.size {
        let (now, at) = unpack(shared.pos.0.load(Ordering::Acquire));
        if now != index || shared.stop.load(Ordering::Acquire) {
            return;
        }
        if off < at + LEAD {
            // Overtaken (or just started): skip ahead of the writer.
            off = (at + LEAD).next_multiple_of(PAGE as usize);
            if off >= seg.size {
                return;
            }
        }
        let end = (off + CHUNK).min(seg.size);
        if seg.populate(off, end).is_err() {
            // Not supported by this kernel (before 5.14): the writer faults pages in itself.
            return;
        }
        off = end;
    }
}

/// Claims the next segment index for a prepared segment, publishes it and sends it to the
/// writer. If the writer created the index it was made for meanwhile (it could not wait), the
/// segment is renumbered for the one after: the pre-faulting is not wasted.
fn hand_over(
    dir: &Path,
    shared: &Shared,
    ready_tx: &SyncSender<Prepared>,
    mut seg: SegMap,
) -> Option<u32> {
    let tmp = seg.path.clone();
    loop {
        if shared.stop.load(Ordering::Acquire) {
            let _ = fs::remove_file(&tmp);
            return None;
        }
        let claimed = shared.created.load(Ordering::Acquire);
        let (active, _) = unpack(shared.pos.0.load(Ordering::Acquire));
        if claimed > active {
            // The writer is creating `claimed` itself (it could not wait). Publishing the one
            // after it before that file exists could leave a gap in the numbering if the
            // process died now; the writer takes a few hundred microseconds, so wait.
            thread::sleep(Duration::from_micros(50));
            continue;
        }
        let Some(index) = claimed.checked_add(1).filter(|&i| i <= MAX_SEGMENT_INDEX) else {
            let _ = fs::remove_file(&tmp);
            return None;
        };
        if index != seg.index {
            seg.renumber(index);
        }
        if shared
            .created
            .compare_exchange(claimed, index, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            break;
        }
    }
    let index = seg.index;
    // Publish and hand over first, make the directory entry durable after: a writer waiting
    // for this segment waits for a rename, not for a directory sync behind heavy write-back.
    let r = seg.publish(dir).map(|()| seg);
    let published = r.is_ok();
    if !published {
        shared.prepare_errors.fetch_add(1, Ordering::Relaxed);
        let _ = fs::remove_file(&tmp);
    }
    if ready_tx.try_send((index, r)).is_err() {
        // Cannot happen (one segment in flight at a time); the writer would adopt the file.
        shared.prepare_errors.fetch_add(1, Ordering::Relaxed);
    }
    if published && sync_dir(dir).is_err() {
        shared.prepare_errors.fetch_add(1, Ordering::Relaxed);
    }
    Some(index)
}

/// The flusher: every `interval`, synchronously writes back what was appended since the last
/// pass. Only the appended range of the active segment is synced: syncing pre-faulted pages
/// ahead of the writer would write-protect them again and cost the writer a fault each.
fn flusher_loop(dir: &Path, interval: Duration, shared: &Shared, first_unsynced: u32) {
    // Segments from `cur_index` on may hold data not yet written back; those before the active
    // one are finished and synced whole at the first pass.
    let mut cur_index = first_unsynced;
    let mut cur: Option<SegMap> = None;
    let mut synced = 0usize;
    let fail = || {
        shared.flush_errors.fetch_add(1, Ordering::Relaxed);
    };
    loop {
        thread::park_timeout(interval);
        // On close the writer syncs everything itself.
        if shared.stop.load(Ordering::Acquire) {
            return;
        }
        let (index, pos) = unpack(shared.pos.0.load(Ordering::Acquire));
        if index != cur_index {
            // Finished segments: the writer will not touch them again.
            let finished = match cur.take() {
                Some(seg) => seg.sync_range(synced, seg.size),
                None => sync_file(&segment_path(dir, cur_index)),
            };
            let mut ok = finished.is_ok();
            for i in cur_index + 1..index {
                ok &= sync_file(&segment_path(dir, i)).is_ok();
            }
            // Segments the writer created itself were not synced into the directory.
            ok &= sync_dir(dir).is_ok();
            if ok {
                shared.synced_below.store(index, Ordering::Release);
            } else {
                fail();
            }
            cur_index = index;
            synced = 0;
        }
        if cur.is_none() {
            match SegMap::open(&segment_path(dir, index), index, false) {
                Ok(seg) => cur = Some(seg),
                Err(_) => fail(),
            }
        }
        if let Some(seg) = &cur
            && pos > synced
        {
            match seg.sync_range(synced, pos) {
                Ok(()) => synced = pos,
                Err(_) => fail(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_round_trips() {
        for (i, p) in [(0, 64), (7, 4096), (MAX_SEGMENT_INDEX, (16usize << 30) - 8)] {
            assert_eq!(unpack(pack(i, p)), (i, p));
        }
    }
}
