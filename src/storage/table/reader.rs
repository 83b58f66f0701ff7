//! `Table`: an open table file, read through a memory map. It verifies the footer and the
//! index, filter and properties blocks when it opens, keeps the index decoded in memory and
//! checks each data block's checksum the first time a read touches it. Values are handed
//! out as slices of the map, never copied. It never writes to the file; it deletes it only
//! when told the file is obsolete and the last handle goes away.

use std::cmp::Ordering;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering as AtomicOrdering};
use std::sync::Arc;

use bytes::Bytes;
use memmap2::Mmap;

use super::block::{self, Malformed};
use super::block_iter::BlockIter;
use super::cmp_internal;
use super::filter;
use super::format::{self, Footer, Handle, Properties, BLOCK_TRAILER, FOOTER_LEN};
use crate::storage::error::{Error, Result};
use crate::storage::source::{Source, Visible};

/// One index entry: the last internal key of a data block and where the block lies.
#[derive(Debug, Clone, Copy)]
pub(super) struct IndexEntry {
    /// The last user key, as a range of `Table::index_keys`.
    key_start: usize,
    key_end: usize,
    /// The last entry's sequence number.
    seq: u64,
    /// The block's contents in the file (checked to lie inside it at open).
    pub(super) start: usize,
    end: usize,
}

/// The index's last keys back to back, and its entries.
type DecodedIndex = (Box<[u8]>, Box<[IndexEntry]>);

/// An open, immutable table file.
pub(crate) struct Table {
    pub(super) path: PathBuf,
    number: u64,
    /// The whole file, mapped.
    file: Bytes,
    props: Properties,
    /// The index's last keys, back to back, so the index is two allocations, not one per block.
    index_keys: Box<[u8]>,
    pub(super) index: Box<[IndexEntry]>,
    /// Length of the prefix every key in the table shares (that of smallest and largest).
    skip: usize,
    /// Per index entry, the 8 bytes of its key after `skip`, big-endian, zero-padded: a
    /// dense array a get binary-searches before comparing any whole key.
    prefixes: Box<[u64]>,
    filter: Bytes,
    /// One bit per data block: its checksum has been verified.
    verified: Box<[AtomicU64]>,
    obsolete: AtomicBool,
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table")
            .field("path", &self.path)
            .field("number", &self.number)
            .field("file_size", &self.file.len())
            .field("blocks", &self.index.len())
            .field("props", &self.props)
            .finish_non_exhaustive()
    }
}

pub(super) fn malformed(path: &Path, block_offset: usize, what: &str, m: Malformed) -> Error {
    Error::corruption(
        path,
        (block_offset + m.at) as u64,
        format!("{what} block: {}", m.reason),
    )
}

