//! The commit pipeline's first stage: sequence numbers and leader-style group commit of
//! write batches into the WAL and the memtable.
//!
//! A writer queues its batch under a mutex; if no leader is active it becomes leader,
//! takes every queued batch, writes them with one `write` call, applies them to the
//! memtable in order, publishes the new visible sequence number and wakes the writers
//! concerned. Durability (fsync) is the second stage, in `durability.rs`.
//!
//! A write that fails for want of disk space (creating the next segment, or appending)
//! fails only the group being written: its writers get the error, its sequence numbers are
//! covered by a skip record written before the next group that succeeds (so recovery still
//! sees them continue), and writes succeed again once there is space. Any other failed
//! write poisons the pipeline.
//!
//! This module must never block a writer on an fsync it does not need.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::Thread;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::{Mutex, MutexGuard};
use smallvec::SmallVec;

use super::batch::{WriteBatch, MAX_BATCH_BYTES};
use super::durability::{Durability, WriteTicket};
use super::error::{Error, Result};
use super::memtable::Readers;
use super::options::{CommitTap, SyncPolicy};
use super::tree::Tree;
use super::wal::{self, Segment, KIND_BATCH, KIND_SKIP};

/// A batch waiting for the leader.
#[derive(Debug)]
struct Pending {
    first_seq: u64,
    last_seq: u64,
    payload: Bytes,
    /// The writer, parked until it is woken: to lead, after its batch is applied (if
    /// `wake_on_apply`), or by the fsync covering it. `None` for a writer that leads its
    /// own batch at once: nobody needs to wake it (and `thread::current` showed in the
    /// profile of a worker serving unpipelined SETs).
    writer: Option<Thread>,
    /// False for a `Db::write` under `Always`: that writer sleeps until the fsync and
    /// needs no wake-up in between.
    wake_on_apply: bool,
}

impl Pending {
    fn unpark(&self) {
        if let Some(writer) = &self.writer {
            writer.unpark();
        }
    }
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
    spare: Vec<Pending>,
    /// A segment switch failed (or an append did): the next group switches first.
    needs_switch: bool,
    /// Sequence numbers of groups that failed for want of space, not yet covered by a
    /// skip record in the log.
    skipped: Option<(u64, u64)>,
}

/// A group that failed for want of disk space, until each of its writers has been told.
#[derive(Debug)]
struct Refused {
    first_seq: u64,
    last_seq: u64,
    /// The file that could not grow, and the errno.
    path: PathBuf,
    errno: i32,
    /// Writers not told yet.
    untold: usize,
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
    /// Holds the highest sequence number whose batch (and every earlier one) is in the
    /// memtable: `visible`, shared with the memtables.
    readers: Arc<Readers>,
    pub(crate) dur: Arc<Durability>,
    dir: std::path::PathBuf,
    segment_limit: u64,
    /// Groups refused for want of space whose writers have not all returned yet.
    refused: Mutex<Vec<Refused>>,
    /// Whether `refused` is not empty (checked by every writer as it returns).
    any_refused: AtomicBool,
    /// Whether the last group written was refused for want of space (for `Db::stats`).
    pub(crate) out_of_space: AtomicBool,
    /// Told of each batch as its group becomes visible, in sequence order.
    tap: Option<Arc<dyn CommitTap>>,
}

