//! The memtable: the recent writes held in memory.
//!
//! Each key keeps its versions in sequence order (sequence number, value; a delete is a `None`
//! value, a tombstone), so a snapshot (a sequence number) sees one point in time. Point
//! operations go through a sharded hash map, O(1); the keys' order is kept separately, in an
//! ordered set that changes only when a key is new to the memtable. Overwrites, the common
//! case, never touch it: a concurrent skiplist of (key, sequence) entries, the first design,
//! spent much of the server's CPU under redis-benchmark in cache misses and key comparisons
//! on every write (docs/benchmarks.md). This module never touches files, and never holds a
//! lock a reader needs across a call.

mod arena;
mod cursor;
mod keys;
mod versions;

pub(crate) use cursor::MemCursor;

use std::collections::{BTreeSet, HashMap};
use std::hash::BuildHasher;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering as AtomicOrdering};
use std::sync::Arc;

use bytes::Bytes;
use foldhash::fast::RandomState;
use parking_lot::{Mutex, RwLock};
use smallvec::SmallVec;

use crate::storage::batch::Ops;
use crate::storage::error::Result;
use crate::storage::source::{valid_range, Source, Visible};
use arena::Arena;
use keys::{IndexKey, OrderKey};
use versions::Versions;

/// What a memtable must know of its readers to drop versions nobody can read any more.
/// One per `Db`, shared by the committer (which publishes `visible`), every memtable, and
/// every snapshot and range iterator (which hold a [`Pin`]).
#[derive(Debug, Default)]
pub(crate) struct Readers {
    /// Highest sequence number published to reads.
    pub visible: AtomicU64,
    /// Snapshots and range iterators alive: while any is, every version is kept, since
    /// they read at a fixed sequence number.
    pinned: AtomicUsize,
}

impl Readers {
    /// Keeps every version from now until the pin is dropped. Take it before reading the
    /// sequence number to read at: a writer that saw no pin read `visible` before this,
    /// and keeps the newest version at or below what it read.
    pub(crate) fn pin(self: &Arc<Self>) -> Pin {
        self.pinned.fetch_add(1, AtomicOrdering::SeqCst);
        Pin(self.clone())
    }
}

/// See [`Readers::pin`].
#[derive(Debug)]
pub(crate) struct Pin(Arc<Readers>);

impl Drop for Pin {
    fn drop(&mut self) {
        self.0.pinned.fetch_sub(1, AtomicOrdering::SeqCst);
    }
}

/// Shards of the point index: enough that readers rarely meet the writer on one lock.
const SHARDS: usize = 16;

/// An in-memory, concurrently readable table of recent writes.
///
/// Writes come from one thread at a time (the commit leader), in sequence order, and become
/// visible only when the leader publishes their sequence number; readers skip versions newer
/// than their snapshot, so they never see a batch half applied.
#[derive(Debug)]
pub(crate) struct Memtable {
    /// Every version of every key, by key hash.
    shards: Box<[RwLock<Shard>]>,
    /// The distinct keys, in order, for scans.
    order: RwLock<BTreeSet<OrderKey>>,
    /// Holds the keys and first values; only `apply` (one thread at a time) uses it.
    arena: Mutex<Arena>,
    /// Seeds the shard choice, unpredictable to clients (as are the maps' own seeds).
    hasher: RandomState,
    approx_bytes: AtomicUsize,
    /// Bytes of batch payloads applied: what the log holds for this memtable, which
    /// cannot be deleted before it is flushed.
    logged_bytes: AtomicUsize,
    readers: Arc<Readers>,
}

/// One shard of the point index. foldhash, randomly seeded per map: a fraction of `SipHash`'s
/// cost on short keys, and still unpredictable to clients choosing keys.
type Shard = HashMap<IndexKey, Versions, RandomState>;

/// Per-entry overhead assumed when estimating memtable size: the index slot (at up to
/// twice the entries in capacity), the order set's key (in B-tree nodes about half full
/// under ascending inserts) and the `Bytes` handles. A smaller figure let a memtable hold
/// several times `memtable_bytes` of memory, and cost RSS at its peak and write speed
/// (docs/benchmarks.md, "Memory").
const ENTRY_OVERHEAD: usize = 400;

impl Memtable {
    pub(crate) fn new(readers: Arc<Readers>) -> Self {
        Memtable {
            readers,
            shards: (0..SHARDS)
                .map(|_| RwLock::new(HashMap::with_hasher(RandomState::default())))
                .collect(),
            order: RwLock::new(BTreeSet::new()),
            arena: Mutex::new(Arena::new()),
            hasher: RandomState::default(),
            approx_bytes: AtomicUsize::new(0),
            logged_bytes: AtomicUsize::new(0),
        }
    }

