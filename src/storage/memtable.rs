//! The memtable: the recent writes held in memory.
//!
//! Each key keeps its versions in sequence order (sequence number, value; a delete is a `None`
//! value, a tombstone), so a snapshot (a sequence number) sees one point in time. Point
//! operations go through a sharded hash map, O(1); the keys' order is kept separately, in an
//! ordered set that changes only when a key is new to the memtable. Overwrites, the common
//! case, never touch it: a concurrent skiplist of (key, sequence) entries cost a third of the
//! server's CPU under redis-benchmark, in cache misses and key comparisons on every write.
//! This module never touches files.

use std::collections::{BTreeSet, HashMap};
use std::hash::BuildHasher;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering as AtomicOrdering};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use foldhash::fast::RandomState;
use parking_lot::{Mutex, RwLock};
use smallvec::SmallVec;

use super::batch::{Op, Ops};
use super::error::Result;
use super::source::{as_slice_bound, valid_range, ScanEntry, Source, Visible};

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

/// One version of a key: its sequence number and value (`None` for a tombstone).
type Version = (u64, Option<Bytes>);

/// A key's versions in this memtable. The newest sits in the hash bucket itself, beside
/// the key, so a read (which nearly always wants the newest) finds it without following a
/// pointer: with the versions in one spilled list, that second cache miss was the largest
/// single cost of a GET. Older versions, kept while a reader may still need them, are
/// in `older`, oldest first; a new version is a push, O(1), however often a hot key is
/// overwritten. Once an overwrite is published, what no reader can see any more is dropped
/// (see `Memtable::prune`), so without open snapshots a key holds one version; the first
/// older one sits in the bucket too, as reaching a spilled list cost every overwrite a
/// cache miss.
#[derive(Debug)]
struct Versions {
    newest: Version,
    older: SmallVec<[Version; 1]>,
}

impl Versions {
    fn new(version: Version) -> Versions {
        Versions {
            newest: version,
            older: SmallVec::new(),
        }
    }

    fn push(&mut self, version: Version) {
        let previous = std::mem::replace(&mut self.newest, version);
        self.older.push(previous);
    }

    /// The newest version at most `snap`.
    fn visible(&self, snap: u64) -> Option<&Version> {
        if self.newest.0 <= snap {
            return Some(&self.newest);
        }
        self.older.iter().rev().find(|(seq, _)| *seq <= snap)
    }

    /// Removes the versions older than the newest one at most `visible`.
    fn drop_older_than(&mut self, visible: u64) -> smallvec::Drain<'_, [Version; 1]> {
        let keep_from = if self.newest.0 <= visible {
            self.older.len()
        } else {
            let newest_visible = self.older.iter().rposition(|(seq, _)| *seq <= visible);
            newest_visible.unwrap_or(0)
        };
        self.older.drain(..keep_from)
    }

    /// Every version, oldest first.
    fn iter(&self) -> impl Iterator<Item = &Version> {
        self.older.iter().chain(std::iter::once(&self.newest))
    }
}

/// A key as the point index holds it: short keys inline in the hash bucket, so a lookup
/// compares the key without another cache miss (it was half the cost of a GET); long keys as
/// a `Bytes` (a slice of the memtable's arena, or of a large entry's payload). Hashes and
/// compares as the `[u8]` it holds.
#[derive(Debug, Clone)]
enum IndexKey {
    /// Up to [`IndexKey::INLINE`] bytes.
    Inline {
        len: u8,
        bytes: [u8; IndexKey::INLINE],
    },
    /// Longer keys.
    Shared(Bytes),
}

impl IndexKey {
    const INLINE: usize = 30;

    fn new(key: &Bytes) -> IndexKey {
        if key.len() <= Self::INLINE {
            let mut bytes = [0u8; Self::INLINE];
            bytes[..key.len()].copy_from_slice(key);
            IndexKey::Inline {
                len: key.len() as u8,
                bytes,
            }
        } else {
            IndexKey::Shared(key.clone())
        }
    }

    fn as_slice(&self) -> &[u8] {
        match self {
            IndexKey::Inline { len, bytes } => &bytes[..usize::from(*len)],
            IndexKey::Shared(b) => b,
        }
    }
}