impl Table {
    /// Opens and verifies footer, index, filter and properties blocks; maps the file with
    /// memmap2 (the map becomes one `Bytes`, so values are zero-copy slices of it).
    pub(crate) fn open(path: &Path, number: u64) -> Result<Arc<Table>> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        if len < FOOTER_LEN as u64 {
            return Err(Error::corruption(
                path,
                0,
                format!("file of {len} bytes is shorter than a table footer"),
            ));
        }
        // SAFETY: a table file is complete (written, fsynced and renamed into place) before
        // it is opened and the engine never writes to or truncates it afterwards. Another
        // process changing it under us breaks this, as it would for any mmap reader.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
        let table = Self::from_bytes(path.to_path_buf(), number, Bytes::from_owner(map))?;
        Ok(Arc::new(table))
    }

    fn from_bytes(path: PathBuf, number: u64, file: Bytes) -> Result<Table> {
        let p = path.as_path();
        let footer = Footer::decode(p, &file)?;
        let end = file.len() - FOOTER_LEN;

        let props_block = format::read_block(p, &file, end, footer.properties, "properties")?;
        let props = decode_properties(p, footer.properties, &props_block)?;

        let filter = format::read_block(p, &file, end, footer.filter, "filter")?;
        if !filter::well_formed(&filter) {
            return Err(Error::corruption(
                p,
                footer.filter.offset,
                format!("filter block of {} bytes is malformed", filter.len()),
            ));
        }

        let index_block = format::read_block(p, &file, end, footer.index, "index")?;
        // Data blocks come before every other block.
        let data_end = [footer.index, footer.filter, footer.properties]
            .iter()
            // Each fits: read_block checked it lies in the file.
            .map(|h| usize::try_from(h.offset).unwrap_or(usize::MAX))
            .min()
            .unwrap_or(0);
        let (index_keys, index) = decode_index(p, footer.index, index_block, data_end)?;

        let consistent = match index.last() {
            None => props.entries == 0,
            Some(last) => props.entries > 0 && index_keys[last.key_start..] == props.largest[..],
        };
        if !consistent {
            return Err(Error::corruption(
                p,
                footer.index.offset,
                "index block disagrees with the properties block",
            ));
        }
        let skip = props
            .smallest
            .iter()
            .zip(props.largest.iter())
            .take_while(|(a, b)| a == b)
            .count();
        let prefixes = index
            .iter()
            .map(|e| prefix_after(&index_keys[e.key_start..e.key_end], skip))
            .collect();
        let verified = (0..index.len().div_ceil(64))
            .map(|_| AtomicU64::new(0))
            .collect();
        Ok(Table {
            path,
            number,
            file,
            props,
            index_keys,
            index,
            skip,
            prefixes,
            filter,
            verified,
            obsolete: AtomicBool::new(false),
        })
    }

    /// The file number it was opened with.
    pub(crate) fn number(&self) -> u64 {
        self.number
    }

    #[cfg(test)]
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// What the table holds: smallest and largest user key, sequence numbers, entries.
    pub(crate) fn properties(&self) -> &Properties {
        &self.props
    }

    pub(crate) fn file_size(&self) -> u64 {
        self.file.len() as u64
    }

    /// After this, the file is deleted when the last `Arc<Table>` is dropped (a compaction
    /// replaced it; readers may still hold it).
    pub(crate) fn mark_obsolete(&self) {
        self.obsolete.store(true, AtomicOrdering::Release);
    }

    #[inline]
    fn index_key(&self, e: &IndexEntry) -> &[u8] {
        &self.index_keys[e.key_start..e.key_end]
    }

    /// The contents of data block `i`, its checksum verified the first time it is read.
    #[inline]
    fn data_block(&self, i: usize) -> Result<&[u8]> {
        let e = &self.index[i];
        let (word, bit) = (&self.verified[i / 64], 1u64 << (i % 64));
        // Relaxed suffices: the bytes never change, the bit only records that someone
        // found them intact.
        if word.load(AtomicOrdering::Relaxed) & bit == 0 {
            format::check_block(&self.path, &self.file, e.start..e.end, "data")?;
            word.fetch_or(bit, AtomicOrdering::Relaxed);
        }
        let block = &self.file[e.start..e.end];
        prefetch(block);
        Ok(block)
    }

    /// Number of data blocks.
    pub(super) fn block_count(&self) -> usize {
        self.index.len()
    }

    /// Loads data block `i` into `iter`, reusing its buffers (a new iterator if it holds
    /// none; none if the block is damaged).
    pub(super) fn load_block<'a>(
        &self,
        i: usize,
        iter: &'a mut Option<BlockIter>,
    ) -> Result<&'a mut BlockIter> {
        self.data_block(i)?;
        let e = &self.index[i];
        let data = self.file.slice(e.start..e.end);
        let loaded = match iter.take() {
            Some(mut b) => b.reset(data).map(|()| b),
            None => BlockIter::new(data),
        };
        Ok(iter.insert(loaded.map_err(self.block_error(i))?))
    }

    /// Names this file and the offset in it of what is malformed in data block `i`.
    pub(super) fn block_error(&self, i: usize) -> impl Fn(Malformed) -> Error + '_ {
        move |m| malformed(&self.path, self.index[i].start, "data", m)
    }

    /// Index of the first block whose last user key is >= `key` (`index.len()` if none).
    /// Searches the dense prefix array first, as `get` does, so a seek touches whole index
    /// keys only among blocks whose prefixes tie.
    pub(super) fn first_block_reaching(&self, key: &[u8]) -> usize {
        if key <= &self.props.smallest[..] {
            return 0;
        }
        if key > &self.props.largest[..] {
            return self.index.len();
        }
        // Inside [smallest, largest] every key shares their common prefix.
        let p = prefix_after(key, self.skip);
        let lo = self.prefixes.partition_point(|&q| q < p);
        let hi = lo + self.prefixes[lo..].partition_point(|&q| q == p);
        lo + self.index[lo..hi].partition_point(|e| self.index_key(e) < key)
    }
}

/// The 8 bytes of `key` after its first `skip`, as a big-endian number, zero-padded: for
/// keys sharing those `skip` bytes, a smaller number means a smaller key (equal numbers
/// decide nothing).
#[inline]
fn prefix_after(key: &[u8], skip: usize) -> u64 {
    let rest = key.get(skip..).unwrap_or_default();
    let mut b = [0u8; 8];
    let n = rest.len().min(8);
    b[..n].copy_from_slice(&rest[..n]);
    u64::from_be_bytes(b)
}

fn decode_properties(path: &Path, h: Handle, block: &Bytes) -> Result<Properties> {
    let mut pos = 0;
    let props = Properties::decode(block, &mut pos).filter(|p| {
        pos == block.len()
            && if p.entries == 0 {
                p.smallest.is_empty() && p.largest.is_empty()
            } else {
                p.smallest <= p.largest && p.min_seq <= p.max_seq
            }
    });
    props.ok_or_else(|| Error::corruption(path, h.offset, "properties block is malformed"))
}

