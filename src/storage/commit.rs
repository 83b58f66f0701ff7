//! The commit pipeline: group commit of write batches into the WAL, and the separate
//! durability stage (the syncer thread) that completes `WriteTicket`s.
//!
//! Stage one (leader style): a writer queues its batch under a mutex; if no leader is
//! active it becomes leader, takes every queued batch, writes them with one `write`
//! call, applies them to the memtable in order, publishes the new visible sequence
//! number and wakes the others. Stage two: under `SyncPolicy::Always` the syncer thread
//! fsyncs whenever more has been written than synced and completes every ticket up to
//! what the fsync covered; writers that arrive during an fsync share the next one. No
//! lock that writers need is held during an fsync. A failed write or fsync poisons the
//! pipeline: the error is kept and every pending and later write returns it.
//!
//! This module must never block a writer on an fsync it does not need.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};
use std::thread::{JoinHandle, Thread};
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::{Condvar, Mutex, RwLock};

use super::batch::{WriteBatch, MAX_BATCH_BYTES};
use super::error::{Error, Result};
use super::options::SyncPolicy;
use super::view::View;
use super::wal::{self, Segment, KIND_BATCH};

/// The state shared by writers, the syncer thread and outstanding tickets.
#[derive(Debug)]
pub(crate) struct Durability {
    policy: SyncPolicy,
    state: Mutex<DurState>,
    /// Wakes the syncer thread.
    syncer_cv: Condvar,
    /// Highest sequence number known to be on stable storage (fast path for tickets).
    synced: AtomicU64,
    poison: OnceLock<Arc<Error>>,
    /// The segment being appended to; the syncer fsyncs this one.
    current: Mutex<Arc<Segment>>,
    /// Counters for `Db::stats`.
    pub(crate) counters: Counters,
}

/// Monotonic counters of the commit pipeline (relaxed atomics; for monitoring).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub batches: AtomicU64,
    pub wal_writes: AtomicU64,
    pub wal_bytes: AtomicU64,
    pub wal_syncs: AtomicU64,
}

#[derive(Debug)]
struct DurState {
    /// Highest sequence number handed to the OS with `write`.
    written: u64,
    synced: u64,
    shutdown: bool,
    /// Tickets waiting for `synced` to reach their sequence number: async tasks, and
    /// threads blocked in `WriteTicket::wait` (as a waker that unparks them). Only the
    /// ones an fsync covers are woken, not every waiter.
    wakers: Vec<(u64, Waker)>,
    /// How many waiters the last fsync woke, the batch count when it did, and how long
    /// it took: the syncer uses them to let those writers queue again before the next
    /// fsync (see `run_syncer`).
    woken_by_last_sync: u64,
    batches_at_last_sync: u64,
    last_sync_time: Duration,
}

impl Durability {
    pub(crate) fn new(policy: SyncPolicy, last_seq: u64, segment: Arc<Segment>) -> Self {
        Durability {
            policy,
            state: Mutex::new(DurState {
                written: last_seq,
                synced: last_seq,
                shutdown: false,
                wakers: Vec::new(),
                woken_by_last_sync: 0,
                batches_at_last_sync: 0,
                last_sync_time: Duration::ZERO,
            }),
            syncer_cv: Condvar::new(),
            synced: AtomicU64::new(last_seq),
            poison: OnceLock::new(),
            current: Mutex::new(segment),
            counters: Counters::default(),
        }
    }

    pub(crate) fn check_poison(&self) -> Result<()> {
        match self.poison.get() {
            Some(e) => Err(Error::Poisoned(e.clone())),
            None => Ok(()),
        }
    }

    fn is_poisoned(&self) -> bool {
        self.poison.get().is_some()
    }

    /// Records a fatal error and wakes everyone waiting so they can return it.
    pub(crate) fn poison(&self, err: Error) {
        tracing::error!(error = %err, "storage poisoned: later writes will fail");
        let _ = self.poison.set(Arc::new(err));
        let wakers = {
            let mut st = self.state.lock();
            std::mem::take(&mut st.wakers)
        };
        self.syncer_cv.notify_all();
        for (_, w) in wakers {
            w.wake();
        }
    }

    /// Arranges for the calling thread to be unparked once `seq` is synced (or poisoned).
    fn register_thread(&self, seq: u64) {
        let waker = THREAD_WAKER.with(Waker::clone);
        let mut st = self.state.lock();
        if st.synced < seq {
            st.wakers.push((seq, waker));
        }
    }