impl std::borrow::Borrow<[u8]> for IndexKey {
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

impl std::hash::Hash for IndexKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

impl PartialEq for IndexKey {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for IndexKey {}

/// A key as the order set holds it: its first 16 bytes, zero-padded, as a big-endian
/// integer beside the key itself. Keys whose padded prefixes differ compare as those
/// prefixes do, so most comparisons of an insert or a lookup read only the set's own
/// nodes, not the key bytes behind a pointer (a cache miss each, under random inserts,
/// and half the cost of the insert). Orders, and borrows, as the `[u8]` it holds.
#[derive(Debug, Clone)]
struct OrderKey {
    prefix: u128,
    key: Bytes,
}

impl OrderKey {
    fn new(key: Bytes) -> OrderKey {
        let mut prefix = [0u8; 16];
        let n = key.len().min(prefix.len());
        prefix[..n].copy_from_slice(&key[..n]);
        OrderKey {
            prefix: u128::from_be_bytes(prefix),
            key,
        }
    }
}

impl Ord for OrderKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // Padded prefixes that differ order as the keys do: at the first byte where they
        // differ either both keys have a byte, or the shorter one ended (a zero pad) and
        // is a prefix of the longer. Equal prefixes say nothing (`a` and `a\0`).
        self.prefix
            .cmp(&other.prefix)
            .then_with(|| self.key.cmp(&other.key))
    }
}

impl PartialOrd for OrderKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for OrderKey {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for OrderKey {}

impl std::borrow::Borrow<[u8]> for OrderKey {
    fn borrow(&self) -> &[u8] {
        &self.key
    }
}

/// Where the memtable copies each key new to it, with that key's first value: large
/// chunks carved into `Bytes` slices. The batch payload, a heap block per write, is then
/// freed by the writer that made it, at once (and reused by its next write), instead of
/// living as long as the memtable and being freed by the flush thread, which cost a
/// malloc and a cross-thread free per write and contention on the allocator's lock.
/// Overwrites still keep slices of their payload: pruning an old version frees its
/// payload, where arena bytes would stay until the memtable goes. So what a pruned first
/// version leaves behind in a chunk is at most one value per key.
#[derive(Debug)]
struct Arena {
    /// What is left of the current chunk: empty, with the chunk's spare capacity.
    chunk: BytesMut,
}

impl Arena {
    /// Bytes per chunk: one `malloc` serves thousands of small entries.
    const CHUNK: usize = 1 << 20;
    /// Entries larger than this stay in their payload: copying them saves nothing.
    const LARGEST: usize = Arena::CHUNK / 8;

    fn new() -> Arena {
        Arena {
            chunk: BytesMut::new(),
        }
    }

