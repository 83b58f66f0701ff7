//! Low-level encodings shared by the table parts: varints, block handles, the per-block
//! checksum trailer, the properties block and the fixed-size footer.

use std::ops::Range;
use std::path::Path;

use bytes::Bytes;

use crate::storage::batch::{array4, array8};
use crate::storage::error::{Error, Result};

/// Magic number at the very end of every table file ("CAIRNSST" read as little-endian).
pub(crate) const MAGIC: u64 = u64::from_le_bytes(*b"CAIRNSST");
/// Table format version written by this code and the only one it reads.
pub(crate) const FORMAT_VERSION: u32 = 1;
/// Size of the footer: three handles (12 bytes each), version, crc, magic.
pub(crate) const FOOTER_LEN: usize = 3 * Handle::LEN + 4 + 4 + 8;
/// Size of the checksum that follows each block's contents.
pub(crate) const BLOCK_TRAILER: usize = 4;

pub(crate) fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push(((v & 0x7f) as u8) | 0x80);
        v >>= 7;
    }
    buf.push((v & 0x7f) as u8);
}

/// Decodes a varint at `*pos`, advancing it; `None` if it is cut short or over 64 bits.
/// Always inlined, so that the one-byte fast path costs a compare at each of the many
/// entry-header fields a seek decodes (commit e3dff2a).
#[allow(clippy::inline_always)]
#[inline(always)]
pub(crate) fn get_varint(data: &[u8], pos: &mut usize) -> Option<u64> {
    // Most fields (lengths, shared prefixes) fit one byte.
    let first = *data.get(*pos)?;
    if first < 0x80 {
        *pos += 1;
        return Some(u64::from(first));
    }
    get_varint_slow(data, pos)
}

#[cold]
fn get_varint_slow(data: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let b = *data.get(*pos)?;
        *pos += 1;
        if shift == 63 && b > 1 {
            return None;
        }
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(v);
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
}

/// Where a block's contents lie in the file (its checksum follows them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Handle {
    /// File offset of the block's first byte.
    pub offset: u64,
    /// Length of the block's contents, checksum excluded.
    pub len: u32,
}

impl Handle {
    /// Encoded size: offset u64 LE, then length u32 LE.
    pub(crate) const LEN: usize = 12;

    pub(crate) fn encode(&self, buf: &mut Vec<u8>) {
        let mut b = [0u8; Self::LEN];
        self.encode_into(&mut b);
        buf.extend_from_slice(&b);
    }

    pub(crate) fn encode_into(&self, b: &mut [u8; Self::LEN]) {
        b[..8].copy_from_slice(&self.offset.to_le_bytes());
        b[8..].copy_from_slice(&self.len.to_le_bytes());
    }

    /// Decodes a handle from the first [`Handle::LEN`] bytes of `b` (which must hold them).
    pub(crate) fn decode(b: &[u8]) -> Handle {
        Handle {
            offset: u64::from_le_bytes(array8(b)),
            len: u32::from_le_bytes(array4(&b[8..])),
        }
    }

    /// Decodes a handle that is the whole of `b`; `None` if `b` is not exactly one.
    pub(crate) fn decode_exact(b: &[u8]) -> Option<Handle> {
        (b.len() == Self::LEN).then(|| Self::decode(b))
    }
}

/// Where the contents of the block at `h` lie in `file[..end]` (the file up to the footer),
/// checked to leave room for the block's checksum before `end`.
pub(crate) fn block_range(path: &Path, end: usize, h: Handle, what: &str) -> Result<Range<usize>> {
    usize::try_from(h.offset)
        .ok()
        .and_then(|start| {
            let stop = start.checked_add(h.len as usize)?;
            (stop.checked_add(BLOCK_TRAILER)? <= end).then_some(start..stop)
        })
        .ok_or_else(|| {
            Error::corruption(
                path,
                h.offset,
                format!(
                    "{what} block of {} bytes runs past the end of the file",
                    h.len
                ),
            )
        })
}

