//! `BlockIter`: a cursor over one block's entries, moved both ways.
//!
//! Forwards it decodes one entry after another. Entries are prefix-compressed, so they can
//! only be decoded from a restart point onwards: a backward step decodes the restart
//! interval before its position once, keeps those entries, and steps back through them, so
//! a reverse scan decodes each entry about once, as a forward one does (`LevelDB`'s
//! `Block::Iter::Prev` re-decodes from the restart point on every step). Values are slices
//! of the block, never copies. It knows nothing of files: errors are a `Malformed`
//! offset within the block.

use bytes::Bytes;

use super::block::{decode_entry, first_not_before, malformed, BlockResult, Layout, RawEntry};

/// An entry decoded by a backward step and not yet stepped onto.
#[derive(Debug, Clone)]
struct Behind {
    /// Offset of the entry in the block.
    at: usize,
    entry: RawEntry,
    /// Where its key starts in `BlockIter::behind_keys` (it runs to the next one's start).
    key_start: usize,
}

/// A cursor over one block's entries.
#[derive(Debug, Clone)]
pub(crate) struct BlockIter {
    data: Bytes,
    layout: Layout,
    /// Offset of the next entry to decode.
    next: usize,
    /// Offset of the current entry.
    current: usize,
    key: Vec<u8>,
    seq: u64,
    value: Option<(usize, usize)>,
    valid: bool,
    /// The entries between the restart point before the current entry and the current
    /// entry, in order, as the last backward step decoded them (empty after a forward move).
    behind: Vec<Behind>,
    /// Their keys, back to back.
    behind_keys: Vec<u8>,
}

impl BlockIter {
    /// A cursor before the first entry of `data` (a block's contents, checksum excluded).
    pub(crate) fn new(data: Bytes) -> BlockResult<Self> {
        let layout = Layout::of(&data)?;
        Ok(BlockIter {
            data,
            layout,
            next: 0,
            current: 0,
            key: Vec::new(),
            seq: 0,
            value: None,
            valid: false,
            behind: Vec::new(),
            behind_keys: Vec::new(),
        })
    }

    /// Makes this a cursor before the first entry of `data`, keeping its buffers: a scan
    /// moving from block to block allocates nothing per block.
    pub(crate) fn reset(&mut self, data: Bytes) -> BlockResult<()> {
        self.layout = Layout::of(&data)?;
        self.data = data;
        self.next = 0;
        self.current = 0;
        self.valid = false;
        self.key.clear();
        self.forget_behind();
        Ok(())
    }

    /// The block's contents.
    pub(crate) fn data(&self) -> &Bytes {
        &self.data
    }

    pub(crate) fn seek_to_first(&mut self) -> BlockResult<bool> {
        self.key.clear();
        self.next = 0;
        self.advance()
    }

    /// Decodes the next entry; false (and not valid) at the end of the block.
    pub(crate) fn advance(&mut self) -> BlockResult<bool> {
        self.forget_behind();
        let pos = self.next;
        let d = &self.data[..self.layout.limit];
        if pos >= d.len() {
            self.valid = false;
            return Ok(false);
        }
        let e = decode_entry(d, pos)?;
        if e.shared > self.key.len() {
            self.valid = false;
            return malformed(pos, "block entry shares more than its predecessor's key");
        }
        self.key.truncate(e.shared);
        self.key.extend_from_slice(&d[e.suffix.clone()]);
        self.land(pos, &e);
        Ok(true)
    }

    /// Steps back to the previous entry; false (and not valid) before the first one, or if
    /// the cursor was not on an entry.
    pub(crate) fn prev(&mut self) -> BlockResult<bool> {
        if !self.valid {
            return Ok(false);
        }
        self.step_back()
    }

    /// Positions on the last entry; false (and not valid) if the block has none.
    pub(crate) fn seek_to_last(&mut self) -> BlockResult<bool> {
        self.forget_behind();
        self.current = self.layout.limit;
        self.step_back()
    }

