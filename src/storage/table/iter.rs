//! `TableIter`: a forward cursor over a table's entries that owns an `Arc<Table>` and feeds
//! flushes' and compactions' merges.

use std::sync::Arc;

use bytes::Bytes;

use super::block_iter::BlockIter;
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
}
