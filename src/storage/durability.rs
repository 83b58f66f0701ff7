//! The durability stage: the syncer thread that fsyncs the WAL per the sync policy,
//! and `WriteTicket`, which completes when a batch is durable.
//!
//! Under `SyncPolicy::Always` the syncer fsyncs whenever more has been written than
//! synced and wakes exactly the tickets the fsync covered; writers that arrive during an
//! fsync share the next one. A failed fsync (or write, reported by the committer)
//! poisons the pipeline: the error is kept and every pending and later write returns it.
//! This module holds no lock a writer needs while it fsyncs.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::error::{Error, Result};
use super::options::SyncPolicy;
use super::wal::Segment;

/// The state shared by writers, the syncer thread and outstanding tickets.
#[derive(Debug)]
pub(crate) struct Durability {
    policy: SyncPolicy,
    state: Mutex<DurState>,
    /// Wakes the syncer thread.
    syncer_cv: Condvar,
    /// Highest sequence number known to be on stable storage (fast path for tickets).
    synced: AtomicU64,
    /// Highest sequence number handed to the OS. An atomic, so that a commit under a
    /// policy without a waiting syncer records it without taking `state`; under `Always`
    /// it is stored with `state` held, so the syncer (which checks it with `state` held
    /// before it sleeps) never misses the wake-up.
    written: AtomicU64,
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
    synced: u64,
    shutdown: bool,
    /// Writers waiting for `synced` to reach their sequence number. Only the ones an fsync
    /// covers are woken, not every waiter.
    waiters: Vec<Waiter>,
    /// How many blocked threads the last fsync woke, the batch count when it did, and how
    /// long it took: the syncer uses them to let those writers queue again before the
    /// next fsync (see `run_syncer`).
    threads_woken_by_last_sync: u64,
    batches_at_last_sync: u64,
    last_sync_time: Duration,
}

impl Durability {
    pub(crate) fn new(policy: SyncPolicy, last_seq: u64, segment: Arc<Segment>) -> Self {
        Durability {
            policy,
            state: Mutex::new(DurState {
                synced: last_seq,
                shutdown: false,
                waiters: Vec::new(),
                threads_woken_by_last_sync: 0,
                batches_at_last_sync: 0,
                last_sync_time: Duration::ZERO,
            }),
            syncer_cv: Condvar::new(),
            synced: AtomicU64::new(last_seq),
            written: AtomicU64::new(last_seq),
            poison: OnceLock::new(),
            current: Mutex::new(segment),
            counters: Counters::default(),
        }
    }

    pub(crate) fn policy(&self) -> SyncPolicy {
        self.policy
    }

    /// Highest sequence number known to be on stable storage.
    pub(crate) fn synced(&self) -> u64 {
        self.synced.load(Ordering::Acquire)
    }

    /// Highest sequence number handed to the OS.
    pub(crate) fn written(&self) -> u64 {
        self.written.load(Ordering::Acquire)
    }

    /// Makes `seg` the segment the syncer fsyncs.
    pub(crate) fn set_current(&self, seg: Arc<Segment>) {
        *self.current.lock() = seg;
    }

    pub(crate) fn check_poison(&self) -> Result<()> {
        match self.poison.get() {
            Some(e) => Err(Error::Poisoned(e.clone())),
            None => Ok(()),
        }
    }

    pub(crate) fn is_poisoned(&self) -> bool {
        self.poison.get().is_some()
    }

    /// Records a fatal error and wakes everyone waiting so they can return it.
    pub(crate) fn poison(&self, err: Error) {
        tracing::error!(error = %err, "storage poisoned: later writes will fail");
        let _ = self.poison.set(Arc::new(err));
        let waiters = {
            let mut st = self.state.lock();
            std::mem::take(&mut st.waiters)
        };
        self.syncer_cv.notify_all();
        for waiter in waiters {
            waiter.waker.wake();
        }
    }