    fn note_written(&self, seq: u64) {
        let mut st = self.state.lock();
        st.written = seq;
        drop(st);
        if self.policy == SyncPolicy::Always {
            self.syncer_cv.notify_one();
        }
    }

    fn mark_synced(&self, seq: u64, took: Duration) {
        let mut ready = Vec::new();
        {
            let mut st = self.state.lock();
            if seq <= st.synced {
                return;
            }
            st.last_sync_time = took;
            st.synced = seq;
            self.synced.store(seq, Ordering::Release);
            let mut i = 0;
            while i < st.wakers.len() {
                if st.wakers[i].0 <= seq {
                    ready.push(st.wakers.swap_remove(i).1);
                } else {
                    i += 1;
                }
            }
            st.woken_by_last_sync = ready.len() as u64;
            st.batches_at_last_sync = self.counters.batches.load(Ordering::Relaxed);
        }
        for w in ready {
            w.wake();
        }
    }

    /// fsyncs the current segment now, covering everything written so far.
    pub(crate) fn sync_now(&self) -> Result<()> {
        self.check_poison()?;
        let target = self.state.lock().written;
        if self.synced.load(Ordering::Acquire) >= target {
            return Ok(());
        }
        // Anything written before a segment switch was fsynced by the switch, so the
        // current segment is the only one that can hold unsynced records up to `target`.
        let seg = self.current.lock().clone();
        let started = Instant::now();
        match seg.sync() {
            Ok(()) => {
                self.counters.wal_syncs.fetch_add(1, Ordering::Relaxed);
                self.mark_synced(target, started.elapsed());
                Ok(())
            }
            Err(e) => {
                self.poison(e);
                self.check_poison()
            }
        }
    }

    /// Body of the syncer thread (policies `Always` and `EverySecond`).
    fn run_syncer(self: Arc<Self>) {
        loop {
            let mut st = self.state.lock();
            match self.policy {
                SyncPolicy::Always => {
                    while st.written <= st.synced && !st.shutdown && !self.is_poisoned() {
                        self.syncer_cv.wait(&mut st);
                    }
                    // The writers the last fsync woke are about to queue their next
                    // batches; an fsync started now would cover only the first of them
                    // and leave the rest for the one after. So wait, briefly, until as
                    // many batches were written as writers were woken: at most an
                    // eighth of the last fsync's time (capped at 1 ms), so a lone
                    // writer (woken 1, wrote 1) never waits and many writers pay at
                    // most ~12% latency for far fewer fsyncs.
                    let budget = (st.last_sync_time / 8).min(Duration::from_millis(1));
                    let deadline = Instant::now() + budget;
                    while self
                        .counters
                        .batches
                        .load(Ordering::Relaxed)
                        .saturating_sub(st.batches_at_last_sync)
                        < st.woken_by_last_sync
                        && !st.shutdown
                        && !self.is_poisoned()
                    {
                        if self.syncer_cv.wait_until(&mut st, deadline).timed_out() {
                            break;
                        }
                    }
                }
                _ => {
                    if !st.shutdown {
                        self.syncer_cv.wait_for(&mut st, Duration::from_secs(1));
                    }
                }
            }
            let done = st.shutdown || self.is_poisoned();
            let pending = st.written > st.synced;
            drop(st);
            if pending && !self.is_poisoned() {
                // Errors are recorded as poison; tickets and writers report them.
                let _ = self.sync_now();
            }
            if done {
                return;
            }
        }
    }
}

/// Handle of the syncer thread; stops it (after a last fsync) when dropped.
#[derive(Debug)]
pub(crate) struct Syncer {
    dur: Arc<Durability>,
    handle: Option<JoinHandle<()>>,
}

