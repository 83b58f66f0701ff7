//! `Db` and `Snapshot`: the public face of the engine. Opening (lock, recovery, first
//! segment), and routing reads to the view and writes to the commit pipeline.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::ops::{Bound, RangeBounds};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::batch::WriteBatch;
use super::commit::Committer;
use super::durability::{Syncer, WriteTicket};
use super::error::{Error, Result};
use super::faults;
use super::manifest::LEVELS;
use super::memtable::{Memtable, Pin, Readers};
use super::options::Options;
use super::range::RangeIter;
use super::tree::{Background, Tree};
use super::version::VersionSet;
use super::view::View;
use super::wal::{self, Segment, Tail};
use bytes::Bytes;

/// A handle on an open database. Cheap to clone; all clones share one engine, which
/// closes (after a final fsync) when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    options: Options,
    tree: Arc<Tree>,
    committer: Arc<Committer>,
    // Field order is drop order: background work and the syncer stop (after its last
    // fsync) before the lock is released.
    background: Option<Background>,
    syncer: Option<Syncer>,
    _lock: File,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Stop flush and compaction (the WAL still holds what they had not written), then
        // the syncer (it fsyncs what is pending), then cover `Never`.
        drop(self.background.take());
        drop(self.syncer.take());
        if let Err(e) = self
            .committer
            .dur
            .sync_now()
            .and_then(|()| self.committer.finish_segment())
        {
            tracing::warn!(error = %e, dir = %self.dir.display(), "final WAL fsync on close failed");
        }
    }
}

pub(super) fn lock_dir(dir: &Path) -> Result<File> {
    let path = dir.join("LOCK");
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    // flock-style: a second open file description conflicts even in this process.
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(Error::Locked { path }),
        Err(TryLockError::Error(e)) => Err(Error::io(&path, e)),
    }
}

/// Replays every WAL segment from `log_number` on into `mem` (older ones hold only what
/// tables hold, and are deleted); returns the last sequence number and the highest
/// segment number seen. Each batch is published to `readers` as it is applied, as the
/// commit leader does, so that the memtable drops the versions it overwrites: nobody reads
/// yet, and a replayed counter's history would otherwise all stay in memory.
fn recover(dir: &Path, mem: &Memtable, readers: &Readers, log_number: u64) -> Result<(u64, u64)> {
    let all = wal::list_segments(dir)?;
    let highest = all.last().copied().unwrap_or(0);
    let mut empty = Vec::new();
    let mut segments = Vec::new();
    for n in all {
        if n < log_number {
            empty.push(wal::segment_path(dir, n));
        } else {
            segments.push(n);
        }
    }
    let mut last_seq = 0u64;
    for (i, &n) in segments.iter().enumerate() {
        let path = wal::segment_path(dir, n);
        let newest = i + 1 == segments.len();
        let data = Bytes::from(fs::read(&path).map_err(|e| Error::io(&path, e))?);
        let tail = wal::read_segment(&path, &data, newest, |offset, first_seq, last, payload| {
            // Sequence numbers continue exactly from record to record; a gap means a
            // lost record or segment. (The first record may start anywhere: older
            // segments may have been retired once their contents are in tables.)
            if last_seq != 0 && first_seq != last_seq + 1 {
                return Err(Error::corruption(
                    &path,
                    offset,
                    format!(
                        "batch starts at sequence {first_seq}, expected {}",
                        last_seq + 1
                    ),
                ));
            }
            last_seq = last;
            // A skip record: sequence numbers of writes refused for want of space.
            let Some(payload) = payload else {
                return Ok(());
            };
            // A copy of the batch, not a slice of `data`: the memtable keeps slices of
            // what it is given, and one surviving value would keep the whole segment
            // (64 MiB) in memory until the next flush.
            let batch = Bytes::copy_from_slice(&payload);
            let overwrote = mem.apply(&batch, first_seq);
            readers.visible.store(last_seq, Ordering::SeqCst);
            if overwrote {
                mem.prune_overwritten(&batch);
            }
            Ok(())
        })?;
        if data.is_empty()
            || matches!(
                tail,
                Tail::Torn { offset: 0, .. } | Tail::Zeroed { offset: 0 }
            )
        {
            empty.push(path.clone());
        }
        if let Tail::Zeroed { offset } = tail {
            // Preallocated and never written: the segment was not finished before a crash.
            tracing::debug!(file = %path.display(), offset, "cutting the unused tail of a WAL segment");
            wal::truncate_segment(&path, offset)?;
        } else if let Tail::Torn { offset, reason } = tail {
            tracing::warn!(
                file = %path.display(),
                offset,
                dropped_bytes = data.len() as u64 - offset,
                reason,
                "cutting torn tail off the newest WAL segment"
            );
            wal::truncate_segment(&path, offset)?;
        } else if let Tail::Hole { offset } = tail {
            // What is cut is kept beside the segment, in case it was not a power cut.
            let kept = path.with_extension(format!("wal.after-hole-{offset}"));
            fs::write(
                &kept,
                &data[usize::try_from(offset)
                    .unwrap_or(usize::MAX)
                    .min(data.len())..],
            )
            .map_err(|e| Error::io(&kept, e))?;
            tracing::warn!(
                file = %path.display(),
                offset,
                dropped_bytes = data.len() as u64 - offset,
                kept = %kept.display(),
                "a hole of pages never written back (a power cut) in the newest WAL segment: \
                 recovering to the point before it; the writes after it were never covered \
                 by a completed fsync"
            );
            wal::truncate_segment(&path, offset)?;
        } else if newest {
            // What we just read may still be only in the page cache (policy Never).
            let f = File::open(&path).map_err(|e| Error::io(&path, e))?;
            faults::sync_file(&f, &path, false)?;
        }
    }
    // Segments without a record (left by opens that wrote nothing) and segments whose
    // writes are all in tables are only clutter. Numbering continues from the highest one
    // seen, so no number is reused.
    if !empty.is_empty() {
        for path in &empty {
            fs::remove_file(path).map_err(|e| Error::io(path, e))?;
        }
        wal::sync_dir(dir)?;
    }
    Ok((last_seq, highest))
}

