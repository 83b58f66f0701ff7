//! A `View` is the set of sources a read consults (the active memtable, the frozen
//! memtables, and the tables of a version), newest first: point reads ask them in turn,
//! range reads merge a cursor over each.
//!
//! Reads never block writers: a view is an immutable `Arc` swapped as a whole, and a
//! reader filters by its snapshot sequence number. A view never changes what it holds.

use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;

use super::cursor::SourceCursor;
use super::error::Result;
use super::level::{LevelCursor, LevelRun};
use super::memtable::{MemCursor, Memtable};
use super::source::{above_hi, below_lo, Source, Visible};
use super::table::TableCursor;
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

    /// A cursor over each source that may hold keys in `lo..hi`, newest first, reading
    /// versions at or below `snap`; none is positioned yet.
    pub(crate) fn cursors(
        &self,
        lo: &Bound<Bytes>,
        hi: &Bound<Bytes>,
        snap: u64,
    ) -> Vec<SourceCursor> {
        let mut cursors = Vec::new();
        for mem in std::iter::once(&self.active).chain(&self.immutables) {
            // Memtables only grow: one empty now held nothing at `snap` either.
            if mem.is_empty() {
                continue;
            }
            let c = MemCursor::new(mem.clone(), snap, lo.clone(), hi.clone());
            cursors.push(SourceCursor::Memtable(c));
        }
        for t in &self.version.level0 {
            let p = t.properties();
            if !above_hi(&p.smallest, hi) && !below_lo(&p.largest, lo) {
                cursors.push(SourceCursor::Table(TableCursor::new(t.clone())));
            }
        }
        for (i, level) in self.version.sorted.iter().enumerate() {
            let run = level.run_within(lo, hi);
            if !run.is_empty() {
                let c = LevelCursor::new(LevelRun::new(self.version.clone(), i + 1, run));
                cursors.push(SourceCursor::Level(c));
            }
        }
        cursors
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