/// Checks the checksum that follows the block contents `file[r]`.
#[inline]
pub(crate) fn check_block(path: &Path, file: &[u8], r: Range<usize>, what: &str) -> Result<()> {
    let stored = u32::from_le_bytes(array4(&file[r.end..]));
    if crc32fast::hash(&file[r.clone()]) != stored {
        return Err(Error::corruption(
            path,
            r.start as u64,
            format!("{what} block checksum mismatch"),
        ));
    }
    Ok(())
}

/// The contents of the block at `h` in `file[..end]`, after checking that it lies there
/// and that its checksum matches.
pub(crate) fn read_block(
    path: &Path,
    file: &Bytes,
    end: usize,
    h: Handle,
    what: &str,
) -> Result<Bytes> {
    let r = block_range(path, end, h, what)?;
    check_block(path, file, r.clone(), what)?;
    Ok(file.slice(r))
}

/// What a table holds, recorded in it and in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Properties {
    /// Smallest user key.
    pub smallest: Bytes,
    /// Largest user key.
    pub largest: Bytes,
    /// Lowest sequence number of its entries (0 if it has none).
    pub min_seq: u64,
    /// Highest sequence number of its entries (0 if it has none).
    pub max_seq: u64,
    /// Number of entries (versions, tombstones included).
    pub entries: u64,
}

impl Properties {
    pub(crate) fn encode(&self, buf: &mut Vec<u8>) {
        put_varint(buf, self.smallest.len() as u64);
        buf.extend_from_slice(&self.smallest);
        put_varint(buf, self.largest.len() as u64);
        buf.extend_from_slice(&self.largest);
        put_varint(buf, self.min_seq);
        put_varint(buf, self.max_seq);
        put_varint(buf, self.entries);
    }

    pub(crate) fn decode(data: &Bytes, pos: &mut usize) -> Option<Properties> {
        let bytes = |pos: &mut usize| {
            let n = usize::try_from(get_varint(data, pos)?).ok()?;
            let end = pos.checked_add(n).filter(|&e| e <= data.len())?;
            let b = data.slice(*pos..end);
            *pos = end;
            Some(b)
        };
        let smallest = bytes(pos)?;
        let largest = bytes(pos)?;
        Some(Properties {
            smallest,
            largest,
            min_seq: get_varint(data, pos)?,
            max_seq: get_varint(data, pos)?,
            entries: get_varint(data, pos)?,
        })
    }
}

/// The fixed-size footer at the end of a table: where the index, filter and properties
/// blocks are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Footer {
    pub index: Handle,
    pub filter: Handle,
    pub properties: Handle,
}

impl Footer {
    pub(crate) fn encode(&self, buf: &mut Vec<u8>) {
        let start = buf.len();
        self.index.encode(buf);
        self.filter.encode(buf);
        self.properties.encode(buf);
        buf.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        let crc = crc32fast::hash(&buf[start..]);
        buf.extend_from_slice(&crc.to_le_bytes());
        buf.extend_from_slice(&MAGIC.to_le_bytes());
    }

    pub(crate) fn decode(path: &Path, file: &[u8]) -> Result<Footer> {
        if file.len() < FOOTER_LEN {
            return Err(Error::corruption(
                path,
                0,
                format!(
                    "file of {} bytes is shorter than a table footer",
                    file.len()
                ),
            ));
        }
        let off = file.len() - FOOTER_LEN;
        let f = &file[off..];
        let bad = |reason: &str| Error::corruption(path, off as u64, reason.to_string());
        if u64::from_le_bytes(array8(&f[44..])) != MAGIC {
            return Err(bad(
                "bad magic number in the table footer (not a table file?)",
            ));
        }
        // The version before the checksum: a later format may lay the rest out differently.
        let version = u32::from_le_bytes(array4(&f[36..]));
        if version != FORMAT_VERSION {
            return Err(bad(&format!(
                "unsupported table format version {version} (this build reads {FORMAT_VERSION})"
            )));
        }
        if crc32fast::hash(&f[..40]) != u32::from_le_bytes(array4(&f[40..])) {
            return Err(bad("table footer checksum mismatch"));
        }
        Ok(Footer {
            index: Handle::decode(&f[0..]),
            filter: Handle::decode(&f[12..]),
            properties: Handle::decode(&f[24..]),
        })
    }
}
