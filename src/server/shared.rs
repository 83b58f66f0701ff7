//! What every connection shares: the engine, the live configuration, the client registry,
//! counters, SCAN cursors and the key locks that make read-modify-write commands atomic.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use parking_lot::{Mutex, MutexGuard, RwLock};
use smallvec::SmallVec;

use super::clients::Clients;
use super::cluster::Cluster;
use super::config::Config;
use super::pubsub::Hub;
use super::shutdown::Shutdown;
use crate::protocol::Limits;
use crate::storage::Db;

/// State shared by all connections of one server.
#[derive(Debug)]
pub struct Shared {
    /// The storage engine.
    pub db: Db,
    /// Live configuration (CONFIG SET changes some fields).
    pub config: RwLock<Config>,
    /// Connected clients.
    pub clients: Arc<Clients>,
    /// Counters for INFO.
    pub stats: Stats,
    /// Open SCAN iterations.
    pub cursors: ScanCursors,
    /// Per-key locks for commands that write.
    pub locks: KeyLocks,
    /// The stop signal.
    pub shutdown: Shutdown,
    /// Protocol limits applied to every connection.
    pub limits: Limits,
    /// When the server started.
    pub started: Instant,
    /// A random id of this server run (INFO server's `run_id`).
    pub run_id: String,
    /// Cluster mode's state; `None` when cluster mode is off.
    pub cluster: Option<Cluster>,
    /// Pub/sub's channels and patterns, and their subscribers.
    pub pubsub: Arc<Hub>,
}

impl Shared {
    /// Shared state over an open engine.
    pub fn new(db: Db, config: Config, cluster: Option<Cluster>) -> Shared {
        Shared {
            db,
            config: RwLock::new(config),
            clients: Arc::new(Clients::default()),
            stats: Stats::default(),
            cursors: ScanCursors::default(),
            locks: KeyLocks::new(),
            shutdown: Shutdown::default(),
            limits: Limits::default(),
            started: Instant::now(),
            run_id: random_hex(40),
            cluster,
            pubsub: Arc::default(),
        }
    }
}

/// Counters INFO stats reports. Relaxed atomics: they are statistics, not synchronisation.
#[derive(Debug, Default)]
pub struct Stats {
    /// Connections accepted since start.
    pub connections_received: AtomicU64,
    /// Connections refused over `maxclients`.
    pub rejected_connections: AtomicU64,
    /// Clients disconnected at their `client-output-buffer-limit`.
    pub output_limit_disconnections: AtomicU64,
    /// Commands executed.
    pub commands_processed: AtomicU64,
    /// Reads that found their key.
    pub keyspace_hits: AtomicU64,
    /// Reads that did not.
    pub keyspace_misses: AtomicU64,
    /// Keys found expired when read or written.
    pub expired_keys: AtomicU64,
}

impl Stats {
    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Reads a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// Open SCAN iterations: cursor number -> the last key returned.
///
/// SCAN's cursor must be a decimal integer, but keys are arbitrary bytes in order, so the
/// cursor names a resume key kept here. Cursors are shared by all connections (a client may
/// resume on another connection) and the oldest are forgotten past [`ScanCursors::CAPACITY`];
/// a forgotten or unknown cursor is an error, never a silent restart or an early end.
#[derive(Debug)]
pub struct ScanCursors {
    inner: Mutex<CursorTable>,
}

#[derive(Debug, Default)]
struct CursorTable {
    next: u64,
    by_id: HashMap<u64, Bytes>,
    order: VecDeque<u64>,
}

impl Default for ScanCursors {
    fn default() -> Self {
        ScanCursors {
            inner: Mutex::new(CursorTable {
                // Start high and random-ish so cursors from a previous run are unlikely to
                // collide with this run's.
                next: (random_u64() >> 16) | 1,
                ..CursorTable::default()
            }),
        }
    }
}

impl ScanCursors {
    /// How many open iterations are remembered.
    pub const CAPACITY: usize = 100_000;

    /// Remembers `last_key` and returns the cursor to hand out for it (never 0).
    pub fn save(&self, last_key: Bytes) -> u64 {
        let mut table = self.inner.lock();
        let id = table.next;
        table.next = table.next.wrapping_add(1).max(1);
        table.by_id.insert(id, last_key);
        table.order.push_back(id);
        while table.order.len() > Self::CAPACITY {
            if let Some(old) = table.order.pop_front() {
                table.by_id.remove(&old);
            }
        }
        id
    }

    /// The resume key of `cursor`, if it is known.
    pub fn resume_key(&self, cursor: u64) -> Option<Bytes> {
        self.inner.lock().by_id.get(&cursor).cloned()
    }
}

/// Striped mutexes over keys: a writing command holds the stripes of every key it touches
/// from its first read to the engine's acceptance of its write, so read-modify-write
/// commands (INCR, SET NX, APPEND, EXEC) are atomic against each other.
#[derive(Debug)]
pub struct KeyLocks {
    stripes: Box<[Mutex<()>]>,
}

impl KeyLocks {
    const STRIPES: usize = 4096;

    fn new() -> KeyLocks {
        KeyLocks {
            stripes: (0..Self::STRIPES).map(|_| Mutex::new(())).collect(),
        }
    }

    /// Locks the stripes of all `keys`, in stripe order so that two commands never deadlock.
    pub fn lock<K: AsRef<[u8]>>(
        &self,
        keys: impl IntoIterator<Item = K>,
    ) -> SmallVec<[MutexGuard<'_, ()>; 2]> {
        Self::stripes_of(keys)
            .into_iter()
            .map(|i| self.stripes[i].lock())
            .collect()
    }

    /// The distinct stripes of `keys`, in the order they must be locked.
    pub fn stripes_of<K: AsRef<[u8]>>(keys: impl IntoIterator<Item = K>) -> SmallVec<[usize; 4]> {
        let mut stripes: SmallVec<[usize; 4]> = keys
            .into_iter()
            .map(|k| (xxhash_rust::xxh3::xxh3_64(k.as_ref()) as usize) & (Self::STRIPES - 1))
            .collect();
        stripes.sort_unstable();
        stripes.dedup();
        stripes
    }

    /// Locks one stripe (see [`KeyLocks::stripes_of`]), waiting for it.
    pub fn lock_stripe(&self, stripe: usize) -> MutexGuard<'_, ()> {
        self.stripes[stripe].lock()
    }

    /// Locks one stripe if it is free.
    pub fn try_lock_stripe(&self, stripe: usize) -> Option<MutexGuard<'_, ()>> {
        self.stripes[stripe].try_lock()
    }
}

/// A fresh pseudo-random u64 (not for cryptography): std's randomly seeded hasher.
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(Instant::now())
}

fn random_hex(len: usize) -> String {
    let mut out = String::with_capacity(len);
    while out.len() < len {
        let _ = write!(out, "{:016x}", random_u64());
    }
    out.truncate(len);
    out
}