    fn shard(&self, key: &[u8]) -> &RwLock<Shard> {
        // The top bits: the maps index buckets by the low ones (of their own hash, but
        // keep the choice independent of them anyway).
        &self.shards[(self.hasher.hash_one(key) >> 60) as usize % SHARDS]
    }

    /// The readers this memtable keeps versions for (a new memtable shares them).
    pub(crate) fn readers(&self) -> &Arc<Readers> {
        &self.readers
    }

    /// Lends `f` the newest published version of `key`, read in place under the key's shard
    /// lock: its sequence number and value, or `None` for a tombstone. Hands `f` back when
    /// this memtable does not know the key. The published sequence number is read under
    /// the shard lock, so a writer pruning the key's versions (under the write lock) never
    /// takes the one this read needs. `f` holds up writes to the shard: keep it short.
    pub(crate) fn with_latest<R, F>(&self, key: &[u8], f: F) -> std::result::Result<R, F>
    where
        F: FnOnce(Option<(u64, &Bytes)>) -> R,
    {
        let shard = self.shard(key).read();
        let snap = self.readers.visible.load(AtomicOrdering::Acquire);
        match shard.get(key).and_then(|versions| versions.visible(snap)) {
            Some((seq, value)) => Ok(f(value.as_ref().map(|value| (*seq, value)))),
            None => Err(f),
        }
    }

    /// The newest version of `key` at most `snap`, if this memtable has one.
    fn visible(&self, key: &[u8], snap: u64) -> Option<Visible> {
        let shard = self.shard(key).read();
        let (seq, value) = shard.get(key)?.visible(snap)?;
        Some(Visible {
            seq: *seq,
            value: value.clone(),
        })
    }

    /// Inserts every op of a batch payload; op `i` gets sequence number `first_seq + i`.
    /// A key new to the memtable is copied into the arena with its value; an overwrite
    /// keeps a slice of `payload`. Only one thread applies at a time, in sequence order.
    /// Returns true if some op overwrote a key: once the batch is published, call
    /// `prune_overwritten` with the same payload to drop the versions it replaced.
    pub(crate) fn apply(&self, payload: &Bytes, first_seq: u64) -> bool {
        let mut overwrote = false;
        let mut added = 0;
        // Most batches are one op: no allocation for the list of new keys.
        let mut new_keys: SmallVec<[OrderKey; 4]> = SmallVec::new();
        let mut arena = None;
        let mut dropped = 0;
        for (i, op) in Ops::new(payload).enumerate() {
            added += op.key.len() + op.value.map_or(0, <[u8]>::len) + ENTRY_OVERHEAD;
            let seq = first_seq + i as u64;
            let mut shard = self.shard(op.key).write();
            if let Some(versions) = shard.get_mut(op.key) {
                dropped += self.prune(op.key.len(), versions);
                versions.push((seq, op.value.map(|v| payload.slice_ref(v))));
                overwrote = true;
            } else {
                let arena = arena.get_or_insert_with(|| self.arena.lock());
                let (key, value) = arena.store(payload, op);
                shard.insert(IndexKey::new(&key), Versions::new((seq, value)));
                new_keys.push(OrderKey::new(key));
            }
        }
        drop(arena);
        if !new_keys.is_empty() {
            self.order.write().extend(new_keys);
        }
        self.logged_bytes
            .fetch_add(payload.len(), AtomicOrdering::Relaxed);
        if added >= dropped {
            self.approx_bytes
                .fetch_add(added - dropped, AtomicOrdering::Relaxed);
        } else {
            self.approx_bytes
                .fetch_sub(dropped - added, AtomicOrdering::Relaxed);
        }
        overwrote
    }

    /// Drops the versions that the ops of `payload`, applied and now published, replaced.
    /// Without this an overwritten key would keep its previous version (and the batch
    /// payload holding it) until its next overwrite: two payloads per key instead of one,
    /// the largest part of the memory each key costs, and fresh memory is what a server
    /// filling up pays most for (in page faults).
    pub(crate) fn prune_overwritten(&self, payload: &Bytes) {
        let mut dropped = 0;
        for op in Ops::new(payload) {
            let mut shard = self.shard(op.key).write();
            if let Some(versions) = shard.get_mut(op.key) {
                dropped += self.prune(op.key.len(), versions);
            }
        }
        self.approx_bytes
            .fetch_sub(dropped, AtomicOrdering::Relaxed);
    }