    /// Moves onto the entry before `current`, decoding its restart interval if the last
    /// backward step did not.
    fn step_back(&mut self) -> BlockResult<bool> {
        if self.behind.is_empty() {
            if let Err(m) = self.decode_behind(self.current) {
                self.valid = false;
                return Err(m);
            }
        }
        let Some(b) = self.behind.pop() else {
            self.valid = false;
            return Ok(false);
        };
        self.key.clear();
        self.key.extend_from_slice(&self.behind_keys[b.key_start..]);
        self.behind_keys.truncate(b.key_start);
        self.land(b.at, &b.entry);
        Ok(true)
    }

    /// Decodes into `behind` the entries from the last restart point before `end` up to
    /// `end` (an entry's offset, or the end of the entries).
    fn decode_behind(&mut self, end: usize) -> BlockResult<()> {
        self.forget_behind();
        if end == 0 {
            return Ok(());
        }
        let d = &self.data[..self.layout.limit];
        let mut pos = self
            .layout
            .restart(&self.data, self.last_restart_before(end)?)?;
        let mut prev_start = 0;
        while pos < end {
            let e = decode_entry(d, pos)?;
            let start = self.behind_keys.len();
            if start == 0 && e.shared != 0 {
                return malformed(pos, "restart entry shares a key prefix");
            }
            if e.shared > start - prev_start {
                return malformed(pos, "block entry shares more than its predecessor's key");
            }
            self.behind_keys
                .extend_from_within(prev_start..prev_start + e.shared);
            self.behind_keys.extend_from_slice(&d[e.suffix.clone()]);
            prev_start = start;
            let next = e.next;
            self.behind.push(Behind {
                at: pos,
                entry: e,
                key_start: start,
            });
            pos = next;
        }
        if pos != end {
            return malformed(pos, "block entries run past the entry stepped back from");
        }
        Ok(())
    }

