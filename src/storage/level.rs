//! A sorted level (level 1 and deeper): tables ordered by key, their ranges disjoint, so a
//! key is in at most one of them. Point reads binary-search the tables' key ranges;
//! `LevelCursor` reads a run of the level's tables as one ordered run of entries (`LevelDB`'s
//! concatenating iterator: a `TableCursor` over a `LevelRun`). This module never changes a
//! level: versions (`version`) do that.

use std::ops::{Bound, Range};
use std::sync::Arc;

use bytes::Bytes;

use super::error::Result;
use super::source::{above_hi, Source, Visible};
use super::table::{Table, TableCursor, Tables};
use super::version::Version;

/// The tables of one sorted level (1 and deeper): ordered by key, ranges disjoint.
#[derive(Debug, Clone, Default)]
pub(crate) struct Level {
    pub tables: Vec<Arc<Table>>,
}

impl Level {
    /// Index of the first table whose largest key is >= `key`.
    pub(crate) fn find(&self, key: &[u8]) -> usize {
        self.tables
            .partition_point(|t| &t.properties().largest[..] < key)
    }

    /// The tables that may hold keys in `lo..hi`.
    pub(crate) fn run_within(&self, lo: &Bound<Bytes>, hi: &Bound<Bytes>) -> Range<usize> {
        let start = match lo {
            Bound::Included(k) | Bound::Excluded(k) => self.find(k),
            Bound::Unbounded => 0,
        };
        let end = self
            .tables
            .partition_point(|t| !above_hi(&t.properties().smallest, hi));
        start..end.max(start)
    }
}

impl Source for Level {
    fn get(&self, key: &[u8], snap: u64) -> Result<Option<Visible>> {
        match self.tables.get(self.find(key)) {
            Some(t) if &t.properties().smallest[..] <= key => t.get(key, snap),
            _ => Ok(None),
        }
    }
}

/// A run of a sorted level's tables, `version.tables(level)[range]`, named by their place in
/// the version it holds, so a cursor moving from one to the next clones nothing.
#[derive(Debug)]
pub(crate) struct LevelRun {
    version: Arc<Version>,
    level: usize,
    range: Range<usize>,
}

impl LevelRun {
    /// `range` must be a range of the level's tables.
    pub(crate) fn new(version: Arc<Version>, level: usize, range: Range<usize>) -> Self {
        LevelRun {
            version,
            level,
            range,
        }
    }
}

impl Tables for LevelRun {
    fn tables(&self) -> &[Arc<Table>] {
        self.version
            .tables(self.level)
            .get(self.range.clone())
            .unwrap_or_default()
    }
}

/// A cursor over a run of a sorted level.
pub(crate) type LevelCursor = TableCursor<LevelRun>;

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::storage::cursor::testing::{check_walks, Entry};
    use crate::storage::table::TableBuilder;

    fn key(i: u32) -> Vec<u8> {
        format!("k{i:03}").into_bytes()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// A level cursor reads a run of a level's tables as one, both ways.
        #[test]
        fn level_cursors_walk_a_run_of_tables_as_one(
            sizes in prop::collection::vec(1u32..30, 1..6),
            run in (0usize..6, 0usize..6),
            walks in prop::collection::vec(
                (0u8..3, (0u32..200).prop_map(key), prop::collection::vec(prop::bool::weighted(0.6), 0..120)),
                1..5),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let mut version = Version::default();
            let mut tables: Vec<Vec<Entry>> = Vec::new();
            let mut next_key = 0;
            for (n, size) in sizes.iter().enumerate() {
                let path = dir.path().join(format!("{n}.sst"));
                let mut b = TableBuilder::create(&path, 64, 10).unwrap();
                let mut entries = Vec::new();
                for i in next_key..next_key + size {
                    // Two versions of every third key.
                    for seq in if i % 3 == 0 { vec![9, 4] } else { vec![5] } {
                        let v = (i % 7 != 0).then(|| vec![b'v'; (i % 5) as usize]);
                        b.add(&key(i), seq, v.as_deref()).unwrap();
                        entries.push((key(i), seq, v));
                    }
                }
                next_key += size;
                b.finish().unwrap();
                version.sorted[0].tables.push(Table::open(&path, n as u64).unwrap());
                tables.push(entries);
            }
            let (start, end) = (run.0.min(sizes.len()), run.1.min(sizes.len()));
            let run = start..end.max(start);
            let all: Vec<Entry> = tables[run.clone()].concat();
            let mut c = LevelCursor::new(LevelRun::new(Arc::new(version), 1, run));
            check_walks(&mut c, &all, &walks);
        }
    }
}
