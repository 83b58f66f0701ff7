//! Blocks: runs of internal entries with key prefix compression and restart points.
//!
//! Entry: `shared varint | unshared varint | seq varint | vlen varint | key suffix | value`,
//! where `shared` bytes of the user key are taken from the previous entry's key and
//! `vlen` is 0 for a tombstone, else the value's length plus one. Every
//! `RESTART_INTERVAL`-th entry stores its whole key (`shared` = 0); the block ends with
//! the offsets of those restart entries (u32 LE each) and their count (u32 LE), so a seek
//! binary-searches the restarts and then scans at most one interval.
//!
//! This module builds blocks, decodes their entries and restart array, and answers point
//! lookups; `block_iter` walks a block both ways. It knows nothing of files: errors are a
//! [`Malformed`] offset within the block, which the reader turns into an
//! `Error::Corruption` naming the file.

use std::cmp::Ordering;
use std::ops::Range;

use super::cmp_internal;
use super::format::{get_varint, put_varint};
use crate::storage::batch::array4;

/// Entries between restart points in data blocks.
pub(crate) const RESTART_INTERVAL: usize = 16;

/// A block whose bytes do not decode: where (offset within the block) and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Malformed {
    pub at: usize,
    pub reason: &'static str,
}

pub(super) type BlockResult<T> = std::result::Result<T, Malformed>;

/// What a point lookup found: the sequence number and the value's range in the block
/// (`None` for a tombstone).
pub(crate) type Found = (u64, Option<(usize, usize)>);

pub(super) fn malformed<T>(at: usize, reason: &'static str) -> BlockResult<T> {
    Err(Malformed { at, reason })
}

/// Accumulates the entries of one block.
#[derive(Debug)]
pub(crate) struct BlockBuilder {
    buf: Vec<u8>,
    restarts: Vec<u32>,
    last_key: Vec<u8>,
    count: usize,
    interval: usize,
}

impl BlockBuilder {
    pub(crate) fn new(interval: usize) -> Self {
        BlockBuilder {
            buf: Vec::new(),
            restarts: Vec::new(),
            last_key: Vec::new(),
            count: 0,
            interval: interval.max(1),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes the block would take if finished now.
    pub(crate) fn size(&self) -> usize {
        self.buf.len() + 4 * self.restarts.len() + 4
    }

    /// Appends an entry; entries must come in internal-key order.
    pub(crate) fn add(&mut self, key: &[u8], seq: u64, value: Option<&[u8]>) {
        let shared = if self.count.is_multiple_of(self.interval) {
            // A block past 4 GiB is refused when written: its handle cannot hold its
            // length. Until then, saturate rather than wrap.
            self.restarts
                .push(u32::try_from(self.buf.len()).unwrap_or(u32::MAX));
            0
        } else {
            key.iter()
                .zip(&self.last_key)
                .take_while(|(a, b)| a == b)
                .count()
        };
        put_varint(&mut self.buf, shared as u64);
        put_varint(&mut self.buf, (key.len() - shared) as u64);
        put_varint(&mut self.buf, seq);
        put_varint(&mut self.buf, value.map_or(0, |v| v.len() as u64 + 1));
        self.buf.extend_from_slice(&key[shared..]);
        if let Some(v) = value {
            self.buf.extend_from_slice(v);
        }
        self.last_key.truncate(shared);
        self.last_key.extend_from_slice(&key[shared..]);
        self.count += 1;
    }

    /// Appends the finished block to `out` and resets the builder.
    pub(crate) fn finish_into(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.buf);
        for r in &self.restarts {
            out.extend_from_slice(&r.to_le_bytes());
        }
        let count = u32::try_from(self.restarts.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&count.to_le_bytes());
        self.buf.clear();
        self.restarts.clear();
        self.last_key.clear();
        self.count = 0;
    }
}

/// One decoded entry header: the key suffix and value as ranges of the block.
#[derive(Debug, Clone)]
pub(super) struct RawEntry {
    pub(super) shared: usize,
    pub(super) suffix: Range<usize>,
    pub(super) seq: u64,
    /// `None` for a tombstone.
    pub(super) value: Option<(usize, usize)>,
    /// Offset of the entry after this one.
    pub(super) next: usize,
}

/// Decodes the entry at `pos` of `d` (the block's entries, without the restart array).
#[inline]
pub(super) fn decode_entry(d: &[u8], pos0: usize) -> BlockResult<RawEntry> {
    let mut pos = pos0;
    let mut field = || get_varint(d, &mut pos);
    let (Some(shared), Some(unshared), Some(seq), Some(vlen)) =
        (field(), field(), field(), field())
    else {
        return malformed(pos0, "block entry header is malformed");
    };
    let (Ok(shared), Ok(unshared)) = (usize::try_from(shared), usize::try_from(unshared)) else {
        return malformed(pos0, "block entry header is malformed");
    };
    let rest = d.len() - pos;
    if unshared > rest {
        return malformed(pos0, "block entry runs past its block");
    }
    let suffix = pos..pos + unshared;
    pos += unshared;
    let value = if vlen == 0 {
        None
    } else {
        let vlen = usize::try_from(vlen - 1).unwrap_or(usize::MAX);
        if vlen > d.len() - pos {
            return malformed(pos0, "block entry runs past its block");
        }
        pos += vlen;
        Some((pos - vlen, pos))
    };
    Ok(RawEntry {
        shared,
        suffix,
        seq,
        value,
        next: pos,
    })
}

/// A block's entry area and restart array, split and checked.
#[derive(Debug, Clone, Copy)]
pub(super) struct Layout {
    /// End of the entries (start of the restart array).
    pub(super) limit: usize,
    pub(super) restart_count: usize,
}

impl Layout {
    pub(super) fn of(data: &[u8]) -> BlockResult<Layout> {
        let bad = || Malformed {
            at: data.len().saturating_sub(4),
            reason: "block restart array is malformed",
        };
        if data.len() < 4 {
            return Err(bad());
        }
        let count = u32::from_le_bytes(array4(&data[data.len() - 4..])) as usize;
        let limit = count
            .checked_mul(4)
            .and_then(|r| (data.len() - 4).checked_sub(r))
            .ok_or_else(bad)?;
        if (count == 0) != (limit == 0) {
            return Err(bad());
        }
        Ok(Layout {
            limit,
            restart_count: count,
        })
    }

