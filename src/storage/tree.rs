//! The tree: what reads see (the current `View`: memtables and table version) and the
//! background work that keeps it in shape.
//!
//! The commit leader freezes a full memtable between two groups (so no batch is split)
//! and moves the WAL to a new segment; a flush thread writes each frozen memtable to a
//! level-0 table, records it in the manifest, swaps it into the view and deletes the WAL
//! segments it covered; a compaction thread merges tables down the levels. When that work
//! falls behind, writers are slowed (many level-0 tables) and then stopped (too many
//! frozen memtables or level-0 tables) until it catches up, so memory and read cost stay
//! bounded under any write rate.
//!
//! Lock order: `versions`, then `view`. Every new version is installed into the view while
//! `versions` is held, so versions never reach the view out of order.

use std::collections::VecDeque;
use std::ops::Bound;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::{Condvar, Mutex, RwLock};

use super::commit::Committer;
use super::compaction::{self, Compaction, Rules, Sink};
use super::cursor::Cursor;
use super::error::{Error, Result};
use super::manifest::{VersionEdit, LEVELS};
use super::memtable::{MemCursor, Memtable};
use super::merge::MergingCursor;
use super::options::Options;
use super::table::Table;
use super::version::{meta_of, Version, VersionSet};
use super::view::View;
use super::wal;

/// Frozen memtables allowed to wait for their flush before writers stop.
const MAX_FROZEN: usize = 2;

/// Background work and its bookkeeping. The flags are independent, and all change under
/// the one lock around this state.
#[derive(Debug, Default)]
#[allow(clippy::struct_excessive_bools)]
struct State {
    /// Frozen memtables waiting to be flushed, oldest first, each with the first WAL
    /// segment that holds none of its writes.
    flushes: VecDeque<(Arc<Memtable>, u64)>,
    /// Something changed that may make a compaction necessary.
    compaction_wanted: bool,
    /// The compaction thread is working.
    compacting: bool,
    /// `Db::compact` asked for a full compaction not yet started.
    full_requested: bool,
    /// Why writers are held back now, for logging each stall once.
    stall: Option<&'static str>,
    /// Background work failed; the engine is poisoned and stops.
    failed: bool,
    /// The last flush failed for want of disk space (the file that could not grow); it is
    /// tried again every second.
    flush_no_space: Option<PathBuf>,
    /// The same for the last compaction.
    compaction_no_space: Option<PathBuf>,
    /// Flushes and compactions that failed for want of space, counted: a writer waiting for
    /// room tells a fresh failure from the one it saw.
    no_space_failures: u64,
}

/// How long background work waits before trying again after a full disk.
const NO_SPACE_RETRY: Duration = Duration::from_secs(1);

impl State {
    /// The file background work could not grow, while it is failing for want of space.
    fn no_space(&self) -> Option<&PathBuf> {
        self.flush_no_space
            .as_ref()
            .or(self.compaction_no_space.as_ref())
    }
}

/// The path a failure for want of space names.
fn no_space_path(e: &Error) -> Option<PathBuf> {
    match e {
        Error::Io { path, .. } if e.is_no_space() => Some(path.clone()),
        _ => None,
    }
}

/// See the module documentation.
#[derive(Debug)]
pub(crate) struct Tree {
    pub(crate) view: RwLock<Arc<View>>,
    versions: Mutex<VersionSet>,
    options: Options,
    dir: PathBuf,
    state: Mutex<State>,
    /// Signalled on every change of `state` (new work, work done, shutdown).
    changed: Condvar,
    stop: AtomicBool,
    /// Level-0 table count of the installed version, for the writers' cheap check.
    level0_tables: AtomicUsize,
    /// Checkpoints under way: while any is, flushes leave retired WAL segments on disk
    /// (the next flush, or the next open, deletes them), since a checkpoint copies the
    /// segments of the version it read, which a later version may no longer need.
    segment_holds: AtomicUsize,
}

/// Keeps retired WAL segments on disk while it lives (see `Tree::hold_segments`).
pub(crate) struct SegmentHold<'a>(&'a AtomicUsize);

impl Drop for SegmentHold<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Tree {
    pub(crate) fn new(versions: VersionSet, mem: Arc<Memtable>, options: Options) -> Tree {
        let version = versions.current();
        let dir = versions.dir().to_path_buf();
        let level0 = version.level0.len();
        Tree {
            view: RwLock::new(Arc::new(View::new(mem, version))),
            versions: Mutex::new(versions),
            options,
            dir,
            state: Mutex::new(State {
                compaction_wanted: true,
                ..State::default()
            }),
            changed: Condvar::new(),
            stop: AtomicBool::new(false),
            level0_tables: AtomicUsize::new(level0),
            segment_holds: AtomicUsize::new(0),
        }
    }

