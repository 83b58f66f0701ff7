//! The write-ahead log: segment files `NNNNNN.wal` holding checksummed records, one
//! record per write batch. This module owns the record format and the segment files
//! (creating, appending, reading back, cutting a torn tail); it never decides when to
//! fsync (that is the commit pipeline's job) and never touches the memtable.
//!
//! Record: `crc32 u32 LE | len u32 LE | kind u8 | payload[len]`, where the CRC (IEEE,
//! crc32fast) covers the kind byte and the payload. See docs/storage-format.md.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use memmap2::{Advice, MmapMut};
use parking_lot::Mutex;

use super::batch::{array4, validate_payload, MAX_BATCH_BYTES, PAYLOAD_HEADER};
use super::error::{Error, Result};
use super::faults;

/// Size of a record header: crc, length, kind.
pub(crate) const HEADER: usize = 9;
/// Record kind of a whole write batch (WAL segments).
pub(crate) const KIND_BATCH: u8 = 1;
/// Record kind of a version edit (the manifest, which shares the record format).
pub(crate) const KIND_EDIT: u8 = 2;
/// Record kind of a run of sequence numbers no batch took (WAL segments): they were
/// handed to writes that failed for want of disk space. Payload: first and last
/// sequence number, u64 LE each.
pub(crate) const KIND_SKIP: u8 = 3;
/// Size of a skip record's payload.
const SKIP_PAYLOAD: usize = 16;

/// The payload of a skip record for sequence numbers `first..=last`.
pub(crate) fn skip_payload(first: u64, last: u64) -> [u8; SKIP_PAYLOAD] {
    let mut p = [0u8; SKIP_PAYLOAD];
    p[..8].copy_from_slice(&first.to_le_bytes());
    p[8..].copy_from_slice(&last.to_le_bytes());
    p
}

/// The sequence numbers a skip record's payload covers.
fn parse_skip(payload: &[u8]) -> std::result::Result<(u64, u64), &'static str> {
    let (Ok(first), Ok(last)) = (
        payload
            .get(..8)
            .map_or(Err(()), |b| <[u8; 8]>::try_from(b).map_err(drop)),
        payload
            .get(8..)
            .map_or(Err(()), |b| <[u8; 8]>::try_from(b).map_err(drop)),
    ) else {
        return Err("skip record payload is not 16 bytes");
    };
    let (first, last) = (u64::from_le_bytes(first), u64::from_le_bytes(last));
    if first == 0 || last < first {
        return Err("skip record covers no sequence numbers");
    }
    Ok((first, last))
}
/// A segment keeps its `pwrite` encoding buffer between groups up to this capacity.
const MAX_KEPT_ENCODED: usize = 1 << 20;

/// CRC-32 of a record's kind byte followed by its payload.
pub(crate) fn record_crc(kind: u8, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&[kind]);
    h.update(payload);
    h.finalize()
}

/// A record's length field for `payload`. Payloads are at most `MAX_BATCH_BYTES` (a larger
/// batch is refused before it is written); one larger would get a length recovery
/// rejects, naming its offset, rather than one wrapped around to a smaller record.
fn record_len(payload: &[u8]) -> [u8; 4] {
    u32::try_from(payload.len())
        .unwrap_or(u32::MAX)
        .to_le_bytes()
}

/// Appends one encoded record to `buf`.
pub(crate) fn encode_record(buf: &mut Vec<u8>, kind: u8, payload: &[u8]) {
    buf.reserve(HEADER + payload.len());
    buf.extend_from_slice(&record_crc(kind, payload).to_le_bytes());
    buf.extend_from_slice(&record_len(payload));
    buf.push(kind);
    buf.extend_from_slice(payload);
}

/// Why the bytes at some offset are not a valid record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BadRecord {
    /// Fewer than `HEADER` bytes remain.
    ShortHeader,
    /// The length field is over the limit or runs past the end of the file.
    BadLength,
    /// The checksum does not match.
    BadChecksum,
    /// Checksum fine but the kind is unknown.
    BadKind,
}

impl BadRecord {
    pub(crate) fn reason(self) -> &'static str {
        match self {
            BadRecord::ShortHeader => "record header cut short by the end of the file",
            BadRecord::BadLength => "record length runs past the end of the file or the limit",
            BadRecord::BadChecksum => "record checksum mismatch",
            BadRecord::BadKind => "unknown record kind",
        }
    }
}