/// Where the WAL ends, read under the leader lock between two groups: for a checkpoint.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LogEnd {
    /// The segment being appended to.
    pub segment_number: u64,
    /// Bytes of whole records in it.
    pub segment_size: u64,
    /// The last sequence number those records hold.
    pub last_seq: u64,
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
        readers: Arc<Readers>,
    ) -> Self {
        readers.visible.store(last_seq, Ordering::Release);
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
                spare: Vec::new(),
                needs_switch: false,
                skipped: None,
            }),
            readers,
            dur: Arc::new(Durability::new(policy, last_seq, segment)),
            dir,
            segment_limit,
            refused: Mutex::new(Vec::new()),
            any_refused: AtomicBool::new(false),
            out_of_space: AtomicBool::new(false),
            tap: None,
        }
    }

    /// Tells `tap` of every batch committed from now on.
    pub(crate) fn with_tap(mut self, tap: Option<Arc<dyn CommitTap>>) -> Self {
        self.tap = tap;
        self
    }

    /// Where the log ends now: no group is being written while the leader lock is held.
    pub(crate) fn log_end(&self) -> LogEnd {
        let leader = self.leader.lock();
        LogEnd {
            segment_number: leader.segment_number,
            segment_size: leader.segment_size,
            last_seq: self.visible(),
        }
    }

    /// Highest sequence number visible to reads. (`SeqCst`, like the store that publishes
    /// it: a memtable deciding whether versions are still pinned relies on the order of
    /// this load and the readers' pins; see `Memtable::prune`.)
    pub(crate) fn visible(&self) -> u64 {
        self.readers.visible.load(Ordering::SeqCst)
    }

    /// The readers' shared state (published sequence number, pins).
    pub(crate) fn readers(&self) -> &Arc<Readers> {
        &self.readers
    }

    /// Writes `batch` to the WAL and the memtable; returns the ticket for durability.
    pub(crate) fn submit(&self, batch: WriteBatch, tree: &Tree) -> Result<WriteTicket> {
        self.submit_at(batch, tree, None)
    }

    /// `submit`, at sequence numbers from `at` on if given (a replica applying its
    /// primary's batch).
    pub(crate) fn submit_at(
        &self,
        batch: WriteBatch,
        tree: &Tree,
        at: Option<u64>,
    ) -> Result<WriteTicket> {
        let Some(last_seq) = self.commit(batch, tree, Until::Applied, at)? else {
            return Ok(WriteTicket::ready());
        };
        Ok(match self.dur.policy() {
            SyncPolicy::Always => WriteTicket::pending(last_seq, self.dur.clone()),
            _ => WriteTicket::ready(),
        })
    }

    /// `submit` + `wait`, without waking the writer in between.
    pub(crate) fn write(&self, batch: WriteBatch, tree: &Tree) -> Result<()> {
        let until = match self.dur.policy() {
            SyncPolicy::Always => Until::Synced,
            _ => Until::Applied,
        };
        self.commit(batch, tree, until, None).map(|_| ())
    }

    /// Makes the next batch start at sequence number `at` (held under the queue lock):
    /// numbers between the last one handed out and `at` are covered by a skip record
    /// written before that batch, as the numbers of a refused write are. Only when no
    /// other batch is queued or being led, so the skip cannot land between them and
    /// their numbers; `Ok(false)` asks the caller to try again shortly.
    fn jump_to(&self, q: &mut Queue, at: u64) -> Result<bool> {
        if at <= q.last_assigned {
            return Err(Error::SequenceTaken {
                first_seq: at,
                last_seq: q.last_assigned,
            });
        }
        if at == q.last_assigned + 1 {
            return Ok(true);
        }
        if q.leader_active || !q.pending.is_empty() {
            return Ok(false);
        }
        // Lock order: queue, then leader (as a writer taking its turn to lead does).
        let mut leader = self.leader.lock();
        let gap = (q.last_assigned + 1, at - 1);
        leader.skipped = Some(match leader.skipped {
            // A refused run ends at the last number handed out: the gap continues it.
            Some((from, _)) => (from, gap.1),
            None => gap,
        });
        q.last_assigned = at - 1;
        Ok(true)
    }

    /// Queues `batch`, leads groups when it is this writer's turn, and returns the
    /// batch's last sequence number once `until` holds (`None` for an empty batch).
    fn commit(
        &self,
        batch: WriteBatch,
        tree: &Tree,
        until: Until,
        at: Option<u64>,
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
        let mut q = self.queue.lock();
        if let Some(at) = at {
            // Bounded: a replica's own writes (there are none but this) finish quickly.
            let mut tries = 0u32;
            while !self.jump_to(&mut q, at)? {
                drop(q);
                tries += 1;
                if tries > 10_000 {
                    return Err(Error::io(
                        "<wal>",
                        std::io::Error::other("other writers kept the log busy"),
                    ));
                }
                std::thread::sleep(Duration::from_micros(100));
                q = self.queue.lock();
            }
        }
        let first_seq = q.last_assigned + 1;
        let last_seq = q.last_assigned + count;
        q.last_assigned = last_seq;
        let leads_at_once = !q.leader_active && q.pending.is_empty();
        let pending = Pending {
            first_seq,
            last_seq,
            payload: batch.into_payload(first_seq),
            writer: (!leads_at_once).then(std::thread::current),
            wake_on_apply: until == Until::Applied,
        };
        if leads_at_once {
            // Nobody leads and nobody waits (always so with one writer): lead a group of
            // this batch alone at once, rather than queue it, find it queued and take the
            // queue back (two more round trips on its lock).
            q.leader_active = true;
            drop(q);
            let mut leader = self.leader.lock();
            let mut group = std::mem::take(&mut leader.spare);
            group.push(pending);
            // The outcome, whatever it is, is found by the loop below.
            let _ = self.lead(leader, group, first_seq, tree);
        } else {
            q.pending.push(pending);
            drop(q);
        }
        if until == Until::Synced {
            self.dur.register_thread(last_seq);
        }
        loop {
            let done = match until {
                Until::Applied => self.visible() >= last_seq,
                Until::Synced => self.dur.synced() >= last_seq,
            };
            // After the load above: a later group may have made `done` true, and a refusal
            // of ours was recorded before that group was led.
            if self.any_refused.load(Ordering::Acquire) {
                if let Some(error) = self.take_refusal(first_seq) {
                    return Err(error);
                }
            }
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
            // An error reaches this writer through the poison check above.
            let _ = self.lead(leader, group, first_seq, tree);
        }
    }

    /// Commits `group` as its leader (`leader_active` is set, and `leader` held), wakes
    /// its writers (but not the leader, whose batch starts at `own_seq`), steps down and
    /// hands over to the oldest writer queued meanwhile.
    fn lead(
        &self,
        mut leader: MutexGuard<'_, LeaderState>,
        mut group: Vec<Pending>,
        own_seq: u64,
        tree: &Tree,
    ) -> Result<()> {
        let result = self.commit_group(&mut leader, &group, tree);
        for p in &group {
            if (p.wake_on_apply || result.is_err()) && p.first_seq != own_seq {
                p.unpark();
            }
        }
        group.clear();
        leader.spare = group;
        drop(leader);
        let mut q = self.queue.lock();
        q.leader_active = false;
        if self.dur.is_poisoned() {
            // Nothing will be written again: every queued writer returns the poison.
            for p in q.pending.drain(..) {
                p.unpark();
            }
        } else if let Some(next) = q.pending.first() {
            // (After a group refused for want of space too: the queued batches were not
            // part of it, and their sequence numbers must still reach the log.)
            // Hand over: the oldest queued writer leads the next group.
            next.unpark();
        }
        result
    }

    /// Whether the batch starting at `first_seq` was refused; if so, its writer is told.
    fn take_refusal(&self, first_seq: u64) -> Option<Error> {
        let mut refused = self.refused.lock();
        let i = refused
            .iter()
            .position(|r| (r.first_seq..=r.last_seq).contains(&first_seq))?;
        let r = &mut refused[i];
        let error = Error::io(&r.path, std::io::Error::from_raw_os_error(r.errno));
        r.untold -= 1;
        if r.untold == 0 {
            refused.swap_remove(i);
            self.any_refused
                .store(!refused.is_empty(), Ordering::Release);
        }
        Some(error)
    }

    /// Handles a failed write of `group`: for want of space, the group alone is refused (its
    /// sequence numbers to be skipped in the log); anything else poisons the pipeline.
    fn write_failed(&self, leader: &mut LeaderState, group: &[Pending], e: Error) -> Error {
        leader.needs_switch = true;
        let (Some(first), Some(last), Error::Io { path, source }) =
            (group.first(), group.last(), &e)
        else {
            return self.poison(e);
        };
        let Some(errno) = source.raw_os_error().filter(|_| e.is_no_space()) else {
            return self.poison(e);
        };
        if leader.skipped.is_none() {
            // Once per run of refused groups: a client retrying must not flood the log.
            tracing::warn!(file = %path.display(), "no space left for the write-ahead log; writes refused until there is");
        }
        leader.skipped = Some(match leader.skipped {
            Some((from, to)) => {
                debug_assert_eq!(to + 1, first.first_seq, "groups are led in sequence order");
                (from, last.last_seq)
            }
            None => (first.first_seq, last.last_seq),
        });
        self.refused.lock().push(Refused {
            first_seq: first.first_seq,
            last_seq: last.last_seq,
            path: path.clone(),
            errno,
            untold: group.len(),
        });
        self.any_refused.store(true, Ordering::Release);
        self.out_of_space.store(true, Ordering::Relaxed);
        e
    }

    fn poison(&self, e: Error) -> Error {
        self.dur.poison(e);
        self.poisoned_error()
    }

    fn poisoned_error(&self) -> Error {
        match self.dur.check_poison() {
            Err(e) => e,
            Ok(()) => Error::io("<wal>", std::io::Error::other("write failed")),
        }
    }

    /// The leader's work for one group: one write, then apply and publish.
    fn commit_group(&self, leader: &mut LeaderState, group: &[Pending], tree: &Tree) -> Result<()> {
        let Some(last) = group.last() else {
            return Ok(());
        };
        if self.dur.is_poisoned() {
            return Err(self.poisoned_error());
        }
        tree.slow_down_if_behind();
        let mut mem = tree.view.read().active.clone();
        if tree.is_full(&mem) {
            if let Err(e) = self.rotate(leader, tree) {
                return Err(self.write_failed(leader, group, e));
            }
            mem = tree.view.read().active.clone();
        }
        let bytes: u64 = group
            .iter()
            .map(|p| (wal::HEADER + p.payload.len()) as u64)
            .sum();
        if leader.needs_switch
            || (leader.segment_size > 0 && leader.segment_size + bytes > self.segment_limit)
        {
            if let Err(e) = self.switch_segment(leader) {
                return Err(self.write_failed(leader, group, e));
            }
        }
        if let Some((first, last)) = leader.skipped {
            let skip = wal::skip_payload(first, last);
            if let Err(e) = leader.segment.append_records(KIND_SKIP, [&skip[..]]) {
                return Err(self.write_failed(leader, group, e));
            }
            leader.segment_size += (wal::HEADER + skip.len()) as u64;
            leader.skipped = None;
            self.out_of_space.store(false, Ordering::Relaxed);
        }
        // The switch fsyncs the segment with every writer waiting: have the syncer write
        // most of it out shortly before. (Under `EverySecond` that fsync was most of the
        // switch; docs/benchmarks.md has the times.)
        let nearly_full = self.segment_limit - self.segment_limit / 16;
        if leader.segment_size < nearly_full && leader.segment_size + bytes >= nearly_full {
            self.dur.sync_soon();
        }
        let payloads = group.iter().map(|p| &p.payload[..]);
        if let Err(e) = leader.segment.append_records(KIND_BATCH, payloads) {
            return Err(self.write_failed(leader, group, e));
        }
        leader.segment_size += bytes;
        let c = &self.dur.counters;
        c.batches.fetch_add(group.len() as u64, Ordering::Relaxed);
        c.wal_writes.fetch_add(1, Ordering::Relaxed);
        c.wal_bytes.fetch_add(bytes, Ordering::Relaxed);
        self.dur.note_written(last.last_seq);
        // Only the leader freezes the active memtable, so `mem` is still the active one.
        let overwrote: SmallVec<[bool; 16]> = group
            .iter()
            .map(|p| mem.apply(&p.payload, p.first_seq))
            .collect();
        self.readers.visible.store(last.last_seq, Ordering::SeqCst);
        if let Some(tap) = &self.tap {
            for p in group {
                tap.committed(p.first_seq, &p.payload);
            }
        }
        // Now that no reader needs them, the versions the group replaced go (see
        // `Memtable::prune_overwritten`).
        for (p, _) in group.iter().zip(overwrote).filter(|(_, o)| *o) {
            mem.prune_overwritten(&p.payload);
        }
        Ok(())
    }

    /// Freezes the active memtable (unless it is empty) so that it is flushed to a table;
    /// for `Db::flush`.
    pub(crate) fn freeze_now(&self, tree: &Tree) -> Result<()> {
        let mut leader = self.leader.lock();
        if tree.view.read().active.is_empty() {
            return Ok(());
        }
        self.rotate(&mut leader, tree).map_err(|e| {
            leader.needs_switch = true;
            if e.is_no_space() {
                e
            } else {
                self.poison(e)
            }
        })
    }

    /// Freezes the full memtable and moves the WAL to a new segment, so that the frozen
    /// memtable's writes are exactly those of the segments before it. Waits first while
    /// background work is too far behind (a write stall).
    /// Fails (the memtable stays active) if the switch fails or background work is failing
    /// for want of space.
    fn rotate(&self, leader: &mut LeaderState, tree: &Tree) -> Result<()> {
        tree.wait_for_room()?;
        self.switch_segment(leader)?;
        tree.freeze(leader.segment_number);
        Ok(())
    }

    /// Finishes the current segment (cuts its preallocated tail) when the engine closes.
    pub(crate) fn finish_segment(&self) -> Result<()> {
        self.leader.lock().segment.finish().map(drop)
    }

    /// Moves on to a new segment. The old one is fsynced first so that the syncer only
    /// ever needs to fsync the current segment, and so that every segment but the newest
    /// is whole on disk before the next one gets a record: a power loss cannot leave a gap
    /// between segments, whatever order the kernel writes mapped pages back in.
    ///
    /// Should creating the new segment fail, the old one stays current, finished, and
    /// `needs_switch` makes the next group try again before it writes anything.
    fn switch_segment(&self, leader: &mut LeaderState) -> Result<()> {
        leader.needs_switch = true;
        let map = leader.segment.finish()?;
        // Every writer waits for the switch; the unmapping (milliseconds for a full
        // segment) need not hold them up. Should no thread start, the closure and the map
        // with it are dropped here.
        let _ = std::thread::Builder::new()
            .name("cairn-wal-unmap".into())
            .spawn(move || drop(map));
        self.dur.counters.wal_syncs.fetch_add(1, Ordering::Relaxed);
        let written = self.dur.written();
        self.dur.mark_synced(written, Duration::ZERO);
        let n = leader.segment_number + 1;
        let seg = Segment::create(
            &self.dir,
            n,
            self.segment_limit,
            self.dur.policy().maps_log(),
        )?;
        self.dur.set_current(seg.clone());
        leader.segment = seg;
        leader.segment_number = n;
        leader.segment_size = 0;
        leader.needs_switch = false;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::memtable::Memtable;
    use crate::storage::options::Options;
    use crate::storage::version::VersionSet;

    fn test_tree(dir: &std::path::Path) -> Tree {
        let versions = VersionSet::recover(dir).expect("versions");
        Tree::new(
            versions,
            Arc::new(Memtable::new(Arc::default())),
            Options::default(),
        )
    }

    /// A segment whose file is read-only, so the first WAL write fails.
    fn failing_committer(dir: &std::path::Path, policy: SyncPolicy) -> Committer {
        let path = dir.join("000001.wal");
        std::fs::write(&path, b"").expect("create");
        let file = std::fs::File::open(&path).expect("open read-only");
        let seg = Arc::new(Segment::unmapped(file, path));
        Committer::new(
            dir.to_path_buf(),
            policy,
            1 << 20,
            0,
            seg,
            1,
            Arc::default(),
        )
    }

    #[test]
    fn a_failed_write_poisons_every_later_write() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = failing_committer(dir.path(), SyncPolicy::Always);
        let tree = test_tree(dir.path());
        let mut b = WriteBatch::new();
        b.put(b"k", b"v");
        let err = c.submit(b.clone(), &tree).expect_err("write must fail");
        match &err {
            Error::Poisoned(inner) => assert!(matches!(**inner, Error::Io { .. }), "{inner:?}"),
            other => panic!("expected poisoned, got {other:?}"),
        }
        assert!(err.to_string().contains("000001.wal"), "{err}");
        // Nothing half-done became visible.
        assert_eq!(c.visible(), 0);
        assert!(matches!(c.submit(b, &tree), Err(Error::Poisoned(_))));
        assert!(matches!(c.dur.sync_now(), Err(Error::Poisoned(_))));
    }

    #[test]
    fn waiting_tickets_get_the_poison() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("000001.wal");
        let seg = Segment::create(dir.path(), 1, 1 << 20, true).expect("segment");
        let c = Committer::new(
            dir.path().to_path_buf(),
            SyncPolicy::Always,
            1 << 20,
            0,
            seg,
            1,
            Arc::default(),
        );
        let tree = test_tree(dir.path());
        let mut b = WriteBatch::new();
        b.put(b"k", b"v");
        // No syncer runs here, so the ticket stays pending until the poison arrives.
        let ticket = c.submit(b, &tree).expect("submit");
        assert!(!ticket.is_complete());
        c.dur.poison(Error::io(
            &path,
            std::io::Error::other("injected fsync failure"),
        ));
        assert!(ticket.is_complete());
        assert!(matches!(ticket.wait(), Err(Error::Poisoned(_))));
    }
}
