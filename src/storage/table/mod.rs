//! Sorted tables: immutable files of internal entries (user key ascending, sequence number
//! descending), written once by a flush or a compaction and then only read, through a
//! memory map. This module owns the table file format (docs/storage-format.md,
//! "Sorted tables"); it never decides which tables exist (that is the manifest's job).
//!
//! Parts: `block` (data and index blocks: prefix-compressed entries with restart points),
//! `block_iter` (a block's entries, walked both ways), `filter` (the bloom filter over user
//! keys), `format` (varints, block handles, properties, the footer), `builder` (writes a
//! table), `reader` (`Table`, a `Source`), `cursor` (a table's entries as a `Cursor`).

mod block;
mod block_iter;
mod builder;
mod cursor;
mod filter;
pub(crate) mod format;
mod reader;

pub(crate) use builder::TableBuilder;
pub(crate) use cursor::{TableCursor, Tables};
pub(crate) use reader::Table;

use std::cmp::Ordering;

/// Orders internal keys: user key ascending, then sequence number descending (newest
/// version of a key first), as the memtable orders versions.
pub(crate) fn cmp_internal(a_key: &[u8], a_seq: u64, b_key: &[u8], b_seq: u64) -> Ordering {
    a_key.cmp(b_key).then(b_seq.cmp(&a_seq))
}

#[cfg(test)]
mod tests;
