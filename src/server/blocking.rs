//! The blocking pops (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN, BZPOPMAX): who
//! waits on which key, and how a blocked connection waits without holding up its worker.
//!
//! A blocking pop first runs like its non-blocking form. When it finds every list empty
//! (and is not inside MULTI/EXEC, where it answers at once like LPOP would), its runner
//! leaves [`BlockedOn`] in the session; the connection drops the would-be reply, commits
//! its round (no locks are held while it waits) and calls [`wait`]. That registers the
//! client in [`Blocking`], a queue of waiters per (database, key), then loops: retry the
//! command; if it still finds nothing, sleep until woken, the timeout, a kill, or the peer
//! closing. Requests the client pipelines meanwhile stay in its input buffer until the pop
//! is answered, as in Redis.
//!
//! A write that may make a list or sorted set non-empty (a push, ZADD, LMOVE's or
//! ZUNIONSTORE's destination, RENAME's new name) calls [`Blocking::key_ready`] while it
//! still holds the key's lock: that wakes the first waiter of the key only. Its retry needs the same lock, so it runs after the write is
//! committed (on this worker: after the writer's round, which never yields; on another:
//! when the stripe is released). A waiter that is served, times out or goes away wakes the
//! next waiter of each of its keys, so waiters are served in the order they blocked, as
//! Redis serves them, and a wake-up is never lost with a waiter that did not use it. Each
//! waiter's `Notify` keeps one permit, so a push between registering and sleeping is not
//! missed either. Unlike Redis, a plain LPOP by another client may take an element in the
//! moment between the push and the woken waiter's retry; the waiter then sleeps again.
//!
//! A retry passes over source keys of another type ([`source`]): Redis serves a waiter from
//! the key that became ready only if it is of the type the waiter pops, so a BLPOP on a key
//! that became a sorted set stays blocked (the first try, as LPOP, answers WRONGTYPE).
//!
//! A server that becomes a replica (REPLICAOF host port) can serve no pop, so it ends every
//! wait ([`Blocking::unblock_all`]) as Redis does: the client gets `-UNBLOCKED ...` and is
//! disconnected once it has it.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::connection::{Connection, End};
use super::dispatch::{self, Context};
use super::keyspace::{ExecError, Keyspace};
use super::replies::Replies;
use super::round::Round;
use super::session::Session;
use crate::protocol::command::{Command, Flags, Timeout};
use crate::protocol::Reply;

/// Input a blocked client may send before it is no longer read (its requests wait).
const MAX_BLOCKED_INPUT: usize = 1 << 20;

/// What a blocking pop that found nothing waits for; its runner leaves it in the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockedOn {
    /// The keys it pops from (not BLMOVE's destination).
    pub keys: Vec<Bytes>,
    /// Milliseconds to wait; 0 = for ever.
    pub timeout_ms: u64,
}

/// A connection's blocked request: what to retry, and on what.
pub(crate) struct Blocked {
    /// The native request id (0 under RESP).
    pub id: u64,
    /// The command, run again on each wake-up.
    pub command: Command,
    /// Its keys and timeout.
    pub on: BlockedOn,
}

/// One blocked client.
#[derive(Debug)]
struct Waiter {
    id: u64,
    notify: Notify,
    /// The wait was ended for it (the server became a replica).
    unblocked: AtomicBool,
}

/// What a client whose wait was ended gets, in Redis's words.
const UNBLOCKED: &str =
    "UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)";

/// The waiters of each (database, key), oldest first.
type Queues = HashMap<(u8, Bytes), VecDeque<Arc<Waiter>>>;

/// Every blocked client, queued per (database, key) in the order they blocked.
#[derive(Debug, Default)]
pub struct Blocking {
    /// How many clients are blocked: a push looks no further when none is.
    waiting: AtomicUsize,
    next_id: AtomicU64,
    queues: Mutex<Queues>,
}

impl Blocking {
    /// `key` of database `db` may have become a non-empty list or sorted set: wakes its
    /// first waiter.
    pub fn key_ready(&self, db: u8, key: &[u8]) {
        if self.waiting.load(Ordering::Acquire) == 0 {
            return;
        }
        let queues = self.queues.lock();
        if let Some(front) = queues
            .get(&(db, Bytes::copy_from_slice(key)))
            .and_then(VecDeque::front)
        {
            front.notify.notify_one();
        }
    }