    /// Offset of restart point `i`, checked to lie inside the entries.
    #[inline]
    pub(super) fn restart(&self, data: &[u8], i: usize) -> BlockResult<usize> {
        let r = u32::from_le_bytes(array4(&data[self.limit + 4 * i..])) as usize;
        if r >= self.limit {
            return malformed(self.limit + 4 * i, "restart point outside the block");
        }
        Ok(r)
    }
}

/// The entry at restart point `i`: its whole key is stored in place.
#[inline]
fn restart_entry(data: &[u8], layout: Layout, i: usize) -> BlockResult<RawEntry> {
    let pos = layout.restart(data, i)?;
    let e = decode_entry(&data[..layout.limit], pos)?;
    if e.shared != 0 {
        return malformed(pos, "restart entry shares a key prefix");
    }
    Ok(e)
}

/// Index of the first restart point whose entry is at or after (`key`, `seq`)
/// (`restart_count` if none is).
fn first_restart_not_before(
    data: &[u8],
    layout: Layout,
    key: &[u8],
    seq: u64,
) -> BlockResult<usize> {
    let (mut lo, mut hi) = (0usize, layout.restart_count);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let e = restart_entry(data, layout, mid)?;
        if cmp_internal(&data[e.suffix.clone()], e.seq, key, seq) == Ordering::Less {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    Ok(lo)
}

/// A point lookup in one block: the first entry at or after (`key`, `snap`) in internal
/// order, if its user key is `key`, as (seq, value range within `data`; `None` for a
/// tombstone). `Ok(None)` if the block has no such entry.
pub(crate) fn find(data: &[u8], key: &[u8], snap: u64) -> BlockResult<Option<Found>> {
    let layout = Layout::of(data)?;
    Ok(match first_not_before(data, layout, key, snap)? {
        Some((_, e, true)) => Some((e.seq, e.value)),
        _ => None,
    })
}

/// The first entry at or after (`key`, `seq`) in internal order: its offset, its header,
/// and whether its user key is `key`. Its key is `key[..shared]` followed by its suffix.
///
/// Keys are compared in place, never decoded into a buffer: `matched` is how many leading
/// bytes the current entry's key shares with `key`. While the entries are still before the
/// target, an entry that takes more than `matched` bytes from its predecessor keeps the
/// predecessor's first differing byte, so it is still before the target; otherwise only
/// its suffix needs comparing. So the entry found shares its first `shared` bytes with
/// `key`. A seek spends most of its time here, in the interval after the restart point.
pub(super) fn first_not_before(
    data: &[u8],
    layout: Layout,
    key: &[u8],
    seq: u64,
) -> BlockResult<Option<(usize, RawEntry, bool)>> {
    let r = first_restart_not_before(data, layout, key, seq)?;
    let mut pos = if r == 0 {
        0
    } else {
        layout.restart(data, r - 1)?
    };
    let d = &data[..layout.limit];
    let mut matched = 0usize;
    let mut prev_len = 0usize;
    while pos < d.len() {
        let e = decode_entry(d, pos)?;
        if e.shared > prev_len {
            return malformed(pos, "block entry shares more than its predecessor's key");
        }
        prev_len = e.shared + e.suffix.len();
        let ord = if e.shared > matched {
            Ordering::Less
        } else {
            let suffix = &d[e.suffix.clone()];
            let target = &key[e.shared..];
            let common = suffix
                .iter()
                .zip(target)
                .take_while(|(a, b)| a == b)
                .count();
            matched = e.shared + common;
            suffix.cmp(target)
        };
        match ord {
            Ordering::Less => {}
            Ordering::Greater => return Ok(Some((pos, e, false))),
            Ordering::Equal if e.seq > seq => {}
            Ordering::Equal => return Ok(Some((pos, e, true))),
        }
        pos = e.next;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::table::block_iter::BlockIter;
    use bytes::Bytes;

    type Entry<'a> = (&'a [u8], u64, Option<&'a [u8]>);

    fn block(entries: &[Entry<'_>], interval: usize) -> Bytes {
        let mut b = BlockBuilder::new(interval);
        for (k, s, v) in entries {
            b.add(k, *s, *v);
        }
        let mut out = Vec::new();
        b.finish_into(&mut out);
        Bytes::from(out)
    }

    #[test]
    fn find_and_seek_agree_with_a_linear_search() {
        let mut entries: Vec<(Vec<u8>, u64, Option<Vec<u8>>)> = Vec::new();
        for i in 0..200u32 {
            let k = format!("k{:03}", i / 3).into_bytes();
            let seq = 1000 - u64::from(i % 3) * 10 - u64::from(i);
            let v = (i % 7 != 0).then(|| format!("v{i}").into_bytes());
            entries.push((k, seq, v));
        }
        entries.sort_by(|a, b| cmp_internal(&a.0, a.1, &b.0, b.1));
        let refs: Vec<_> = entries
            .iter()
            .map(|(k, s, v)| (&k[..], *s, v.as_deref()))
            .collect();
        for interval in [1, 2, 16] {
            let data = block(&refs, interval);
            for probe in 0..70u32 {
                let key = format!("k{probe:03}").into_bytes();
                for snap in [0, 500, 700, 900, 1000, u64::MAX] {
                    let want = entries
                        .iter()
                        .find(|(k, s, _)| *k == key && *s <= snap)
                        .map(|(_, s, v)| (*s, v.clone()));
                    let got = find(&data, &key, snap)
                        .unwrap()
                        .map(|(s, v)| (s, v.map(|(a, b)| data[a..b].to_vec())));
                    assert_eq!(got, want, "key {probe} snap {snap} interval {interval}");
                    let mut it = BlockIter::new(data.clone()).unwrap();
                    let found = it.seek(&key, snap).unwrap();
                    let want = entries
                        .iter()
                        .find(|(k, s, _)| cmp_internal(k, *s, &key, snap) != Ordering::Less);
                    assert_eq!(found, want.is_some());
                    if let Some((k, s, v)) = want {
                        assert_eq!((it.key(), it.seq()), (&k[..], *s));
                        assert_eq!(it.value().as_deref(), v.as_deref());
                        assert_eq!(&it.key_bytes()[..], &k[..]);
                    }
                }
            }
        }
    }

    #[test]
    fn malformed_blocks_are_errors_not_panics() {
        let data = block(&[(b"abc", 5, Some(b"v")), (b"abd", 4, None)], 16);
        for cut in 0..data.len() {
            let d = data.slice(..cut);
            let _ = find(&d, b"abd", 9);
            if let Ok(mut it) = BlockIter::new(d) {
                while let Ok(true) = it.advance() {}
            }
        }
        for i in 0..data.len() {
            for x in [0x01u8, 0x80, 0xff] {
                let mut d = data.to_vec();
                d[i] ^= x;
                let d = Bytes::from(d);
                let _ = find(&d, b"abd", 9);
                let _ = find(&d, b"abc", 9);
                if let Ok(mut it) = BlockIter::new(d) {
                    let _ = it.seek(b"abd", 1);
                    while let Ok(true) = it.advance() {}
                }
            }
        }
    }

    #[test]
    fn documented_example() {
        // docs/storage-format.md, "Data blocks and the index block".
        let data = block(
            &[
                (b"apple", 7, Some(b"red")),
                (b"apple", 3, None),
                (b"apricot", 5, Some(b"")),
            ],
            16,
        );
        let mut want = vec![0, 5, 7, 4];
        want.extend_from_slice(b"applered");
        want.extend_from_slice(&[5, 0, 3, 0, 2, 5, 5, 1]);
        want.extend_from_slice(b"ricot");
        want.extend_from_slice(&[0, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(&data[..], &want[..]);
    }
}