impl Syncer {
    pub(crate) fn start(dur: Arc<Durability>) -> Result<Option<Syncer>> {
        if dur.policy == SyncPolicy::Never {
            return Ok(None);
        }
        let d = dur.clone();
        let handle = std::thread::Builder::new()
            .name("cairn-wal-sync".into())
            .spawn(move || d.run_syncer())
            .map_err(|e| Error::io("<syncer thread>", e))?;
        Ok(Some(Syncer {
            dur,
            handle: Some(handle),
        }))
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        self.dur.state.lock().shutdown = true;
        self.dur.syncer_cv.notify_all();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// A batch waiting for the leader.
#[derive(Debug)]
struct Pending {
    first_seq: u64,
    last_seq: u64,
    payload: Bytes,
    /// The writer, parked until it is woken: to lead, after its batch is applied (if
    /// `wake_on_apply`), or by the fsync covering it.
    writer: Thread,
    /// False for a `Db::write` under `Always`: that writer sleeps until the fsync and
    /// needs no wake-up in between.
    wake_on_apply: bool,
}

#[derive(Debug)]
struct Queue {
    /// Last sequence number handed out.
    last_assigned: u64,
    pending: Vec<Pending>,
    leader_active: bool,
}

/// What only the leader touches.
#[derive(Debug)]
struct LeaderState {
    segment: Arc<Segment>,
    segment_number: u64,
    segment_size: u64,
    buf: Vec<u8>,
    spare: Vec<Pending>,
}

/// The write side of a `Db`: sequence numbers, the queue, the leader's WAL state.
///
/// Every waiting writer sleeps with `std::thread::park` and is woken only by an event
/// that concerns it: its batch applied, the fsync covering it, or its turn to lead
/// (when a leader steps down with batches still queued it unparks the writer of the
/// oldest one). So a `Db::write` under `Always` costs a follower one wake-up, and no
/// writer is woken just to go back to sleep.
#[derive(Debug)]
pub(crate) struct Committer {
    queue: Mutex<Queue>,
    leader: Mutex<LeaderState>,
    /// Highest sequence number whose batch (and every earlier one) is in the memtable.
    visible: AtomicU64,
    pub(crate) dur: Arc<Durability>,
    dir: std::path::PathBuf,
    segment_limit: u64,
}

/// What a writer waits for before `commit` returns.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Until {
    /// Written and applied (visible).
    Applied,
    /// Durable: covered by an fsync (only meaningful under `Always`).
    Synced,
}

impl Committer {
    pub(crate) fn new(
        dir: std::path::PathBuf,
        policy: SyncPolicy,
        segment_limit: u64,
        last_seq: u64,
        segment: Arc<Segment>,
        segment_number: u64,
    ) -> Self {
        Committer {
            queue: Mutex::new(Queue {
                last_assigned: last_seq,
                pending: Vec::new(),
                leader_active: false,
            }),
            leader: Mutex::new(LeaderState {
                segment: segment.clone(),
                segment_number,
                segment_size: 0,
                buf: Vec::new(),
                spare: Vec::new(),
            }),
            visible: AtomicU64::new(last_seq),
            dur: Arc::new(Durability::new(policy, last_seq, segment)),
            dir,
            segment_limit,
        }
    }

    /// Highest sequence number visible to reads.
    pub(crate) fn visible(&self) -> u64 {
        self.visible.load(Ordering::Acquire)
    }

    /// Writes `batch` to the WAL and the memtable; returns the ticket for durability.
    pub(crate) fn submit(
        &self,
        batch: WriteBatch,
        view: &RwLock<Arc<View>>,
    ) -> Result<WriteTicket> {
        let Some(last_seq) = self.commit(batch, view, Until::Applied)? else {
            return Ok(WriteTicket::ready());
        };
        Ok(match self.dur.policy {
            SyncPolicy::Always => WriteTicket {
                state: TicketState::Pending {
                    seq: last_seq,
                    dur: self.dur.clone(),
                },
            },
            _ => WriteTicket::ready(),
        })
    }

    /// `submit` + `wait`, without waking the writer in between.
    pub(crate) fn write(&self, batch: WriteBatch, view: &RwLock<Arc<View>>) -> Result<()> {
        let until = match self.dur.policy {
            SyncPolicy::Always => Until::Synced,
            _ => Until::Applied,
        };
        self.commit(batch, view, until).map(|_| ())
    }