fn bounds<K: AsRef<[u8]>, R: RangeBounds<K>>(range: &R) -> (Bound<Bytes>, Bound<Bytes>) {
    let owned = |k: &K| Bytes::copy_from_slice(k.as_ref());
    (range.start_bound().map(owned), range.end_bound().map(owned))
}

impl Db {
    /// Opens the database in directory `path`, creating it if needed, and recovers
    /// everything the write-ahead log holds.
    ///
    /// Fails with [`Error::Locked`] if another `Db` (in this process or another) has the
    /// directory open, and with [`Error::Corruption`] if a WAL record other than a torn
    /// tail of the newest segment is damaged.
    pub fn open(path: impl AsRef<Path>, options: Options) -> Result<Db> {
        let dir = path.as_ref().to_path_buf();
        fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let lock = lock_dir(&dir)?;
        let versions = VersionSet::recover(&dir)?;
        let readers = Arc::new(Readers::default());
        let mem = Arc::new(Memtable::new(readers.clone()));
        let (wal_seq, last_segment) = recover(&dir, &mem, &readers, versions.log_number())?;
        let last_seq = wal_seq.max(versions.last_sequence());
        // Always start a fresh segment: the old ones stay as they were recovered. Never
        // below the manifest's log number, even if a crash removed every segment: a
        // segment below it would be taken for one already in tables and skipped.
        let segment_number = (last_segment + 1).max(versions.log_number());
        let segment = Segment::create(
            &dir,
            segment_number,
            options.wal_segment_bytes,
            options.sync.maps_log(),
        )?;
        let committer = Arc::new(
            Committer::new(
                dir.clone(),
                options.sync,
                options.wal_segment_bytes,
                last_seq,
                segment,
                segment_number,
                readers,
            )
            .with_tap(options.commit_tap.clone()),
        );
        let tree = Arc::new(Tree::new(versions, mem, options.clone()));
        let background = tree.start(&committer)?;
        let syncer = Syncer::start(committer.dur.clone())?;
        tracing::debug!(dir = %dir.display(), last_seq, "storage opened");
        Ok(Db {
            inner: Arc::new(Inner {
                dir,
                options,
                tree,
                committer,
                background: Some(background),
                syncer,
                _lock: lock,
            }),
        })
    }

    /// The directory the database lives in.
    pub fn path(&self) -> &Path {
        &self.inner.dir
    }

    /// The options it was opened with.
    pub fn options(&self) -> &Options {
        &self.inner.options
    }

