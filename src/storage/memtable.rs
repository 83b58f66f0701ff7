//! The memtable: the recent writes held in memory, and the `Source` trait that every
//! ordered store of internal entries (memtables now, sorted tables later) implements so
//! that reads can consult and merge them.
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

use bytes::Bytes;
use foldhash::fast::RandomState;
use parking_lot::RwLock;
use smallvec::SmallVec;

use super::batch::Ops;
use super::error::Result;

/// The newest version of a key visible at some snapshot, as one source knows it.
#[derive(Debug, Clone)]
pub(crate) struct Visible {
    /// Sequence number of the write that produced it.
    pub seq: u64,
    /// The value, or `None` for a tombstone.
    pub value: Option<Bytes>,
}

/// One user key and its visible version, as produced by a scan.
pub(crate) type ScanEntry = (Bytes, Visible);

/// An ordered store of internal-key entries that reads consult.
///
/// `get` returns the newest version of `key` with a sequence number at most `snap`
/// (tombstones included, so that they hide older sources). The scan returns, per user
/// key inside the bounds, that same newest visible version, in reverse key order, at most
/// `limit` keys; it returns `true` if it stopped because of the limit (more keys may
/// follow), `false` if the range is exhausted. (Forward reads stream through per-source
/// cursors instead, see `storage::cursor`; a memtable's is its `scan_forward` in chunks.)
pub(crate) trait Source: Send + Sync {
    fn get(&self, key: &[u8], snap: u64) -> Result<Option<Visible>>;
    fn scan_backward(
        &self,
        lo: &Bound<Bytes>,
        hi: &Bound<Bytes>,
        snap: u64,
        limit: usize,
        out: &mut Vec<ScanEntry>,
    ) -> Result<bool>;
}

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
/// overwritten.
#[derive(Debug)]
struct Versions {
    newest: Version,
    older: Vec<Version>,
}

impl Versions {
    fn new(version: Version) -> Versions {
        Versions {
            newest: version,
            older: Vec::new(),
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
    fn drop_older_than(&mut self, visible: u64) -> std::vec::Drain<'_, Version> {
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
/// a slice of their batch payload. Hashes and compares as the `[u8]` it holds.
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
    order: RwLock<BTreeSet<Bytes>>,
    /// Seeds the shard choice, unpredictable to clients (as are the maps' own seeds).
    hasher: RandomState,
    approx_bytes: AtomicUsize,
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
            hasher: RandomState::default(),
            approx_bytes: AtomicUsize::new(0),
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

    /// The newest published version of `key`, if this memtable has one. The published
    /// sequence number is read under the key's shard lock, so a writer pruning the key's
    /// versions (under the write lock) never takes the one this read needs.
    pub(crate) fn latest(&self, key: &[u8]) -> Option<Visible> {
        let shard = self.shard(key).read();
        let snap = self.readers.visible.load(AtomicOrdering::Acquire);
        let (seq, value) = shard.get(key)?.visible(snap)?;
        Some(Visible {
            seq: *seq,
            value: value.clone(),
        })
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
    /// Keys and values are slices of `payload`, not copies. Only one thread applies at a
    /// time, in sequence order.
    pub(crate) fn apply(&self, payload: &Bytes, first_seq: u64) {
        let mut added = 0;
        // Most batches are one op: no allocation for the list of new keys.
        let mut new_keys: SmallVec<[Bytes; 4]> = SmallVec::new();
        let mut dropped = 0;
        for (i, op) in Ops::new(payload).enumerate() {
            added += op.key.len() + op.value.as_ref().map_or(0, Bytes::len) + ENTRY_OVERHEAD;
            let version = (first_seq + i as u64, op.value);
            let mut shard = self.shard(&op.key).write();
            match shard.get_mut(&op.key[..]) {
                Some(versions) => {
                    versions.push(version);
                    dropped += self.prune(op.key.len(), versions);
                }
                None => {
                    shard.insert(IndexKey::new(&op.key), Versions::new(version));
                    new_keys.push(op.key);
                }
            }
        }
        if !new_keys.is_empty() {
            self.order.write().extend(new_keys);
        }
        if added >= dropped {
            self.approx_bytes
                .fetch_add(added - dropped, AtomicOrdering::Relaxed);
        } else {
            self.approx_bytes
                .fetch_sub(dropped - added, AtomicOrdering::Relaxed);
        }
    }

    /// Drops the versions of a key that no reader can see any more: everything older than
    /// the newest published version, unless a snapshot or iterator is open. So an
    /// overwritten key (a counter) keeps one or two versions, not its whole history, and
    /// the memtable fills with keys rather than with versions. Returns the bytes dropped,
    /// as `apply` counted them. Called with the key's shard write-locked.
    fn prune(&self, key_len: usize, versions: &mut Versions) -> usize {
        // The newest version is the one just pushed (not published yet); with fewer than
        // two older ones there is nothing older than the newest published one.
        if versions.older.len() < 2 {
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
                .cloned()
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

fn as_slice_bound(bound: &Bound<Bytes>) -> Bound<&[u8]> {
    match bound {
        Bound::Unbounded => Bound::Unbounded,
        Bound::Included(k) => Bound::Included(&k[..]),
        Bound::Excluded(k) => Bound::Excluded(&k[..]),
    }
}

/// Whether `lo..hi` is a range `BTreeSet::range` accepts (it panics on an inverted or
/// empty-excluded range).
pub(crate) fn valid_range(lo: &Bound<Bytes>, hi: &Bound<Bytes>) -> bool {
    match (lo, hi) {
        (Bound::Included(l), Bound::Included(h)) => l <= h,
        (Bound::Included(l) | Bound::Excluded(l), Bound::Excluded(h))
        | (Bound::Excluded(l), Bound::Included(h)) => l < h,
        _ => true,
    }
}

pub(crate) fn above_hi(key: &[u8], hi: &Bound<Bytes>) -> bool {
    match hi {
        Bound::Unbounded => false,
        Bound::Included(h) => key > &h[..],
        Bound::Excluded(h) => key >= &h[..],
    }
}

pub(crate) fn below_lo(key: &[u8], lo: &Bound<Bytes>) -> bool {
    match lo {
        Bound::Unbounded => false,
        Bound::Included(l) => key < &l[..],
        Bound::Excluded(l) => key <= &l[..],
    }
}

#[cfg(test)]
pub(crate) fn in_bounds(key: &[u8], lo: &Bound<Bytes>, hi: &Bound<Bytes>) -> bool {
    !below_lo(key, lo) && !above_hi(key, hi)
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
        let keys = order.range::<[u8], _>((as_slice_bound(lo), as_slice_bound(hi)));
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

    /// Applies like the committer: each write published right after it is applied.
    fn apply_published(mem: &Memtable, seq: u64, key: &str, value: &str) {
        apply(mem, seq, &[(key, Some(value))]);
        mem.readers().visible.store(seq, AtomicOrdering::Release);
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
        assert!(version_count(&mem, "counter") <= 2);
        assert_eq!(
            mem.latest(b"counter").map(|v| v.seq),
            Some(1000),
            "the newest version is kept"
        );
        // What the memtable counts shrinks with the versions it drops.
        let one_key = mem.approximate_bytes();
        assert!(
            one_key < 3 * (ENTRY_OVERHEAD + 20),
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
        assert!(version_count(&mem, "k") <= 2);
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
