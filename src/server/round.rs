//! A pipelined round's writes, committed to the engine together.
//!
//! Each engine commit costs a WAL `write` and a pass through the commit pipeline's locks; a
//! round of 16 pipelined INCRs paid that 16 times, where Redis writes its AOF once per event
//! loop. So the write commands of one round (the requests parsed from one read) stage their
//! writes here, keeping the stripes of their keys locked, and the round commits them as one
//! batch before any of its replies is written: no reply leaves before its write is in the
//! WAL (and, under `--fsync always`, before the fsync covering it, through the session's
//! ticket). Later commands of the round read through the staged writes; other connections
//! do not see them until the commit, which is fine, as nothing acknowledging them has left.
//!
//! A round must never be held across an `.await`: the stripe guards it keeps are
//! thread-bound, and other connections on the worker would wait for the locks.

use bytes::Bytes;
use parking_lot::MutexGuard;
use smallvec::SmallVec;

use super::keyspace::{self, ExecError, Keyspace, Stored, Write};
use super::session::Session;
use super::shared::{KeyLocks, Shared};
use super::value::now_millis;

/// Staged writes past this count are committed: reads search them linearly.
const MAX_STAGED: usize = 32;
/// Staged bytes past this are committed, so a round's batch stays small.
const MAX_STAGED_BYTES: usize = 1 << 20;

/// The uncommitted writes of one round and the key stripes they hold.
pub struct Round<'a> {
    shared: &'a Shared,
    staged: Vec<Write>,
    staged_bytes: usize,
    held: SmallVec<[(usize, MutexGuard<'a, ()>); 8]>,
    /// A commit failed: the replies produced so far must not be sent.
    failed: Option<ExecError>,
    /// Batches handed to the engine so far.
    commits: usize,
    /// The clock, read once for the whole round: a round lasts microseconds, and a read
    /// per command was a measurable share of a worker serving pipelined GETs.
    now: Option<u64>,
}

impl<'a> Round<'a> {
    /// An empty round.
    pub fn new(shared: &'a Shared) -> Round<'a> {
        Round::with_buffer(shared, Vec::new())
    }

    /// An empty round that stages into `buffer` (cleared): a connection hands the same
    /// buffer from round to round instead of growing a new one each time.
    pub fn with_buffer(shared: &'a Shared, mut buffer: Vec<Write>) -> Round<'a> {
        buffer.clear();
        Round {
            shared,
            staged: buffer,
            staged_bytes: 0,
            held: SmallVec::new(),
            failed: None,
            commits: 0,
            now: None,
        }
    }

    /// The time the round's commands run at, in unix milliseconds.
    pub fn now(&mut self) -> u64 {
        *self.now.get_or_insert_with(now_millis)
    }

    /// A keyspace of database `db` at the round's time that also sees the writes staged
    /// so far: what a command of the round runs against.
    pub fn keyspace(&mut self, db: u8) -> Keyspace<'_> {
        let now = self.now();
        Keyspace::over(self.shared, &self.staged, now, db)
    }

    /// Locks the stripes of `keys` for the rest of the round (those not held already).
    ///
    /// While the round holds stripes it never waits for one: two workers' rounds could each
    /// hold what the other wants. On contention it commits what it has, releases
    /// everything, and then waits, taking the stripes in order like any single command.
    pub fn lock<'k>(
        &mut self,
        session: &mut Session,
        keys: impl IntoIterator<Item = &'k Bytes>,
    ) -> Result<(), ExecError> {
        let stripes = KeyLocks::stripes_of(keys);
        let locks = &self.shared.locks;
        let mut contended = false;
        for &stripe in &stripes {
            if self.held.iter().any(|(held, _)| *held == stripe) {
                continue;
            }
            if let Some(guard) = locks.try_lock_stripe(stripe) {
                self.held.push((stripe, guard));
            } else {
                contended = true;
                break;
            }
        }
        if contended {
            self.commit(session)?;
            for stripe in stripes {
                self.held.push((stripe, locks.lock_stripe(stripe)));
            }
        }
        Ok(())
    }

    /// Adds a command's staged writes (its stripes are held).
    pub fn stage(&mut self, writes: impl IntoIterator<Item = Write>) {
        for (key, stored) in writes {
            self.staged_bytes += key.len() + stored.as_ref().map_or(0, Stored::len);
            self.staged.push((key, stored));
        }
    }

    /// Whether enough is staged that it should be committed now.
    pub fn is_full(&self) -> bool {
        self.staged.len() >= MAX_STAGED || self.staged_bytes >= MAX_STAGED_BYTES
    }

    /// Hands the staged writes to the engine as one batch, keeps the durability ticket in
    /// the session, and releases the stripes.
    pub fn commit(&mut self, session: &mut Session) -> Result<(), ExecError> {
        self.commits += usize::from(!self.staged.is_empty());
        let submitted = keyspace::submit(self.shared, &self.staged);
        self.staged.clear();
        self.staged_bytes = 0;
        self.held.clear();
        if let Some(ticket) = submitted? {
            session.pending_write = Some(ticket);
        }
        Ok(())
    }

    /// The staging buffer, for the next round (call after `commit`).
    pub fn into_buffer(self) -> Vec<Write> {
        self.staged
    }

    /// How many batches the round has handed to the engine.
    pub fn commits(&self) -> usize {
        self.commits
    }

    /// Records a failed commit: the round's replies must not be sent.
    pub fn fail(&mut self, error: ExecError) {
        self.failed = Some(error);
    }

    /// The failed commit, if one failed.
    pub fn take_failure(&mut self) -> Option<ExecError> {
        self.failed.take()
    }
}
