//! A key's versions in a memtable: the newest inline, older ones beside it while a reader
//! may still need them. This module knows nothing of keys, shards or locks.

use bytes::Bytes;
use smallvec::SmallVec;

/// One version of a key: its sequence number and value (`None` for a tombstone).
pub(super) type Version = (u64, Option<Bytes>);

/// A key's versions in this memtable. The newest sits in the hash bucket itself, beside
/// the key, so a read (which nearly always wants the newest) finds it without following a
/// pointer: with the versions in one spilled list, that second cache miss was the largest
/// single cost of a GET. Older versions, kept while a reader may still need them, are
/// in `older`, oldest first; a new version is a push, O(1), however often a hot key is
/// overwritten. Once an overwrite is published, what no reader can see any more is dropped
/// (see `Memtable::prune`), so without open snapshots a key holds one version; the first
/// older one sits in the bucket too, as reaching a spilled list cost every overwrite a
/// cache miss.
#[derive(Debug)]
pub(super) struct Versions {
    pub(super) newest: Version,
    pub(super) older: SmallVec<[Version; 1]>,
}

impl Versions {
    pub(super) fn new(version: Version) -> Versions {
        Versions {
            newest: version,
            older: SmallVec::new(),
        }
    }

    pub(super) fn push(&mut self, version: Version) {
        let previous = std::mem::replace(&mut self.newest, version);
        self.older.push(previous);
    }

    /// The newest version at most `snap`.
    pub(super) fn visible(&self, snap: u64) -> Option<&Version> {
        if self.newest.0 <= snap {
            return Some(&self.newest);
        }
        self.older.iter().rev().find(|(seq, _)| *seq <= snap)
    }

    /// Removes the versions older than the newest one at most `visible`.
    pub(super) fn drop_older_than(&mut self, visible: u64) -> smallvec::Drain<'_, [Version; 1]> {
        let keep_from = if self.newest.0 <= visible {
            self.older.len()
        } else {
            let newest_visible = self.older.iter().rposition(|(seq, _)| *seq <= visible);
            newest_visible.unwrap_or(0)
        };
        self.older.drain(..keep_from)
    }

    /// Every version, oldest first.
    #[cfg(test)]
    pub(super) fn iter(&self) -> impl Iterator<Item = &Version> {
        self.older.iter().chain(std::iter::once(&self.newest))
    }

    /// Calls `f` on every version at most `snap`, newest first (`oldest_first`: the
    /// other way round). A key nearly always has one version: that costs one compare.
    pub(super) fn each_at_or_below(&self, snap: u64, oldest_first: bool, f: impl FnMut(&Version)) {
        if self.older.is_empty() {
            if self.newest.0 <= snap {
                let mut f = f;
                f(&self.newest);
            }
            return;
        }
        // `older` ascends, so the versions at most `snap` are a prefix of it.
        let older = &self.older[..self.older.partition_point(|(seq, _)| *seq <= snap)];
        let newest = (self.newest.0 <= snap).then_some(&self.newest);
        if oldest_first {
            older.iter().chain(newest).for_each(f);
        } else {
            newest.into_iter().chain(older.iter().rev()).for_each(f);
        }
    }
}
