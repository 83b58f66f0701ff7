//! Reading a cursor at a snapshot, one user key at a time: per key, its newest version at
//! or below the snapshot's sequence number, tombstones included (whoever reads decides
//! what a tombstone means to them). `Front` reads forwards, where a key's versions come
//! newest first, so the first one the snapshot sees answers; `Back` reads backwards, where
//! they come oldest first, so it walks all of a key's versions and keeps the last one the
//! snapshot sees, as `LevelDB`'s `DBIter` does. Neither looks at anything but its cursor.

use std::ops::Bound;

use bytes::Bytes;
use smallvec::SmallVec;

use crate::storage::cursor::Cursor;
use crate::storage::error::Result;
use crate::storage::source::{above_hi, Visible};

/// A cursor read forwards at a snapshot.
#[derive(Debug)]
pub(crate) struct Front<C> {
    cursor: C,
    /// The user key answered last (at first, an excluded lower bound): its older
    /// versions, which follow it, are skipped. Inline for short keys, so that a short scan
    /// allocates less.
    passed: SmallVec<[u8; 32]>,
    has_passed: bool,
    /// The cursor is still on the version answered last: the next call steps off it
    /// without comparing its key.
    on_answer: bool,
}

impl<C: Cursor> Front<C> {
    /// Positions `cursor` at the start of `lo`.
    pub(crate) fn new(mut cursor: C, lo: &Bound<Bytes>) -> Result<Self> {
        let mut passed = SmallVec::new();
        match lo {
            Bound::Unbounded => cursor.seek(&[])?,
            Bound::Included(k) => cursor.seek(k)?,
            Bound::Excluded(k) => {
                cursor.seek(k)?;
                passed.extend_from_slice(k);
            }
        }
        Ok(Front {
            cursor,
            has_passed: matches!(lo, Bound::Excluded(_)),
            passed,
            on_answer: false,
        })
    }

    /// The newest version at or below `snap` of the next user key within `hi` (the key is
    /// then `key`); `None` at the end. The cursor stays on that version until the next
    /// call.
    pub(crate) fn next(&mut self, snap: u64, hi: Bound<&[u8]>) -> Result<Option<Visible>> {
        if std::mem::take(&mut self.on_answer) {
            self.cursor.next()?;
        }
        while self.cursor.valid() {
            let (key, seq) = (self.cursor.key(), self.cursor.seq());
            if above_hi(key, &hi) {
                break;
            }
            if seq > snap || (self.has_passed && key == &self.passed[..]) {
                self.cursor.next()?;
                continue;
            }
            self.passed.clear();
            self.passed.extend_from_slice(key);
            self.has_passed = true;
            self.on_answer = true;
            let value = self.cursor.value();
            return Ok(Some(Visible { seq, value }));
        }
        Ok(None)
    }

    /// The key `next` answered last.
    pub(crate) fn key(&self) -> &[u8] {
        &self.passed
    }

    /// That key as its source's shared handle, if it keeps one.
    pub(crate) fn shared_key(&self) -> Option<Bytes> {
        self.on_answer.then(|| self.cursor.shared_key()).flatten()
    }

    /// The last key answered (or the excluded lower bound): every key up to it is behind
    /// this end.
    pub(crate) fn passed(&self) -> Option<&[u8]> {
        self.has_passed.then_some(&self.passed[..])
    }
}

/// A cursor read backwards at a snapshot.
#[derive(Debug)]
pub(crate) struct Back<C> {
    cursor: C,
    /// The user key walked last.
    key: Vec<u8>,
    /// That key as its source's shared handle, if it keeps one.
    shared: Option<Bytes>,
    /// Whether `take` has walked a key yet.
    walked: bool,
}

impl<C: Cursor> Back<C> {
    /// Positions `cursor` on the last entry within `hi`.
    pub(crate) fn new(mut cursor: C, hi: &Bound<Bytes>) -> Result<Self> {
        match hi {
            Bound::Unbounded => cursor.seek_to_last()?,
            Bound::Excluded(k) => cursor.seek_before(k)?,
            Bound::Included(k) => {
                // The smallest key after `k`.
                let mut after = Vec::with_capacity(k.len() + 1);
                after.extend_from_slice(k);
                after.push(0);
                cursor.seek_before(&after)?;
            }
        }
        Ok(Back {
            cursor,
            key: Vec::new(),
            shared: None,
            walked: false,
        })
    }

    /// The user key `take` walks next; `None` at the end.
    pub(crate) fn upcoming(&self) -> Option<&[u8]> {
        self.cursor.valid().then(|| self.cursor.key())
    }

    /// Walks back over every version of the upcoming key (then `key`) and returns its
    /// newest version at or below `snap` (`None`: the snapshot sees none).
    pub(crate) fn take(&mut self, snap: u64) -> Result<Option<Visible>> {
        self.key.clear();
        self.key.extend_from_slice(self.cursor.key());
        self.walked = true;
        self.shared = self.cursor.shared_key();
        let mut newest = None;
        loop {
            let seq = self.cursor.seq();
            if seq <= snap {
                newest = Some(Visible {
                    seq,
                    value: self.cursor.value(),
                });
            }
            self.cursor.prev()?;
            if !self.cursor.valid() || self.cursor.key() != &self.key[..] {
                return Ok(newest);
            }
        }
    }

    /// The key `take` walked last.
    pub(crate) fn key(&self) -> &[u8] {
        &self.key
    }

    /// The key `take` walked last, if it walked any: every key from it up is behind this
    /// end.
    pub(crate) fn walked(&self) -> Option<&[u8]> {
        self.walked.then_some(&self.key[..])
    }

    /// That key as its source's shared handle, if it keeps one.
    pub(crate) fn shared_key(&mut self) -> Option<Bytes> {
        self.shared.take()
    }
}
