//! Not a stable API: a thin public wrapper over the crate-internal sorted-table types, only
//! so that benches/table.rs (a separate crate) can time them. Anything here may change or
//! go away without notice; nothing outside the benchmarks may use it.

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;

use super::cursor::Cursor;
use super::range;
use super::source::Source;
use super::table::{Table, TableBuilder, TableCursor};
use super::Result;

/// Writes a table file; see the crate-internal `TableBuilder`.
#[derive(Debug)]
pub struct BenchTableWriter(TableBuilder);

impl BenchTableWriter {
    /// Creates (truncating) the file at `path`.
    pub fn create(path: &Path, block_bytes: usize, bloom_bits_per_key: usize) -> Result<Self> {
        TableBuilder::create(path, block_bytes, bloom_bits_per_key).map(Self)
    }

    /// Adds an entry; entries must come in order (user key ascending, sequence descending).
    pub fn add(&mut self, key: &[u8], seq: u64, value: Option<&[u8]>) -> Result<()> {
        self.0.add(key, seq, value)
    }

    /// Finishes and fsyncs the file; returns its size in bytes.
    pub fn finish(self) -> Result<u64> {
        self.0.finish().map(|(_, size)| size)
    }
}

/// An open table file; see the crate-internal `Table`.
#[derive(Debug, Clone)]
pub struct BenchTable(Arc<Table>);

impl BenchTable {
    /// Opens and verifies a table file.
    pub fn open(path: &Path) -> Result<Self> {
        Table::open(path, 0).map(Self)
    }

    /// The newest value of `key` (`None` if absent or deleted).
    #[inline]
    pub fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        Ok(self.0.get(key, u64::MAX)?.and_then(|v| v.value))
    }

    /// Scans up to `limit` keys from `from` on; returns how many it found.
    pub fn scan(
        &self,
        from: &[u8],
        limit: usize,
        out: &mut Vec<(Bytes, Option<Bytes>)>,
    ) -> Result<usize> {
        let mut entries = Vec::with_capacity(limit);
        let lo = Bound::Included(Bytes::copy_from_slice(from));
        let cursor = TableCursor::new(self.0.clone());
        range::scan(
            cursor,
            &lo,
            &Bound::Unbounded,
            u64::MAX,
            limit,
            false,
            &mut entries,
        )?;
        out.clear();
        out.extend(entries.into_iter().map(|(k, v)| (k, v.value)));
        Ok(out.len())
    }

    /// Every entry in order, through the table's cursor; returns how many there are.
    pub fn iterate_all(&self) -> Result<u64> {
        let mut c = TableCursor::new(self.0.clone());
        c.seek(&[])?;
        let mut n = 0;
        while c.valid() {
            n += 1;
            c.next()?;
        }
        Ok(n)
    }
}