    /// The keys of database `db` may all have changed (SWAPDB): wakes the first waiter of
    /// each of its keys.
    pub fn database_changed(&self, db: u8) {
        if self.waiting.load(Ordering::Acquire) == 0 {
            return;
        }
        let queues = self.queues.lock();
        for ((_, _), queue) in queues.iter().filter(|((of, _), _)| *of == db) {
            if let Some(front) = queue.front() {
                front.notify.notify_one();
            }
        }
    }

    /// Ends every wait: each blocked client gets `-UNBLOCKED` and is disconnected (the
    /// server became a replica).
    pub fn unblock_all(&self) {
        let queues = self.queues.lock();
        for waiter in queues.values().flatten() {
            waiter.unblocked.store(true, Ordering::Release);
            waiter.notify.notify_one();
        }
    }

    /// How many clients are blocked (INFO's `blocked_clients`).
    pub fn blocked_clients(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }

    /// Queues a new waiter on every key (once per distinct key).
    fn register(&self, db: u8, keys: &[Bytes]) -> Registration<'_> {
        let waiter = Arc::new(Waiter {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            notify: Notify::new(),
            unblocked: AtomicBool::new(false),
        });
        let mut distinct: Vec<Bytes> = Vec::with_capacity(keys.len());
        let mut queues = self.queues.lock();
        for key in keys {
            if distinct.contains(key) {
                continue;
            }
            distinct.push(key.clone());
            queues
                .entry((db, key.clone()))
                .or_default()
                .push_back(waiter.clone());
        }
        self.waiting.fetch_add(1, Ordering::AcqRel);
        Registration {
            blocking: self,
            db,
            keys: distinct,
            waiter,
        }
    }
}

/// A waiter's place in the queues; leaving them (served, timed out, gone) passes any
/// wake-up it may have had to the next waiter of each key.
struct Registration<'a> {
    blocking: &'a Blocking,
    db: u8,
    keys: Vec<Bytes>,
    waiter: Arc<Waiter>,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        let mut queues = self.blocking.queues.lock();
        for key in self.keys.drain(..) {
            let slot = (self.db, key);
            let Some(queue) = queues.get_mut(&slot) else {
                continue;
            };
            let was_front = queue.front().is_some_and(|w| w.id == self.waiter.id);
            queue.retain(|w| w.id != self.waiter.id);
            if queue.is_empty() {
                queues.remove(&slot);
            } else if was_front {
                if let Some(next) = queue.front() {
                    next.notify.notify_one();
                }
            }
        }
        self.blocking.waiting.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The command to keep for retrying if `command` may block: a blocking command run outside
/// MULTI. Clears any stale [`BlockedOn`] (EXEC runs blocking pops that never block).
pub(crate) fn may_block(session: &mut Session, command: &Command) -> Option<Command> {
    session.blocked = None;
    (command.spec().flags.contains(Flags::BLOCKING) && session.multi.is_none())
        .then(|| command.clone())
}

/// Waits until `blocked` is served or times out, its reply encoded into the output (not
/// yet written). Err when the connection must end: killed, the peer gone, a failed commit.
pub(crate) async fn wait<S>(conn: &mut Connection<'_, S>, blocked: Blocked) -> Result<(), End>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let shared = conn.shared;
    let deadline = (blocked.on.timeout_ms > 0)
        .then(|| Instant::now().checked_add(Duration::from_millis(blocked.on.timeout_ms)))
        .flatten();
    let registration = shared.blocking.register(conn.session.db, &blocked.on.keys);
    conn.session.info.set_blocked(true);
    let result = loop {
        // Registered before the retry: a push from now on leaves a permit.
        match retry(conn, &blocked) {
            Ok(true) => break Ok(()),
            Ok(false) => {}
            Err(end) => break Err(end),
        }
        if conn.input.capacity() - conn.input.len() < 1024 {
            conn.input.reserve(16 * 1024);
        }
        let reading = conn.input.len() < MAX_BLOCKED_INPUT;
        tokio::select! {
            () = registration.waiter.notify.notified() => {
                if registration.waiter.unblocked.load(Ordering::Acquire) {
                    Replies::new(&mut conn.output, conn.framing, blocked.id, &shared.stats)
                        .reply(conn.session.resp, Reply::error(UNBLOCKED));
                    conn.session.closing = true;
                    break Ok(());
                }
            }
            () = sleep_until(deadline) => {
                Replies::new(&mut conn.output, conn.framing, blocked.id, &shared.stats)
                    .reply(conn.session.resp, Reply::NullArray);
                break Ok(());
            }
            () = conn.kill.thrown() => break Err(End::Normal),
            read = conn.stream.read_buf(&mut conn.input), if reading => match read {
                // The peer went away while blocked: it leaves the queues with the guard.
                Ok(0) => break Err(End::Normal),
                Ok(n) => shared.stats.read_from_client(n),
                Err(e) => break Err(End::Failed(e.to_string())),
            },
        }
    };
    conn.session.info.set_blocked(false);
    drop(registration);
    result
}

