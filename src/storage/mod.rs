//! The storage engine: a log-structured merge-tree with a write-ahead log.
//!
//! It owns everything on disk and never imports `protocol` or `server`.
//!
//! Parts, by the path of a write: [`WriteBatch`] (the unit of atomic writes, kept in its
//! WAL encoding); the write-ahead log (`wal`: mapped segment files of checksummed
//! records); the commit pipeline (`commit`: group commit by a leader writer;
//! `durability`: fsync by a syncer thread, [`WriteTicket`]); the memtable (`memtable`:
//! per-key version chains in a sharded hash map, beside an ordered set of its keys); the
//! tree (`tree`: freezing full memtables, the flush and compaction threads, write stalls);
//! sorted tables (`table`: the immutable files memtables are flushed to; `level`: a sorted
//! level of them); `compaction` (choosing and merging tables); `version` and `manifest`
//! (which tables exist, recorded as an edit log); and the read side (`source`: what every
//! source answers; `view`: the sources a read consults; `cursor`: the contract every
//! source's cursor keeps; `merge`: the one merging cursor; `range`: [`RangeIter`], the
//! range read at a snapshot on top of it). docs/architecture.md describes the data flow,
//! docs/storage-format.md the bytes on disk.

#![warn(clippy::cast_possible_truncation)]

mod batch;
#[doc(hidden)]
pub mod bench_support;
mod checkpoint;
mod commit;
mod compaction;
mod cursor;
mod db;
mod durability;
mod error;
mod faults;
mod level;
mod manifest;
mod memtable;
mod merge;
mod options;
mod range;
mod source;
pub(crate) mod table;
mod tree;
mod version;
mod view;
mod wal;

pub use batch::{WriteBatch, MAX_BATCH_BYTES};
pub use checkpoint::restore_checkpoint;
pub use db::{Db, Snapshot, Stats, WritesRefused};
pub use durability::WriteTicket;
pub use error::{Error, Result};
pub use faults::Faults;
pub use options::{CommitTap, CompactionFilter, Lookup, Options, SyncPolicy};
pub use range::RangeIter;
