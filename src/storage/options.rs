//! Tuning knobs of a `Db`: plain data, and the compaction filter hook.

use std::sync::Arc;

/// When the write-ahead log is forced to stable storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncPolicy {
    /// A write completes only after an fsync covering it (group-committed: one fsync
    /// serves every write that arrived while the previous one ran).
    #[default]
    Always,
    /// A background thread fsyncs once a second; a crash may lose up to about a second.
    EverySecond,
    /// Never fsync explicitly; the operating system writes back when it likes.
    Never,
}

impl SyncPolicy {
    /// Whether the log's segments are mapped, so that an append is a copy rather than a
    /// `pwrite`. Not under `Always`: there an fdatasync follows every group, and writing
    /// back a mapped page write-protects it again (a TLB shootdown to every CPU the
    /// process runs on, an interrupt each in a virtual machine), so the next append to the
    /// same page faults, and unpipelined SETs over the server ran faster with `pwrite`
    /// (docs/benchmarks.md). (Elsewhere the map wins: one put per group would pay a system
    /// call each.)
    pub(crate) fn maps_log(self) -> bool {
        self != SyncPolicy::Always
    }
}

/// Decides, during flushes and compactions, whether a value may be dropped (for the
/// server: a key whose expiry time has passed). A dropped value becomes a tombstone, so an
/// older version in a deeper level never resurfaces; readers holding an older snapshot
/// still see it.
pub trait CompactionFilter: Send + Sync + std::fmt::Debug {
    /// True if `key`'s value `value` should be removed.
    fn remove(&self, key: &[u8], value: &[u8]) -> bool;

    /// Like [`remove`](CompactionFilter::remove), for a filter whose answer depends on
    /// another key: `current` reads the newest published value of any key (`Ok(None)`:
    /// none). The server drops the elements of a collection whose header is gone. What
    /// `current` sees is newer than what is being merged, never older: a filter may drop
    /// what the present makes unreachable, as readers of older snapshots keep their own
    /// tables. The engine calls only this; the default asks `remove`.
    fn remove_given(&self, key: &[u8], value: &[u8], current: &Lookup<'_>) -> bool {
        let _ = current;
        self.remove(key, value)
    }
}

/// Told of every batch the commit pipeline writes, in sequence order, as soon as it is
/// visible: what a replication primary streams to its replicas. It runs on the writing
/// thread while the next group waits, so it must only hand the payload on (a clone of a
/// `Bytes` and a wake-up), never block or write to the engine.
pub trait CommitTap: Send + Sync + std::fmt::Debug {
    /// `payload` is the batch in its WAL encoding (docs/storage-format.md: first sequence
    /// number, op count, ops), its ops numbered from `first_seq`; see
    /// [`WriteBatch::from_payload`](crate::storage::WriteBatch::from_payload).
    fn committed(&self, first_seq: u64, payload: &bytes::Bytes);
}

/// Reads the newest published value of a key, for [`CompactionFilter::remove_given`].
pub type Lookup<'a> = dyn Fn(&[u8]) -> crate::storage::Result<Option<bytes::Bytes>> + 'a;

/// Options for [`Db::open`](crate::storage::Db::open).
#[derive(Debug, Clone)]
pub struct Options {
    /// Durability policy of the write-ahead log.
    pub sync: SyncPolicy,
    /// Size at which the active memtable is frozen and flushed to a table.
    pub memtable_bytes: usize,
    /// Target size of a data block in a table.
    pub block_bytes: usize,
    /// Bloom filter bits per key in a table.
    pub bloom_bits_per_key: usize,
    /// Number of level-0 tables that triggers a compaction.
    pub level0_compaction_trigger: usize,
    /// After this long without a write, level 0 is compacted into level 1 even below the
    /// trigger: every read consults each level-0 table (a range seek opens a cursor in
    /// each), so a burst of writes that stopped short of the trigger would otherwise leave
    /// reads paying for it until the next burst (a few level-0 tables made random seeks
    /// several times slower: docs/benchmarks.md). The price, for writes that pause often:
    /// at most one more merge into
    /// level 1 per memtable flushed. `None`: only the trigger compacts. Default 250 ms.
    pub idle_compaction: Option<std::time::Duration>,
    /// Size after which the write-ahead log moves on to a new segment file.
    pub wal_segment_bytes: u64,
    /// Log a memtable may keep alive: once the batches applied to the active memtable
    /// pass this many bytes, it is frozen and flushed even if small (overwrites of a few
    /// keys keep it small while every write still goes to the log), so the log on disk
    /// and its replay at open stay bounded. The default, 512 MiB, is what `RocksDB` picks
    /// for one column family with a memtable this size; each flush it forces costs an
    /// overwrite-heavy workload its memtable-only reads for a while.
    pub max_wal_bytes: u64,
    /// Consulted for every value a flush or compaction rewrites; `None` keeps all.
    pub compaction_filter: Option<Arc<dyn CompactionFilter>>,
    /// Told of every committed batch, in order (see [`CommitTap`]); `None`: nobody is.
    /// Batches replayed from the log at open are not told.
    pub commit_tap: Option<Arc<dyn CommitTap>>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            sync: SyncPolicy::Always,
            memtable_bytes: 64 << 20,
            block_bytes: 4096,
            bloom_bits_per_key: 10,
            level0_compaction_trigger: 4,
            idle_compaction: Some(std::time::Duration::from_millis(250)),
            wal_segment_bytes: 64 << 20,
            max_wal_bytes: 512 << 20,
            compaction_filter: None,
            commit_tap: None,
        }
    }
}