    /// Queues `batch`, leads groups when it is this writer's turn, and returns the
    /// batch's last sequence number once `until` holds (`None` for an empty batch).
    fn commit(
        &self,
        batch: WriteBatch,
        view: &RwLock<Arc<View>>,
        until: Until,
    ) -> Result<Option<u64>> {
        self.dur.check_poison()?;
        if batch.is_empty() {
            return Ok(None);
        }
        if batch.too_large() {
            return Err(Error::BatchTooLarge {
                size: batch.encoded_len(),
                limit: MAX_BATCH_BYTES,
            });
        }
        let count = u64::from(batch.count());
        let last_seq = {
            let mut q = self.queue.lock();
            let first_seq = q.last_assigned + 1;
            let last_seq = q.last_assigned + count;
            q.last_assigned = last_seq;
            q.pending.push(Pending {
                first_seq,
                last_seq,
                payload: batch.into_payload(first_seq),
                writer: std::thread::current(),
                wake_on_apply: until == Until::Applied,
            });
            last_seq
        };
        if until == Until::Synced {
            self.dur.register_thread(last_seq);
        }
        loop {
            let done = match until {
                Until::Applied => self.visible() >= last_seq,
                Until::Synced => self.dur.synced.load(Ordering::Acquire) >= last_seq,
            };
            if done {
                return Ok(Some(last_seq));
            }
            if self.dur.is_poisoned() {
                return Err(self.poisoned_error());
            }
            let mut q = self.queue.lock();
            if q.leader_active || self.visible() >= last_seq {
                // Someone else leads, or ours is applied and only the fsync is left.
                drop(q);
                // Unparked by whatever concerns us (a spurious return just loops).
                std::thread::park();
                continue;
            }
            // No leader and our batch is still queued: lead one group.
            q.leader_active = true;
            let mut leader = self.leader.lock();
            let mut group = std::mem::take(&mut leader.spare);
            std::mem::swap(&mut group, &mut q.pending);
            drop(q);
            let result = self.commit_group(&mut leader, &group, view);
            let me = std::thread::current().id();
            for p in &group {
                if (p.wake_on_apply || result.is_err()) && p.writer.id() != me {
                    p.writer.unpark();
                }
            }
            group.clear();
            leader.spare = group;
            drop(leader);
            let mut q = self.queue.lock();
            q.leader_active = false;
            if result.is_err() {
                for p in q.pending.drain(..) {
                    p.writer.unpark();
                }
            } else if let Some(next) = q.pending.first() {
                // Hand over: the oldest queued writer leads the next group.
                next.writer.unpark();
            }
        }
    }

    fn poisoned_error(&self) -> Error {
        match self.dur.check_poison() {
            Err(e) => e,
            Ok(()) => Error::io("<wal>", std::io::Error::other("write failed")),
        }
    }

    /// The leader's work for one group: one write, then apply and publish.
    fn commit_group(
        &self,
        leader: &mut LeaderState,
        group: &[Pending],
        view: &RwLock<Arc<View>>,
    ) -> Result<()> {
        let Some(last) = group.last() else {
            return Ok(());
        };
        if self.dur.is_poisoned() {
            return Err(self.poisoned_error());
        }
        leader.buf.clear();
        for p in group {
            wal::encode_record(&mut leader.buf, KIND_BATCH, &p.payload);
        }
        if leader.segment_size > 0
            && leader.segment_size + leader.buf.len() as u64 > self.segment_limit
        {
            if let Err(e) = self.switch_segment(leader) {
                self.dur.poison(e);
                return Err(self.poisoned_error());
            }
        }
        if let Err(e) = leader.segment.append(&leader.buf) {
            self.dur.poison(e);
            return Err(self.poisoned_error());
        }
        leader.segment_size += leader.buf.len() as u64;
        let c = &self.dur.counters;
        c.batches.fetch_add(group.len() as u64, Ordering::Relaxed);
        c.wal_writes.fetch_add(1, Ordering::Relaxed);
        c.wal_bytes
            .fetch_add(leader.buf.len() as u64, Ordering::Relaxed);
        if leader.buf.capacity() > 4 << 20 {
            leader.buf = Vec::new(); // don't keep a huge batch's buffer forever
        }
        self.dur.note_written(last.last_seq);
        let mem = view.read().active.clone();
        for p in group {
            mem.apply(&p.payload, p.first_seq);
        }
        self.visible.store(last.last_seq, Ordering::Release);
        Ok(())
    }

    /// Moves on to a new segment. The old one is fsynced first so that the syncer only
    /// ever needs to fsync the current segment.
    fn switch_segment(&self, leader: &mut LeaderState) -> Result<()> {
        leader.segment.sync()?;
        self.dur.counters.wal_syncs.fetch_add(1, Ordering::Relaxed);
        let written = self.dur.state.lock().written;
        self.dur.mark_synced(written, Duration::ZERO);
        let n = leader.segment_number + 1;
        let seg = Segment::create(&self.dir, n)?;
        *self.dur.current.lock() = seg.clone();
        leader.segment = seg;
        leader.segment_number = n;
        leader.segment_size = 0;
        Ok(())
    }
}

/// Wakes a thread parked in `WriteTicket::wait`.
struct Unparker(std::thread::Thread);

impl std::task::Wake for Unparker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

thread_local! {
    // One per thread, so blocking waits don't allocate.
    static THREAD_WAKER: Waker = Waker::from(Arc::new(Unparker(std::thread::current())));
}

#[derive(Debug)]
enum TicketState {
    Ready,
    Pending { seq: u64, dur: Arc<Durability> },
}

/// Completes when a submitted batch is durable according to the sync policy.
///
/// Returned by [`Db::submit`](crate::storage::Db::submit). It is a `Future` (built on
/// `std::task::Waker` only, so any executor can await it) and can also be waited for
/// with [`WriteTicket::wait`]. Under `SyncPolicy::Never` and `EverySecond` it is
/// complete at once. Dropping it does not cancel the write.
#[derive(Debug)]
#[must_use = "a write is durable only when its ticket completes"]
pub struct WriteTicket {
    state: TicketState,
}

impl WriteTicket {
    fn ready() -> Self {
        WriteTicket {
            state: TicketState::Ready,
        }
    }

