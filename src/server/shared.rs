//! What every connection shares: the engine, the live configuration, the client registry,
//! counters, SCAN cursors and the key locks that make read-modify-write commands atomic.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::{Mutex, MutexGuard, RwLock};
use smallvec::SmallVec;

use super::clients::{ClientInfo, Clients};
use super::cluster::Cluster;
use super::config::Config;
use super::dbslot::DbSlot;
use super::pubsub::Hub;
use super::replication::Replication;
use super::shutdown::Shutdown;
use crate::protocol::Limits;
use crate::storage::Db;

/// State shared by all connections of one server.
#[derive(Debug)]
pub struct Shared {
    /// The storage engine.
    pub db: DbSlot,
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
    /// Resident memory when the server was ready (INFO memory's `used_memory_startup`).
    pub startup_resident: u64,
    /// A random id of this server run (INFO server's `run_id`).
    pub run_id: String,
    /// Role, replication ids, replicas and the link to a primary.
    pub replication: Replication,
    /// Cluster mode's state; `None` when cluster mode is off.
    pub cluster: Option<Cluster>,
    /// Pub/sub's channels and patterns, and their subscribers.
    pub pubsub: Arc<Hub>,
    /// Clients blocked in BLPOP and the other blocking pops, by key.
    pub blocking: super::blocking::Blocking,
    /// BGSAVE's and SAVE's checkpoints: the running one and the last one's outcome.
    pub checkpoints: super::checkpoints::Checkpoints,
    /// The stored database each numbered one is (SWAPDB changes it).
    pub databases: super::databases::Databases,
    /// Draws the versions of new collections.
    pub versions: super::versions::VersionClock,
}

impl Shared {
    /// Shared state over an open engine.
    pub fn new(
        db: Db,
        config: Config,
        cluster: Option<Cluster>,
        replication: Replication,
    ) -> Shared {
        Shared {
            db: DbSlot::new(db),
            config: RwLock::new(config),
            clients: Arc::new(Clients::default()),
            stats: Stats::default(),
            cursors: ScanCursors::default(),
            locks: KeyLocks::new(),
            shutdown: Shutdown::default(),
            limits: Limits::default(),
            started: Instant::now(),
            startup_resident: super::os::resident().now,
            run_id: random_hex(40),
            replication,
            cluster,
            pubsub: Arc::default(),
            versions: super::versions::VersionClock::default(),
            blocking: super::blocking::Blocking::default(),
            databases: super::databases::Databases::default(),
            checkpoints: super::checkpoints::Checkpoints::default(),
        }
    }

    /// Shared state over `db` for unit tests: a primary whose replication id is kept in
    /// `dir` (the engine's directory), so no test writes outside its own.
    #[cfg(test)]
    pub fn for_test(db: Db, dir: &std::path::Path) -> Shared {
        let config = Config {
            dir: dir.to_path_buf(),
            ..Config::default()
        };
        let backlog = Arc::new(super::replication::Backlog::new(1 << 20));
        let replication = Replication::new(backlog, &config, db.last_sequence());
        Shared::new(db, config, None, replication)
    }

    /// A version for a new collection, never drawn before in this data directory (see
    /// `server::versions`).
    pub fn new_version(&self) -> crate::storage::Result<u64> {
        self.versions.draw(&self.db)
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
    /// Bytes read from clients' connections.
    pub net_input_bytes: AtomicU64,
    /// Bytes written to clients' connections.
    pub net_output_bytes: AtomicU64,
    /// Reads from clients' connections (one per read call that returned bytes).
    pub reads_processed: AtomicU64,
    /// Writes to clients' connections (one per write call).
    pub writes_processed: AtomicU64,
    /// Error replies, in all and by prefix.
    pub errors: ErrorStats,
    /// INFO's last sample of the counters its `instantaneous_*` rates are taken over.
    pub(crate) rates: Mutex<Rates>,
}

/// Rates of counters between two INFO calls (`instantaneous_ops_per_sec`, `_input_kbps`,
/// `_output_kbps`). Redis samples every 100 ms from its cron; Cairn has no cron, so each
/// INFO takes a sample and reports the rates since the previous one, or since start for the
/// first. A sample less than [`Rates::MIN_INTERVAL`] after the last repeats its rates, so
/// two INFOs in a row do not report the rate of a few microseconds.
#[derive(Debug, Default)]
pub(crate) struct Rates {
    last: Option<(Instant, [u64; Rates::COUNTERS])>,
    rates: [f64; Rates::COUNTERS],
}

impl Rates {
    /// How many counters are sampled.
    pub(crate) const COUNTERS: usize = 3;
    /// The shortest interval a rate is taken over.
    pub(crate) const MIN_INTERVAL: Duration = Duration::from_millis(100);