    /// The key and value of `op`, copied side by side into the arena (or, for a large
    /// entry, sliced out of `payload`, which holds `op`).
    fn store(&mut self, payload: &Bytes, op: Op<'_>) -> (Bytes, Option<Bytes>) {
        let value_len = op.value.map_or(0, <[u8]>::len);
        let len = op.key.len() + value_len;
        if len > Arena::LARGEST {
            return (
                payload.slice_ref(op.key),
                op.value.map(|v| payload.slice_ref(v)),
            );
        }
        if self.chunk.capacity() < len {
            self.chunk = BytesMut::with_capacity(Arena::CHUNK);
        }
        self.chunk.extend_from_slice(op.key);
        let key = self.chunk.split().freeze();
        let value = op.value.map(|v| {
            self.chunk.extend_from_slice(v);
            self.chunk.split().freeze()
        });
        (key, value)
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

/// One shard of the point index. foldhash, randomly seeded per map: a fraction of SipHash's
/// cost on short keys, and still unpredictable to clients choosing keys.
type Shard = HashMap<IndexKey, Versions, RandomState>;

/// Per-entry overhead assumed when estimating memtable size (map slots, `Bytes` handles).
const ENTRY_OVERHEAD: usize = 96;

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
            match shard.get_mut(op.key) {
                Some(versions) => {
                    dropped += self.prune(op.key.len(), versions);
                    versions.push((seq, op.value.map(|v| payload.slice_ref(v))));
                    overwrote = true;
                }
                None => {
                    let arena = arena.get_or_insert_with(|| self.arena.lock());
                    let (key, value) = arena.store(payload, op);
                    shard.insert(IndexKey::new(&key), Versions::new((seq, value)));
                    new_keys.push(OrderKey::new(key));
                }
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
    /// filling up pays most for (its page faults were a tenth of the time).
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

    /// Every entry in internal-key order (user key ascending, newest version first), for
    /// writing the memtable to a table. Meant for a frozen memtable: writes that arrive
    /// while it runs may or may not be included.
    pub(crate) fn entries(&self) -> MemtableEntries<'_> {
        MemtableEntries {
            mem: self,
            keys: self
                .order
                .read()
                .iter()
                .map(|k| k.key.clone())
                .collect::<Vec<_>>()
                .into_iter(),
            current: Vec::new(),
        }
    }

    /// Appends the visible version of each key `keys` yields, stopping after `limit`
    /// (returns true if it stopped there with keys left).
    fn collect<'a>(
        &self,
        keys: impl Iterator<Item = &'a Bytes>,
        snap: u64,
        limit: usize,
        out: &mut Vec<ScanEntry>,
    ) -> bool {
        let mut emitted = 0;
        for key in keys {
            // A key whose every version is newer than the snapshot did not exist then.
            let Some(visible) = self.visible(key, snap) else {
                continue;
            };
            if emitted == limit {
                return true;
            }
            out.push((key.clone(), visible));
            emitted += 1;
        }
        false
    }
}

/// The entries of a memtable in internal-key order; see [`Memtable::entries`].
pub(crate) struct MemtableEntries<'a> {
    mem: &'a Memtable,
    keys: std::vec::IntoIter<Bytes>,
    /// The current key's versions not yet returned, oldest first (popped from the back).
    current: Vec<(Bytes, u64, Option<Bytes>)>,
}

impl Iterator for MemtableEntries<'_> {
    /// (user key, sequence number, value or `None` for a tombstone).
    type Item = (Bytes, u64, Option<Bytes>);

    fn next(&mut self) -> Option<Self::Item> {
        while self.current.is_empty() {
            let key = self.keys.next()?;
            let shard = self.mem.shard(&key).read();
            if let Some(versions) = shard.get(&key[..]) {
                self.current.extend(
                    versions
                        .iter()
                        .map(|(seq, value)| (key.clone(), *seq, value.clone())),
                );
            }
        }
        self.current.pop()
    }
}

impl Source for Memtable {
    fn get(&self, key: &[u8], snap: u64) -> Result<Option<Visible>> {
        Ok(self.visible(key, snap))
    }

    fn scan_backward(
        &self,
        lo: &Bound<Bytes>,
        hi: &Bound<Bytes>,
        snap: u64,
        limit: usize,
        out: &mut Vec<ScanEntry>,
    ) -> Result<bool> {
        Ok(self.scan(lo, hi, snap, limit, out, true))
    }
}

impl Memtable {
    /// The forward counterpart of `Source::scan_backward`, with the same contract.
    pub(crate) fn scan_forward(
        &self,
        lo: &Bound<Bytes>,
        hi: &Bound<Bytes>,
        snap: u64,
        limit: usize,
        out: &mut Vec<ScanEntry>,
    ) -> bool {
        self.scan(lo, hi, snap, limit, out, false)
    }