/// Decodes the record at `off`, returning its kind, payload range and the next offset.
/// The length is checked against the bytes actually present before anything else.
pub(crate) fn decode_at(
    data: &[u8],
    off: usize,
) -> std::result::Result<(u8, std::ops::Range<usize>), BadRecord> {
    let rest = data.len().saturating_sub(off);
    if rest < HEADER {
        return Err(BadRecord::ShortHeader);
    }
    let crc = u32::from_le_bytes(array4(&data[off..]));
    let len = u32::from_le_bytes(array4(&data[off + 4..])) as usize;
    let kind = data[off + 8];
    if len > MAX_BATCH_BYTES || len > rest - HEADER {
        return Err(BadRecord::BadLength);
    }
    let payload = off + HEADER..off + HEADER + len;
    if record_crc(kind, &data[payload.clone()]) != crc {
        return Err(BadRecord::BadChecksum);
    }
    if kind != KIND_BATCH && kind != KIND_EDIT && kind != KIND_SKIP {
        return Err(BadRecord::BadKind);
    }
    Ok((kind, payload))
}

/// True if some offset after `off` starts a complete record of `kind`, at least
/// `min_len` long, with a valid checksum: then the damage at `off` is not a torn tail but
/// corruption in the middle.
pub(crate) fn valid_record_after(data: &[u8], off: usize, kind: u8, min_len: usize) -> bool {
    next_valid_record(data, off, kind, min_len).is_some()
}

/// The first offset after `off` that starts a complete record of `kind`, at least
/// `min_len` long, with a valid checksum.
fn next_valid_record(data: &[u8], off: usize, kind: u8, min_len: usize) -> Option<usize> {
    let mut p = off + 1;
    while p + HEADER + min_len <= data.len() {
        // Cheap filters before the checksum: the kind byte and a plausible length.
        if data[p + 8] == kind {
            let len = u32::from_le_bytes(array4(&data[p + 4..])) as usize;
            if len >= min_len && len <= data.len() - p - HEADER && decode_at(data, p).is_ok() {
                return Some(p);
            }
        }
        p += 1;
    }
    None
}

/// The unit the kernel writes pages back in; a power cut loses or keeps whole ones.
const PAGE: usize = 4096;

/// Whether the damaged bytes `data[off..end)` are a hole a power cut leaves in a segment
/// being appended to: a page never written back reads as the zeros it was preallocated
/// with. So either the bytes from `off` to the next page boundary are all zeros (the page
/// holding the damaged record's start was lost after an earlier write-back of its start),
/// or a whole page inside the damage is. Damage of any other shape (a flipped bit, a
/// garbled sector) is not a hole.
fn is_power_cut_hole(data: &[u8], off: usize, end: usize) -> bool {
    let zero = |range: std::ops::Range<usize>| data[range].iter().all(|&b| b == 0);
    let boundary = (off / PAGE + 1) * PAGE;
    if boundary <= end && zero(off..boundary) {
        return true;
    }
    (boundary..end)
        .step_by(PAGE)
        .any(|page| page + PAGE <= end && zero(page..page + PAGE))
}

/// How a segment ended when it was read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tail {
    /// Every byte belonged to a valid record.
    Clean,
    /// The bytes from `offset` on are a torn write (only allowed in the newest segment).
    Torn { offset: u64, reason: &'static str },
    /// The bytes from `offset` on are zeros: preallocated space never written (any
    /// segment; a crash came before the segment was finished).
    Zeroed { offset: u64 },
    /// At `offset` (only in the newest segment) a page or more was never written back,
    /// and valid records follow it: a power cut. Every record after the hole was written
    /// after the last fsync that completed (an fsync covers the whole file, the hole
    /// included), so none of them was acknowledged under `Always`; recovery stops at the
    /// hole (point-in-time recovery).
    Hole { offset: u64 },
}

/// Reads every record of one segment, calling `f(offset, first_seq, last_seq, payload)` for
/// each: the payload of a batch, `None` for a skip record.
///
/// With `newest` set, damage after which no valid record follows is a torn tail and is
/// reported as `Tail::Torn`; anything else is `Error::Corruption` naming `path` and the
/// offset. Payloads handed to `f` passed their checksum and their structure check.
pub(crate) fn read_segment(
    path: &Path,
    data: &Bytes,
    newest: bool,
    mut f: impl FnMut(u64, u64, u64, Option<Bytes>) -> Result<()>,
) -> Result<Tail> {
    let mut off = 0usize;
    while off < data.len() {
        match decode_at(data, off) {
            Ok((KIND_BATCH, range)) => {
                let payload = data.slice(range.clone());
                let (first_seq, count) = validate_payload(&payload)
                    .map_err(|r| Error::corruption(path, off as u64, r))?;
                f(
                    off as u64,
                    first_seq,
                    first_seq + u64::from(count) - 1,
                    Some(payload),
                )?;
                off = range.end;
            }
            Ok((KIND_SKIP, range)) => {
                let (first_seq, last_seq) = parse_skip(&data[range.clone()])
                    .map_err(|r| Error::corruption(path, off as u64, r))?;
                f(off as u64, first_seq, last_seq, None)?;
                off = range.end;
            }
            Ok(_) => {
                return Err(Error::corruption(
                    path,
                    off as u64,
                    "manifest record in a WAL segment",
                ))
            }
            Err(_) if data[off..].iter().all(|&b| b == 0) => {
                return Ok(Tail::Zeroed { offset: off as u64 });
            }
            Err(bad) => {
                if newest {
                    match next_valid_record(data, off, KIND_BATCH, PAYLOAD_HEADER) {
                        None => {
                            return Ok(Tail::Torn {
                                offset: off as u64,
                                reason: bad.reason(),
                            })
                        }
                        Some(next) if is_power_cut_hole(data, off, next) => {
                            return Ok(Tail::Hole { offset: off as u64 });
                        }
                        Some(_) => {}
                    }
                }
                return Err(Error::corruption(path, off as u64, bad.reason()));
            }
        }
    }
    Ok(Tail::Clean)
}