    /// Sets `key` to `value`; returns once durable per the sync policy.
    pub fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        let mut b = WriteBatch::with_capacity(key.len() + value.len() + 9);
        b.put(key, value);
        self.write(b)
    }

    /// Removes `key`; returns once durable per the sync policy.
    pub fn delete(&self, key: &[u8]) -> Result<()> {
        let mut b = WriteBatch::with_capacity(key.len() + 5);
        b.delete(key);
        self.write(b)
    }

    /// Applies `batch` atomically; returns once durable per the sync policy.
    pub fn write(&self, batch: WriteBatch) -> Result<()> {
        // Same as `submit(batch)?.wait()`, but the writer sleeps straight through to
        // the fsync instead of being woken once in between.
        self.inner.committer.write(batch, &self.inner.tree)
    }

    /// Applies `batch` atomically and returns as soon as it is written to the WAL (handed
    /// to the OS) and visible to reads; the returned ticket completes when it is durable
    /// per the sync policy. A batch is visible just before it is durable.
    pub fn submit(&self, batch: WriteBatch) -> Result<WriteTicket> {
        self.inner.committer.submit(batch, &self.inner.tree)
    }

    /// Applies `batch` at sequence numbers from `first_seq` on, as
    /// [`submit`](Db::submit) does otherwise: a replica applying the batch its primary
    /// committed at `first_seq` (see [`WriteBatch::from_payload`]), so that its sequence
    /// number, recovered from its own log after a crash, is its replication offset.
    /// Numbers skipped between the last batch and `first_seq` are recorded as skipped.
    /// Fails with [`Error::SequenceTaken`] if `first_seq` is not past `last_sequence`.
    pub fn write_at(&self, first_seq: u64, batch: WriteBatch) -> Result<WriteTicket> {
        self.inner
            .committer
            .submit_at(batch, &self.inner.tree, Some(first_seq))
    }

    /// Writes a consistent copy of the database into `dir` (created; it must not exist
    /// or be empty), taken while writes go on: the live tables hard-linked (copied where
    /// the file system cannot link), the log segments still needed (the one being
    /// written copied up to its last whole record) and a manifest of its own.
    /// `Db::open(dir)` opens it. Returns the sequence number the copy holds everything up
    /// to (and nothing after).
    pub fn checkpoint(&self, dir: impl AsRef<Path>) -> Result<u64> {
        super::checkpoint::take(
            &self.inner.dir,
            dir.as_ref(),
            &self.inner.tree,
            &self.inner.committer,
        )
    }

    /// The current value of `key`.
    pub fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        self.with_current(key, |found| found.map(|(_, value)| value.clone()))
    }

    /// The current value of `key` and the sequence number of the write that set it
    /// (its version, for compare-and-set).
    pub fn get_versioned(&self, key: &[u8]) -> Result<Option<(Bytes, u64)>> {
        self.with_current(key, |found| found.map(|(seq, value)| (value.clone(), seq)))
    }

    /// Lends `f` the current value of `key` where it lies, without a copy or a reference
    /// count: what a reader that only looks at the value (to encode a reply, say) needs.
    /// Under pipelined GETs the reference count alone, a cache miss on the value's shared
    /// header, cost nearly a fifth of the server's time. `f` may run under a memtable lock that
    /// holds up writes: keep it short, and clone the `Bytes` to keep the value.
    pub fn get_with<R>(&self, key: &[u8], f: impl FnOnce(Option<&Bytes>) -> R) -> Result<R> {
        self.with_current(key, |found| f(found.map(|(_, value)| value)))
    }

    /// Lends `f` the newest published version of `key` if it is live: its sequence number
    /// and value.
    fn with_current<R, F>(&self, key: &[u8], f: F) -> Result<R>
    where
        F: FnOnce(Option<(u64, &Bytes)>) -> R,
    {
        // No snapshot needed: the newest published version, wherever it is. The active
        // memtable, which answers most reads, is asked under the view's read lock, sparing
        // a reference count on the view; what may touch the disk is read from a clone of
        // the same view with no lock held, so a slow read never holds up a flush
        // installing its table.
        let (view, f) = {
            let current = self.inner.tree.view.read();
            match current.active.with_latest(key, f) {
                Ok(lent) => return Ok(lent),
                Err(f) => (current.clone(), f),
            }
        };
        let found = view.latest_past_active(key)?;
        Ok(f(found
            .as_ref()
            .and_then(|v| Some((v.seq, v.value.as_ref()?)))))
    }

    /// An iterator over the pairs with keys in `range`, in key order (reverse with
    /// `next_back`/`rev`), as of now: writes made after this call are not seen.
    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> RangeIter {
        let (pin, view, snap) = self.read_point();
        let (lo, hi) = bounds(&range);
        RangeIter::new(view, snap, lo, hi, pin)
    }

    /// A consistent read-only view of the database as of now.
    pub fn snapshot(&self) -> Snapshot {
        let (pin, view, seq) = self.read_point();
        Snapshot { view, seq, pin }
    }

    /// What a reader at a fixed sequence number needs, in this order: a pin (so the
    /// memtable keeps the versions it reads), the view, then the sequence number. The view
    /// comes before the sequence number because a flush or compaction only drops versions
    /// older than the newest one visible when it started, and a reader that sees its
    /// result in the view then reads at or above that.
    fn read_point(&self) -> (Arc<Pin>, Arc<View>, u64) {
        let pin = Arc::new(self.inner.committer.readers().pin());
        let view = self.inner.tree.current();
        (pin, view, self.inner.committer.visible())
    }

    /// Writes the memtable to a table and waits until it is recorded in the manifest
    /// (then the WAL segments it covered are gone), and makes every write durable.
    pub fn flush(&self) -> Result<()> {
        self.inner.committer.freeze_now(&self.inner.tree)?;
        self.inner.tree.wait_flushed()?;
        self.sync()
    }

    /// `flush`, then merges every table into one sorted level, dropping every overwritten
    /// version and tombstone no snapshot needs; returns when done. For tools and tests
    /// that want the tree at its smallest.
    pub fn compact(&self) -> Result<()> {
        self.flush()?;
        self.inner.tree.compact_all()
    }

    /// fsyncs the write-ahead log now, whatever the sync policy.
    pub fn sync(&self) -> Result<()> {
        self.inner.committer.dur.sync_now()
    }

    /// Counters of the write pipeline since open (for monitoring and benchmarks).
    pub fn stats(&self) -> Stats {
        let c = &self.inner.committer.dur.counters;
        let view = self.inner.tree.current();
        let get = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
        Stats {
            batches: get(&c.batches),
            wal_writes: get(&c.wal_writes),
            wal_bytes: get(&c.wal_bytes),
            wal_syncs: get(&c.wal_syncs),
            last_sequence: self.last_sequence(),
            tables: (0..LEVELS)
                .map(|l| view.version.tables(l).len() as u64)
                .collect(),
            table_bytes: (0..LEVELS).map(|l| view.version.level_bytes(l)).sum(),
            memtable_bytes: std::iter::once(&view.active)
                .chain(&view.immutables)
                .map(|m| m.approximate_bytes() as u64)
                .sum(),
            writes_refused: if self.inner.committer.dur.is_poisoned() {
                Some(WritesRefused::UntilReopened)
            } else if self.inner.committer.out_of_space.load(Ordering::Relaxed) {
                Some(WritesRefused::UntilSpace)
            } else {
                None
            },
        }
    }

    /// Sequence number of the latest write visible to reads (0 for an empty database).
    pub fn last_sequence(&self) -> u64 {
        self.inner.committer.visible()
    }
}