/// Decodes the index block into the last keys (back to back) and the entries, checking
/// that the keys ascend and the data blocks lie in order before `data_end`.
fn decode_index(path: &Path, h: Handle, block: Bytes, data_end: usize) -> Result<DecodedIndex> {
    // It fits: read_block checked the block lies in the file.
    let base = usize::try_from(h.offset).unwrap_or(usize::MAX);
    let bad = |at: usize, reason: &str| Error::corruption(path, (base + at) as u64, reason);
    let mut it = BlockIter::new(block).map_err(|m| malformed(path, base, "index", m))?;
    let mut keys = Vec::new();
    let mut entries: Vec<IndexEntry> = Vec::new();
    let mut ok = it
        .seek_to_first()
        .map_err(|m| malformed(path, base, "index", m))?;
    while ok {
        let at = it.offset();
        let handle = it
            .value_range()
            .and_then(|(a, b)| Handle::decode_exact(&it.data()[a..b]))
            .ok_or_else(|| bad(at, "index entry does not hold a block handle"))?;
        let r = format::block_range(path, data_end, handle, "data")?;
        if let Some(prev) = entries.last() {
            if r.start < prev.end + BLOCK_TRAILER {
                return Err(bad(
                    at,
                    "index entries' data blocks overlap or go backwards",
                ));
            }
            let prev_key = &keys[prev.key_start..prev.key_end];
            if cmp_internal(prev_key, prev.seq, it.key(), it.seq()) != Ordering::Less {
                return Err(bad(at, "index keys out of order"));
            }
        }
        let key_start = keys.len();
        keys.extend_from_slice(it.key());
        entries.push(IndexEntry {
            key_start,
            key_end: keys.len(),
            seq: it.seq(),
            start: r.start,
            end: r.end,
        });
        ok = it
            .advance()
            .map_err(|m| malformed(path, base, "index", m))?;
    }
    Ok((keys.into_boxed_slice(), entries.into_boxed_slice()))
}

impl Drop for Table {
    fn drop(&mut self) {
        if self.obsolete.load(AtomicOrdering::Acquire) {
            if let Err(e) = std::fs::remove_file(&self.path) {
                tracing::warn!(
                    path = %self.path.display(),
                    error = %e,
                    "could not delete an obsolete table file"
                );
            }
        }
    }
}

impl Source for Table {
    fn get(&self, key: &[u8], snap: u64) -> Result<Option<Visible>> {
        if self.index.is_empty() || key < &self.props.smallest[..] || key > &self.props.largest[..]
        {
            return Ok(None);
        }
        if !filter::may_contain(&self.filter, filter::key_hash(key)) {
            return Ok(None);
        }
        // The first block whose last internal key is at or after (key, snap) holds the
        // first such entry: the answer, if its user key is `key`.
        // Every key in [smallest, largest] shares their common prefix, so the prefixes
        // after it order the blocks; whole keys are compared only among equal prefixes.
        let p = prefix_after(key, self.skip);
        let lo = self.prefixes.partition_point(|&q| q < p);
        let hi = lo + self.prefixes[lo..].partition_point(|&q| q == p);
        let i = lo
            + self.index[lo..hi]
                .partition_point(|e| cmp_internal(self.index_key(e), e.seq, key, snap).is_lt());
        if i == self.index.len() {
            return Ok(None);
        }
        let start = self.index[i].start;
        let found = block::find(self.data_block(i)?, key, snap)
            .map_err(|m| malformed(&self.path, start, "data", m))?;
        Ok(found.map(|(seq, value)| Visible {
            seq,
            value: value.map(|(a, b)| self.file.slice(start + a..start + b)),
        }))
    }
}

/// Asks the CPU to start loading the cache lines of `block` at once. A lookup's loads in
/// a block each depend on the entry before (the restart search, then entry by entry), so
/// without this a block fresh from memory costs one miss after another; with it the
/// misses overlap, and seeks and point reads in tables larger than the CPU's caches take
/// markedly less time (docs/benchmarks.md). A block much larger than `block_bytes` (one
/// large value) has only its start and its restart array loaded.
#[cfg(target_arch = "x86_64")]
#[inline]
fn prefetch(block: &[u8]) {
    use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
    const WHOLE_UP_TO: usize = 8 << 10;
    let head = &block[..block.len().min(WHOLE_UP_TO)];
    let tail = &block[block.len().saturating_sub(64).max(head.len())..];
    for line in head.chunks(64).chain(tail.chunks(64)) {
        // SAFETY: a prefetch is only a hint: it never faults, whatever the address.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast()) };
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn prefetch(_block: &[u8]) {}
