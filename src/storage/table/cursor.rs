//! Cursors over a table's entries, both ways: `TablePos`, a position that does not borrow
//! its table (so that a level's cursor can move it from table to table, each found by its
//! place in a `Version`), and `TableCursor`, which owns an `Arc<Table>` and implements the
//! `Cursor` contract. They move block by block (`BlockIter`), reusing one block iterator's
//! buffers; they decode only what they step over, never a whole block ahead.

use std::sync::Arc;

use bytes::Bytes;

use super::block_iter::BlockIter;
use super::reader::Table;
use crate::storage::cursor::Cursor;
use crate::storage::error::Result;

/// A position in a table that does not borrow it: every call names the table, which must
/// be the same each time.
#[derive(Debug, Default)]
pub(crate) struct TablePos {
    /// The loaded block; on an entry when the position is valid.
    block: Option<BlockIter>,
    /// Which block `block` holds.
    index: usize,
}

impl TablePos {
    /// On the first entry whose user key is at or after `key`.
    pub(crate) fn seek(&mut self, t: &Table, key: &[u8]) -> Result<()> {
        // The first block whose last user key is at or after `key` holds the entry.
        let i = t.first_block_reaching(key);
        if i >= t.block_count() {
            self.block = None;
            return Ok(());
        }
        let found = t
            .load_block(i, &mut self.block)?
            .seek(key, u64::MAX)
            .map_err(t.block_error(i))?;
        self.index = i;
        if !found {
            self.first_from(t, i + 1)?;
        }
        Ok(())
    }

    /// On the last entry whose user key is before `key`.
    pub(crate) fn seek_before(&mut self, t: &Table, key: &[u8]) -> Result<()> {
        self.seek(t, key)?;
        if self.valid() {
            self.prev(t)
        } else {
            self.seek_to_last(t)
        }
    }

    pub(crate) fn seek_to_first(&mut self, t: &Table) -> Result<()> {
        self.first_from(t, 0)
    }

    pub(crate) fn seek_to_last(&mut self, t: &Table) -> Result<()> {
        self.last_before(t, t.block_count())
    }

    pub(crate) fn next(&mut self, t: &Table) -> Result<()> {
        let Some(b) = self.block.as_mut() else {
            return Ok(());
        };
        if b.advance().map_err(t.block_error(self.index))? {
            return Ok(());
        }
        self.first_from(t, self.index + 1)
    }

    pub(crate) fn prev(&mut self, t: &Table) -> Result<()> {
        let Some(b) = self.block.as_mut() else {
            return Ok(());
        };
        if b.prev().map_err(t.block_error(self.index))? {
            return Ok(());
        }
        self.last_before(t, self.index)
    }

    /// On the first entry of the first block from block `i` on that has one.
    fn first_from(&mut self, t: &Table, i: usize) -> Result<()> {
        for j in i..t.block_count() {
            let b = t.load_block(j, &mut self.block)?;
            self.index = j;
            if b.seek_to_first().map_err(t.block_error(j))? {
                return Ok(());
            }
        }
        self.block = None;
        Ok(())
    }

    /// On the last entry of the last block before block `end` that has one.
    fn last_before(&mut self, t: &Table, end: usize) -> Result<()> {
        for j in (0..end).rev() {
            let b = t.load_block(j, &mut self.block)?;
            self.index = j;
            if b.seek_to_last().map_err(t.block_error(j))? {
                return Ok(());
            }
        }
        self.block = None;
        Ok(())
    }

    pub(crate) fn valid(&self) -> bool {
        self.block.as_ref().is_some_and(BlockIter::valid)
    }

    pub(crate) fn key(&self) -> &[u8] {
        self.block.as_ref().map_or(&[], BlockIter::key)
    }

    pub(crate) fn seq(&self) -> u64 {
        self.block.as_ref().map_or(0, BlockIter::seq)
    }

    pub(crate) fn value(&self) -> Option<Bytes> {
        self.block.as_ref().and_then(BlockIter::value)
    }
}

/// A cursor over one table (a level-0 table; or any table, in tests and benchmarks). It
/// holds the table open, and its file on disk, for as long as it lives.
#[derive(Debug)]
pub(crate) struct TableCursor {
    table: Arc<Table>,
    pos: TablePos,
}

impl TableCursor {
    /// A cursor on no entry: seek it first.
    pub(crate) fn new(table: Arc<Table>) -> TableCursor {
        TableCursor {
            table,
            pos: TablePos::default(),
        }
    }
}

impl Cursor for TableCursor {
    fn seek(&mut self, key: &[u8]) -> Result<()> {
        self.pos.seek(&self.table, key)
    }

    fn seek_before(&mut self, key: &[u8]) -> Result<()> {
        self.pos.seek_before(&self.table, key)
    }

    fn seek_to_last(&mut self) -> Result<()> {
        self.pos.seek_to_last(&self.table)
    }

    fn next(&mut self) -> Result<()> {
        self.pos.next(&self.table)
    }

    fn prev(&mut self) -> Result<()> {
        self.pos.prev(&self.table)
    }

    fn valid(&self) -> bool {
        self.pos.valid()
    }

    fn key(&self) -> &[u8] {
        self.pos.key()
    }

    fn seq(&self) -> u64 {
        self.pos.seq()
    }

    fn value(&self) -> Option<Bytes> {
        self.pos.value()
    }
}
