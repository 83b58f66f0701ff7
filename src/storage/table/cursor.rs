//! Cursors over tables' entries, both ways: `TablePos`, a position in one table that does
//! not borrow it, and `TableCursor`, the `Cursor` over a run of tables (`Tables`: one table
//! alone, or a run of a sorted level, see `level`), which moves its position from table to
//! table. They move block by block (`BlockIter`), reusing one block iterator's buffers, and
//! decode only what they step over, never a whole block ahead.

use std::sync::Arc;

use bytes::Bytes;

use super::block_iter::BlockIter;
use super::reader::Table;
use crate::storage::cursor::Cursor;
use crate::storage::error::Result;

/// A position in a table that does not borrow it: every call names the table, which must
/// be the same each time.
#[derive(Debug, Default)]
struct TablePos {
    /// The loaded block; on an entry when the position is valid.
    block: Option<BlockIter>,
    /// Which block `block` holds.
    index: usize,
}

impl TablePos {
    /// On the first entry whose user key is at or after `key`.
    fn seek(&mut self, t: &Table, key: &[u8]) -> Result<()> {
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
    fn seek_before(&mut self, t: &Table, key: &[u8]) -> Result<()> {
        self.seek(t, key)?;
        if self.valid() {
            self.prev(t)
        } else {
            self.seek_to_last(t)
        }
    }

    fn seek_to_first(&mut self, t: &Table) -> Result<()> {
        self.first_from(t, 0)
    }

    fn seek_to_last(&mut self, t: &Table) -> Result<()> {
        self.last_before(t, t.block_count())
    }

    fn next(&mut self, t: &Table) -> Result<()> {
        let Some(b) = self.block.as_mut() else {
            return Ok(());
        };
        if b.advance().map_err(t.block_error(self.index))? {
            return Ok(());
        }
        self.first_from(t, self.index + 1)
    }

    fn prev(&mut self, t: &Table) -> Result<()> {
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

    fn valid(&self) -> bool {
        self.block.as_ref().is_some_and(BlockIter::valid)
    }

    fn key(&self) -> &[u8] {
        self.block.as_ref().map_or(&[], BlockIter::key)
    }

    fn seq(&self) -> u64 {
        self.block.as_ref().map_or(0, BlockIter::seq)
    }

    fn value(&self) -> Option<Bytes> {
        self.block.as_ref().and_then(BlockIter::value)
    }
}

/// Tables read one after another as one run: in key order, their key ranges disjoint
/// (one table alone, or consecutive tables of a sorted level).
pub(crate) trait Tables {
    fn tables(&self) -> &[Arc<Table>];
}

/// One table alone: a level-0 table, or any table in tests and benchmarks.
impl Tables for Arc<Table> {
    fn tables(&self) -> &[Arc<Table>] {
        std::slice::from_ref(self)
    }
}

/// A cursor over a run of tables, moving from one table to the next at either end of one.
/// It holds the tables open, and their files on disk, for as long as it lives.
#[derive(Debug)]
pub(crate) struct TableCursor<T = Arc<Table>> {
    run: T,
    /// The table `pos` is in, by its place in the run.
    current: usize,
    pos: TablePos,
}

impl<T: Tables> TableCursor<T> {
    /// A cursor on no entry: seek it first.
    pub(crate) fn new(run: T) -> Self {
        TableCursor {
            run,
            current: 0,
            pos: TablePos::default(),
        }
    }

    /// Positions on the first entry of the first table from `i` on that has one.
    fn first_from(&mut self, i: usize) -> Result<()> {
        let tables = self.run.tables();
        for (j, t) in tables.iter().enumerate().skip(i) {
            self.current = j;
            self.pos.seek_to_first(t)?;
            if self.pos.valid() {
                break;
            }
        }
        Ok(())
    }

    /// Positions on the last entry of the last table before `end` that has one.
    fn last_before(&mut self, end: usize) -> Result<()> {
        let tables = self.run.tables();
        for (j, t) in tables.iter().enumerate().take(end).rev() {
            self.current = j;
            self.pos.seek_to_last(t)?;
            if self.pos.valid() {
                break;
            }
        }
        Ok(())
    }

    /// Leaves the cursor on no entry.
    fn off_the_ends(&mut self) {
        self.pos = TablePos::default();
    }
}

impl<T: Tables> Cursor for TableCursor<T> {
    fn seek(&mut self, key: &[u8]) -> Result<()> {
        let tables = self.run.tables();
        // The first table whose largest key is at or after `key` holds the entry.
        let i = tables.partition_point(|t| &t.properties().largest[..] < key);
        let Some(t) = tables.get(i) else {
            self.off_the_ends();
            return Ok(());
        };
        self.current = i;
        self.pos.seek(t, key)?;
        if !self.pos.valid() {
            self.first_from(i + 1)?;
        }
        Ok(())
    }

    fn seek_before(&mut self, key: &[u8]) -> Result<()> {
        let tables = self.run.tables();
        // The last table whose smallest key is before `key` holds the entry.
        let end = tables.partition_point(|t| &t.properties().smallest[..] < key);
        let Some((i, t)) = end.checked_sub(1).and_then(|i| Some((i, tables.get(i)?))) else {
            self.off_the_ends();
            return Ok(());
        };
        self.current = i;
        self.pos.seek_before(t, key)?;
        if !self.pos.valid() {
            self.last_before(i)?;
        }
        Ok(())
    }

    fn seek_to_last(&mut self) -> Result<()> {
        self.off_the_ends();
        self.last_before(self.run.tables().len())
    }

    fn next(&mut self) -> Result<()> {
        if let Some(t) = self.run.tables().get(self.current) {
            self.pos.next(t)?;
        }
        if !self.pos.valid() {
            self.first_from(self.current + 1)?;
        }
        Ok(())
    }

    fn prev(&mut self) -> Result<()> {
        if let Some(t) = self.run.tables().get(self.current) {
            self.pos.prev(t)?;
        }
        if !self.pos.valid() {
            self.last_before(self.current)?;
        }
        Ok(())
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
