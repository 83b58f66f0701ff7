//! Range reads: `RangeIter`, the pairs of a key range as of one snapshot, in key order from
//! the front (`next`) and in reverse from the back (`next_back`).
//!
//! Each end is a `MergingCursor` over a cursor per source of the iterator's view (built at
//! its first step), read one user key at a time at the snapshot (`visible`): the newest
//! version each key had then wins, tombstones hide the key. Both ends stream: a step
//! decodes about one entry per source beyond what it returns, whichever way it goes. The
//! ends know how far the other got, in user keys, and stop where they meet, so mixing them
//! returns every key exactly once. An iterator holds no lock and borrows nothing: it is
//! `'static`, `Send`, and cheap to keep while writes go on. This module never writes.

mod visible;

use std::ops::Bound;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use super::cursor::{Cursor, SourceCursor};
use super::error::Result;
use super::memtable::Pin;
use super::merge::MergingCursor;
use super::source::{as_slice_bound, below_lo, valid_range, ScanEntry};
use super::view::View;
use visible::{Back, Front};

/// One pair a range returns.
type Pair = (Bytes, Bytes);

/// The merge of a view's sources.
type Merge = MergingCursor<SourceCursor>;

/// An ordered, snapshot-consistent iterator over `(key, value)` pairs in a key range.
///
/// Returned by [`Db::range`](crate::storage::Db::range) and
/// [`Snapshot::range`](crate::storage::Snapshot::range). It iterates forwards with
/// `next` and backwards with `next_back` (both may be mixed; they meet in the middle).
/// It sees the database as of its creation, however long it lives; it holds no lock.
pub struct RangeIter {
    view: Arc<View>,
    /// Keeps the memtable's old versions while the iterator reads at `snap`.
    _pin: Arc<Pin>,
    snap: u64,
    lo: Bound<Bytes>,
    hi: Bound<Bytes>,
    front: Option<Front<Merge>>,
    back: Option<Back<Merge>>,
    /// The ends have met, or the range holds nothing.
    done: bool,
    failed: bool,
    keys: KeyArena,
}

impl std::fmt::Debug for RangeIter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RangeIter")
            .field("snapshot", &self.snap)
            .field("lo", &self.lo)
            .field("hi", &self.hi)
            .finish_non_exhaustive()
    }
}

impl RangeIter {
    pub(crate) fn new(
        view: Arc<View>,
        snap: u64,
        lo: Bound<Bytes>,
        hi: Bound<Bytes>,
        pin: Arc<Pin>,
    ) -> Self {
        RangeIter {
            view,
            _pin: pin,
            snap,
            // An inverted range holds nothing (and would upset the sources' seeks).
            done: !valid_range(&lo, &hi),
            lo,
            hi,
            front: None,
            back: None,
            failed: false,
            keys: KeyArena::default(),
        }
    }

    /// The merge of every source that may hold keys between the two ends.
    fn merge(&self) -> Merge {
        MergingCursor::new(self.view.cursors(&self.lo, &self.hi, self.snap))
    }

    fn step_front(&mut self) -> Result<Option<Pair>> {
        if self.front.is_none() {
            self.front = Some(Front::new(self.merge(), &self.lo)?);
        }
        // It stops where the back has got to: the back has answered for every key from
        // the last one it walked up.
        let hi = match self.back.as_ref().and_then(Back::walked) {
            Some(k) => Bound::Excluded(k),
            None => as_slice_bound(&self.hi),
        };
        if let Some(front) = self.front.as_mut() {
            while let Some(visible) = front.next(self.snap, hi)? {
                if let Some(value) = visible.value {
                    let key = front.shared_key();
                    let key = key.unwrap_or_else(|| self.keys.copy(front.key()));
                    return Ok(Some((key, value)));
                }
            }
        }
        self.finish();
        Ok(None)
    }