/// Path of segment number `n` in `dir`.
pub(crate) fn segment_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("{n:06}.wal"))
}

/// The segment numbers present in `dir`, ascending.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<u64>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(stem) = name.strip_suffix(".wal") else {
            continue;
        };
        if stem.is_empty() || !stem.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if let Ok(n) = stem.parse::<u64>() {
            out.push(n);
        }
    }
    out.sort_unstable();
    Ok(out)
}

pub(crate) use super::faults::sync_dir;

/// An open segment file being appended to.
///
/// The file is created at its full size (allocated, see `allocate`) and, unless every group is
/// fsynced (see `SyncPolicy::maps_log`), mapped, so an append is a copy into the page cache
/// rather than a `write` system call: a write costs what a `memcpy` costs, and is just as safe
/// against a process crash (the pages belong to the kernel) and, once `fdatasync` covers them,
/// against a machine crash. A record that does not fit in the map is written with `pwrite`
/// after it. The unused tail is cut off when the segment is finished; a crash before that
/// leaves zeros, which recovery recognises and cuts.
#[derive(Debug)]
pub(crate) struct Segment {
    pub file: File,
    pub path: PathBuf,
    appender: Mutex<Appender>,
}

#[derive(Debug)]
struct Appender {
    /// The preallocated part of the file, mapped; `None` once finished (or never mapped).
    map: Option<MmapMut>,
    /// Bytes of records written.
    len: u64,
    /// Bytes of the file allocated on disk: appends past this need space.
    allocated: u64,
    /// Where a group written with `pwrite` is encoded, kept from group to group.
    encoded: Vec<u8>,
}

impl Segment {
    /// Creates segment `n` (it must not exist) with `size` bytes preallocated (and mapped,
    /// if `mapped`), fsyncs it and the directory, so that records appended and fsynced
    /// later are found again after a crash.
    pub(crate) fn create(dir: &Path, n: u64, size: u64, mapped: bool) -> Result<Arc<Segment>> {
        // A huge configured segment size is not mapped whole: past this, appends use pwrite.
        const MAX_MAPPED: u64 = 1 << 30;
        let size = size.min(MAX_MAPPED);
        let path = segment_path(dir, n);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        if let Err(e) = faults::check_space(&path, size)
            .and_then(|()| allocate(&file, size).map_err(|e| Error::io(&path, e)))
        {
            // Leave no half-made segment behind: the next attempt creates this number
            // again, and recovery would take a sparse one for a segment with a hole.
            let _ = fs::remove_file(&path);
            return Err(e);
        }
        faults::sync_file(&file, &path, false)?;
        sync_dir(dir)?;
        let map = if mapped && size > 0 {
            // SAFETY: the file is ours alone (the directory's LOCK is held, and no other
            // part of the engine opens a live segment); only the commit leader writes to
            // the map, under `appender`. The file is shortened only by `finish`, which
            // first takes the map out of `appender`: from then on it is only unmapped,
            // never read or written, so the pages cut off (past every record) are never
            // touched.
            let map = unsafe { MmapMut::map_mut(&file) }.map_err(|e| Error::io(&path, e))?;
            // No read-ahead: a fault on the map would otherwise fill a large folio of
            // zeros ahead of the writer, and zeroing fresh large folios cost the server
            // more under SETs than a fault per page does (docs/benchmarks.md). Advice
            // only: where it is refused, the map works as well, if slower.
            let _ = map.advise(Advice::Random);
            Some(map)
        } else {
            None
        };
        Ok(Arc::new(Segment::with_map(file, path, map, size)))
    }

    fn with_map(file: File, path: PathBuf, map: Option<MmapMut>, allocated: u64) -> Segment {
        Segment {
            file,
            path,
            appender: Mutex::new(Appender {
                map,
                len: 0,
                allocated,
                encoded: Vec::new(),
            }),
        }
    }