    /// Blocks until the batch is durable; returns the error if the Db was poisoned first.
    pub fn wait(self) -> Result<()> {
        let TicketState::Pending { seq, dur } = self.state else {
            return Ok(());
        };
        if dur.synced.load(Ordering::Acquire) >= seq {
            return Ok(());
        }
        let waker = THREAD_WAKER.with(Waker::clone);
        loop {
            {
                let mut st = dur.state.lock();
                if st.synced >= seq {
                    return Ok(());
                }
                dur.check_poison()?;
                st.wakers.push((seq, waker.clone()));
            }
            // Returns when unparked by the fsync covering `seq` (or the poison), or
            // spuriously; either way the loop checks again.
            std::thread::park();
            if dur.synced.load(Ordering::Acquire) >= seq {
                return Ok(());
            }
        }
    }

    /// True if the batch is already durable (or failed).
    pub fn is_complete(&self) -> bool {
        match &self.state {
            TicketState::Ready => true,
            TicketState::Pending { seq, dur } => {
                dur.synced.load(Ordering::Acquire) >= *seq || dur.is_poisoned()
            }
        }
    }
}

impl Future for WriteTicket {
    type Output = Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let TicketState::Pending { seq, dur } = &self.state else {
            return Poll::Ready(Ok(()));
        };
        if dur.synced.load(Ordering::Acquire) >= *seq {
            return Poll::Ready(Ok(()));
        }
        let mut st = dur.state.lock();
        if st.synced >= *seq {
            return Poll::Ready(Ok(()));
        }
        if let Err(e) = dur.check_poison() {
            return Poll::Ready(Err(e));
        }
        // A re-poll before completion adds a second registration; both are dropped at
        // the next fsync, which keeps registration O(1).
        st.wakers.push((*seq, cx.waker().clone()));
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::memtable::Memtable;

    /// A segment whose file is read-only, so the first WAL write fails.
    fn failing_committer(dir: &std::path::Path, policy: SyncPolicy) -> Committer {
        let path = dir.join("000001.wal");
        std::fs::write(&path, b"").expect("create");
        let file = std::fs::File::open(&path).expect("open read-only");
        let seg = Arc::new(Segment { file, path });
        Committer::new(dir.to_path_buf(), policy, 1 << 20, 0, seg, 1)
    }

    #[test]
    fn a_failed_write_poisons_every_later_write() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = failing_committer(dir.path(), SyncPolicy::Always);
        let view = RwLock::new(Arc::new(View::new(Arc::new(Memtable::new()))));
        let mut b = WriteBatch::new();
        b.put(b"k", b"v");
        let err = c.submit(b.clone(), &view).expect_err("write must fail");
        match &err {
            Error::Poisoned(inner) => assert!(matches!(**inner, Error::Io { .. }), "{inner:?}"),
            other => panic!("expected poisoned, got {other:?}"),
        }
        assert!(err.to_string().contains("000001.wal"), "{err}");
        // Nothing half-done became visible.
        assert_eq!(c.visible(), 0);
        assert!(matches!(c.submit(b, &view), Err(Error::Poisoned(_))));
        assert!(matches!(c.dur.sync_now(), Err(Error::Poisoned(_))));
    }

    #[test]
    fn waiting_tickets_get_the_poison() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("000001.wal");
        let seg = Segment::create(dir.path(), 1).expect("segment");
        let c = Committer::new(
            dir.path().to_path_buf(),
            SyncPolicy::Always,
            1 << 20,
            0,
            seg,
            1,
        );
        let view = RwLock::new(Arc::new(View::new(Arc::new(Memtable::new()))));
        let mut b = WriteBatch::new();
        b.put(b"k", b"v");
        // No syncer runs here, so the ticket stays pending until the poison arrives.
        let ticket = c.submit(b, &view).expect("submit");
        assert!(!ticket.is_complete());
        c.dur.poison(Error::io(
            &path,
            std::io::Error::other("injected fsync failure"),
        ));
        assert!(ticket.is_complete());
        assert!(matches!(ticket.wait(), Err(Error::Poisoned(_))));
    }
}