    /// Both scans: the keys in bounds, in key order or reversed, through `collect`.
    fn scan(
        &self,
        lo: &Bound<Bytes>,
        hi: &Bound<Bytes>,
        snap: u64,
        limit: usize,
        out: &mut Vec<ScanEntry>,
        backward: bool,
    ) -> bool {
        if !valid_range(lo, hi) {
            return false;
        }
        let order = self.order.read();
        let keys = order
            .range::<[u8], _>((as_slice_bound(lo), as_slice_bound(hi)))
            .map(|k| &k.key);
        if backward {
            self.collect(keys.rev(), snap, limit, out)
        } else {
            self.collect(keys, snap, limit, out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::batch::WriteBatch;

    fn apply(mem: &Memtable, first_seq: u64, ops: &[(&str, Option<&str>)]) {
        let mut batch = WriteBatch::new();
        for (key, value) in ops {
            match value {
                Some(v) => batch.put(key.as_bytes(), v.as_bytes()),
                None => batch.delete(key.as_bytes()),
            }
        }
        mem.apply(&batch.into_payload(first_seq), first_seq);
    }

    fn value_at(mem: &Memtable, key: &str, snap: u64) -> Option<Option<String>> {
        mem.get(key.as_bytes(), snap)
            .unwrap()
            .map(|v| v.value.map(|b| String::from_utf8(b.to_vec()).unwrap()))
    }

    proptest::proptest! {
        #[test]
        fn order_keys_order_as_their_bytes(
            a in proptest::collection::vec(0u8..4, 0..24),
            b in proptest::collection::vec(0u8..4, 0..24),
        ) {
            // Few distinct bytes, so that shared prefixes, zero bytes and keys on both
            // sides of 16 bytes are common.
            let (ka, kb) = (OrderKey::new(Bytes::from(a.clone())), OrderKey::new(Bytes::from(b.clone())));
            proptest::prop_assert_eq!(ka.cmp(&kb), a.cmp(&b));
            proptest::prop_assert_eq!(ka == kb, a == b);
        }
    }

    #[test]
    fn new_keys_are_copied_and_large_ones_stay_in_their_payload() {
        let mut arena = Arena::new();
        let payload = Bytes::from(vec![7u8; Arena::LARGEST + 1]);
        let small = Op {
            key: &payload[..3],
            value: Some(&payload[3..10]),
        };
        let (k, v) = arena.store(&payload, small);
        assert_eq!(
            (&k[..], v.as_deref()),
            (&payload[..3], Some(&payload[3..10]))
        );
        assert_ne!(k.as_ptr(), payload.as_ptr(), "a small entry is copied");
        let large = Op {
            key: &payload[..1],
            value: Some(&payload[1..]),
        };
        let (k, v) = arena.store(&payload, large);
        assert_eq!(k.as_ptr(), payload.as_ptr(), "a large entry is a slice");
        assert_eq!(v.map(|v| v.len()), Some(Arena::LARGEST));
        // Enough entries to need more than one chunk: each keeps its own bytes.
        let stored: Vec<_> = (0..Arena::CHUNK / 64)
            .map(|i| {
                let key = format!("{i:08}").into_bytes();
                let (k, v) = arena.store(
                    &payload,
                    Op {
                        key: &key,
                        value: Some(&[1; 100]),
                    },
                );
                (key, k, v)
            })
            .collect();
        for (key, k, v) in stored {
            assert_eq!(&k[..], &key[..]);
            assert_eq!(v.as_deref(), Some(&[1u8; 100][..]));
        }
        let (k, v) = arena.store(
            &payload,
            Op {
                key: b"gone",
                value: None,
            },
        );
        assert_eq!((&k[..], v), (&b"gone"[..], None));
    }

    #[test]
    fn a_hot_key_stays_cheap_to_overwrite() {
        let mem = Memtable::new(Arc::default());
        for seq in 1..=100_000 {
            apply(&mem, seq, &[("counter", Some("v"))]);
        }
        apply(&mem, 100_001, &[("counter", Some("last"))]);
        assert_eq!(
            value_at(&mem, "counter", 100_001),
            Some(Some("last".into()))
        );
        assert_eq!(value_at(&mem, "counter", 5), Some(Some("v".into())));
    }

    /// Applies like the committer: each write published right after it is applied, then
    /// the versions it replaced pruned.
    fn apply_published(mem: &Memtable, seq: u64, key: &str, value: &str) {
        let mut batch = WriteBatch::new();
        batch.put(key.as_bytes(), value.as_bytes());
        let payload = batch.into_payload(seq);
        let overwrote = mem.apply(&payload, seq);
        mem.readers().visible.store(seq, AtomicOrdering::SeqCst);
        if overwrote {
            mem.prune_overwritten(&payload);
        }
    }

    fn version_count(mem: &Memtable, key: &str) -> usize {
        mem.shard(key.as_bytes()).read()[key.as_bytes()]
            .iter()
            .count()
    }

    #[test]
    fn overwrites_drop_versions_nobody_can_read() {
        let mem = Memtable::new(Arc::default());
        for seq in 1..=1000 {
            apply_published(&mem, seq, "counter", &seq.to_string());
        }
        assert_eq!(version_count(&mem, "counter"), 1);
        assert_eq!(
            mem.with_latest(b"counter", |found| found.map(|(seq, _)| seq))
                .ok()
                .flatten(),
            Some(1000),
            "the newest version is kept"
        );
        // What the memtable counts shrinks with the versions it drops.
        let one_key = mem.approximate_bytes();
        assert!(
            one_key < 2 * (ENTRY_OVERHEAD + 20),
            "{one_key} bytes for one key"
        );
    }

    #[test]
    fn a_pin_keeps_every_version_until_dropped() {
        let mem = Memtable::new(Arc::default());
        apply_published(&mem, 1, "k", "first");
        let pin = mem.readers().pin();
        let snap = mem.readers().visible.load(AtomicOrdering::Acquire);
        for seq in 2..=100 {
            apply_published(&mem, seq, "k", "later");
        }
        assert_eq!(value_at(&mem, "k", snap), Some(Some("first".into())));
        assert_eq!(version_count(&mem, "k"), 100);
        drop(pin);
        apply_published(&mem, 101, "k", "last");
        assert_eq!(version_count(&mem, "k"), 1);
        assert_eq!(value_at(&mem, "k", 101), Some(Some("last".into())));
    }

    #[test]
    fn snapshots_see_their_own_version() {
        let mem = Memtable::new(Arc::default());
        apply(&mem, 1, &[("a", Some("1")), ("b", Some("x"))]);
        apply(&mem, 3, &[("a", Some("2"))]);
        apply(&mem, 4, &[("a", None)]);
        assert_eq!(value_at(&mem, "a", 0), None);
        assert_eq!(value_at(&mem, "a", 1), Some(Some("1".into())));
        assert_eq!(value_at(&mem, "a", 3), Some(Some("2".into())));
        assert_eq!(
            value_at(&mem, "a", 9),
            Some(None),
            "a tombstone hides older sources"
        );
        assert_eq!(value_at(&mem, "zz", 9), None);
    }

    #[test]
    fn scans_are_ordered_bounded_and_snapshot_consistent() {
        let mem = Memtable::new(Arc::default());
        apply(
            &mem,
            1,
            &[("c", Some("3")), ("a", Some("1")), ("b", Some("2"))],
        );
        apply(&mem, 4, &[("d", Some("4")), ("b", None)]);
        let keys = |out: &Vec<ScanEntry>| -> Vec<String> {
            out.iter()
                .map(|(k, _)| String::from_utf8(k.to_vec()).unwrap())
                .collect()
        };
        let mut out = Vec::new();
        let more = mem.scan_forward(&Bound::Unbounded, &Bound::Unbounded, 3, 10, &mut out);
        assert!(!more);
        assert_eq!(keys(&out), ["a", "b", "c"], "d is newer than the snapshot");
        out.clear();
        let more = mem.scan_forward(
            &Bound::Excluded(Bytes::from("a")),
            &Bound::Unbounded,
            9,
            2,
            &mut out,
        );
        assert!(more);
        assert_eq!(keys(&out), ["b", "c"]);
        assert!(out[0].1.value.is_none(), "b is a tombstone at 9");
        out.clear();
        mem.scan_backward(
            &Bound::Unbounded,
            &Bound::Excluded(Bytes::from("d")),
            9,
            10,
            &mut out,
        )
        .unwrap();
        assert_eq!(keys(&out), ["c", "b", "a"]);
        out.clear();
        let inverted = (
            Bound::Included(Bytes::from("c")),
            Bound::Excluded(Bytes::from("a")),
        );
        assert!(!mem.scan_forward(&inverted.0, &inverted.1, 9, 10, &mut out));
        assert!(out.is_empty());
    }
}