    /// Index of the last restart point before offset `end`.
    fn last_restart_before(&self, end: usize) -> BlockResult<usize> {
        let (mut lo, mut hi) = (0usize, self.layout.restart_count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.layout.restart(&self.data, mid)? < end {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        match lo.checked_sub(1) {
            Some(r) => Ok(r),
            None => malformed(end, "no restart point before the entry"),
        }
    }

    fn forget_behind(&mut self) {
        self.behind.clear();
        self.behind_keys.clear();
    }

    /// Makes the entry `e` at `pos`, whose key is already in `key`, the current one.
    fn land(&mut self, pos: usize, e: &RawEntry) {
        self.seq = e.seq;
        self.value = e.value;
        self.current = pos;
        self.next = e.next;
        self.valid = true;
    }

    pub(crate) fn valid(&self) -> bool {
        self.valid
    }

    pub(crate) fn key(&self) -> &[u8] {
        &self.key
    }

    /// The key, copied, for tests that compare keys as `Bytes`.
    #[cfg(test)]
    pub(crate) fn key_bytes(&self) -> Bytes {
        Bytes::copy_from_slice(&self.key)
    }

    pub(crate) fn seq(&self) -> u64 {
        self.seq
    }

    /// Offset of the current entry within the block.
    pub(crate) fn offset(&self) -> usize {
        self.current
    }

    /// The value as a slice of the block (no copy); `None` for a tombstone.
    pub(crate) fn value(&self) -> Option<Bytes> {
        self.value.map(|(a, b)| self.data.slice(a..b))
    }

    /// The value's position within the block; `None` for a tombstone.
    pub(crate) fn value_range(&self) -> Option<(usize, usize)> {
        self.value
    }

    /// Positions on the first entry at or after internal key (`key`, `seq`); false (and not
    /// valid) if there is none in this block.
    pub(crate) fn seek(&mut self, key: &[u8], seq: u64) -> BlockResult<bool> {
        self.forget_behind();
        let Some((pos, e, _)) = first_not_before(&self.data, self.layout, key, seq)? else {
            self.valid = false;
            self.next = self.layout.limit;
            return Ok(false);
        };
        self.key.clear();
        self.key.extend_from_slice(&key[..e.shared]);
        self.key.extend_from_slice(&self.data[e.suffix.clone()]);
        self.land(pos, &e);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::table::block::BlockBuilder;

    type Entry = (Vec<u8>, u64, Option<Vec<u8>>);

    fn entries(n: u32) -> Vec<Entry> {
        // Several versions per key, shared prefixes, tombstones, an empty key first.
        (0..n)
            .map(|i| {
                let key = if i == 0 {
                    Vec::new()
                } else {
                    format!("k{:03}", i / 3).into_bytes()
                };
                let v = (i % 5 != 0).then(|| format!("v{i}").into_bytes());
                (key, u64::from(1000 - i), v)
            })
            .collect()
    }

    fn block(entries: &[Entry], interval: usize) -> Bytes {
        let mut b = BlockBuilder::new(interval);
        for (k, s, v) in entries {
            b.add(k, *s, v.as_deref());
        }
        let mut out = Vec::new();
        b.finish_into(&mut out);
        Bytes::from(out)
    }

    fn at(it: &BlockIter) -> Entry {
        (it.key().to_vec(), it.seq(), it.value().map(|v| v.to_vec()))
    }

    #[test]
    fn stepping_back_agrees_with_stepping_forward() {
        for n in [0, 1, 2, 16, 17, 100] {
            let want = entries(n);
            for interval in [1, 2, 3, 16] {
                let data = block(&want, interval);
                let mut it = BlockIter::new(data.clone()).unwrap();
                let mut got = Vec::new();
                let mut ok = it.seek_to_last().unwrap();
                while ok {
                    got.push(at(&it));
                    ok = it.prev().unwrap();
                }
                got.reverse();
                assert_eq!(got, want, "{n} entries, interval {interval}");
                // From every entry: back one, forward one, and back again.
                for (i, e) in want.iter().enumerate() {
                    let mut it = BlockIter::new(data.clone()).unwrap();
                    assert!(it.seek(&e.0, e.1).unwrap());
                    assert_eq!(&at(&it), e);
                    let back = it.prev().unwrap();
                    assert_eq!(back, i > 0);
                    if back {
                        assert_eq!(at(&it), want[i - 1]);
                        assert!(it.advance().unwrap());
                        assert_eq!(&at(&it), e);
                        assert!(it.prev().unwrap());
                        assert_eq!(at(&it), want[i - 1]);
                    }
                }
            }
        }
    }

    #[test]
    fn a_block_reused_for_another_reads_only_the_new_one() {
        let (a, b) = (entries(40), entries(7));
        let mut it = BlockIter::new(block(&a, 4)).unwrap();
        assert!(it.seek_to_last().unwrap());
        assert!(it.prev().unwrap());
        it.reset(block(&b, 4)).unwrap();
        assert!(!it.valid());
        assert!(it.seek_to_last().unwrap());
        assert_eq!(at(&it), b[6]);
        assert!(it.seek_to_first().unwrap());
        assert_eq!(at(&it), b[0]);
    }

    #[test]
    fn damaged_blocks_stepped_back_through_are_errors_not_panics() {
        let data = block(&entries(40), 4);
        for i in 0..data.len() {
            for x in [0x01u8, 0x80, 0xff] {
                let mut d = data.to_vec();
                d[i] ^= x;
                if let Ok(mut it) = BlockIter::new(Bytes::from(d)) {
                    // Each step lands on an earlier offset, so this ends.
                    let mut ok = it.seek_to_last();
                    while let Ok(true) = ok {
                        ok = it.prev();
                    }
                    if let Ok(true) = it.seek(b"k005", u64::MAX) {
                        let _ = it.prev().and_then(|_| it.advance());
                    }
                }
            }
        }
    }
}
