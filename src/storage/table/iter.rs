//! Forward cursors over a table's entries: `Cursor`, a position that does not borrow the
//! table (so scans use it with a plain reference), `ScanCursor`, which on top of it yields
//! one visible version per user key for range scans, and `TableIter`, which owns an
//! `Arc<Table>` and feeds flushes' and compactions' merges. `KeyArena` gives the keys
//! copied out of blocks (prefix compression) one shared allocation per run of keys.

use std::ops::Bound;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use smallvec::SmallVec;

use super::block::BlockIter;
use super::reader::{malformed, Table};
use crate::storage::error::Result;

/// A forward position in a table that does not borrow it, so that `TableIter` can own its
/// `Arc<Table>` and scans can use it with a plain reference.
#[derive(Debug, Default)]
pub(super) struct Cursor {
    /// The block after the one `block` iterates (or the next to load).
    next_block: usize,
    block: Option<BlockIter>,
    /// File offset of `block`, for error messages.
    block_start: usize,
    /// `block` points at an entry not yet returned (after a seek).
    pending: bool,
}

impl Cursor {
    fn load(&mut self, t: &Table, i: usize) -> Result<&mut BlockIter> {
        self.next_block = i + 1;
        self.block_start = t.index[i].start;
        self.pending = false;
        Ok(self.block.insert(t.block_iter(i)?))
    }

    /// Moves to the next entry and returns it; `None` at the end of the table.
    pub(super) fn advance(&mut self, t: &Table) -> Result<Option<&BlockIter>> {
        loop {
            if let Some(b) = self.block.as_mut() {
                let ok = if std::mem::take(&mut self.pending) {
                    b.valid()
                } else {
                    b.advance()
                        .map_err(|m| malformed(&t.path, self.block_start, "data", m))?
                };
                if ok {
                    return Ok(self.block.as_ref());
                }
                self.block = None;
            }
            if self.next_block >= t.index.len() {
                return Ok(None);
            }
            self.load(t, self.next_block)?;
        }
    }

    /// The entry the last `advance` returned, if it returned one.
    fn current(&self) -> Option<&BlockIter> {
        self.block.as_ref().filter(|b| b.valid())
    }

    /// Positions so that `advance` returns the first entry with user key >= `key`.
    pub(super) fn seek(&mut self, t: &Table, key: &[u8]) -> Result<()> {
        // The first block whose last user key is >= key holds the first such entry.
        let i = t.first_block_reaching(key);
        self.block = None;
        self.pending = false;
        self.next_block = i;
        if i < t.index.len() {
            let start = t.index[i].start;
            let b = self.load(t, i)?;
            self.pending = b
                .seek(key, u64::MAX)
                .map_err(|m| malformed(&t.path, start, "data", m))?;
        }
        Ok(())
    }
}

/// A forward cursor over the versions of a table a snapshot sees: per user key, the newest
/// version at or below the snapshot (tombstones included, since they hide older sources).
/// It does not borrow the table and decodes one entry at a time, so a range merge keeps one
/// per table for as long as it runs and pays only for the entries it hands out.
#[derive(Debug, Default)]
pub(crate) struct ScanCursor {
    cursor: Cursor,
    /// The user key whose visible version was taken (or the excluded lower bound): its
    /// older versions, which follow it, are skipped. Inline for short keys: a seek then
    /// allocates nothing per table.
    passed: SmallVec<[u8; 32]>,
    skip_passed: bool,
    /// Whether the cursor is on a visible entry.
    valid: bool,
}

impl ScanCursor {
    /// Positions on the first visible entry at or after `lo`.
    pub(crate) fn seek(&mut self, t: &Table, lo: &Bound<Bytes>, snap: u64) -> Result<()> {
        self.skip_passed = false;
        match lo {
            Bound::Unbounded => self.cursor = Cursor::default(),
            Bound::Included(k) => self.cursor.seek(t, k)?,
            Bound::Excluded(k) => {
                self.cursor.seek(t, k)?;
                self.passed.clear();
                self.passed.extend_from_slice(k);
                self.skip_passed = true;
            }
        }
        self.settle(t, snap)
    }

    /// Moves to the next user key's visible entry.
    pub(crate) fn next(&mut self, t: &Table, snap: u64) -> Result<()> {
        if let Some(b) = self.cursor.current().filter(|_| self.valid) {
            self.passed.clear();
            self.passed.extend_from_slice(b.key());
            self.skip_passed = true;
        }
        self.settle(t, snap)
    }

    /// Advances to the first entry visible at `snap` that is not a version of `passed`.
    fn settle(&mut self, t: &Table, snap: u64) -> Result<()> {
        self.valid = false;
        while let Some(b) = self.cursor.advance(t)? {
            if b.seq() <= snap && !(self.skip_passed && b.key() == &self.passed[..]) {
                self.valid = true;
                break;
            }
        }
        Ok(())
    }

    /// The current entry's user key and sequence number; `None` once the table is exhausted.
    pub(crate) fn head(&self) -> Option<(&[u8], u64)> {
        self.entry().map(|b| (b.key(), b.seq()))
    }

    /// The current entry's value, a slice of the map; `None` for a tombstone (or at the end).
    pub(crate) fn value(&self) -> Option<Bytes> {
        self.entry().and_then(BlockIter::value)
    }

    fn entry(&self) -> Option<&BlockIter> {
        self.cursor.current().filter(|_| self.valid)
    }
}

/// Copies of short keys, carved out of shared buffers: a scan hands out a `Bytes` per key,
/// and one allocation per key cost more than copying the key itself. The buffers grow
/// from small (a short scan copies a few keys) to `ARENA_MAX_BYTES`.
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

/// A forward cursor over a table's entries in internal-key order.
#[derive(Debug)]
pub(crate) struct TableIter {
    table: Arc<Table>,
    cursor: Cursor,
}

impl TableIter {
    pub(super) fn new(table: Arc<Table>) -> TableIter {
        TableIter {
            table,
            cursor: Cursor::default(),
        }
    }

    /// The next entry: (user key, sequence number, value or `None` for a tombstone);
    /// `Ok(None)` at the end.
    pub(crate) fn next_entry(&mut self) -> Result<Option<(Bytes, u64, Option<Bytes>)>> {
        Ok(self
            .cursor
            .advance(&self.table)?
            .map(|b| (b.key_bytes(), b.seq(), b.value())))
    }

    /// Positions so the next `next_entry` returns the first entry with user key >= `key`.
    #[cfg(test)]
    pub(crate) fn seek(&mut self, key: &[u8]) -> Result<()> {
        self.cursor.seek(&self.table, key)
    }
}
