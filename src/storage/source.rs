//! What every source of a read answers, and the bounds reads are given.
//!
//! A source is an ordered store of internal entries (user key ascending, sequence number
//! descending): a memtable, a table, a sorted level. A point read asks each, newest first,
//! through [`Source::get`]; range reads and merges walk them through a cursor
//! (`storage::cursor`). The key-bound helpers here are the one place that says what
//! `Bound`s mean for keys. This module holds no data and never touches files or locks.

use std::ops::Bound;

use bytes::Bytes;

use super::error::Result;

/// The newest version of a key visible at some snapshot, as one source knows it.
#[derive(Debug, Clone)]
pub(crate) struct Visible {
    /// Sequence number of the write that produced it.
    pub seq: u64,
    /// The value, or `None` for a tombstone.
    pub value: Option<Bytes>,
}

/// One user key and its visible version, as a scan of one source lists them.
pub(crate) type ScanEntry = (Bytes, Visible);

/// A store of internal entries that point reads consult.
///
/// `get` returns the newest version of `key` with a sequence number at most `snap`
/// (tombstones included, so that they hide older sources).
pub(crate) trait Source: Send + Sync {
    fn get(&self, key: &[u8], snap: u64) -> Result<Option<Visible>>;
}

/// `bound` with its key borrowed.
pub(crate) fn as_slice_bound<K: AsRef<[u8]>>(bound: &Bound<K>) -> Bound<&[u8]> {
    bound.as_ref().map(AsRef::as_ref)
}

/// Whether `lo..hi` may hold a key: not inverted, not empty by exclusion (and so a range
/// `BTreeSet::range` accepts, which panics on those).
pub(crate) fn valid_range<K: AsRef<[u8]>>(lo: &Bound<K>, hi: &Bound<K>) -> bool {
    match (as_slice_bound(lo), as_slice_bound(hi)) {
        (Bound::Included(l), Bound::Included(h)) => l <= h,
        (Bound::Included(l) | Bound::Excluded(l), Bound::Excluded(h))
        | (Bound::Excluded(l), Bound::Included(h)) => l < h,
        _ => true,
    }
}

/// Whether `key` lies beyond the upper bound `hi`.
pub(crate) fn above_hi<K: AsRef<[u8]>>(key: &[u8], hi: &Bound<K>) -> bool {
    match as_slice_bound(hi) {
        Bound::Unbounded => false,
        Bound::Included(h) => key > h,
        Bound::Excluded(h) => key >= h,
    }
}

/// Whether `key` lies before the lower bound `lo`.
pub(crate) fn below_lo<K: AsRef<[u8]>>(key: &[u8], lo: &Bound<K>) -> bool {
    match as_slice_bound(lo) {
        Bound::Unbounded => false,
        Bound::Included(l) => key < l,
        Bound::Excluded(l) => key <= l,
    }
}