    /// A segment over an already open file, appended to with `pwrite` only (tests).
    #[cfg(test)]
    pub(crate) fn unmapped(file: File, path: PathBuf) -> Segment {
        Segment::with_map(file, path, None, 0)
    }

    /// Appends one record of `kind` per payload after the records written so far. Each record is encoded straight into the map (header,
    /// then the payload: its only copy on the way to the log); a group that does not fit
    /// in what is left of the map is encoded into a buffer and written with one `pwrite`.
    pub(crate) fn append_records<'p, I>(&self, kind: u8, payloads: I) -> Result<()>
    where
        I: IntoIterator<Item = &'p [u8]>,
        I::IntoIter: Clone,
    {
        let payloads = payloads.into_iter();
        let total: usize = payloads.clone().map(|p| HEADER + p.len()).sum();
        let mut a = self.appender.lock();
        // The map is in memory, so its length fits; a length that did not would skip it.
        let start = usize::try_from(a.len).unwrap_or(usize::MAX);
        match &mut a.map {
            Some(map) if start.checked_add(total).is_some_and(|end| end <= map.len()) => {
                let mut at = start;
                for payload in payloads {
                    let rec = &mut map[at..at + HEADER + payload.len()];
                    rec[..4].copy_from_slice(&record_crc(kind, payload).to_le_bytes());
                    rec[4..8].copy_from_slice(&record_len(payload));
                    rec[8] = kind;
                    rec[HEADER..].copy_from_slice(payload);
                    at += rec.len();
                }
            }
            _ => {
                let mut encoded = std::mem::take(&mut a.encoded);
                encoded.clear();
                for payload in payloads {
                    encode_record(&mut encoded, kind, payload);
                }
                let end = a.len + encoded.len() as u64;
                let written = faults::check_space(&self.path, end.saturating_sub(a.allocated))
                    .and_then(|()| {
                        self.file
                            .write_all_at(&encoded, a.len)
                            .map_err(|e| Error::io(&self.path, e))
                    });
                // A huge group's buffer is not kept.
                if encoded.capacity() <= MAX_KEPT_ENCODED {
                    a.encoded = encoded;
                }
                if let Err(e) = written {
                    // Part of the group may be in the file. Cut it off, so that no later
                    // record follows it and recovery never replays a write that was
                    // reported failed; the segment takes no more records (the committer
                    // moves to a new one), so its map goes first.
                    a.map = None;
                    self.file
                        .set_len(a.len)
                        .map_err(|e| Error::io(&self.path, e))?;
                    a.allocated = a.len;
                    return Err(e);
                }
            }
        }
        a.len += total as u64;
        a.allocated = a.allocated.max(a.len);
        Ok(())
    }

    /// Makes everything appended durable (`fdatasync` also writes back pages dirtied
    /// through the map).
    pub(crate) fn sync(&self) -> Result<()> {
        faults::sync_file(&self.file, &self.path, true)
    }

    /// Ends the segment: cuts the unused preallocated tail, fsyncs. Nothing is appended
    /// afterwards. Returns the segment's map, never to be touched again, for the caller to
    /// drop where unmapping it holds nobody up (unmapping a full segment of written log
    /// takes milliseconds: docs/benchmarks.md).
    pub(crate) fn finish(&self) -> Result<Option<MmapMut>> {
        let mut a = self.appender.lock();
        let map = a.map.take();
        self.file
            .set_len(a.len)
            .map_err(|e| Error::io(&self.path, e))?;
        a.allocated = a.len;
        faults::sync_file(&self.file, &self.path, false)?;
        Ok(map)
    }
}

/// Gives `file` a length of `size` bytes, allocated on disk (`fallocate`) where the file
/// system can, else sparse.
///
/// Allocated, so that a full disk shows as an error here, at the segment's creation: a write
/// through the map into a hole of a sparse file, on a full disk, kills the process with
/// SIGBUS. (An `fdatasync` after appending into allocated blocks is also a little cheaper,
/// though the server's throughput under `--fsync always` did not move: docs/benchmarks.md.)
fn allocate(file: &File, size: u64) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    if size == 0 {
        // fallocate refuses a zero length; the new file is empty already.
        return Ok(());
    }
    let len = libc::off_t::try_from(size)
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: plain system call on a descriptor `file` keeps open; no memory is passed.
    if unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, len) } == 0 {
        return Ok(());
    }
    let error = std::io::Error::last_os_error();
    match error.raw_os_error() {
        Some(libc::EOPNOTSUPP | libc::ENOSYS) => file.set_len(size),
        _ => Err(error),
    }
}

/// Cuts a torn tail off segment file `path` at `offset` and makes the cut durable.
pub(crate) fn truncate_segment(path: &Path, offset: u64) -> Result<()> {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    file.set_len(offset).map_err(|e| Error::io(path, e))?;
    faults::sync_file(&file, path, false)
}

#[cfg(test)]
mod tests;