    fn step_back(&mut self) -> Result<Option<Pair>> {
        if self.back.is_none() {
            self.back = Some(Back::new(self.merge(), &self.hi)?);
        }
        let front_passed = self.front.as_ref().and_then(Front::passed);
        if let Some(back) = self.back.as_mut() {
            while let Some(key) = back.upcoming() {
                // Below what the front went past, the front has answered for every key.
                if below_lo(key, &self.lo) || front_passed.is_some_and(|p| key <= p) {
                    break;
                }
                let visible = back.take(self.snap)?;
                if let Some(value) = visible.and_then(|v| v.value) {
                    let key = back.shared_key();
                    let key = key.unwrap_or_else(|| self.keys.copy(back.key()));
                    return Ok(Some((key, value)));
                }
            }
        }
        self.finish();
        Ok(None)
    }

    /// The ends have met: nothing is left, and the sources can go.
    fn finish(&mut self) {
        self.done = true;
        self.front = None;
        self.back = None;
    }

    /// Runs one step, turning an error into the last item.
    fn step(&mut self, step: fn(&mut Self) -> Result<Option<Pair>>) -> Option<Result<Pair>> {
        if self.done || self.failed {
            return None;
        }
        match step(self) {
            Ok(item) => item.map(Ok),
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

impl Iterator for RangeIter {
    type Item = Result<(Bytes, Bytes)>;

    fn next(&mut self) -> Option<Self::Item> {
        self.step(Self::step_front)
    }
}

impl DoubleEndedIterator for RangeIter {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.step(Self::step_back)
    }
}

impl std::iter::FusedIterator for RangeIter {}

/// Up to `limit` user keys of `lo..hi` read off `cursor` at `snap`, each with its newest
/// version (tombstones included), in key order or (`backward`) from the top; true if it
/// stopped at the limit with keys left. For tests and benchmarks of a single source.
pub(crate) fn scan<C: Cursor>(
    cursor: C,
    lo: &Bound<Bytes>,
    hi: &Bound<Bytes>,
    snap: u64,
    limit: usize,
    backward: bool,
    out: &mut Vec<ScanEntry>,
) -> Result<bool> {
    if !valid_range(lo, hi) {
        return Ok(false);
    }
    let mut keys = KeyArena::default();
    let mut emitted = 0;
    if backward {
        let mut back = Back::new(cursor, hi)?;
        while back.upcoming().is_some_and(|k| !below_lo(k, lo)) {
            if let Some(visible) = back.take(snap)? {
                if emitted == limit {
                    return Ok(true);
                }
                out.push((keys.copy(back.key()), visible));
                emitted += 1;
            }
        }
    } else {
        let mut front = Front::new(cursor, lo)?;
        while let Some(visible) = front.next(snap, as_slice_bound(hi))? {
            if emitted == limit {
                return Ok(true);
            }
            out.push((keys.copy(front.key()), visible));
            emitted += 1;
        }
    }
    Ok(false)
}

/// Copies of short keys, carved out of shared buffers: a scan hands out a `Bytes` per key
/// (blocks store most keys prefix-compressed, so there is nothing to slice), and one
/// allocation per key cost more than copying the key itself. The buffers grow from small
/// (a short scan copies a few keys) to `ARENA_MAX_BYTES`.
#[derive(Debug, Default)]
pub(crate) struct KeyArena {
    buf: BytesMut,
}

const ARENA_FIRST_BYTES: usize = 256;
const ARENA_MAX_BYTES: usize = 8192;

impl KeyArena {
    /// `key`, copied into the arena.
    pub(crate) fn copy(&mut self, key: &[u8]) -> Bytes {
        if self.buf.capacity() - self.buf.len() < key.len() {
            // Earlier keys keep the old buffer alive; this one starts a new buffer.
            let size = (self.buf.capacity() * 2).clamp(ARENA_FIRST_BYTES, ARENA_MAX_BYTES);
            self.buf = BytesMut::with_capacity(size.max(key.len()));
        }
        self.buf.extend_from_slice(key);
        self.buf.split().freeze()
    }
}

#[cfg(test)]
mod tests;
