//! The memtable: an ordered, lock-free map of internal keys to values, and the
//! `Source` trait that every ordered store of internal entries (memtables now,
//! sorted tables later) implements so that reads can consult and merge them.
//!
//! An internal key is (user key ascending, sequence number descending); a delete is
//! stored as a `None` value (a tombstone). This module never touches files.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::ops::Bound;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};

use bytes::Bytes;
use crossbeam_epoch as epoch;
use crossbeam_skiplist::SkipList;

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
/// (tombstones included, so that they hide older sources). The scans return, per user
/// key inside the bounds, that same newest visible version, in key order (forward) or
/// reverse key order (backward), at most `limit` keys; they return `true` if they stopped
/// because of the limit (more keys may follow), `false` if the range is exhausted.
pub(crate) trait Source: Send + Sync {
    fn get(&self, key: &[u8], snap: u64) -> Result<Option<Visible>>;
    fn scan_forward(
        &self,
        lo: &Bound<Bytes>,
        hi: &Bound<Bytes>,
        snap: u64,
        limit: usize,
        out: &mut Vec<ScanEntry>,
    ) -> Result<bool>;
    fn scan_backward(
        &self,
        lo: &Bound<Bytes>,
        hi: &Bound<Bytes>,
        snap: u64,
        limit: usize,
        out: &mut Vec<ScanEntry>,
    ) -> Result<bool>;
}

/// Key of a memtable entry.
#[derive(Debug, Clone)]
pub(crate) struct InternalKey {
    user_key: Bytes,
    seq: u64,
}

/// A view of an internal key that need not own its bytes, so lookups don't allocate.
trait KeyView {
    fn user_key(&self) -> &[u8];
    fn seq(&self) -> u64;
}

impl KeyView for InternalKey {
    fn user_key(&self) -> &[u8] {
        &self.user_key
    }
    fn seq(&self) -> u64 {
        self.seq
    }
}

struct LookupKey<'a> {
    user_key: &'a [u8],
    seq: u64,
}

impl KeyView for LookupKey<'_> {
    fn user_key(&self) -> &[u8] {
        self.user_key
    }
    fn seq(&self) -> u64 {
        self.seq
    }
}

fn cmp_views(a: &dyn KeyView, b: &dyn KeyView) -> Ordering {
    a.user_key()
        .cmp(b.user_key())
        .then_with(|| b.seq().cmp(&a.seq()))
}

impl PartialEq for dyn KeyView + '_ {
    fn eq(&self, other: &Self) -> bool {
        cmp_views(self, other) == Ordering::Equal
    }
}
impl Eq for dyn KeyView + '_ {}
impl PartialOrd for dyn KeyView + '_ {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for dyn KeyView + '_ {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_views(self, other)
    }
}

impl PartialEq for InternalKey {
    fn eq(&self, other: &Self) -> bool {
        self.seq == other.seq && self.user_key == other.user_key
    }
}
impl Eq for InternalKey {}
impl PartialOrd for InternalKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for InternalKey {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_views(self, other)
    }
}

impl<'a> Borrow<dyn KeyView + 'a> for InternalKey {
    fn borrow(&self) -> &(dyn KeyView + 'a) {
        self
    }
}

/// An in-memory, concurrently readable table of recent writes.
///
/// It uses crossbeam's `base::SkipList` with explicit epoch guards rather than `SkipMap`,
/// whose entries are reference-counted: scans then cost no atomic increments per entry.
#[derive(Debug)]
pub(crate) struct Memtable {
    list: SkipList<InternalKey, Option<Bytes>>,
    approx_bytes: AtomicUsize,
}

/// Per-entry overhead assumed when estimating memtable size (skiplist node, Bytes handles).
const ENTRY_OVERHEAD: usize = 96;

impl Memtable {
    pub(crate) fn new() -> Self {
        Memtable {
            list: SkipList::new(epoch::default_collector().clone()),
            approx_bytes: AtomicUsize::new(0),
        }
    }

    /// Inserts every op of a batch payload; op `i` gets sequence number `first_seq + i`.
    /// Keys and values are slices of `payload`, not copies.
    pub(crate) fn apply(&self, payload: &Bytes, first_seq: u64) {
        let mut added = 0;
        let guard = &epoch::pin();
        for (i, op) in Ops::new(payload).enumerate() {
            added += op.key.len() + op.value.as_ref().map_or(0, Bytes::len) + ENTRY_OVERHEAD;
            self.list
                .insert(
                    InternalKey {
                        user_key: op.key,
                        seq: first_seq + i as u64,
                    },
                    op.value,
                    guard,
                )
                .release(guard);
        }
        self.approx_bytes.fetch_add(added, AtomicOrdering::Relaxed);
    }