    /// Arranges for the calling thread to be unparked once `seq` is synced (or poisoned).
    pub(crate) fn register_thread(&self, seq: u64) {
        let waker = THREAD_WAKER.with(Waker::clone);
        let mut st = self.state.lock();
        if st.synced < seq {
            st.waiters.push(Waiter::thread(seq, waker));
        }
    }

    /// Under `EverySecond`, asks the syncer to fsync now rather than at its next tick (best
    /// effort: a syncer busy fsyncing misses it).
    pub(crate) fn sync_soon(&self) {
        if self.policy == SyncPolicy::EverySecond {
            self.syncer_cv.notify_one();
        }
    }

    pub(crate) fn note_written(&self, seq: u64) {
        if self.policy == SyncPolicy::Always {
            let st = self.state.lock();
            self.written.store(seq, Ordering::Release);
            drop(st);
            self.syncer_cv.notify_one();
        } else {
            self.written.store(seq, Ordering::Release);
        }
    }

    pub(crate) fn mark_synced(&self, seq: u64, took: Duration) {
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
            while i < st.waiters.len() {
                if st.waiters[i].seq <= seq {
                    ready.push(st.waiters.swap_remove(i));
                } else {
                    i += 1;
                }
            }
            st.threads_woken_by_last_sync = ready.iter().filter(|w| w.is_thread).count() as u64;
            st.batches_at_last_sync = self.counters.batches.load(Ordering::Relaxed);
        }
        for waiter in ready {
            waiter.waker.wake();
        }
    }

    /// fsyncs the current segment now, covering everything written so far.
    pub(crate) fn sync_now(&self) -> Result<()> {
        self.check_poison()?;
        let target = self.written();
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
                    while self.written() <= st.synced && !st.shutdown && !self.is_poisoned() {
                        self.syncer_cv.wait(&mut st);
                    }
                    // The threads the last fsync woke are about to queue their next
                    // batches; an fsync started now would cover only the first of them
                    // and leave the rest for the one after. So wait, briefly, until as
                    // many batches were written as threads were woken: at most an
                    // eighth of the last fsync's time (capped at 1 ms), so a lone
                    // writer (woken 1, wrote 1) never waits and many writers pay at
                    // most ~12% latency for far fewer fsyncs. Woken tasks are not
                    // waited for: an async writer (a server connection) answers its
                    // client before it writes again, a network round trip later, and
                    // waiting for it only held up the writes already queued
                    // (redis-benchmark's SETs under `--fsync always` ran faster without
                    // the wait: docs/benchmarks.md).
                    let budget = (st.last_sync_time / 8).min(Duration::from_millis(1));
                    let deadline = Instant::now() + budget;
                    while self
                        .counters
                        .batches
                        .load(Ordering::Relaxed)
                        .saturating_sub(st.batches_at_last_sync)
                        < st.threads_woken_by_last_sync
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
            let pending = self.written() > st.synced;
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

/// A writer waiting for an fsync: an async task, or a thread blocked in `Db::write` or
/// `WriteTicket::wait` (as a waker that unparks it).
#[derive(Debug)]
struct Waiter {
    /// The sequence number it waits for.
    seq: u64,
    waker: Waker,
    /// A blocked thread, which writes again as soon as it wakes (see `run_syncer`).
    is_thread: bool,
}

impl Waiter {
    fn thread(seq: u64, waker: Waker) -> Waiter {
        Waiter {
            seq,
            waker,
            is_thread: true,
        }
    }

    fn task(seq: u64, waker: Waker) -> Waiter {
        Waiter {
            seq,
            waker,
            is_thread: false,
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
    pub(crate) fn pending(seq: u64, dur: Arc<Durability>) -> Self {
        WriteTicket {
            state: TicketState::Pending { seq, dur },
        }
    }

    pub(crate) fn ready() -> Self {
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
                st.waiters.push(Waiter::thread(seq, waker.clone()));
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
        st.waiters.push(Waiter::task(*seq, cx.waker().clone()));
        Poll::Pending
    }
}
