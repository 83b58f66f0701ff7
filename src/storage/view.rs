//! A `View` is the set of sources a read consults (the active memtable, the frozen
//! memtables, and the tables of a version), newest first; `RangeIter` merges them
//! (forwards through `cursor::ForwardMerge`, backwards in chunks).
//!
//! Reads never block writers: a view is an immutable `Arc` swapped as a whole, and a
//! reader filters by its snapshot sequence number.

use std::collections::VecDeque;
use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;

use super::cursor::ForwardMerge;
use super::error::Result;
use super::memtable::{Memtable, Pin};
use super::source::{below_lo, valid_range, ScanEntry, Source, Visible};
use super::version::Version;

/// The sources of one point in time, newest first.
#[derive(Debug)]
pub(crate) struct View {
    /// The memtable writes go into.
    pub active: Arc<Memtable>,
    /// Frozen memtables waiting to be flushed, newest first.
    pub immutables: Vec<Arc<Memtable>>,
    /// The tables.
    pub version: Arc<Version>,
}

impl View {
    pub(crate) fn new(active: Arc<Memtable>, version: Arc<Version>) -> Self {
        View {
            active,
            immutables: Vec::new(),
            version,
        }
    }

    fn sources(&self) -> impl Iterator<Item = &dyn Source> {
        std::iter::once(&*self.active as &dyn Source)
            .chain(self.immutables.iter().map(|m| &**m as &dyn Source))
            .chain(self.version.sources())
    }

    /// The newest published version of `key` in the frozen memtables and the tables,
    /// tombstones included, without a snapshot: they hold only published versions. The
    /// caller asks the active memtable first (`Memtable::latest`, which reads the published
    /// sequence number under its shard lock, so a writer trimming old versions never takes
    /// the one this read wants).
    pub(crate) fn latest_past_active(&self, key: &[u8]) -> Result<Option<Visible>> {
        for m in &self.immutables {
            if let Some(v) = m.get(key, u64::MAX)? {
                return Ok(Some(v));
            }
        }
        self.version.get(key, u64::MAX)
    }

    /// The newest version of `key` at `snap`, tombstones included. Newer sources hide
    /// older ones, so the first source that knows the key answers.
    pub(crate) fn get(&self, key: &[u8], snap: u64) -> Result<Option<Visible>> {
        if let Some(v) = self.active.get(key, snap)? {
            return Ok(Some(v));
        }
        for m in &self.immutables {
            if let Some(v) = m.get(key, snap)? {
                return Ok(Some(v));
            }
        }
        self.version.get(key, snap)
    }
}

/// One pair a range returns.
type Pair = (Bytes, Bytes);

/// First chunk fetched per backward refill; it doubles up to `MAX_CHUNK` on long scans.
const FIRST_CHUNK: usize = 16;
const MAX_CHUNK: usize = 4096;