    /// Keeps every WAL segment on disk until the hold is dropped. Taken before the version
    /// is read: a flush that installs a newer one looks at the holds after it installs it.
    pub(crate) fn hold_segments(&self) -> SegmentHold<'_> {
        self.segment_holds.fetch_add(1, Ordering::SeqCst);
        SegmentHold(&self.segment_holds)
    }

    /// The installed version with the manifest's log number and last sequence number,
    /// read together: what a checkpoint copies.
    pub(crate) fn recorded(&self) -> (Arc<super::version::Version>, u64, u64) {
        let versions = self.versions.lock();
        (
            versions.current(),
            versions.log_number(),
            versions.last_sequence(),
        )
    }

    /// The current view, to read from.
    pub(crate) fn current(&self) -> Arc<View> {
        self.view.read().clone()
    }

    /// The newest published value of `key` (what the compaction filter may consult).
    fn latest(&self, key: &[u8]) -> Result<Option<Bytes>> {
        let view = self.current();
        match view
            .active
            .with_latest(key, |found| found.map(|(_, v)| v.clone()))
        {
            Ok(value) => Ok(value),
            Err(_) => Ok(view.latest_past_active(key)?.and_then(|v| v.value)),
        }
    }

    /// Starts the flush and compaction threads.
    pub(crate) fn start(self: &Arc<Self>, committer: &Arc<Committer>) -> Result<Background> {
        let spawn = |name: &str, f: fn(&Tree, &Committer)| {
            let (tree, committer) = (self.clone(), committer.clone());
            std::thread::Builder::new()
                .name(name.to_string())
                .spawn(move || f(&tree, &committer))
                .map_err(|e| Error::io(&self.dir, e))
        };
        let flusher = spawn("cairn-flush", Tree::run_flusher)?;
        let compactor = spawn("cairn-compact", Tree::run_compactor)?;
        Ok(Background {
            tree: self.clone(),
            threads: vec![flusher, compactor],
        })
    }

    fn level0_slowdown(&self) -> usize {
        self.options.level0_compaction_trigger.max(1) * 5
    }

    fn level0_stop(&self) -> usize {
        self.options.level0_compaction_trigger.max(1) * 9
    }

    /// Whether the commit leader should freeze `mem` now: it is full, or the log it
    /// keeps alive has grown past `max_wal_bytes` (overwrites of a few keys keep a
    /// memtable small while every write still goes to the log).
    pub(crate) fn is_full(&self, mem: &Memtable) -> bool {
        mem.approximate_bytes() >= self.options.memtable_bytes
            || mem.logged_bytes() as u64 >= self.options.max_wal_bytes
    }

    /// Called by the commit leader before each group: sleeps a little while level-0 tables
    /// pile up, so compaction can catch up before writes must stop altogether.
    pub(crate) fn slow_down_if_behind(&self) {
        if self.level0_tables.load(Ordering::Relaxed) >= self.level0_slowdown() {
            self.note_stall(Some("level-0 tables pile up; slowing writes"));
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn note_stall(&self, why: Option<&'static str>) {
        let mut st = self.state.lock();
        if st.stall != why {
            if let Some(reason) = why {
                tracing::warn!(
                    reason,
                    frozen_memtables = st.flushes.len(),
                    level0_tables = self.level0_tables.load(Ordering::Relaxed),
                    "write stall"
                );
            } else {
                tracing::info!("write stall over");
            }
            st.stall = why;
        }
    }

    /// Called by the commit leader before it freezes a memtable: waits while too many
    /// frozen memtables or level-0 tables wait for background work. Fails if that work
    /// has failed (the engine is poisoned then).
    pub(crate) fn wait_for_room(&self) -> Result<()> {
        // Background work has been asked to try again for this writer.
        let mut retried = false;
        loop {
            let mut st = self.state.lock();
            if st.failed {
                return Err(Error::io(
                    &self.dir,
                    std::io::Error::other("background flush or compaction failed"),
                ));
            }
            let why = if st.flushes.len() >= MAX_FROZEN {
                Some("too many memtables waiting for flush; writes stopped")
            } else if self.level0_tables.load(Ordering::Relaxed) >= self.level0_stop() {
                Some("too many level-0 tables; writes stopped until compaction catches up")
            } else {
                None
            };
            let no_space = why.and(st.no_space().cloned());
            let failures = st.no_space_failures;
            drop(st);
            self.note_stall(why);
            if why.is_none() {
                return Ok(());
            }
            if let Some(path) = no_space {
                // Background work cannot make room while the disk is full: waiting would
                // hang the writer until an operator frees space. But the space may be back
                // since its last try (a second ago at most), so it tries once more now;
                // refuse the write only if that fails too.
                if retried {
                    return Err(Error::io(
                        path,
                        std::io::Error::from_raw_os_error(libc::ENOSPC),
                    ));
                }
                retried = true;
                self.retry_background_work(failures);
                continue;
            }
            st = self.state.lock();
            self.changed.wait_for(&mut st, Duration::from_millis(100));
        }
    }

    /// Wakes the flush and compaction threads failing for want of space to try again now,
    /// and waits (two retry periods at most) until one succeeds or fails anew: more
    /// failures than `seen`.
    fn retry_background_work(&self, seen: u64) {
        let mut st = self.state.lock();
        self.changed.notify_all();
        let deadline = std::time::Instant::now() + 2 * NO_SPACE_RETRY;
        while st.no_space_failures == seen
            && st.no_space().is_some()
            && !st.failed
            && !self.changed.wait_until(&mut st, deadline).timed_out()
        {}
    }

    /// Makes the active memtable immutable (queued for flush) and a new empty one active.
    /// `next_segment` is the WAL segment the writes after this point go to. Called by the
    /// commit leader between groups.
    pub(crate) fn freeze(&self, next_segment: u64) {
        let mut view = self.view.write();
        let frozen = view.active.clone();
        let mut immutables = Vec::with_capacity(view.immutables.len() + 1);
        immutables.push(frozen.clone());
        immutables.extend(view.immutables.iter().cloned());
        *view = Arc::new(View {
            active: Arc::new(Memtable::new(frozen.readers().clone())),
            immutables,
            version: view.version.clone(),
        });
        drop(view);
        let mut st = self.state.lock();
        st.flushes.push_back((frozen, next_segment));
        self.changed.notify_all();
    }

    /// Waits until every frozen memtable is flushed.
    pub(crate) fn wait_flushed(&self) -> Result<()> {
        let mut st = self.state.lock();
        while !st.flushes.is_empty() && !st.failed && st.flush_no_space.is_none() {
            self.changed.wait(&mut st);
        }
        self.check_failed(&st)
    }

    /// Merges every table into one level and waits until that and every compaction due
    /// is done.
    pub(crate) fn compact_all(&self) -> Result<()> {
        let mut st = self.state.lock();
        st.full_requested = true;
        st.compaction_wanted = true;
        self.changed.notify_all();
        while (st.compaction_wanted || st.compacting || st.full_requested)
            && !st.failed
            && st.no_space().is_none()
        {
            self.changed.wait(&mut st);
        }
        self.check_failed(&st)
    }

    fn check_failed(&self, st: &State) -> Result<()> {
        if let Some(path) = st.no_space() {
            return Err(Error::io(
                path,
                std::io::Error::from_raw_os_error(libc::ENOSPC),
            ));
        }
        if st.failed {
            return Err(Error::io(
                &self.dir,
                std::io::Error::other("background flush or compaction failed"),
            ));
        }
        Ok(())
    }

    /// Records a background failure: the engine is poisoned (every later write fails) and
    /// waiters are released.
    fn fail(&self, committer: &Committer, what: &str, e: Error) {
        tracing::error!(error = %e, "{what} failed; the database accepts no more writes");
        committer.dur.poison(e);
        let mut st = self.state.lock();
        st.failed = true;
        self.changed.notify_all();
    }

    /// Swaps `version` into the view, keeping the memtables but `flushed`. Caller holds
    /// `versions`.
    fn install(&self, version: Arc<Version>, flushed: Option<&Arc<Memtable>>) {
        self.level0_tables
            .store(version.level0.len(), Ordering::Relaxed);
        let mut view = self.view.write();
        let immutables = view
            .immutables
            .iter()
            .filter(|m| flushed.is_none_or(|f| !Arc::ptr_eq(m, f)))
            .cloned()
            .collect();
        *view = Arc::new(View {
            active: view.active.clone(),
            immutables,
            version,
        });
    }

    fn run_flusher(&self, committer: &Committer) {
        loop {
            let (mem, log_number) = {
                let mut st = self.state.lock();
                loop {
                    if self.stop.load(Ordering::Relaxed) {
                        return;
                    }
                    if let Some(job) = st.flushes.front() {
                        break job.clone();
                    }
                    self.changed.wait(&mut st);
                }
            };
            if let Err(e) = self.flush(committer, &mem, log_number) {
                if self.stop.load(Ordering::Relaxed) {
                    return;
                }
                let Some(path) = no_space_path(&e) else {
                    return self.fail(committer, "memtable flush", e);
                };
                let mut st = self.state.lock();
                if st.flush_no_space.is_none() {
                    tracing::warn!(file = %path.display(), "memtable flush failed: no space left on the device; trying again every second");
                }
                st.flush_no_space = Some(path);
                st.no_space_failures += 1;
                self.changed.notify_all();
                if !self.stop.load(Ordering::Relaxed) {
                    self.changed.wait_for(&mut st, NO_SPACE_RETRY);
                }
                continue;
            }
            let mut st = self.state.lock();
            if st.flush_no_space.take().is_some() {
                tracing::info!("memtable flush succeeded again: there is space");
            }
            st.flushes.pop_front();
            st.compaction_wanted = true;
            self.changed.notify_all();
        }
    }

    /// Writes `mem` as a level-0 table, records it (and that WAL segments below
    /// `log_number` are no longer needed), swaps it into the view and deletes those
    /// segments.
    fn flush(&self, committer: &Committer, mem: &Arc<Memtable>, log_number: u64) -> Result<()> {
        let started = std::time::Instant::now();
        // Readers take their view before their sequence number, so any reader of the
        // view without `mem` reads at or above this.
        let oldest_snapshot = committer.visible();
        let tables = if mem.is_empty() {
            Vec::new()
        } else {
            let mut input =
                MemCursor::new(mem.clone(), u64::MAX, Bound::Unbounded, Bound::Unbounded);
            input.seek(&[])?;
            let mut new_number = || self.versions.lock().new_file_number();
            compaction::write_tables(
                &mut input,
                &Rules {
                    oldest_snapshot,
                    filter: self.options.compaction_filter.as_deref(),
                    current: &|key| self.latest(key),
                    // Older tables may hold the key: keep tombstones.
                    bottommost: &|_| false,
                },
                &mut Sink {
                    dir: &self.dir,
                    options: &self.options,
                    target_bytes: u64::MAX,
                    new_number: &mut new_number,
                    stop: &self.stop,
                },
            )?
        };
        let edit = VersionEdit {
            log_number: Some(log_number),
            last_sequence: tables.iter().map(|t| t.properties().max_seq).max(),
            added: tables.iter().map(|t| (0, meta_of(t))).collect(),
            ..VersionEdit::default()
        };
        {
            let mut versions = self.versions.lock();
            let version = versions
                .log_and_apply(edit, &tables)
                .inspect_err(|_| abandon(&tables))?;
            self.install(version, Some(mem));
        }
        let held = self.segment_holds.load(Ordering::SeqCst) > 0;
        for n in wal::list_segments(&self.dir)? {
            if n < log_number && !held {
                let path = wal::segment_path(&self.dir, n);
                std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
            }
        }
        tracing::debug!(
            tables = tables.len(),
            bytes = tables.iter().map(|t| t.file_size()).sum::<u64>(),
            took_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "memtable flushed"
        );
        Ok(())
    }

    fn run_compactor(&self, committer: &Committer) {
        let mut pointers: [Bytes; LEVELS] = Default::default();
        loop {
            let mut idle = false;
            {
                let mut st = self.state.lock();
                st.compacting = false;
                self.changed.notify_all();
                while !st.compaction_wanted {
                    if self.stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let Some(period) = self.options.idle_compaction else {
                        self.changed.wait(&mut st);
                        continue;
                    };
                    // Writes do not wake this thread: a wait that runs out with the
                    // published sequence number unchanged saw none for a whole period.
                    let before = committer.visible();
                    if self.changed.wait_for(&mut st, period).timed_out()
                        && committer.visible() == before
                        && self.level0_tables.load(Ordering::Relaxed) > 0
                    {
                        idle = true;
                        break;
                    }
                }
                st.compaction_wanted = false;
                st.compacting = true;
            }
            loop {
                if self.stop.load(Ordering::Relaxed) {
                    return;
                }
                let version = self.versions.lock().current();
                let full = std::mem::take(&mut self.state.lock().full_requested);
                let picked = if full {
                    Compaction::full(&version)
                } else if std::mem::take(&mut idle) {
                    compaction::level0_into_level1(&version, &mut pointers)
                } else {
                    compaction::pick(&version, &self.options, &mut pointers)
                };
                let Some(c) = picked else {
                    if full {
                        continue; // nothing to merge; look for due work
                    }
                    break;
                };
                if let Err(e) = self.compact(committer, &version, &c) {
                    if self.stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let Some(path) = no_space_path(&e) else {
                        return self.fail(committer, "compaction", e);
                    };
                    let mut st = self.state.lock();
                    if st.compaction_no_space.is_none() {
                        tracing::warn!(file = %path.display(), "compaction failed: no space left on the device; trying again every second");
                    }
                    st.compaction_no_space = Some(path);
                    st.no_space_failures += 1;
                    st.compaction_wanted = true;
                    st.full_requested |= full;
                    self.changed.notify_all();
                    if !self.stop.load(Ordering::Relaxed) {
                        self.changed.wait_for(&mut st, NO_SPACE_RETRY);
                    }
                    break;
                }
                if self.state.lock().compaction_no_space.take().is_some() {
                    tracing::info!("compaction succeeded again: there is space");
                }
                self.changed.notify_all();
            }
        }
    }

    /// Runs one compaction and installs its result.
    fn compact(&self, committer: &Committer, version: &Arc<Version>, c: &Compaction) -> Result<()> {
        let started = std::time::Instant::now();
        let out_level = c.output_level;
        let mut edit = VersionEdit::default();
        for (level, t) in &c.inputs {
            edit.deleted.push((*level, t.number()));
        }
        let tables: Vec<Arc<Table>> = c.inputs.iter().map(|(_, t)| t.clone()).collect();
        if c.is_move() {
            for t in &tables {
                edit.added.push((out_level, meta_of(t)));
            }
            let mut versions = self.versions.lock();
            let next = versions.log_and_apply(edit, &tables)?;
            self.install(next, None);
            tracing::debug!(
                to_level = out_level,
                tables = tables.len(),
                "tables moved down"
            );
            return Ok(());
        }
        let oldest_snapshot = committer.visible();
        let mut input = MergingCursor::new(c.cursors(version));
        input.seek(&[])?;
        let bottommost = |key: &[u8]| !version.may_hold_below(out_level, key);
        let mut new_number = || self.versions.lock().new_file_number();
        let outputs = compaction::write_tables(
            &mut input,
            &Rules {
                oldest_snapshot,
                filter: self.options.compaction_filter.as_deref(),
                current: &|key| self.latest(key),
                bottommost: &bottommost,
            },
            &mut Sink {
                dir: &self.dir,
                options: &self.options,
                target_bytes: compaction::table_target_bytes(&self.options),
                new_number: &mut new_number,
                stop: &self.stop,
            },
        )?;
        for t in &outputs {
            edit.added.push((out_level, meta_of(t)));
        }
        let bytes_in: u64 = tables.iter().map(|t| t.file_size()).sum();
        let bytes_out: u64 = outputs.iter().map(|t| t.file_size()).sum();
        {
            let mut versions = self.versions.lock();
            let next = versions
                .log_and_apply(edit, &outputs)
                .inspect_err(|_| abandon(&outputs))?;
            self.install(next, None);
        }
        tracing::debug!(
            to_level = out_level,
            inputs = tables.len(),
            outputs = outputs.len(),
            bytes_in,
            bytes_out,
            took_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "compaction done"
        );
        Ok(())
    }
}

/// Deletes tables written for an edit that could not be recorded (as their last reference
/// goes), so that a retry does not leave them taking space.
fn abandon(tables: &[Arc<Table>]) {
    for table in tables {
        table.mark_obsolete();
    }
}

/// The background threads; dropping this stops them (an unfinished compaction is
/// abandoned, its temporary files removed at the next open).
#[derive(Debug)]
pub(crate) struct Background {
    tree: Arc<Tree>,
    threads: Vec<JoinHandle<()>>,
}

impl Drop for Background {
    fn drop(&mut self) {
        self.tree.stop.store(true, Ordering::Relaxed);
        {
            let _st = self.tree.state.lock();
            self.tree.changed.notify_all();
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
