//! The cursor contract: a position in an ordered run of internal entries (user key
//! ascending, then sequence number descending), set by a seek and moved by `next` and
//! `prev`, as `LevelDB`'s `Iterator`.
//!
//! Every source implements it: a memtable (`memtable::MemCursor`), a level-0 table
//! (`table::TableCursor`), a sorted level (`level::LevelCursor`, a table cursor over a run
//! of the level's tables). `merge::MergingCursor`
//! merges any number of them into one run, and is a cursor too. Range reads (`range`) and
//! flushes and compactions (`compaction`) read through that one merge, each with its own
//! policy on top. A cursor never holds a lock between calls, so no reader holds up a
//! writer however long it lives; it hands out every entry, every version and tombstone:
//! what a reader may see is the policy's business, not the source's.

use bytes::Bytes;

use super::error::Result;
use super::level::LevelCursor;
use super::memtable::MemCursor;
use super::table::TableCursor;

/// A position in an ordered run of internal entries.
///
/// After any seek or move the cursor is either on an entry (`valid`) or off both ends.
/// `key`, `seq` and `value` describe the entry it is on and mean nothing otherwise;
/// `next` and `prev` may only be called on an entry. An error leaves the position
/// unspecified: the caller stops using the cursor.
pub(crate) trait Cursor {
    /// Positions on the first entry whose user key is at or after `key` (the empty key:
    /// the first entry).
    fn seek(&mut self, key: &[u8]) -> Result<()>;
    /// Positions on the last entry whose user key is before `key`. A backward read starts
    /// here, with one positioning per source rather than a seek and a step back.
    fn seek_before(&mut self, key: &[u8]) -> Result<()>;
    /// Positions on the last entry.
    fn seek_to_last(&mut self) -> Result<()>;
    /// Moves to the next entry.
    fn next(&mut self) -> Result<()>;
    /// Moves to the previous entry.
    fn prev(&mut self) -> Result<()>;
    fn valid(&self) -> bool;
    /// The entry's user key.
    fn key(&self) -> &[u8];
    /// The entry's sequence number.
    fn seq(&self) -> u64;
    /// The entry's value, shared with the source (no copy); `None` for a tombstone.
    fn value(&self) -> Option<Bytes>;
    /// The entry's user key as a handle shared with the source, if the source keeps it as
    /// one (a memtable does; blocks store most keys prefix-compressed, so tables do not):
    /// a reader handing the key out then copies nothing.
    fn shared_key(&self) -> Option<Bytes> {
        None
    }
}

/// The cursor of one source of a view: what `MergingCursor` merges. An enum rather than a
/// boxed trait object, so a seek allocates no box per source and calls dispatch statically.
#[derive(Debug)]
pub(crate) enum SourceCursor {
    Memtable(MemCursor),
    Table(TableCursor),
    Level(LevelCursor),
}

/// Calls `$f` on the cursor inside a `SourceCursor`.
macro_rules! each {
    ($c:expr, $x:ident => $f:expr) => {
        match $c {
            SourceCursor::Memtable($x) => $f,
            SourceCursor::Table($x) => $f,
            SourceCursor::Level($x) => $f,
        }
    };
}

impl Cursor for SourceCursor {
    fn seek(&mut self, key: &[u8]) -> Result<()> {
        each!(self, c => c.seek(key))
    }

    fn seek_before(&mut self, key: &[u8]) -> Result<()> {
        each!(self, c => c.seek_before(key))
    }

    fn seek_to_last(&mut self) -> Result<()> {
        each!(self, c => c.seek_to_last())
    }

    fn next(&mut self) -> Result<()> {
        each!(self, c => c.next())
    }

    fn prev(&mut self) -> Result<()> {
        each!(self, c => c.prev())
    }

    fn valid(&self) -> bool {
        each!(self, c => c.valid())
    }

    fn key(&self) -> &[u8] {
        each!(self, c => c.key())
    }

    fn seq(&self) -> u64 {
        each!(self, c => c.seq())
    }

    fn value(&self) -> Option<Bytes> {
        each!(self, c => c.value())
    }