/// An ordered, snapshot-consistent iterator over `(key, value)` pairs in a key range.
///
/// Returned by [`Db::range`](crate::storage::Db::range) and
/// [`Snapshot::range`](crate::storage::Snapshot::range). It iterates forwards with
/// `next` and backwards with `next_back` (both may be mixed; they meet in the middle).
/// It sees the database as of its creation, however long it lives; it holds no lock.
///
/// Forwards it streams: a [`ForwardMerge`] of per-source cursors, built at the first
/// `next`. Backwards it works in chunks: each refill asks every source for the next keys
/// below where it stopped, and merges them.
pub struct RangeIter {
    view: Arc<View>,
    /// Keeps the memtable's old versions while the iterator reads at `snap`.
    _pin: Arc<Pin>,
    snap: u64,
    /// The range's lower bound (the forward merge's progress is its own).
    lo: Bound<Bytes>,
    /// Upper bound of what has not been returned from the back yet.
    hi: Bound<Bytes>,
    front: Option<ForwardMerge>,
    front_done: bool,
    /// Where the next back refill ends (before everything buffered in `back`).
    back_cursor: Bound<Bytes>,
    back: VecDeque<Pair>,
    back_exhausted: bool,
    back_chunk: usize,
    scratch: Vec<ScanEntry>,
    failed: bool,
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
        // An inverted range holds nothing (and would upset the sources' seeks).
        let empty = !valid_range(&lo, &hi);
        RangeIter {
            view,
            _pin: pin,
            snap,
            back_cursor: hi.clone(),
            lo,
            hi,
            front: None,
            front_done: empty,
            back: VecDeque::new(),
            back_exhausted: empty,
            back_chunk: FIRST_CHUNK,
            scratch: Vec::new(),
            failed: false,
        }
    }

    /// Where the back may go down to: the range's lower bound, or past the last key the
    /// front went past.
    fn back_floor(&self) -> Bound<Bytes> {
        match self.front.as_ref().and_then(ForwardMerge::passed) {
            Some(k) => Bound::Excluded(Bytes::copy_from_slice(k)),
            None => self.lo.clone(),
        }
    }

    /// Fetches the next chunk below `back_cursor` from every source, merges, dedupes by
    /// user key (newest sequence wins) and drops tombstones.
    fn refill_back(&mut self) -> Result<()> {
        let lo = self.back_floor();
        let (chunk, hi) = (self.back_chunk, &self.back_cursor);
        let scratch = &mut self.scratch;
        scratch.clear();
        // A source that stopped at its limit has only been read down to its last key;
        // below the highest such key, another source's answer may still be shadowed.
        let mut cut: Option<Bytes> = None;
        let mut contributors = 0;
        for src in self.view.sources() {
            let base = scratch.len();
            let more = src.scan_backward(&lo, hi, self.snap, chunk, scratch)?;
            if scratch.len() > base {
                contributors += 1;
            }
            if more && scratch.len() > base {
                let last = scratch[scratch.len() - 1].0.clone();
                if cut.as_ref().is_none_or(|c| last > *c) {
                    cut = Some(last);
                }
            }
        }
        // Entries from one source are already ordered and distinct.
        if contributors > 1 {
            // Stable sort keeps sources' order for equal keys; then newest seq first.
            scratch.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.seq.cmp(&a.1.seq)));
            scratch.dedup_by(|later, earlier| later.0 == earlier.0);
        }
        for (key, vis) in scratch.drain(..) {
            if cut.as_ref().is_some_and(|c| key < *c) {
                break;
            }
            if let Some(v) = vis.value {
                self.back.push_back((key, v));
            }
        }
        match cut {
            Some(c) => {
                self.back_cursor = Bound::Excluded(c);
                self.back_chunk = (self.back_chunk * 2).min(MAX_CHUNK);
            }
            None => self.back_exhausted = true,
        }
        Ok(())
    }

    /// Both ends have met: nothing is left.
    fn finish(&mut self) {
        self.back.clear();
        self.front_done = true;
        self.back_exhausted = true;
    }

    fn step_front(&mut self) -> Result<Option<Pair>> {
        let front = match &mut self.front {
            Some(f) => f,
            None => self.front.insert(ForwardMerge::new(
                &self.view, &self.lo, &self.hi, self.snap,
            )?),
        };
        // `hi` stops it where the back has got to (they meet in the middle).
        let next = front.next(&self.view, &self.hi)?;
        if next.is_none() {
            self.finish();
        }
        Ok(next)
    }

    fn step_back(&mut self) -> Result<Option<Pair>> {
        loop {
            if let Some((k, v)) = self.back.pop_front() {
                // The front may already have returned this key (they meet in the middle).
                let front_passed = self.front.as_ref().and_then(ForwardMerge::passed);
                if below_lo(&k, &self.lo) || front_passed.is_some_and(|p| k <= p) {
                    self.finish();
                    return Ok(None);
                }
                self.hi = Bound::Excluded(k.clone());
                return Ok(Some((k, v)));
            }
            if self.back_exhausted {
                return Ok(None);
            }
            self.refill_back()?;
        }
    }

    /// Runs one step, turning an error into the last item.
    fn step(&mut self, step: fn(&mut Self) -> Result<Option<Pair>>) -> Option<Result<Pair>> {
        if self.failed {
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
        if self.front_done {
            return None;
        }
        self.step(Self::step_front)
    }
}

impl DoubleEndedIterator for RangeIter {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.step(Self::step_back)
    }
}

impl std::iter::FusedIterator for RangeIter {}