    /// Samples `counts` at `now` and returns each one's rate per second; `started` is when
    /// the counters were zero.
    pub(crate) fn sample(
        &mut self,
        started: Instant,
        now: Instant,
        counts: [u64; Rates::COUNTERS],
    ) -> [f64; Rates::COUNTERS] {
        let (at, before) = self.last.unwrap_or((started, [0; Rates::COUNTERS]));
        let elapsed = now.saturating_duration_since(at);
        if self.last.is_none() || elapsed >= Self::MIN_INTERVAL {
            let seconds = elapsed.as_secs_f64();
            for ((rate, now), before) in self.rates.iter_mut().zip(counts).zip(before) {
                *rate = if seconds > 0.0 {
                    now.saturating_sub(before) as f64 / seconds
                } else {
                    0.0
                };
            }
            self.last = Some((now, counts));
        }
        self.rates
    }
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

    /// Counts a client disconnected at its output buffer limit, and says so in the log as
    /// Redis does.
    pub(crate) fn output_limit_reached(&self, client: &ClientInfo, unsent_bytes: u64) {
        Stats::add(&self.output_limit_disconnections, 1);
        tracing::warn!(
            client = client.id,
            addr = %client.addr,
            unsent_bytes,
            "client closed for overcoming of output buffer limits"
        );
    }

    /// Counts one read of `bytes` bytes from a client's connection (INFO stats'
    /// `total_net_input_bytes` and `total_reads_processed`).
    pub(crate) fn read_from_client(&self, bytes: usize) {
        Stats::add(&self.net_input_bytes, bytes as u64);
        Stats::add(&self.reads_processed, 1);
    }

    /// Counts one write of `bytes` bytes to a client's connection (INFO stats'
    /// `total_net_output_bytes` and `total_writes_processed`).
    pub(crate) fn wrote_to_client(&self, bytes: usize) {
        Stats::add(&self.net_output_bytes, bytes as u64);
        Stats::add(&self.writes_processed, 1);
    }
}

/// Error replies counted by their prefix, the code word before the first space (`ERR`,
/// `WRONGTYPE`, `MOVED`), as Redis's INFO errorstats and `total_error_replies` count them.
///
/// Errors are rare, so one mutex over an ordered table is enough. The table holds at most
/// [`ErrorStats::MAX_PREFIXES`] prefixes, so no client can grow it: Redis 7.0 keeps no bound,
/// 7.2 drops its table past 128 (`ERRORSTATS_DISABLED`); Cairn keeps what it has and counts
/// errors of any further prefix under [`ErrorStats::OVERFLOW`].
#[derive(Debug, Default)]
pub struct ErrorStats {
    total: AtomicU64,
    by_prefix: Mutex<BTreeMap<Box<[u8]>, u64>>,
}

impl ErrorStats {
    /// Most distinct prefixes counted one by one.
    pub const MAX_PREFIXES: usize = 128;
    /// Where errors of prefixes past the first [`ErrorStats::MAX_PREFIXES`] are counted.
    pub const OVERFLOW: &'static [u8] = b"ERRORSTATS_OVERFLOW";

    /// Counts one error reply; `message` is its text without the leading `-`.
    pub fn record(&self, message: &[u8]) {
        Stats::add(&self.total, 1);
        let prefix = error_prefix(message);
        let mut table = self.by_prefix.lock();
        if let Some(count) = table.get_mut(prefix) {
            *count += 1;
        } else if table.len() < Self::MAX_PREFIXES {
            table.insert(prefix.into(), 1);
        } else {
            *table.entry(Self::OVERFLOW.into()).or_insert(0) += 1;
        }
    }

