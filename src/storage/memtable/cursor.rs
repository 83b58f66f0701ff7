//! `MemCursor`: a memtable as a cursor, as of one sequence number.
//!
//! The memtable's key order lives in a set behind a lock that writers of new keys take,
//! and a cursor must never hold a lock writers take between calls. So it reads the
//! memtable in chunks of whole keys, each under the lock for that read only (16 keys at
//! first, doubling up to 4096 with every read after a seek, so a short scan reads little
//! and a long one takes the lock rarely), and moves within its chunk without any lock. When
//! a step leaves the chunk, either way, the next chunk that way is read, starting from
//! where the chunk ended. Keys are `Bytes` shared with the memtable's arena; nothing is
//! copied but handles.

use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;

use super::{Entry, Memtable, Read};
use crate::storage::cursor::Cursor;
use crate::storage::error::Result;
use crate::storage::source::{above_hi, as_slice_bound, below_lo};

/// Keys the first read after a seek takes; each read after it takes twice as many as
/// the one before, up to `MAX_KEYS_PER_READ`.
const FIRST_KEYS_PER_READ: usize = 16;
const MAX_KEYS_PER_READ: usize = 4096;

/// A cursor over a memtable's entries at or below a sequence number, within key bounds.
#[derive(Debug)]
pub(crate) struct MemCursor {
    mem: Arc<Memtable>,
    /// Versions newer than this are not entries of this cursor (the memtable goes on
    /// taking writes; a reader at `snap` would skip them all).
    snap: u64,
    /// The keys it reads: reads never go outside them.
    lo: Bound<Bytes>,
    hi: Bound<Bytes>,
    /// The entries of the keys read last, in internal-key order.
    chunk: Vec<Entry>,
    /// The current entry; `chunk.len()` when off the ends.
    pos: usize,
    /// The keys after the chunk are those after this one; `None`: there are none.
    after: Option<Bytes>,
    /// The keys before the chunk are those before this one; `None`: there are none.
    before: Option<Bytes>,
    keys_per_read: usize,
}

impl MemCursor {
    /// A cursor on no entry (seek it first) over the versions at or below `snap` of the
    /// keys of `mem` in `lo..hi`.
    pub(crate) fn new(mem: Arc<Memtable>, snap: u64, lo: Bound<Bytes>, hi: Bound<Bytes>) -> Self {
        MemCursor {
            mem,
            snap,
            lo,
            hi,
            chunk: Vec::new(),
            pos: 0,
            after: None,
            before: None,
            keys_per_read: FIRST_KEYS_PER_READ,
        }
    }

    /// Replaces the chunk by the keys read from `from` on: upwards (`from` a lower
    /// bound), or downwards (an upper bound), and lands on its first entry that way.
    fn read(&mut self, from: Bound<&[u8]>, backward: bool) {
        self.chunk.clear();
        let read = Read {
            snap: self.snap,
            limit: self.keys_per_read,
            backward,
        };
        self.keys_per_read = (self.keys_per_read * 2).min(MAX_KEYS_PER_READ);
        let (lo, hi) = window(from, &self.lo, &self.hi, backward);
        let mut done = self.mem.read_keys(lo, hi, read, &mut self.chunk);
        let first = done.first.take();
        // Keys whose every version is newer than the snapshot leave nothing: read on.
        while self.chunk.is_empty() {
            let Some(last) = done.stopped_at.take() else {
                break;
            };
            let (lo, hi) = window(Bound::Excluded(&last), &self.lo, &self.hi, backward);
            done = self.mem.read_keys(lo, hi, read, &mut self.chunk);
        }
        if backward {
            self.chunk.reverse();
            (self.after, self.before) = (first, done.stopped_at);
            self.pos = self.chunk.len().saturating_sub(1);
        } else {
            (self.before, self.after) = (first, done.stopped_at);
            self.pos = 0;
        }
    }

    fn entry(&self) -> Option<&Entry> {
        self.chunk.get(self.pos)
    }
}

/// The keys a read from `from` covers: from `from` (a lower bound reading upwards, an
/// upper one reading downwards; `Unbounded`: from that end) to the end of `lo..hi` that
/// way.
fn window<'a>(
    from: Bound<&'a [u8]>,
    lo: &'a Bound<Bytes>,
    hi: &'a Bound<Bytes>,
    backward: bool,
) -> (Bound<&'a [u8]>, Bound<&'a [u8]>) {
    let (lo, hi) = (as_slice_bound(lo), as_slice_bound(hi));
    match from {
        Bound::Unbounded => (lo, hi),
        Bound::Included(k) | Bound::Excluded(k) if backward => {
            (lo, if above_hi(k, &hi) { hi } else { from })
        }
        Bound::Included(k) | Bound::Excluded(k) => (if below_lo(k, &lo) { lo } else { from }, hi),
    }
}

impl Cursor for MemCursor {
    fn seek(&mut self, key: &[u8]) -> Result<()> {
        self.keys_per_read = FIRST_KEYS_PER_READ;
        self.read(Bound::Included(key), false);
        Ok(())
    }

    fn seek_before(&mut self, key: &[u8]) -> Result<()> {
        self.keys_per_read = FIRST_KEYS_PER_READ;
        self.read(Bound::Excluded(key), true);
        Ok(())
    }

    fn seek_to_last(&mut self) -> Result<()> {
        self.keys_per_read = FIRST_KEYS_PER_READ;
        self.read(Bound::Unbounded, true);
        Ok(())
    }

    fn next(&mut self) -> Result<()> {
        self.pos += 1;
        if self.pos >= self.chunk.len() {
            match self.after.clone() {
                Some(after) => self.read(Bound::Excluded(&after), false),
                None => self.pos = self.chunk.len(),
            }
        }
        Ok(())
    }

    fn prev(&mut self) -> Result<()> {
        match self.pos.checked_sub(1) {
            Some(p) => self.pos = p,
            None => match self.before.clone() {
                Some(before) => self.read(Bound::Excluded(&before), true),
                None => self.pos = self.chunk.len(),
            },
        }
        Ok(())
    }

    fn valid(&self) -> bool {
        self.pos < self.chunk.len()
    }

    fn key(&self) -> &[u8] {
        self.entry().map_or(&[], |e| &e.0[..])
    }

    fn seq(&self) -> u64 {
        self.entry().map_or(0, |e| e.1)
    }

    fn value(&self) -> Option<Bytes> {
        self.entry().and_then(|e| e.2.clone())
    }

    fn shared_key(&self) -> Option<Bytes> {
        self.entry().map(|e| e.0.clone())
    }
}