    /// Drops the versions of a key that no reader can see any more: everything older than
    /// the newest published version, unless a snapshot or iterator is open. So an
    /// overwritten key (a counter) keeps one version, not its whole history, and the
    /// memtable fills with keys rather than with versions. Returns the bytes dropped,
    /// as `apply` counted them. Called with the key's shard write-locked: by
    /// `prune_overwritten` once an overwrite is published, and before a new version is
    /// pushed, for what a snapshot kept meanwhile (so the older versions stay inline).
    fn prune(&self, key_len: usize, versions: &mut Versions) -> usize {
        if versions.older.is_empty() {
            return 0;
        }
        // `visible` before `pinned`: a pin taken after this load reads a `visible` at
        // least as new, and the newest version at or below `visible` is kept.
        let visible = self.readers.visible.load(AtomicOrdering::SeqCst);
        if self.readers.pinned.load(AtomicOrdering::SeqCst) != 0 {
            return 0;
        }
        versions
            .drop_older_than(visible)
            .map(|(_, value)| key_len + value.map_or(0, |v| v.len()) + ENTRY_OVERHEAD)
            .sum()
    }

    /// Rough memory use, for deciding when to flush.
    pub(crate) fn approximate_bytes(&self) -> usize {
        self.approx_bytes.load(AtomicOrdering::Relaxed)
    }

    /// Bytes of the batches applied (recovered ones included), for deciding when to
    /// flush a memtable that overwrites keep small while its log grows.
    pub(crate) fn logged_bytes(&self) -> usize {
        self.logged_bytes.load(AtomicOrdering::Relaxed)
    }

    /// Whether nothing was ever written to it.
    pub(crate) fn is_empty(&self) -> bool {
        self.order.read().is_empty()
    }

    /// Reads up to `limit` keys of `lo..hi`, in key order or (`backward`) from the top,
    /// appending to `out` every version at or below `snap` of each: in internal-key order
    /// when reading forwards, in exactly the reverse order when reading backwards. The
    /// order set's read lock, which writers of new keys take, is held for this call only.
    pub(super) fn read_keys(
        &self,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        read: Read,
        out: &mut Vec<Entry>,
    ) -> KeysRead {
        if !valid_range(&lo, &hi) {
            return KeysRead::default();
        }
        let order = self.order.read();
        let keys = order.range::<[u8], _>((lo, hi)).map(|k| &k.key);
        if read.backward {
            self.append_versions(keys.rev(), read, out)
        } else {
            self.append_versions(keys, read, out)
        }
    }

    /// `read_keys` over the keys `keys` yields.
    fn append_versions<'a>(
        &self,
        keys: impl Iterator<Item = &'a Bytes>,
        read: Read,
        out: &mut Vec<Entry>,
    ) -> KeysRead {
        let mut done = KeysRead::default();
        out.reserve(read.limit);
        let mut last: Option<&Bytes> = None;
        for (n, key) in keys.enumerate() {
            if n == read.limit.max(1) {
                done.stopped_at = last.cloned();
                break;
            }
            if done.first.is_none() {
                done.first = Some(key.clone());
            }
            last = Some(key);
            let shard = self.shard(key).read();
            let Some(versions) = shard.get(&key[..]) else {
                continue;
            };
            // Internal-key order is newest first; a backward read lists it reversed.
            versions.each_at_or_below(read.snap, read.backward, |(seq, value)| {
                out.push((key.clone(), *seq, value.clone()));
            });
        }
        done
    }
}

/// One internal entry: user key, sequence number, value (`None`: a tombstone).
pub(crate) type Entry = (Bytes, u64, Option<Bytes>);

/// How `Memtable::read_keys` reads.
#[derive(Debug, Clone, Copy)]
pub(super) struct Read {
    /// Versions newer than this are left out.
    pub snap: u64,
    /// Keys to read at most (at least one).
    pub limit: usize,
    /// From the top of the range down.
    pub backward: bool,
}

/// What `Memtable::read_keys` read: the first key it looked at and, if it stopped at its
/// limit, the last (more keys may follow). Keys without a version at or below the
/// snapshot count as read.
#[derive(Debug, Default)]
pub(super) struct KeysRead {
    pub first: Option<Bytes>,
    pub stopped_at: Option<Bytes>,
}

impl Source for Memtable {
    fn get(&self, key: &[u8], snap: u64) -> Result<Option<Visible>> {
        Ok(self.visible(key, snap))
    }
}

#[cfg(test)]
mod tests;