fn get_in(view: &View, key: &[u8], snap: u64) -> Result<Option<(Bytes, u64)>> {
    Ok(view
        .get(key, snap)?
        .and_then(|v| v.value.map(|value| (value, v.seq))))
}

/// Counters of a `Db`'s write pipeline since it was opened.
///
/// `batches / wal_writes` is the average group size of group commit, and
/// `batches / wal_syncs` the number of batches each fsync made durable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Non-empty batches written.
    pub batches: u64,
    /// `write` calls on WAL segments (one per group).
    pub wal_writes: u64,
    /// Bytes appended to WAL segments.
    pub wal_bytes: u64,
    /// fsyncs of WAL segments.
    pub wal_syncs: u64,
    /// Same as `Db::last_sequence`.
    pub last_sequence: u64,
    /// Number of tables per level (level 0 first).
    pub tables: Vec<u64>,
    /// Bytes in tables, all levels.
    pub table_bytes: u64,
    /// Estimated bytes in memtables (active and frozen).
    pub memtable_bytes: u64,
    /// Whether writes are being refused, and until when.
    pub writes_refused: Option<WritesRefused>,
}

/// Why writes are refused (reads go on either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WritesRefused {
    /// The last write found no space for the log; the next to find space succeeds.
    UntilSpace,
    /// An fsync or a write failed: what the log holds is not known to be on disk, so no
    /// write is taken until the database is reopened (and reads the log back).
    UntilReopened,
}

/// A read-only view of the database at one point in time (a sequence number).
/// Reads through it ignore every later write. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Snapshot {
    view: Arc<View>,
    seq: u64,
    pin: Arc<Pin>,
}

impl Snapshot {
    /// The value of `key` as of the snapshot.
    pub fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        Ok(self.get_versioned(key)?.map(|(v, _)| v))
    }

    /// The value of `key` as of the snapshot, and the sequence number of its write.
    pub fn get_versioned(&self, key: &[u8]) -> Result<Option<(Bytes, u64)>> {
        get_in(&self.view, key, self.seq)
    }

    /// An iterator over the pairs with keys in `range` as of the snapshot.
    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> RangeIter {
        let (lo, hi) = bounds(&range);
        RangeIter::new(self.view.clone(), self.seq, lo, hi, self.pin.clone())
    }

    /// The sequence number the snapshot reads at.
    pub fn sequence(&self) -> u64 {
        self.seq
    }
}