    /// Error replies sent since start.
    pub fn total(&self) -> u64 {
        Stats::get(&self.total)
    }

    /// Each prefix with its count, in byte order (Redis lists them from a radix tree: the
    /// same order).
    pub fn by_prefix(&self) -> Vec<(Box<[u8]>, u64)> {
        self.by_prefix
            .lock()
            .iter()
            .map(|(prefix, &count)| (prefix.clone(), count))
            .collect()
    }
}

/// The prefix an error reply is counted under, as Redis's `afterErrorReply` finds it: the
/// text before the first space within the reply's first 32 bytes (counting the `-`, so
/// within the message's first 31), or `ERR` when there is none.
pub(crate) fn error_prefix(message: &[u8]) -> &[u8] {
    let window = &message[..message.len().min(31)];
    match window.iter().position(|&b| b == b' ') {
        Some(space) => &message[..space],
        None => b"ERR",
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

    /// Locks every stripe, in order: what SWAPDB waits for.
    pub fn lock_all(&self) -> Vec<MutexGuard<'_, ()>> {
        self.stripes.iter().map(Mutex::lock).collect()
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

pub(crate) fn random_hex(len: usize) -> String {
    let mut out = String::with_capacity(len);
    while out.len() < len {
        let _ = write!(out, "{:016x}", random_u64());
    }
    out.truncate(len);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_taken_between_samples_at_least_the_interval_apart() {
        let start = Instant::now();
        let at = |ms| start + Duration::from_millis(ms);
        let mut rates = Rates::default();
        // The rates are exact here; printed, as INFO prints them.
        let mut sample = |ms, counts| {
            rates
                .sample(start, at(ms), counts)
                .map(|r| format!("{r:.0}"))
        };
        // The first sample: since start.
        assert_eq!(sample(1000, [500, 2048, 0]), ["500", "2048", "0"]);
        // Too soon: the same rates again.
        assert_eq!(sample(1050, [9999, 9999, 9999]), ["500", "2048", "0"]);
        // Half a second later: over that half second.
        assert_eq!(sample(1500, [600, 2048, 100]), ["200", "0", "200"]);
    }

    #[test]
    fn error_prefix_is_the_word_before_the_first_space() {
        assert_eq!(error_prefix(b"ERR syntax error"), b"ERR");
        assert_eq!(
            error_prefix(b"WRONGTYPE Operation against a key"),
            b"WRONGTYPE"
        );
        assert_eq!(error_prefix(b"MOVED 3999 127.0.0.1:6381"), b"MOVED");
        // No space: counted as ERR, as Redis does.
        assert_eq!(error_prefix(b"NOSPACE"), b"ERR");
        assert_eq!(error_prefix(b""), b"ERR");
        // Redis looks for the space in the first 32 bytes of `-<message>`.
        let at_30 = format!("{} rest", "A".repeat(30));
        assert_eq!(error_prefix(at_30.as_bytes()), "A".repeat(30).as_bytes());
        let at_31 = format!("{} rest", "A".repeat(31));
        assert_eq!(error_prefix(at_31.as_bytes()), b"ERR");
    }

    #[test]
    fn error_stats_count_by_prefix_in_order_and_stay_bounded() {
        let stats = ErrorStats::default();
        stats.record(b"WRONGTYPE Operation against a key holding the wrong kind of value");
        stats.record(b"ERR syntax error");
        stats.record(b"ERR unknown command 'foo'");
        assert_eq!(stats.total(), 3);
        assert_eq!(
            stats.by_prefix(),
            vec![
                (b"ERR".as_slice().into(), 2),
                (b"WRONGTYPE".as_slice().into(), 1)
            ]
        );
        for i in 0..200 {
            stats.record(format!("E{i} x").as_bytes());
        }
        let table = stats.by_prefix();
        assert_eq!(table.len(), ErrorStats::MAX_PREFIXES + 1);
        let overflow = table.iter().find(|(p, _)| &**p == ErrorStats::OVERFLOW);
        assert_eq!(overflow.map(|(_, n)| *n), Some(200 - 126));
        assert_eq!(stats.total(), 203);
    }
}
