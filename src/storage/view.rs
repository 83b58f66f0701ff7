//! A `View` is the set of sources a read consults (the active memtable, the frozen
//! memtables, and the tables of a version), newest first; `RangeIter` merges them.
//!
//! Reads never block writers: a view is an immutable `Arc` swapped as a whole, and a
//! reader filters by its snapshot sequence number.

use std::collections::VecDeque;
use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;

use super::error::Result;
use super::memtable::{in_bounds, Memtable, Pin, ScanEntry, Source, Visible};
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

/// First chunk fetched per refill; it doubles up to `MAX_CHUNK` on long scans.
const FIRST_CHUNK: usize = 16;
const MAX_CHUNK: usize = 4096;

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
    /// Lower bound of what has not been returned from the front yet.
    lo: Bound<Bytes>,
    /// Upper bound of what has not been returned from the back yet.
    hi: Bound<Bytes>,
    /// Where the next front refill starts (after everything buffered in `front`).
    front_cursor: Bound<Bytes>,
    back_cursor: Bound<Bytes>,
    front: VecDeque<(Bytes, Bytes)>,
    back: VecDeque<(Bytes, Bytes)>,
    front_exhausted: bool,
    back_exhausted: bool,
    front_chunk: usize,
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

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dir {
    Forward,
    Backward,
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
            front_cursor: lo.clone(),
            back_cursor: hi.clone(),
            lo,
            hi,
            front: VecDeque::new(),
            back: VecDeque::new(),
            front_exhausted: false,
            back_exhausted: false,
            front_chunk: FIRST_CHUNK,
            back_chunk: FIRST_CHUNK,
            scratch: Vec::new(),
            failed: false,
        }
    }

    /// Fetches the next chunk in one direction from every source, merges, dedupes by
    /// user key (newest sequence wins) and drops tombstones.
    fn refill(&mut self, dir: Dir) -> Result<()> {
        let (chunk, lo, hi) = match dir {
            Dir::Forward => (self.front_chunk, &self.front_cursor, &self.hi),
            Dir::Backward => (self.back_chunk, &self.lo, &self.back_cursor),
        };
        let scratch = &mut self.scratch;
        scratch.clear();
        // A source that stopped at its limit has only been read up to its last key;
        // past the nearest such key, another source's answer may still be shadowed.
        let mut cut: Option<Bytes> = None;
        let mut contributors = 0;
        for src in self.view.sources() {
            let base = scratch.len();
            let more = match dir {
                Dir::Forward => src.scan_forward(lo, hi, self.snap, chunk, scratch)?,
                Dir::Backward => src.scan_backward(lo, hi, self.snap, chunk, scratch)?,
            };
            if scratch.len() > base {
                contributors += 1;
            }
            if more && scratch.len() > base {
                let last = scratch[scratch.len() - 1].0.clone();
                let nearer = match (&cut, dir) {
                    (None, _) => true,
                    (Some(c), Dir::Forward) => last < *c,
                    (Some(c), Dir::Backward) => last > *c,
                };
                if nearer {
                    cut = Some(last);
                }
            }
        }
        // Entries from one source are already ordered and distinct.
        if contributors > 1 {
            // Stable sort keeps sources' order for equal keys; then newest seq first.
            match dir {
                Dir::Forward => scratch.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.seq.cmp(&a.1.seq))),
                Dir::Backward => scratch.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.seq.cmp(&a.1.seq))),
            }
            scratch.dedup_by(|later, earlier| later.0 == earlier.0);
        }
        let out = match dir {
            Dir::Forward => &mut self.front,
            Dir::Backward => &mut self.back,
        };
        for (key, vis) in scratch.drain(..) {
            if let Some(c) = &cut {
                let past = match dir {
                    Dir::Forward => key > *c,
                    Dir::Backward => key < *c,
                };
                if past {
                    break;
                }
            }
            if let Some(v) = vis.value {
                out.push_back((key, v));
            }
        }
        match (dir, cut) {
            (Dir::Forward, Some(c)) => {
                self.front_cursor = Bound::Excluded(c);
                self.front_chunk = (self.front_chunk * 2).min(MAX_CHUNK);
            }
            (Dir::Backward, Some(c)) => {
                self.back_cursor = Bound::Excluded(c);
                self.back_chunk = (self.back_chunk * 2).min(MAX_CHUNK);
            }
            (Dir::Forward, None) => self.front_exhausted = true,
            (Dir::Backward, None) => self.back_exhausted = true,
        }
        Ok(())
    }

    fn step(&mut self, dir: Dir) -> Option<Result<(Bytes, Bytes)>> {
        if self.failed {
            return None;
        }
        loop {
            let item = match dir {
                Dir::Forward => self.front.pop_front(),
                Dir::Backward => self.back.pop_front(),
            };
            if let Some((k, v)) = item {
                // The other end may already have returned this key (they meet in the middle).
                if !in_bounds(&k, &self.lo, &self.hi) {
                    self.front.clear();
                    self.back.clear();
                    self.front_exhausted = true;
                    self.back_exhausted = true;
                    return None;
                }
                match dir {
                    Dir::Forward => self.lo = Bound::Excluded(k.clone()),
                    Dir::Backward => self.hi = Bound::Excluded(k.clone()),
                }
                return Some(Ok((k, v)));
            }
            let exhausted = match dir {
                Dir::Forward => self.front_exhausted,
                Dir::Backward => self.back_exhausted,
            };
            if exhausted {
                return None;
            }
            if let Err(e) = self.refill(dir) {
                self.failed = true;
                return Some(Err(e));
            }
        }
    }
}

impl Iterator for RangeIter {
    type Item = Result<(Bytes, Bytes)>;

    fn next(&mut self) -> Option<Self::Item> {
        self.step(Dir::Forward)
    }
}

impl DoubleEndedIterator for RangeIter {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.step(Dir::Backward)
    }
}

impl std::iter::FusedIterator for RangeIter {}