/// Runs the blocked command again in a round of its own and commits it. Ok(true) when it
/// was answered (its reply is in the output), Ok(false) when it still finds nothing.
fn retry<S>(conn: &mut Connection<'_, S>, blocked: &Blocked) -> Result<bool, End>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let shared = conn.shared;
    let mut round = Round::new(shared);
    let before = conn.output.len();
    conn.session.blocked = None;
    let mut out = Replies::new(&mut conn.output, conn.framing, blocked.id, &shared.stats);
    conn.session.woken = true;
    dispatch::execute(
        shared,
        &mut conn.session,
        &mut round,
        blocked.command.clone(),
        &mut out,
    );
    conn.session.woken = false;
    let committed = match round.take_failure() {
        Some(error) => Err(error),
        None => round.commit(&mut conn.session),
    };
    if let Err(error) = committed {
        return Err(End::Failed(error.to_string()));
    }
    if conn.session.blocked.take().is_some() {
        conn.output.truncate(before);
        return Ok(false);
    }
    Ok(true)
}

/// A blocking pop's look at one of its source keys (`found`: the collection, `None`, or
/// WRONGTYPE). On a retry after a wake-up (`woken`) a key of another type is passed over as
/// if empty, as Redis 7.0 serves a waiter only from a ready key of the type it pops.
pub(crate) fn source<T>(
    found: Result<Option<T>, ExecError>,
    woken: bool,
) -> Result<Option<T>, ExecError> {
    match found {
        Err(ExecError::WrongType) if woken => Ok(None),
        found => found,
    }
}

/// Redis's check of a timeout against the clock: one past `i64` milliseconds from now.
pub(crate) fn out_of_range(ks: &Keyspace, timeout: Timeout) -> Option<Reply> {
    let limit = u64::try_from(i64::MAX).unwrap_or(u64::MAX) - ks.now().min(1 << 62);
    (timeout.millis > limit).then(|| Reply::error("ERR timeout is out of range"))
}

/// A pop's answer, or, when it found nothing and may block (`timeout`), the note that
/// makes the connection wait (`server::blocking`) with the null reply it would give
/// inside MULTI, where it never blocks.
pub(crate) fn block_if_none(
    cx: &mut Context,
    reply: Option<Reply>,
    keys: Vec<Bytes>,
    timeout: Option<Timeout>,
    none: Reply,
) -> Reply {
    match (reply, timeout) {
        (Some(reply), _) => reply,
        (None, None) => none,
        (None, Some(timeout)) => {
            cx.session.blocked = Some(BlockedOn {
                keys,
                timeout_ms: timeout.millis,
            });
            // Dropped unless inside EXEC, where this is the answer.
            none
        }
    }
}

/// Completes at `deadline`; never without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiters_are_woken_in_order_and_pass_the_wake_up_on() {
        let blocking = Blocking::default();
        let key = Bytes::from_static(b"k");
        let first = blocking.register(0, &[key.clone(), key.clone()]);
        let second = blocking.register(0, std::slice::from_ref(&key));
        assert_eq!(blocking.blocked_clients(), 2);
        blocking.key_ready(0, b"k");
        blocking.key_ready(1, b"k");
        // Only the first holds a permit.
        tokio::time::timeout(Duration::from_secs(1), first.waiter.notify.notified())
            .await
            .unwrap();
        let pending =
            tokio::time::timeout(Duration::from_millis(20), second.waiter.notify.notified()).await;
        assert!(pending.is_err());
        // The first leaves: the second is woken.
        drop(first);
        tokio::time::timeout(Duration::from_secs(1), second.waiter.notify.notified())
            .await
            .unwrap();
        drop(second);
        assert_eq!(blocking.blocked_clients(), 0);
        assert!(blocking.queues.lock().is_empty());
    }
}