    fn shared_key(&self) -> Option<Bytes> {
        each!(self, c => c.shared_key())
    }
}

/// For tests of cursors: a cursor over a sorted list, and a check of any cursor against one.
#[cfg(test)]
pub(crate) mod testing {
    use super::{Bytes, Cursor, Result};

    /// (user key, sequence number, value or `None` for a tombstone), in internal-key order.
    pub(crate) type Entry = (Vec<u8>, u64, Option<Vec<u8>>);

    /// A positioning (0: `seek`, 1: `seek_before`, else `seek_to_last`) with its key,
    /// then steps (true: `next`).
    pub(crate) type Walk = (u8, Vec<u8>, Vec<bool>);

    /// The entry `c` is on, if any.
    pub(crate) fn at(c: &impl Cursor) -> Option<Entry> {
        c.valid()
            .then(|| (c.key().to_vec(), c.seq(), c.value().map(|v| v.to_vec())))
    }

    /// Panics unless `c` agrees, after every positioning and step of `walks`, with a
    /// position in `all`, the entries it should hold in order.
    pub(crate) fn check_walks(c: &mut impl Cursor, all: &[Entry], walks: &[Walk]) {
        for (kind, key, steps) in walks {
            let below = all.partition_point(|e| e.0 < *key);
            let mut pos = match kind {
                0 => {
                    c.seek(key).unwrap();
                    Some(below).filter(|&i| i < all.len())
                }
                1 => {
                    c.seek_before(key).unwrap();
                    below.checked_sub(1)
                }
                _ => {
                    c.seek_to_last().unwrap();
                    all.len().checked_sub(1)
                }
            };
            assert_eq!(
                at(c),
                pos.map(|i| all[i].clone()),
                "after positioning {kind} {key:?}"
            );
            for &forward in steps {
                let Some(i) = pos else { break };
                if forward {
                    c.next().unwrap();
                    pos = Some(i + 1).filter(|&j| j < all.len());
                } else {
                    c.prev().unwrap();
                    pos = i.checked_sub(1);
                }
                assert_eq!(
                    at(c),
                    pos.map(|i| all[i].clone()),
                    "after a step (next: {forward})"
                );
            }
        }
    }

    /// A cursor over `entries`, which must be in internal-key order.
    #[derive(Debug, Default)]
    pub(crate) struct VecCursor {
        pub entries: Vec<Entry>,
        /// `entries.len()` when off the ends.
        pos: usize,
    }

    impl VecCursor {
        pub(crate) fn new(entries: Vec<Entry>) -> VecCursor {
            let pos = entries.len();
            VecCursor { entries, pos }
        }

        fn at(&mut self, pos: Option<usize>) {
            self.pos = pos.unwrap_or(self.entries.len());
        }
    }

    impl Cursor for VecCursor {
        fn seek(&mut self, key: &[u8]) -> Result<()> {
            let i = self.entries.partition_point(|e| &e.0[..] < key);
            self.at(Some(i));
            Ok(())
        }

        fn seek_before(&mut self, key: &[u8]) -> Result<()> {
            let i = self.entries.partition_point(|e| &e.0[..] < key);
            self.at(i.checked_sub(1));
            Ok(())
        }

        fn seek_to_last(&mut self) -> Result<()> {
            self.at(self.entries.len().checked_sub(1));
            Ok(())
        }

        fn next(&mut self) -> Result<()> {
            self.at(Some(self.pos + 1));
            Ok(())
        }

        fn prev(&mut self) -> Result<()> {
            self.at(self.pos.checked_sub(1));
            Ok(())
        }

        fn valid(&self) -> bool {
            self.pos < self.entries.len()
        }

        fn key(&self) -> &[u8] {
            self.entries.get(self.pos).map_or(&[], |e| &e.0[..])
        }

        fn seq(&self) -> u64 {
            self.entries.get(self.pos).map_or(0, |e| e.1)
        }

        fn value(&self) -> Option<Bytes> {
            let e = self.entries.get(self.pos)?;
            e.2.as_deref().map(Bytes::copy_from_slice)
        }
    }
}