    /// Rough memory use, for deciding when to flush.
    #[allow(dead_code)] // used by flushing (issue 3)
    pub(crate) fn approximate_bytes(&self) -> usize {
        self.approx_bytes.load(AtomicOrdering::Relaxed)
    }
}

fn above_hi(key: &[u8], hi: &Bound<Bytes>) -> bool {
    match hi {
        Bound::Unbounded => false,
        Bound::Included(h) => key > &h[..],
        Bound::Excluded(h) => key >= &h[..],
    }
}

fn below_lo(key: &[u8], lo: &Bound<Bytes>) -> bool {
    match lo {
        Bound::Unbounded => false,
        Bound::Included(l) => key < &l[..],
        Bound::Excluded(l) => key <= &l[..],
    }
}

pub(crate) fn in_bounds(key: &[u8], lo: &Bound<Bytes>, hi: &Bound<Bytes>) -> bool {
    !below_lo(key, lo) && !above_hi(key, hi)
}

impl Source for Memtable {
    fn get(&self, key: &[u8], snap: u64) -> Result<Option<Visible>> {
        let probe = LookupKey {
            user_key: key,
            seq: snap,
        };
        let guard = &epoch::pin();
        let Some(entry) = self
            .list
            .lower_bound(Bound::Included(&probe as &dyn KeyView), guard)
        else {
            return Ok(None);
        };
        let ik = entry.key();
        if &ik.user_key[..] != key {
            return Ok(None);
        }
        Ok(Some(Visible {
            seq: ik.seq,
            value: entry.value().clone(),
        }))
    }

    fn scan_forward(
        &self,
        lo: &Bound<Bytes>,
        hi: &Bound<Bytes>,
        snap: u64,
        limit: usize,
        out: &mut Vec<ScanEntry>,
    ) -> Result<bool> {
        // Sequence numbers sort descending, so (k, MAX) is the first internal key of k
        // and (k, 0) the last (0 is never assigned).
        let start = match lo {
            Bound::Unbounded => Bound::Unbounded,
            Bound::Included(k) => Bound::Included(LookupKey {
                user_key: k,
                seq: u64::MAX,
            }),
            Bound::Excluded(k) => Bound::Excluded(LookupKey {
                user_key: k,
                seq: 0,
            }),
        };
        let start = start.as_ref().map(|k| k as &dyn KeyView);
        let base = out.len();
        let guard = &epoch::pin();
        for entry in self
            .list
            .range::<dyn KeyView, _>((start, Bound::Unbounded), guard)
        {
            let ik = entry.key();
            if above_hi(&ik.user_key, hi) {
                break;
            }
            if ik.seq > snap {
                continue;
            }
            // Older versions of the key just emitted are shadowed by it.
            if out.len() > base && out[out.len() - 1].0 == ik.user_key {
                continue;
            }
            if out.len() - base == limit {
                return Ok(true);
            }
            out.push((
                ik.user_key.clone(),
                Visible {
                    seq: ik.seq,
                    value: entry.value().clone(),
                },
            ));
        }
        Ok(false)
    }

    fn scan_backward(
        &self,
        lo: &Bound<Bytes>,
        hi: &Bound<Bytes>,
        snap: u64,
        limit: usize,
        out: &mut Vec<ScanEntry>,
    ) -> Result<bool> {
        let end = match hi {
            Bound::Unbounded => Bound::Unbounded,
            Bound::Included(k) => Bound::Included(LookupKey {
                user_key: k,
                seq: 0,
            }),
            Bound::Excluded(k) => Bound::Excluded(LookupKey {
                user_key: k,
                seq: u64::MAX,
            }),
        };
        let end = end.as_ref().map(|k| k as &dyn KeyView);
        let mut emitted = 0;
        // Walking backwards, a key's versions come oldest first: the last one seen with
        // seq <= snap is the visible one, known only when the key changes.
        let mut group: Option<Bytes> = None;
        let mut candidate: Option<Visible> = None;
        let guard = &epoch::pin();
        for entry in self
            .list
            .range::<dyn KeyView, _>((Bound::Unbounded, end), guard)
            .rev()
        {
            let ik = entry.key();
            if group.as_deref() != Some(&ik.user_key[..]) {
                if let (Some(k), Some(c)) = (group.take(), candidate.take()) {
                    out.push((k, c));
                    emitted += 1;
                }
                if below_lo(&ik.user_key, lo) {
                    return Ok(false);
                }
                if emitted == limit {
                    return Ok(true);
                }
                group = Some(ik.user_key.clone());
            }
            if ik.seq <= snap {
                candidate = Some(Visible {
                    seq: ik.seq,
                    value: entry.value().clone(),
                });
            }
        }
        if let (Some(k), Some(c)) = (group, candidate) {
            out.push((k, c));
        }
        Ok(false)
    }
}
